use super::*;

fn load(files: &[(&str, &[u8])]) -> Result<MigrationSet, SourceError> {
    load_listing(&Listing::from_memory("/m", files), None)
}

fn versions(set: &MigrationSet) -> Vec<String> {
    set.migrations.iter().map(|m| m.id.to_string()).collect()
}

#[test]
fn updown_pairs_order_numerically() {
    let set = load(&[
        ("10_ten.up.sql", b"select 10;"),
        ("10_ten.down.sql", b"select -10;"),
        ("9_nine.up.sql", b"select 9;"),
        ("README.md", b"docs"),
    ])
    .unwrap();
    assert_eq!(set.detection.layout, LayoutKind::Updown);
    assert_eq!(versions(&set), ["9_nine", "10_ten"]);
    assert!(set.migrations[0].down.is_none());
    assert!(set.migrations[1].down.is_some());
    assert_eq!(set.ignored, [PathBuf::from("README.md")]);
}

#[test]
fn dbmate_sections_map_to_file_lines() {
    let text = b"-- migrate:up transaction:false\ncreate index concurrently i on t (a);\n\n-- migrate:down\ndrop index i;\n";
    let set = load(&[("20250101120000_idx.sql", text)]).unwrap();
    assert_eq!(set.detection.layout, LayoutKind::Dbmate);
    let m = &set.migrations[0];
    assert_eq!(m.up.sql().trim(), "create index concurrently i on t (a);");
    assert_eq!(m.up.locate(0).line, 2);
    assert_eq!(m.up.directives.len(), 1);
    assert_eq!(m.down.as_ref().unwrap().sql().trim(), "drop index i;");
}

#[test]
fn goose_annotations() {
    let text = b"-- +goose NO TRANSACTION\n-- +goose Up\n-- +goose StatementBegin\ncreate function f() returns int as $$ select 1; $$ language sql;\n-- +goose StatementEnd\n-- +goose Down\ndrop function f;\n";
    let set = load(&[("00001_f.sql", text)]).unwrap();
    assert_eq!(set.detection.layout, LayoutKind::Goose);
    assert_eq!(set.migrations[0].up.directives.len(), 1);
    let err = load(&[(
        "00001_f.sql",
        b"-- +goose Up\n-- +goose StatementBegin\nselect 1;\n",
    )])
    .unwrap_err();
    assert!(err.to_string().contains("StatementBegin"), "{err}");
}

#[test]
fn flyway_versions_undo_and_repeatables() {
    let set = load(&[
        ("V1_10__b.sql", b"select 2;"),
        ("V1_9__a.sql", b"select 1;"),
        ("U1_9__a.sql", b"select -1;"),
        ("R__views.sql", b"create or replace view v as select 1;"),
    ])
    .unwrap();
    assert_eq!(set.detection.layout, LayoutKind::Flyway);
    assert_eq!(versions(&set), ["1_9_a", "1_10_b", "R__views"]);
    assert!(set.migrations[0].down.is_some());
}

#[test]
fn diesel_directories() {
    let set = load(&[
        ("2025-11-14-000002_b/up.sql", b"select 2;"),
        ("2025-11-14-000002_b/down.sql", b"select -2;"),
        ("2025-11-14-000001_a/up.sql", b"select 1;"),
    ])
    .unwrap();
    assert_eq!(set.detection.layout, LayoutKind::Diesel);
    assert_eq!(
        versions(&set),
        ["2025-11-14-000001_a", "2025-11-14-000002_b"]
    );
}

