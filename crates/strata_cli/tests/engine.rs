//! Execution semantics end to end: concurrency, error positions and atomicity, non-transactional
//! migrations, the scriptable JSON contract, and credential redaction.

mod common;

use common::*;
use std::path::Path;

/// Two `strata up` processes racing on a 50-migration set: each migration is applied once.
#[test]
fn concurrent_runs_apply_each_migration_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    for i in 1..=50 {
        let prev = if i > 1 {
            format!(", prev_id int REFERENCES t{:02}(id)", i - 1)
        } else {
            String::new()
        };
        write(
            &dir,
            &format!("{i:03}_t{i:02}.sql"),
            &format!("CREATE TABLE t{i:02} (id int PRIMARY KEY{prev});\nSELECT pg_sleep(0.01);\n"),
        );
    }
    let db = TestDatabase::new("race");
    let spawn = || {
        strata_cmd(tmp.path())
            .args(["--database-url", &db.url(), "--dir", "migrations", "up"])
            .output()
            .unwrap()
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(spawn);
        let b = s.spawn(spawn);
        (a.join().unwrap(), b.join().unwrap())
    });
    for o in [&a, &b] {
        assert!(
            o.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let rows = db
        .psql("SELECT count(*), count(DISTINCT key) FROM strata.migrations")
        .unwrap();
    assert_eq!(rows.trim(), "50|50");
    let applies = db
        .psql("SELECT count(*) FROM strata.events WHERE kind = 'apply'")
        .unwrap();
    assert_eq!(applies.trim(), "50", "every migration applied exactly once");
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&a.stdout),
        String::from_utf8_lossy(&b.stdout)
    );
    assert_eq!(out.matches("applied ").count(), 50, "{out}");
}

