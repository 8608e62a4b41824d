//! `-- strata:` directives.
//!
//! A misspelled directive silently ignored is worse than none at all (a `no-transacton` typo
//! would run a `CREATE INDEX CONCURRENTLY` migration in a transaction), so every `-- strata:`
//! comment must name a known directive; unknown ones are errors with a suggestion.

use strata_model::{Directive, DirectiveKind};

const KNOWN: &[(&str, DirectiveKind)] = &[("no-transaction", DirectiveKind::NoTransaction)];

/// An unknown `-- strata:` directive.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown directive `-- strata:{name}` at line {line}{}", suggestion.as_ref().map(|s| format!("; did you mean `-- strata:{s}`?")).unwrap_or_default())]
#[non_exhaustive]
pub struct DirectiveError {
    /// The directive name as written.
    pub name: String,
    /// 1-based line in the file.
    pub line: usize,
    /// The closest known directive.
    pub suggestion: Option<String>,
}

/// Finds `-- strata:<name>` comment lines in `text`; `first_line` is the 1-based line number of
/// the text's first line in its file.
pub fn parse_directives(text: &str, first_line: usize) -> Result<Vec<Directive>, DirectiveError> {
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        let Some(rest) = trimmed.strip_prefix("--") else {
            continue;
        };
        let Some(name) = rest.trim_start().strip_prefix("strata:") else {
            continue;
        };
        let name = name.split_whitespace().next().unwrap_or("");
        let line_no = first_line + i;
        match KNOWN.iter().find(|(k, _)| *k == name) {
            Some((_, kind)) => found.push(Directive {
                kind: *kind,
                line: line_no,
                text: trimmed.to_owned(),
            }),
            None => {
                let suggestion = KNOWN
                    .iter()
                    .map(|(k, _)| (edit_distance(k, name), *k))
                    .filter(|(d, _)| *d <= 3)
                    .min()
                    .map(|(_, k)| k.to_owned());
                return Err(DirectiveError {
                    name: name.to_owned(),
                    line: line_no,
                    suggestion,
                });
            }
        }
    }
    Ok(found)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_rejects() {
        let d = parse_directives(
            "-- strata:no-transaction\ncreate index concurrently i on t(a);",
            1,
        )
        .unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].kind, DirectiveKind::NoTransaction);
        let e = parse_directives("select 1;\n--strata:no-transacton\n", 10).unwrap_err();
        assert_eq!(e.line, 11);
        assert_eq!(e.suggestion.as_deref(), Some("no-transaction"));
        assert!(e.to_string().contains("did you mean"));
    }
}
