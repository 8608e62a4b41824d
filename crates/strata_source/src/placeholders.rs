//! Placeholders: Flyway's `${name}`, Go-template `{{ index .Options "name" }}`, and any
//! syntax a team declares (`/* {name} */`).
//!
//! Teams that template their migrations (a schema name per tenant, a role per environment)
//! keep doing so, in the syntax their own tooling used: values come from `strata.toml` or
//! `--var name=value`. Rendering happens after
//! loading, on the text that runs; the checksum stays the one of the unrendered file, so
//! changing a value is not an edit. Values must look like identifiers or simple literals (no
//! quotes, semicolons or whitespace) so a value can never change the shape of the SQL. Values
//! contain no newline, so line numbers in error messages stay exact.

use crate::{MigrationSet, Problem, SourceError};
use std::collections::BTreeMap;
use std::sync::Arc;
use strata_model::{Script, SourceFile};

/// Which placeholder syntaxes are active.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Syntax {
    /// Flyway's `${name}`.
    pub dollar_brace: bool,
    /// Go templates' `{{ index .Options "name" }}`.
    pub go_template: bool,
    /// A syntax the set declares (`placeholder_syntax` in strata.toml).
    pub declared: Option<PlaceholderSyntax>,
}

/// A placeholder syntax declared in strata.toml as a template around `{name}`, such as
/// `/* {name} */` (a comment token, so the unrendered file is still valid SQL) or `:{name}`
/// (psql's variables).
///
/// A placeholder is the text before `{name}`, a name (a letter or `_`, then letters, digits
/// and `_`), and the text after it. Spaces beside `{name}` in the template stand for any run
/// of spaces or tabs, none included (`/*SCHEMA*/` matches `/* {name} */` too); without them,
/// nothing may stand there (`: x` is no `:{name}`). A placeholder never spans lines, so line
/// numbers in messages stay exact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceholderSyntax {
    prefix: String,
    suffix: String,
    /// Blanks may stand between the prefix and the name.
    blank_before: bool,
    /// Blanks may stand between the name and the suffix.
    blank_after: bool,
}

impl PlaceholderSyntax {
    /// Parses a template; the error says what a template must look like.
    pub fn parse(template: &str) -> Result<PlaceholderSyntax, String> {
        let (before, after) = template.split_once("{name}").ok_or_else(|| {
            format!("placeholder_syntax `{template}` has no `{{name}}` where the placeholder's name goes, e.g. \"/* {{name}} */\"")
        })?;
        if after.contains("{name}") {
            return Err(format!(
                "placeholder_syntax `{template}` holds `{{name}}` twice; write it once"
            ));
        }
        let prefix = before.trim();
        let suffix = after.trim();
        if prefix.is_empty() {
            return Err(format!("placeholder_syntax `{template}` needs text before `{{name}}` (a placeholder must start with something that is not a name, e.g. \"/* {{name}} */\")"));
        }
        if template.contains(['\n', '\r']) {
            return Err(format!(
                "placeholder_syntax `{template}` spans lines; a placeholder must fit on one line"
            ));
        }
        Ok(PlaceholderSyntax {
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
            blank_before: before.ends_with([' ', '\t']),
            blank_after: after.starts_with([' ', '\t']),
        })
    }

    /// Every placeholder of `text` in this syntax.
    fn find(&self, text: &str, out: &mut Vec<Found>) {
        let blanks = |s: &str, allowed: bool| {
            if allowed {
                s.len() - s.trim_start_matches([' ', '\t']).len()
            } else {
                0
            }
        };
        let mut from = 0;
        while let Some(i) = text[from..].find(&self.prefix) {
            let start = from + i;
            from = start + self.prefix.len();
            let mut at = from + blanks(&text[from..], self.blank_before);
            let name_len = text[at..]
                .char_indices()
                .find(|&(k, c)| {
                    !(c == '_' || c.is_ascii_alphabetic() || (k > 0 && c.is_ascii_digit()))
                })
                .map_or(text.len() - at, |(k, _)| k);
            if name_len == 0 {
                continue;
            }
            let name = &text[at..at + name_len];
            at += name_len;
            at += blanks(&text[at..], self.blank_after);
            if !text[at..].starts_with(&self.suffix) {
                continue;
            }
            let end = at + self.suffix.len();
            out.push(Found {
                range: start..end,
                name: name.to_owned(),
            });
            from = end;
        }
    }
}

/// Checks that a value cannot change the shape of the SQL it is put in.
pub fn validate_value(name: &str, value: &str) -> Result<(), String> {
    if value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_.$:/-+".contains(c))
    {
        Ok(())
    } else {
        Err(format!(
            "the value of placeholder `{name}` may only hold letters, digits and _ . $ : / - + (it goes into SQL unquoted); found `{value}`"
        ))
    }
}

struct Found {
    range: std::ops::Range<usize>,
    name: String,
}

