//! Schema snapshots, diffs, statistics, `verify` and `drift`, end to end on real PostgreSQL.
//! `fixtures/schema/all_kinds/{before,after}.sql` cover every object kind; the expected dump
//! and diff are insta snapshots. `fixtures/verify/err/<case>` are sets whose down is wrong, each
//! with the lines its report must contain.

mod common;

use common::*;

fn fixture(path: &str) -> String {
    std::fs::read_to_string(repo_root().join(path)).unwrap()
}

#[test]
fn dump_covers_every_kind_and_is_deterministic() {
    let db = TestDatabase::new("dump");
    db.psql(&fixture("fixtures/schema/all_kinds/before.sql"))
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let first = strata(tmp.path(), &db, &["--dir", ".", "schema", "dump"]).ok();
    let second = strata(tmp.path(), &db, &["--dir", ".", "schema", "dump"]).ok();
    assert_eq!(
        first.stdout, second.stdout,
        "two dumps of one schema must be byte-identical"
    );
    for kind in [
        "-- schema app",
        "-- extension pgcrypto",
        "-- table app.users",
        "-- partition app.events_2025",
        "-- table app.events",
        "-- column app.users.name_length",
        "-- constraint app.tickets.tickets_user_fk",
        "-- index app.tickets_user_idx",
        "-- sequence app.ticket_numbers",
        "-- view app.happy_users",
        "-- materialized_view app.user_counts",
        "-- function app.touch()",
        "-- procedure app.reset_moods()",
        "-- trigger app.users.users_touch",
        "-- type app.mood",
        "-- type app.email",
        "-- type app.money_pair",
        "-- type app.score_range",
        "-- policy app.users.users_self",
    ] {
        assert!(
            first.stdout.contains(kind),
            "dump lacks {kind}:\n{}",
            first.stdout
        );
    }
    assert!(
        first.stdout.contains("NOT VALID"),
        "validation state is part of a constraint"
    );
    assert!(
        !first.stdout.contains("gen_random_uuid"),
        "extension members are not the schema's"
    );
    insta::assert_snapshot!("schema_dump_all_kinds", first.stdout);
    // The JSON form carries the same objects.
    let json = strata(
        tmp.path(),
        &db,
        &["--dir", ".", "schema", "dump", "--format", "json"],
    )
    .ok()
    .json();
    assert_eq!(
        json["objects"].as_object().unwrap().len(),
        first.stdout.matches("\n-- ").count() + 1
    );
}

#[test]
fn diff_of_two_databases() {
    let a = TestDatabase::new("diff_a");
    let b = TestDatabase::new("diff_b");
    a.psql(&fixture("fixtures/schema/all_kinds/before.sql"))
        .unwrap();
    b.psql(&fixture("fixtures/schema/all_kinds/before.sql"))
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let same = strata(
        tmp.path(),
        &a,
        &["--dir", ".", "schema", "diff", &a.url(), &b.url()],
    );
    assert_eq!(same.code, 0, "{}\n{}", same.stdout, same.stderr);
    b.psql(&fixture("fixtures/schema/all_kinds/after.sql"))
        .unwrap();
    let differ = strata(
        tmp.path(),
        &a,
        &["--dir", ".", "schema", "diff", &a.url(), &b.url()],
    );
    assert_eq!(differ.code, 1, "{}", differ.stderr);
    insta::assert_snapshot!("schema_diff_all_kinds", differ.stdout);
    // A saved snapshot compares like a database.
    let saved = tmp.path().join("a.json");
    std::fs::write(
        &saved,
        strata(
            tmp.path(),
            &a,
            &["--dir", ".", "schema", "dump", "--format", "json"],
        )
        .ok()
        .stdout,
    )
    .unwrap();
    assert_eq!(
        strata(
            tmp.path(),
            &a,
            &[
                "--dir",
                ".",
                "schema",
                "diff",
                saved.to_str().unwrap(),
                "db"
            ]
        )
        .code,
        0
    );
}

