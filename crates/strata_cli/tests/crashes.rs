//! Crashes and pipes: what the binary does when something goes wrong outside the normal error
//! path. A connection string that used to panic (and print its password) is an ordinary error;
//! a panic, if one happens anyway, is reported in one scrubbed line with exit code 2; and a
//! reader that closes stdout early (`strata ... | head -1`) ends strata quietly.

mod common;

use common::*;
use std::io::Read;
use std::process::Stdio;

#[test]
fn the_former_panic_input_is_an_error_without_the_password() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "migrations/1_a.sql", "SELECT 1;\n");
    for args in [
        &[
            "--database-url",
            "postgres://u:S3cret%2é@127.0.0.1:1/db",
            "status",
        ][..],
        &[
            "--json",
            "--database-url",
            "postgres://u:S3cret%2é@127.0.0.1:1/db",
            "status",
        ][..],
    ] {
        let run = strata_raw(tmp.path(), args);
        assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
        assert!(
            run.stderr
                .contains("the password has an invalid percent-encoding"),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains("--database-url / DATABASE_URL"),
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        for text in [&run.stdout, &run.stderr] {
            assert!(!text.contains("S3cret"), "{text}");
        }
    }
    // The same string from the environment.
    let run = Run::from_output(
        strata_cmd(tmp.path())
            .env("DATABASE_URL", "postgres://u:S3cret%2é@127.0.0.1:1/db")
            .arg("status")
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(!run.stderr.contains("S3cret") && !run.stdout.contains("S3cret"));
}

/// The crash report itself, through a panic debug builds raise on request.
#[cfg(debug_assertions)]
#[test]
fn a_panic_is_one_scrubbed_line_and_exit_code_2() {
    let tmp = tempfile::tempdir().unwrap();
    let run = Run::from_output(
        strata_cmd(tmp.path())
            .env(
                "STRATA_TEST_PANIC",
                "boom: S3cret-from-env and p@ssw0rd-from-flag",
            )
            .env("DATABASE_URL", "postgres://u:S3cret-from-env@h/db")
            .args([
                "--database-url",
                "postgres://u:p%40ssw0rd-from-flag@h/db",
                "status",
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    let line = run.stderr.trim_end();
    assert!(
        line.starts_with(
            "error: strata crashed (a bug): boom: *** and *** at crates/strata_cli/src/main.rs:"
        ),
        "{line}"
    );
    assert!(
        line.ends_with("; nothing more was changed; please report it"),
        "{line}"
    );
    assert_eq!(line.lines().count(), 1, "{line}");
}

/// Runs strata with stdout connected to a pipe whose read end is closed before strata writes.
fn with_stdout_closed(cmd: &mut std::process::Command) -> (Option<i32>, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run strata");
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (child.wait().unwrap().code(), stderr)
}

#[test]
fn a_closed_stdout_ends_strata_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, stderr) = with_stdout_closed(strata_cmd(tmp.path()).args(["lint", "--list-rules"]));
    assert!(
        matches!(code, Some(0) | Some(141)),
        "exit {code:?}\n{stderr}"
    );
    assert_eq!(stderr, "");
}

#[test]
fn status_into_a_closed_pipe_is_quiet() {
    let tmp = tempfile::tempdir().unwrap();
    for i in 1..=20 {
        write(
            tmp.path(),
            &format!("migrations/{i}_m{i}.sql"),
            &format!("CREATE TABLE t{i} (id int);\n"),
        );
    }
    let db = TestDatabase::new("closed_pipe");
    for args in [&["status"][..], &["--json", "status"][..]] {
        let (code, stderr) = with_stdout_closed(
            strata_cmd(tmp.path())
                .arg("--database-url")
                .arg(db.url())
                .args(args),
        );
        assert!(
            matches!(code, Some(0) | Some(141)),
            "exit {code:?}\n{stderr}"
        );
        assert_eq!(stderr, "", "{args:?}");
    }
}