fn find(text: &str, syntax: &Syntax) -> Vec<Found> {
    let mut out = Vec::new();
    if let Some(declared) = &syntax.declared {
        declared.find(text, &mut out);
    }
    if syntax.dollar_brace {
        let mut from = 0;
        while let Some(i) = text[from..].find("${") {
            let start = from + i;
            match text[start + 2..].find('}') {
                Some(len) if !text[start + 2..start + 2 + len].contains(['\n', '$', '{']) => {
                    out.push(Found {
                        range: start..start + 2 + len + 1,
                        name: text[start + 2..start + 2 + len].trim().to_owned(),
                    });
                    from = start + 2 + len + 1;
                }
                _ => from = start + 2,
            }
        }
    }
    if syntax.go_template {
        let mut from = 0;
        while let Some(i) = text[from..].find("{{") {
            let start = from + i;
            let Some(len) = text[start..].find("}}") else {
                break;
            };
            let inner = text[start + 2..start + len].trim();
            let name = inner
                .strip_prefix("index .Options")
                .map(|rest| rest.trim().trim_matches('"').to_owned())
                .or_else(|| inner.strip_prefix('.').map(str::to_owned))
                .unwrap_or_else(|| inner.to_owned());
            out.push(Found {
                range: start..start + len + 2,
                name,
            });
            from = start + len + 2;
        }
    }
    out.sort_by_key(|f| f.range.start);
    out
}

/// A rendered file and, for each placeholder, where it ended in the original text and how far
/// the text after it moved.
type RenderedFile = (Arc<SourceFile>, Vec<(usize, isize)>);

