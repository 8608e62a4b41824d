//! Regressions found by the cargo-fuzz targets `file_names` and `sections` (see
//! `fuzz/RESULTS.md`), plus tricky inputs that keep those targets' invariants checked by a plain
//! `cargo test`.

use strata_model::Script;
use strata_source::{load_listing, LayoutKind, Listing, MigrationSet, SourceError};

/// The invariants both fuzz targets check on a loaded set.
fn check_set(set: &MigrationSet) {
    for m in &set.migrations {
        for script in std::iter::once(&m.up).chain(m.down.as_ref()) {
            check_script(script);
        }
    }
}

fn check_script(script: &Script) {
    let text = script.file.text();
    let r = &script.range;
    assert!(
        r.start <= r.end && r.end <= text.len(),
        "{r:?} / {}",
        text.len()
    );
    assert!(text.is_char_boundary(r.start) && text.is_char_boundary(r.end));
    let lines = text.matches('\n').count() + 1;
    for d in &script.directives {
        assert!(d.line >= 1 && d.line <= lines);
    }
    let _ = script.locate(0);
}

/// Decodes a `file_names` fuzz input exactly as `fuzz/fuzz_targets/file_names.rs` does (first byte
/// picks the layout, entries split at 0xFF, `name NUL content`) and loads it.
fn run_file_names_input(data: &[u8]) -> Result<MigrationSet, SourceError> {
    let (&mode, rest) = data.split_first().expect("a non-empty input");
    let entries: Vec<(String, &[u8])> = rest
        .split(|&b| b == 0xFF)
        .take(16)
        .map(|chunk| {
            let (name, content) = match chunk.iter().position(|&b| b == 0) {
                Some(i) => (&chunk[..i], &chunk[i + 1..]),
                None => (chunk, &[][..]),
            };
            (String::from_utf8_lossy(name).into_owned(), content)
        })
        .collect();
    let files: Vec<(&str, &[u8])> = entries.iter().map(|(n, c)| (n.as_str(), *c)).collect();
    let layout = LayoutKind::all().nth(usize::from(mode));
    let result = load_listing(&Listing::from_memory("/m", &files), layout);
    if let Ok(set) = &result {
        check_set(set);
    }
    result
}

/// Loads `text` as `20250101000000_x.sql` as the `sections` fuzz target does: with the dbmate
/// layout, the goose layout and detection.
fn run_sections_input(text: &[u8]) -> [Result<MigrationSet, SourceError>; 3] {
    [Some(LayoutKind::Dbmate), Some(LayoutKind::Goose), None].map(|layout| {
        let listing = Listing::from_memory("/m", &[("20250101000000_x.sql", text)]);
        let result = load_listing(&listing, layout);
        if let Ok(set) = &result {
            check_set(set);
        }
        result
    })
}

