//! Contract tests of the registry against real PostgreSQL: what strata writes to its own tables,
//! and when. Each test gets its own database on the shared throwaway cluster
//! (`strata_ephemeral::TestDatabase`), which panics loudly when PostgreSQL is missing: these
//! tests fail rather than skip.

use std::path::{Path, PathBuf};
use strata_ephemeral::TestDatabase;
use strata_model::{AppliedState, Checksum, ChecksumAlgorithm, Migration};
use strata_pg::{
    execute, ConnInfo, ExecOptions, LockError, MigrationLock, Registry, RegistryError, Session,
    Silent,
};
use strata_plan::{Digest, Policy, Target};

/// A migration directory, removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new(label: &str, files: &[(&str, &str)]) -> Dir {
        let path =
            std::env::temp_dir().join(format!("strata_pg_registry_{label}_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        for (name, text) in files {
            std::fs::write(path.join(name), text).unwrap();
        }
        Dir(path)
    }

    fn migrations(&self) -> Vec<Migration> {
        strata_source::load_dir(&self.0, None).unwrap().migrations
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn info(db: &TestDatabase) -> ConnInfo {
    ConnInfo::resolve(Some(&db.url()), &|_: &str| None).unwrap()
}

async fn connect(db: &TestDatabase) -> Session {
    Session::connect(&info(db)).await.unwrap()
}

/// A plain driver connection for the tests' own SQL, which inspects and prepares the
/// registry's tables behind strata's back: `Session` keeps its client inside strata_pg, as
/// it does for every caller outside it.
async fn raw(db: &TestDatabase) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&db.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

fn options(set: &str, dir: &Path) -> ExecOptions {
    ExecOptions {
        set_name: set.to_owned(),
        lock_timeout: "0".into(),
        statement_timeout: "0".into(),
        set_dir: dir.to_owned(),
        ..Default::default()
    }
}

/// Plans `up` for `local` against `set`'s history and runs it.
async fn up(
    session: &mut Session,
    registry: &Registry,
    set: &str,
    dir: &Dir,
    local: &[Migration],
) -> Result<Vec<strata_pg::StepDone>, strata_pg::ExecError> {
    let applied = registry.read(session, set).await.unwrap();
    let plan = strata_plan::plan(
        local,
        &applied,
        &Target::Up {
            to: None,
            steps: None,
        },
        &Policy::default(),
    )
    .unwrap();
    execute(
        session,
        registry,
        local,
        &plan,
        &options(set, &dir.0),
        None,
        &mut Silent,
    )
    .await
}

/// `(kind, key)` of `set`'s events, in order.
async fn events(
    client: &tokio_postgres::Client,
    registry: &Registry,
    set: &str,
) -> Vec<(String, Option<String>)> {
    client
        .query(
            &format!(
                "SELECT kind, key FROM {} WHERE set_name = $1 ORDER BY id",
                registry.table("events")
            ),
            &[&set],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

async fn exists(client: &tokio_postgres::Client, relation: &str) -> bool {
    client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&relation])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn ensure_installs_the_newest_layout_once() {
    let db = TestDatabase::new("registry_install");
    let session = connect(&db).await;
    let direct = raw(&db).await;
    let registry = Registry::new("strata");
    assert_eq!(registry.installed_version(&session).await.unwrap(), 0);
    // Reading an absent registry never creates it.
    assert!(registry.read(&session, "s").await.unwrap().is_empty());
    assert_eq!(registry.installed_version(&session).await.unwrap(), 0);
    registry.ensure(&session).await.unwrap();
    assert_eq!(registry.installed_version(&session).await.unwrap(), 2);
    // A second ensure changes nothing.
    registry.ensure(&session).await.unwrap();
    let versions: Vec<i32> = direct
        .query(
            &format!(
                "SELECT version FROM {} ORDER BY version",
                registry.table("registry_version")
            ),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, [1, 2]);
    for table in ["migrations", "events", "runs"] {
        assert!(exists(&direct, &registry.table(table)).await, "{table}");
    }
}

#[tokio::test]
async fn ensure_upgrades_a_version_1_registry_and_refuses_a_newer_one() {
    let db = TestDatabase::new("registry_upgrade");
    let session = connect(&db).await;
    let direct = raw(&db).await;
    // A registry as strata's first layout left it.
    let registry = Registry::new("old reg");
    let quoted = strata_pg::quote_ident("old reg");
    direct
        .batch_execute(&format!("CREATE SCHEMA {quoted}"))
        .await
        .unwrap();
    direct
        .batch_execute(&include_str!("../src/registry/v1.sql").replace("{schema}", &quoted))
        .await
        .unwrap();
    direct
        .execute(
            &format!(
                "INSERT INTO {} (version) VALUES (1)",
                registry.table("registry_version")
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(registry.installed_version(&session).await.unwrap(), 1);
    registry.ensure(&session).await.unwrap();
    assert_eq!(registry.installed_version(&session).await.unwrap(), 2);
    // Version 2 is what allows `rehash` events.
    let inserted = direct
        .execute(
            &format!(
                "INSERT INTO {} (set_name, kind, by_os_user, host, strata_version) VALUES ('s', 'rehash', 'u', 'h', 'v')",
                registry.table("events")
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(inserted, 1);

    // A layout this strata does not know: refused, untouched.
    direct
        .execute(
            &format!(
                "INSERT INTO {} (version) VALUES (99)",
                registry.table("registry_version")
            ),
            &[],
        )
        .await
        .unwrap();
    match registry.ensure(&session).await {
        Err(RegistryError::TooNew {
            found: 99,
            known: 2,
            ..
        }) => {}
        other => panic!("expected TooNew, got {other:?}"),
    }
}

#[tokio::test]
async fn an_applied_migration_commits_with_its_row_and_event_and_a_failing_one_leaves_neither() {
    let db = TestDatabase::new("registry_atomic");
    let mut session = connect(&db).await;
    let direct = raw(&db).await;
    let registry = Registry::new("strata");
    registry.ensure(&session).await.unwrap();
    let dir = Dir::new(
        "atomic",
        &[
            ("1_first.sql", "CREATE TABLE first (id int);\n"),
            (
                "2_second.sql",
                "CREATE TABLE second (id int);\nSELECT 1 / 0;\n",
            ),
        ],
    );
    let local = dir.migrations();
    let failed = up(&mut session, &registry, "s", &dir, &local)
        .await
        .unwrap_err();
    assert_eq!(failed.key, "2");
    assert_eq!(failed.failure.sqlstate, "22012");
    assert_eq!(failed.done.len(), 1, "the first migration completed");

    let rows = registry.read(&session, "s").await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].key, "1");
    assert_eq!(rows[0].state, AppliedState::Complete);
    assert_eq!(rows[0].checksum, local[0].checksum);
    assert!(exists(&direct, "first").await);
    // The failing script's table went with its transaction; its attempt is logged after the
    // rollback as a `fail` event, never as an `apply`.
    assert!(!exists(&direct, "second").await);
    assert_eq!(
        events(&direct, &registry, "s").await,
        [
            ("apply".to_owned(), Some("1".to_owned())),
            ("fail".to_owned(), Some("2".to_owned())),
        ]
    );
    let failures = registry
        .last_failures(&session, "s", &["2".to_owned()])
        .await
        .unwrap();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].0, "2");
    assert!(failures[0].1.contains("division by zero"), "{failures:?}");
}

#[tokio::test]
async fn the_summary_digest_is_the_planners_digest_of_the_same_rows() {
    let db = TestDatabase::new("registry_summary");
    let mut session = connect(&db).await;
    let registry = Registry::new("strata");
    // No registry: an empty history.
    let empty = registry.summary(&session, "s").await.unwrap();
    assert_eq!(empty.rows, 0);
    assert_eq!(empty.digest, Digest::default());
    registry.ensure(&session).await.unwrap();
    let dir = Dir::new(
        "summary",
        &[
            ("V1__a.sql", "CREATE TABLE a (id int);\n"),
            ("V2__b.sql", "CREATE TABLE b (id int);\n"),
            (
                "R__view.sql",
                "CREATE OR REPLACE VIEW v AS SELECT 1 AS one;\n",
            ),
        ],
    );
    let local = dir.migrations();
    up(&mut session, &registry, "s", &dir, &local)
        .await
        .unwrap();
    let rows = registry.read(&session, "s").await.unwrap();
    assert_eq!(rows.len(), 3);
    let mut expected = Digest::default();
    for r in &rows {
        expected.add(Digest::of_row(
            r.kind,
            &r.key,
            r.checksum.algorithm,
            &r.checksum.hex,
        ));
    }
    let summary = registry.summary(&session, "s").await.unwrap();
    assert_eq!(summary.rows, 3);
    assert_eq!(summary.irregular, 0);
    assert_eq!(summary.digest, expected);
    assert_ne!(summary.digest, Digest::default());
    // Another set's rows are not part of it.
    let other = registry.summary(&session, "other").await.unwrap();
    assert_eq!(other.rows, 0);
}

#[tokio::test]
async fn move_history_moves_rows_and_events_and_refuses_an_occupied_set() {
    let db = TestDatabase::new("registry_move");
    let mut session = connect(&db).await;
    let direct = raw(&db).await;
    let registry = Registry::new("strata");
    registry.ensure(&session).await.unwrap();
    let dir = Dir::new(
        "move",
        &[("1_a.sql", "CREATE TABLE IF NOT EXISTS a (id int);\n")],
    );
    let local = dir.migrations();
    up(&mut session, &registry, "old", &dir, &local)
        .await
        .unwrap();
    let moved = registry
        .move_history(&session, "old", "new", "renamed")
        .await
        .unwrap();
    assert_eq!(moved, 1);
    assert!(registry.read(&session, "old").await.unwrap().is_empty());
    let rows = registry.read(&session, "new").await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].key, "1");
    assert!(events(&direct, &registry, "old").await.is_empty());
    assert_eq!(
        events(&direct, &registry, "new").await,
        [
            ("apply".to_owned(), Some("1".to_owned())),
            ("adopt".to_owned(), None),
        ]
    );
    let others = registry
        .other_histories(
            &session,
            "elsewhere",
            &["1".to_owned()],
            &[local[0].checksum.hex.clone()],
            &[String::new()],
        )
        .await
        .unwrap();
    assert_eq!(others.len(), 1);
    assert_eq!((others[0].set.as_str(), others[0].matching), ("new", 1));

    // Onto a set that has a history: refused, and nothing moves.
    up(&mut session, &registry, "third", &dir, &local)
        .await
        .unwrap();
    match registry
        .move_history(&session, "third", "new", "again")
        .await
    {
        Err(RegistryError::Occupied { rows: 1, .. }) => {}
        other => panic!("expected Occupied, got {other:?}"),
    }
    assert_eq!(registry.read(&session, "third").await.unwrap().len(), 1);
    assert_eq!(registry.read(&session, "new").await.unwrap().len(), 1);
}

