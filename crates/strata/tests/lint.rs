//! `strata lint` and the lint gate of `up`, end to end with the real binary: output formats
//! (snapshots), exit codes, `--since` with a real git repository, `--pending` against a real
//! database (server version, table sizes), configuration in strata.toml, and `up` refusing
//! unsafe pending migrations without touching the database.

mod common;

use common::*;
use std::path::Path;

fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for (name, text) in files {
        write(&tmp.path().join("migrations"), name, text);
    }
    tmp
}

const CREATE: &str = "create table orders (id bigint generated always as identity primary key, total numeric(12,2) not null);\n";
const INDEX: &str =
    "-- the report query filters on total\ncreate index orders_total on orders (total);\n";

fn git(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn text_output_names_file_line_rule_and_help_and_exits_1_on_errors() {
    let tmp = project(&[("001_orders.up.sql", CREATE), ("002_index.up.sql", INDEX)]);
    let run = strata_raw(tmp.path(), &["--dir", "migrations", "lint"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    insta::assert_snapshot!("lint_text", run.stdout);
}

#[test]
fn json_github_and_sarif_formats() {
    let tmp = project(&[("001_orders.up.sql", CREATE), ("002_index.up.sql", INDEX)]);
    let json = strata_raw(tmp.path(), &["--dir", "migrations", "--json", "lint"]);
    assert_eq!(json.code, 1);
    insta::assert_json_snapshot!("lint_json", json.json());
    let github = strata_raw(
        tmp.path(),
        &["--dir", "migrations", "lint", "--format", "github"],
    );
    assert_eq!(github.code, 1);
    insta::assert_snapshot!("lint_github", github.stdout);
    let sarif = strata_raw(
        tmp.path(),
        &["--dir", "migrations", "lint", "--format", "sarif"],
    );
    assert_eq!(sarif.code, 1);
    let doc = sarif.json();
    assert_eq!(doc["version"], "2.1.0");
    let results = doc["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["ruleId"], "require-concurrent-index-creation");
    assert_eq!(
        results[0]["locations"][0]["physicalLocation"]["region"]["startLine"],
        2
    );
    let rules = doc["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    assert_eq!(rules.len(), strata_lint_rule_count(&tmp));
}

fn strata_lint_rule_count(tmp: &tempfile::TempDir) -> usize {
    strata_raw(tmp.path(), &["lint", "--list-rules"])
        .ok()
        .stdout
        .lines()
        .count()
}

#[test]
fn warnings_alone_exit_0_and_configuration_changes_levels() {
    let tmp = project(&[(
        "001_t.up.sql",
        "create table t (id bigint primary key, payload json);\n",
    )]);
    let run = strata_raw(tmp.path(), &["--dir", "migrations", "lint"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("[prefer-jsonb]"), "{}", run.stdout);
    write(
        tmp.path(),
        "strata.toml",
        "[lint.rules]\nprefer-jsonb = \"error\"\nrequire-timestamps = \"warning\"\n",
    );
    let run = strata_raw(tmp.path(), &["--dir", "migrations", "lint"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("error: column `t.payload` is json"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("[require-timestamps]"),
        "{}",
        run.stdout
    );
    let off = strata_raw(
        tmp.path(),
        &[
            "--dir",
            "migrations",
            "lint",
            "--rule",
            "prefer-jsonb=off",
            "--rule",
            "require-timestamps=off",
        ],
    );
    assert_eq!(off.code, 0);
    assert!(off.stdout.contains("no findings"), "{}", off.stdout);
    write(
        tmp.path(),
        "strata.toml",
        "[lint.rules]\nprefer-jsonbb = \"error\"\n",
    );
    let bad = strata_raw(tmp.path(), &["--dir", "migrations", "lint"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("did you mean `prefer-jsonb`"),
        "{}",
        bad.stderr
    );
}

#[test]
fn explain_prints_the_rule_page_and_unknown_rules_get_a_suggestion() {
    let tmp = tempfile::tempdir().unwrap();
    let run = strata_raw(tmp.path(), &["lint", "--explain", "set-not-null"]).ok();
    assert!(run.stdout.starts_with("# set-not-null\n"), "{}", run.stdout);
    let bad = strata_raw(tmp.path(), &["lint", "--explain", "set-not-nul"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("did you mean `set-not-null`"),
        "{}",
        bad.stderr
    );
}

#[test]
fn a_single_file_is_linted_in_the_context_of_its_set() {
    let tmp = project(&[
        ("001_orders.up.sql", CREATE),
        ("002_more.up.sql", "create table lines (id bigint primary key, payload json);\ncreate index lines_id on lines (id);\n"),
        ("003_index.up.sql", INDEX),
    ]);
    let run = strata_raw(tmp.path(), &["lint", "migrations/002_more.up.sql"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout.contains("[prefer-jsonb]") && !run.stdout.contains("orders_total"),
        "{}",
        run.stdout
    );
}

#[test]
fn since_reports_only_migrations_added_after_the_ref() {
    let tmp = project(&[("001_orders.up.sql", CREATE), ("002_index.up.sql", INDEX)]);
    git(tmp.path(), &["init", "-q", "-b", "main"]);
    git(tmp.path(), &["add", "."]);
    git(tmp.path(), &["commit", "-q", "-m", "history"]);
    git(tmp.path(), &["tag", "v1"]);
    let old = strata_raw(
        tmp.path(),
        &["--dir", "migrations", "lint", "--since", "v1"],
    )
    .ok();
    assert!(
        old.stdout
            .contains("no findings in 0 statements of 0 migrations"),
        "{}",
        old.stdout
    );
    // A new table and an index on it in a later new migration: both new, nothing to report.
    write(
        &tmp.path().join("migrations"),
        "003_items.up.sql",
        "create table items (id bigint primary key, sku text);\n",
    );
    write(
        &tmp.path().join("migrations"),
        "004_items_sku.up.sql",
        "create index items_sku on items (sku);\n",
    );
    write(
        &tmp.path().join("migrations"),
        "005_orders_again.up.sql",
        "create index orders_total2 on orders (total);\n",
    );
    let run = strata_raw(
        tmp.path(),
        &["--dir", "migrations", "lint", "--since", "v1"],
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(!run.stdout.contains("items_sku"), "{}", run.stdout);
    assert!(run.stdout.contains("orders_total2"), "{}", run.stdout);
    assert!(run.stdout.contains("of 3 migrations"), "{}", run.stdout);
    let bad = strata_raw(
        tmp.path(),
        &["--dir", "migrations", "lint", "--since", "no-such-ref"],
    );
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("--since no-such-ref"), "{}", bad.stderr);
}

#[test]
fn up_refuses_unsafe_pending_migrations_and_changes_nothing() {
    let tmp = project(&[("001_orders.up.sql", CREATE)]);
    let db = TestDatabase::new("lint_gate");
    strata(tmp.path(), &db, &["--dir", "migrations", "up"]).ok();
    db.psql(
        "insert into orders (total) select g from generate_series(1, 20000) g; analyze orders;",
    )
    .unwrap();
    write(&tmp.path().join("migrations"), "002_index.up.sql", INDEX);
    write(
        &tmp.path().join("migrations"),
        "003_later.up.sql",
        "create table later (id bigint primary key);\n",
    );
    let before = snapshot(&db);
    let run = strata(tmp.path(), &db, &["--dir", "migrations", "up"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("[require-concurrent-index-creation]"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("`orders` has about 20000 rows"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("strata up --no-lint"), "{}", run.stderr);
    assert_eq!(before, snapshot(&db), "a refused run changed the database");
    // The linter with the database: only pending migrations, version and sizes from the server.
    let pending = strata(
        tmp.path(),
        &db,
        &["--dir", "migrations", "--json", "lint", "--pending"],
    );
    assert_eq!(pending.code, 1);
    let doc = pending.json();
    assert_eq!(doc["migrations"], 2, "{doc}");
    assert_eq!(doc["findings"][0]["table_rows"], 20000.0, "{doc}");
    // The safe pattern passes; --no-lint overrides.
    write(
        &tmp.path().join("migrations"),
        "002_index.up.sql",
        "create index concurrently orders_total on orders (total);\n",
    );
    strata(tmp.path(), &db, &["--dir", "migrations", "up"]).ok();
    write(
        &tmp.path().join("migrations"),
        "004_drop.up.sql",
        "alter table orders add constraint positive check (total > 0);\n",
    );
    assert_eq!(
        strata(tmp.path(), &db, &["--dir", "migrations", "up"]).code,
        1
    );
    strata(tmp.path(), &db, &["--dir", "migrations", "up", "--no-lint"]).ok();
}

#[test]
fn every_example_lints_clean_on_a_fresh_database_as_up_sees_it() {
    for name in [
        "marketplace",
        "laravel-cmis",
        "echo-backend",
        "audit-psql",
        "coupons-flyway",
    ] {
        let tmp = tempfile::tempdir().unwrap();
        copy_dir(&repo_root().join("examples").join(name), tmp.path());
        let db = TestDatabase::new(&format!("lint_ex_{}", name.replace('-', "_")));
        let run = strata(tmp.path(), &db, &["--json", "lint", "--pending"]);
        let doc = run.json();
        let errors: Vec<_> = doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["severity"] == "error")
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
    }
}

/// The gate lints only pending migrations, and asks the database what they do not say: the
/// existing column types and proven non-null columns make safe changes pass.
#[test]
fn the_gate_knows_existing_tables_from_the_catalog() {
    let tmp = project(&[
        ("001_t.up.sql", "create table t (id bigint primary key, name varchar(20), note text);\nalter table t add constraint t_note_nn check (note is not null) not valid;\n"),
        ("002_validate.up.sql", "alter table t validate constraint t_note_nn;\n"),
    ]);
    let db = TestDatabase::new("lint_catalog");
    strata(tmp.path(), &db, &["--dir", "migrations", "up"]).ok();
    write(
        &tmp.path().join("migrations"),
        "003_widen.up.sql",
        "alter table t alter column name type varchar(40);\nalter table t alter column note set not null;\n",
    );
    let dry = strata(tmp.path(), &db, &["--dir", "migrations", "up", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}\n{}", dry.stdout, dry.stderr);
    strata(tmp.path(), &db, &["--dir", "migrations", "up"]).ok();
    write(
        &tmp.path().join("migrations"),
        "004_narrow.up.sql",
        "alter table t alter column name type varchar(10);\n",
    );
    let dry = strata(tmp.path(), &db, &["--dir", "migrations", "up", "--dry-run"]);
    assert_eq!(dry.code, 1, "{}\n{}", dry.stdout, dry.stderr);
    assert!(
        dry.stdout.contains("dry run: nothing was changed"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stderr.contains("from varchar(40) to varchar(10)"),
        "{}",
        dry.stderr
    );
    let json = strata(
        tmp.path(),
        &db,
        &["--dir", "migrations", "--json", "up", "--dry-run"],
    );
    assert_eq!(json.code, 1);
    assert_eq!(json.json()["refused"], "lint");
}