/// `stats` agrees with counts computed independently from pg_catalog.
#[test]
fn stats_match_the_catalogs() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&repo_root().join("examples/laravel-cmis"), tmp.path());
    let db = TestDatabase::new("stats");
    strata(tmp.path(), &db, &["up"]).ok();
    let stats = strata(tmp.path(), &db, &["--json", "stats"]).ok().json();
    let count = |sql: &str| db.psql(sql).unwrap().trim().parse::<u64>().unwrap();
    let user_ns = "n.nspname NOT IN ('pg_catalog', 'information_schema', 'strata') AND n.nspname NOT LIKE 'pg\\_%'";
    let not_ext = |class: &str, oid: &str| {
        format!("NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '{class}'::regclass AND d.objid = {oid} AND d.deptype = 'e')")
    };
    let expected = [
        ("schemas", count(&format!("SELECT count(*) FROM pg_namespace n WHERE {user_ns} AND n.nspname <> 'public' AND {}", not_ext("pg_namespace", "n.oid")))),
        ("extensions", count("SELECT count(*) FROM pg_extension WHERE extname <> 'plpgsql'")),
        ("tables", count(&format!("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'f') AND {user_ns} AND {}", not_ext("pg_class", "c.oid")))),
        ("indexes", count(&format!("SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {user_ns} AND {}", not_ext("pg_class", "i.indrelid")))),
        ("sequences", count(&format!("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'S' AND {user_ns} AND {}", not_ext("pg_class", "c.oid")))),
        ("functions", count(&format!("SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.prokind IN ('f', 'w') AND {user_ns} AND {}", not_ext("pg_proc", "p.oid")))),
        ("triggers", count(&format!("SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT t.tgisinternal AND {user_ns}"))),
        ("views", count(&format!("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'v' AND {user_ns} AND {}", not_ext("pg_class", "c.oid")))),
    ];
    for (key, want) in expected {
        assert_eq!(stats[key].as_u64(), Some(want), "{key}: {stats}");
    }
    let by_type = |t: &str| {
        count(&format!("SELECT count(*) FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace WHERE co.contype = '{t}' AND {user_ns}"))
    };
    assert_eq!(
        stats["constraints"]["primary_key"].as_u64(),
        Some(by_type("p"))
    );
    assert_eq!(
        stats["constraints"]["foreign_key"].as_u64(),
        Some(by_type("f"))
    );
    assert_eq!(stats["constraints"]["unique"].as_u64(), Some(by_type("u")));
    assert_eq!(stats["constraints"]["check"].as_u64(), Some(by_type("c")));
    assert!(stats["tables"].as_u64().unwrap() > 0);
    assert_eq!(
        stats["public_schema"].as_bool(),
        Some(count("SELECT count(*) FROM pg_namespace WHERE nspname = 'public'") == 1)
    );
}

/// `public`, which initdb creates, is not counted with the set's schemas: a set that creates
/// 14 schemas reports 14.
#[test]
fn stats_count_public_apart() {
    let tmp = tempfile::tempdir().unwrap();
    let ddl: String = (1..=14).map(|i| format!("CREATE SCHEMA s{i};\n")).collect();
    write(tmp.path(), "migrations/1_schemas.sql", &ddl);
    let db = TestDatabase::new("stats_public");
    strata(tmp.path(), &db, &["up"]).ok();
    let text = strata(tmp.path(), &db, &["stats"]).ok().stdout;
    assert!(
        text.lines()
            .any(|l| l == "schemas            14 (plus public)"),
        "{text}"
    );
    let json = strata(tmp.path(), &db, &["--json", "stats"]).ok().json();
    assert_eq!(json["schemas"], 14);
    assert_eq!(json["public_schema"], true);
    db.psql("DROP SCHEMA public CASCADE").unwrap();
    let text = strata(tmp.path(), &db, &["stats"]).ok().stdout;
    assert!(text.lines().any(|l| l == "schemas            14"), "{text}");
    let json = strata(tmp.path(), &db, &["--json", "stats"]).ok().json();
    assert_eq!(json["public_schema"], false);
}

