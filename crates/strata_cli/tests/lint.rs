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
    // 20,000 rows are about 1 MB: large for this threshold.
    write(
        tmp.path(),
        "strata.toml",
        "[lint]\ngate_min_table_size = \"64kB\"\n",
    );
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
    // Every existing table counts as large: what is tested is what the catalog proves safe.
    write(
        tmp.path(),
        "strata.toml",
        "[lint]\ngate_min_table_size = 0\n",
    );
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

/// 70 bytes: PostgreSQL truncates it with a NOTICE.
const LONG_INDEX: &str = "order_line_items_by_customer_and_product_and_created_at_descending_idx";

/// On a fresh database nothing can be held up: `DROP INDEX IF EXISTS` of an index that is not
/// there does nothing, a long name is only truncated, an index on a table an earlier migration
/// of the same run creates locks nobody. A second run indexing that (still small) table is
/// not refused either; each says what it let through.
#[test]
fn up_is_not_refused_for_what_is_safe_where_it_runs() {
    let tmp = project(&[
        (
            "001_items.up.sql",
            "create table order_line_items (id bigint generated always as identity primary key, customer_id bigint, product_id bigint, created_at timestamptz);\n",
        ),
        (
            "002_indexes.up.sql",
            &format!("drop index if exists missing_idx;\ncreate index {LONG_INDEX} on order_line_items (customer_id, product_id, created_at desc);\n"),
        ),
    ]);
    let db = TestDatabase::new("gate_fresh");
    let first = strata(tmp.path(), &db, &["--dir", "migrations", "up"]).ok();
    assert!(
        first.stderr.contains(&format!(
            "warning: identifier `{LONG_INDEX}` is 70 bytes; PostgreSQL silently truncates it"
        )) && first.stderr.contains("[identifier-too-long]"),
        "{}",
        first.stderr
    );
    assert!(
        !first.stderr.contains("missing_idx") && !first.stderr.contains("require-concurrent-index"),
        "{}",
        first.stderr
    );
    assert!(
        first
            .stderr
            .contains("strata: the warnings above do not stop `up` here"),
        "{}",
        first.stderr
    );
    // `strata lint` keeps its own levels: the long name is an error there.
    assert_eq!(
        strata_raw(tmp.path(), &["--dir", "migrations", "lint"]).code,
        1
    );

    write(
        &tmp.path().join("migrations"),
        "003_by_product.up.sql",
        "create index order_line_items_product on order_line_items (product_id);\n",
    );
    let second = strata(tmp.path(), &db, &["--dir", "migrations", "up"]).ok();
    assert!(
        second
            .stderr
            .contains("warning: CREATE INDEX `order_line_items_product` on existing table")
            && second.stderr.contains(
                "`order_line_items` is 0 bytes on the target database, below [lint] gate_min_table_size (10 MB)"
            ),
        "{}",
        second.stderr
    );
    let applied = db
        .psql("select count(*) from pg_indexes where tablename = 'order_line_items'")
        .unwrap();
    assert_eq!(applied.trim(), "3", "the pkey and both indexes");
}