/// A syntax error in the third statement is reported at its file:line:col and nothing of the
/// migration remains.
#[test]
fn syntax_error_position_and_atomic_rollback() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(&dir, "001_ok.sql", "CREATE TABLE ok (id int);\n");
    write(
        &dir,
        "002_broken.sql",
        "-- three statements, the third is broken\nCREATE TABLE first (id int);\nINSERT INTO first VALUES (1);\n\nCREATE TABLE third (id int,\n    name txet NOT NULL,, other int);\n",
    );
    let db = TestDatabase::new("syntax");
    let run = strata(tmp.path(), &db, &["--dir", "migrations", "up"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("syntax error at or near \",\""),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("002_broken.sql:6:24"),
        "position not mapped to file:line:col:\n{}",
        run.stderr
    );
    assert!(run.stderr.contains("statement 3"), "{}", run.stderr);
    assert!(run.stderr.contains("rolled back"), "{}", run.stderr);
    assert_eq!(
        db.psql("SELECT to_regclass('first') IS NULL, to_regclass('ok') IS NOT NULL")
            .unwrap()
            .trim(),
        "t|t"
    );
    let doc = strata(
        tmp.path(),
        &db,
        &["--dir", "migrations", "--json", "status"],
    )
    .ok()
    .json();
    let states: Vec<&str> = doc["sets"][0]["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["applied", "failed"]);
    let events = db
        .psql("SELECT string_agg(kind, ',' ORDER BY id) FROM strata.events")
        .unwrap();
    assert_eq!(events.trim(), "apply,fail");
}

/// Scripts are parsed ahead of execution on a helper thread: a failure in the fourth of six
/// migrations (a runtime error the server gives no position for) is still located at the
/// failing statement of the right file, exactly the first three stay applied, and the search
/// path a migration changes is restored for the next one.
#[test]
fn mid_run_failure_with_prefetched_scripts_leaves_exactly_the_earlier_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(&dir, "001_a.sql", "CREATE TABLE a (id int);\n");
    write(
        &dir,
        "002_b.sql",
        "CREATE SCHEMA side;\nSET search_path = side;\nCREATE TABLE b (id int);\n",
    );
    write(
        &dir,
        "003_c.sql",
        "-- c\n\nCREATE TABLE c (id int);\nINSERT INTO c VALUES (1);\n",
    );
    write(
        &dir,
        "004_d.sql",
        "CREATE TABLE d (id int);\nINSERT INTO d\n  SELECT 1 / (id - 1) FROM c;\nCREATE TABLE d2 (id int);\n",
    );
    write(&dir, "005_e.sql", "CREATE TABLE e (id int);\n");
    write(&dir, "006_f.sql", "CREATE TABLE f (id int);\n");
    let db = TestDatabase::new("prefetch");
    let run = strata(tmp.path(), &db, &["--dir", "migrations", "up"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("22012"), "{}", run.stderr);
    assert!(run.stderr.contains("004_d.sql:2:1"), "{}", run.stderr);
    assert!(run.stderr.contains("statement 2"), "{}", run.stderr);
    assert_eq!(
        db.psql(
            "SELECT string_agg(key, ',' ORDER BY key) FROM strata.migrations; \
             SELECT to_regclass('public.a') IS NOT NULL, to_regclass('side.b') IS NOT NULL, \
                    to_regclass('public.c') IS NOT NULL, to_regclass('public.d') IS NULL, \
                    to_regclass('public.e') IS NULL"
        )
        .unwrap()
        .trim(),
        "001,002,003\nt|t|t|t|t",
        "003 ran after 002's SET search_path, so it must be in public"
    );
    // Fixed, the rest applies in order.
    write(
        &dir,
        "004_d.sql",
        "CREATE TABLE d (id int);\nINSERT INTO d SELECT id FROM c;\nCREATE TABLE d2 (id int);\n",
    );
    strata(tmp.path(), &db, &["--dir", "migrations", "up"]).ok();
    assert_eq!(
        db.psql("SELECT count(*) FROM strata.migrations")
            .unwrap()
            .trim(),
        "6"
    );
}

/// Errors in a multi-byte, CRLF file are located by character, not by byte.
#[test]
fn error_positions_count_characters_in_crlf_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(&dir, "001_x.sql", "\u{feff}-- café ünïcode\r\nCREATE TABLE t (note text DEFAULT 'é');\r\nSELECT * FROM nowhere_é;\r\n");
    let db = TestDatabase::new("utf");
    let run = strata(tmp.path(), &db, &["--dir", "migrations", "up"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("001_x.sql:3:15"), "{}", run.stderr);
    assert!(run.stderr.contains("42P01"), "{}", run.stderr);
}

/// Two CREATE INDEX CONCURRENTLY statements run outside a transaction (while strata holds its
/// lock on another connection, so nothing deadlocks) and revert.
#[test]
fn concurrent_indexes_apply_and_revert() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(&dir, "1_table.up.sql", "CREATE TABLE items (id int, sku text);\nINSERT INTO items SELECT g, 'sku' || g FROM generate_series(1, 1000) g;\n");
    write(&dir, "1_table.down.sql", "DROP TABLE items;\n");
    write(&dir, "2_indexes.up.sql", "CREATE INDEX CONCURRENTLY items_id ON items (id);\nCREATE INDEX CONCURRENTLY items_sku ON items (sku);\n");
    write(
        &dir,
        "2_indexes.down.sql",
        "DROP INDEX CONCURRENTLY items_sku;\nDROP INDEX CONCURRENTLY items_id;\n",
    );
    let db = TestDatabase::new("cic");
    let empty = snapshot(&db);
    let dry = strata(tmp.path(), &db, &["--dir", "migrations", "up", "--dry-run"]).ok();
    assert!(
        dry.stdout.contains("outside a transaction")
            && dry.stdout.contains("CREATE INDEX CONCURRENTLY items_sku"),
        "{}",
        dry.stdout
    );
    assert_eq!(
        snapshot(&db),
        empty,
        "--dry-run must not change the database"
    );
    let run = strata(tmp.path(), &db, &["--dir", "migrations", "up"]).ok();
    assert!(
        run.stdout.contains("outside a transaction"),
        "{}",
        run.stdout
    );
    let valid = db.psql("SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname IN ('items_id', 'items_sku') AND i.indisvalid").unwrap();
    assert_eq!(valid.trim(), "2");
    strata(tmp.path(), &db, &["--dir", "migrations", "down"]).ok();
    assert_eq!(
        db.psql("SELECT count(*) FROM pg_class WHERE relname IN ('items_id', 'items_sku')")
            .unwrap()
            .trim(),
        "0"
    );
    strata(tmp.path(), &db, &["--dir", "migrations", "down"]).ok();
    assert_eq!(snapshot(&db), empty);
}

