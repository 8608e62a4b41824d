//! The statement splitter and transaction classifier: arbitrary UTF-8 through `analyze`,
//! `parse_directives` and `decide_transaction_mode`. No panic; every statement range lies inside
//! the script, on char boundaries, and the ranges are non-overlapping and increasing; the body
//! range of the execution shape lies inside the script, on char boundaries.

#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_sql::{analyze, decide_transaction_mode, parse_directives};

fuzz_target!(|sql: &str| {
    let analysis = analyze(sql);
    let mut prev_end = 0;
    for (i, s) in analysis.statements.iter().enumerate() {
        let r = &s.range;
        assert!(r.start <= r.end && r.end <= sql.len(), "statement {i}: {r:?} / {}", sql.len());
        assert!(sql.is_char_boundary(r.start) && sql.is_char_boundary(r.end), "statement {i}: {r:?}");
        assert!(r.start >= prev_end, "statement {i}: {r:?} starts before {prev_end}");
        prev_end = r.end;
    }
    let directives = parse_directives(sql, 1).unwrap_or_default();
    for d in [&directives[..], &[]] {
        let shape = decide_transaction_mode(sql, &analysis, d);
        let b = &shape.body;
        assert!(b.start <= b.end && b.end <= sql.len(), "body {b:?} / {}", sql.len());
        assert!(sql.is_char_boundary(b.start) && sql.is_char_boundary(b.end), "body {b:?}");
        assert!(!shape.decision.reason.is_empty());
    }
});