/// verify passes on every example set.
#[test]
fn verify_passes_on_every_example() {
    for example in [
        "marketplace",
        "laravel-cmis",
        "echo-backend",
        "audit-psql",
        "coupons-flyway",
    ] {
        let tmp = tempfile::tempdir().unwrap();
        copy_dir(&repo_root().join("examples").join(example), tmp.path());
        let run = strata_raw(tmp.path(), &["verify"]);
        assert_eq!(run.code, 0, "{example}:\n{}\n{}", run.stdout, run.stderr);
        assert!(
            run.stdout.contains("ok ") || run.stdout.contains("skip "),
            "{example}: {}",
            run.stdout
        );
    }
    // The psql-loop example ships sample data; it loads cleanly on top of its migrations.
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&repo_root().join("examples/audit-psql"), tmp.path());
    let run = strata_raw(tmp.path(), &["verify", "--with-data"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("seeded"), "{}", run.stdout);
}

/// verify fails with the precise difference on sets whose down is wrong.
#[test]
fn verify_finds_irreversible_downs() {
    let dir = repo_root().join("fixtures/verify/err");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 5);
    for case in cases {
        let expect = std::fs::read_to_string(case.with_extension("expect")).unwrap();
        let run = strata_raw(
            case.parent().unwrap(),
            &["--dir", case.to_str().unwrap(), "verify"],
        );
        assert_eq!(
            run.code,
            1,
            "{}: {}\n{}",
            case.display(),
            run.stdout,
            run.stderr
        );
        for line in expect.lines().filter(|l| !l.is_empty()) {
            assert!(
                run.stdout.contains(line),
                "{}: report lacks {line:?}:\n{}",
                case.display(),
                run.stdout
            );
        }
    }
}

/// drift lists out-of-band changes to the live database.
#[test]
fn drift_lists_out_of_band_changes() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&repo_root().join("examples/echo-backend"), tmp.path());
    let db = TestDatabase::new("drift");
    strata(tmp.path(), &db, &["up"]).ok();
    let clean = strata(tmp.path(), &db, &["drift"]);
    assert_eq!(clean.code, 0, "{}\n{}", clean.stdout, clean.stderr);
    let found = db
        .psql("SELECT n.nspname || '|' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'strata') AND n.nspname NOT LIKE 'pg\\_%' AND c.relkind = 'r' ORDER BY 1 LIMIT 1")
        .unwrap();
    let (schema, table) = found.trim().split_once('|').unwrap();
    db.psql(&format!(
        "CREATE INDEX by_hand ON \"{schema}\".\"{table}\" ((1))"
    ))
    .unwrap();
    let fk = db
        .psql("SELECT co.conname || '|' || co.conrelid::regclass::text || '|' || n.nspname FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace WHERE co.contype IN ('f', 'c', 'u') AND n.nspname NOT IN ('pg_catalog', 'strata') ORDER BY 1 LIMIT 1")
        .unwrap();
    let mut parts = fk.trim().split('|');
    let (constraint, owner, constraint_schema) = (
        parts.next().unwrap().to_owned(),
        parts.next().unwrap().to_owned(),
        parts.next().unwrap().to_owned(),
    );
    db.psql(&format!(
        "ALTER TABLE {owner} DROP CONSTRAINT \"{constraint}\""
    ))
    .unwrap();
    let drifted = strata(tmp.path(), &db, &["drift"]);
    assert_eq!(drifted.code, 1, "{}\n{}", drifted.stdout, drifted.stderr);
    assert!(
        drifted
            .stdout
            .contains(&format!("+ index {schema}.by_hand")),
        "{}",
        drifted.stdout
    );
    assert!(
        drifted
            .stdout
            .contains(&format!("- constraint {constraint_schema}."))
            && drifted.stdout.contains(&constraint),
        "{}",
        drifted.stdout
    );
}