/// A failing non-transactional migration is recorded as partial and resumes at the first
/// statement that did not complete.
#[test]
fn non_transactional_failure_is_recorded_and_resumed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(&dir, "1_t.sql", "CREATE TABLE t (id int);\n");
    write(&dir, "2_idx.sql", "CREATE INDEX CONCURRENTLY t_a ON t (id);\nCREATE INDEX CONCURRENTLY t_b ON t (missing_column);\nCREATE INDEX CONCURRENTLY t_c ON t (id);\n");
    let db = TestDatabase::new("partial");
    let run = strata(tmp.path(), &db, &["--dir", "migrations", "up"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("1 of 3 statement(s) completed"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("2_idx.sql:2:"), "{}", run.stderr);
    let doc = strata(
        tmp.path(),
        &db,
        &["--dir", "migrations", "--json", "status"],
    )
    .ok()
    .json();
    assert_eq!(doc["sets"][0]["migrations"][1]["state"], "partial");
    // The file must not change between the failure and the resume (the journal is keyed to
    // it), so fix the cause in the database instead.
    db.psql("DROP INDEX IF EXISTS t_b; ALTER TABLE t ADD COLUMN missing_column int")
        .unwrap();
    let run = strata(tmp.path(), &db, &["--dir", "migrations", "up"]).ok();
    assert!(run.stdout.contains("resumed 2"), "{}", run.stdout);
    assert_eq!(db.psql("SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class WHERE relname LIKE 't\\__'").unwrap().trim(), "t_a,t_b,t_c");
    let events = db
        .psql("SELECT string_agg(kind, ',' ORDER BY id) FROM strata.events")
        .unwrap();
    assert_eq!(events.trim(), "apply,fail,resume");
}

/// The JSON contract other tools rely on.
#[test]
fn status_json_contract() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join(".git")).unwrap();
    let dir = tmp.path().join("db");
    write(&dir, "000001_a.up.sql", "CREATE TABLE a (id int);\n");
    write(&dir, "000001_a.down.sql", "DROP TABLE a;\n");
    write(&dir, "000002_b.up.sql", "CREATE TABLE b (id int);\n");
    write(&dir, "000002_b.down.sql", "DROP TABLE b;\n");
    let db = TestDatabase::new("json");
    let empty = snapshot(&db);
    strata(tmp.path(), &db, &["--dir", "db", "up", "--to", "1"]).ok();
    let run = strata(
        tmp.path(),
        &db,
        &["--dir", "db", "--json", "status", "--check"],
    );
    assert_eq!(run.code, 1, "pending migrations are findings under --check");
    let doc = run.json();
    let set = &doc["sets"][0];
    assert_eq!(
        set["name"], "default",
        "an unnamed set's key is not its path"
    );
    assert_eq!(set["layout"], "updown");
    assert!(set["dir"].as_str().unwrap().ends_with("db"));
    let m = set["migrations"].as_array().unwrap();
    assert_eq!(
        (
            m[0]["version"].as_str(),
            m[0]["name"].as_str(),
            m[0]["state"].as_str()
        ),
        (Some("000001"), Some("a"), Some("applied"))
    );
    assert_eq!(
        (m[1]["version"].as_str(), m[1]["state"].as_str()),
        (Some("000002"), Some("pending"))
    );
    assert!(m[0]["applied_at"].is_string() && m[0]["duration_ms"].is_number());
    // Versions match numerically on the command line.
    strata(tmp.path(), &db, &["--dir", "db", "goto", "V2"]).ok();
    strata(tmp.path(), &db, &["--dir", "db", "down", "--to", "0"]).ok();
    assert_eq!(snapshot(&db), empty);
}

/// Passwords never appear in output, even in connection errors.
#[test]
fn credentials_are_redacted() {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("migrations"), "1_a.sql", "SELECT 1;\n");
    for url in [
        "postgres://bob:hunter2secret@127.0.0.1:1/app",
        "host=127.0.0.1 port=1 user=bob password=hunter2secret dbname=app",
    ] {
        let run = strata_raw(tmp.path(), &["--database-url", url, "status"]);
        assert_eq!(run.code, 2);
        assert!(
            !run.stderr.contains("hunter2secret") && !run.stdout.contains("hunter2secret"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("cannot connect"), "{}", run.stderr);
    }
}