#[test]
fn every_problem_is_reported_with_its_file() {
    let err = load(&[
        ("001_a.sql", b"select 1;"),
        ("1_b.sql", b"select 1;"),
        ("002_c.down.sql", b"select 1;"),
        ("notes.sql", b"select 1;"),
        ("003_d.sql", b"-- nothing\n"),
        ("004_e.sql", b"select 1;\nselect 2;\nselect '\xff';"),
        ("005_f.sql", b"-- strata:no-transacton\nselect 1;"),
        ("6x_typo.sql", b"select 1;"),
    ])
    .unwrap_err();
    let text = err.to_string();
    for needle in [
        "duplicate version",
        "001_a.sql, 1_b.sql",
        "004_e.sql: not valid UTF-8 at line 3",
        "unknown directive",
        "6x_typo.sql: cannot parse",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    assert_eq!(err.problems.len(), 4, "{text}");
}

#[test]
fn what_the_source_tool_accepts_loads() {
    let set = load(&[
        ("001_a.sql", b"select 1;"),
        // golang-migrate: a down whose version has no up is an empty up plus that down.
        ("002_c.down.sql", b"select 2;"),
        // Not named like a migration: a helper script, listed as ignored.
        ("notes.sql", b"select 1;"),
        ("check_after_006.sql", b"select 1;"),
        // Empty, or only comments: a no-op, applied and recorded.
        ("003_d.sql", b"-- nothing\n"),
        ("003_d.down.sql", b"-- no-op\n"),
        ("seeds/dev.sql", b"insert into a values (1);"),
    ])
    .unwrap();
    assert_eq!(versions(&set), ["001_a", "002_c", "003_d"]);
    let c = &set.migrations[1];
    assert!(c.up.is_blank() && c.down.is_some());
    let d = &set.migrations[2];
    assert!(d.up.is_blank() && d.down.as_ref().unwrap().is_blank());
    let ignored: Vec<String> = set
        .ignored
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    assert_eq!(
        ignored,
        ["check_after_006.sql", "notes.sql", "seeds/dev.sql"]
    );
    assert_eq!(set.warnings.len(), 1);
    assert!(set.warnings[0]
        .message
        .contains("no up migration for version 002"));
}

#[test]
fn golang_migrate_pairs_up_and_down_by_version() {
    let set = load(&[
        ("30_add_x.up.sql", b"select 1;"),
        ("30_drop_x.down.sql", b"select 2;"),
        ("31_y.up.sql", b"select 3;"),
    ])
    .unwrap();
    assert_eq!(versions(&set), ["30_add_x", "31_y"]);
    assert!(set.migrations[0].down.is_some() && set.migrations[1].down.is_none());
    assert!(set.warnings.is_empty());
    // Two downs for one version: which one runs is not guessed.
    let err = load(&[
        ("30_add_x.up.sql", b"select 1;"),
        ("30_a.down.sql", b"select 2;"),
        ("30_b.down.sql", b"select 2;"),
    ])
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("2 down migrations for version 30 and none named like its up `30_add_x`"),
        "{err}"
    );
}

#[test]
fn names_that_start_like_a_migration_must_parse() {
    // A typo in the extension of a versioned name is an error; a helper is not.
    let err = load(&[
        ("001_a.up.sql", b"select 1;"),
        ("002-add.up.sq", b"select 2;"),
    ])
    .unwrap_err();
    assert!(
        err.to_string().contains("002-add.up.sq: cannot parse"),
        "{err}"
    );
    let err = load(&[("V1__a.sql", b"select 1;"), ("V2_add.sql", b"select 2;")]).unwrap_err();
    assert!(
        err.to_string().contains("V2_add.sql: cannot parse"),
        "{err}"
    );
    // The layout's marker without a version: ignored, as golang-migrate ignores it, but said.
    let set = load(&[
        ("001_a.up.sql", b"select 1;"),
        ("init.up.sql", b"select 2;"),
    ])
    .unwrap();
    assert_eq!(set.ignored, [PathBuf::from("init.up.sql")]);
    assert!(set.warnings[0].message.contains("without a version"));
    // Editor backups and other files are not migrations.
    let set = load(&[
        ("001_a.up.sql", b"select 1;"),
        ("001_a.up.sql~", b"select 1;"),
        ("README.md", b"x"),
    ])
    .unwrap();
    assert_eq!(set.ignored.len(), 2);
}

