//! `STRATA_PG_BIN` handling. Kept in its own test binary because it changes
//! the process environment.

use strata_ephemeral::{EphemeralError, PgBinaries, PG_BIN_ENV};

#[test]
fn strata_pg_bin_is_honoured_and_checked() {
    let real = PgBinaries::discover().unwrap();

    std::env::set_var(PG_BIN_ENV, real.bin_dir());
    assert_eq!(PgBinaries::discover().unwrap(), real);

    let empty = tempfile::tempdir().unwrap();
    std::env::set_var(PG_BIN_ENV, empty.path());
    let err = PgBinaries::discover().unwrap_err();
    assert!(
        matches!(&err, EphemeralError::InvalidPgBinEnv { path } if path == empty.path()),
        "{err}"
    );
    assert!(err.to_string().contains("STRATA_PG_BIN"), "{err}");

    std::env::remove_var(PG_BIN_ENV);
    assert_eq!(PgBinaries::discover().unwrap(), real);
}

#[test]
fn not_found_message_says_what_to_do() {
    let err = EphemeralError::BinariesNotFound {
        searched: vec!["/usr/lib/postgresql/<version>/bin".into(), "PATH".into()],
    };
    let text = err.to_string();
    assert!(text.contains("apt-get install -y postgresql"), "{text}");
    assert!(text.contains("STRATA_PG_BIN"), "{text}");
    assert!(
        text.contains("/usr/lib/postgresql/<version>/bin, PATH"),
        "{text}"
    );
}

const CHILD_ENV: &str = "STRATA_EPHEMERAL_SHARED_CHILD";

/// Only does something when re-executed by
/// `shared_cluster_fails_loudly_without_postgres`.
#[test]
fn shared_cluster_child_process() {
    if std::env::var_os(CHILD_ENV).is_some() {
        let _ = strata_ephemeral::shared_cluster();
    }
}

#[test]
fn shared_cluster_fails_loudly_without_postgres() {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "shared_cluster_child_process",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .env(PG_BIN_ENV, "/nonexistent/strata-pg-bin")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !output.status.success(),
        "the test must fail, not skip:\n{stdout}"
    );
    assert!(stdout.contains("NO TEST DATABASE"), "{stdout}");
    assert!(stdout.contains("/nonexistent/strata-pg-bin"), "{stdout}");
}
