//! Every layout, end to end: the fixture folders under `fixtures/layouts/<layout>/{ok,err}` are
//! the assertions. Each `ok` case is applied by the real binary on a real database, checked with
//! `status`, reverted to the starting schema when it has downs, re-applied, redone, and then
//! edited to prove `validate` notices. Each `err` case must be refused with the messages listed
//! in its `.expect` file.

mod common;

use common::*;
use std::path::Path;

fn cases(layout: &str, kind: &str) -> Vec<std::path::PathBuf> {
    let dir = repo_root().join("fixtures/layouts").join(layout).join(kind);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no {kind} cases for {layout}");
    out
}

fn ok_case(layout: &str, case: &Path) {
    let name = case.file_name().unwrap().to_string_lossy().into_owned();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    copy_dir(case, &dir);
    let db = TestDatabase::new(&format!("l_{layout}"));
    let ctx = format!("{layout}/ok/{name}");
    let before = snapshot(&db);

    let run = strata(tmp.path(), &db, &["--dir", "migrations", "up"]);
    assert_eq!(
        run.code, 0,
        "{ctx}: up failed\n{}\n{}",
        run.stdout, run.stderr
    );
    let status = strata(
        tmp.path(),
        &db,
        &["--dir", "migrations", "--json", "status", "--check"],
    );
    assert_eq!(
        status.code, 0,
        "{ctx}: status --check\n{}\n{}",
        status.stdout, status.stderr
    );
    let doc = status.json();
    let set = &doc["sets"][0];
    assert_eq!(set["layout"], layout, "{ctx}: detected layout");
    // `<case>.ignored` and `<case>.warnings` beside the case: files listed as ignored, and
    // phrases of the warnings, that status must show (and nothing else is ignored or warned).
    let sidecar = |ext: &str| {
        std::fs::read_to_string(case.with_extension(ext))
            .map(|t| {
                t.lines()
                    .map(str::to_owned)
                    .filter(|l| !l.is_empty())
                    .collect()
            })
            .unwrap_or_else(|_| Vec::<String>::new())
    };
    let ignored: Vec<String> = set["ignored_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ignored, sidecar("ignored"), "{ctx}: ignored files");
    let warnings = set["warnings"].to_string();
    let expected_warnings = sidecar("warnings");
    for phrase in &expected_warnings {
        assert!(
            warnings.contains(phrase.as_str()),
            "{ctx}: warnings lack {phrase:?}: {warnings}"
        );
    }
    if expected_warnings.is_empty() {
        assert_eq!(warnings, "[]", "{ctx}: unexpected warnings");
    }
    let migrations = set["migrations"].as_array().unwrap();
    assert!(!migrations.is_empty());
    for m in migrations {
        assert_eq!(m["state"], "applied", "{ctx}: {m}");
        assert!(
            m["applied_at"].is_string()
                && m["applied_by"].is_string()
                && m["duration_ms"].is_number(),
            "{ctx}: {m}"
        );
    }
    let after_up = snapshot(&db);
    assert_ne!(before, after_up, "{ctx}: up changed nothing");

    let loaded = load(&dir);
    let reversible = loaded.versioned().all(|m| m.down.is_some());
    let has_repeatables = loaded.migrations.len() != loaded.versioned().count();
    if reversible && !has_repeatables {
        let run = strata(tmp.path(), &db, &["--dir", "migrations", "down", "--all"]);
        assert_eq!(
            run.code, 0,
            "{ctx}: down --all\n{}\n{}",
            run.stdout, run.stderr
        );
        assert_eq!(
            snapshot(&db),
            before,
            "{ctx}: down --all did not restore the starting schema"
        );
        strata(tmp.path(), &db, &["--dir", "migrations", "up"]).ok();
        assert_eq!(
            snapshot(&db),
            after_up,
            "{ctx}: re-applying gave another schema"
        );
        strata(tmp.path(), &db, &["--dir", "migrations", "redo"]).ok();
        assert_eq!(snapshot(&db), after_up, "{ctx}: redo gave another schema");
    } else if !reversible {
        let run = strata(tmp.path(), &db, &["--dir", "migrations", "down", "--all"]);
        assert_eq!(
            run.code, 2,
            "{ctx}: down --all must refuse without down scripts"
        );
        assert!(
            run.stderr.contains("has no down script"),
            "{ctx}: {}",
            run.stderr
        );
        assert_eq!(
            snapshot(&db),
            after_up,
            "{ctx}: a refused down changed the schema"
        );
    }

    strata(tmp.path(), &db, &["--dir", "migrations", "validate"]).ok();
    // Editing an applied migration is drift that validate and status --check must report.
    let first = loaded.versioned().next().unwrap();
    // (In the up section: a dbmate or goose file's down section is not part of what ran.)
    let text = std::fs::read_to_string(first.path()).unwrap();
    let edit = "-- edited after it was applied\n";
    let edited = ["-- migrate:up", "-- +goose Up", "-- +goose up"]
        .iter()
        .find_map(|marker| {
            let at = text.find(marker)?;
            let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i + 1);
            Some(format!("{}{edit}{}", &text[..line_end], &text[line_end..]))
        })
        .unwrap_or_else(|| format!("{text}\n{edit}"));
    std::fs::write(first.path(), edited).unwrap();
    let run = strata(tmp.path(), &db, &["--dir", "migrations", "validate"]);
    assert_eq!(
        run.code, 1,
        "{ctx}: validate after an edit\n{}\n{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stdout.contains("modified")
            && run
                .stdout
                .contains(first.id.version.as_ref().unwrap().as_str()),
        "{ctx}: {}",
        run.stdout
    );
    assert_eq!(
        strata(
            tmp.path(),
            &db,
            &["--dir", "migrations", "status", "--check"]
        )
        .code,
        1,
        "{ctx}"
    );
    let run = strata(tmp.path(), &db, &["--dir", "migrations", "up"]);
    assert_eq!(
        run.code, 2,
        "{ctx}: up must refuse while an applied migration is modified"
    );
}