#[test]
fn templates_left_by_strata_new_are_marked() {
    let set = load(&[
        ("001_a.up.sql", crate::new_file::UP_TEMPLATE.as_bytes()),
        ("002_b.up.sql", b"-- Write the forward migration here.\n"),
        ("003_c.up.sql", b"-- intentionally empty\n"),
    ])
    .unwrap();
    let template = |i: usize| {
        set.migrations[i]
            .up
            .directives
            .iter()
            .any(|d| d.kind == strata_model::DirectiveKind::Template)
    };
    assert!(template(0) && template(1) && !template(2));
}

#[test]
fn new_files_follow_the_set_style() {
    let now = Timestamp {
        year: 2026,
        month: 11,
        day: 21,
        hour: 9,
        minute: 5,
        second: 7,
    };
    let set = load(&[
        ("000007_x.up.sql", b"select 1;"),
        ("000007_x.down.sql", b"select 1;"),
    ])
    .unwrap();
    let files = new_migration_files(&set, "Add Users!", now).unwrap();
    assert_eq!(files[0].rel, PathBuf::from("000008_add_users.up.sql"));
    let set = load(&[("2025_11_14_000001_a.sql", b"-- migrate:up\nselect 1;\n")]).unwrap();
    let files = new_migration_files(&set, "b", now).unwrap();
    assert_eq!(files[0].rel, PathBuf::from("2026_11_21_090507_b.sql"));
}

#[test]
fn nested_sql_files_are_read_or_ignored() {
    // golang-migrate, goose and dbmate read the top level only.
    let set = load(&[
        ("001_a.sql", b"select 1;"),
        ("old/002_b.sql", b"select 2;"),
        ("docs/notes.md", b"x"),
    ])
    .unwrap();
    assert_eq!(versions(&set), ["001_a"]);
    assert_eq!(set.ignored.len(), 2);
    // Flyway reads its locations recursively.
    let set = load(&[
        ("V1__a.sql", b"select 1;"),
        ("release2/V2__b.sql", b"select 2;"),
    ])
    .unwrap();
    assert_eq!(versions(&set), ["1_a", "2_b"]);
    // diesel reads one directory deep.
    let set = load(&[
        ("1_a/up.sql", b"select 1;"),
        ("1_a/extra/more.sql", b"select 2;"),
    ])
    .unwrap();
    assert_eq!(set.ignored, [PathBuf::from("1_a/extra/more.sql")]);
}

const SQITCH_PLAN: &[u8] = b"%syntax-version=1.0.0\n%project=flipr\n\n\
appschema 2025-01-01T10:00:00Z Ada <ada@example.com> # schema\n\
users [appschema] 2025-01-01T10:01:00Z Ada <ada@example.com>\n\
@v1.0 2025-01-01T10:02:00Z Ada <ada@example.com>\n\
\n\
users [users@v1.0] 2025-01-02T10:00:00Z Ada <ada@example.com> # reworked\n";

#[test]
fn sqitch_plan_orders_changes_and_names_reworks() {
    let set = load(&[
        ("sqitch.plan", SQITCH_PLAN),
        ("sqitch.conf", b"[core]\n\tengine = pg\n"),
        (
            "deploy/appschema.sql",
            b"BEGIN;\nCREATE SCHEMA flipr;\nCOMMIT;\n",
        ),
        ("revert/appschema.sql", b"DROP SCHEMA flipr;\n"),
        (
            "verify/appschema.sql",
            b"BEGIN;\nSELECT 1/count(*) FROM pg_namespace WHERE nspname = 'flipr';\nROLLBACK;\n",
        ),
        (
            "deploy/users@v1.0.sql",
            b"CREATE TABLE flipr.users (id int);\n",
        ),
        (
            "deploy/users.sql",
            b"ALTER TABLE flipr.users ADD COLUMN name text;\n",
        ),
        ("verify/users.sql", b"-- nothing to verify\n"),
    ])
    .unwrap();
    assert_eq!(set.detection.layout, LayoutKind::Sqitch);
    assert!(set.detection.reason.contains("sqitch.plan"));
    assert_eq!(versions(&set), ["1_appschema", "2_users@v1.0", "3_users"]);
    assert!(set.migrations[0].down.is_some());
    assert!(set.migrations[0].verify.is_some());
    assert!(set.migrations[1].down.is_none());
    // A blank verify script is no verify script.
    assert!(set.migrations[2].verify.is_none());
    assert!(set.migrations[1].up.sql().contains("CREATE TABLE"));
    assert_eq!(set.ignored, [PathBuf::from("sqitch.conf")]);
    let plan = set.sqitch.as_ref().unwrap();
    assert_eq!(plan.project, "flipr");
    assert_eq!(plan.changes.len(), 3);
}

