//! Discovery as tolerant as the source tool: what golang-migrate, goose, dbmate or sqitch
//! accept, strata runs the same way end to end (helper scripts beside the migrations, downs
//! paired by version, empty ups and downs), and what it refuses it refuses for the one
//! migration concerned (a `strata new` template) with every other verb still working.

mod common;

use common::*;

#[test]
fn helper_scripts_and_sub_directories_are_listed_not_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(&dir, "001_users.up.sql", "CREATE TABLE users (id int);\n");
    write(&dir, "001_users.down.sql", "DROP TABLE users;\n");
    write(&dir, "seed.sql", "INSERT INTO users VALUES (1);\n");
    write(&dir, "check_after_006.sql", "SELECT count(*) FROM users;\n");
    write(&dir, "seeds/dev.sql", "INSERT INTO users VALUES (2);\n");
    write(&dir, "seeds/test.sql", "INSERT INTO users VALUES (3);\n");
    let db = TestDatabase::new("disc_helpers");
    let status = strata(tmp.path(), &db, &["status"]).ok();
    assert!(
        status
            .stdout
            .contains("not migrations (ignored): check_after_006.sql, seed.sql, seeds/ (2 files)"),
        "{}",
        status.stdout
    );
    assert!(
        status
            .stdout
            .contains("1 migration(s) named the updown way"),
        "{}",
        status.stdout
    );
    strata(tmp.path(), &db, &["up"]).ok();
    assert_eq!(db.psql("SELECT count(*) FROM users").unwrap().trim(), "0");
    let doc = strata(tmp.path(), &db, &["--json", "status"]).ok().json();
    assert_eq!(doc["sets"][0]["ignored_files"].as_array().unwrap().len(), 4);
    // A typo in a migration's own name is still an error.
    write(&dir, "002-add.up.sq", "SELECT 1;\n");
    let run = strata(tmp.path(), &db, &["status"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("002-add.up.sq: cannot parse"),
        "{}",
        run.stderr
    );
}

#[test]
fn golang_migrate_downs_pair_by_version_and_empty_scripts_are_no_ops() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(&dir, "30_add_x.up.sql", "CREATE TABLE x (id int);\n");
    write(&dir, "30_drop_x.down.sql", "DROP TABLE x;\n");
    // Empty up, comment-only down: both no-ops, recorded as golang-migrate records them.
    write(&dir, "31_placeholder.up.sql", "-- nothing to do here\n");
    write(&dir, "31_placeholder.down.sql", "-- no-op\n");
    // A down whose version has no up: an empty up plus this down, with a warning.
    write(&dir, "32_drop_y.down.sql", "SELECT 1;\n");
    let db = TestDatabase::new("disc_pairs");
    let status = strata(tmp.path(), &db, &["status"]).ok();
    assert!(
        status.stdout.contains(
            "warning: 32_drop_y.down.sql: this down migration has no up migration for version 32"
        ),
        "{}",
        status.stdout
    );
    let run = strata(tmp.path(), &db, &["up"]).ok();
    assert!(run.stdout.contains("3 step(s)"), "{}", run.stdout);
    assert_eq!(
        db.psql("SELECT string_agg(key, ',' ORDER BY key) FROM strata.migrations")
            .unwrap()
            .trim(),
        "30,31,32"
    );
    strata(tmp.path(), &db, &["down", "--all"]).ok();
    assert_eq!(
        db.psql("SELECT count(*) FROM strata.migrations")
            .unwrap()
            .trim(),
        "0"
    );
    assert_eq!(
        db.psql("SELECT to_regclass('x') IS NULL").unwrap().trim(),
        "t",
        "30's down, paired by version, ran"
    );
}