fn err_case(layout: &str, case: &Path) {
    let expect_file = case.with_extension("expect");
    let expect = std::fs::read_to_string(&expect_file)
        .unwrap_or_else(|e| panic!("{}: {e}", expect_file.display()));
    let run = strata_raw(
        case.parent().unwrap(),
        &[
            "--database-url",
            "postgres://nobody@127.0.0.1:1/never",
            "--dir",
            case.to_str().unwrap(),
            "status",
        ],
    );
    let ctx = format!(
        "{layout}/err/{}",
        case.file_name().unwrap().to_string_lossy()
    );
    assert_eq!(
        run.code, 2,
        "{ctx}: must be refused\n{}\n{}",
        run.stdout, run.stderr
    );
    let lower = run.stderr.to_lowercase();
    for line in expect.lines().map(str::trim).filter(|l| !l.is_empty()) {
        assert!(
            lower.contains(&line.to_lowercase()),
            "{ctx}: error lacks {line:?}:\n{}",
            run.stderr
        );
    }
    assert!(
        !lower.contains("cannot connect"),
        "{ctx}: discovery must fail before touching the database"
    );
}

fn layout_suite(layout: &str) {
    for case in cases(layout, "ok") {
        ok_case(layout, &case);
    }
    for case in cases(layout, "err") {
        err_case(layout, &case);
    }
}

#[test]
fn updown() {
    layout_suite("updown");
}

#[test]
fn plain() {
    layout_suite("plain");
}

#[test]
fn flyway() {
    layout_suite("flyway");
}

#[test]
fn dbmate() {
    layout_suite("dbmate");
}

#[test]
fn goose() {
    layout_suite("goose");
}

#[test]
fn diesel() {
    layout_suite("diesel");
}

#[test]
fn sqitch() {
    layout_suite("sqitch");
}

#[test]
fn prisma() {
    layout_suite("prisma");
}

