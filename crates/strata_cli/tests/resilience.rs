//! Failure handling end to end: lock contention with retries and blocker reports, signals
//! during a run, and the INVALID index a failed `CREATE INDEX CONCURRENTLY` leaves behind.

mod common;

use common::*;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A psql session that holds a lock until told to commit.
struct Blocker {
    child: Child,
}

impl Blocker {
    fn start(db: &TestDatabase, sql: &str) -> Blocker {
        let psql = db.cluster().binaries().tool("psql");
        let mut child = Command::new(psql)
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", &db.url()])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        writeln!(
            child.stdin.as_mut().unwrap(),
            "SET application_name = 'test-blocker';\nBEGIN;\n{sql}"
        )
        .unwrap();
        child.stdin.as_mut().unwrap().flush().unwrap();
        Blocker { child }
    }

    fn release(mut self) {
        writeln!(self.child.stdin.as_mut().unwrap(), "COMMIT;\n\\q").unwrap();
        let _ = self.child.wait();
    }
}

impl Drop for Blocker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A long transaction holds a lock the migration needs: strata reports who, retries with
/// backoff and succeeds once the blocker ends.
#[test]
fn lock_contention_is_reported_retried_and_survived() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(&dir, "1_t.sql", "CREATE TABLE t (id int);\n");
    write(&dir, "2_alter.sql", "ALTER TABLE t ADD COLUMN note text;\n");
    let db = TestDatabase::new("contention");
    strata(tmp.path(), &db, &["--dir", "migrations", "up", "--to", "1"]).ok();
    let blocker = Blocker::start(&db, "SELECT count(*) FROM t;");
    wait_for(&db, "the blocker's lock", "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 't' AND l.granted");
    let mut run = strata_cmd(tmp.path())
        .args([
            "--database-url",
            &db.url(),
            "--dir",
            "migrations",
            "--lock-timeout",
            "1500ms",
            "--lock-retries",
            "10",
            "--retry-delay",
            "100ms",
            "up",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Let strata hit lock_timeout at least once, then end the blocking transaction.
    wait_for(
        &db,
        "a failed attempt",
        "SELECT count(*) FROM strata.events WHERE kind = 'fail'",
    );
    blocker.release();
    let out = run_output(&mut run);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("is waiting for locks held by") && out.stdout.contains("test-blocker"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("lock_timeout reached (blocked by pid")
            && out.stdout.contains("retry 1 of 10"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("applied 2"), "{}", out.stdout);
    assert_eq!(db.psql("SELECT count(*) FROM information_schema.columns WHERE table_name = 't' AND column_name = 'note'").unwrap().trim(), "1");
}

/// With the blocker never ending, strata gives up after its budget, leaves the database as it
/// was, and names the blocker.
#[test]
fn lock_contention_gives_up_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(&dir, "1_t.sql", "CREATE TABLE t (id int);\n");
    write(
        &dir,
        "2_alter.sql",
        "ALTER TABLE t ADD COLUMN note text;\nCREATE TABLE other (id int);\n",
    );
    let db = TestDatabase::new("giveup");
    strata(tmp.path(), &db, &["--dir", "migrations", "up", "--to", "1"]).ok();
    let blocker = Blocker::start(&db, "SELECT count(*) FROM t;");
    wait_for(&db, "the blocker's lock", "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 't' AND l.granted");
    let run = strata(
        tmp.path(),
        &db,
        &[
            "--dir",
            "migrations",
            "--lock-timeout",
            "1200ms",
            "--lock-retries",
            "1",
            "--retry-delay",
            "50ms",
            "up",
        ],
    );
    drop(blocker);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("55P03") && run.stderr.contains("gave up after 2 attempt(s)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("blocked by pid") && run.stderr.contains("test-blocker"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("exactly as before"), "{}", run.stderr);
    assert_eq!(
        db.psql("SELECT to_regclass('other') IS NULL")
            .unwrap()
            .trim(),
        "t"
    );
    let doc = strata(
        tmp.path(),
        &db,
        &["--dir", "migrations", "--json", "status"],
    )
    .ok()
    .json();
    assert_eq!(doc["sets"][0]["migrations"][1]["state"], "failed");
}

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run_output(child: &mut Child) -> Output {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stdout = String::new();
            let mut stderr = String::new();
            use std::io::Read;
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut stdout)
                .unwrap();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            return Output {
                code: status.code().unwrap_or(-1),
                stdout,
                stderr,
            };
        }
        assert!(Instant::now() < deadline, "strata did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn terminate(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// SIGTERM during a transactional migration: the statement is cancelled on the server, the
/// transaction rolls back, the lock is released, exit 2, and the state is stated.
#[test]
fn sigterm_cancels_rolls_back_and_releases_the_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(
        &dir,
        "1_slow.sql",
        "CREATE TABLE half (id int);\nSELECT pg_sleep(60);\n",
    );
    let db = TestDatabase::new("sigterm");
    let mut run = strata_cmd(tmp.path())
        .args(["--database-url", &db.url(), "--dir", "migrations", "up"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&db, "the sleeping statement", "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep(60)%' AND state = 'active'");
    let sent = Instant::now();
    terminate(&run);
    let out = run_output(&mut run);
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "strata took {:?} to stop",
        sent.elapsed()
    );
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("interrupted") && out.stderr.contains("rolled back"),
        "{}",
        out.stderr
    );
    assert_eq!(
        db.psql("SELECT to_regclass('half') IS NULL")
            .unwrap()
            .trim(),
        "t",
        "the transaction must roll back"
    );
    assert_eq!(
        db.psql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
            .unwrap()
            .trim(),
        "0",
        "the lock must be released: {}\n{}",
        db.psql("SELECT l.pid, l.granted, a.application_name, a.state, a.query FROM pg_locks l LEFT JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory'").unwrap(),
        out.stderr
    );
    assert_eq!(db.psql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep(60)%' AND state = 'active'").unwrap().trim(), "0");
}

/// SIGTERM during a non-transactional migration: completed statements stay recorded, the
/// migration is partial, and `up` resumes after the last completed statement.
#[test]
fn sigterm_in_a_non_transactional_migration_leaves_a_resumable_record() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(&dir, "1_t.sql", "CREATE TABLE t (id int);\n");
    write(
        &dir,
        "2_steps.sql",
        "-- strata:no-transaction\nCREATE TABLE a (id int);\nSELECT pg_sleep(60) WHERE NOT EXISTS (SELECT 1 FROM t);\nCREATE INDEX CONCURRENTLY t_id ON t (id);\n",
    );
    let db = TestDatabase::new("sigterm_nt");
    strata(tmp.path(), &db, &["--dir", "migrations", "up", "--to", "1"]).ok();
    db.psql("INSERT INTO t VALUES (1)").unwrap();
    // With a row in t the sleep is skipped; remove it so that the first run sleeps.
    db.psql("DELETE FROM t").unwrap();
    let mut run = strata_cmd(tmp.path())
        .args(["--database-url", &db.url(), "--dir", "migrations", "up"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&db, "the sleeping statement", "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep(60)%' AND state = 'active'");
    terminate(&run);
    let out = run_output(&mut run);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("1 of 3 statement(s) completed"),
        "{}",
        out.stderr
    );
    let doc = strata(
        tmp.path(),
        &db,
        &["--dir", "migrations", "--json", "status"],
    )
    .ok()
    .json();
    assert_eq!(doc["sets"][0]["migrations"][1]["state"], "partial");
    // Now the sleep is skipped (t has a row) and the run resumes at statement 2.
    db.psql("INSERT INTO t VALUES (1)").unwrap();
    let run = strata(tmp.path(), &db, &["--dir", "migrations", "up"]).ok();
    assert!(run.stdout.contains("resumed 2"), "{}", run.stdout);
    assert_eq!(
        db.psql("SELECT count(*) FROM pg_class WHERE relname IN ('a', 't_id')")
            .unwrap()
            .trim(),
        "2"
    );
}

