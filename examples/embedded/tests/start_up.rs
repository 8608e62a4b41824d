//! The example application, built by cargo as it ships, started twice against a throwaway
//! database: the first start applies the embedded migrations and uses the schema, the second
//! finds nothing to do and never runs an applied migration again.

use std::process::Command;
use strata_ephemeral::TestDatabase;

fn start(url: &str) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_embedded-example"))
        .env("DATABASE_URL", url)
        .output()
        .expect("run the example application");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_application_migrates_itself_once_and_then_finds_nothing_to_do() {
    let db = TestDatabase::new("embedded_example");

    let (ok, stdout, stderr) = start(&db.url());
    assert!(
        ok,
        "first start failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("migrated: apply 001"), "{stdout}");
    assert!(stdout.contains("migrated: apply 002"), "{stdout}");
    assert!(stdout.contains("orders: 1"), "{stdout}");

    let (ok, stdout, stderr) = start(&db.url());
    assert!(
        ok,
        "second start failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("migrated: schema up to date"), "{stdout}");
    assert!(!stdout.contains("migrated: apply"), "{stdout}");
    assert!(stdout.contains("orders: 2"), "{stdout}");

    let history = db
        .cluster()
        .cluster()
        .psql(
            db.name(),
            "SELECT string_agg(key, ',' ORDER BY version) FROM strata.migrations",
        )
        .unwrap();
    assert_eq!(history.trim(), "001,002");
}

#[test]
fn a_failed_start_names_the_database_without_its_password() {
    // Nothing listens on port 1: the error must say where it tried, never the password.
    let (ok, stdout, stderr) =
        start("postgres://app:hunter2-secret@127.0.0.1:1/app?connect_timeout=2");
    assert!(!ok, "{stdout}");
    assert!(stderr.contains("app@127.0.0.1:1/app"), "{stderr}");
    assert!(!stderr.contains("hunter2-secret"), "{stderr}");
}