#[test]
fn sqitch_problems_name_the_plan_line_and_stray_files() {
    let err = load(&[
        ("sqitch.plan", SQITCH_PLAN),
        ("deploy/appschema.sql", b"CREATE SCHEMA flipr;\n"),
        (
            "deploy/users.sql",
            b"ALTER TABLE flipr.users ADD COLUMN name text;\n",
        ),
        ("deploy/orphan.sql", b"SELECT 1;\n"),
        ("misc/loose.sql", b"SELECT 1;\n"),
    ])
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(
            "sqitch.plan:5: change `users@v1.0` has no deploy script deploy/users@v1.0.sql"
        ),
        "{text}"
    );
    // Scripts sqitch would not run either are no errors (see the warnings test below).
    assert_eq!(err.problems.len(), 1, "{text}");
    let set = load(&[
        ("sqitch.plan", SQITCH_PLAN),
        ("deploy/appschema.sql", b"CREATE SCHEMA flipr;\n"),
        ("deploy/users.sql", b"SELECT 1;\n"),
        ("deploy/users@v1.0.sql", b"SELECT 1;\n"),
        ("deploy/orphan.sql", b"SELECT 1;\n"),
        ("misc/loose.sql", b"SELECT 1;\n"),
    ])
    .unwrap();
    assert_eq!(set.warnings.len(), 1, "{:?}", set.warnings);
    assert!(set.warnings[0]
        .to_string()
        .contains("deploy/orphan.sql: this script belongs to no change"));
    assert_eq!(
        set.ignored,
        [
            PathBuf::from("deploy/orphan.sql"),
            PathBuf::from("misc/loose.sql")
        ]
    );

    let bad_plan =
        b"%project=flipr\n\nusers [appschema] 2025-01-01T10:01:00Z Ada <ada@example.com>\n";
    let err = load(&[
        ("sqitch.plan", bad_plan),
        ("deploy/users.sql", b"select 1;"),
    ])
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("sqitch.plan:3: change `users` requires `appschema`"),
        "{err}"
    );
}

#[test]
fn sqitch_layout_can_be_forced_and_needs_a_plan() {
    let err = load_listing(
        &Listing::from_memory("/m", &[("deploy/a.sql", b"select 1;")]),
        Some(LayoutKind::Sqitch),
    )
    .unwrap_err();
    assert!(err.to_string().contains("needs a sqitch.plan"), "{err}");
    assert_eq!(LayoutKind::from_name("sqitch"), Some(LayoutKind::Sqitch));
}

#[test]
fn sectioned_checksums_cover_what_up_runs() {
    let checksum = |text: &[u8]| {
        let set = load(&[("001_a.sql", text)]).unwrap();
        set.migrations[0].checksum.clone()
    };
    let base = checksum(b"-- migrate:up\nselect 1;\n-- migrate:down\nselect 2;\n");
    assert_eq!(base.algorithm, strata_model::ChecksumAlgorithm::Sha256LfUp);
    // The down section (marker line included) is not part of it.
    assert_eq!(
        base,
        checksum(b"-- migrate:up\nselect 1;\n-- migrate:down\nselect 3; -- fixed\n")
    );
    assert_eq!(
        base,
        checksum(b"-- migrate:up\r\nselect 1;\r\n-- migrate:down\r\nx\r\n")
    );
    assert_ne!(
        base,
        checksum(b"-- migrate:up\nselect 9;\n-- migrate:down\nselect 2;\n")
    );
    // goose, down first: still only the down section is left out.
    let goose = checksum(b"-- +goose Down\nselect 2;\n-- +goose Up\nselect 1;\n");
    assert_eq!(
        goose,
        checksum(b"-- +goose Down\nselect 5;\n-- +goose Up\nselect 1;\n")
    );
    assert_eq!(
        goose.hex,
        strata_model::Checksum::of_bytes(b"-- +goose Up\nselect 1;\n").hex
    );
}