/// A failed CREATE UNIQUE INDEX CONCURRENTLY leaves an INVALID index; strata says so, and
/// the resumed run drops and rebuilds it.
#[test]
fn invalid_indexes_are_reported_and_rebuilt() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(
        &dir,
        "1_t.sql",
        "CREATE TABLE users (email text);\nINSERT INTO users VALUES ('a'), ('a'), ('b');\n",
    );
    write(
        &dir,
        "2_unique.sql",
        "CREATE UNIQUE INDEX CONCURRENTLY users_email ON users (email);\n",
    );
    let db = TestDatabase::new("invalid");
    let run = strata(tmp.path(), &db, &["--dir", "migrations", "up"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("INVALID index \"users_email\""),
        "{}",
        run.stderr
    );
    assert_eq!(
        db.psql("SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_email'::regclass")
            .unwrap()
            .trim(),
        "f"
    );
    db.psql("DELETE FROM users WHERE ctid IN (SELECT max(ctid) FROM users GROUP BY email HAVING count(*) > 1)").unwrap();
    strata(tmp.path(), &db, &["--dir", "migrations", "up"]).ok();
    assert_eq!(
        db.psql("SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_email'::regclass")
            .unwrap()
            .trim(),
        "t"
    );
    let rebuilt = db
        .psql("SELECT details->'rebuilt_invalid_indexes' FROM strata.events WHERE kind = 'resume'")
        .unwrap();
    assert!(rebuilt.contains("users_email"), "{rebuilt}");
}

