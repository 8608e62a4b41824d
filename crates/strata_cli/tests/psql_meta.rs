//! psql meta-commands in migration scripts (issue 23): `\copy` streams its data through
//! `COPY ... FROM STDIN` inside the migration's transaction, display settings are accepted,
//! `\echo` is shown, and every other meta-command is refused before any of its migration runs.

mod common;

use common::*;

/// `\copy` from a program, from a file relative to the set's directory (not the working
/// directory) and from inline data, plus `\copy ... to` a file, in one transactional migration.
#[test]
fn copy_from_program_file_and_inline_data_applies_with_the_migration() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(&dir, "data/rows.csv", "3,three\n4,\"four, quoted\"\n");
    std::fs::create_dir_all(dir.join("out")).unwrap();
    write(
        &dir,
        "001_load.sql",
        "\\set ON_ERROR_STOP on\n\\timing on\n\\pset pager off\n\\echo 'loading' t\nCREATE TABLE t (a int PRIMARY KEY, b text);\n\\copy t from program 'printf ''1\\tone\\n2\\ttwo\\n'''\n\\copy t(a, b) from 'data/rows.csv' with (format csv);\n\\copy t from stdin\n5\tfive\n\\.\n\\copy (SELECT a FROM t ORDER BY a) to 'out/a.txt'\n",
    );
    let db = TestDatabase::new("meta_copy");
    let lint = strata(tmp.path(), &db, &["--dir", "migrations", "lint"]);
    assert_eq!(lint.code, 0, "{}\n{}", lint.stdout, lint.stderr);
    assert!(!lint.stdout.contains("syntax-error"), "{}", lint.stdout);
    strata(tmp.path(), &db, &["--dir", "migrations", "validate"]).ok();
    let run = strata(tmp.path(), &db, &["--dir", "migrations", "up"]).ok();
    assert!(run.stdout.contains("ECHO: loading t"), "{}", run.stdout);
    assert_eq!(
        db.psql("SELECT string_agg(a || '=' || b, ',' ORDER BY a) FROM t")
            .unwrap()
            .trim(),
        "1=one,2=two,3=three,4=four, quoted,5=five"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("out/a.txt")).unwrap(),
        "1\n2\n3\n4\n5\n"
    );
    assert_eq!(
        db.psql("SELECT state FROM strata.migrations WHERE key = '001'")
            .unwrap()
            .trim(),
        "complete"
    );
}