/// A lock on a table that existed before the run and is over the threshold (filled without
/// ANALYZE: its row estimate says nothing) stops `up`, which prints the findings, capped, and
/// how to override; a higher threshold lets the same migration through with a warning.
#[test]
fn up_refuses_an_index_build_on_a_large_table_and_says_how_to_override() {
    let tmp = project(&[(
        "001_events.up.sql",
        "create table events (id bigint primary key, kind text, at timestamptz);\n",
    )]);
    write(
        tmp.path(),
        "strata.toml",
        "[lint]\ngate_min_table_size = \"64kB\"\n",
    );
    let db = TestDatabase::new("gate_large");
    strata(tmp.path(), &db, &["--dir", "migrations", "up"]).ok();
    db.psql(
        "insert into events select g, 'kind ' || (g % 7), now() from generate_series(1, 5000) g;",
    )
    .unwrap();
    let indexes: String = (1..=12)
        .map(|i| format!("create index events_kind_{i} on events (kind, id);\n"))
        .collect();
    write(
        &tmp.path().join("migrations"),
        "002_indexes.up.sql",
        &indexes,
    );
    let before = snapshot(&db);
    let run = strata(tmp.path(), &db, &["--dir", "migrations", "up"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(before, snapshot(&db), "a refused run changed the database");
    assert_eq!(
        run.stderr
            .matches("[require-concurrent-index-creation]")
            .count(),
        10,
        "{}",
        run.stderr
    );
    for expected in [
        "error: CREATE INDEX `events_kind_1` on existing table `events` blocks all writes",
        "([lint] gate_min_table_size is 64 kB)",
        "... and 2 more; `strata lint --pending` lists them all",
        "lint: 12 errors, 0 warnings",
        "-- strata:allow require-concurrent-index-creation <reason>",
        "strata up --no-lint",
    ] {
        assert!(run.stderr.contains(expected), "{expected}\n{}", run.stderr);
    }
    let json = strata(
        tmp.path(),
        &db,
        &["--dir", "migrations", "--json", "up", "--dry-run"],
    );
    assert_eq!(json.code, 1);
    let doc = json.json();
    assert_eq!(doc["refused"], "lint");
    assert!(
        doc["lint"]["findings"][0]["table_bytes"].as_u64().unwrap() >= 64 << 10,
        "{doc}"
    );
    write(
        tmp.path(),
        "strata.toml",
        "[lint]\ngate_min_table_size = \"1GB\"\n",
    );
    let dry = strata(tmp.path(), &db, &["--dir", "migrations", "up", "--dry-run"]).ok();
    assert!(
        dry.stderr.contains("warning: CREATE INDEX")
            && dry
                .stderr
                .contains("below [lint] gate_min_table_size (1 GB)"),
        "{}",
        dry.stderr
    );
    write(
        tmp.path(),
        "strata.toml",
        "[lint]\ngate_min_table_size = \"ten megabytes\"\n",
    );
    let bad = strata(tmp.path(), &db, &["--dir", "migrations", "up"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("gate_min_table_size"), "{}", bad.stderr);
}

/// A style rule never stops `up` at its default level, but a level set explicitly in
/// strata.toml is the user's decision: an explicit "error" blocks.
#[test]
fn an_explicit_error_level_is_honoured_by_the_gate() {
    let tmp = project(&[(
        "001_notes.up.sql",
        "create table notes (id bigint primary key, title varchar(80));\n",
    )]);
    write(
        tmp.path(),
        "strata.toml",
        "[lint.rules]\nprefer-text-field = \"error\"\n",
    );
    let db = TestDatabase::new("gate_explicit");
    let run = strata(tmp.path(), &db, &["--dir", "migrations", "up"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("error: column `notes.title` is varchar(80)")
            && run.stderr.contains("[prefer-text-field]")
            && run
                .stderr
                .contains("-- strata:allow prefer-text-field <reason>"),
        "{}",
        run.stderr
    );
    write(tmp.path(), "strata.toml", "");
    let run = strata(tmp.path(), &db, &["--dir", "migrations", "up"]).ok();
    assert!(!run.stderr.contains("prefer-text-field"), "{}", run.stderr);
}

/// `strata lint PATH --var k=v` reads the SQL `strata --dir DIR lint --var k=v` reads; without
/// the value, the syntax error at the placeholder says which `--var` is missing.
#[test]
fn lint_paths_render_placeholders_like_dir() {
    let tmp = project(&[(
        "001_tenant.up.sql",
        "create schema ${tenant};\ncreate table ${tenant}.audit (id bigint primary key, at timestamp);\n",
    )]);
    let by_dir = strata_raw(
        tmp.path(),
        &["--dir", "migrations", "lint", "--var", "tenant=acme"],
    );
    let by_path = strata_raw(tmp.path(), &["lint", "migrations", "--var", "tenant=acme"]);
    let by_file = strata_raw(
        tmp.path(),
        &[
            "lint",
            "migrations/001_tenant.up.sql",
            "--var",
            "tenant=acme",
        ],
    );
    assert_eq!(by_dir.code, 0, "{}\n{}", by_dir.stdout, by_dir.stderr);
    assert!(
        by_dir
            .stdout
            .contains("column `acme.audit.at` is timestamp"),
        "{}",
        by_dir.stdout
    );
    assert_eq!(
        (by_path.code, &by_path.stdout),
        (by_dir.code, &by_dir.stdout)
    );
    assert_eq!(
        (by_file.code, &by_file.stdout),
        (by_dir.code, &by_dir.stdout)
    );
    let unrendered = strata_raw(tmp.path(), &["lint", "migrations"]);
    assert_eq!(unrendered.code, 1, "{}", unrendered.stdout);
    assert!(
        unrendered.stdout.contains("[syntax-error]")
            && unrendered.stdout.contains("pass `--var tenant=value`"),
        "{}",
        unrendered.stdout
    );
}