/// `repair` and `accept`: the explicit ways out of a part-way or edited migration, each
/// recorded with who decided and why.
#[test]
fn repair_and_accept_record_decisions() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(&dir, "1_t.sql", "CREATE TABLE t (id int);\n");
    write(
        &dir,
        "2_idx.sql",
        "CREATE INDEX CONCURRENTLY t_a ON t (id);\nCREATE INDEX CONCURRENTLY t_b ON t (nope);\n",
    );
    let db = TestDatabase::new("repair");
    assert_eq!(
        strata(tmp.path(), &db, &["--dir", "migrations", "up"]).code,
        2
    );
    let state = |db: &TestDatabase| {
        let doc = strata(tmp.path(), db, &["--dir", "migrations", "--json", "status"])
            .ok()
            .json();
        doc["sets"][0]["migrations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["state"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(state(&db), ["applied", "partial"]);
    let no_reason = strata(
        tmp.path(),
        &db,
        &["--dir", "migrations", "repair", "2", "--mark-applied"],
    );
    assert_eq!(no_reason.code, 2);
    assert!(
        no_reason.stderr.contains("--reason"),
        "{}",
        no_reason.stderr
    );
    // The operator builds the second index by hand, then records that.
    db.psql("ALTER TABLE t ADD COLUMN nope int; CREATE INDEX t_b ON t (nope)")
        .unwrap();
    let dry = strata(
        tmp.path(),
        &db,
        &[
            "--dir",
            "migrations",
            "repair",
            "2",
            "--mark-applied",
            "--reason",
            "built t_b by hand",
            "--dry-run",
        ],
    )
    .ok();
    assert!(
        dry.stdout
            .contains("mark applied 2_idx: recorded as applied"),
        "{}",
        dry.stdout
    );
    strata(
        tmp.path(),
        &db,
        &[
            "--dir",
            "migrations",
            "repair",
            "2",
            "--mark-applied",
            "--reason",
            "built t_b by hand",
        ],
    )
    .ok();
    assert_eq!(state(&db), ["applied", "applied"]);
    let event = db.psql("SELECT details->>'decision', details->>'reason', by_os_user <> '' FROM strata.events WHERE kind = 'mark'").unwrap();
    assert_eq!(event.trim(), "applied|built t_b by hand|t");

    strata(
        tmp.path(),
        &db,
        &[
            "--dir",
            "migrations",
            "repair",
            "V2",
            "--mark-reverted",
            "--reason",
            "dropping the indexes by hand",
        ],
    )
    .ok();
    assert_eq!(state(&db), ["applied", "pending"]);
    db.psql("DROP INDEX t_a; DROP INDEX t_b").unwrap();
    let refused = strata(
        tmp.path(),
        &db,
        &[
            "--dir",
            "migrations",
            "repair",
            "2",
            "--mark-reverted",
            "--reason",
            "x",
        ],
    );
    assert_eq!(refused.code, 2);
    assert!(
        refused.stderr.contains("not recorded as applied"),
        "{}",
        refused.stderr
    );
    strata(tmp.path(), &db, &["--dir", "migrations", "up"]).ok();

    // An intentional edit of an applied file (a comment) is accepted, not silently rewritten.
    let first = dir.join("1_t.sql");
    std::fs::write(
        &first,
        "-- owner: platform team\nCREATE TABLE t (id int);\n",
    )
    .unwrap();
    assert_eq!(state(&db), ["modified", "applied"]);
    let refused = strata(
        tmp.path(),
        &db,
        &["--dir", "migrations", "accept", "2", "--reason", "x"],
    );
    assert_eq!(refused.code, 2);
    strata(
        tmp.path(),
        &db,
        &[
            "--dir",
            "migrations",
            "accept",
            "1",
            "--reason",
            "comment only",
        ],
    )
    .ok();
    assert_eq!(state(&db), ["applied", "applied"]);
    let event = db.psql("SELECT details->>'reason', details->>'old_checksum' <> details->>'new_checksum' FROM strata.events WHERE kind = 'accept'").unwrap();
    assert_eq!(event.trim(), "comment only|t");
}

/// The normal way out of a failed non-transactional migration: `status` shows which
/// statements ran and where the next one is; fix that statement in the file and `up` resumes
/// there, because the statements that already ran are unchanged (the journal's fingerprint).
#[test]
fn fix_the_failing_statement_and_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(&dir, "1_t.sql", "CREATE TABLE t (id int, email text);\n");
    write(&dir, "2_idx.sql", "-- strata:no-transaction\nCREATE INDEX CONCURRENTLY t_id ON t (id);\nCREATE INDEX CONCURRENTLY t_email ON t (emial);\nCREATE INDEX CONCURRENTLY t_both ON t (id, email);\n");
    let db = TestDatabase::new("fixresume");
    assert_eq!(
        strata(tmp.path(), &db, &["--dir", "migrations", "up"]).code,
        2
    );
    let status = strata(tmp.path(), &db, &["--dir", "migrations", "status"]).ok();
    assert!(
        status.stdout.contains("statements ran: 1..1 of 3"),
        "{}",
        status.stdout
    );
    assert!(
        status
            .stdout
            .contains("next: statement 2 (CREATE INDEX CONCURRENTLY) at ")
            && status.stdout.contains("2_idx.sql:3:1"),
        "{}",
        status.stdout
    );
    let doc = strata(
        tmp.path(),
        &db,
        &["--dir", "migrations", "--json", "status"],
    )
    .ok()
    .json();
    assert_eq!(doc["sets"][0]["migrations"][1]["statements"]["done"], 1);
    assert_eq!(
        doc["sets"][0]["migrations"][1]["statements"]["next"]["line"],
        3
    );
    // Fixing the typo in statement 2 keeps statement 1 as it ran: resume is allowed.
    write(&dir, "2_idx.sql", "-- strata:no-transaction\nCREATE INDEX CONCURRENTLY t_id ON t (id);\nCREATE INDEX CONCURRENTLY t_email ON t (email);\nCREATE INDEX CONCURRENTLY t_both ON t (id, email);\n");
    let run = strata(tmp.path(), &db, &["--dir", "migrations", "up"]).ok();
    assert!(run.stdout.contains("resumed 2"), "{}", run.stdout);
    assert_eq!(
        db.psql("SELECT count(*) FROM pg_indexes WHERE tablename = 't'")
            .unwrap()
            .trim(),
        "3"
    );
    strata(
        tmp.path(),
        &db,
        &["--dir", "migrations", "status", "--check"],
    )
    .ok();
    // Rewriting a statement that already ran is refused: the journal no longer matches.
    let db2 = TestDatabase::new("fixresume2");
    write(&dir, "2_idx.sql", "-- strata:no-transaction\nCREATE INDEX CONCURRENTLY t_id ON t (id);\nCREATE INDEX CONCURRENTLY t_email ON t (emial);\n");
    assert_eq!(
        strata(tmp.path(), &db2, &["--dir", "migrations", "up"]).code,
        2
    );
    write(&dir, "2_idx.sql", "-- strata:no-transaction\nCREATE INDEX CONCURRENTLY t_id2 ON t (id);\nCREATE INDEX CONCURRENTLY t_email ON t (email);\n");
    let refused = strata(tmp.path(), &db2, &["--dir", "migrations", "up"]);
    assert_eq!(refused.code, 2);
    assert!(
        refused.stderr.contains("file has changed since"),
        "{}",
        refused.stderr
    );
}