fn messages(err: &SourceError) -> String {
    err.problems
        .iter()
        .map(|p| p.message.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Finding 1 of `file_names`: a `.sql` file whose name starts with a multi-byte character
/// (here U+FFFD, from the invalid byte 0x94) made the Flyway name parser slice inside that
/// character and panic during layout detection.
#[test]
fn flyway_name_starting_with_a_multibyte_char_does_not_panic() {
    // Minimized fuzz input: layout byte 0x7f (past `LayoutKind::all()`: detect), one entry named b"\x94.sql". Not named
    // like a migration of any layout, it is listed as ignored.
    let set = run_file_names_input(b"\x7f\x94.sql").unwrap();
    assert_eq!(set.ignored.len(), 1);
    for name in ["\u{FFFD}.sql", "é__x.sql", "ÿ1__x.sql", "€.sql"] {
        for layout in LayoutKind::all().map(Some).chain([None]) {
            let listing = Listing::from_memory("/m", &[(name, b"select 1;")]);
            match load_listing(&listing, layout) {
                Ok(set) => assert_eq!(set.ignored.len(), 1, "{name} {layout:?}"),
                // The sqitch layout needs its plan.
                Err(err) => assert_eq!(err.problems.len(), 1, "{name} {layout:?}: {err}"),
            }
        }
    }
    // Multi-byte characters after the prefix letter are still read.
    let listing = Listing::from_memory("/m", &[("V1__crème.sql", b"select 1;")]);
    let set = load_listing(&listing, None).unwrap();
    assert_eq!(set.migrations[0].id.name, "crème");
}

/// Finding 2 (made by `statements`) seen from the loaders: a `--` comment ends at a lone CR, so
/// a file with classic Mac line endings is not one long comment (it used to be reported as
/// "empty", and a down section starting with a comment line was silently dropped).
#[test]
fn comment_line_ending_in_a_lone_cr_is_not_the_whole_file() {
    let listing = Listing::from_memory("/m", &[("001_a.sql", b"-- header\rcreate table t ();\r")]);
    let set = load_listing(&listing, None).unwrap();
    check_set(&set);
    assert_eq!(
        set.migrations[0].up.sql(),
        "-- header\rcreate table t ();\r"
    );

    let text = b"-- migrate:up\ncreate table t ();\n-- migrate:down\n-- undo\rdrop table t;\n";
    let [dbmate, _, detected] = run_sections_input(text);
    for set in [dbmate.unwrap(), detected.unwrap()] {
        let down = set.migrations[0]
            .down
            .as_ref()
            .expect("the down script is kept");
        assert_eq!(down.sql(), "-- undo\rdrop table t;\n");
    }
}

#[test]
fn tricky_sectioned_files() {
    let cases: &[&[u8]] = &[
        b"",
        b"\xEF\xBB\xBF",
        b"\xEF\xBB\xBF-- migrate:up\nselect 1;\n",
        b"-- migrate:up\nselect 1;\n-- migrate:up\nselect 2;\n",
        b"-- migrate:down\nselect 2;\n-- migrate:up\nselect 1;\n",
        b"-- migrate:up",
        b"-- migrate:up\nselect 1;\n-- migrate:down",
        b"-- migrate:up\r\nselect 1;\r\n-- migrate:down\r\nselect 2;\r\n",
        b"-- migrate:up\rselect 1;\r-- migrate:down\rselect 2;\r",
        b"-- migrate:up transaction:false\ncreate index concurrently i on t (a);\n",
        b"-- migrate:up transaction:maybe\nselect 1;\n",
        b"-- migrate:sideways\nselect 1;\n",
        b"-- strata:no-transaction\n-- migrate:up\nselect 1;\n",
        b"-- strata:no-transacton\n-- migrate:up\nselect 1;\n",
        b"-- migrate:up\n/* unterminated\n-- migrate:down\nselect 2;\n",
        b"-- migrate:up\nselect $$ unterminated\n-- migrate:down\n",
        b"-- migrate:up\n\xC3\xA9\xE2\x80\xA8\n",
        b"-- migrate:up\nselect '\xFF';\n",
        b"-- +goose Up\n-- +goose Up\nselect 1;\n",
        b"-- +goose Up\n-- +goose StatementBegin\nselect 1;\n",
        b"-- +goose Up\n-- +goose StatementEnd\nselect 1;\n",
        b"-- +goose Up\n-- +goose StatementBegin\nselect 1;\n-- +goose Down\n",
        b"-- +goose NO TRANSACTION\n-- +goose up\nselect 1;\n-- +goose DOWN\nselect 2;\n",
        b"-- +goose Up\nselect 1;\n-- +goose sideways\n",
        b"-- +goose Up\n-- migrate:up\nselect 1;\n",
        b"-- migrate:up\n-- +goose Up\nselect 1;\n",
    ];
    for text in cases {
        let [dbmate, goose, _] = run_sections_input(text);
        if let Ok(set) = dbmate {
            assert!(!set.migrations[0].up.sql().contains("migrate:up"));
        }
        if let Ok(set) = goose {
            let up = set.migrations[0].up.sql().to_lowercase();
            assert!(!up.contains("+goose up"));
        }
    }
    let [dbmate, _, _] =
        run_sections_input(b"-- migrate:up\nselect 1;\n-- migrate:up\nselect 2;\n");
    assert!(messages(&dbmate.unwrap_err()).contains("a second up section"));
    let [dbmate, _, detected] = run_sections_input(b"\xEF\xBB\xBF");
    assert!(messages(&dbmate.unwrap_err()).contains("missing the `-- migrate:up` marker"));
    // A file holding only a BOM, read as a plain migration, is an empty (no-op) migration.
    assert!(detected.unwrap().migrations[0].up.is_blank());
}

#[test]
fn tricky_file_name_inputs() {
    let cases: &[&[u8]] = &[
        b"\x00",
        b"\x7f",
        b"\x7f\xFF\xFF",
        b"\x7f.sql",
        b"\x7f/\x00select 1;",
        b"\x7fup.sql\x00select 1;",
        b"\x7f/up.sql\x00select 1;",
        b"\x7f1_a/up.sql\x00select 1;\xFF1_a/down.sql\x00select 2;",
        b"\x02V__a.sql\x00select 1;",
        b"\x02V1__.sql\x00select 1;",
        b"\x02R__.sql\x00select 1;",
        b"\x02U1__a.sql\x00select 1;",
        b"\x02V1..2__a.sql\x00select 1;",
        b"\x7fV1__a.sql\x00select 1;\xFFV1.0__b.sql\x00select 2;",
        b"\x7f001_a.sql\x00select 1;\xFF1_a.sql\x00select 2;",
        b"\x7f2025_11_14_000001_a.sql\x00select 1;",
        b"\x7f2025-11-14-0000011_a.sql\x00select 1;",
        b"\x7f99999999999999999999999999_a.up.sql\x00select 1;",
        b"\x7f001_a.sql\x00\xEF\xBB\xBF",
        b"\x7f001_a.sql\x00-- strata:no-transaction\rselect 1;",
        b"\x7f\xC3\xA9.sql\x00select 1;",
        // Prisma: a script outside a directory, a directory without its script, a deeper one.
        b"\x07migration.sql\x00select 1;",
        b"\x071_a/notes.txt\x00x\xFFmigration_lock.toml\x00provider",
        b"\x071_a/b/migration.sql\x00select 1;\xFF/migration.sql\x00select 1;",
        // The pattern layout without its pattern.
        b"\x08001_a.sql\x00select 1;",
    ];
    for data in cases {
        let _ = run_file_names_input(data);
    }
    // Numerically equal versions are one migration, whatever the spelling.
    let err = run_file_names_input(b"\x7fV1__a.sql\x00select 1;\xFFV1.0__b.sql\x00select 2;")
        .unwrap_err();
    assert!(messages(&err).contains("duplicate version"), "{err}");
}