#[tokio::test]
async fn rehash_records_the_new_checksum_with_an_event_or_nothing() {
    let db = TestDatabase::new("registry_rehash");
    let mut session = connect(&db).await;
    let direct = raw(&db).await;
    let registry = Registry::new("strata");
    registry.ensure(&session).await.unwrap();
    let dir = Dir::new("rehash", &[("1_a.sql", "CREATE TABLE a (id int);\n")]);
    let local = dir.migrations();
    up(&mut session, &registry, "s", &dir, &local)
        .await
        .unwrap();
    let newer = Checksum {
        algorithm: ChecksumAlgorithm::Sha256LfUp,
        hex: "ab".repeat(32),
    };
    registry
        .rehash(&session, "s", &[("1".to_owned(), newer.clone())])
        .await
        .unwrap();
    let rows = registry.read(&session, "s").await.unwrap();
    assert_eq!(rows[0].checksum, newer);
    assert_eq!(
        events(&direct, &registry, "s").await.last().unwrap(),
        &("rehash".to_owned(), Some("1".to_owned()))
    );

    // A key without a row: the guard aborts the transaction, and the row rehashed before it
    // in the same call is not changed either.
    let again = Checksum {
        algorithm: ChecksumAlgorithm::Sha256Lf,
        hex: "cd".repeat(32),
    };
    let refused = registry
        .rehash(
            &session,
            "s",
            &[("1".to_owned(), again), ("9".to_owned(), newer.clone())],
        )
        .await;
    assert!(refused.is_err());
    assert_eq!(
        registry.read(&session, "s").await.unwrap()[0].checksum,
        newer
    );
    assert_eq!(
        events(&direct, &registry, "s")
            .await
            .iter()
            .filter(|(kind, _)| kind == "rehash")
            .count(),
        1
    );
}

