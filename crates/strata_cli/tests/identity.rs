//! A set's history does not depend on where its files sit, and `up` never runs an applied
//! migration a second time: the same folder seen from another path, a copy without `.git`, a
//! renamed directory, an old registry keyed by path, another set over the same files, and
//! another tool's history table. Every migration here inserts a row, so a second run shows as
//! a duplicate in `ledger` (and a re-run `CREATE TABLE` would fail outright).

mod common;

use common::*;
use std::path::Path;

/// Three migrations that each create a table and append to `ledger`.
fn write_set(dir: &Path) {
    write(
        dir,
        "001_ledger.up.sql",
        "CREATE TABLE ledger (step int);\nINSERT INTO ledger VALUES (1);\n",
    );
    write(dir, "001_ledger.down.sql", "DROP TABLE ledger;\n");
    write(
        dir,
        "002_users.up.sql",
        "CREATE TABLE users (id int);\nINSERT INTO ledger VALUES (2);\n",
    );
    write(dir, "002_users.down.sql", "DROP TABLE users;\n");
    write(
        dir,
        "003_orders.up.sql",
        "CREATE TABLE orders (id int);\nINSERT INTO ledger VALUES (3);\n",
    );
    write(dir, "003_orders.down.sql", "DROP TABLE orders;\n");
}