#[test]
fn prisma_directories_are_detected_and_read_without_downs() {
    let set = load(&[
        ("migration_lock.toml", b"provider = \"postgresql\"\n"),
        (
            "20240101120000_init/migration.sql",
            b"create table a (id int);\n",
        ),
        (
            "20240102090000_add_b/migration.sql",
            b"create table b (id int);\n",
        ),
        // Prisma runs neither: a hand-run down script and notes beside a migration.
        ("20240102090000_add_b/down.sql", b"drop table b;\n"),
        ("0_baseline/migration.sql", b"-- baselined by hand\n"),
        ("README.md", b"docs"),
    ])
    .unwrap();
    assert_eq!(set.detection.layout, LayoutKind::Prisma);
    assert!(
        set.detection
            .reason
            .contains("4 file(s) named the prisma way"),
        "{}",
        set.detection.reason
    );
    assert_eq!(
        versions(&set),
        ["0_baseline", "20240101120000_init", "20240102090000_add_b"]
    );
    assert!(set.migrations.iter().all(|m| m.down.is_none()));
    assert!(
        set.migrations[0].up.is_blank(),
        "an empty script is a no-op"
    );
    assert_eq!(
        set.ignored,
        [
            PathBuf::from("20240102090000_add_b/down.sql"),
            PathBuf::from("README.md")
        ]
    );
    // A folder that is no migration does not make plain files a Prisma project.
    let plain = load(&[
        ("001_init.sql", b"create table a (id int);\n"),
        ("seeds/migration.sql", b"insert into a values (1);\n"),
    ])
    .unwrap();
    assert_eq!(plain.detection.layout, LayoutKind::Plain);
    // The lock file alone is enough evidence (a project before its first migration).
    let empty = load(&[("migration_lock.toml", b"provider = \"postgresql\"\n")]).unwrap();
    assert_eq!(empty.detection.layout, LayoutKind::Prisma);
    assert!(empty.migrations.is_empty());
}

#[test]
fn prisma_problems_name_their_directory() {
    let err = load(&[
        ("migration_lock.toml", b"provider = \"postgresql\"\n"),
        ("20240101120000_init/migration.sql", b"select 1;\n"),
        // The script lost: Prisma refuses the directory (P3015).
        ("20240102000000_lost/notes.md", b"x"),
        // A directory name with no version.
        ("add_users/migration.sql", b"select 2;\n"),
        // Two directories with one timestamp.
        ("20240101120000_again/migration.sql", b"select 3;\n"),
    ])
    .unwrap_err();
    let text = err.to_string();
    assert_eq!(err.problems.len(), 3, "{text}");
    assert!(
        text.contains(
            "20240102000000_lost: this Prisma migration directory has no `migration.sql`"
        ),
        "{text}"
    );
    assert!(
        text.contains("add_users/migration.sql: cannot parse this file name"),
        "{text}"
    );
    assert!(
        text.contains("20240101120000_again/migration.sql, 20240101120000_init/migration.sql: duplicate version"),
        "{text}"
    );
    // A top-level script named like a migration is a typo, as in diesel.
    let err = load(&[
        ("migration_lock.toml", b"provider = \"postgresql\"\n"),
        ("20240101120000_init/migration.sql", b"select 1;\n"),
        ("20240102000000_more.sql", b"select 2;\n"),
    ])
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("20240102000000_more.sql: cannot parse"),
        "{err}"
    );
}

fn load_pattern(
    layout: &PatternLayout,
    files: &[(&str, &[u8])],
) -> Result<MigrationSet, SourceError> {
    let listing = Listing::from_memory("/m", files);
    load_listing_with(
        &listing,
        layout,
        Detection {
            layout: LayoutKind::Pattern,
            reason: "configured".into(),
        },
    )
}