#[tokio::test]
async fn the_lock_records_its_run_forgets_stale_ones_and_names_itself_to_waiters() {
    let db = TestDatabase::new("registry_runs");
    let session = connect(&db).await;
    let direct = raw(&db).await;
    let registry = Registry::new("strata");
    registry.ensure(&session).await.unwrap();
    let runs = registry.table("runs");
    // A run whose backend is gone (a crashed strata).
    direct.execute(
            &format!("INSERT INTO {runs} (backend_pid, host, os_pid, os_user, strata_version) VALUES (-1, 'gone', 1, 'u', 'v')"),
            &[],
        )
        .await
        .unwrap();
    let count = |sql: String| {
        let client = &direct;
        async move { client.query_one(&sql, &[]).await.unwrap().get::<_, i64>(0) }
    };

    let mut lock = MigrationLock::acquire(
        &info(&db),
        "strata",
        std::time::Duration::from_secs(5),
        |_| {},
    )
    .await
    .unwrap();
    lock.register(&registry).await.unwrap();
    assert_eq!(count(format!("SELECT count(*) FROM {runs}")).await, 1);
    assert_eq!(
        count(format!(
            "SELECT count(*) FROM {runs} WHERE host = 'gone' OR backend_pid = -1"
        ))
        .await,
        0
    );
    assert!(strata_pg::lock::lock_held(&session, "strata")
        .await
        .unwrap());

    // A second run waits, then names the holder from its `runs` row.
    let waited = MigrationLock::acquire(
        &info(&db),
        "strata",
        std::time::Duration::from_millis(200),
        |_| {},
    )
    .await;
    match waited {
        Err(LockError::Timeout { holders, .. }) => {
            assert_eq!(holders.len(), 1, "{holders:?}");
            assert!(
                holders[0].application_name.starts_with("strata on "),
                "{holders:?}"
            );
        }
        Ok(_) => panic!("the lock was taken twice"),
        Err(e) => panic!("expected a timeout, got {e}"),
    }

    lock.release().await.unwrap();
    assert_eq!(count(format!("SELECT count(*) FROM {runs}")).await, 0);
    assert!(!strata_pg::lock::lock_held(&session, "strata")
        .await
        .unwrap());
}