#[test]
fn a_strata_new_template_blocks_only_up() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(&dir, "001_users.up.sql", "CREATE TABLE users (id int);\n");
    write(&dir, "001_users.down.sql", "DROP TABLE users;\n");
    let db = TestDatabase::new("disc_template");
    strata(tmp.path(), &db, &["new", "add email"]).ok();
    let written: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("000002") || n.starts_with("002"))
        .collect();
    assert_eq!(written.len(), 2, "{written:?}");
    // status, lint and new still work with the template present.
    strata(tmp.path(), &db, &["status"]).ok();
    let lint = strata(tmp.path(), &db, &["lint"]);
    assert!(lint.code == 0 || lint.code == 1, "{}", lint.stderr);
    let run = strata(tmp.path(), &db, &["up"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("still the template `strata new` wrote")
            && run.stderr.contains("strata up --to 001"),
        "{}",
        run.stderr
    );
    assert_eq!(
        db.psql("SELECT to_regclass('strata.migrations') IS NULL")
            .unwrap()
            .trim(),
        "t",
        "nothing was applied"
    );
    strata(tmp.path(), &db, &["up", "--to", "001"]).ok();
    // Written, with the marker line deleted, it applies.
    let up = written.iter().find(|n| n.contains(".up.")).unwrap();
    std::fs::write(dir.join(up), "ALTER TABLE users ADD COLUMN email text;\n").unwrap();
    strata(tmp.path(), &db, &["up"]).ok();
    assert_eq!(
        db.psql("SELECT count(*) FROM strata.migrations")
            .unwrap()
            .trim(),
        "2"
    );
}

#[test]
fn sqitch_projects_ignore_their_other_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("db");
    copy_dir(
        &repo_root().join("fixtures/layouts/sqitch/ok/flipr"),
        &project,
    );
    write(&project, "queries/report.sql", "SELECT 1;\n");
    write(&project, "queries/top.sql", "SELECT 2;\n");
    write(&project, "test/smoke.sql", "SELECT 3;\n");
    write(
        &project,
        "deploy/orphan.sql",
        "CREATE TABLE orphan (id int);\n",
    );
    let db = TestDatabase::new("disc_sqitch");
    let status = strata(tmp.path(), &db, &["--dir", "db", "status"]).ok();
    assert!(
        status.stdout.contains("queries/ (2 files)") && status.stdout.contains("test/ (1 file)"),
        "{}",
        status.stdout
    );
    assert!(
        status
            .stdout
            .contains("warning: deploy/orphan.sql: this script belongs to no change"),
        "{}",
        status.stdout
    );
    strata(tmp.path(), &db, &["--dir", "db", "up"]).ok();
    assert_eq!(
        db.psql("SELECT to_regclass('orphan') IS NULL")
            .unwrap()
            .trim(),
        "t"
    );
}

const DBMATE_USERS: &str =
    "-- migrate:up\nCREATE TABLE users (id int);\n\n-- migrate:down\nDROP TABLE users;\n";

