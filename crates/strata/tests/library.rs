//! The library against real PostgreSQL: each test has its own database on a throwaway cluster
//! and checks what the database holds afterwards, not only what the call returned.

use std::path::Path;
use strata::{Database, Error, Migrations, Migrator, State};
use strata_ephemeral::TestDatabase;

fn write(dir: &Path, name: &str, sql: &str) {
    std::fs::write(dir.join(name), sql).unwrap();
}

fn database(db: &TestDatabase) -> Database {
    Database::from_url(&db.url()).unwrap()
}

/// One value from the test database, through psql.
fn query(db: &TestDatabase, sql: &str) -> String {
    db.cluster()
        .cluster()
        .psql(db.name(), sql)
        .unwrap()
        .trim()
        .to_owned()
}

#[tokio::test]
async fn migrate_applies_pending_migrations_once_and_status_shows_them_applied() {
    let db = TestDatabase::new("lib_migrate");
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "001_users.up.sql",
        "CREATE TABLE users (id int);",
    );
    write(dir.path(), "001_users.down.sql", "DROP TABLE users;");
    write(
        dir.path(),
        "002_posts.up.sql",
        "CREATE TABLE posts (id int);",
    );
    let migrator = Migrator::new(Migrations::from_dir(dir.path()).unwrap());

    let before = migrator.status(&database(&db)).await.unwrap();
    assert_eq!(before[0].name, "default");
    assert_eq!(before[0].pending(), 2);

    let migrated = migrator.migrate(&database(&db)).await.unwrap();
    assert_eq!(migrated.applied(), 2);
    let keys: Vec<_> = migrated.sets[0]
        .steps
        .iter()
        .map(|s| (s.migration.as_str(), s.action))
        .collect();
    assert_eq!(keys, [("001", "apply"), ("002", "apply")]);
    assert_eq!(
        query(&db, "SELECT count(*) FROM users") + &query(&db, "SELECT count(*) FROM posts"),
        "00"
    );

    let again = migrator.migrate(&database(&db)).await.unwrap();
    assert_eq!(again.applied(), 0);
    assert_eq!(again.sets[0].name, "default");

    let after = migrator.status(&database(&db)).await.unwrap();
    assert_eq!(after[0].pending(), 0);
    assert!(after[0]
        .migrations
        .iter()
        .all(|m| m.state == State::Applied && m.applied_at.is_some()));
    assert_eq!(
        query(
            &db,
            "SELECT string_agg(key, ',' ORDER BY key) FROM strata.migrations"
        ),
        "001,002"
    );
}

#[tokio::test]
async fn a_failed_migration_is_located_and_leaves_the_database_as_it_was_before_it() {
    let db = TestDatabase::new("lib_failure");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "001_a.sql", "CREATE TABLE a (id int);");
    write(
        dir.path(),
        "002_b.sql",
        "CREATE TABLE b (id int);\nINSERT INTO b VALUES (1);\nINSERT INTO missing VALUES (1);\n",
    );
    let migrator = Migrator::new(Migrations::from_dir(dir.path()).unwrap());

    let e = migrator.migrate(&database(&db)).await.unwrap_err();
    let Error::MigrationFailed { set, source } = &e else {
        panic!("not a migration failure: {e}");
    };
    assert_eq!(set, "default");
    assert_eq!(source.key, "002");
    let at = source.failure.location.expect("the server said where");
    assert_eq!((at.line, at.col), (3, 13));
    let shown = e.to_string();
    assert!(shown.contains("002_b.sql:3:13"), "{shown}");
    assert!(
        shown.contains("relation \"missing\" does not exist"),
        "{shown}"
    );

    // 001 stays applied; 002 left nothing behind.
    assert_eq!(query(&db, "SELECT count(*) FROM a"), "0");
    assert_eq!(query(&db, "SELECT to_regclass('b') IS NULL"), "t");
    let status = migrator.status(&database(&db)).await.unwrap();
    let states: Vec<_> = status[0].migrations.iter().map(|m| m.state).collect();
    assert_eq!(states, [State::Applied, State::Failed]);

    // Fixed, the next run applies it (no "dirty" state to force first).
    write(
        dir.path(),
        "002_b.sql",
        "CREATE TABLE b (id int);\nINSERT INTO b VALUES (1);\n",
    );
    let fixed = Migrator::new(Migrations::from_dir(dir.path()).unwrap());
    assert_eq!(fixed.migrate(&database(&db)).await.unwrap().applied(), 1);
    assert_eq!(query(&db, "SELECT count(*) FROM b"), "1");
}

