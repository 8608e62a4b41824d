//! Snapshot tests of what strata shows people: the diagnostic for a failed migration, the
//! status table, and the dry-run plan. Paths, timestamps and durations are normalized so the
//! snapshots are stable; everything else is compared byte for byte.

mod common;

use common::*;
use std::path::Path;

/// Replaces the temp directory, timestamps and millisecond figures with placeholders.
fn normalize(text: &str, tmp: &Path) -> String {
    let text = text.replace(&tmp.display().to_string(), "[TMP]");
    let mut out = String::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        // 2026-11-21T23:55:53.729Z
        let is_ts = i + 24 <= chars.len()
            && chars[i..i + 4].iter().all(char::is_ascii_digit)
            && chars[i + 4] == '-'
            && chars[i + 10] == 'T'
            && chars[i + 23] == 'Z';
        if is_ts {
            out.push_str("[TIME]");
            i += 24;
            continue;
        }
        // "<digits> ms"
        if chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_ascii_alphanumeric()) {
            let mut j = i;
            while j < chars.len() && chars[j].is_ascii_digit() {
                j += 1;
            }
            if chars[j..].starts_with(&[' ', 'm', 's']) {
                out.push_str("[N] ms");
                i = j + 3;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

fn project() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join(".git")).unwrap();
    let dir = tmp.path().join("migrations");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("001_users.sql"), "CREATE TABLE users (\n    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n    email text NOT NULL\n);\n").unwrap();
    std::fs::write(dir.join("001_users.down.sql"), "DROP TABLE users;\n").unwrap();
    std::fs::write(
        dir.join("002_email_index.sql"),
        "-- Build the index without blocking writes.\nCREATE UNIQUE INDEX CONCURRENTLY users_email ON users (lower(email));\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("002_email_index.down.sql"),
        "DROP INDEX CONCURRENTLY users_email;\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("003_orders.sql"),
        "CREATE TABLE orders (\n    id bigint PRIMARY KEY,\n    user_id bigint NOT NULL REFERENCES users (id),\n    total numeric(12, 2) NOT NULL CHECK (total >= 0)\n);\nCREATE INDEX orders_user ON orders (user_id);\nINSERT INTO orders (id, user_id, total) VALUES (1, 42, 9.99);\n",
    )
    .unwrap();
    std::fs::write(dir.join("README.md"), "not a migration\n").unwrap();
    tmp
}

#[test]
fn failed_migration_diagnostic() {
    let tmp = project();
    let db = TestDatabase::new("snap_err");
    let run = strata(tmp.path(), &db, &["--dir", "migrations", "up"]);
    assert_eq!(run.code, 2);
    insta::assert_snapshot!(
        "failed_migration_stdout",
        normalize(&run.stdout, tmp.path())
    );
    insta::assert_snapshot!(
        "failed_migration_stderr",
        normalize(&run.stderr, tmp.path())
    );
}

#[test]
fn status_table() {
    let tmp = project();
    let db = TestDatabase::new("snap_status");
    strata(tmp.path(), &db, &["--dir", "migrations", "up", "--to", "2"]).ok();
    let run = strata(tmp.path(), &db, &["--dir", "migrations", "status"]).ok();
    insta::assert_snapshot!("status_table", normalize(&run.stdout, tmp.path()));
}

#[test]
fn dry_run_plan() {
    let tmp = project();
    let db = TestDatabase::new("snap_plan");
    let run = strata(tmp.path(), &db, &["--dir", "migrations", "up", "--dry-run"]).ok();
    insta::assert_snapshot!("dry_run_plan", normalize(&run.stdout, tmp.path()));
}