/// `baseline` and `new` in every layout, on the layout's first ok case.
#[test]
fn baseline_and_new_in_every_layout() {
    for layout in [
        "updown", "plain", "flyway", "dbmate", "goose", "diesel", "prisma",
    ] {
        let case = &cases(layout, "ok")[0];
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("migrations");
        copy_dir(case, &dir);
        let db = TestDatabase::new(&format!("b_{layout}"));
        let empty = snapshot(&db);
        let set = load(&dir);
        let first = set
            .versioned()
            .next()
            .unwrap()
            .id
            .version
            .clone()
            .unwrap()
            .to_string();
        let run = strata(
            tmp.path(),
            &db,
            &["--dir", "migrations", "baseline", &first],
        )
        .ok();
        assert!(run.stdout.contains("baselined"), "{layout}: {}", run.stdout);
        assert_eq!(
            snapshot(&db),
            empty,
            "{layout}: baseline must not run anything"
        );
        let doc = strata(
            tmp.path(),
            &db,
            &["--dir", "migrations", "--json", "status"],
        )
        .ok()
        .json();
        let states: Vec<&str> = doc["sets"][0]["migrations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["state"].as_str().unwrap())
            .collect();
        assert_eq!(states[0], "applied", "{layout}: {states:?}");
        assert!(
            states[1..].iter().all(|s| *s == "pending"),
            "{layout}: {states:?}"
        );

        let db2 = TestDatabase::new(&format!("n_{layout}"));
        strata(tmp.path(), &db2, &["--dir", "migrations", "up"]).ok();
        let created = strata(
            tmp.path(),
            &db2,
            &["--dir", "migrations", "--json", "new", "add strata probe"],
        )
        .ok()
        .json();
        let files: Vec<String> = created["created"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap().to_owned())
            .collect();
        assert!(!files.is_empty());
        for f in &files {
            // Written as a user writes it: the template marker line goes.
            let text = std::fs::read_to_string(f)
                .unwrap()
                .replace("-- strata:template\n", "");
            let is_down = f.ends_with("down.sql");
            let new_text = if layout == "dbmate" {
                text.replacen(
                    "-- migrate:up\n",
                    "-- migrate:up\ncreate table strata_probe (id int);\n",
                    1,
                )
                .replacen(
                    "-- migrate:down\n",
                    "-- migrate:down\ndrop table strata_probe;\n",
                    1,
                )
            } else if layout == "goose" {
                text.replacen(
                    "-- +goose Up\n",
                    "-- +goose Up\ncreate table strata_probe (id int);\n",
                    1,
                )
                .replacen(
                    "-- +goose Down\n",
                    "-- +goose Down\ndrop table strata_probe;\n",
                    1,
                )
            } else if is_down {
                "drop table strata_probe;\n".to_owned()
            } else {
                "create table strata_probe (id int);\n".to_owned()
            };
            std::fs::write(f, new_text).unwrap();
        }
        strata(tmp.path(), &db2, &["--dir", "migrations", "up"]).ok();
        assert!(
            snapshot(&db2).contains("rel public.strata_probe r"),
            "{layout}: the new migration was not applied"
        );
        // Neither writes a down script for a new migration.
        if layout != "flyway" && layout != "prisma" {
            strata(tmp.path(), &db2, &["--dir", "migrations", "down"]).ok();
            assert!(
                !snapshot(&db2).contains("strata_probe"),
                "{layout}: the new migration's down did not run"
            );
        }
    }
}

/// A Flyway set kept in two locations (`[[set]] dirs`): the versions interleave across them and
/// apply in version order (each migration needs the one before it), paths stay relative and
/// unambiguous, and a version claimed in both locations is refused naming both files.
#[test]
fn flyway_locations_merge_in_version_order() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::write(
        root.join("strata.toml"),
        "[[set]]\nname = \"app\"\ndirs = [\"db/migration\", \"db/tenant\"]\n",
    )
    .unwrap();
    let main = root.join("db/migration");
    let tenant = root.join("db/tenant");
    write(
        &main,
        "V1__users.sql",
        "CREATE TABLE users (id bigint PRIMARY KEY);\n",
    );
    write(
        &tenant,
        "V2__users_tenant.sql",
        "ALTER TABLE users ADD COLUMN tenant text;\n",
    );
    write(
        &main,
        "V3__orders.sql",
        "CREATE TABLE orders (id bigint PRIMARY KEY, tenant text);\nCREATE VIEW tenant_orders AS SELECT o.id, u.tenant FROM orders o JOIN users u ON u.tenant = o.tenant;\n",
    );
    write(
        &tenant,
        "nested/V4__tenant_index.sql",
        "CREATE INDEX users_tenant ON users (tenant);\n",
    );
    write(
        &main,
        "V10__orders_total.sql",
        "ALTER TABLE orders ADD COLUMN total bigint;\n",
    );
    // Outside both locations: not part of the set.
    write(
        &root.join("db/seeds"),
        "V99__seed.sql",
        "INSERT INTO users VALUES (1);\n",
    );
    let db = TestDatabase::new("locations");
    let status = strata(root, &db, &["status"]).ok();
    assert!(
        status
            .stdout
            .contains("2 Flyway locations (db/migration, db/tenant)"),
        "{}",
        status.stdout
    );
    strata(root, &db, &["up"]).ok();
    let applied = db
        .psql("SELECT string_agg(key, ',' ORDER BY id) FROM strata.events WHERE kind = 'apply'")
        .unwrap();
    assert_eq!(applied.trim(), "1,2,3,4,10");
    let doc = strata(root, &db, &["--json", "status", "--check"])
        .ok()
        .json();
    let files: Vec<String> = doc["sets"][0]["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["file"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        files[1].ends_with("db/tenant/V2__users_tenant.sql"),
        "{files:?}"
    );
    assert!(
        files[3].ends_with("db/tenant/nested/V4__tenant_index.sql"),
        "{files:?}"
    );
    // A new migration lands in the first location.
    let created = strata(root, &db, &["--json", "new", "add notes"])
        .ok()
        .json();
    let path = created["created"][0].as_str().unwrap().to_owned();
    assert!(path.ends_with("db/migration/V11__add_notes.sql"), "{path}");
    std::fs::remove_file(path).unwrap();
    // One version in both locations: refused before touching the database, naming both.
    write(&tenant, "V3__tenant_orders.sql", "SELECT 1;\n");
    let run = strata(root, &db, &["status"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(
            "db/migration/V3__orders.sql, db/tenant/V3__tenant_orders.sql: duplicate version 3"
        ),
        "{}",
        run.stderr
    );
    // --dir naming one location is not the set.
    let run = strata(root, &db, &["--dir", "db/tenant", "status"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("use --set app"), "{}", run.stderr);
}

/// A home-grown naming scheme read through `layout = "pattern"`, with a declared placeholder
/// syntax (`/* SCHEMA */`) rendered from `--var`; the checksum is the unrendered file's.
#[test]
fn pattern_layout_with_a_declared_placeholder_syntax() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::write(
        root.join("strata.toml"),
        r#"[[set]]
name = "app"
dir = "db"
layout = "pattern"
pattern = '^M(?P<version>\d+)\.(?P<name>[a-z_]+)\.(?P<direction>forward|backward)\.sql$'
up_direction = "forward"
down_direction = "backward"
placeholder_syntax = "/* {name} */"
"#,
    )
    .unwrap();
    let dir = root.join("db");
    write(
        &dir,
        "M0001.add_users.forward.sql",
        "/* Users of one tenant. */\nCREATE SCHEMA /* SCHEMA */;\nCREATE TABLE /* SCHEMA */.users (id bigint PRIMARY KEY);\n",
    );
    write(
        &dir,
        "M0001.add_users.backward.sql",
        "DROP SCHEMA /* SCHEMA */ CASCADE;\n",
    );
    write(
        &dir,
        "M0002.add_orders.forward.sql",
        "CREATE TABLE /* SCHEMA */.orders (id bigint PRIMARY KEY, user_id bigint REFERENCES /* SCHEMA */.users (id));\n",
    );
    write(
        &dir,
        "M0002.add_orders.backward.sql",
        "DROP TABLE /* SCHEMA */.orders;\n",
    );
    write(&dir, "README.md", "How we name migrations.\n");
    write(&dir, "cleanup.sql", "VACUUM;\n");
    let db = TestDatabase::new("pattern");
    // Without a value the placeholder is an error naming file and line.
    let run = strata(root, &db, &["up"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("M0001.add_users.forward.sql: line 2: no value for placeholder `SCHEMA`"),
        "{}",
        run.stderr
    );
    strata(root, &db, &["--var", "SCHEMA=tenant_a", "up"]).ok();
    assert_eq!(
        db.psql("SELECT count(*) FROM tenant_a.orders")
            .unwrap()
            .trim(),
        "0"
    );
    let doc = strata(
        root,
        &db,
        &["--var", "SCHEMA=tenant_a", "--json", "status", "--check"],
    )
    .ok()
    .json();
    let set = &doc["sets"][0];
    assert_eq!(set["layout"], "pattern");
    assert_eq!(
        set["ignored_files"],
        serde_json::json!(["README.md", "cleanup.sql"])
    );
    let versions: Vec<&str> = set["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["0001", "0002"]);
    // The checksum is the unrendered file's: another value is not an edit.
    strata(root, &db, &["--var", "SCHEMA=other", "status", "--check"]).ok();
    strata(root, &db, &["--var", "SCHEMA=tenant_a", "down", "--all"]).ok();
    assert_eq!(
        db.psql("SELECT count(*) FROM pg_namespace WHERE nspname = 'tenant_a'")
            .unwrap()
            .trim(),
        "0"
    );
    let run = strata(root, &db, &["new", "add_more"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("create the files by hand"),
        "{}",
        run.stderr
    );
}
