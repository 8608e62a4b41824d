//! The statement splitter and transaction classifier: arbitrary UTF-8 through `analyze`,
//! `parse_directives` and `decide_transaction_mode`. No panic; every statement range lies inside
//! the script, on char boundaries, and the ranges are non-overlapping and increasing; what lies
//! between them is only whitespace, comments and `;` (as `strata_model::skip_trivia` sees
//! them, so that helper must agree with PostgreSQL's lexer); a script `sql_is_blank` calls
//! blank has no statement; the body range of the execution shape lies inside the script, on
//! char boundaries.

#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_model::{skip_trivia, sql_is_blank};
use strata_sql::{analyze, decide_transaction_mode, parse_directives, unclosed_transaction};

/// True when `gap` holds only whitespace, comments and semicolons.
fn is_gap(gap: &str) -> bool {
    let mut i = 0;
    loop {
        i += skip_trivia(&gap[i..]);
        match gap.as_bytes().get(i) {
            None => return true,
            Some(b';') => i += 1,
            Some(_) => return false,
        }
    }
}

fuzz_target!(|sql: &str| {
    let analysis = analyze(sql);
    let mut prev_end = 0;
    for (i, s) in analysis.statements.iter().enumerate() {
        let r = &s.range;
        assert!(
            r.start <= r.end && r.end <= sql.len(),
            "statement {i}: {r:?} / {}",
            sql.len()
        );
        assert!(
            sql.is_char_boundary(r.start) && sql.is_char_boundary(r.end),
            "statement {i}: {r:?}"
        );
        assert!(
            r.start >= prev_end,
            "statement {i}: {r:?} starts before {prev_end}"
        );
        assert!(!r.is_empty(), "statement {i} is empty");
        let gap = &sql[prev_end..r.start];
        assert!(
            is_gap(gap),
            "statement {i}: {gap:?} before it is not whitespace, comments or `;`"
        );
        prev_end = r.end;
    }
    // A script with a NUL byte is refused whole (no statements, a syntax error): no gap to check.
    let tail = &sql[prev_end..];
    assert!(
        sql.contains('\0') || is_gap(tail),
        "{tail:?} after the last statement is not whitespace, comments or `;`"
    );
    if sql_is_blank(sql) {
        assert!(
            analysis.statements.is_empty(),
            "a blank script has statements"
        );
    }
    if let Some(i) = unclosed_transaction(&analysis) {
        assert!(i < analysis.statements.len());
    }
    let directives = parse_directives(sql, 1).unwrap_or_default();
    for d in [&directives[..], &[]] {
        let shape = decide_transaction_mode(sql, &analysis, d);
        let b = &shape.body;
        assert!(
            b.start <= b.end && b.end <= sql.len(),
            "body {b:?} / {}",
            sql.len()
        );
        assert!(
            sql.is_char_boundary(b.start) && sql.is_char_boundary(b.end),
            "body {b:?}"
        );
        assert!(!shape.decision.reason.is_empty());
    }
});