/// A script that wraps itself in BEGIN/COMMIT (the psql-loop template) still commits atomically
/// with its history row; one with several transactions runs as psql would.
#[test]
fn scripts_with_their_own_transactions() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(
        &dir,
        "001_wrapped.sql",
        "-- Migration: 001\nBEGIN;\nCREATE TABLE w (id int);\nCOMMIT;\n",
    );
    write(
        &dir,
        "002_two.sql",
        "BEGIN;\nCREATE TABLE x (id int);\nCOMMIT;\nBEGIN;\nCREATE TABLE y (id int);\nCOMMIT;\n",
    );
    let db = TestDatabase::new("owntx");
    let run = strata(tmp.path(), &db, &["--dir", "migrations", "up"]).ok();
    assert!(!run.stdout.contains("WARNING"), "{}", run.stdout);
    assert_eq!(
        db.psql("SELECT count(*) FROM pg_class WHERE relname IN ('w', 'x', 'y') AND relkind = 'r'")
            .unwrap()
            .trim(),
        "3"
    );
}

/// A `SET search_path` in one migration does not leak into the next.
#[test]
fn search_path_is_restored_between_migrations() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(
        &dir,
        "1_a.sql",
        "CREATE SCHEMA other;\nSET search_path = other;\nCREATE TABLE in_other (id int);\n",
    );
    write(&dir, "2_b.sql", "CREATE TABLE in_public (id int);\n");
    let db = TestDatabase::new("path");
    strata(tmp.path(), &db, &["--dir", "migrations", "up"]).ok();
    assert_eq!(db.psql("SELECT to_regclass('other.in_other') IS NOT NULL, to_regclass('public.in_public') IS NOT NULL").unwrap().trim(), "t|t");
}

/// Stops a project's dev cluster even when the test fails half-way.
struct DevGuard<'a>(&'a Path);

impl Drop for DevGuard<'_> {
    fn drop(&mut self) {
        let _ = strata_raw(self.0, &["dev", "stop"]);
    }
}

/// With no database configured, strata starts its own cluster, says so, and manages it.
#[test]
fn embedded_dev_cluster_is_the_default() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        &tmp.path().join("migrations"),
        "001_a.sql",
        "CREATE TABLE a (id int);\n",
    );
    let _guard = DevGuard(tmp.path());
    let run = strata_raw(tmp.path(), &["up"]).ok();
    assert!(
        run.stderr.contains("no database configured") && run.stderr.contains("dev cluster"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("applied 001"), "{}", run.stdout);
    let status = strata_raw(tmp.path(), &["dev", "status"]).ok();
    assert!(status.stdout.contains("running"), "{}", status.stdout);
    let url = strata_raw(tmp.path(), &["dev", "url"]).ok();
    let url = url.stdout.trim();
    assert!(
        url.starts_with("postgresql://postgres@/strata_dev?host="),
        "{url}"
    );
    // The same database is reachable through the printed URL.
    let doc = strata_raw(tmp.path(), &["--database-url", url, "--json", "status"])
        .ok()
        .json();
    assert_eq!(doc["sets"][0]["migrations"][0]["state"], "applied");
    // Later commands find the running cluster from its files (the ready marker is written once
    // the database exists); a stopped cluster is started again by the next command.
    let local = tmp.path().join(".strata/dev");
    if local.join("data").is_dir() {
        assert!(local.join("strata_dev.ready").is_file());
    }
    write(
        &tmp.path().join("migrations"),
        "002_b.sql",
        "CREATE TABLE b (id int);\n",
    );
    let run = strata_raw(tmp.path(), &["up"]).ok();
    assert!(run.stdout.contains("applied 002"), "{}", run.stdout);
    strata_raw(tmp.path(), &["dev", "stop"]).ok();
    let status = strata_raw(tmp.path(), &["dev", "status"]).ok();
    assert!(status.stdout.contains("stopped"), "{}", status.stdout);
    let again = strata_raw(tmp.path(), &["--json", "status"]).ok().json();
    assert_eq!(again["sets"][0]["migrations"][1]["state"], "applied");
    strata_raw(tmp.path(), &["dev", "stop"]).ok();
}