/// Per-migration timeouts: `-- strata:statement-timeout` cancels a slow statement of that
/// migration only, and the report says it was the timeout.
#[test]
fn per_migration_timeout_directives() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(
        &dir,
        "1_fast.sql",
        "SELECT pg_sleep(0.3);\nCREATE TABLE fast (id int);\n",
    );
    write(&dir, "2_slow.sql", "-- strata:statement-timeout 200ms\n-- strata:lock-timeout 1s\nCREATE TABLE slow (id int);\nSELECT pg_sleep(2);\n");
    let db = TestDatabase::new("directives");
    let run = strata(
        tmp.path(),
        &db,
        &["--dir", "migrations", "--statement-timeout", "10s", "up"],
    );
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("applied 1"),
        "the run's own timeout applies to other migrations:\n{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("57014") && run.stderr.contains("cancelled by statement_timeout"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("2_slow.sql:4:1"), "{}", run.stderr);
    assert_eq!(
        db.psql("SELECT to_regclass('slow') IS NULL")
            .unwrap()
            .trim(),
        "t"
    );
    let bad = tmp.path().join("bad");
    write(&bad, "1_x.sql", "-- strata:lock-timeout soon\nSELECT 1;\n");
    let run = strata(tmp.path(), &db, &["--dir", "bad", "status"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("1_x.sql") && run.stderr.contains("not a duration"),
        "{}",
        run.stderr
    );
}