const HOME_GROWN: &str =
    r"^M(?P<version>\d+)\.(?P<name>[a-z_]+)\.(?P<direction>forward|backward)\.sql$";

#[test]
fn pattern_layout_reads_a_home_grown_scheme() {
    let layout = PatternLayout::new(HOME_GROWN, Some("forward"), Some("backward")).unwrap();
    let set = load_pattern(
        &layout,
        &[
            ("M0002.add_orders.forward.sql", b"create table o (id int);"),
            ("M0001.add_users.forward.sql", b"create table u (id int);"),
            ("M0001.add_users.backward.sql", b"drop table u;"),
            ("M0010.add_index.forward.sql", b"create index i on u (id);"),
            ("seed.sql", b"insert into u values (1);"),
            ("old/M0003.x.forward.sql", b"select 1;"),
        ],
    )
    .unwrap();
    assert_eq!(
        versions(&set),
        ["0001_add_users", "0002_add_orders", "0010_add_index"]
    );
    assert_eq!(
        set.migrations[0].down.as_ref().unwrap().sql(),
        "drop table u;"
    );
    assert!(set.migrations[1].down.is_none());
    assert_eq!(
        set.ignored,
        [
            PathBuf::from("old/M0003.x.forward.sql"),
            PathBuf::from("seed.sql")
        ]
    );
    // The pattern must match the whole name: no anchors needed, no partial matches.
    let unanchored =
        PatternLayout::new(r"(?P<version>\d+)_(?P<name>\w+)\.sql", None, None).unwrap();
    let set = load_pattern(
        &unanchored,
        &[("1_a.sql", b"select 1;"), ("x1_b.sql.bak", b"")],
    )
    .unwrap();
    assert_eq!(versions(&set), ["1_a"]);
    assert_eq!(set.ignored, [PathBuf::from("x1_b.sql.bak")]);
    // Without a direction group every match is an up script.
    assert!(set.migrations[0].down.is_none());
}

#[test]
fn pattern_layout_reports_what_does_not_make_sense() {
    let layout = PatternLayout::new(
        r"^(?P<version>[0-9.x]+)-(?P<name>[a-z]+)\.(?P<direction>\w+)\.sql$",
        None,
        None,
    )
    .unwrap();
    let err = load_pattern(
        &layout,
        &[
            ("1-a.up.sql", b"select 1;"),
            ("1-a.sideways.sql", b"select 2;"),
            ("2-b.down.sql", b"select 3;"),
            ("x-c.up.sql", b"select 4;"),
            ("3-d.up.sql", b"select 5;"),
            ("3-d.down.sql", b"select 6;"),
            ("3-e.down.sql", b"select 7;"),
        ],
    )
    .unwrap_err();
    let text = err.to_string();
    assert_eq!(err.problems.len(), 4, "{text}");
    assert!(text.contains("1-a.sideways.sql: direction `sideways` is neither `up_direction` (`up`) nor `down_direction` (`down`)"), "{text}");
    assert!(
        text.contains("2-b.down.sql: this down script has no up script"),
        "{text}"
    );
    assert!(
        text.contains("x-c.up.sql: the pattern's `version` group took `x`"),
        "{text}"
    );
    assert!(
        text.contains("3-d.down.sql, 3-e.down.sql: two down scripts for version 3"),
        "{text}"
    );
}

#[test]
fn pattern_configuration_is_checked() {
    let err = |p: &str, up: Option<&str>, down: Option<&str>| {
        PatternLayout::new(p, up, down).unwrap_err()
    };
    assert!(err(r"^(?P<version>\d+", None, None).contains("not a valid regular expression"));
    assert!(err(r"^(?P<name>\w+)\.sql$", None, None).contains("no group named `version`"));
    assert!(err(r"^(?P<version>\d+)_(?P<title>\w+)\.sql$", None, None)
        .contains("names a group `title`"));
    assert!(err(r"^(?P<version>\d+)\.sql$", Some("fwd"), None)
        .contains("need a group named `direction`"));
    assert!(err(
        r"^(?P<version>\d+)\.(?P<direction>\w+)\.sql$",
        Some("x"),
        Some("x")
    )
    .contains("two different"));
    assert_eq!(
        PatternLayout::new(HOME_GROWN, None, None).unwrap().as_str(),
        HOME_GROWN
    );
    // Forced without its pattern, the layout says what is missing.
    let err = load_listing(
        &Listing::from_memory("/m", &[("1_a.sql", b"select 1;")]),
        Some(LayoutKind::Pattern),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("needs the set's `pattern`"),
        "{err}"
    );
}