/// An applied migration whose file disappeared is reported, not silently ignored.
#[test]
fn missing_files_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(&dir, "1_a.sql", "CREATE TABLE a (id int);\n");
    write(&dir, "2_b.sql", "CREATE TABLE b (id int);\n");
    let db = TestDatabase::new("missing");
    strata(tmp.path(), &db, &["--dir", "migrations", "up"]).ok();
    std::fs::remove_file(dir.join("2_b.sql")).unwrap();
    let doc = strata(
        tmp.path(),
        &db,
        &["--dir", "migrations", "--json", "status"],
    )
    .ok()
    .json();
    assert_eq!(doc["sets"][0]["migrations"][1]["state"], "missing");
    let run = strata(tmp.path(), &db, &["--dir", "migrations", "validate"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("missing") && run.stdout.contains("no file any more"),
        "{}",
        run.stdout
    );
    let run = strata(tmp.path(), &db, &["--dir", "migrations", "down"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("file is missing"), "{}", run.stderr);
}

/// A second run waits for the lock only as long as --lock-wait, then names who holds it.
#[test]
fn lock_wait_times_out_and_names_the_holder() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        &tmp.path().join("migrations"),
        "1_slow.sql",
        "SELECT pg_sleep(4);\nCREATE TABLE slow (id int);\n",
    );
    let db = TestDatabase::new("lockwait");
    let mut first = strata_cmd(tmp.path())
        .args(["--database-url", &db.url(), "--dir", "migrations", "up"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while db
        .psql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
        .unwrap()
        .trim()
        == "0"
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the first run never took the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let second = strata(
        tmp.path(),
        &db,
        &["--dir", "migrations", "--lock-wait", "300ms", "up"],
    );
    assert_eq!(second.code, 2, "{}", second.stderr);
    assert!(
        second.stderr.contains("holds the strata lock")
            && second.stderr.contains(&format!("pid {}", first.id()))
            && second.stderr.contains("strata on "),
        "{}",
        second.stderr
    );
    assert!(
        second.stderr.contains("waiting for the migration lock"),
        "{}",
        second.stderr
    );
    assert!(first.wait().unwrap().success());
    assert_eq!(
        db.psql("SELECT count(*) FROM strata.events WHERE kind = 'apply'")
            .unwrap()
            .trim(),
        "1"
    );
    // The release removed the run's row (a run that died keeps it until the next run clears
    // it), and nothing holds the lock afterwards.
    assert_eq!(
        db.psql("SELECT count(*) FROM strata.runs").unwrap().trim(),
        "0"
    );
    assert_eq!(
        db.psql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
            .unwrap()
            .trim(),
        "0"
    );
}

/// The registry's guards refuse history writes outside a migration's own transaction.
#[test]
fn registry_guards_refuse_writes_outside_a_migration_transaction() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        &tmp.path().join("migrations"),
        "1_a.sql",
        "CREATE TABLE a (id int);\n",
    );
    let db = TestDatabase::new("guards");
    strata(tmp.path(), &db, &["--dir", "migrations", "up"]).ok();
    let err = db
        .psql("SELECT strata.in_migration('1')")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ended before its history row was written"),
        "{err}"
    );
    let err = db
        .psql("SELECT strata.expect_rows(0, 1, '1')")
        .unwrap_err()
        .to_string();
    assert!(err.contains("expected 1 history row(s)"), "{err}");
    let ok = db.psql("BEGIN; SELECT set_config('strata.migration', '1', true); SELECT strata.in_migration('1'); COMMIT;").unwrap();
    assert!(ok.contains('t'), "{ok}");
}

