//! Contract tests of `Session`'s intent-level methods against real PostgreSQL (one database per
//! test on the shared throwaway cluster, which panics loudly when PostgreSQL is missing).

use strata_ephemeral::TestDatabase;
use strata_pg::{ConnInfo, Session};

async fn connect(db: &TestDatabase) -> Session {
    let info = ConnInfo::resolve(Some(&db.url()), &|_: &str| None).unwrap();
    Session::connect(&info).await.unwrap()
}

/// Whether database `name` exists, asked on a plain driver connection of the test's own:
/// `Session` keeps its client inside strata_pg.
async fn database_exists(db: &TestDatabase, name: &str) -> bool {
    let (client, connection) = tokio_postgres::connect(&db.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)",
            &[&name],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn databases_are_created_and_dropped_by_quoted_name() {
    let db = TestDatabase::new("session_databases");
    let session = connect(&db).await;
    let name = format!("scratch \"{}\"; DROP", std::process::id());
    session.create_database(&name).await.unwrap();
    assert!(database_exists(&db, &name).await);
    session.drop_database(&name).await.unwrap();
    assert!(!database_exists(&db, &name).await);
    // Dropping what is not there is not an error.
    session.drop_database(&name).await.unwrap();
}

#[tokio::test]
async fn undeclared_schemas_leave_out_the_registry_and_declared_ones() {
    let db = TestDatabase::new("session_schemas");
    let session = connect(&db).await;
    session
        .run_script("CREATE SCHEMA strata; CREATE SCHEMA billing; CREATE SCHEMA app")
        .await
        .unwrap();
    let schemas = session
        .undeclared_schemas("strata", &["billing".to_owned()])
        .await
        .unwrap();
    assert_eq!(schemas, ["app", "public"]);
    // A script without transaction control runs as one implicit transaction: an error undoes
    // the statements before it too.
    assert!(session
        .run_script("CREATE SCHEMA later; SELECT 1 / 0; CREATE SCHEMA never")
        .await
        .is_err());
    let schemas = session.undeclared_schemas("strata", &[]).await.unwrap();
    assert_eq!(schemas, ["app", "billing", "public"]);
}
