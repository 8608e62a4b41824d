//! `-- strata:allow <rule>[,<rule>...] [reason]` comments.
//!
//! A suppression is a decision someone made about one statement, so it sits next to that
//! statement: on the comment lines directly above it (or inside it, above the flagged column).
//! At the top of a file, separated from the first statement by a blank line, it covers the
//! whole file; anywhere else a blank line detaches it from the statement below (and it is
//! reported as unused). A suppression that suppresses nothing is reported, so stale ones do not pile up
//! and hide the next real problem.

use std::ops::Range;

/// Where a suppression applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every statement of the script.
    File,
    /// One statement (0-based index).
    Statement(usize),
    /// Nothing follows it.
    Dangling,
}

/// One rule named by one `-- strata:allow` comment.
#[derive(Debug, Clone)]
pub struct Suppression {
    /// The rule as written.
    pub rule: String,
    /// Byte range of the comment in the script.
    pub span: Range<usize>,
    /// What it covers.
    pub scope: Scope,
    /// Set once it suppressed a finding.
    pub used: bool,
}

/// Finds the suppressions of a script whose statements span `statements`.
pub fn scan(sql: &str, statements: &[Range<usize>]) -> Vec<Suppression> {
    let mut found = Vec::new();
    let mut offset = 0;
    for line in sql.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let trimmed = line.trim_start();
        let Some(body) = trimmed
            .strip_prefix("--")
            .map(str::trim_start)
            .and_then(|b| b.strip_prefix("strata:allow"))
        else {
            continue;
        };
        if !body.is_empty() && !body.starts_with(char::is_whitespace) {
            continue; // `strata:allowed`, not ours
        }
        let comment_start = start + (line.len() - trimmed.len());
        let span = comment_start..start + line.trim_end().len();
        let scope = scope_of(sql, statements, comment_start, offset);
        // `rule-a,rule-b reason` and `rule-a, rule-b reason` both list two rules.
        let mut words = body.split_whitespace();
        let mut rules = words.next().unwrap_or("").to_owned();
        while rules.ends_with(',') {
            match words.next() {
                Some(w) => rules.push_str(w),
                None => break,
            }
        }
        for rule in rules.split(',').filter(|r| !r.is_empty()) {
            found.push(Suppression {
                rule: rule.to_owned(),
                span: span.clone(),
                scope,
                used: false,
            });
        }
    }
    found
}

fn scope_of(sql: &str, statements: &[Range<usize>], at: usize, line_end: usize) -> Scope {
    let Some((index, next)) = statements.iter().enumerate().find(|(_, s)| s.end > at) else {
        return Scope::Dangling;
    };
    if next.start <= at {
        return Scope::Statement(index);
    }
    let gap = &sql[line_end.min(next.start)..next.start];
    let blank_line_between = gap
        .split_inclusive('\n')
        .any(|l| l.ends_with('\n') && l.trim().is_empty());
    match (blank_line_between, index) {
        (true, 0) => Scope::File,
        (true, _) => Scope::Dangling,
        (false, _) => Scope::Statement(index),
    }
}

/// The rule name closest to `name`, for "did you mean" hints.
pub fn closest_rule(name: &str) -> Option<&'static str> {
    strata_model::closest_name(name, crate::RULES.iter().map(|r| r.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(sql: &str) -> Vec<(String, Scope)> {
        let a = strata_sql::analyze(sql);
        let ranges: Vec<_> = a.statements.iter().map(|s| s.range.clone()).collect();
        scan(sql, &ranges)
            .into_iter()
            .map(|s| (s.rule, s.scope))
            .collect()
    }

    #[test]
    fn scopes_follow_placement() {
        let sql = "-- strata:allow prefer-jsonb legacy\n\ncreate table a (j json);\n-- why\n-- strata:allow ban-drop-table,renaming-table gone\ndrop table b;\ncreate table c (\n  -- strata:allow prefer-timestamptz\n  t timestamp\n);\n-- strata:allow ban-drop-column\n";
        assert_eq!(
            scopes(sql),
            vec![
                ("prefer-jsonb".into(), Scope::File),
                ("ban-drop-table".into(), Scope::Statement(1)),
                ("renaming-table".into(), Scope::Statement(1)),
                ("prefer-timestamptz".into(), Scope::Statement(2)),
                ("ban-drop-column".into(), Scope::Dangling),
            ]
        );
    }

    #[test]
    fn a_comment_directly_above_the_first_statement_covers_only_it() {
        let sql = "-- strata:allow ban-drop-table\ndrop table a;\ndrop table b;\n";
        assert_eq!(
            scopes(sql),
            vec![("ban-drop-table".into(), Scope::Statement(0))]
        );
    }
}
