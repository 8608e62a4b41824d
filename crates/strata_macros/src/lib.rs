//! `strata::embed!("migrations")`: a migration set compiled into the binary.
//!
//! An application that migrates its own database on start-up should not depend on a directory
//! being deployed beside it, nor find out at three in the morning that one of its files does
//! not parse. So the set is read when the application is built: the directory is read as
//! `strata` reads it (every layout, the same detection), each file's bytes are included with
//! `include_bytes!` (so editing a file rebuilds the crate), the layout and every migration's
//! checksum are fixed by the build, and anything `strata validate` would report in a script
//! (SQL that does not parse, a `BEGIN` never closed, a psql meta-command strata cannot run) is
//! a compile error naming the file and line. Use it through the `strata` crate, whose
//! `Migrations` type the expansion builds.
//!
//! The macro takes no dependency on `syn` or `quote`: its input is one string literal and its
//! output a handful of constants, written as text and parsed, which keeps the build of every
//! application using it short.

use proc_macro::{Delimiter, Group, Literal, Punct, Spacing, TokenStream, TokenTree};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Embeds the migration set in `dir` (relative to the crate's `Cargo.toml`) and evaluates to a
/// `strata::Migrations`.
///
/// ```ignore
/// let migrations: strata::Migrations = strata::embed!("migrations");
/// ```
///
/// Problems in the files are compile errors. Editing a file rebuilds the crate; adding or
/// removing one does not by itself (a procedural macro cannot watch a directory on stable
/// Rust), so put `println!("cargo:rerun-if-changed=migrations");` in the crate's `build.rs`.
#[proc_macro]
pub fn embed(input: TokenStream) -> TokenStream {
    match expand(input) {
        Ok(code) => code
            .parse()
            .unwrap_or_else(|e| compile_error(&format!("strata::embed!: internal error: {e}"))),
        Err(message) => compile_error(&message),
    }
}

/// `compile_error!("message")` at the macro's call site.
fn compile_error(message: &str) -> TokenStream {
    TokenStream::from_iter([
        TokenTree::Ident(proc_macro::Ident::new(
            "compile_error",
            proc_macro::Span::call_site(),
        )),
        TokenTree::Punct(Punct::new('!', Spacing::Alone)),
        TokenTree::Group(Group::new(
            Delimiter::Parenthesis,
            TokenStream::from_iter([TokenTree::Literal(Literal::string(message))]),
        )),
    ])
}

/// The generated expression, or the message of the compile error.
fn expand(input: TokenStream) -> Result<String, String> {
    let written = path_argument(input)?;
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .ok_or("strata::embed!: CARGO_MANIFEST_DIR is not set (build with cargo)")?;
    let dir = manifest_dir.join(&written);
    embedded_set(&dir, &written)
}

/// The one argument: a plain string literal.
fn path_argument(input: TokenStream) -> Result<String, String> {
    let usage = "strata::embed! takes one string literal, the migration directory relative to Cargo.toml: strata::embed!(\"migrations\")";
    let mut tokens = input.into_iter();
    let (Some(TokenTree::Literal(literal)), None) = (tokens.next(), tokens.next()) else {
        return Err(usage.into());
    };
    let text = literal.to_string();
    let inner = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .or_else(|| {
            text.strip_prefix("r\"")
                .or_else(|| text.strip_prefix("r#\""))
                .and_then(|t| t.strip_suffix('"').or_else(|| t.strip_suffix("\"#")))
        })
        .ok_or(usage)?;
    if inner.contains('\\') && text.starts_with('"') {
        return Err(format!(
            "{usage}; write the path without escapes (use `/` between directories)"
        ));
    }
    Ok(inner.to_owned())
}

/// Reads and checks the set in `dir` (shown as `written` in messages and at run time) and
/// writes the expression building it.
fn embedded_set(dir: &Path, written: &str) -> Result<String, String> {
    let mut listing = strata_source::Listing::read(dir).map_err(|e| {
        format!(
            "strata::embed!: cannot read the migration directory {}: {e}",
            dir.display()
        )
    })?;
    listing.read_deferred().map_err(|e| {
        format!(
            "strata::embed!: cannot read a file in {}: {e}",
            dir.display()
        )
    })?;
    let set = strata_source::load_listing(&listing, None)
        .map_err(|e| format!("strata::embed!(\"{written}\"): {e}"))?;
    let problems = script_problems(&set, dir, written);
    if !problems.is_empty() {
        return Err(format!(
            "strata::embed!(\"{written}\"): {} problem(s) in the migration scripts:\n{}",
            problems.len(),
            problems
                .iter()
                .map(|p| format!("  - {p}"))
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }

    let mut code = String::from("{\n    const FILES: &[(&str, &[u8])] = &[\n");
    for entry in listing.entries() {
        let Some(rel) = entry.rel.to_str() else {
            return Err(format!(
                "strata::embed!(\"{written}\"): the file name {} is not UTF-8; rename it",
                entry.rel.display()
            ));
        };
        let absolute = dir.join(&entry.rel);
        let Some(absolute) = absolute.to_str() else {
            return Err(format!(
                "strata::embed!(\"{written}\"): the path {} is not UTF-8",
                absolute.display()
            ));
        };
        let _ = writeln!(code, "        ({rel:?}, include_bytes!({absolute:?})),");
    }
    code.push_str("    ];\n    const CHECKSUMS: &[(&str, &str)] = &[\n");
    for m in &set.migrations {
        let _ = writeln!(
            code,
            "        ({:?}, {:?}),",
            m.id.registry_key(),
            m.checksum.hex
        );
    }
    let _ = write!(
        code,
        "    ];\n    ::strata::Migrations::__embedded({written:?}, {:?}, FILES, CHECKSUMS)\n}}",
        set.detection.layout.as_str()
    );
    Ok(code)
}

/// What `strata validate` would report in the set's SQL scripts, one line each, located as
/// `dir/file:line:col`.
fn script_problems(set: &strata_source::MigrationSet, dir: &Path, written: &str) -> Vec<String> {
    let mut found = Vec::new();
    for m in &set.migrations {
        // Code migrations (goose `.go`, Flyway `.java`) are their own tool's to check.
        if m.code_language().is_some() {
            continue;
        }
        for script in std::iter::once(&m.up).chain(m.down.as_ref()) {
            let sql = script.sql();
            let shown = shown_path(script.file.path(), dir, written);
            let analysis = strata_sql::analyze(sql);
            found.extend(copies_from_files(&analysis).into_iter().map(|(offset, file)| {
                let at = script.locate(offset);
                format!(
                    "{shown}:{}:{}: `\\copy ... from '{file}'` reads a file when the migration runs, and an embedded set has no directory at run time; put the rows after `\\copy ... from stdin` in the script (ended by a `\\.` line), or load the set with `Migrations::from_dir`",
                    at.line, at.col
                )
            }));
            for problem in strata_sql::problems_in(sql, &analysis) {
                // Placeholders (`${name}`, `{{ .Name }}`) are filled in at run time; until
                // then the grammar cannot judge the script.
                if problem.kind == strata_sql::ScriptProblemKind::Syntax
                    && (sql.contains("${") || sql.contains("{{"))
                {
                    continue;
                }
                match problem.offset {
                    Some(offset) => {
                        let at = script.locate(offset);
                        found.push(format!(
                            "{shown}:{}:{}: {}",
                            at.line, at.col, problem.message
                        ));
                    }
                    None => found.push(format!("{shown}: {}", problem.message)),
                }
            }
        }
    }
    found
}

/// Each `\copy ... from 'file'` of an analysed script: its byte offset and the file named.
fn copies_from_files(analysis: &strata_sql::Analysis) -> Vec<(usize, String)> {
    analysis
        .statements
        .iter()
        .filter_map(|s| {
            let meta = s.meta.as_ref().filter(|m| m.name == "copy")?;
            let copy = strata_sql::meta::parse_copy(&meta.args).ok()?;
            match (copy.direction, copy.endpoint) {
                (
                    strata_sql::meta::CopyDirection::From,
                    strata_sql::meta::CopyEndpoint::File(f),
                ) => Some((s.range.start, f)),
                _ => None,
            }
        })
        .collect()
}

/// A file's path as the user wrote the directory (`migrations/001_init.sql`), not as the
/// build machine spells it.
fn shown_path(path: &Path, dir: &Path, written: &str) -> String {
    let rel = path.strip_prefix(dir).unwrap_or(path);
    Path::new(written).join(rel).display().to_string()
}

#[cfg(test)]
mod tests {
    //! The fixture corpus decides: every `ok` case of every layout embeds, every `err` case is
    //! a compile error containing each line of its `.expect` (the phrase and the file:line).

    use super::embedded_set;
    use std::path::{Path, PathBuf};

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
    }

    /// Every case directory under `<group>/<ok|err>/` for each group in `groups`.
    fn cases(groups: &[PathBuf], outcome: &str) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for group in groups {
            let Ok(entries) = std::fs::read_dir(group.join(outcome)) else {
                continue;
            };
            for e in entries.flatten() {
                if e.path().is_dir() {
                    found.push(e.path());
                }
            }
        }
        found.sort();
        found
    }

    fn groups() -> Vec<PathBuf> {
        let mut groups: Vec<PathBuf> = std::fs::read_dir(fixtures().join("layouts"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        groups.push(fixtures().join("embed"));
        groups.sort();
        groups
    }

    #[test]
    fn every_ok_case_embeds_every_file_with_its_checksums() {
        let ok = cases(&groups(), "ok");
        assert!(ok.len() > 20, "the corpus is missing: {ok:?}");
        for case in ok {
            let code = embedded_set(&case, "migrations")
                .unwrap_or_else(|e| panic!("{} does not embed:\n{e}", case.display()));
            let set = strata_source::load_dir(&case, None).unwrap();
            assert!(code.contains("::strata::Migrations::__embedded(\"migrations\""));
            assert!(
                code.contains(&format!("{:?}", set.detection.layout.as_str())),
                "{}: layout not fixed\n{code}",
                case.display()
            );
            for m in &set.migrations {
                assert!(
                    code.contains(&format!("{:?}", m.checksum.hex)),
                    "{}: no checksum for {}",
                    case.display(),
                    m.id.registry_key()
                );
                let file = m.path().canonicalize().unwrap();
                assert!(
                    code.contains(&format!("include_bytes!({:?})", file.to_str().unwrap()))
                        || code
                            .contains(&format!("include_bytes!({:?})", m.path().to_str().unwrap())),
                    "{}: {} not included\n{code}",
                    case.display(),
                    m.path().display()
                );
            }
        }
    }

    #[test]
    fn every_err_case_is_a_compile_error_naming_its_problem_and_file() {
        let err = cases(&groups(), "err");
        assert!(err.len() > 20, "the corpus is missing: {err:?}");
        for case in err {
            let expect = std::fs::read_to_string(case.with_extension("expect"))
                .unwrap_or_else(|e| panic!("{}.expect: {e}", case.display()));
            let message = match embedded_set(&case, "migrations") {
                Ok(_) => panic!("{} embedded, but must not", case.display()),
                Err(message) => message,
            };
            assert!(message.starts_with("strata::embed!"), "{message}");
            for line in expect.lines().filter(|l| !l.trim().is_empty()) {
                assert!(
                    message.to_lowercase().contains(&line.trim().to_lowercase()),
                    "{}: the error does not contain `{line}`:\n{message}",
                    case.display()
                );
            }
        }
    }

    #[test]
    fn a_missing_directory_is_named() {
        let e = embedded_set(Path::new("/nonexistent/strata-embed"), "migrations").unwrap_err();
        assert!(
            e.contains("cannot read the migration directory /nonexistent/strata-embed"),
            "{e}"
        );
    }

    #[test]
    fn paths_are_shown_as_written() {
        let dir = fixtures().join("embed/err/syntax_error");
        let e = embedded_set(&dir, "db/migrations").unwrap_err();
        assert!(
            e.contains("db/migrations/002_b.up.sql:3:1: syntax error"),
            "{e}"
        );
    }
}