/// After a branch merge, a pending migration older than applied ones is renumbered past them,
/// files renamed in the set's own layout and spelling, and then applies normally.
#[test]
fn renumber_after_a_branch_merge() {
    for (layout, applied_files, merged) in [
        (
            "updown",
            vec![
                ("000001_a.up.sql", "CREATE TABLE a (id int);"),
                ("000001_a.down.sql", "DROP TABLE a;"),
                ("000004_d.up.sql", "CREATE TABLE d (id int);"),
                ("000004_d.down.sql", "DROP TABLE d;"),
            ],
            vec![
                ("000003_c.up.sql", "CREATE TABLE c (id int);"),
                ("000003_c.down.sql", "DROP TABLE c;"),
            ],
        ),
        (
            "flyway",
            vec![
                ("V1__a.sql", "CREATE TABLE a (id int);"),
                ("V4__d.sql", "CREATE TABLE d (id int);"),
            ],
            vec![
                ("V3__c.sql", "CREATE TABLE c (id int);"),
                ("U3__c.sql", "DROP TABLE c;"),
            ],
        ),
        (
            "diesel",
            vec![
                ("2025-11-14-000001_a/up.sql", "CREATE TABLE a (id int);"),
                ("2025-11-14-000004_d/up.sql", "CREATE TABLE d (id int);"),
            ],
            vec![
                ("2025-11-14-000003_c/up.sql", "CREATE TABLE c (id int);"),
                ("2025-11-14-000003_c/down.sql", "DROP TABLE c;"),
            ],
        ),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("migrations");
        for (name, sql) in &applied_files {
            write(&dir, name, sql);
        }
        let db = TestDatabase::new(&format!("renumber_{layout}"));
        strata(tmp.path(), &db, &["--dir", "migrations", "up"]).ok();
        for (name, sql) in &merged {
            write(&dir, name, sql);
        }
        assert_eq!(
            strata(tmp.path(), &db, &["--dir", "migrations", "up"]).code,
            2,
            "{layout}: out of order is refused"
        );
        let dry = strata(tmp.path(), &db, &["--dir", "migrations", "renumber"]).ok();
        assert!(
            dry.stdout.contains("would rename"),
            "{layout}: {}",
            dry.stdout
        );
        assert!(
            dir.join(merged[0].0).exists(),
            "{layout}: the dry run renamed something"
        );
        strata(
            tmp.path(),
            &db,
            &["--dir", "migrations", "renumber", "--apply"],
        )
        .ok();
        let run = strata(tmp.path(), &db, &["--dir", "migrations", "up"]).ok();
        assert!(run.stdout.contains("applied "), "{layout}: {}", run.stdout);
        let doc = strata(
            tmp.path(),
            &db,
            &["--dir", "migrations", "--json", "status", "--check"],
        )
        .ok()
        .json();
        let versions: Vec<&str> = doc["sets"][0]["migrations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["version"].as_str().unwrap())
            .collect();
        let expected: &[&str] = match layout {
            "updown" => &["000001", "000004", "000005"],
            "flyway" => &["1", "4", "5"],
            _ => &[
                "2025-11-14-000001",
                "2025-11-14-000004",
                "2025-11-14-000005",
            ],
        };
        assert_eq!(versions, expected, "{layout}");
        strata(tmp.path(), &db, &["--dir", "migrations", "down"]).ok();
        assert_eq!(
            db.psql("SELECT to_regclass('c') IS NULL").unwrap().trim(),
            "t",
            "{layout}: the renamed down belongs to the renamed up"
        );
    }
}

/// Placeholders from strata.toml and --var, in both syntaxes; checksums ignore the values.
#[test]
fn placeholders_render_from_config_and_flags() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    write(
        &dir,
        "V1__schema.sql",
        "CREATE SCHEMA ${tenant};\nCREATE TABLE ${tenant}.t (id int);\n",
    );
    write(
        &dir,
        "V2__grant.sql",
        "COMMENT ON SCHEMA {{ index .Options \"tenant\" }} IS 'tenant schema';\n",
    );
    std::fs::write(
        tmp.path().join("strata.toml"),
        "[placeholders]\ntenant = \"acme\"\n\n[[set]]\nname = \"app\"\ndir = \"db\"\n",
    )
    .unwrap();
    let db = TestDatabase::new("placeholders");
    strata(tmp.path(), &db, &["up"]).ok();
    assert_eq!(
        db.psql("SELECT to_regclass('acme.t') IS NOT NULL")
            .unwrap()
            .trim(),
        "t"
    );
    // Another value renders differently but is not an edit.
    let db2 = TestDatabase::new("placeholders2");
    strata(tmp.path(), &db2, &["--var", "tenant=globex", "up"]).ok();
    assert_eq!(
        db2.psql("SELECT to_regclass('globex.t') IS NOT NULL")
            .unwrap()
            .trim(),
        "t"
    );
    strata(
        tmp.path(),
        &db,
        &["--var", "tenant=globex", "status", "--check"],
    )
    .ok();
    // Unknown placeholders and unsafe values are refused before anything runs.
    write(
        &dir,
        "V3__more.sql",
        "SELECT 1;\nCREATE TABLE ${tenant}.${table} (id int);\n",
    );
    let run = strata(tmp.path(), &db, &["up"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("V3__more.sql: line 2: no value for placeholder `table`"),
        "{}",
        run.stderr
    );
    let run = strata(
        tmp.path(),
        &db,
        &["--var", "table=x; DROP SCHEMA acme CASCADE", "up"],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("may only hold letters"),
        "{}",
        run.stderr
    );
    assert_eq!(
        db.psql("SELECT to_regclass('acme.t') IS NOT NULL")
            .unwrap()
            .trim(),
        "t"
    );
}

/// Lone carriage returns (old Mac line endings, or stray ones) around a failing statement: the
/// error still renders at its file:line:col instead of crashing the diagnostic renderer.
#[test]
fn server_errors_render_in_files_with_lone_carriage_returns() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(&dir, "001_cr.sql", "select 1;\r\r\r\tselect\r\r 1/0;\r\r\n");
    let db = TestDatabase::new("lone_cr");
    let run = strata(tmp.path(), &db, &["--dir", "migrations", "up"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("division by zero"), "{}", run.stderr);
    assert!(run.stderr.contains("001_cr.sql:1:"), "{}", run.stderr);
}

/// The registry's one-row history summary, computed by PostgreSQL, equals the digest strata
/// computes from the files, so `up` plans from it without reading the rows; any edit, a
/// respelled key or a part-way row makes the two differ (and `up` reads the rows).
#[test]
fn history_summary_digest_matches_the_files() {
    use strata_plan::{plan_from_summary, Policy, Target};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    for i in 1..=12 {
        write(
            &dir,
            &format!("{i:03}_t{i}.up.sql"),
            &format!("CREATE TABLE t{i} (id int, note text DEFAULT 'é\r\n');\r\n"),
        );
        write(
            &dir,
            &format!("{i:03}_t{i}.down.sql"),
            &format!("DROP TABLE t{i};\n"),
        );
    }
    let db = TestDatabase::new("summary");
    strata(
        tmp.path(),
        &db,
        &["--dir", "migrations", "--set", "s", "up", "--to", "9"],
    )
    .ok();
    let set = load(&dir);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let none = |_: &str| None;
    let info = strata_pg::ConnInfo::resolve(Some(&db.url()), &none).unwrap();
    let registry = strata_pg::Registry::new("strata");
    let summary = || {
        runtime.block_on(async {
            let session = strata_pg::Session::connect(&info).await.unwrap();
            registry.summary(&session, "s").await
        })
    };
    let up = Target::Up {
        to: None,
        steps: None,
    };
    let policy = Policy::default();

    let s = summary().expect("the server computes the summary");
    assert_eq!((s.rows, s.irregular), (9, 0));
    let plan = plan_from_summary(&set.migrations, &s, &up, &policy)
        .expect("nine applied files, unchanged: planned from the summary")
        .unwrap();
    let keys: Vec<_> = plan
        .steps
        .iter()
        .map(|step| match step {
            strata_plan::Step::Apply { key, .. } => key.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(keys, ["010", "011", "012"]);

    // A key spelled differently from the file's (`5` for `005`) is matched by the planner,
    // not by the summary.
    db.psql("UPDATE strata.migrations SET key = '5' WHERE key = '005'")
        .unwrap();
    assert!(plan_from_summary(&set.migrations, &summary().unwrap(), &up, &policy).is_none());
    db.psql("UPDATE strata.migrations SET key = '005' WHERE key = '5'")
        .unwrap();
    db.psql("UPDATE strata.migrations SET state = 'partial' WHERE key = '009'")
        .unwrap();
    let s = summary().unwrap();
    assert_eq!(s.irregular, 1);
    assert!(plan_from_summary(&set.migrations, &s, &up, &policy).is_none());
    db.psql("UPDATE strata.migrations SET state = 'complete' WHERE key = '009'")
        .unwrap();

    // An applied file edited since: no summary plan, and `up` refuses as before.
    write(&dir, "003_t3.up.sql", "CREATE TABLE t3 (id bigint);\n");
    let edited = load(&dir);
    assert!(plan_from_summary(&edited.migrations, &summary().unwrap(), &up, &policy).is_none());
    let run = strata(
        tmp.path(),
        &db,
        &["--dir", "migrations", "--set", "s", "up"],
    );
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("migration 003 was applied with checksum"),
        "{}",
        run.stderr
    );

    // No registry at all: an empty history.
    let fresh = TestDatabase::new("summary_fresh");
    let info = strata_pg::ConnInfo::resolve(Some(&fresh.url()), &none).unwrap();
    let empty = runtime.block_on(async {
        let session = strata_pg::Session::connect(&info).await.unwrap();
        registry.summary(&session, "s").await
    });
    assert_eq!(empty, Some(strata_plan::HistorySummary::default()));
}

/// Files load while strata connects, but a problem in the files is what gets reported, even
/// when the database cannot be reached (it is the first thing to fix and needs no database).
#[test]
fn file_problems_are_reported_before_connection_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(&dir, "001_a.up.sql", "CREATE TABLE a (id int);\n");
    write(&dir, "001_a.down.sql", "DROP TABLE a;\n");
    write(&dir, "002_b.up.sq", "CREATE TABLE b (id int);\n");
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let url = format!("postgres://nobody@127.0.0.1:{port}/none?sslmode=disable&connect_timeout=5");
    for verb in ["up", "status"] {
        let run = strata_raw(
            tmp.path(),
            &["--database-url", &url, "--dir", "migrations", verb],
        );
        assert_eq!(run.code, 2, "{verb}: {}\n{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains("002_b.up.sq") && run.stderr.contains("cannot parse"),
            "{verb}: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("connect"), "{verb}: {}", run.stderr);
    }
}

/// The set snapshot end to end: once the directory has settled, later runs rebuild the set
/// from `.strata/cache` without listing it, and still see every change: an edited applied
/// migration is refused, a new one is applied, a removed one is reported.
#[test]
fn set_snapshot_still_sees_every_change() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    for i in 1..=5 {
        write(
            &dir,
            &format!("{i:03}_t{i}.up.sql"),
            &format!("CREATE TABLE t{i} (id int);\n"),
        );
        write(
            &dir,
            &format!("{i:03}_t{i}.down.sql"),
            &format!("DROP TABLE t{i};\n"),
        );
    }
    let db = TestDatabase::new("setsnap");
    let up = || {
        strata(
            tmp.path(),
            &db,
            &["--dir", "migrations", "--set", "s", "up"],
        )
    };
    up().ok();
    // Files and directories changed within the racy margin are never cached: wait it out.
    std::thread::sleep(strata_source::RACY_MARGIN + std::time::Duration::from_millis(300));
    let snapshot_written = || {
        std::fs::read_dir(tmp.path().join(".strata/cache"))
            .unwrap()
            .any(|e| e.unwrap().file_name().to_string_lossy().starts_with("set-"))
    };
    up().ok(); // reads and caches every file
    up().ok(); // every file a cache hit: the snapshot is written (after the sets were handed
               // over, by the loading thread, which the run waits for before it exits)
    assert!(snapshot_written());
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path().join(".strata/cache"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let run = up().ok();
    assert!(run.stdout.contains("nothing to do"), "{}", run.stdout);
    // The directory changed but nothing is pending: the lock taken on that guess while the
    // files loaded is released, and the run still has nothing to do.
    write(&dir, "NOTES.md", "not a migration\n");
    let run = up().ok();
    assert!(run.stdout.contains("nothing to do"), "{}", run.stdout);
    std::fs::remove_file(dir.join("NOTES.md")).unwrap();
    let status = strata(
        tmp.path(),
        &db,
        &["--dir", "migrations", "--set", "s", "status", "--json"],
    )
    .ok();
    assert_eq!(
        status.json()["sets"][0]["migrations"]
            .as_array()
            .unwrap()
            .len(),
        5
    );

    // An applied migration edited in place (same size): refused, nothing run.
    write(&dir, "003_t3.up.sql", "CREATE TABLE x3 (id int);\n");
    let run = up();
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("003"), "{}", run.stderr);
    write(&dir, "003_t3.up.sql", "CREATE TABLE t3 (id int);\n");

    // A new migration: applied.
    write(&dir, "006_t6.up.sql", "CREATE TABLE t6 (id int);\n");
    let run = up().ok();
    assert!(run.stdout.contains("006"), "{}", run.stdout);
    // A removed applied migration: reported by status.
    std::fs::remove_file(dir.join("002_t2.up.sql")).unwrap();
    std::fs::remove_file(dir.join("002_t2.down.sql")).unwrap();
    let status = strata(
        tmp.path(),
        &db,
        &["--dir", "migrations", "--set", "s", "status", "--json"],
    );
    assert!(status.stdout.contains("missing"), "{}", status.stdout);
}