#[tokio::test]
async fn the_lint_gate_refuses_a_truncate_cascade_before_anything_runs() {
    let db = TestDatabase::new("lib_gate");
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "001_users.sql",
        "CREATE TABLE users (id int, email text);",
    );
    Migrator::new(Migrations::from_dir(dir.path()).unwrap())
        .migrate(&database(&db))
        .await
        .unwrap();
    write(dir.path(), "002_log.sql", "CREATE TABLE log (id int);");
    write(dir.path(), "003_wipe.sql", "TRUNCATE users CASCADE;");
    let migrator = Migrator::new(Migrations::from_dir(dir.path()).unwrap());

    let e = migrator.migrate(&database(&db)).await.unwrap_err();
    let Error::Refused { set, findings } = &e else {
        panic!("not refused by the gate: {e}");
    };
    assert_eq!(set, "default");
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(
        findings[0].contains("003_wipe.sql:1:1: ban-truncate-cascade"),
        "{findings:?}"
    );
    // Nothing ran, not even the harmless 002, and the lock is free again.
    assert_eq!(query(&db, "SELECT to_regclass('log') IS NULL"), "t");
    assert_eq!(
        query(
            &db,
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
             WHERE l.locktype = 'advisory' AND d.datname = current_database()"
        ),
        "0"
    );

    let unguarded = migrator
        .lint_gate(false)
        .migrate(&database(&db))
        .await
        .unwrap();
    assert_eq!(unguarded.applied(), 2);
    assert_eq!(query(&db, "SELECT to_regclass('log') IS NOT NULL"), "t");
}

#[tokio::test]
async fn two_migrators_at_once_apply_each_migration_exactly_once() {
    let db = TestDatabase::new("lib_concurrent");
    let dir = tempfile::tempdir().unwrap();
    for i in 1..=5 {
        write(
            dir.path(),
            &format!("00{i}_t{i}.sql"),
            &format!("CREATE TABLE t{i} (id int); SELECT pg_sleep(0.05);"),
        );
    }
    let migrator = Migrator::new(Migrations::from_dir(dir.path()).unwrap());
    let (first, second) = (database(&db), database(&db));
    let (a, b) = tokio::join!(migrator.migrate(&first), migrator.migrate(&second));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.applied() + b.applied(), 5, "{a:?} {b:?}");
    assert_eq!(query(&db, "SELECT count(*) FROM strata.migrations"), "5");
}

#[tokio::test]
async fn sets_keep_separate_histories_and_an_embedded_set_runs_like_its_directory() {
    let db = TestDatabase::new("lib_sets");
    let embedded = strata::embed!("../../examples/embedded/migrations");
    let from_dir = Migrations::from_dir(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/embedded/migrations"),
    )
    .unwrap();
    let keys = |m: &Migrations| -> Vec<(String, String)> {
        m.list()
            .unwrap()
            .into_iter()
            .map(|i| (i.key, i.checksum))
            .collect()
    };
    assert_eq!(keys(&embedded), keys(&from_dir));

    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "V1__audit.sql",
        "CREATE SCHEMA audit; CREATE TABLE audit.events (id int);",
    );
    let migrator = Migrator::new(embedded.named("app")).and(
        Migrations::from_dir(dir.path())
            .unwrap()
            .named("audit")
            .in_schema("audit"),
    );
    let migrated = migrator.migrate(&database(&db)).await.unwrap();
    let per_set: Vec<_> = migrated
        .sets
        .iter()
        .map(|s| (s.name.as_str(), s.steps.len()))
        .collect();
    assert_eq!(per_set, [("app", 2), ("audit", 1)]);
    assert_eq!(
        query(
            &db,
            "SELECT string_agg(set_name || ':' || key, ',' ORDER BY set_name, key) FROM strata.migrations"
        ),
        "app:001,app:002,audit:1"
    );
}

#[test]
fn a_directory_with_a_problem_is_refused_naming_the_files() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "V1__a.sql", "CREATE TABLE a (id int);");
    write(dir.path(), "V1__b.sql", "CREATE TABLE b (id int);");
    let e = Migrations::from_dir(dir.path()).unwrap_err().to_string();
    assert!(e.contains("V1__a.sql") && e.contains("V1__b.sql"), "{e}");

    let missing = Migrations::from_dir("/nonexistent/strata-migrations").unwrap_err();
    assert!(
        missing
            .to_string()
            .starts_with("cannot read the migration directory /nonexistent/strata-migrations"),
        "{missing}"
    );
}

