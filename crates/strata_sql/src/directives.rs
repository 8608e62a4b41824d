//! `-- strata:` directives.
//!
//! A misspelled directive silently ignored is worse than none at all (a `no-transacton` typo
//! would run a `CREATE INDEX CONCURRENTLY` migration in a transaction), so every `-- strata:`
//! comment must name a known directive; unknown ones are errors with a suggestion.

use strata_model::{parse_duration_ms, Directive, DirectiveKind};

/// Directive names, and whether they take a duration.
const KNOWN: &[(&str, bool)] = &[
    ("no-transaction", false),
    ("allow", false),
    ("squashed-baseline", false),
    ("template", false),
    ("lock-timeout", true),
    ("statement-timeout", true),
];

/// A `-- strata:` directive strata cannot accept: an unknown name, or a bad value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
#[non_exhaustive]
pub struct DirectiveError {
    /// The directive name as written.
    pub name: String,
    /// 1-based line in the file.
    pub line: usize,
    /// The closest known directive, for unknown names.
    pub suggestion: Option<String>,
    /// The whole message, with what to write instead.
    pub message: String,
}

/// Finds `-- strata:<name> [value]` comment lines in `text`; `first_line` is the 1-based line
/// number of the text's first line in its file.
pub fn parse_directives(text: &str, first_line: usize) -> Result<Vec<Directive>, DirectiveError> {
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        let Some(rest) = trimmed.strip_prefix("--") else {
            continue;
        };
        let Some(body) = rest.trim_start().strip_prefix("strata:") else {
            continue;
        };
        let mut words = body.split_whitespace();
        let name = words.next().unwrap_or("");
        let value = words.next();
        let line_no = first_line + i;
        let error = |message: String, suggestion: Option<String>| DirectiveError {
            name: name.to_owned(),
            line: line_no,
            suggestion,
            message,
        };
        let Some(&(_, takes_value)) = KNOWN.iter().find(|(k, _)| *k == name) else {
            let suggestion =
                strata_model::closest_name(name, KNOWN.iter().map(|(k, _)| *k)).map(str::to_owned);
            let hint = suggestion
                .as_ref()
                .map(|s| format!("; did you mean `-- strata:{s}`?"))
                .unwrap_or_else(|| {
                    format!(
                        "; strata knows {}",
                        KNOWN
                            .iter()
                            .map(|(k, _)| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                });
            return Err(error(
                format!("unknown directive `-- strata:{name}` at line {line_no}{hint}"),
                suggestion,
            ));
        };
        if name == "allow" {
            // Lint suppressions belong to the linter, which checks the rule names against its
            // registry; here they only need to name a rule.
            if value.is_none() {
                return Err(error(
                    format!("directive `-- strata:allow` at line {line_no} needs a rule name, like `-- strata:allow ban-drop-column column unused since v2`"),
                    None,
                ));
            }
            continue;
        }
        let kind = match (name, takes_value, value) {
            ("no-transaction", _, None) => DirectiveKind::NoTransaction,
            ("squashed-baseline", _, None) => DirectiveKind::SquashedBaseline,
            ("template", _, None) => DirectiveKind::Template,
            (_, true, Some(v)) => {
                let ms = parse_duration_ms(v).map_err(|m| error(format!("directive `-- strata:{name}` at line {line_no}: {m}"), None))?;
                if name == "lock-timeout" {
                    DirectiveKind::LockTimeout { ms }
                } else {
                    DirectiveKind::StatementTimeout { ms }
                }
            }
            (_, true, None) => return Err(error(format!("directive `-- strata:{name}` at line {line_no} needs a duration, like `-- strata:{name} 10s`"), None)),
            (_, false, Some(v)) => return Err(error(format!("directive `-- strata:{name}` at line {line_no} takes no value (found `{v}`)"), None)),
            _ => unreachable!("every known directive is covered"),
        };
        found.push(Directive {
            kind,
            line: line_no,
            text: trimmed.to_owned(),
        });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_take_a_duration() {
        let d = parse_directives(
            "-- strata:lock-timeout 10s\n-- strata:statement-timeout 2min\n",
            1,
        )
        .unwrap();
        assert_eq!(d[0].kind, DirectiveKind::LockTimeout { ms: 10_000 });
        assert_eq!(d[1].kind, DirectiveKind::StatementTimeout { ms: 120_000 });
        assert!(parse_directives("-- strata:lock-timeout\n", 1)
            .unwrap_err()
            .message
            .contains("needs a duration"));
        assert!(parse_directives("-- strata:lock-timeout ten\n", 1)
            .unwrap_err()
            .message
            .contains("not a duration"));
        assert!(parse_directives("-- strata:no-transaction now\n", 1)
            .unwrap_err()
            .message
            .contains("takes no value"));
    }

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
