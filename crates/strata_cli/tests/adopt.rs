//! `strata adopt` for every supported tool. Each test creates the tool's history table the way
//! the tool itself does (its DDL and rows), runs the first migrations as the tool would have, and
//! checks that `adopt --apply` records exactly those and that `up` then applies only the truly
//! pending ones (re-running an adopted migration would fail with "already exists").

mod common;

use common::*;

const USERS: &str = "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);\n";
const ORDERS: &str =
    "CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id));\n";
const NAME: &str = "ALTER TABLE users ADD COLUMN name text;\n";

/// Runs the scenario: `files` in `migrations/`, the tool's table and rows in `history`, the SQL
/// the tool already ran in `applied`; expects `adopted` adopted and the rest applied by `up`.
fn scenario(
    tool: &str,
    table: &str,
    files: &[(&str, &[u8])],
    applied: &str,
    history: &str,
    adopted: usize,
) -> (TestDatabase, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join(".git")).unwrap();
    for (name, bytes) in files {
        write(&tmp.path().join("migrations"), name, bytes);
    }
    let db = TestDatabase::new(&format!("adopt_{}", tool.replace('-', "_")));
    db.psql(applied).unwrap();
    db.psql(history).unwrap();
    let fingerprint =
        format!("SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM {table} t");
    let before = db.psql(&fingerprint).unwrap();
    let dry = strata(tmp.path(), &db, &["--dir", "migrations", "adopt"]);
    assert!(
        dry.code == 0 || dry.code == 1,
        "{tool}: {}\n{}",
        dry.stdout,
        dry.stderr
    );
    assert!(
        dry.stdout.contains(&format!("{tool} history")) && dry.stdout.contains("dry run"),
        "{tool}: {}",
        dry.stdout
    );
    assert_eq!(
        db.psql("SELECT to_regclass('strata.migrations') IS NULL")
            .unwrap()
            .trim(),
        "t",
        "{tool}: the dry run recorded something"
    );
    let run = strata(
        tmp.path(),
        &db,
        &["--dir", "migrations", "adopt", "--apply", "--from", tool],
    );
    assert!(
        run.code == 0 || run.code == 1,
        "{tool}: {}\n{}",
        run.stdout,
        run.stderr
    );
    assert_eq!(
        run.stdout.matches("  adopted ").count(),
        adopted,
        "{tool}: {}",
        run.stdout
    );
    let events = db.psql(&format!("SELECT count(*) FROM strata.events WHERE kind = 'adopt' AND details->>'tool' = '{tool}'")).unwrap();
    assert_eq!(events.trim(), adopted.to_string());
    let up = strata(tmp.path(), &db, &["--dir", "migrations", "up"]);
    assert_eq!(
        up.code, 0,
        "{tool}: up after adopt:\n{}\n{}",
        up.stdout, up.stderr
    );
    strata(
        tmp.path(),
        &db,
        &["--dir", "migrations", "status", "--check"],
    )
    .ok();
    // The source table is left as it was.
    assert_eq!(
        db.psql(&fingerprint).unwrap(),
        before,
        "{tool}: the source table changed"
    );
    (db, tmp)
}

