-- strata registry, version 2: the `rehash` event. A history row written with an older
-- checksum algorithm whose file is unchanged gets the current algorithm's checksum in place
-- (for dbmate and goose files, `sha256-lf-up`: the file without its down section), and the
-- event records both.

ALTER TABLE {schema}.events DROP CONSTRAINT events_kind_check;
ALTER TABLE {schema}.events ADD CONSTRAINT events_kind_check
    CHECK (kind IN ('apply', 'revert', 'fail', 'baseline', 'mark', 'accept', 'adopt', 'resume', 'fresh', 'rehash'));
COMMENT ON COLUMN {schema}.events.kind IS 'apply, revert, fail, baseline, mark, accept, adopt, resume, fresh, or rehash (a row''s checksum recomputed with a newer algorithm, the file unchanged)';
COMMENT ON COLUMN {schema}.migrations.checksum_algorithm IS 'how checksum was computed; sha256-lf = SHA-256 after removing a BOM and turning CRLF into LF; sha256-lf-up = the same of a dbmate/goose file without its down section';
