//! The dbmate (`-- migrate:up`) and goose (`-- +goose Up`) section/annotation parsers: arbitrary
//! bytes are the content of `20250101000000_x.sql`, loaded with the dbmate layout, the goose
//! layout and detection. Loading must not panic; when it succeeds, every script's range lies
//! inside the file text, on char boundaries, the up and down scripts do not overlap and every
//! directive points at a line of the file. A script starts right after its marker line and
//! holds no section marker of the layout that read it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_model::Script;
use strata_source::{load_listing, LayoutKind, Listing};

fn check_script(script: &Script) {
    let file = &script.file;
    let text = file.text();
    let r = &script.range;
    assert!(
        r.start <= r.end && r.end <= text.len(),
        "{r:?} / {}",
        text.len()
    );
    assert!(
        text.is_char_boundary(r.start),
        "start {} not on a char boundary",
        r.start
    );
    assert!(
        text.is_char_boundary(r.end),
        "end {} not on a char boundary",
        r.end
    );
    let lines = text.matches('\n').count() + 1;
    for d in &script.directives {
        assert!(
            d.line >= 1 && d.line <= lines,
            "directive line {} of {lines}",
            d.line
        );
    }
    let _ = script.sql();
    let _ = script.locate(0);
    let _ = script.locate(r.end - r.start);
}

/// The section (`up`/`down`) a line marks for `layout`, parsed independently of the loader.
fn section_of(line: &str, layout: LayoutKind) -> Option<String> {
    let rest = line.trim().strip_prefix("--")?.trim_start();
    match layout {
        LayoutKind::Dbmate => {
            let rest = rest.strip_prefix("migrate:")?;
            Some(rest.split_whitespace().next().unwrap_or("").to_owned())
        }
        LayoutKind::Goose => {
            let word = rest.strip_prefix("+goose")?.trim().to_ascii_lowercase();
            matches!(word.as_str(), "up" | "down").then_some(word)
        }
        _ => None,
    }
}

fn check_marker_placement(script: &Script, layout: LayoutKind, expected: &str) {
    if !matches!(layout, LayoutKind::Dbmate | LayoutKind::Goose) {
        return;
    }
    let text = script.file.text();
    let before = &text[..script.range.start];
    assert!(before.is_empty() || before.ends_with('\n') || script.range.start == text.len());
    let marker_line = before
        .strip_suffix('\n')
        .unwrap_or(before)
        .rsplit('\n')
        .next()
        .unwrap_or("");
    assert_eq!(
        section_of(marker_line, layout).as_deref(),
        Some(expected),
        "the {expected} script does not follow its marker: {marker_line:?}"
    );
    for line in script.sql().split('\n') {
        assert_eq!(
            section_of(line, layout),
            None,
            "a marker inside the {expected} script"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    for layout in [Some(LayoutKind::Dbmate), Some(LayoutKind::Goose), None] {
        let listing = Listing::from_memory("/m", &[("20250101000000_x.sql", data)]);
        let Ok(set) = load_listing(&listing, layout) else {
            continue;
        };
        assert_eq!(set.migrations.len(), 1);
        let m = &set.migrations[0];
        check_script(&m.up);
        let kind = set.detection.layout;
        check_marker_placement(&m.up, kind, "up");
        if let Some(down) = &m.down {
            check_script(down);
            check_marker_placement(down, kind, "down");
            let (u, d) = (&m.up.range, &down.range);
            assert!(
                u.end <= d.start || d.end <= u.start,
                "up {u:?} overlaps down {d:?}"
            );
        }
    }
});