/// Renders the placeholders of every script of `set`. Unknown placeholders are errors naming
/// file and line.
pub fn render_placeholders(
    set: &mut MigrationSet,
    values: &BTreeMap<String, String>,
    syntax: Syntax,
) -> Result<(), SourceError> {
    let mut problems = Vec::new();
    for (name, value) in values {
        if let Err(message) = validate_value(name, value) {
            problems.push(Problem::new(&set.dir, message));
        }
    }
    let mut rendered_files: BTreeMap<std::path::PathBuf, RenderedFile> = BTreeMap::new();
    for m in &mut set.migrations {
        // A code migration (`${x}` in Kotlin, `{{ }}` in Go) is not SQL, and strata never
        // runs it: its text is left as it is.
        if m.code_language().is_some() {
            continue;
        }
        for script in std::iter::once(&mut m.up).chain(m.down.as_mut()) {
            let path = script.file.path().to_owned();
            if !rendered_files.contains_key(&path) {
                let text = script.file.text();
                let found = find(text, &syntax);
                if found.is_empty() {
                    continue;
                }
                let mut out = String::with_capacity(text.len());
                let mut shifts = Vec::new();
                let mut last = 0;
                let mut delta: isize = 0;
                for f in &found {
                    if f.range.start < last {
                        continue;
                    }
                    out.push_str(&text[last..f.range.start]);
                    match values.get(&f.name) {
                        Some(v) => {
                            out.push_str(v);
                            delta += v.len() as isize - f.range.len() as isize;
                        }
                        None => {
                            let at = script.file.line_col(f.range.start);
                            problems.push(Problem::new(
                                path.file_name().map(std::path::PathBuf::from).unwrap_or_default(),
                                format!(
                                    "line {}: no value for placeholder `{}`; set it under [placeholders] in strata.toml or pass --var {}=...",
                                    at.line, f.name, f.name
                                ),
                            ));
                            out.push_str(&text[f.range.clone()]);
                        }
                    }
                    last = f.range.end;
                    shifts.push((f.range.end, delta));
                }
                out.push_str(&text[last..]);
                rendered_files.insert(
                    path.clone(),
                    (Arc::new(SourceFile::from_string(path.clone(), out)), shifts),
                );
            }
            if let Some((file, shifts)) = rendered_files.get(&path) {
                let map = |offset: usize| -> usize {
                    let d = shifts
                        .iter()
                        .rev()
                        .find(|(end, _)| *end <= offset)
                        .map_or(0, |(_, d)| *d);
                    (offset as isize + d) as usize
                };
                *script = Script {
                    file: file.clone(),
                    range: map(script.range.start)..map(script.range.end),
                    directives: script.directives.clone(),
                };
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(SourceError {
            dir: set.dir.clone(),
            problems,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{load_listing, Listing};

    #[test]
    fn renders_both_syntaxes_and_keeps_the_checksum() {
        let listing = Listing::from_memory(
            "/m",
            &[
                (
                    "V1__a.sql",
                    b"CREATE SCHEMA ${tenant};\nCREATE TABLE ${tenant}.t (id int);\n" as &[u8],
                ),
                (
                    "V2__b.sql",
                    b"GRANT USAGE ON SCHEMA {{ index .Options \"tenant\" }} TO app;\n",
                ),
            ],
        );
        let mut set = load_listing(&listing, None).unwrap();
        let before = set.migrations[0].checksum.clone();
        let values = BTreeMap::from([("tenant".to_owned(), "acme".to_owned())]);
        render_placeholders(
            &mut set,
            &values,
            Syntax {
                dollar_brace: true,
                go_template: true,
                declared: None,
            },
        )
        .unwrap();
        assert_eq!(
            set.migrations[0].up.sql(),
            "CREATE SCHEMA acme;\nCREATE TABLE acme.t (id int);\n"
        );
        assert_eq!(
            set.migrations[1].up.sql(),
            "GRANT USAGE ON SCHEMA acme TO app;\n"
        );
        assert_eq!(set.migrations[0].checksum, before);
    }

    #[test]
    fn unknown_placeholders_and_unsafe_values_are_errors() {
        let listing = Listing::from_memory(
            "/m",
            &[(
                "V1__a.sql",
                b"SELECT 1;\nCREATE SCHEMA ${missing};\n" as &[u8],
            )],
        );
        let mut set = load_listing(&listing, None).unwrap();
        let err = render_placeholders(
            &mut set,
            &BTreeMap::new(),
            Syntax {
                dollar_brace: true,
                go_template: false,
                declared: None,
            },
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("V1__a.sql: line 2: no value for placeholder `missing`"),
            "{err}"
        );
        let values = BTreeMap::from([("missing".to_owned(), "x; DROP TABLE t".to_owned())]);
        let err = render_placeholders(
            &mut set,
            &values,
            Syntax {
                dollar_brace: true,
                go_template: false,
                declared: None,
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("may only hold letters"), "{err}");
    }

    #[test]
    fn sections_keep_their_place() {
        let listing = Listing::from_memory("/m", &[("20250101000000_a.sql", b"-- migrate:up\nCREATE SCHEMA {{ .tenant }};\n-- migrate:down\nDROP SCHEMA {{ .tenant }};\n" as &[u8])]);
        let mut set = load_listing(&listing, None).unwrap();
        let values = BTreeMap::from([("tenant".to_owned(), "t1".to_owned())]);
        render_placeholders(
            &mut set,
            &values,
            Syntax {
                dollar_brace: false,
                go_template: true,
                declared: None,
            },
        )
        .unwrap();
        assert_eq!(set.migrations[0].up.sql().trim(), "CREATE SCHEMA t1;");
        assert_eq!(
            set.migrations[0].down.as_ref().unwrap().sql().trim(),
            "DROP SCHEMA t1;"
        );
    }

    #[test]
    fn a_declared_syntax_replaces_the_default_ones() {
        let listing = Listing::from_memory(
            "/m",
            &[(
                "V1__a.sql",
                b"/* create the schema */\nCREATE SCHEMA /* SCHEMA */;\nCREATE TABLE /*SCHEMA*/.t (id int); -- ${kept}\nSELECT '/* 1 */';\n" as &[u8],
            )],
        );
        let mut set = load_listing(&listing, None).unwrap();
        let before = set.migrations[0].checksum.clone();
        let values = BTreeMap::from([("SCHEMA".to_owned(), "tenant_1".to_owned())]);
        let syntax = Syntax {
            dollar_brace: false,
            go_template: false,
            declared: Some(PlaceholderSyntax::parse("/* {name} */").unwrap()),
        };
        render_placeholders(&mut set, &values, syntax.clone()).unwrap();
        assert_eq!(
            set.migrations[0].up.sql(),
            "/* create the schema */\nCREATE SCHEMA tenant_1;\nCREATE TABLE tenant_1.t (id int); -- ${kept}\nSELECT '/* 1 */';\n"
        );
        assert_eq!(set.migrations[0].checksum, before);
        // An unknown one is an error with its line, as in the other syntaxes.
        let listing = Listing::from_memory(
            "/m",
            &[(
                "V1__a.sql",
                b"SELECT 1;\nCREATE SCHEMA /* OTHER */;\n" as &[u8],
            )],
        );
        let mut set = load_listing(&listing, None).unwrap();
        let err = render_placeholders(&mut set, &values, syntax).unwrap_err();
        assert!(
            err.to_string()
                .contains("line 2: no value for placeholder `OTHER`"),
            "{err}"
        );
    }

    #[test]
    fn declared_syntaxes_are_checked() {
        assert!(PlaceholderSyntax::parse("/* name */")
            .unwrap_err()
            .contains("no `{name}`"));
        assert!(PlaceholderSyntax::parse("{name}")
            .unwrap_err()
            .contains("needs text before"));
        assert!(PlaceholderSyntax::parse("<{name}{name}>")
            .unwrap_err()
            .contains("twice"));
        // psql's variables: no suffix.
        let colon = PlaceholderSyntax::parse(":{name}").unwrap();
        let mut found = Vec::new();
        colon.find("select :a, :b_2, : c, :9 from t", &mut found);
        let names: Vec<&str> = found.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a", "b_2"]);
    }
}
