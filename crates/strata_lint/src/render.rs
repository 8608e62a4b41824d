//! The report formats: terminal diagnostics, JSON, GitHub workflow annotations and SARIF 2.1.0
//! for code-scanning dashboards. Pure functions of a [`Report`], so each is snapshot-tested.

use crate::{Finding, Level, Report, Severity, RULES};
use serde_json::{json, Value};
use std::fmt::Write as _;

/// Where rule pages live, relative to strata's repository root.
const DOCS_DIR: &str = "docs/rules";

/// Terminal diagnostics: each finding with its source line underlined, a `help:` line and the
/// rule's page, then a one-line summary. `color` adds ANSI colours.
pub fn render_text(report: &Report, color: bool) -> String {
    render_text_capped(report, color, usize::MAX, "")
}

/// [`render_text`] showing at most `cap` findings, then a line saying how many more there are
/// followed by `more` (where to see them all); the summary still counts every finding.
pub fn render_text_capped(report: &Report, color: bool, cap: usize, more: &str) -> String {
    let mut out = String::new();
    for f in report.findings.iter().take(cap) {
        let _ = writeln!(out, "{}\n", strata_report::render(&diagnostic(f), color));
    }
    if report.findings.len() > cap {
        let _ = writeln!(
            out,
            "... and {} more; {more}\n",
            report.findings.len() - cap
        );
    }
    let _ = writeln!(out, "{}", summary_line(report));
    out
}

/// A finding as every diagnostic is shown: its line underlined, then the table's size when
/// the database was asked, the rule's notes, the help and the rule's page.
fn diagnostic(f: &Finding) -> strata_report::Diagnostic {
    use strata_report::Footer;
    let mut footers = Vec::new();
    if let Some(rows) = f.table_rows {
        footers.push(Footer::Note(format!(
            "`{}` has about {} rows on the target database",
            f.table.as_deref().unwrap_or("?"),
            rows.max(0.0).round() as u64
        )));
    }
    footers.extend(f.notes.iter().cloned().map(Footer::Note));
    footers.push(Footer::Help(f.help.clone()));
    footers.push(Footer::Note(format!(
        "see {DOCS_DIR}/{}.md or `strata lint --explain {}`",
        f.rule, f.rule
    )));
    let ((text, first_line), span) = snippet_window(f);
    strata_report::Diagnostic {
        level: match f.severity {
            Severity::Error => strata_report::Level::Error,
            Severity::Warning => strata_report::Level::Warning,
        },
        title: format!("{} [{}]", f.message, f.rule),
        origin: f.file.display().to_string(),
        excerpt: Some(strata_report::Excerpt {
            text,
            first_line,
            span,
            label: None,
            fold: false,
        }),
        footers,
    }
}

/// The lines of the file covered by the finding, with the 1-based number of the first one
/// and the finding's span relative to them: rendering only these lines keeps output fast on
/// large files.
fn snippet_window(f: &Finding) -> ((String, usize), std::ops::Range<usize>) {
    let text = f.source.text();
    let start = f.span.start.min(text.len());
    let end = f.span.end.clamp(start, text.len());
    let window_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let window_end = text[end..].find('\n').map_or(text.len(), |i| end + i);
    // Carriage returns are not line breaks to strata (a CRLF file reads like an LF one, and
    // columns ignore CR), and the renderer mishandles them: drop them, shifting the span.
    let window = &text[window_start..window_end];
    let crs_before = |offset: usize| window[..offset].matches('\r').count();
    let span_start = (start - window_start) - crs_before(start - window_start);
    let span_end = (end - window_start) - crs_before(end - window_start);
    let shown = window.replace('\r', "");
    let span_end = span_end.max(span_start + 1).min(shown.len() + 1);
    ((shown, f.line), span_start..span_end)
}