fn state_of(tmp: &std::path::Path, db: &TestDatabase) -> String {
    let doc = strata(tmp, db, &["--json", "status"]).ok().json();
    doc["sets"][0]["migrations"][0]["state"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn editing_only_the_down_section_is_not_an_edit_of_the_applied_up() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(&dir, "001_users.sql", DBMATE_USERS);
    let db = TestDatabase::new("disc_down_edit");
    strata(tmp.path(), &db, &["up"]).ok();
    let algorithm = db
        .psql("SELECT checksum_algorithm FROM strata.migrations")
        .unwrap();
    assert_eq!(algorithm.trim(), "sha256-lf-up");
    write(
        &dir,
        "001_users.sql",
        "-- migrate:up\nCREATE TABLE users (id int);\n\n-- migrate:down\nDROP TABLE IF EXISTS users;\n",
    );
    assert_eq!(state_of(tmp.path(), &db), "applied");
    strata(tmp.path(), &db, &["down"]).ok();
    assert_eq!(
        db.psql("SELECT to_regclass('users') IS NULL")
            .unwrap()
            .trim(),
        "t",
        "the edited down ran"
    );
    strata(tmp.path(), &db, &["up"]).ok();
    // The up section is what was applied: editing it is an edit.
    write(
        &dir,
        "001_users.sql",
        "-- migrate:up\nCREATE TABLE users (id bigint);\n\n-- migrate:down\nDROP TABLE IF EXISTS users;\n",
    );
    assert_eq!(state_of(tmp.path(), &db), "modified");
}

#[test]
fn rows_of_the_previous_release_are_rehashed_in_place() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(&dir, "001_users.sql", DBMATE_USERS);
    let db = TestDatabase::new("disc_rehash");
    strata(tmp.path(), &db, &["up"]).ok();
    // What the previous release left: registry layout 1 and the whole file's sha256-lf.
    let whole = strata_model::Checksum::of_bytes(DBMATE_USERS.as_bytes()).hex;
    db.psql(&format!(
        "DELETE FROM strata.registry_version WHERE version = 2; \
         ALTER TABLE strata.events DROP CONSTRAINT events_kind_check; \
         ALTER TABLE strata.events ADD CONSTRAINT events_kind_check CHECK (kind IN ('apply', 'revert', 'fail', 'baseline', 'mark', 'accept', 'adopt', 'resume', 'fresh')); \
         UPDATE strata.migrations SET checksum = '{whole}', checksum_algorithm = 'sha256-lf';"
    ))
    .unwrap();
    // Read-only verbs see it as applied, not modified.
    assert_eq!(state_of(tmp.path(), &db), "applied");
    strata(tmp.path(), &db, &["validate"]).ok();
    // The next up (nothing to apply) upgrades the row and the registry, and says so.
    let run = strata(tmp.path(), &db, &["up"]).ok();
    assert!(
        run.stderr.contains("recorded 1 checksum(s)"),
        "{}",
        run.stderr
    );
    let row = db
        .psql("SELECT checksum_algorithm FROM strata.migrations")
        .unwrap();
    assert_eq!(row.trim(), "sha256-lf-up");
    let event = db
        .psql("SELECT details->>'from' FROM strata.events WHERE kind = 'rehash'")
        .unwrap();
    assert_eq!(event.trim(), format!("sha256-lf:{whole}"));
    assert_eq!(
        db.psql("SELECT max(version) FROM strata.registry_version")
            .unwrap()
            .trim(),
        "2"
    );
    // From now on the down section is free to change.
    write(
        &dir,
        "001_users.sql",
        "-- migrate:up\nCREATE TABLE users (id int);\n\n-- migrate:down\nDROP TABLE IF EXISTS users;\n",
    );
    assert_eq!(state_of(tmp.path(), &db), "applied");
    let run = strata(tmp.path(), &db, &["up"]).ok();
    assert!(run.stdout.contains("nothing to do"), "{}", run.stdout);
}

#[test]
fn up_stops_before_a_code_migration_and_goes_on_once_it_is_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(
        &dir,
        "00001_users.sql",
        "-- +goose Up\nCREATE TABLE users (id int);\n-- +goose Down\nDROP TABLE users;\n",
    );
    write(
        &dir,
        "00002_backfill.go",
        "package migrations\n\n// Backfills users in Go.\n",
    );
    write(
        &dir,
        "00003_orders.sql",
        "-- +goose Up\nCREATE TABLE orders (id int);\n-- +goose Down\nDROP TABLE orders;\n",
    );
    let db = TestDatabase::new("disc_code");
    let status = strata(tmp.path(), &db, &["status"]).ok();
    assert!(
        status
            .stdout
            .contains("warning: 00002_backfill.go: a Go migration"),
        "{}",
        status.stdout
    );
    // lint skips it instead of parsing Go as SQL.
    let lint = strata(tmp.path(), &db, &["lint"]);
    assert!(!lint.stdout.contains("syntax"), "{}", lint.stdout);
    let run = strata(tmp.path(), &db, &["up"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("stopped before migration 00002")
            && run.stderr.contains("Go migration")
            && run.stderr.contains("1 migration(s) before it were applied")
            && run.stderr.contains(" baseline 00002"),
        "{}",
        run.stderr
    );
    assert_eq!(
        db.psql("SELECT string_agg(key, ',' ORDER BY key) FROM strata.migrations")
            .unwrap()
            .trim(),
        "00001"
    );
    // goose ran it (and recorded it in its own table); adopt records it, up goes on.
    db.psql(
        "CREATE TABLE goose_db_version (id serial PRIMARY KEY, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp DEFAULT now()); \
         INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (1, true), (2, true);",
    )
    .unwrap();
    strata(tmp.path(), &db, &["adopt", "--apply"]).ok();
    strata(tmp.path(), &db, &["up"]).ok();
    assert_eq!(
        db.psql("SELECT string_agg(key, ',' ORDER BY key) FROM strata.migrations")
            .unwrap()
            .trim(),
        "00001,00002,00003"
    );
    assert_eq!(
        db.psql("SELECT to_regclass('orders') IS NOT NULL")
            .unwrap()
            .trim(),
        "t"
    );
}