/// A program that exits non-zero fails the migration at the `\copy` line, and its transaction
/// rolls back: nothing of the migration stays, not even the rows the program printed.
#[test]
fn failing_program_rolls_the_migration_back() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(&dir, "001_ok.sql", "CREATE TABLE ok (id int);\n");
    write(
        &dir,
        "002_load.sql",
        "BEGIN;\nCREATE TABLE t (a int);\nINSERT INTO t VALUES (0);\n  \\copy t from program 'echo 1; echo broken pipe >&2; exit 3';\nCOMMIT;\n",
    );
    let db = TestDatabase::new("meta_fail");
    let run = strata(tmp.path(), &db, &["--dir", "migrations", "up"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    for needle in [
        "002_load.sql:4:3",
        "\\copy t from program",
        "exit status: 3",
        "broken pipe",
        "rolled back",
    ] {
        assert!(run.stderr.contains(needle), "{needle}:\n{}", run.stderr);
    }
    assert_eq!(
        db.psql("SELECT to_regclass('t') IS NULL, to_regclass('ok') IS NOT NULL")
            .unwrap()
            .trim(),
        "t|t"
    );
    assert_eq!(
        db.psql("SELECT string_agg(key, ',') FROM strata.migrations")
            .unwrap()
            .trim(),
        "001"
    );
}

/// Outside a transaction, a `\copy` of a missing file stops the migration with the statements
/// before it recorded; once the file exists, `up` resumes at the `\copy` (a meta-command counts
/// as a statement in the journal).
#[test]
fn missing_file_in_a_non_transactional_migration_resumes_at_the_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(
        &dir,
        "001_load.sql",
        "-- strata:no-transaction\nCREATE TABLE u (a int);\n\\copy u from 'seed/u.csv' csv\nCREATE INDEX CONCURRENTLY u_a ON u (a);\n",
    );
    let db = TestDatabase::new("meta_resume");
    let run = strata(tmp.path(), &db, &["--dir", "migrations", "up"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("001_load.sql:3:1"), "{}", run.stderr);
    assert!(run.stderr.contains("cannot read"), "{}", run.stderr);
    assert!(run.stderr.contains("seed/u.csv"), "{}", run.stderr);
    assert_eq!(
        db.psql("SELECT state, statements_done FROM strata.migrations")
            .unwrap()
            .trim(),
        "partial|1"
    );
    write(&dir, "seed/u.csv", "7\n8\n");
    strata(tmp.path(), &db, &["--dir", "migrations", "up"]).ok();
    assert_eq!(
        db.psql(
            "SELECT string_agg(a::text, ',' ORDER BY a), to_regclass('u_a') IS NOT NULL FROM u"
        )
        .unwrap()
        .trim(),
        "7,8|t"
    );
}

/// A meta-command strata cannot run is refused before anything of its migration runs, with
/// its position and the way out; `lint` and `validate` report it too.
#[test]
fn unsupported_meta_command_is_refused_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(&dir, "001_ok.sql", "CREATE TABLE ok (id int);\n");
    write(
        &dir,
        "002_grants.sql",
        "-- strata:no-transaction\nCREATE TABLE g (id int);\nSELECT format('GRANT SELECT ON %I TO public', 'g')\n\\gexec\n",
    );
    let db = TestDatabase::new("meta_refuse");
    // A backslash inside an unfinished statement is the statement's text, for the server.
    let lint = strata(tmp.path(), &db, &["--dir", "migrations", "lint"]);
    assert_eq!(lint.code, 1, "{}\n{}", lint.stdout, lint.stderr);
    assert!(lint.stdout.contains("syntax-error"), "{}", lint.stdout);
    assert!(
        !lint.stdout.contains("unsupported-meta-command"),
        "{}",
        lint.stdout
    );
    // Terminated, the statement leaves `\gexec` at a statement start: a meta-command.
    write(
        &dir,
        "002_grants.sql",
        "-- strata:no-transaction\nCREATE TABLE g (id int);\nSELECT format('GRANT SELECT ON %I TO public', 'g');\n\\gexec\n",
    );
    let lint = strata(tmp.path(), &db, &["--dir", "migrations", "lint"]);
    assert_eq!(lint.code, 1, "{}\n{}", lint.stdout, lint.stderr);
    assert!(
        lint.stdout.contains("unsupported-meta-command"),
        "{}",
        lint.stdout
    );
    assert!(!lint.stdout.contains("syntax-error"), "{}", lint.stdout);
    let validate = strata(tmp.path(), &db, &["--dir", "migrations", "validate"]);
    assert_ne!(validate.code, 0, "{}", validate.stdout);
    assert!(
        validate.stdout.contains("002_grants.sql:4:1"),
        "{}",
        validate.stdout
    );

    let run = strata(tmp.path(), &db, &["--dir", "migrations", "up"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    for needle in [
        "002_grants.sql:4:1",
        "`\\gexec`",
        "does not support",
        "strata baseline",
        "nothing of 002 ran",
    ] {
        assert!(run.stderr.contains(needle), "{needle}:\n{}", run.stderr);
    }
    assert_eq!(
        db.psql("SELECT to_regclass('ok') IS NOT NULL, to_regclass('g') IS NULL")
            .unwrap()
            .trim(),
        "t|t"
    );
    assert_eq!(
        db.psql("SELECT string_agg(key, ',') FROM strata.migrations")
            .unwrap()
            .trim(),
        "001"
    );
}

/// psql and sqitch run each script on a connection of its own, so two scripts may each create
/// the same temporary table (cas-cif: `create temporary table milestone` in two data changes,
/// one of them managing its own transaction); strata runs them on one connection and must not
/// let the first one's temporary tables reach the second.
#[test]
fn temporary_tables_of_one_script_do_not_reach_the_next() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    write(&dir, "001_forms.sql", "CREATE TABLE form (slug text);\n");
    write(
        &dir,
        "002_load.sql",
        "begin;\ncreate temporary table milestone (json_data jsonb);\n\\copy milestone(json_data) from program 'printf ''{\"slug\": \"a\"}\\n'''\ninsert into form select json_data->>'slug' from milestone;\ncommit;\n",
    );
    write(
        &dir,
        "003_update.sql",
        "create temporary table milestone (json_data jsonb);\ninsert into milestone values ('{\"slug\": \"b\"}');\ninsert into form select json_data->>'slug' from milestone;\n",
    );
    write(
        &dir,
        "004_dynamic.sql",
        "DO $$ BEGIN EXECUTE 'create temp table milestone (slug text)'; INSERT INTO milestone VALUES ('c'); INSERT INTO form SELECT slug FROM milestone; END $$;\n",
    );
    write(
        &dir,
        "005_again.sql",
        "create temp table milestone (slug text);\ninsert into milestone values ('d');\ninsert into form select slug from milestone;\n",
    );
    let db = TestDatabase::new("meta_temp");
    strata(tmp.path(), &db, &["--dir", "migrations", "up"]).ok();
    assert_eq!(
        db.psql("SELECT string_agg(slug, ',' ORDER BY slug) FROM form")
            .unwrap()
            .trim(),
        "a,b,c,d"
    );
}