#[test]
fn flyway_locations_merge_in_version_order() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let write = |rel: &str, text: &str| {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("db/migration/V1__users.sql", "create table u (id int);");
    write("db/migration/V3__orders.sql", "create table o (id int);");
    write("db/migration/U3__orders.sql", "drop table o;");
    write("db/other/V2__roles.sql", "create table r (id int);");
    write("db/other/nested/V4__index.sql", "create index i on u (id);");
    write(
        "db/other/R__view.sql",
        "create or replace view v as select 1;",
    );
    write("db/unlisted/V5__not_read.sql", "select 5;");
    let locations = [root.join("db/migration"), root.join("db/other")];
    let set = load_locations(root, &locations).unwrap();
    assert_eq!(set.detection.layout, LayoutKind::Flyway);
    assert!(
        set.detection
            .reason
            .contains("2 Flyway locations (db/migration, db/other)"),
        "{}",
        set.detection.reason
    );
    assert_eq!(
        versions(&set),
        ["1_users", "2_roles", "3_orders", "4_index", "R__view"]
    );
    assert!(
        set.migrations[2].down.is_some(),
        "undo scripts pair across the set"
    );
    assert!(set.migrations[1].path().ends_with("db/other/V2__roles.sql"));
    // A version in two locations: an error naming both files, relative to the root.
    write("db/other/V3__orders_again.sql", "select 3;");
    let err = load_locations(root, &locations).unwrap_err();
    assert!(
        err.to_string().contains(
            "db/migration/V3__orders.sql, db/other/V3__orders_again.sql: duplicate version 3"
        ),
        "{err}"
    );
    // A missing location is named.
    let err =
        load_locations(root, &[root.join("db/migration"), root.join("db/nowhere")]).unwrap_err();
    assert!(
        err.to_string()
            .contains("db/nowhere: cannot read this location"),
        "{err}"
    );
}

#[test]
fn updown_sets_that_stopped_writing_downs_read_their_plain_files() {
    let set = load(&[
        ("001_a.up.sql", b"select 1;"),
        ("001_a.down.sql", b"select 0;"),
        ("002_b.sql", b"select 2;"),
        ("003_c.sql", b"select 3;"),
        ("notes.sql", b"select 4;"),
    ])
    .unwrap();
    assert_eq!(set.detection.layout, LayoutKind::Updown);
    assert_eq!(versions(&set), ["001_a", "002_b", "003_c"]);
    assert!(set.migrations[1].down.is_none());
    assert_eq!(set.warnings.len(), 1);
    assert_eq!(set.warnings[0].paths.len(), 2);
    assert_eq!(set.ignored, [PathBuf::from("notes.sql")]);
}

#[test]
fn a_goose_file_without_a_down_section_has_a_no_op_down() {
    let goose = load(&[("001_a.sql", b"-- +goose Up\nselect 1;\n")]).unwrap();
    assert!(goose.migrations[0].down.as_ref().unwrap().is_blank());
    // dbmate refuses to roll back such a file, and so does strata.
    let dbmate = load(&[("001_a.sql", b"-- migrate:up\nselect 1;\n")]).unwrap();
    assert!(dbmate.migrations[0].down.is_none());
}

