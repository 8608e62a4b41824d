//! The shared per-binary cluster and per-test databases.

use strata_ephemeral::{shared_cluster, TestDatabase};

fn database_exists(name: &str) -> bool {
    let count = shared_cluster()
        .psql(
            "postgres",
            &format!("select count(*) from pg_database where datname = '{name}'"),
        )
        .unwrap();
    count.trim() == "1"
}

#[test]
fn test_database_is_created_and_dropped() {
    let db = TestDatabase::new("Smoke Test");
    let name = db.name().to_string();
    assert!(name.starts_with("smoke_test_"), "{name}");
    assert!(
        name.ends_with(&format!("_{}", std::process::id())),
        "{name}"
    );
    assert!(database_exists(&name));
    assert_eq!(db.psql("select 1").unwrap(), "1\n");
    assert_eq!(db.url(), db.cluster().url(&name));
    assert!(std::ptr::eq(db.cluster(), shared_cluster()));

    drop(db);
    assert!(!database_exists(&name));
}

#[test]
fn databases_are_isolated_and_unique() {
    let a = TestDatabase::new("iso");
    let b = TestDatabase::new("iso");
    assert_ne!(a.name(), b.name());
    a.psql("create table t(x int)").unwrap();
    assert!(b.psql("select * from t").is_err());
}

#[test]
fn open_connections_do_not_block_the_drop() {
    let db = TestDatabase::new("busy");
    let name = db.name().to_string();
    // A backend that is still connected when the database is dropped.
    let url = db.url();
    let mut child = std::process::Command::new(db.cluster().binaries().tool("psql"))
        .args(["-X", "-q", "-c", "select pg_sleep(30)", &url])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        let n = db
            .cluster()
            .psql(
                "postgres",
                &format!("select count(*) from pg_stat_activity where datname = '{name}'"),
            )
            .unwrap();
        if n.trim() != "0" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    drop(db);
    assert!(!database_exists(&name));
    let _ = child.kill();
    let _ = child.wait();
}
