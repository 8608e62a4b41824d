//! Regressions found by the cargo-fuzz target `statements` (see `fuzz/RESULTS.md`), plus tricky
//! inputs that keep its invariants checked by a plain `cargo test`.

use strata_model::{skip_trivia, sql_is_blank};
use strata_sql::{
    analyze, decide_transaction_mode, parse_directives, unclosed_transaction, Analysis,
    TransactionControl,
};

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

/// The invariants of `fuzz/fuzz_targets/statements.rs`.
fn check(sql: &str) -> Analysis {
    let analysis = analyze(sql);
    let mut prev_end = 0;
    for (i, s) in analysis.statements.iter().enumerate() {
        let r = &s.range;
        assert!(
            r.start <= r.end && r.end <= sql.len(),
            "{sql:?} statement {i}: {r:?}"
        );
        assert!(sql.is_char_boundary(r.start) && sql.is_char_boundary(r.end));
        assert!(r.start >= prev_end, "{sql:?} statement {i}: {r:?} overlaps");
        assert!(!r.is_empty(), "{sql:?} statement {i} is empty");
        assert!(
            is_gap(&sql[prev_end..r.start]),
            "{sql:?} before statement {i}"
        );
        prev_end = r.end;
    }
    assert!(
        sql.contains('\0') || is_gap(&sql[prev_end..]),
        "{sql:?} after the last statement"
    );
    if sql_is_blank(sql) {
        assert!(
            analysis.statements.is_empty(),
            "{sql:?} is blank but has statements"
        );
    }
    if let Some(i) = unclosed_transaction(&analysis) {
        assert!(i < analysis.statements.len());
    }
    let directives = parse_directives(sql, 1).unwrap_or_default();
    for d in [&directives[..], &[]] {
        let b = decide_transaction_mode(sql, &analysis, d).body;
        assert!(b.start <= b.end && b.end <= sql.len(), "{sql:?} body {b:?}");
        assert!(sql.is_char_boundary(b.start) && sql.is_char_boundary(b.end));
    }
    analysis
}

fn texts<'a>(sql: &'a str, a: &Analysis) -> Vec<&'a str> {
    a.statements.iter().map(|s| &sql[s.range.clone()]).collect()
}

/// Finding 1 of `statements`: statement ranges were trimmed with `str::trim_end`, which also
/// drops Unicode spaces; PostgreSQL reads U+00A0 as part of an identifier, so the statement text
/// lost it (and a lone U+00A0 statement vanished).
#[test]
fn unicode_space_at_the_end_of_a_statement_is_kept() {
    // Minimized fuzz input.
    let sql = std::str::from_utf8(b"\xC2\xA0").unwrap();
    let a = check(sql);
    assert_eq!(texts(sql, &a), ["\u{a0}"]);
    let sql = "select 1 as a\u{a0};\nselect 2 as b\u{2003}";
    let a = check(sql);
    assert!(a.syntax_error.is_none());
    assert_eq!(
        texts(sql, &a),
        ["select 1 as a\u{a0}", "select 2 as b\u{2003}"]
    );
}

/// Finding 2 of `statements`: `skip_trivia` ended a `--` comment only at LF, while PostgreSQL
/// ends it at CR too, so a statement after `-- comment\r` was taken for comment text: the script
/// looked blank, and after a syntax error the scanner fallback dropped that statement.
#[test]
fn line_comment_ends_at_a_lone_cr() {
    // Minimized fuzz input.
    let sql = std::str::from_utf8(b"--\r;A").unwrap();
    let a = check(sql);
    assert!(a.syntax_error.is_some());
    assert_eq!(texts(sql, &a), ["A"]);
    assert!(!sql_is_blank("-- header\rcreate table t ();"));
    let sql = "selec 1;\r-- c\rCOMMIT;\r";
    let a = check(sql);
    assert!(a.syntax_error.is_some());
    assert_eq!(texts(sql, &a), ["selec 1", "COMMIT"]);
    assert_eq!(
        a.statements[1].transaction_control,
        Some(TransactionControl::Commit)
    );
}

/// Not a library bug, a harness adjustment: a script with a NUL byte is refused whole (no
/// statements, a syntax error), so nothing outside statements needs to be trivia there.
#[test]
fn nul_byte_scripts_are_refused_whole() {
    let a = check("\0");
    assert!(a.statements.is_empty() && a.syntax_error.is_some());
}

#[test]
fn tricky_scripts_keep_the_invariants() {
    for sql in [
        "",
        ";",
        ";;;",
        "\u{feff}select 1",
        "\x0b",
        "select 1;\x0b\x0c",
        "select $$ unterminated",
        "select $a$ $$ $a$; select 2",
        "select $a$ unterminated $$",
        "/* a /* b */ c */ select 1",
        "/* unterminated /* nested */",
        "select 1 /* trailing",
        "select 'unterminated",
        "select E'\\'';",
        "select U&'\\0041';",
        "select \"odd;name\" from t",
        "select 1 -- c\n; select 2 -- d",
        "select 1;\rselect 2;\r",
        "select 1;\r\nselect 2;\r\n",
        "-- only\r",
        "begin; commit;",
        "BEGIN;COMMIT",
        "begin;\ncreate table t ();\ncommit;\n",
        "begin; select 1; rollback;",
        "begin; selec 1; commit;",
        "begin;",
        "start transaction; savepoint s; rollback to s; commit;",
        "create function f() returns int begin atomic select 1; end;",
        "create function f() returns int begin atomic select 1; end",
        "create index concurrently i on t (a); begin; commit;",
        "-- strata:no-transaction\ncreate index concurrently i on t (a);",
        "-- strata:no-transacton\nselect 1;",
        "vacuum; select é;",
        "select 'é';\u{2028}select 2",
        "((((((((((((((((((((((((((((((((select 1))))))))))))))))))))))))))))))))",
    ] {
        check(sql);
    }
}