#[test]
fn a_goose_migration_without_a_down_section_reverts_as_a_no_op() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(
        &dir,
        "00001_users.sql",
        "-- +goose Up\nCREATE TABLE users (id int);\n",
    );
    let db = TestDatabase::new("disc_goose_nodown");
    strata(tmp.path(), &db, &["up"]).ok();
    strata(tmp.path(), &db, &["down"]).ok();
    assert_eq!(
        db.psql("SELECT count(*) FROM strata.migrations")
            .unwrap()
            .trim(),
        "0",
        "the revert is recorded"
    );
    assert_eq!(
        db.psql("SELECT to_regclass('users') IS NOT NULL")
            .unwrap()
            .trim(),
        "t",
        "and did nothing, as goose does"
    );
}

#[test]
fn a_version_shared_by_several_files_never_runs_one_twice() {
    // midday keeps `0010_add_customer_enrichment.sql` beside `0010_add_invoice_recurring.sql`:
    // both run, in file-name order, each recorded under its own key.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(&dir, "0009_base.sql", "CREATE TABLE log (n int);\n");
    write(&dir, "0010_b.sql", "INSERT INTO log VALUES (2);\n");
    let db = TestDatabase::new("disc_shared");
    strata(tmp.path(), &db, &["--dir", "migrations", "up"]).ok();
    // A second file with an applied file's version arrives (a merge of two branches): it
    // runs, and the applied one (recorded under the bare version) does not run again.
    write(&dir, "0010_a.sql", "INSERT INTO log VALUES (1);\n");
    write(&dir, "0011_c.sql", "INSERT INTO log VALUES (3);\n");
    let status = strata(tmp.path(), &db, &["--dir", "migrations", "status"]).ok();
    assert!(
        status
            .stdout
            .contains("share their version with another one"),
        "{}",
        status.stdout
    );
    let run = strata(tmp.path(), &db, &["--dir", "migrations", "up"]).ok();
    assert!(run.stdout.contains("0010_a"), "{}", run.stdout);
    assert_eq!(
        db.psql("SELECT string_agg(n::text, ',' ORDER BY n) FROM log")
            .unwrap()
            .trim(),
        "1,2,3"
    );
    assert_eq!(
        db.psql("SELECT string_agg(key || '=' || name, ',' ORDER BY key) FROM strata.migrations")
            .unwrap()
            .trim(),
        "0009=base,0010=b,0010_a=a,0011=c"
    );
    // Everything is applied; another run does nothing, from any path.
    let again = strata(tmp.path(), &db, &["--dir", "migrations", "up"]).ok();
    assert!(!again.stdout.contains("applied 0010"), "{}", again.stdout);
    assert_eq!(db.psql("SELECT count(*) FROM log").unwrap().trim(), "3");
    // A command that names one migration of the group needs its key.
    let run = strata(
        tmp.path(),
        &db,
        &[
            "--dir",
            "migrations",
            "repair",
            "10",
            "--mark-reverted",
            "--reason",
            "test",
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr
            .contains("version `10` is shared by 2 migrations"),
        "{}",
        run.stderr
    );
    strata(
        tmp.path(),
        &db,
        &[
            "--dir",
            "migrations",
            "repair",
            "0010_a",
            "--mark-reverted",
            "--reason",
            "test",
        ],
    )
    .ok();
    assert_eq!(
        db.psql("SELECT count(*) FROM strata.migrations WHERE key = '0010_a'")
            .unwrap()
            .trim(),
        "0"
    );
}