#[test]
fn migrations_sharing_a_version_apply_in_file_name_order() {
    // harness keeps `0001_create_table_a_x.up.sql` beside `0001_create_table_b_y.up.sql`:
    // its runner and a psql loop apply both, in file-name order.
    let set = load(&[
        ("0001_b.up.sql", b"create table b ();"),
        ("0001_b.down.sql", b"drop table b;"),
        ("0001_a.up.sql", b"create table a ();"),
        ("0001_a.down.sql", b"drop table a;"),
        ("0002_c.up.sql", b"create table c ();"),
    ])
    .unwrap();
    assert_eq!(versions(&set), ["0001_a", "0001_b", "0002_c"]);
    let keys: Vec<String> = set.migrations.iter().map(|m| m.id.registry_key()).collect();
    assert_eq!(keys, ["0001_a", "0001_b", "0002"]);
    // Each up took the down of its own name.
    assert_eq!(
        set.migrations[0].down.as_ref().unwrap().sql(),
        "drop table a;"
    );
    assert_eq!(
        set.migrations[1].down.as_ref().unwrap().sql(),
        "drop table b;"
    );
    assert_eq!(set.warnings.len(), 1, "{:?}", set.warnings);
    assert_eq!(
        set.warnings[0].paths,
        [
            PathBuf::from("0001_a.up.sql"),
            PathBuf::from("0001_b.up.sql")
        ]
    );
    assert!(set.warnings[0].message.contains("file-name order"));
    // Plain numbered files too (midday: `0010_add_customer_enrichment.sql` and
    // `0010_add_invoice_recurring.sql`).
    let set = load(&[("0010_b.sql", b"select 1;"), ("0010_a.sql", b"select 2;")]).unwrap();
    assert_eq!(versions(&set), ["0010_a", "0010_b"]);
    // One version spelled two ways (`001_a`, `1_b`) is still a duplicate, and so is
    // a shared version in the layouts whose tools refuse one.
    for files in [
        &[("001_a.sql", &b"select 1;"[..]), ("1_b.sql", b"select 1;")][..],
        &[("V1__a.sql", b"select 1;"), ("V1__b.sql", b"select 1;")],
        &[
            ("1_a.sql", b"-- +goose Up\nselect 1;\n"),
            ("1_b.sql", b"-- +goose Up\nselect 1;\n"),
        ],
    ] {
        let err = load(files).unwrap_err();
        assert!(err.to_string().contains("duplicate version"), "{err}");
    }
}

#[test]
fn underscored_directions_pair_in_updown_sets() {
    // harness: `0021_add_internal_up.sql` / `0021_add_internal_down.sql` beside `.up.sql` pairs;
    // its runner tells the direction by the name's ending, and a later migration uses the
    // column the up adds.
    let set = load(&[
        ("0020_a.up.sql", b"select 1;"),
        ("0021_add_internal_up.sql", b"select 2;"),
        ("0021_add_internal_down.sql", b"select 3;"),
    ])
    .unwrap();
    assert_eq!(versions(&set), ["0020_a", "0021_add_internal"]);
    assert_eq!(set.migrations[1].down.as_ref().unwrap().sql(), "select 3;");
    assert_eq!(set.warnings.len(), 1, "{:?}", set.warnings);
    assert!(set.warnings[0].message.contains("`_up.sql` / `_down.sql`"));
    // In a plain set a psql loop runs every `.sql` file: `_down.sql` is not a direction there.
    let set = load(&[
        ("001_a.sql", b"select 1;"),
        ("002_cleanup_down.sql", b"select 2;"),
    ])
    .unwrap();
    assert_eq!(versions(&set), ["001_a", "002_cleanup_down"]);
}

#[test]
fn the_layout_table_names_every_kind_once() {
    let kinds: Vec<LayoutKind> = LayoutKind::all().collect();
    for (i, kind) in kinds.iter().enumerate() {
        assert!(!kinds[..i].contains(kind), "{kind:?} has two rows");
        assert_eq!(layout_for(*kind).kind(), *kind);
        // strata.toml spells a layout as serde does: the table's name must be that spelling.
        let serde_name = serde_json::to_value(kind).unwrap();
        assert_eq!(serde_name, kind.as_str(), "{kind:?}");
        assert_eq!(LayoutKind::from_name(kind.as_str()), Some(*kind));
        assert!(!kind.pattern().is_empty());
    }
    assert_eq!(kinds.len(), 9);
    assert_eq!(LayoutKind::from_name("liquibase"), None);
}
