//! The fault suite: concurrency, crashes, server faults, bad input and security, against real
//! PostgreSQL. Trial counts come from the environment so CI runs a short version and
//! `scripts/faults.sh` the full one (see RELIABILITY.md); every test prints a `fault-summary:`
//! line with what it measured.

mod common;

use common::*;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn trials(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small deterministic generator (xorshift), so trials differ without a dependency.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        Rng(seed | 1)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// `count` migrations; each inserts its number into `log` so duplicates and gaps show. Every
/// `every_nontx`-th one runs outside a transaction with a CREATE INDEX CONCURRENTLY.
fn generate(dir: &Path, count: usize, every_nontx: usize) {
    write(dir, "0001_log.sql", "CREATE TABLE log (n int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());\nINSERT INTO log (n) VALUES (1);\n");
    for i in 2..=count {
        let sql = if every_nontx > 0 && i % every_nontx == 0 {
            format!(
                "-- strata:no-transaction\nCREATE TABLE t{i} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, payload jsonb, created_at timestamptz DEFAULT now());\nINSERT INTO t{i} (payload) SELECT jsonb_build_object('g', g) FROM generate_series(1, 200) g;\nCREATE INDEX CONCURRENTLY t{i}_payload ON t{i} USING gin (payload);\nINSERT INTO log (n) VALUES ({i});\n"
            )
        } else {
            format!(
                "CREATE TABLE t{i} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, parent bigint, note text NOT NULL DEFAULT '');\nCREATE INDEX t{i}_parent ON t{i} (parent);\nINSERT INTO log (n) VALUES ({i});\n"
            )
        };
        write(dir, &format!("{i:04}_step.sql"), &sql);
    }
}

fn exactly_once(db: &TestDatabase, count: usize) {
    let log = db
        .psql("SELECT count(*), count(DISTINCT n), min(n), max(n) FROM log")
        .unwrap();
    assert_eq!(
        log.trim(),
        format!("{count}|{count}|1|{count}"),
        "every migration's effect exactly once"
    );
    let registry = db
        .psql("SELECT count(*), count(*) FILTER (WHERE state = 'complete') FROM strata.migrations")
        .unwrap();
    assert_eq!(
        registry.trim(),
        format!("{count}|{count}"),
        "one complete history row per migration"
    );
}

/// 16 `strata up` processes at once, repeatedly: each migration applied exactly once, and no
/// process fails.
#[test]
fn concurrency_sixteen_processes() {
    let trials = trials("STRATA_FAULT_CONCURRENCY_TRIALS", 2);
    let tmp = tempfile::tempdir().unwrap();
    generate(&tmp.path().join("migrations"), 100, 0);
    let started = Instant::now();
    let mut applied_by_one = 0;
    for trial in 0..trials {
        let db = TestDatabase::new("conc");
        let url = db.url();
        let children: Vec<Child> = (0..16)
            .map(|_| {
                strata_cmd(tmp.path())
                    .args([
                        "--database-url",
                        &url,
                        "--dir",
                        "migrations",
                        "--lock-wait",
                        "120s",
                        "up",
                    ])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut appliers = 0;
        for child in children {
            let out = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "trial {trial}: a process failed:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            if stdout.contains("applied ") {
                appliers += 1;
            } else {
                assert!(stdout.contains("nothing to do"), "trial {trial}: {stdout}");
            }
        }
        exactly_once(&db, 100);
        assert_eq!(
            db.psql("SELECT count(*) FROM strata.events WHERE kind = 'apply'")
                .unwrap()
                .trim(),
            "100"
        );
        if appliers == 1 {
            applied_by_one += 1;
        }
    }
    eprintln!(
        "fault-summary: concurrency trials={trials} processes=16 migrations=100 passed={trials} single_applier_trials={applied_by_one} seconds={:.1}",
        started.elapsed().as_secs_f64()
    );
}

fn kill9(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

/// SIGKILL strata at a random moment of a 200-migration run (transactional and
/// non-transactional mixed), then run it again: the schema equals the reference, nothing was
/// applied twice or skipped.
#[test]
fn crash_at_random_moments() {
    let trials = trials("STRATA_FAULT_CRASH_TRIALS", 4);
    let tmp = tempfile::tempdir().unwrap();
    generate(&tmp.path().join("migrations"), 200, 10);
    let reference = TestDatabase::new("crash_ref");
    let t0 = Instant::now();
    strata(
        tmp.path(),
        &reference,
        &["--dir", "migrations", "up", "--quiet"],
    )
    .ok();
    let full_run = t0.elapsed();
    let expected = snapshot(&reference);
    let mut rng = Rng::new();
    let mut killed_mid_run = 0;
    let mut resumed_partial = 0;
    let mut reruns_total = 0;
    for trial in 0..trials {
        let db = TestDatabase::new("crash");
        let mut child = strata_cmd(tmp.path())
            .args([
                "--database-url",
                &db.url(),
                "--dir",
                "migrations",
                "up",
                "--quiet",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let delay = Duration::from_millis(rng.below(full_run.as_millis() as u64 + 50));
        std::thread::sleep(delay);
        let finished = child.try_wait().unwrap().is_some();
        kill9(&mut child);
        if !finished {
            killed_mid_run += 1;
        }
        let partial_before = db
            .psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'strata' AND tablename = 'migrations'")
            .unwrap()
            .trim()
            == "1"
            && db.psql("SELECT count(*) FROM strata.migrations WHERE state = 'partial'").unwrap().trim() != "0";
        if partial_before {
            resumed_partial += 1;
        }
        let mut reruns = 0;
        loop {
            reruns += 1;
            let run = strata(
                tmp.path(),
                &db,
                &["--dir", "migrations", "up", "--quiet", "--lock-wait", "30s"],
            );
            if run.code == 0 {
                break;
            }
            assert!(
                reruns < 4,
                "trial {trial} (killed after {delay:?}): rerun {reruns} failed:\n{}\n{}",
                run.stdout,
                run.stderr
            );
        }
        reruns_total += reruns;
        assert_eq!(
            snapshot(&db),
            expected,
            "trial {trial} (killed after {delay:?}): schema differs from the reference"
        );
        exactly_once(&db, 200);
    }
    eprintln!(
        "fault-summary: crash trials={trials} migrations=200 killed_mid_run={killed_mid_run} left_partial={resumed_partial} reruns={reruns_total} passed={trials} full_run_ms={}",
        full_run.as_millis()
    );
}

fn slow_set(dir: &Path, count: usize) {
    write(
        dir,
        "001_log.sql",
        "CREATE TABLE log (n int NOT NULL);\nINSERT INTO log VALUES (1);\n",
    );
    for i in 2..=count {
        write(dir, &format!("{i:03}_slow.sql"), &format!("SELECT pg_sleep(0.05);\nCREATE TABLE s{i} (id int);\nINSERT INTO log VALUES ({i});\n"));
    }
}

/// The backend strata is using is terminated mid-run: a clear error, `status` says what
/// happened, and a rerun converges.
#[test]
fn server_terminates_strata_backend() {
    let tmp = tempfile::tempdir().unwrap();
    slow_set(&tmp.path().join("migrations"), 40);
    let db = TestDatabase::new("terminate");
    let child = strata_cmd(tmp.path())
        .args(["--database-url", &db.url(), "--dir", "migrations", "up"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(
        &db,
        "progress",
        "SELECT count(*) FROM pg_tables WHERE tablename = 's5'",
    );
    db.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'strata' AND pid <> pg_backend_pid()").unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("terminating connection") || stderr.contains("connection"),
        "{stderr}"
    );
    assert!(
        stderr.contains("strata status") || stderr.contains("rolled back"),
        "the error must say what to do next:\n{stderr}"
    );
    let status = strata(tmp.path(), &db, &["--dir", "migrations", "status"]).ok();
    assert!(status.stdout.contains("pending"), "{}", status.stdout);
    strata(tmp.path(), &db, &["--dir", "migrations", "up"]).ok();
    let log = db
        .psql("SELECT count(*), count(DISTINCT n) FROM log")
        .unwrap();
    assert_eq!(log.trim(), "40|40");
    eprintln!("fault-summary: terminate_backend trials=1 passed=1");
}

/// PostgreSQL restarts (fast shutdown) in the middle of a run: a clear error, and a rerun
/// converges with every migration applied exactly once.
#[test]
fn server_restarts_mid_run() {
    let cluster =
        strata_ephemeral::TempCluster::start(strata_ephemeral::ClusterOptions::default()).unwrap();
    cluster.create_database("restart", None).unwrap();
    let url = cluster.url("restart");
    let tmp = tempfile::tempdir().unwrap();
    slow_set(&tmp.path().join("migrations"), 40);
    let child = strata_cmd(tmp.path())
        .args(["--database-url", &url, "--dir", "migrations", "up"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while cluster
        .psql(
            "restart",
            "SELECT count(*) FROM pg_tables WHERE tablename = 's5'",
        )
        .unwrap()
        .trim()
        == "0"
    {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    cluster.stop().unwrap();
    let out = child.wait_with_output().unwrap();
    cluster.start().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("strata status")
            || stderr.contains("run the command again")
            || stderr.contains("rolled back"),
        "{stderr}"
    );
    let rerun = strata_cmd(tmp.path())
        .args(["--database-url", &url, "--dir", "migrations", "up"])
        .output()
        .unwrap();
    assert!(
        rerun.status.success(),
        "{}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    let log = cluster
        .psql("restart", "SELECT count(*), count(DISTINCT n) FROM log")
        .unwrap();
    assert_eq!(log.trim(), "40|40");
    eprintln!("fault-summary: server_restart trials=1 passed=1");
}

/// Broken migration sets: each refused with a clear error naming the file (and line), exit 2,
/// and the database's schema untouched.
#[test]
fn bad_input_corpus() {
    struct Case {
        name: &'static str,
        files: Vec<(&'static str, Vec<u8>)>,
        verb: &'static str,
        expect: Vec<&'static str>,
    }
    let huge: String = (0..40_000)
        .map(|i| format!("INSERT INTO big VALUES ({i}, 'row {i} with some padding text');\n"))
        .collect();
    let cases = vec![
        Case { name: "syntax error", files: vec![("001_a.sql", b"CREATE TABLE a (id int);\nCREATE TABLE b (id int,, x int);\n".to_vec())], verb: "up", expect: vec!["001_a.sql:2:24", "syntax error"] },
        Case {
            name: "unterminated dollar quote",
            files: vec![("001_f.sql", b"CREATE TABLE a (id int);\nCREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1;\n".to_vec())],
            verb: "up",
            expect: vec!["001_f.sql:2:", "unterminated dollar-quoted string"],
        },
        Case { name: "BEGIN without COMMIT", files: vec![("001_b.sql", b"CREATE TABLE a (id int);\nBEGIN;\nCREATE TABLE b (id int);\n".to_vec())], verb: "up", expect: vec!["001_b.sql:2:1", "never commits"] },
        Case { name: "non-UTF-8 bytes", files: vec![("001_u.sql", b"CREATE TABLE a (id int);\n-- caf\xe9\n".to_vec())], verb: "up", expect: vec!["001_u.sql", "not valid UTF-8 at line 2"] },
        Case { name: "duplicate versions", files: vec![("001_a.sql", b"SELECT 1;".to_vec()), ("1_b.sql", b"SELECT 2;".to_vec())], verb: "up", expect: vec!["001_a.sql", "1_b.sql", "duplicate version"] },
        Case { name: "template left by strata new", files: vec![("001_e.sql", strata_source::UP_TEMPLATE.as_bytes().to_vec())], verb: "up", expect: vec!["001_e.sql", "still the template"] },
        Case { name: "missing down", files: vec![("001_a.sql", b"CREATE TABLE a (id int);\n".to_vec())], verb: "down", expect: vec!["001", "has no down script"] },
        Case { name: "unknown directive", files: vec![("001_a.sql", b"-- strata:no-transactoin\nSELECT 1;\n".to_vec())], verb: "up", expect: vec!["001_a.sql", "unknown directive", "did you mean"] },
        Case { name: "name starting like a migration", files: vec![("001_a.sql", b"SELECT 1;".to_vec()), ("002add.sql", b"SELECT 2;".to_vec())], verb: "up", expect: vec!["002add.sql", "cannot parse"] },
    ];
    let mut passed = 0;
    for case in &cases {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("migrations");
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in &case.files {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        let db = TestDatabase::new("bad");
        let before = snapshot(&db);
        if case.verb == "down" {
            strata(tmp.path(), &db, &["--dir", "migrations", "up"]).ok();
        }
        let after_setup = snapshot(&db);
        let run = strata(tmp.path(), &db, &["--dir", "migrations", case.verb]);
        assert_eq!(run.code, 2, "{}: exit code\n{}", case.name, run.stderr);
        for e in &case.expect {
            assert!(
                run.stderr.contains(e),
                "{}: error lacks {e:?}:\n{}",
                case.name,
                run.stderr
            );
        }
        assert!(
            run.stderr.contains("help:") || run.stderr.contains("; "),
            "{}: no advice:\n{}",
            case.name,
            run.stderr
        );
        assert_eq!(
            snapshot(&db),
            after_setup,
            "{}: the database changed",
            case.name
        );
        let _ = before;
        passed += 1;
    }
    // Large and oddly named files are not errors: they apply.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(
        &dir,
        "001_big table.sql",
        "CREATE TABLE big (id int, note text);\n",
    );
    write(&dir, "002_café & \"co\".sql", &huge);
    let db = TestDatabase::new("huge");
    let t0 = Instant::now();
    strata(tmp.path(), &db, &["--dir", "migrations", "up"]).ok();
    assert_eq!(db.psql("SELECT count(*) FROM big").unwrap().trim(), "40000");
    eprintln!(
        "fault-summary: bad_input cases={} passed={passed} huge_file_bytes={} huge_file_ms={}",
        cases.len(),
        huge.len(),
        t0.elapsed().as_millis()
    );
}

/// No password reaches any output, log line, error or JSON document, or the registry.
#[test]
fn sentinel_password_never_appears() {
    const SENTINEL: &str = "Sentinel-9f3c2a-pass";
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(&dir, "001_a.up.sql", "CREATE TABLE a (id int);\n");
    write(&dir, "001_a.down.sql", "DROP TABLE a;\n");
    write(&dir, "002_bad.up.sql", "CREATE TABLE b (id int,, x int);\n");
    write(&dir, "002_bad.down.sql", "DROP TABLE b;\n");
    let db = TestDatabase::new("sentinel");
    // Trust authentication ignores the password, so the URL works while carrying it.
    let url = db.url().replacen(
        "postgresql://postgres@",
        &format!("postgresql://postgres:{SENTINEL}@"),
        1,
    );
    assert!(url.contains(SENTINEL));
    let bad_port = format!("postgres://postgres:{SENTINEL}@127.0.0.1:1/x");
    let kv = format!("host=127.0.0.1 port=1 user=postgres password='{SENTINEL}' dbname=x");
    let mut outputs = Vec::new();
    let runs: Vec<Vec<&str>> = vec![
        vec!["--database-url", &url, "--dir", "migrations", "up"],
        vec![
            "--database-url",
            &url,
            "--dir",
            "migrations",
            "--json",
            "up",
        ],
        vec![
            "--database-url",
            &url,
            "--dir",
            "migrations",
            "--json",
            "status",
        ],
        vec!["--database-url", &url, "--dir", "migrations", "validate"],
        vec![
            "--database-url",
            &url,
            "--dir",
            "migrations",
            "up",
            "--dry-run",
            "--json",
        ],
        vec!["--database-url", &url, "--dir", "migrations", "down"],
        vec!["--database-url", &bad_port, "--dir", "migrations", "status"],
        vec![
            "--database-url",
            &bad_port,
            "--dir",
            "migrations",
            "--json",
            "up",
        ],
        vec!["--database-url", &kv, "--dir", "migrations", "status"],
        vec![
            "--database-url",
            "postgres://u:Sentinel-9f3c2a-pass@h:notaport/x",
            "--dir",
            "migrations",
            "status",
        ],
    ];
    for args in &runs {
        let out = strata_cmd(tmp.path()).args(args).output().unwrap();
        outputs.push(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    // Environment variables too.
    let out = strata_cmd(tmp.path())
        .env("DATABASE_URL", &bad_port)
        .args(["--dir", "migrations", "status"])
        .output()
        .unwrap();
    outputs.push(format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ));
    let out = strata_cmd(tmp.path())
        .env("PGPASSWORD", SENTINEL)
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", "1")
        .args(["--dir", "migrations", "status"])
        .output()
        .unwrap();
    outputs.push(format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ));
    for (i, o) in outputs.iter().enumerate() {
        assert!(
            !o.contains(SENTINEL) && !o.contains("9f3c2a"),
            "run {i} leaked the password:\n{o}"
        );
    }
    let registry = db
        .psql("SELECT count(*) FROM strata.events WHERE details::text LIKE '%9f3c2a%'")
        .unwrap();
    assert_eq!(registry.trim(), "0");
    let server_log = std::fs::read_to_string(db.cluster().log_file()).unwrap_or_default();
    assert!(
        !server_log.contains(SENTINEL),
        "the server log holds the password"
    );
    eprintln!("fault-summary: sentinel runs={} leaks=0", outputs.len());
}

/// Hostile identifiers are quoted, never executed; values are bound.
#[test]
fn hostile_identifiers_are_quoted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(&dir, "001_a.sql", "CREATE TABLE keep (id int);\n");
    let db = TestDatabase::new("hostile");
    let schema = "a\"; DROP TABLE keep; --";
    let set = "set'); DROP TABLE keep; --";
    strata(
        tmp.path(),
        &db,
        &[
            "--dir",
            "migrations",
            "--registry-schema",
            schema,
            "--set",
            set,
            "up",
        ],
    )
    .ok();
    strata(
        tmp.path(),
        &db,
        &[
            "--dir",
            "migrations",
            "--registry-schema",
            schema,
            "--set",
            set,
            "status",
            "--check",
        ],
    )
    .ok();
    assert_eq!(
        db.psql("SELECT to_regclass('public.keep') IS NOT NULL")
            .unwrap()
            .trim(),
        "t"
    );
    let quoted = strata_model::quote_ident(schema);
    let rows = db
        .psql(&format!("SELECT set_name FROM {quoted}.migrations"))
        .unwrap();
    assert_eq!(rows.trim(), set);
    eprintln!("fault-summary: hostile_identifiers passed=1");
}

/// A role that owns only its schemas, without superuser or CREATE on the database, can run
/// strata once an administrator created the registry schema for it.
#[test]
fn works_for_a_role_that_owns_only_its_schema() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(
        &dir,
        "001_a.up.sql",
        "CREATE TABLE app.items (id int PRIMARY KEY);\n",
    );
    write(&dir, "001_a.down.sql", "DROP TABLE app.items;\n");
    write(
        &dir,
        "002_b.up.sql",
        "CREATE INDEX CONCURRENTLY items_id ON app.items (id);\n",
    );
    write(
        &dir,
        "002_b.down.sql",
        "DROP INDEX CONCURRENTLY app.items_id;\n",
    );
    let db = TestDatabase::new("role");
    let role = format!("app_{}", db.name());
    db.psql(&format!(
        "CREATE ROLE \"{role}\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE; REVOKE CREATE ON DATABASE \"{db}\" FROM PUBLIC; \
         CREATE SCHEMA app AUTHORIZATION \"{role}\"; CREATE SCHEMA strata AUTHORIZATION \"{role}\";",
        db = db.name()
    ))
    .unwrap();
    let url = db.url().replacen(
        "postgresql://postgres@",
        &format!("postgresql://{role}@"),
        1,
    );
    let run = |args: &[&str]| {
        let out = strata_cmd(tmp.path())
            .args(["--database-url", &url, "--dir", "migrations"])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (code, out) = run(&["up"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = run(&["status", "--check"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = run(&["down", "--all"]);
    assert_eq!(code, 0, "{out}");
    db.psql(&format!(
        "DROP SCHEMA app CASCADE; DROP SCHEMA strata CASCADE; DROP ROLE \"{role}\""
    ))
    .unwrap();
    eprintln!("fault-summary: unprivileged_role passed=1");
}
