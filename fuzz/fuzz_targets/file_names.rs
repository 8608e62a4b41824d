//! File names and layout detection: arbitrary bytes become a directory listing (names and
//! contents) that goes through layout detection and every layout's loader. Loading must never
//! panic. The versions found in the names also go through `Version::parse` /
//! `Version::parse_user`, whose results must be deterministic and whose ordering must be a
//! total order consistent with equality.
//!
//! Input format: the first byte picks the layout (0..=8 force one of `LayoutKind::all()`, anything
//! else lets detection choose); the rest is split at 0xFF bytes (never part of UTF-8) into at
//! most 16 entries, each `name NUL content` (no NUL: a name with empty content).

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::cmp::Ordering;
use strata_model::{MigrationKind, Script, Version};
use strata_source::{load_listing, LayoutKind, Listing};

fn check_script(script: &Script) {
    let text = script.file.text();
    let r = &script.range;
    assert!(
        r.start <= r.end && r.end <= text.len(),
        "{r:?} / {}",
        text.len()
    );
    assert!(text.is_char_boundary(r.start) && text.is_char_boundary(r.end));
    let _ = script.sql();
    let _ = script.locate(0);
}

fn check_version_text(s: &str, found: &mut Vec<Version>) {
    let a = Version::parse(s);
    let b = Version::parse(s);
    assert_eq!(a, b, "parse({s:?}) is not deterministic");
    let user = Version::parse_user(s);
    if !s.starts_with(['V', 'v']) {
        assert_eq!(
            user.is_ok(),
            a.is_ok(),
            "parse_user({s:?}) disagrees with parse"
        );
    }
    let prefixed = Version::parse_user(&format!("V{s}"));
    assert_eq!(
        prefixed.is_ok(),
        a.is_ok(),
        "parse_user(V{s:?}) disagrees with parse"
    );
    if let Ok(v) = a {
        assert_eq!(v.as_str(), s);
        assert!(!v.parts().is_empty());
        for p in v.parts() {
            assert!(!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
            assert!(
                p == "0" || !p.starts_with('0'),
                "{p:?} keeps a leading zero"
            );
        }
        let again = Version::parse(&v.to_string()).expect("a version reparses");
        assert_eq!(again.cmp(&v), Ordering::Equal);
        assert_eq!(prefixed.unwrap().cmp(&v), Ordering::Equal);
        if !s.starts_with(['V', 'v']) {
            assert_eq!(user.unwrap().cmp(&v), Ordering::Equal);
        }
        found.push(v);
    }
}

// `!(b < a)` spells the invariant as stated: `a < b` implies not `b < a`.
#[allow(clippy::nonminimal_bool)]
fn check_order(vs: &[Version]) {
    for a in vs {
        assert_eq!(a.cmp(a), Ordering::Equal);
        for b in vs {
            let ab = a.cmp(b);
            assert_eq!(ab, b.cmp(a).reverse(), "{a} vs {b}: antisymmetry");
            assert_eq!(a < b, ab == Ordering::Less);
            if a < b {
                assert!(!(b < a), "{a} < {b} and {b} < {a}");
            }
            assert_eq!(a == b, ab == Ordering::Equal);
            assert_eq!(a.same_as(b), a == b);
            assert_eq!(a.partial_cmp(b), Some(ab));
            for c in vs {
                if a <= b && b <= c {
                    assert!(a <= c, "{a} <= {b} <= {c} but not {a} <= {c}");
                }
                if a == b && b == c {
                    assert!(a == c, "{a} == {b} == {c} but not {a} == {c}");
                }
            }
        }
    }
}

/// Strings worth parsing as versions: the stem, the leading run of version characters, and the
/// Flyway version between the prefix letter and `__`.
fn candidates(name: &str) -> Vec<&str> {
    let base = name.rsplit('/').next().unwrap_or(name);
    let stem = base.strip_suffix(".sql").unwrap_or(base);
    let stem = stem
        .strip_suffix(".up")
        .or_else(|| stem.strip_suffix(".down"))
        .unwrap_or(stem);
    let lead = stem
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '_' | '-')))
        .map_or(stem, |i| &stem[..i]);
    let mut out = vec![name, stem, lead, lead.trim_end_matches(['_', '-', '.'])];
    if let Some((v, _)) = stem.get(1..).and_then(|s| s.split_once("__")) {
        out.push(v);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
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
    let listing = Listing::from_memory("/m", &files);
    let layout = LayoutKind::all().nth(usize::from(mode));

    if let Ok(set) = load_listing(&listing, layout) {
        for m in &set.migrations {
            check_script(&m.up);
            if let Some(down) = &m.down {
                check_script(down);
            }
            assert_eq!(m.kind == MigrationKind::Versioned, m.id.version.is_some());
            let _ = m.id.registry_key();
        }
        let versions: Vec<&Version> = set
            .versioned()
            .filter_map(|m| m.id.version.as_ref())
            .collect();
        for pair in versions.windows(2) {
            assert!(
                pair[0] < pair[1],
                "{} then {} in a loaded set",
                pair[0],
                pair[1]
            );
        }
    }

    let mut found = Vec::new();
    for (name, _) in &entries {
        for c in candidates(name) {
            check_version_text(c, &mut found);
        }
    }
    found.truncate(12);
    check_order(&found);
});
