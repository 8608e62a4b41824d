//! Runs the rules over a set, statement by statement, in the order strata would apply them.

use crate::rules::{Ctx, Raw, Sink};
use crate::state::{Applying, SchemaState};
use crate::suppress::{self, Scope};
use crate::{find_rule, Category, Finding, Level, Options, Report, Unit, RULES};
use pg_query::protobuf::node::Node as N;
use strata_model::TransactionMode;
use strata_sql::{analyze, decide_transaction_mode, unclosed_transaction, TransactionControl};

/// Lints `units` in order. Units with `report == false` only feed the schema state (their
/// rules do not run), so linting the pending tail of a long history stays cheap.
pub fn lint(units: &[Unit<'_>], options: &Options) -> Report {
    lint_run(&[(units, options)])
        .pop()
        .expect("one report per part")
}

/// Lints the parts of one run in the order it applies them (several sets, each with its own
/// options), one report per part. The schema state flows from one part into the next, so a
/// table one set creates is new for the sets after it; it starts from the first part's
/// [`Options::catalog`].
pub fn lint_run(parts: &[(&[Unit<'_>], &Options)]) -> Vec<Report> {
    let mut state = match parts.first() {
        Some((_, options)) => SchemaState::with_catalog(&options.catalog),
        None => SchemaState::default(),
    };
    let mut index = 0;
    let mut reports = Vec::with_capacity(parts.len());
    for (units, options) in parts {
        let mut report = Report::default();
        for unit in *units {
            state.begin_unit(index);
            index += 1;
            let statements = lint_unit(unit, options, &mut state, &mut report.findings);
            if unit.report {
                report.scripts += 1;
                report.statements += statements;
            }
        }
        reports.push(report);
    }
    reports
}

/// Splits and classifies a script. After a syntax error the scanner splits it and each
/// statement is parsed and classified on its own, so one typo does not change how the rest is
/// understood (nor how strata would run it); the second value then holds each statement's
/// parse error. Positions inside re-parsed statements are relative to the statement.
fn analyze_each(sql: &str) -> (strata_sql::Analysis, Option<Vec<Option<String>>>) {
    let analysis = analyze(sql);
    if analysis.syntax_error.is_none() {
        return (analysis, None);
    }
    let mut errors = Vec::with_capacity(analysis.statements.len());
    let statements = analysis
        .statements
        .iter()
        .map(|scanned| {
            let text = &sql[scanned.range.clone()];
            let alone = analyze(text);
            match (alone.syntax_error, alone.statements.into_iter().next()) {
                (None, Some(mut parsed)) => {
                    errors.push(None);
                    parsed.range = scanned.range.clone();
                    parsed
                }
                (error, _) => {
                    errors.push(Some(error.unwrap_or_else(|| "not a statement".into())));
                    scanned.clone()
                }
            }
        })
        .collect();
    (
        strata_sql::Analysis {
            statements,
            syntax_error: analysis.syntax_error,
        },
        Some(errors),
    )
}

fn lint_unit(
    unit: &Unit<'_>,
    options: &Options,
    state: &mut SchemaState,
    out: &mut Vec<Finding>,
) -> usize {
    let sql = unit.script.sql();
    let (analysis, errors) = analyze_each(sql);
    let shape = decide_transaction_mode(sql, &analysis, &unit.script.directives);
    let unclosed = unclosed_transaction(&analysis);
    let autocommit = shape.decision.mode == TransactionMode::NonTransactional;
    // Atomicity only matters with something to be atomic with: at least two statements that
    // change something, one of them an ordinary statement running outside a transaction.
    let changes = |s: &strata_sql::Statement| {
        !s.session_setting
            && s.transaction_control.is_none()
            && s.node
                .as_ref()
                .is_none_or(|n| !is_harmless_outside_transaction(n))
    };
    let first_mixed =
        if autocommit && analysis.statements.iter().filter(|s| changes(s)).count() >= 2 {
            analysis
                .statements
                .iter()
                .position(|s| !s.needs_autocommit && changes(s) && s.node.is_some())
        } else {
            None
        };
    let directive_timeout = unit.script.directives.iter().find_map(|d| match d.kind {
        strata_model::DirectiveKind::LockTimeout { ms } => Some(ms),
        _ => None,
    });
    let configured_timeout = directive_timeout.unwrap_or(options.lock_timeout_ms) > 0;
    let configured_statement_timeout = unit
        .script
        .directives
        .iter()
        .find_map(|d| match d.kind {
            strata_model::DirectiveKind::StatementTimeout { ms } => Some(ms),
            _ => None,
        })
        .unwrap_or(options.statement_timeout_ms)
        > 0;

    let mut raws: Vec<Raw> = Vec::new();
    let mut script_tx_open = false;
    let mut tx = 0usize;
    let mut entered_tx = false;
    for (i, statement) in analysis.statements.iter().enumerate() {
        let (node, base) = match &errors {
            Some(errors) => {
                if let Some(message) = &errors[i] {
                    raws.push(syntax_error(sql, statement.range.clone(), message, i));
                }
                // Statements re-parsed alone carry positions relative to their own start.
                (statement.node.as_ref(), statement.range.start)
            }
            None => (statement.node.as_ref(), 0),
        };
        let mut nesting = None;
        match statement.transaction_control {
            Some(TransactionControl::Begin) => {
                if script_tx_open {
                    nesting = Some("BEGIN inside a transaction the script already opened");
                }
                if !script_tx_open {
                    tx += 1;
                }
                script_tx_open = true;
            }
            Some(TransactionControl::Commit | TransactionControl::Rollback) => {
                if !script_tx_open && shape.decision.mode != TransactionMode::Transactional {
                    nesting = Some(
                        "COMMIT/ROLLBACK without a BEGIN: no transaction is open at this point",
                    );
                }
                script_tx_open = false;
            }
            _ => {}
        }
        let in_tx = shape.decision.mode == TransactionMode::Transactional || script_tx_open;
        if shape.decision.mode == TransactionMode::Transactional && !entered_tx {
            entered_tx = true;
            tx += 1;
        }
        if let Some(message) = strata_sql::meta_problem(statement) {
            raws.push(Raw {
                rule: find_rule("unsupported-meta-command")
                    .expect("unsupported-meta-command is registered"),
                severity: crate::Severity::Error,
                statement: Some(i),
                at: statement.range.start,
                end: Some(statement.range.end),
                message,
                help: "strata runs only `\\copy`, `\\echo`/`\\qecho` and settings that change nothing it does (`\\set ON_ERROR_STOP`, `\\timing`, `\\pset`, ...) as psql would".into(),
                table: None,
                index: None,
            });
        }
        let Some(node) = node else { continue };
        if unit.report {
            let ctx = Ctx {
                node,
                statement,
                index: i,
                sql,
                base,
                in_tx,
                tx,
                mode_reason: &shape.decision.reason,
                nesting,
                unclosed_begin: unclosed == Some(i),
                first_mixed_statement: first_mixed == Some(i),
                lock_timeout: state.script_lock_timeout().unwrap_or(configured_timeout),
                statement_timeout: state
                    .script_statement_timeout()
                    .unwrap_or(configured_statement_timeout),
                state,
                options,
            };
            for rule in RULES {
                let Level::On(severity) = options.level(rule) else {
                    continue;
                };
                if rule.category == Category::Meta {
                    continue;
                }
                let mut sink = Sink::new(rule, severity, i);
                (rule.check)(&ctx, &mut sink);
                raws.extend(sink.into_raws());
            }
        }
        state.apply(&Applying {
            node,
            statement: i,
            in_tx,
            tx,
            pending: unit.pending,
        });
    }
    if !unit.report {
        return analysis.statements.len();
    }

    let ranges: Vec<_> = analysis
        .statements
        .iter()
        .map(|s| s.range.clone())
        .collect();
    let mut suppressions = suppress::scan(sql, &ranges);
    raws.retain(|raw| {
        // Input strata cannot run is never hidden.
        if raw.rule.category == Category::Meta {
            return true;
        }
        let hit = suppressions.iter_mut().find(|s| {
            s.rule == raw.rule.name
                && match s.scope {
                    Scope::File => true,
                    Scope::Statement(i) => Some(i) == raw.statement,
                    Scope::Dangling => false,
                }
        });
        match hit {
            Some(s) => {
                s.used = true;
                false
            }
            None => true,
        }
    });
    for s in &suppressions {
        let (rule_name, message, help) = match find_rule(&s.rule) {
            None => (
                "invalid-suppression",
                format!("`-- strata:allow {}` names no lint rule", s.rule),
                match suppress::closest_rule(&s.rule) {
                    Some(c) => {
                        format!("did you mean `{c}`? `strata lint --list-rules` lists every rule")
                    }
                    None => "`strata lint --list-rules` lists every rule".to_owned(),
                },
            ),
            Some(rule) if !s.used && options.level(rule) != Level::Off => (
                "unused-suppression",
                match s.scope {
                    Scope::Dangling => format!(
                        "`-- strata:allow {}` is not followed by any statement",
                        s.rule
                    ),
                    _ => format!(
                        "`-- strata:allow {}` suppresses nothing: the rule finds no problem here",
                        s.rule
                    ),
                },
                "remove the comment (or move it directly above the statement it is meant for)"
                    .to_owned(),
            ),
            Some(_) => continue,
        };
        let Some(rule) = find_rule(rule_name) else {
            continue;
        };
        let Level::On(severity) = options.level(rule) else {
            continue;
        };
        raws.push(Raw {
            rule,
            severity,
            statement: None,
            at: s.span.start,
            end: Some(s.span.end),
            message,
            help,
            table: None,
            index: None,
        });
    }
    raws.sort_by_key(|r| r.at);
    for raw in raws {
        out.push(finding(unit, &ranges, raw));
    }
    analysis.statements.len()
}

/// Where the parser gave up: the first token whose prefix of the statement fails with an error
/// other than "at end of input" (prefixes before it are merely incomplete). libpg_query reports
/// the position, but the Rust binding keeps only the message.
fn error_offset(text: &str, message: &str) -> usize {
    if message.contains("end of input") {
        return text.len();
    }
    let Ok(tokens) = pg_query::scan_tokens(text) else {
        return 0;
    };
    for t in &tokens {
        let end = t.end as usize;
        let Some(prefix) = text.get(..end) else {
            continue;
        };
        match pg_query::parse(prefix, pg_query::ParserOptions::DEFAULT) {
            Err(pg_query::Error::Parse(m)) if !m.contains("end of input") => {
                return t.start as usize
            }
            _ => {}
        }
    }
    0
}

/// Statements whose partial application cannot hurt: comments, grants and ANALYZE do not need
/// a transaction to be safe to re-run.
fn is_harmless_outside_transaction(node: &N) -> bool {
    matches!(
        node,
        N::CommentStmt(_)
            | N::GrantStmt(_)
            | N::VacuumStmt(_)
            | N::SelectStmt(_)
            | N::VariableShowStmt(_)
    )
}

fn syntax_error(sql: &str, range: std::ops::Range<usize>, message: &str, index: usize) -> Raw {
    let text = &sql[range.clone()];
    let at = range.start + error_offset(text, message);
    let help = match unrendered_placeholder(sql, text, message) {
        Some(name) => format!(
            "this file has a placeholder that was not rendered; pass `--var {name}=value` (or set `{name}` under [placeholders] in strata.toml) so strata reads the SQL that will run"
        ),
        None => {
            "fix the SQL; no other rule ran on this statement, and strata will not run it".into()
        }
    };
    Raw {
        rule: find_rule("syntax-error").expect("syntax-error is registered"),
        severity: crate::Severity::Error,
        statement: Some(index),
        at,
        end: None,
        message: format!("syntax error in statement {}: {message}", index + 1),
        help,
        table: None,
        index: None,
    }
}

/// The name of a placeholder left in the statement (`${name}`, `{{ index .Options "name" }}`,
/// `{{ .name }}`) when the parser stopped at one of its characters: the file is a template
/// whose values were not given, not broken SQL.
fn unrendered_placeholder(sql: &str, statement: &str, message: &str) -> Option<String> {
    if !(message.contains("\"{\"") || message.contains("\"$\"")) {
        return None;
    }
    let name = |text: &str| -> Option<String> {
        if let Some(start) = text.find("${") {
            let rest = &text[start + 2..];
            let name = rest[..rest.find('}')?].trim();
            return (!name.is_empty()).then(|| name.to_owned());
        }
        let start = text.find("{{")?;
        let rest = &text[start + 2..];
        let inner = rest[..rest.find("}}")?].trim();
        let name = inner
            .strip_prefix("index .Options")
            .map(|n| n.trim().trim_matches('"'))
            .or_else(|| inner.strip_prefix('.'))
            .unwrap_or(inner)
            .trim();
        (!name.is_empty()).then(|| name.to_owned())
    };
    name(statement).or_else(|| name(sql))
}

fn finding(unit: &Unit<'_>, statements: &[std::ops::Range<usize>], raw: Raw) -> Finding {
    let script = unit.script;
    let sql = script.sql();
    let at = raw.at.min(sql.len());
    let statement_end = raw
        .statement
        .and_then(|i| statements.get(i))
        .map_or(sql.len(), |r| r.end.max(at));
    let line_end = sql[at..].find('\n').map_or(sql.len(), |n| at + n);
    let end = raw
        .end
        .unwrap_or_else(|| statement_end.min(line_end))
        .max(at)
        .min(sql.len());
    let start_file = script.range.start + at;
    let end_file = script.range.start + end;
    let start = script.file.line_col(start_file);
    let stop = script.file.line_col(end_file);
    Finding {
        rule: raw.rule.name,
        severity: raw.severity,
        message: raw.message,
        help: raw.help,
        file: script.file.path().to_path_buf(),
        line: start.line,
        col: start.col,
        end_line: stop.line,
        end_col: stop.col,
        migration: unit.name.clone(),
        statement: raw.statement.map(|i| i + 1),
        table: raw.table.as_ref().map(|t| t.display.clone()),
        table_name: raw.table.map(|t| t.name),
        table_rows: None,
        table_bytes: None,
        index_name: raw.index,
        notes: Vec::new(),
        span: start_file..end_file,
        source: script.file.clone(),
    }
}