fn summary_line(report: &Report) -> String {
    let (errors, warnings) = (report.errors(), report.warnings());
    if errors == 0 && warnings == 0 {
        format!(
            "lint: no findings in {} statements of {} migrations",
            report.statements, report.scripts
        )
    } else {
        format!(
            "lint: {errors} error{}, {warnings} warning{} in {} statements of {} migrations",
            if errors == 1 { "" } else { "s" },
            if warnings == 1 { "" } else { "s" },
            report.statements,
            report.scripts
        )
    }
}

/// The report as one JSON document: `findings` (each with rule, severity, message, help,
/// file, line, col, end_line, end_col, migration, statement, table, table_rows), and totals.
pub fn render_json(report: &Report) -> Value {
    json!({
        "findings": report.findings,
        "errors": report.errors(),
        "warnings": report.warnings(),
        "statements": report.statements,
        "migrations": report.scripts,
    })
}

/// GitHub Actions workflow commands: one `::error`/`::warning` annotation per finding, shown
/// on the pull request's diff.
pub fn render_github(report: &Report) -> String {
    let mut out = String::new();
    for f in &report.findings {
        let kind = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = writeln!(
            out,
            "::{kind} file={},line={},col={},endLine={},endColumn={},title={}::{}",
            escape_property(&f.file.display().to_string()),
            f.line,
            f.col,
            f.end_line,
            f.end_col,
            escape_property(&format!("strata lint: {}", f.rule)),
            escape_data(&format!("{} (help: {})", f.message, f.help)),
        );
    }
    out
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// SARIF 2.1.0 with every registered rule's metadata and one result per finding.
pub fn render_sarif(report: &Report) -> Value {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|r| {
            json!({
                "id": r.name,
                "name": r.name,
                "shortDescription": {"text": r.summary},
                "fullDescription": {"text": r.summary},
                "help": {"text": r.docs, "markdown": r.docs},
                "defaultConfiguration": {"level": match r.default {
                    Level::Off => "none",
                    Level::On(Severity::Warning) => "warning",
                    Level::On(Severity::Error) => "error",
                }, "enabled": r.default != Level::Off},
                "properties": {"category": r.category.as_str()},
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            json!({
                "ruleId": f.rule,
                "ruleIndex": RULES.iter().position(|r| r.name == f.rule),
                "level": f.severity.as_str(),
                "message": {"text": format!("{} (help: {})", f.message, f.help)},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": artifact_location(&f.file),
                        "region": {
                            "startLine": f.line,
                            "startColumn": f.col,
                            "endLine": f.end_line,
                            "endColumn": f.end_col,
                        }
                    }
                }],
                "properties": {"migration": f.migration, "statement": f.statement, "table": f.table, "tableRows": f.table_rows},
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "strata lint",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    })
}

/// A SARIF artifact location: a relative path is a percent-encoded URI reference against the
/// checkout root (`%SRCROOT%`), an absolute one a `file://` URI.
fn artifact_location(path: &std::path::Path) -> Value {
    let text = path.to_string_lossy().replace('\\', "/");
    let mut encoded = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            encoded.push(char::from(b));
        } else {
            let _ = write!(encoded, "%{b:02X}");
        }
    }
    if path.is_absolute() {
        json!({"uri": format!("file://{encoded}")})
    } else {
        json!({"uri": encoded, "uriBaseId": "%SRCROOT%"})
    }
}

/// The rules table of `docs/rules/README.md`, generated from the registry.
pub fn rules_index_markdown() -> String {
    let mut out = String::from(
        "| rule | category | default | an error stops `up` | flags |\n|---|---|---|---|---|\n",
    );
    for r in RULES {
        let _ = writeln!(
            out,
            "| [{}]({}.md) | {} | {} | {} | {} |",
            r.name,
            r.name,
            r.category.as_str(),
            match r.default {
                Level::Off => "off (opt-in)",
                other => other.as_str(),
            },
            r.gate.as_str(),
            r.summary.replace('|', "\\|")
        );
    }
    out
}
