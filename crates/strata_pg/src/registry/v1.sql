-- strata registry, version 1. `{schema}` is replaced by the quoted registry schema name; the
-- schema itself exists already (strata creates it, or an administrator did for a role without
-- CREATE rights on the database).

CREATE TABLE {schema}.registry_version (
    version     integer PRIMARY KEY,
    upgraded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
COMMENT ON TABLE {schema}.registry_version IS 'versions of this registry''s own layout that strata has installed';
COMMENT ON COLUMN {schema}.registry_version.version IS 'registry layout version (strata upgrades it itself)';
COMMENT ON COLUMN {schema}.registry_version.upgraded_at IS 'when this layout version was installed';

CREATE TABLE {schema}.migrations (
    set_name           text        NOT NULL,
    key                text        NOT NULL,
    version            text,
    name               text        NOT NULL,
    kind               text        NOT NULL CHECK (kind IN ('versioned', 'repeatable')),
    checksum           text        NOT NULL,
    checksum_algorithm text        NOT NULL,
    applied_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    applied_by_role    text        NOT NULL DEFAULT current_user,
    applied_by_os_user text        NOT NULL,
    duration_ms        bigint      NOT NULL DEFAULT 0,
    strata_version     text        NOT NULL,
    state              text        NOT NULL DEFAULT 'complete' CHECK (state IN ('complete', 'partial')),
    statements_done    integer     NOT NULL DEFAULT 0,
    statements_fingerprint text,
    error              text,
    PRIMARY KEY (set_name, key)
);
COMMENT ON TABLE {schema}.migrations IS 'one row per applied (or part-way applied) migration of each set';
COMMENT ON COLUMN {schema}.migrations.set_name IS 'the migration set (one per service/directory) this row belongs to';
COMMENT ON COLUMN {schema}.migrations.key IS 'the version as written in the file name, or R__<name> for repeatable migrations';
COMMENT ON COLUMN {schema}.migrations.version IS 'version as written in the file name; NULL for repeatable migrations';
COMMENT ON COLUMN {schema}.migrations.name IS 'migration name / description from the file name';
COMMENT ON COLUMN {schema}.migrations.kind IS 'versioned (applied once) or repeatable (re-applied when changed)';
COMMENT ON COLUMN {schema}.migrations.checksum IS 'hex digest of the migration file when it was applied';
COMMENT ON COLUMN {schema}.migrations.checksum_algorithm IS 'how checksum was computed; sha256-lf = SHA-256 after removing a BOM and turning CRLF into LF';
COMMENT ON COLUMN {schema}.migrations.applied_at IS 'when the migration finished (or, for a partial row, when it started)';
COMMENT ON COLUMN {schema}.migrations.applied_by_role IS 'database role that applied it';
COMMENT ON COLUMN {schema}.migrations.applied_by_os_user IS 'operating-system user that ran strata';
COMMENT ON COLUMN {schema}.migrations.duration_ms IS 'how long the migration took, in milliseconds';
COMMENT ON COLUMN {schema}.migrations.strata_version IS 'version of strata that applied it';
COMMENT ON COLUMN {schema}.migrations.state IS 'complete, or partial for a non-transactional migration that stopped part-way';
COMMENT ON COLUMN {schema}.migrations.statements_done IS 'for partial rows: how many statements completed (resume starts after them)';
COMMENT ON COLUMN {schema}.migrations.statements_fingerprint IS 'for partial rows: SHA-256 of the completed statements'' text, so a resumed run can check they are unchanged';
COMMENT ON COLUMN {schema}.migrations.error IS 'for partial rows: the error that stopped the migration';

CREATE TABLE {schema}.events (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    set_name       text        NOT NULL,
    key            text,
    kind           text        NOT NULL CHECK (kind IN ('apply', 'revert', 'fail', 'baseline', 'mark', 'accept', 'adopt', 'resume', 'fresh')),
    at             timestamptz NOT NULL DEFAULT clock_timestamp(),
    by_role        text        NOT NULL DEFAULT current_user,
    by_os_user     text        NOT NULL,
    host           text        NOT NULL,
    strata_version text        NOT NULL,
    details        jsonb       NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE {schema}.events IS 'append-only log of everything strata did to each set';
COMMENT ON COLUMN {schema}.events.id IS 'event order';
COMMENT ON COLUMN {schema}.events.set_name IS 'the migration set concerned';
COMMENT ON COLUMN {schema}.events.key IS 'the migration concerned (see migrations.key), if any';
COMMENT ON COLUMN {schema}.events.kind IS 'apply, revert, fail, baseline, mark, accept, adopt, resume or fresh';
COMMENT ON COLUMN {schema}.events.at IS 'when it happened';
COMMENT ON COLUMN {schema}.events.by_role IS 'database role that did it';
COMMENT ON COLUMN {schema}.events.by_os_user IS 'operating-system user that ran strata';
COMMENT ON COLUMN {schema}.events.host IS 'host name of the machine that ran strata';
COMMENT ON COLUMN {schema}.events.strata_version IS 'version of strata that did it';
COMMENT ON COLUMN {schema}.events.details IS 'event specifics: checksum, duration, error, statements done, reason';
CREATE INDEX ON {schema}.events (set_name, id);
CREATE INDEX ON {schema}.events (set_name, key, id);

CREATE TABLE {schema}.runs (
    backend_pid    integer     PRIMARY KEY,
    host           text        NOT NULL,
    os_pid         integer     NOT NULL,
    os_user        text        NOT NULL,
    strata_version text        NOT NULL,
    started_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
COMMENT ON TABLE {schema}.runs IS 'strata runs holding the migration lock; a row is live while its backend holds the advisory lock';
COMMENT ON COLUMN {schema}.runs.backend_pid IS 'PID of the backend of the lock connection (matches pg_locks.pid)';
COMMENT ON COLUMN {schema}.runs.host IS 'host name of the machine running strata';
COMMENT ON COLUMN {schema}.runs.os_pid IS 'operating-system PID of the strata process';
COMMENT ON COLUMN {schema}.runs.os_user IS 'operating-system user running strata';
COMMENT ON COLUMN {schema}.runs.strata_version IS 'version of strata';
COMMENT ON COLUMN {schema}.runs.started_at IS 'when the run took the lock';

-- Guards used inside migration transactions. A history row must never be written, or removed,
-- outside the transaction of the migration it describes.
CREATE FUNCTION {schema}.expect_rows(actual_rows bigint, expected_rows bigint, what text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- (not `found`: that name is PL/pgSQL's own status variable)
    IF actual_rows <> expected_rows THEN
        RAISE EXCEPTION 'strata registry: expected % history row(s) for %, found %', expected_rows, what, actual_rows
            USING ERRCODE = 'P0002', HINT = 'run `strata status`: the history changed under this run';
    END IF;
END
$$;
COMMENT ON FUNCTION {schema}.expect_rows(bigint, bigint, text) IS 'raises unless a registry statement touched exactly the expected number of rows';

CREATE FUNCTION {schema}.in_migration(migration_key text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('strata.migration', true) IS DISTINCT FROM migration_key THEN
        RAISE EXCEPTION 'strata: the transaction of migration % ended before its history row was written', migration_key
            USING ERRCODE = '25000', HINT = 'the script ends the transaction itself (COMMIT/ROLLBACK); strata refuses to record it as applied';
    END IF;
    RETURN true;
END
$$;
COMMENT ON FUNCTION {schema}.in_migration(text) IS 'true inside the transaction strata opened for this migration; raises otherwise';
