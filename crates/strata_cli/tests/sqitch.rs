//! sqitch projects end to end: the real binary on a real database. The `flipr` project under
//! `fixtures/layouts/sqitch/ok/flipr` was written with sqitch 1.3.1 itself (`sqitch init`, `add`
//! with `--requires`, `tag`, `rework`), so its plan, file names and script templates are
//! exactly sqitch's.

mod common;

use common::*;
use std::path::{Path, PathBuf};

const PLANNER: &str = "Sam Planner <sam@example.com>";

fn flipr() -> PathBuf {
    repo_root().join("fixtures/layouts/sqitch/ok/flipr")
}

/// A sqitch project in `dir`: `plan` lines after the pragmas, and `(path, content)` scripts.
fn project(dir: &Path, plan: &str, scripts: &[(&str, &str)]) {
    write(
        dir,
        "sqitch.plan",
        &format!("%syntax-version=1.0.0\n%project=shop\n\n{plan}"),
    );
    for (path, content) in scripts {
        write(dir, path, content);
    }
}

fn change(line: &str, at: &str) -> String {
    format!("{line} {at} {PLANNER}\n")
}

fn states(run: &Run) -> Vec<(String, String)> {
    run.json()["sets"][0]["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                format!(
                    "{}_{}",
                    m["version"].as_str().unwrap(),
                    m["name"].as_str().unwrap()
                ),
                m["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn plan_order_dependencies_rework_and_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    copy_dir(&flipr(), &dir);
    let db = TestDatabase::new("sqitch_flipr");
    let status = strata(tmp.path(), &db, &["--dir", "db", "--json", "status"]).ok();
    let doc = status.json();
    assert_eq!(doc["sets"][0]["layout"], "sqitch");
    assert_eq!(
        states(&status),
        [
            ("1_appschema".to_owned(), "pending".to_owned()),
            ("2_users".into(), "pending".into()),
            ("3_insert_user@v1.1".into(), "pending".into()),
            ("4_flips".into(), "pending".into()),
            ("5_insert_user".into(), "pending".into()),
        ]
    );
    strata(tmp.path(), &db, &["--dir", "db", "up"]).ok();
    // The reworked change ran last: the function is the new one.
    assert_eq!(
        db.psql("SELECT prosrc LIKE '%salt%' FROM pg_proc WHERE proname = 'insert_user'")
            .unwrap()
            .trim(),
        "t"
    );
    let keys = db
        .psql("SELECT string_agg(key || '=' || name, ' ' ORDER BY version::int) FROM strata.migrations")
        .unwrap();
    assert_eq!(
        keys.trim(),
        "1=appschema 2=users 3=insert_user@v1.1 4=flips 5=insert_user"
    );
    // Reverting the rework restores the earlier function (its revert script recreates it).
    strata(tmp.path(), &db, &["--dir", "db", "down"]).ok();
    assert_eq!(
        db.psql("SELECT prosrc LIKE '%salt%' FROM pg_proc WHERE proname = 'insert_user'")
            .unwrap()
            .trim(),
        "f"
    );
    strata(tmp.path(), &db, &["--dir", "db", "up"]).ok();
    strata(tmp.path(), &db, &["--dir", "db", "status", "--check"]).ok();
}

#[test]
fn conflicts_are_refused_before_anything_runs() {
    // A conflict with a change planned above it: refused while reading the plan.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    project(
        &dir,
        &format!(
            "{}{}",
            change("legacy", "2025-03-01T09:00:00Z"),
            change("modern [!legacy]", "2025-03-01T09:05:00Z")
        ),
        &[
            ("deploy/legacy.sql", "CREATE TABLE legacy (id int);\n"),
            ("deploy/modern.sql", "CREATE TABLE modern (id int);\n"),
        ],
    );
    let db = TestDatabase::new("sqitch_conflict");
    let before = snapshot(&db);
    let run = strata(tmp.path(), &db, &["--dir", "db", "up"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("sqitch.plan:5: change `modern` conflicts with `legacy`")
            && run.stderr.contains("(line 4)"),
        "{}",
        run.stderr
    );
    assert_eq!(snapshot(&db), before, "nothing may run");
    assert_eq!(
        db.psql("SELECT to_regclass('strata.migrations') IS NULL")
            .unwrap()
            .trim(),
        "t"
    );

    // A conflict with a change that is applied in the database (here: planned later, applied,
    // and the conflicting change recorded as reverted by hand).
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    project(
        &dir,
        &format!(
            "{}{}{}",
            change("base", "2025-03-01T09:00:00Z"),
            change("modern [base !legacy]", "2025-03-01T09:05:00Z"),
            change("legacy [base]", "2025-03-01T09:10:00Z"),
        ),
        &[
            ("deploy/base.sql", "CREATE TABLE base (id int);\n"),
            ("deploy/modern.sql", "CREATE TABLE modern (id int);\n"),
            ("revert/modern.sql", "DROP TABLE modern;\n"),
            ("deploy/legacy.sql", "CREATE TABLE legacy (id int);\n"),
        ],
    );
    let db = TestDatabase::new("sqitch_conflict_db");
    strata(tmp.path(), &db, &["--dir", "db", "up"]).ok();
    strata(
        tmp.path(),
        &db,
        &[
            "--dir",
            "db",
            "repair",
            "2",
            "--mark-reverted",
            "--reason",
            "dropped by hand",
        ],
    )
    .ok();
    db.psql("DROP TABLE modern").unwrap();
    let before = snapshot(&db);
    let run = strata(
        tmp.path(),
        &db,
        &["--dir", "db", "up", "--allow-out-of-order"],
    );
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("sqitch.plan:5")
            && run.stderr.contains("conflicts with `legacy`")
            && run.stderr.contains("applied"),
        "{}",
        run.stderr
    );
    assert_eq!(snapshot(&db), before, "nothing may run");
}