/// `verify --with-data` loads the set's seed after `seed_after`, so a migration that only works
/// on clean data is caught, and one that cleans up first passes.
#[test]
fn verify_with_data_exercises_data_dependent_steps() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    write(
        "1_stages.up.sql",
        "CREATE TABLE stages (job int NOT NULL, name text NOT NULL);\n",
    );
    write("1_stages.down.sql", "DROP TABLE stages;\n");
    write(
        "2_unique.up.sql",
        "ALTER TABLE stages ADD CONSTRAINT stages_unique UNIQUE (job, name);\n",
    );
    write(
        "2_unique.down.sql",
        "ALTER TABLE stages DROP CONSTRAINT stages_unique;\n",
    );
    std::fs::write(
        tmp.path().join("seed.sql"),
        "INSERT INTO stages VALUES (1, 'fetch'), (1, 'fetch'), (2, 'parse');\n",
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("strata.toml"),
        "[[set]]\nname = \"jobs\"\ndir = \"migrations\"\nseed = \"seed.sql\"\nseed_after = \"1\"\n",
    )
    .unwrap();
    // Without data the naive constraint migration looks fine...
    strata_raw(tmp.path(), &["verify"]).ok();
    // ...with the sample data it fails on the duplicates.
    let run = strata_raw(tmp.path(), &["verify", "--with-data"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("seeded") && run.stdout.contains("could not create unique index"),
        "{}",
        run.stdout
    );
    // A migration that removes the duplicates first passes.
    write("2_unique.up.sql", "DELETE FROM stages a USING stages b WHERE a.ctid < b.ctid AND a.job = b.job AND a.name = b.name;\nALTER TABLE stages ADD CONSTRAINT stages_unique UNIQUE (job, name);\n");
    let run = strata_raw(tmp.path(), &["verify", "--with-data"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    // A set without sample data cannot be verified with data.
    std::fs::write(
        tmp.path().join("strata.toml"),
        "[[set]]\nname = \"jobs\"\ndir = \"migrations\"\n",
    )
    .unwrap();
    let run = strata_raw(tmp.path(), &["verify", "--with-data"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("seed ="), "{}", run.stderr);
}

/// `squash --to V`: one baseline replaces the migrations up to V. Databases that applied them
/// keep working; a new database gets the same schema; the old files are archived.
#[test]
fn squash_keeps_old_databases_working_and_new_ones_identical() {
    for (example, to) in [("marketplace", "4"), ("laravel-cmis", "2025_11_14_000003")] {
        let tmp = tempfile::tempdir().unwrap();
        copy_dir(&repo_root().join("examples").join(example), tmp.path());
        let old = TestDatabase::new("squash_old");
        strata(tmp.path(), &old, &["up"]).ok();
        let full = snapshot(&old);
        let dry = strata(tmp.path(), &old, &["squash", "--to", to]).ok();
        assert!(
            dry.stdout.contains("would archive") && dry.stdout.contains("schemas are identical"),
            "{example}: {}",
            dry.stdout
        );
        strata(tmp.path(), &old, &["squash", "--to", to, "--apply"]).ok();
        // The database that applied the old migrations: nothing to do, nothing drifted.
        strata(tmp.path(), &old, &["status", "--check"]).ok();
        let again = strata(tmp.path(), &old, &["up"]).ok();
        assert!(
            again.stdout.contains("nothing to do"),
            "{example}: {}",
            again.stdout
        );
        // A new database: the baseline and the rest give the very same schema.
        let new = TestDatabase::new("squash_new");
        strata(tmp.path(), &new, &["up"]).ok();
        assert_eq!(
            snapshot(&new),
            full,
            "{example}: the squashed set builds another schema"
        );
        let archived = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .chain(
                std::fs::read_dir(tmp.path().join("database"))
                    .map(|d| {
                        d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default(),
            );
        assert!(
            archived.into_iter().any(|n| n.contains(".squashed-")),
            "{example}: no archive folder"
        );
    }
}