#[test]
fn golang_migrate() {
    let files: &[(&str, &[u8])] = &[
        ("000001_users.up.sql", USERS.as_bytes()),
        ("000001_users.down.sql", b"DROP TABLE users;\n"),
        ("000002_orders.up.sql", ORDERS.as_bytes()),
        ("000002_orders.down.sql", b"DROP TABLE orders;\n"),
        ("000003_name.up.sql", NAME.as_bytes()),
        (
            "000003_name.down.sql",
            b"ALTER TABLE users DROP COLUMN name;\n",
        ),
    ];
    let ddl = "CREATE TABLE IF NOT EXISTS schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL);";
    scenario(
        "golang-migrate",
        "schema_migrations",
        files,
        &format!("{USERS}{ORDERS}"),
        &format!("{ddl} INSERT INTO schema_migrations VALUES (2, false);"),
        2,
    );
    // A dirty version is reported, not adopted.
    let tmp = tempfile::tempdir().unwrap();
    for (n, b) in files {
        write(&tmp.path().join("migrations"), n, b);
    }
    let db = TestDatabase::new("adopt_dirty");
    db.psql(USERS).unwrap();
    db.psql(&format!(
        "{ddl} INSERT INTO schema_migrations VALUES (2, true);"
    ))
    .unwrap();
    let run = strata(
        tmp.path(),
        &db,
        &["--dir", "migrations", "adopt", "--apply"],
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("adopted 000001_users") && run.stdout.contains("dirty"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("adopted 000002"), "{}", run.stdout);
}

#[test]
fn dbmate() {
    let files: &[(&str, &[u8])] = &[
        (
            "20250101000001_users.sql",
            format!("-- migrate:up\n{USERS}\n-- migrate:down\nDROP TABLE users;\n")
                .as_bytes()
                .to_vec()
                .leak(),
        ),
        (
            "20250101000002_orders.sql",
            format!("-- migrate:up\n{ORDERS}\n-- migrate:down\nDROP TABLE orders;\n")
                .as_bytes()
                .to_vec()
                .leak(),
        ),
        (
            "20250101000003_name.sql",
            format!(
                "-- migrate:up\n{NAME}\n-- migrate:down\nALTER TABLE users DROP COLUMN name;\n"
            )
            .as_bytes()
            .to_vec()
            .leak(),
        ),
    ];
    scenario(
        "dbmate",
        "schema_migrations",
        files,
        &format!("{USERS}{ORDERS}"),
        "CREATE TABLE IF NOT EXISTS schema_migrations (version varchar(128) PRIMARY KEY); INSERT INTO schema_migrations VALUES ('20250101000001'), ('20250101000002');",
        2,
    );
}

#[test]
fn goose() {
    let files: &[(&str, &[u8])] = &[
        (
            "00001_users.sql",
            format!("-- +goose Up\n{USERS}\n-- +goose Down\nDROP TABLE users;\n")
                .as_bytes()
                .to_vec()
                .leak(),
        ),
        (
            "00002_orders.sql",
            format!("-- +goose Up\n{ORDERS}\n-- +goose Down\nDROP TABLE orders;\n")
                .as_bytes()
                .to_vec()
                .leak(),
        ),
        (
            "00003_name.sql",
            format!("-- +goose Up\n{NAME}\n-- +goose Down\nALTER TABLE users DROP COLUMN name;\n")
                .as_bytes()
                .to_vec()
                .leak(),
        ),
    ];
    // goose's log: 2 was applied, then rolled back (is_applied = false appended); 1 stays applied.
    scenario(
        "goose",
        "goose_db_version",
        files,
        USERS,
        "CREATE TABLE goose_db_version (id serial NOT NULL, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp NULL DEFAULT now(), PRIMARY KEY (id)); \
         INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (1, true), (2, true), (2, false);",
        1,
    );
}

#[test]
fn flyway_with_its_own_checksums_on_lf_crlf_and_bom_files() {
    let v1 = b"CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);\nCREATE INDEX users_email ON users (email);\n";
    let v2 = b"CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id));\r\nCOMMENT ON TABLE orders IS 'crlf file';\r\n";
    let v3 = b"\xef\xbb\xbfALTER TABLE users ADD COLUMN name text;\n";
    let files: &[(&str, &[u8])] = &[
        ("V1__users.sql", v1),
        ("V2__orders.sql", v2),
        ("V3__name.sql", v3),
    ];
    // Checksums as Flyway computes them (CRC32 over the lines; computed independently).
    let ddl = "CREATE TABLE flyway_schema_history (installed_rank INT NOT NULL, version VARCHAR(50), description VARCHAR(200) NOT NULL, type VARCHAR(20) NOT NULL, \
               script VARCHAR(1000) NOT NULL, checksum INTEGER, installed_by VARCHAR(100) NOT NULL, installed_on TIMESTAMP NOT NULL DEFAULT now(), \
               execution_time INTEGER NOT NULL, success BOOLEAN NOT NULL, CONSTRAINT flyway_schema_history_pk PRIMARY KEY (installed_rank));";
    let rows = "INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success) VALUES \
                (1, '1', 'users', 'SQL', 'V1__users.sql', 19852849, 'postgres', 5, true), \
                (2, '2', 'orders', 'SQL', 'V2__orders.sql', 1868913502, 'postgres', 5, true);";
    let applied = "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL); CREATE INDEX users_email ON users (email); \
                   CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id));";
    scenario(
        "flyway",
        "flyway_schema_history",
        files,
        applied,
        &format!("{ddl} {rows}"),
        2,
    );
    // The BOM file's checksum is Flyway's too: a history claiming V3 with it is adopted.
    let tmp = tempfile::tempdir().unwrap();
    for (n, b) in files {
        write(&tmp.path().join("migrations"), n, b);
    }
    let db = TestDatabase::new("adopt_flyway_mismatch");
    db.psql(&format!("{applied} ALTER TABLE users ADD COLUMN name text; {ddl} {rows} INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success) VALUES (3, '3', 'name', 'SQL', 'V3__name.sql', 577072163, 'postgres', 1, true);")).unwrap();
    let run = strata(tmp.path(), &db, &["--dir", "migrations", "adopt"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(
        run.stdout.matches("would adopt").count(),
        3,
        "{}",
        run.stdout
    );
    // An edited file is reported the way `flyway validate` does, and not adopted.
    db.psql("UPDATE flyway_schema_history SET checksum = 42 WHERE version = '2'")
        .unwrap();
    let run = strata(tmp.path(), &db, &["--dir", "migrations", "adopt"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("Migration checksum mismatch for migration version 2")
            && run.stdout.contains("-> Applied to database : 42"),
        "{}",
        run.stdout
    );
    // Failed rows are reported, not adopted.
    db.psql("UPDATE flyway_schema_history SET success = false, checksum = 1868913502 WHERE version = '2'").unwrap();
    let run = strata(tmp.path(), &db, &["--dir", "migrations", "adopt"]);
    assert!(
        run.stdout.contains("failed") && !run.stdout.contains("would adopt V2"),
        "{}",
        run.stdout
    );
}

#[test]
fn sqlx_with_sha384_checksums() {
    let files: &[(&str, &[u8])] = &[
        ("1_users.up.sql", USERS.as_bytes()),
        ("1_users.down.sql", b"DROP TABLE users;\n"),
        ("2_orders.up.sql", ORDERS.as_bytes()),
        ("2_orders.down.sql", b"DROP TABLE orders;\n"),
        ("3_name.up.sql", NAME.as_bytes()),
        ("3_name.down.sql", b"ALTER TABLE users DROP COLUMN name;\n"),
    ];
    // PostgreSQL's own sha384() computes the checksums sqlx stores.
    let history = format!(
        "CREATE TABLE IF NOT EXISTS _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, installed_on TIMESTAMPTZ NOT NULL DEFAULT now(), \
         success BOOLEAN NOT NULL, checksum BYTEA NOT NULL, execution_time BIGINT NOT NULL); \
         INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES \
         (1, 'users', true, sha384(convert_to($q${USERS}$q$, 'UTF8')), 1), (2, 'orders', true, sha384(convert_to($q${ORDERS}$q$, 'UTF8')), 1);"
    );
    scenario(
        "sqlx",
        "_sqlx_migrations",
        files,
        &format!("{USERS}{ORDERS}"),
        &history,
        2,
    );
}

#[test]
fn diesel() {
    let files: &[(&str, &[u8])] = &[
        ("2025-11-14-000001_users/up.sql", USERS.as_bytes()),
        ("2025-11-14-000001_users/down.sql", b"DROP TABLE users;\n"),
        ("2025-11-14-000002_orders/up.sql", ORDERS.as_bytes()),
        ("2025-11-14-000002_orders/down.sql", b"DROP TABLE orders;\n"),
        ("2025-11-14-000003_name/up.sql", NAME.as_bytes()),
        (
            "2025-11-14-000003_name/down.sql",
            b"ALTER TABLE users DROP COLUMN name;\n",
        ),
    ];
    scenario(
        "diesel",
        "__diesel_schema_migrations",
        files,
        &format!("{USERS}{ORDERS}"),
        "CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL, run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP); \
         INSERT INTO __diesel_schema_migrations (version) VALUES ('20251114000001'), ('20251114000002');",
        2,
    );
}

#[test]
fn node_pg_migrate() {
    let files: &[(&str, &[u8])] = &[
        ("1700000000001_create-users.sql", USERS.as_bytes()),
        ("1700000000002_create-orders.sql", ORDERS.as_bytes()),
        ("1700000000003_add-name.sql", NAME.as_bytes()),
    ];
    scenario(
        "node-pg-migrate",
        "pgmigrations",
        files,
        &format!("{USERS}{ORDERS}"),
        "CREATE TABLE pgmigrations (id SERIAL PRIMARY KEY, name varchar(255) NOT NULL, run_on timestamp NOT NULL); \
         INSERT INTO pgmigrations (name, run_on) VALUES ('1700000000001_create-users', now()), ('1700000000002_create-orders', now());",
        2,
    );
}

#[test]
fn laravel() {
    let files: &[(&str, &[u8])] = &[
        (
            "2025_11_14_000001_create_users_table.sql",
            format!("-- migrate:up\n{USERS}\n-- migrate:down\nDROP TABLE users;\n")
                .as_bytes()
                .to_vec()
                .leak(),
        ),
        (
            "2025_11_14_000002_create_orders_table.sql",
            format!("-- migrate:up\n{ORDERS}\n-- migrate:down\nDROP TABLE orders;\n")
                .as_bytes()
                .to_vec()
                .leak(),
        ),
        (
            "2025_11_14_000003_add_name.sql",
            format!(
                "-- migrate:up\n{NAME}\n-- migrate:down\nALTER TABLE users DROP COLUMN name;\n"
            )
            .as_bytes()
            .to_vec()
            .leak(),
        ),
    ];
    scenario(
        "laravel",
        "migrations",
        files,
        &format!("{USERS}{ORDERS}"),
        "CREATE TABLE migrations (id serial PRIMARY KEY, migration varchar(255) NOT NULL, batch integer NOT NULL); \
         INSERT INTO migrations (migration, batch) VALUES ('2025_11_14_000001_create_users_table', 1), ('2025_11_14_000002_create_orders_table', 1);",
        2,
    );
}

/// Prisma Migrate's table as Prisma creates it on PostgreSQL.
const PRISMA_DDL: &str = "CREATE TABLE IF NOT EXISTS \"_prisma_migrations\" (\"id\" VARCHAR(36) PRIMARY KEY NOT NULL, \"checksum\" VARCHAR(64) NOT NULL, \
     \"finished_at\" TIMESTAMPTZ, \"migration_name\" VARCHAR(255) NOT NULL, \"logs\" TEXT, \"rolled_back_at\" TIMESTAMPTZ, \
     \"started_at\" TIMESTAMPTZ NOT NULL DEFAULT now(), \"applied_steps_count\" INTEGER NOT NULL DEFAULT 0);";

/// A `_prisma_migrations` row as Prisma writes it: the SHA-256 of `sql` (computed by
/// PostgreSQL), `finished` or not, `rolled_back` or not, started `minutes` after a fixed time.
fn prisma_row(
    id: u32,
    name: &str,
    sql: &str,
    finished: bool,
    rolled_back: bool,
    minutes: u32,
) -> String {
    let at = format!("timestamptz '2024-01-01 12:00:00+00' + interval '{minutes} minutes'");
    format!(
        "INSERT INTO \"_prisma_migrations\" VALUES ('00000000-0000-0000-0000-{id:012}', encode(sha256(convert_to($q${sql}$q$, 'UTF8')), 'hex'), {}, '{name}', {}, {}, {at}, {});",
        if finished { at.clone() } else { "NULL".into() },
        if finished { "NULL" } else { "'Database error code: 42P07'" },
        if rolled_back { at.clone() } else { "NULL".into() },
        u32::from(finished),
    )
}

#[test]
fn prisma_by_directory_name_with_sha256_checksums() {
    let files: &[(&str, &[u8])] = &[
        ("migration_lock.toml", b"provider = \"postgresql\"\n"),
        ("20240101120000_users/migration.sql", USERS.as_bytes()),
        ("20240102120000_orders/migration.sql", ORDERS.as_bytes()),
        ("20240103120000_name/migration.sql", NAME.as_bytes()),
    ];
    // 1 and 2 applied; 3 failed once and was marked rolled back (`prisma migrate resolve
    // --rolled-back`), so Prisma would run it again: it stays pending.
    let history = format!(
        "{PRISMA_DDL} {} {} {}",
        prisma_row(1, "20240101120000_users", USERS, true, false, 0),
        prisma_row(2, "20240102120000_orders", ORDERS, true, false, 1),
        prisma_row(3, "20240103120000_name", NAME, false, true, 2),
    );
    let (db, tmp) = scenario(
        "prisma",
        "_prisma_migrations",
        files,
        &format!("{USERS}{ORDERS}"),
        &history,
        2,
    );
    assert_eq!(
        db.psql("SELECT string_agg(key, ',' ORDER BY key) FROM strata.migrations")
            .unwrap()
            .trim(),
        "20240101120000,20240102120000,20240103120000"
    );
    drop((db, tmp));

    // Checked as Prisma checks: an edited file, a failed attempt and a renamed directory are
    // reported, not adopted.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    for (name, bytes) in files {
        write(&dir, name, bytes);
    }
    let db = TestDatabase::new("adopt_prisma_problems");
    db.psql(&format!(
        "{USERS}{ORDERS}{PRISMA_DDL} {} {} {} {}",
        prisma_row(
            1,
            "20240101120000_users",
            "CREATE TABLE users (id int);\n",
            true,
            false,
            0
        ),
        prisma_row(2, "20240102120000_orders", ORDERS, false, false, 1),
        prisma_row(3, "20240103120000_name_old", NAME, true, false, 2),
        // Applied after a rolled-back attempt: the latest attempt decides.
        prisma_row(4, "20240103120000_name", NAME, false, true, 3),
    ))
    .unwrap();
    db.psql(&prisma_row(5, "20240103120000_name", NAME, true, false, 4))
        .unwrap();
    db.psql(NAME).unwrap();
    let run = strata(
        tmp.path(),
        &db,
        &["--dir", "migrations", "adopt", "--from", "prisma"],
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("Prisma recorded checksum")
            && run
                .stdout
                .contains("20240101120000_users/migration.sql now has"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("20240102120000_orders: failed: Prisma started this migration and never finished it (its log: Database error code: 42P07)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "prisma recorded version 20240103120000_name_old as applied, but no migration file"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(
        run.stdout.matches("would adopt").count(),
        1,
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("would adopt 20240103120000_name"),
        "{}",
        run.stdout
    );
}

#[test]
fn no_history_points_to_baseline() {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("migrations"), "1_a.sql", b"SELECT 1;\n");
    let db = TestDatabase::new("adopt_none");
    let run = strata(tmp.path(), &db, &["--dir", "migrations", "adopt"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("strata baseline"), "{}", run.stderr);
}

/// The flipr sqitch project (written with sqitch 1.3.1), as `(relative path, bytes)`.
fn flipr_files() -> Vec<(String, Vec<u8>)> {
    fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    let root = repo_root().join("fixtures/layouts/sqitch/ok/flipr");
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out
}

/// sqitch's registry exactly as sqitch 1.3.1 creates it for PostgreSQL, with the rows it wrote
/// deploying flipr up to `@v1.1` (4 of the plan's 5 changes; the 5th is the rework of
/// `insert_user`): see the headers of `fixtures/adopt/sqitch/*.sql`.
fn sqitch_registry_at_v1_1() -> String {
    let dir = repo_root().join("fixtures/adopt/sqitch");
    std::fs::read_to_string(dir.join("registry.sql")).unwrap()
        + &std::fs::read_to_string(dir.join("flipr_at_v1.1.sql")).unwrap()
}

/// What sqitch ran up to `@v1.1`: the deploy scripts of the first four changes (the first
/// `insert_user` is `deploy/insert_user@v1.1.sql` since the rework).
fn flipr_deployed_sql() -> String {
    let root = repo_root().join("fixtures/layouts/sqitch/ok/flipr/deploy");
    ["appschema", "users", "insert_user@v1.1", "flips"]
        .iter()
        .map(|c| std::fs::read_to_string(root.join(format!("{c}.sql"))).unwrap())
        .collect()
}

#[test]
fn sqitch_registry_with_a_reworked_change() {
    let files = flipr_files();
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let (db, tmp) = scenario(
        "sqitch",
        "sqitch.changes",
        &refs,
        &flipr_deployed_sql(),
        &sqitch_registry_at_v1_1(),
        4,
    );
    // The adopted rows carry the sqitch names; `up` applied only the rework.
    assert_eq!(
        db.psql("SELECT string_agg(key || '=' || name, ' ' ORDER BY version::int) FROM strata.migrations")
            .unwrap()
            .trim(),
        "1=appschema 2=users 3=insert_user@v1.1 4=flips 5=insert_user"
    );
    assert_eq!(
        db.psql("SELECT count(*) FROM strata.events WHERE kind = 'apply'")
            .unwrap()
            .trim(),
        "1"
    );
    assert_eq!(
        db.psql("SELECT prosrc LIKE '%salt%' FROM pg_proc WHERE proname = 'insert_user'")
            .unwrap()
            .trim(),
        "t"
    );
    // sqitch's registry is still there and does not know the rework strata applied.
    let text = strata(tmp.path(), &db, &["--dir", "migrations", "status"])
        .ok()
        .stdout;
    assert!(
        text.contains("sqitch's history (sqitch.changes)")
            && text.contains("applied by strata but unknown to sqitch: 5"),
        "{text}"
    );
    drop(tmp);

    // A deploy script edited since sqitch ran it is reported (SHA-1 as sqitch computes it) and
    // not adopted; the others are.
    let tmp = tempfile::tempdir().unwrap();
    for (name, bytes) in &files {
        write(&tmp.path().join("migrations"), name, bytes);
    }
    write(
        &tmp.path().join("migrations"),
        "deploy/flips.sql",
        "-- edited\nCREATE TABLE flipr.flips (id bigint);\n",
    );
    let db = TestDatabase::new("adopt_sqitch_edited");
    db.psql(&flipr_deployed_sql()).unwrap();
    db.psql(&sqitch_registry_at_v1_1()).unwrap();
    let run = strata(tmp.path(), &db, &["--dir", "migrations", "adopt"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout.matches("would adopt").count(),
        3,
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("4_flips (sqitch.plan:10)")
            && run
                .stdout
                .contains("script_hash 041dffb1c737c5ea44e7d85336b39c4568645b24"),
        "{}",
        run.stdout
    );
}

#[test]
fn status_warns_while_histories_disagree() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(&dir, "000001_users.up.sql", USERS);
    write(&dir, "000002_orders.up.sql", ORDERS);
    write(&dir, "000003_name.up.sql", NAME);
    let db = TestDatabase::new("adopt_shared_status");
    db.psql(&format!("{USERS}{ORDERS}")).unwrap();
    db.psql("CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL); INSERT INTO schema_migrations VALUES (2, false);").unwrap();
    let status = |json: bool| {
        let mut args = vec!["--dir", "migrations"];
        if json {
            args.push("--json");
        }
        args.push("status");
        strata(tmp.path(), &db, &args).ok()
    };
    // Not adopted yet: golang-migrate applied 1 and 2, strata nothing.
    let text = status(false).stdout;
    assert!(
        text.contains(
            "still shares the database with golang-migrate's history (public.schema_migrations)"
        ) && text.contains("applied by golang-migrate but not recorded by strata: 000001, 000002")
            && text.contains("strata adopt"),
        "{text}"
    );
    let doc = status(true).json();
    assert_eq!(doc["sets"][0]["shared_history"]["agree"], false, "{doc}");
    assert_eq!(
        doc["sets"][0]["shared_history"]["only_in_tool"],
        serde_json::json!(["000001", "000002"])
    );
    // Adopted: the histories agree, and nothing extra is printed.
    strata(
        tmp.path(),
        &db,
        &["--dir", "migrations", "adopt", "--apply"],
    )
    .ok();
    let text = status(false).stdout;
    assert!(!text.contains("warning"), "{text}");
    let doc = status(true).json();
    assert_eq!(doc["sets"][0]["shared_history"]["agree"], true, "{doc}");
    // strata applies 3: golang-migrate does not know it.
    strata(tmp.path(), &db, &["--dir", "migrations", "up"]).ok();
    let text = status(false).stdout;
    assert!(
        text.contains("applied by strata but unknown to golang-migrate: 000003")
            && text.contains("drop public.schema_migrations"),
        "{text}"
    );
    // Without another tool's table there is no field at all.
    let plain = TestDatabase::new("adopt_shared_none");
    let doc = strata(
        tmp.path(),
        &plain,
        &["--dir", "migrations", "--json", "status"],
    )
    .ok()
    .json();
    assert!(doc["sets"][0].get("shared_history").is_none(), "{doc}");
}

/// A psql-loop database (no history table at all): `adopt --infer` reads which migrations'
/// objects exist, proposes the last fully present one, changes nothing until `--apply`, and
/// reports contradictory evidence instead of guessing.
#[test]
fn infer_proposes_a_baseline_for_an_untracked_database() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&repo_root().join("examples/audit-psql"), tmp.path());
    let files: Vec<std::path::PathBuf> = {
        let mut f: Vec<_> = std::fs::read_dir(tmp.path().join("migrations"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        f.sort();
        f
    };
    let db = TestDatabase::new("infer");
    for file in &files[..3] {
        db.psql(&std::fs::read_to_string(file).unwrap()).unwrap();
    }
    let before = snapshot(&db);
    let run = strata(tmp.path(), &db, &["adopt", "--infer"]).ok();
    assert!(
        run.stdout.contains("proposed baseline: 003 "),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("not applied"), "{}", run.stdout);
    assert_eq!(before, snapshot(&db), "the dry run changed the database");
    assert!(
        db.psql("select to_regnamespace('strata') is null")
            .unwrap()
            .trim()
            == "t"
    );

    let doc = strata(tmp.path(), &db, &["--json", "adopt", "--infer"])
        .ok()
        .json();
    let verdicts: Vec<&str> = doc["sets"][0]["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts[..3], ["applied", "applied", "applied"], "{doc}");
    assert!(
        verdicts[3..]
            .iter()
            .all(|v| *v == "not_applied" || *v == "no_evidence"),
        "{doc}"
    );

    strata(tmp.path(), &db, &["adopt", "--infer", "--apply"]).ok();
    let status = strata(tmp.path(), &db, &["--json", "status"]).ok().json();
    let states: Vec<&str> = status["sets"][0]["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        ["applied", "applied", "applied", "pending", "pending", "pending"]
    );
    // 004 indexes tables that now count as existing; they are empty, so the gate shows the
    // plain CREATE INDEX as a warning with the table's size and goes ahead.
    let up = strata(tmp.path(), &db, &["up"]).ok();
    assert!(
        up.stderr.contains("[require-concurrent-index-creation]")
            && up.stderr.contains("below [lint] gate_min_table_size"),
        "{}",
        up.stderr
    );

    // Migration 2's table missing while 1 and 3 ran: contradictory, nothing recorded.
    let gap = tempfile::tempdir().unwrap();
    let dir = gap.path().join("migrations");
    write(&dir, "001_a.sql", "create table a (id int);\n");
    write(
        &dir,
        "002_b.sql",
        "create table b (id int);\ncreate index b_id on b (id);\n",
    );
    write(
        &dir,
        "003_c.sql",
        "create table c (id int);\nalter table a add column note text;\n",
    );
    let db2 = TestDatabase::new("infer_gap");
    db2.psql(
        "create table a (id int); create table c (id int); alter table a add column note text;",
    )
    .unwrap();
    let run = strata(gap.path(), &db2, &["adopt", "--infer", "--apply"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("contradicts"), "{}", run.stdout);
    assert!(run.stdout.contains("missing: relation b"), "{}", run.stdout);
    assert!(
        run.stderr.contains("not recording a baseline"),
        "{}",
        run.stderr
    );
    assert_eq!(
        db2.psql("select to_regnamespace('strata') is null")
            .unwrap()
            .trim(),
        "t"
    );
}