fn ledger(db: &TestDatabase) -> String {
    db.psql("SELECT string_agg(step::text, ',' ORDER BY step) FROM ledger")
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
fn the_same_folder_from_other_paths_is_one_history() {
    let tmp = tempfile::tempdir().unwrap();
    let db = TestDatabase::new("identity_paths");
    // A repository checkout, applied from its root.
    let repo = tmp.path().join("checkout/repo");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    write_set(&repo.join("db/migrations"));
    strata(&repo, &db, &["--dir", "db/migrations", "up"]).ok();
    assert_eq!(ledger(&db), "1,2,3");
    let key = db
        .psql("SELECT DISTINCT set_name FROM strata.migrations")
        .unwrap();
    assert_eq!(key.trim(), "default");

    // The same files in a container image: no `.git`, another absolute path.
    let image = tmp.path().join("image/app");
    copy_dir(&repo.join("db/migrations"), &image.join("migrations"));
    let run = strata(&image, &db, &["up"]).ok();
    assert!(run.stdout.contains("nothing to do"), "{}", run.stdout);
    // A renamed directory, with a fourth migration added.
    let renamed = tmp.path().join("renamed");
    copy_dir(&repo.join("db/migrations"), &renamed.join("sql"));
    write(
        &renamed.join("sql"),
        "004_more.up.sql",
        "INSERT INTO ledger VALUES (4);\n",
    );
    let status = strata(&renamed, &db, &["--dir", "sql", "--json", "status"]).ok();
    let states: Vec<String> = status.json()["sets"][0]["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["state"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(states, ["applied", "applied", "applied", "pending"]);
    strata(&renamed, &db, &["--dir", "sql", "up"]).ok();
    assert_eq!(ledger(&db), "1,2,3,4");
}

#[test]
fn a_second_unnamed_folder_is_refused_until_it_has_a_name() {
    let tmp = tempfile::tempdir().unwrap();
    let db = TestDatabase::new("identity_second");
    write_set(&tmp.path().join("first"));
    strata(tmp.path(), &db, &["--dir", "first", "up"]).ok();
    // Another folder, other migrations, also unnamed: it would merge into the first's history.
    let second = tmp.path().join("second");
    write(&second, "001_audit.sql", "CREATE TABLE audit (id int);\n");
    let run = strata(tmp.path(), &db, &["--dir", "second", "up"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("does not match")
            && run.stderr.contains("--set NAME")
            && run.stderr.contains("Nothing was applied"),
        "{}",
        run.stderr
    );
    assert_eq!(
        db.psql("SELECT to_regclass('audit') IS NULL")
            .unwrap()
            .trim(),
        "t"
    );
    // Named, it keeps a history of its own; the first set's is untouched.
    strata(
        tmp.path(),
        &db,
        &["--dir", "second", "--set", "audit", "up"],
    )
    .ok();
    let sets = db
        .psql("SELECT string_agg(set_name || ':' || key, ',' ORDER BY set_name, key) FROM strata.migrations")
        .unwrap();
    assert_eq!(sets.trim(), "audit:001,default:001,default:002,default:003");
}

#[test]
fn a_registry_keyed_by_path_is_taken_over_without_running_anything() {
    let tmp = tempfile::tempdir().unwrap();
    let db = TestDatabase::new("identity_old_key");
    let dir = tmp.path().join("app/migrations");
    write_set(&dir);
    // What an older strata recorded for this unnamed set: its path below the repository root.
    strata(
        tmp.path(),
        &db,
        &[
            "--dir",
            "app/migrations",
            "--set",
            "app/migrations",
            "up",
            "--to",
            "2",
        ],
    )
    .ok();
    let status = strata(tmp.path(), &db, &["--dir", "app/migrations", "status"]).ok();
    assert!(
        status.stdout.contains("recorded as set `app/migrations`"),
        "{}",
        status.stdout
    );
    // A run refused after the checks (here: a template left by `strata new`) moves nothing;
    // nor does a dry run.
    write(&dir, "004_later.up.sql", strata_source::UP_TEMPLATE);
    let refused = strata(tmp.path(), &db, &["--dir", "app/migrations", "up"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    std::fs::remove_file(dir.join("004_later.up.sql")).unwrap();
    let dry = strata(
        tmp.path(),
        &db,
        &["--dir", "app/migrations", "up", "--dry-run"],
    )
    .ok();
    assert!(dry.stderr.contains("would take over"), "{}", dry.stderr);
    let keys = db
        .psql("SELECT string_agg(DISTINCT set_name, ',') FROM strata.migrations")
        .unwrap();
    assert_eq!(keys.trim(), "app/migrations");
    let run = strata(tmp.path(), &db, &["--dir", "app/migrations", "up"]).ok();
    assert!(
        run.stderr
            .contains("took over the history recorded as `app/migrations`"),
        "{}",
        run.stderr
    );
    assert_eq!(ledger(&db), "1,2,3", "001 and 002 ran once, 003 once");
    let keys = db
        .psql("SELECT string_agg(DISTINCT set_name, ',') FROM strata.migrations")
        .unwrap();
    assert_eq!(keys.trim(), "default");
    let event = db
        .psql("SELECT details->>'from_set' || ' ' || (details->>'rows') FROM strata.events WHERE kind = 'adopt'")
        .unwrap();
    assert_eq!(event.trim(), "app/migrations 2");
}

#[test]
fn ambiguous_old_histories_are_listed_and_moved_by_hand() {
    let tmp = tempfile::tempdir().unwrap();
    let db = TestDatabase::new("identity_ambiguous");
    write_set(&tmp.path().join("migrations"));
    // Written to survive a second run, as many real migrations are: exactly the ones that
    // silently duplicate their data when run twice.
    write(
        &tmp.path().join("migrations"),
        "001_ledger.up.sql",
        "CREATE TABLE IF NOT EXISTS ledger (step int);\nINSERT INTO ledger VALUES (1);\n",
    );
    for old in ["one/migrations", "two/migrations"] {
        strata(
            tmp.path(),
            &db,
            &[
                "--dir",
                "migrations",
                "--set",
                old,
                "up",
                "--to",
                "1",
                "--ignore-foreign",
            ],
        )
        .ok();
    }
    // (The ledger now holds step 1 twice: that is what two names for one folder do.)
    let run = strata(tmp.path(), &db, &["--dir", "migrations", "up"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("`one/migrations` (1 of its 1 row(s) match these files)")
            && run.stderr.contains("`two/migrations`")
            && run
                .stderr
                .contains("adopt --from-set one/migrations --apply"),
        "{}",
        run.stderr
    );
    assert_eq!(ledger(&db), "1,1");
    // The dry run changes nothing; --apply moves the one chosen.
    let dry = strata(
        tmp.path(),
        &db,
        &[
            "--dir",
            "migrations",
            "adopt",
            "--from-set",
            "one/migrations",
        ],
    )
    .ok();
    assert!(dry.stdout.contains("would take over 1"), "{}", dry.stdout);
    strata(
        tmp.path(),
        &db,
        &[
            "--dir",
            "migrations",
            "adopt",
            "--from-set",
            "one/migrations",
            "--apply",
        ],
    )
    .ok();
    strata(tmp.path(), &db, &["--dir", "migrations", "up"]).ok();
    assert_eq!(ledger(&db), "1,1,2,3");
    // A set that has a history already cannot take another.
    let run = strata(
        tmp.path(),
        &db,
        &[
            "--dir",
            "migrations",
            "adopt",
            "--from-set",
            "two/migrations",
            "--apply",
        ],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("already has 3 history row(s)"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_named_set_over_applied_files_is_refused_unless_told_otherwise() {
    let tmp = tempfile::tempdir().unwrap();
    let db = TestDatabase::new("identity_named");
    write_set(&tmp.path().join("migrations"));
    strata(tmp.path(), &db, &["--dir", "migrations", "up", "--to", "1"]).ok();
    let run = strata(
        tmp.path(),
        &db,
        &["--dir", "migrations", "--set", "svc", "up"],
    );
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr
            .contains("`default` (1 of its 1 row(s) match these files)")
            && run
                .stderr
                .contains("migrations --set svc adopt --from-set default --apply")
            && run.stderr.contains("--ignore-foreign"),
        "{}",
        run.stderr
    );
    // A copy of the same files that really is separate: here it fails on its own (the tables
    // exist), which is what an explicit override asks for.
    let run = strata(
        tmp.path(),
        &db,
        &[
            "--dir",
            "migrations",
            "--set",
            "svc",
            "up",
            "--ignore-foreign",
        ],
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
}

#[test]
fn other_tools_histories_stop_up_with_the_adopt_command() {
    let tmp = tempfile::tempdir().unwrap();
    write_set(&tmp.path().join("migrations"));
    // golang-migrate applied 001 and 002.
    let db = TestDatabase::new("identity_golang");
    db.psql(
        "CREATE TABLE ledger (step int); INSERT INTO ledger VALUES (1); \
         CREATE TABLE users (id int); INSERT INTO ledger VALUES (2); \
         CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL); \
         INSERT INTO schema_migrations VALUES (2, false);",
    )
    .unwrap();
    let run = strata(tmp.path(), &db, &["up"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(
            "golang-migrate's history in public.schema_migrations records 2 migration(s)"
        ) && run
            .stderr
            .contains("migrations adopt --from golang-migrate --apply"),
        "{}",
        run.stderr
    );
    assert_eq!(ledger(&db), "1,2");
    strata(
        tmp.path(),
        &db,
        &["adopt", "--from", "golang-migrate", "--apply"],
    )
    .ok();
    strata(tmp.path(), &db, &["up"]).ok();
    assert_eq!(ledger(&db), "1,2,3");
    // Once adopted, the old table is the past: reverting and applying again under strata (its
    // table still says version 2) goes ahead, and so does a redo.
    strata(tmp.path(), &db, &["down", "--steps", "2"]).ok();
    strata(tmp.path(), &db, &["up"]).ok();
    strata(tmp.path(), &db, &["redo"]).ok();
    assert_eq!(ledger(&db), "1,2,2,3,3,3");

    // goose applied 001, then reverted and re-applied nothing else.
    let db = TestDatabase::new("identity_goose");
    db.psql(
        "CREATE TABLE ledger (step int); INSERT INTO ledger VALUES (1); \
         CREATE TABLE goose_db_version (id serial PRIMARY KEY, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp DEFAULT now()); \
         INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (1, true);",
    )
    .unwrap();
    let run = strata(tmp.path(), &db, &["up"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("goose's history") && run.stderr.contains("(001_ledger)"),
        "{}",
        run.stderr
    );
    // The override applies anyway (and here fails on the existing table, as asked).
    let run = strata(tmp.path(), &db, &["up", "--ignore-foreign"]);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
}

#[test]
fn a_history_table_the_migrations_create_themselves_is_not_another_tool() {
    let tmp = tempfile::tempdir().unwrap();
    let db = TestDatabase::new("identity_own_table");
    let dir = tmp.path().join("migrations");
    write(
        &dir,
        "001_auth.sql",
        "CREATE SCHEMA auth;\nCREATE TABLE auth.schema_migrations (version bigint PRIMARY KEY, dirty boolean NOT NULL);\n",
    );
    strata(tmp.path(), &db, &["up"]).ok();
    write(&dir, "002_users.sql", "CREATE TABLE auth.users (id int);\n");
    strata(tmp.path(), &db, &["up"]).ok();
    assert_eq!(
        db.psql("SELECT count(*) FROM strata.migrations")
            .unwrap()
            .trim(),
        "2"
    );
}

#[test]
fn an_older_strata_s_dbmate_history_under_a_path_key_is_taken_over() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db/migrations");
    let first = "-- migrate:up\nCREATE TABLE ledger (step int);\nINSERT INTO ledger VALUES (1);\n-- migrate:down\nDROP TABLE ledger;\n";
    let second = "-- migrate:up\nINSERT INTO ledger VALUES (2);\n-- migrate:down\nDELETE FROM ledger WHERE step = 2;\n";
    write(&dir, "20250101000000_ledger.sql", first);
    write(&dir, "20250102000000_two.sql", second);
    let db = TestDatabase::new("identity_dbmate_old");
    strata(
        tmp.path(),
        &db,
        &["--dir", "db/migrations", "--set", "db/migrations", "up"],
    )
    .ok();
    // What an older strata recorded: the path key, and each whole file's sha256-lf.
    for (key, text) in [("20250101000000", first), ("20250102000000", second)] {
        let whole = strata_model::Checksum::of_bytes(text.as_bytes()).hex;
        db.psql(&format!(
            "UPDATE strata.migrations SET checksum = '{whole}', checksum_algorithm = 'sha256-lf' WHERE key = '{key}'"
        ))
        .unwrap();
    }
    write(
        &dir,
        "20250103000000_three.sql",
        "-- migrate:up\nINSERT INTO ledger VALUES (3);\n",
    );
    let run = strata(tmp.path(), &db, &["--dir", "db/migrations", "up"]).ok();
    assert!(
        run.stderr
            .contains("took over the history recorded as `db/migrations`")
            && run.stderr.contains("recorded 2 checksum(s)"),
        "{}",
        run.stderr
    );
    assert_eq!(ledger(&db), "1,2,3");
}