#[test]
fn failing_verify_rolls_the_deploy_back() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let verify = "-- Verify shop:widgets on pg\n\nBEGIN;\n\nSELECT 1/count(*) FROM shop.widgets;\n\nROLLBACK;\n";
    project(
        &dir,
        &format!(
            "{}{}",
            change("schema", "2025-03-01T09:00:00Z"),
            change("widgets [schema]", "2025-03-01T09:05:00Z")
        ),
        &[
            (
                "deploy/schema.sql",
                "-- Deploy shop:schema to pg\n\nBEGIN;\n\nCREATE SCHEMA shop;\n\nCOMMIT;\n",
            ),
            (
                "verify/schema.sql",
                "BEGIN;\nSELECT pg_catalog.has_schema_privilege('shop', 'usage');\nROLLBACK;\n",
            ),
            (
                "deploy/widgets.sql",
                "-- Deploy shop:widgets to pg\n-- requires: schema\n\nBEGIN;\n\nCREATE TABLE shop.widgets (id int PRIMARY KEY, name text);\n\nCOMMIT;\n",
            ),
            ("verify/widgets.sql", verify),
        ],
    );
    let db = TestDatabase::new("sqitch_verify");
    let run = strata(tmp.path(), &db, &["--dir", "db", "up"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    // The error names the verify script's failing statement: line 5, column of `1/count(*)`.
    assert!(
        run.stderr.contains("verify/widgets.sql:5:")
            && run.stderr.contains("division by zero")
            && run.stderr.contains("rolled back"),
        "{}",
        run.stderr
    );
    // The schema change before it stays; the failing deploy left nothing behind.
    assert_eq!(
        db.psql("SELECT to_regnamespace('shop') IS NOT NULL, to_regclass('shop.widgets') IS NULL")
            .unwrap()
            .trim(),
        "t|t"
    );
    assert_eq!(
        db.psql("SELECT string_agg(key, ',' ORDER BY key) FROM strata.migrations")
            .unwrap()
            .trim(),
        "1"
    );
    let status = strata(tmp.path(), &db, &["--dir", "db", "--json", "status"]).ok();
    assert_eq!(
        states(&status),
        [
            ("1_schema".to_owned(), "applied".to_owned()),
            ("2_widgets".into(), "failed".into())
        ]
    );
    // A deploy that satisfies its verify script goes through.
    write(
        &dir,
        "deploy/widgets.sql",
        "BEGIN;\nCREATE TABLE shop.widgets (id int PRIMARY KEY, name text);\nINSERT INTO shop.widgets VALUES (1, 'first');\nCOMMIT;\n",
    );
    strata(tmp.path(), &db, &["--dir", "db", "up"]).ok();
    strata(tmp.path(), &db, &["--dir", "db", "status", "--check"]).ok();
}

#[test]
fn failing_verify_after_a_non_transactional_deploy_says_what_state_remains() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    project(
        &dir,
        &format!(
            "{}{}",
            change("items", "2025-03-01T09:00:00Z"),
            change("items_name_idx [items]", "2025-03-01T09:05:00Z")
        ),
        &[
            ("deploy/items.sql", "CREATE TABLE items (id int, name text);\n"),
            (
                "deploy/items_name_idx.sql",
                "CREATE INDEX CONCURRENTLY items_name_idx ON items (name);\n",
            ),
            (
                "verify/items_name_idx.sql",
                "SELECT 1/count(*) FROM pg_indexes WHERE indexname = 'items_name_idx' AND indexdef LIKE '%UNIQUE%';\n",
            ),
        ],
    );
    let db = TestDatabase::new("sqitch_verify_nt");
    let run = strata(tmp.path(), &db, &["--dir", "db", "up"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("verify/items_name_idx.sql:1:")
            && run.stderr.contains("outside a transaction")
            && run.stderr.contains("recorded as applied"),
        "{}",
        run.stderr
    );
    // The index exists and is recorded: that is the state the message describes.
    assert_eq!(
        db.psql("SELECT count(*) FROM strata.migrations WHERE key = '2' AND state = 'complete'")
            .unwrap()
            .trim(),
        "1"
    );
    assert_eq!(
        db.psql("SELECT to_regclass('items_name_idx') IS NOT NULL")
            .unwrap()
            .trim(),
        "t"
    );
}