#[test]
fn a_database_never_shows_its_password() {
    let db = Database::from_url("postgres://app:s3cret-pw@db.internal/orders").unwrap();
    assert_eq!(db.to_string(), "app@db.internal:5432/orders");
    assert!(!format!("{db:?}").contains("s3cret-pw"));
    let bad = Database::from_url("postgres://app:s3cret-pw@db.internal:notaport/orders")
        .unwrap_err()
        .to_string();
    assert!(!bad.contains("s3cret-pw"), "{bad}");
}

#[tokio::test]
async fn the_history_is_never_kept_in_public() {
    let migrator = Migrator::new(strata::embed!("../../examples/embedded/migrations"))
        .registry_schema("public");
    let db = Database::from_url("postgres://nobody@127.0.0.1:1/never").unwrap();
    let e = migrator.migrate(&db).await.unwrap_err();
    assert!(matches!(e, Error::Setting { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("registry schema `public` is not allowed"),
        "{e}"
    );
}

#[tokio::test]
async fn verify_proves_downs_on_throwaway_databases_and_names_the_one_that_does_not_restore() {
    let server = TestDatabase::new("lib_verify");
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "001_users.up.sql",
        "CREATE TABLE users (id int);",
    );
    write(dir.path(), "001_users.down.sql", "DROP TABLE users;");
    write(
        dir.path(),
        "002_email.up.sql",
        "ALTER TABLE users ADD COLUMN email text; CREATE INDEX users_email ON users (email);",
    );
    // Forgets the index... which goes with the column anyway; and leaves a table behind.
    write(
        dir.path(),
        "002_email.down.sql",
        "ALTER TABLE users DROP COLUMN email; CREATE TABLE leftover (id int);",
    );
    let verified = Migrator::new(Migrations::from_dir(dir.path()).unwrap())
        .verify(&database(&server))
        .await
        .unwrap();
    assert!(!verified.reversible());
    let checks = &verified.sets[0].checks;
    assert_eq!(
        checks.len(),
        1,
        "the checks stop at the first failure: {checks:?}"
    );
    assert_eq!(checks[0].migration, "002");
    let strata::CheckOutcome::DownDoesNotRestore(differences) = &checks[0].outcome else {
        panic!("{checks:?}");
    };
    assert!(
        differences
            .iter()
            .any(|d| d.starts_with("+ ") && d.contains("leftover")),
        "{differences:?}"
    );
    // The target database itself was never touched.
    assert_eq!(query(&server, "SELECT to_regclass('users') IS NULL"), "t");

    write(
        dir.path(),
        "002_email.down.sql",
        "ALTER TABLE users DROP COLUMN email;",
    );
    let verified = Migrator::new(Migrations::from_dir(dir.path()).unwrap())
        .verify(&database(&server))
        .await
        .unwrap();
    assert!(verified.reversible(), "{verified:?}");
    let outcomes: Vec<_> = verified.sets[0]
        .checks
        .iter()
        .map(|c| (c.migration.as_str(), c.outcome.clone()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("002", strata::CheckOutcome::Reversible),
            ("001", strata::CheckOutcome::Reversible)
        ]
    );
    // Every throwaway database is gone again.
    assert_eq!(
        query(
            &server,
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'strata_verify_%'"
        ),
        "0"
    );
}

/// An application spawns the migration on a multi-threaded runtime: the futures must be `Send`.
#[test]
fn the_calls_can_be_spawned_on_any_runtime() {
    fn spawnable<T: Send>(_: &T) {}
    let migrator = Migrator::new(strata::embed!("../../examples/embedded/migrations"));
    let db = Database::from_url("postgres://app@localhost/app").unwrap();
    spawnable(&migrator.migrate(&db));
    spawnable(&migrator.status(&db));
    spawnable(&migrator.verify(&db));
}

#[tokio::test]
async fn an_embedded_set_that_does_not_load_as_it_was_built_is_refused_before_connecting() {
    let files: &'static [(&str, &[u8])] = &[("001_a.sql", b"CREATE TABLE a (id int);")];
    let migrations = Migrations::__embedded("migrations", "plain", files, &[("001", "0000")]);
    let e = migrations.list().unwrap_err();
    assert!(matches!(e, Error::Embedded { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("was 001 (checksum 0000) when compiled"),
        "{e}"
    );
    // Nothing listens there: the refusal comes first.
    let db = Database::from_url("postgres://nobody@127.0.0.1:1/never").unwrap();
    let e = Migrator::new(migrations).migrate(&db).await.unwrap_err();
    assert!(matches!(e, Error::Embedded { .. }), "{e}");
}
