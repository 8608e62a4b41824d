//! Source files and positions: arbitrary bytes through `SourceFile::from_bytes`, then
//! `line_col` for every byte offset (and past the end). No panic; positions never go backwards;
//! every line is a line of the file and its start is at or before the offset. Also checks
//! `char_pos_to_byte` and the CRLF/BOM normalization of `Checksum::of_bytes`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_model::{char_pos_to_byte, Checksum, LineCol, SourceFile};

fuzz_target!(|data: &[u8]| {
    let body = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    match SourceFile::from_bytes("f.sql".into(), data) {
        Err(at) => {
            assert!(std::str::from_utf8(body).is_err());
            assert!(at.line >= 1 && at.col >= 1);
            assert!(at.line <= body.iter().filter(|&&b| b == b'\n').count() + 1);
        }
        Ok(f) => {
            let text = f.text();
            assert_eq!(text.as_bytes(), body);
            let lines = text.matches('\n').count() + 1;
            assert_eq!(f.line_col(0), LineCol { line: 1, col: 1 });
            let mut prev = LineCol { line: 1, col: 1 };
            for byte in 0..=text.len() + 2 {
                let lc = f.line_col(byte);
                assert!(lc >= prev, "offset {byte}: {lc:?} after {prev:?}");
                assert!(lc.line >= 1 && lc.line <= lines && lc.col >= 1);
                assert!(f.line_start(lc.line) <= byte.min(text.len()));
                let line = f.line_text(lc.line);
                assert!(!line.contains('\n'));
                prev = lc;
            }
            for (i, (b, _)) in text.char_indices().enumerate().take(512) {
                assert_eq!(char_pos_to_byte(text, i + 1), b);
            }
            assert_eq!(char_pos_to_byte(text, text.chars().count() + 1), text.len());
        }
    }
    // CRLF and one BOM do not change the checksum.
    let lf: Vec<u8> = data.iter().copied().filter(|&b| b != b'\r').collect();
    let mut crlf = Vec::with_capacity(lf.len() * 2);
    for &b in &lf {
        if b == b'\n' {
            crlf.push(b'\r');
        }
        crlf.push(b);
    }
    let sum = Checksum::of_bytes(&lf);
    assert_eq!(sum, Checksum::of_bytes(&crlf));
    if !lf.starts_with(b"\xEF\xBB\xBF") {
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(&crlf);
        assert_eq!(sum, Checksum::of_bytes(&bom));
    }
});
