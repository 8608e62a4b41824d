//! Inputs for the invariants of the cargo-fuzz targets `source_positions` and (for versions)
//! `file_names` (see `fuzz/RESULTS.md`), run by a plain `cargo test`. Neither target found a
//! problem in this crate; the `skip_trivia` cases are the model side of the `statements`
//! finding about `--` comments ending at a lone CR.

use std::cmp::Ordering;
use strata_model::{
    char_pos_to_byte, skip_trivia, sql_is_blank, Checksum, LineCol, SourceFile, Version,
};

/// The invariants of `fuzz/fuzz_targets/source_positions.rs`.
fn check_positions(data: &[u8]) {
    let body = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    match SourceFile::from_bytes("f.sql".into(), data) {
        Err(at) => {
            assert!(std::str::from_utf8(body).is_err());
            assert!(at.line >= 1 && at.col >= 1);
        }
        Ok(f) => {
            let text = f.text();
            assert_eq!(text.as_bytes(), body);
            let lines = text.matches('\n').count() + 1;
            let mut prev = LineCol { line: 1, col: 1 };
            for byte in 0..=text.len() + 2 {
                let lc = f.line_col(byte);
                assert!(lc >= prev, "{data:?} offset {byte}: {lc:?} after {prev:?}");
                assert!(lc.line <= lines && lc.col >= 1);
                assert!(f.line_start(lc.line) <= byte.min(text.len()));
                assert!(!f.line_text(lc.line).contains('\n'));
                prev = lc;
            }
            for (i, (b, _)) in text.char_indices().enumerate() {
                assert_eq!(char_pos_to_byte(text, i + 1), b);
            }
            assert_eq!(char_pos_to_byte(text, text.chars().count() + 1), text.len());
        }
    }
    let lf: Vec<u8> = data.iter().copied().filter(|&b| b != b'\r').collect();
    let crlf: Vec<u8> = lf
        .iter()
        .flat_map(|&b| {
            if b == b'\n' {
                vec![b'\r', b'\n']
            } else {
                vec![b]
            }
        })
        .collect();
    assert_eq!(Checksum::of_bytes(&lf), Checksum::of_bytes(&crlf));
}

#[test]
fn tricky_source_files_keep_the_position_invariants() {
    let cases: &[&[u8]] = &[
        b"",
        b"\xEF\xBB\xBF",
        b"\xEF\xBB\xBF\xEF\xBB\xBF",
        b"\r",
        b"\r\r\n",
        b"\n\n\n",
        b"a\rb\rc",
        b"\xC3\xA9\r\n\xE2\x82\xAC\n\xF0\x9F\x98\x80",
        b"\xE2\x80\xA8\xC2\x85",
        b"ok\n\xFF",
        b"\xEF\xBB",
        b"\xC3",
        b"select 1;\n\xF0\x9F\x98",
    ];
    for data in cases {
        check_positions(data);
    }
    let f = SourceFile::from_bytes("f.sql".into(), b"a\rb\nc").unwrap();
    assert_eq!(f.line_col(2), LineCol { line: 1, col: 2 });
    assert_eq!(f.line_col(4), LineCol { line: 2, col: 1 });
}

#[test]
fn trivia_agrees_with_the_postgresql_lexer() {
    // `--` comments end at CR as well as LF; vertical tab and form feed are whitespace.
    assert_eq!(skip_trivia("-- c\rselect 1"), 5);
    assert_eq!(skip_trivia("-- c\r\nselect 1"), 6);
    assert!(!sql_is_blank("-- header\rcreate table t ();"));
    assert!(sql_is_blank("\x0b\x0c -- a\r/* b /* c */ */\r\n"));
    assert!(sql_is_blank("/* unterminated"));
    assert!(!sql_is_blank("\u{a0}"));
}

#[test]
fn versions_parse_deterministically_and_order_totally() {
    let inputs = [
        "",
        "0",
        "00",
        "0.0",
        "1",
        "001",
        "1.0",
        "1_0_0",
        "1-0",
        "1.1",
        "1.01",
        "1.10",
        "1.2.3",
        "2",
        "10",
        "9",
        "V1",
        "v2",
        "V",
        "1..2",
        "1.",
        ".1",
        "1__2",
        "1a",
        "\u{661}",
        "99999999999999999999999",
        "100000000000000000000000",
        "2025_11_14_000001",
        "2025-11-14-000002",
        "20250101120000",
        // Dated spellings read as one number, and significant zeros after a `-`.
        "2017-08-31-230457",
        "20170831230457",
        "2017_08_31_230457",
        "2026-05-27-120000",
        "2026-05-27-120000-0000",
        "2026-05-27-120000.0",
        "20260601000000",
        "1-0",
        "1-0-1",
        "1.0.1",
    ];
    let mut versions = Vec::new();
    for s in inputs {
        assert_eq!(Version::parse(s), Version::parse(s));
        let user = Version::parse_user(s);
        if let Ok(v) = Version::parse(s) {
            assert_eq!(v.as_str(), s);
            assert!(v.parts().all(|p| p == "0" || !p.starts_with('0')));
            assert_eq!(user.unwrap(), v);
            versions.push(v);
        } else if !s.starts_with(['V', 'v']) {
            assert!(user.is_err());
        }
    }
    assert_eq!(
        Version::parse("1").unwrap(),
        Version::parse("1.0.0").unwrap()
    );
    assert!(Version::parse("1.0.1").unwrap() > Version::parse("1").unwrap());
    for a in &versions {
        for b in &versions {
            let ab = a.cmp(b);
            assert_eq!(ab, b.cmp(a).reverse(), "{a} vs {b}");
            assert_eq!(a == b, ab == Ordering::Equal);
            if a < b {
                assert!(b > a, "{a} < {b} but not {b} > {a}");
            }
            for c in &versions {
                if a <= b && b <= c {
                    assert!(a <= c, "{a} <= {b} <= {c}");
                }
            }
        }
    }
}
