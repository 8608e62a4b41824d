//! Understanding migration SQL with PostgreSQL's own parser.
//!
//! Runners that guess statement boundaries with regular expressions break on dollar-quoted
//! function bodies, and runners that guess the transaction mode make users annotate every
//! `CREATE INDEX CONCURRENTLY`. strata uses libpg_query (the server's grammar, via `pg_query`)
//! to split scripts, to find the statements PostgreSQL refuses inside a transaction block, and
//! to recognise scripts that manage their own `BEGIN`/`COMMIT`. The executor and the linter both
//! use [`decide_transaction_mode`], so they can never disagree about how a migration runs.

mod check;
mod directives;
pub mod meta;
pub mod objects;

pub use check::{problems_in, script_problems, ScriptProblem, ScriptProblemKind};
pub use directives::{parse_directives, DirectiveError};
pub use meta::{MetaCommand, MetaSupport};

use pg_query::protobuf::{self, node::Node as N};
use std::ops::Range;
use strata_model::{quote_ident, Directive, DirectiveKind, TransactionDecision, TransactionMode};

/// One statement of a script.
#[derive(Debug, Clone)]
pub struct Statement {
    /// Byte range in the script, from the first token to the end of the statement (without the
    /// terminating semicolon).
    pub range: Range<usize>,
    /// Short description for messages, e.g. `CREATE INDEX CONCURRENTLY`.
    pub summary: String,
    /// Set when PostgreSQL refuses to run this statement inside a transaction block.
    pub needs_autocommit: bool,
    /// Set for `BEGIN`, `COMMIT`, `SAVEPOINT`, ... statements.
    pub transaction_control: Option<TransactionControl>,
    /// Set for `SET`/`RESET` (search_path, role, ...): session state a resumed run replays.
    pub session_setting: bool,
    /// Set for `CALL` and `DO`, which may commit on their own (batched backfills): never
    /// wrapped in a transaction by strata.
    pub procedural: bool,
    /// For `CREATE INDEX CONCURRENTLY` with an explicit name: the index as `schema.name` or
    /// `name`, already quoted for `to_regclass`. A failed build leaves an INVALID index of that
    /// name behind, which a resumed run must drop first.
    pub concurrent_index: Option<String>,
    /// The parse tree, when the parser could build it (absent after a syntax error and for
    /// meta-commands).
    pub node: Option<N>,
    /// Set for a psql meta-command (`\copy ...`, `\set ON_ERROR_STOP on`): not SQL, never
    /// sent to the server as written; the executor runs it as psql would (see [`meta`]). Its
    /// `range` covers the command's line (for `\copy ... from stdin`, up to the `\.` line) and
    /// its `summary` is the command's name (`\copy`). It counts as a statement like any other
    /// (statement numbers, the statement journal and its fingerprint).
    pub meta: Option<MetaCommand>,
}

/// The kinds of transaction-control statements a script can contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionControl {
    /// `BEGIN` / `START TRANSACTION`.
    Begin,
    /// `COMMIT` / `END`.
    Commit,
    /// `ROLLBACK` (not `ROLLBACK TO SAVEPOINT`).
    Rollback,
    /// `SAVEPOINT`, `RELEASE`, `ROLLBACK TO`: legal inside a transaction.
    Savepoint,
    /// Two-phase commit statements.
    TwoPhase,
}

/// A script as the parser sees it.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// Statements in order. After a syntax error they come from the scanner, which still
    /// respects quotes, dollar quotes and comments.
    pub statements: Vec<Statement>,
    /// The parser's message when the script is not valid SQL; the server will report the exact
    /// position when the script runs.
    pub syntax_error: Option<String>,
}

/// Splits and classifies a script. psql meta-commands (see [`meta`]) become statements of their
/// own, in their place; the parser sees the script with them blanked out, so the SQL around
/// them splits and parses exactly as it would without them.
pub fn analyze(sql: &str) -> Analysis {
    if sql.contains('\0') {
        return Analysis {
            statements: Vec::new(),
            syntax_error: Some("the script contains a NUL byte".into()),
        };
    }
    let found = meta::find(sql);
    let Some(blanked) = found.blanked else {
        return analyze_sql(sql);
    };
    let mut analysis = analyze_sql(&blanked);
    let mut metas = found
        .commands
        .into_iter()
        .map(|(range, command)| Statement {
            range,
            summary: format!("\\{}", command.name),
            needs_autocommit: false,
            transaction_control: None,
            session_setting: false,
            procedural: false,
            concurrent_index: None,
            node: None,
            meta: Some(command),
        })
        .peekable();
    let mut statements = Vec::with_capacity(analysis.statements.len() + metas.len());
    for s in analysis.statements {
        while let Some(m) = metas.next_if(|m| m.range.start < s.range.start) {
            statements.push(m);
        }
        statements.push(s);
    }
    statements.extend(metas);
    analysis.statements = statements;
    analysis
}

/// The first meta-command of `analysis` that strata cannot run: its index and the message
/// (without the location, which the caller adds).
pub fn unsupported_meta(analysis: &Analysis) -> Option<(usize, String)> {
    analysis
        .statements
        .iter()
        .enumerate()
        .find_map(|(i, s)| meta_problem(s).map(|message| (i, message)))
}

/// Why strata cannot run meta-command statement `s` (unsupported, or a `\copy` it cannot
/// parse); `None` for SQL statements and the meta-commands strata runs.
pub fn meta_problem(s: &Statement) -> Option<String> {
    let m = s.meta.as_ref()?;
    if let Some(message) = m.unsupported_message() {
        return Some(message);
    }
    if m.support() == MetaSupport::Copy {
        if let Err(e) = meta::parse_copy(&m.args) {
            return Some(format!("psql meta-command `{}`: {e}", m.display()));
        }
    }
    None
}

fn analyze_sql(sql: &str) -> Analysis {
    match pg_query::parse(sql, pg_query::ParserOptions::DEFAULT) {
        Ok(parsed) => {
            let statements = parsed
                .protobuf
                .stmts
                .into_iter()
                .map(|raw| statement_from_raw(sql, raw))
                .collect();
            Analysis {
                statements,
                syntax_error: None,
            }
        }
        Err(err) => {
            let message = match err {
                pg_query::Error::Parse(m) => m,
                other => other.to_string(),
            };
            Analysis {
                statements: scanner_statements(sql),
                syntax_error: Some(message),
            }
        }
    }
}

fn statement_range(sql: &str, location: i32, len: i32) -> Range<usize> {
    let start = location.max(0) as usize;
    let end = if len <= 0 {
        sql.len()
    } else {
        start + len as usize
    };
    trim_range(sql, start..end)
}

/// Drops leading whitespace and comments so positions point at the statement's first token.
/// Only PostgreSQL's whitespace is trimmed at the end: a Unicode space such as U+00A0 is part of
/// an identifier to the server and must stay in the statement text.
fn trim_range(sql: &str, range: Range<usize>) -> Range<usize> {
    let start = range.start + leading_trivia(&sql[range.clone()]);
    let end = range.start + sql[range.clone()].trim_end_matches(is_pg_space).len();
    start..end.max(start)
}

/// Whitespace as PostgreSQL's lexer defines it (`[ \t\n\r\f\v]`).
fn is_pg_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// Bytes of whitespace and comments at the start of `text`.
fn leading_trivia(text: &str) -> usize {
    strata_model::skip_trivia(text)
}

fn statement_from_raw(sql: &str, raw: protobuf::RawStmt) -> Statement {
    let range = statement_range(sql, raw.stmt_location, raw.stmt_len);
    let node = raw.stmt.and_then(|n| n.node);
    let (summary, needs_autocommit, transaction_control) = match &node {
        Some(n) => classify(n),
        None => ("empty statement".to_owned(), false, None),
    };
    let session_setting = matches!(node, Some(N::VariableSetStmt(_)));
    let procedural = matches!(node, Some(N::CallStmt(_) | N::DoStmt(_)));
    let concurrent_index = match &node {
        Some(N::IndexStmt(i)) if i.concurrent && !i.idxname.is_empty() => {
            let schema = i
                .relation
                .as_ref()
                .map(|r| r.schemaname.as_str())
                .filter(|s| !s.is_empty());
            Some(match schema {
                Some(schema) => format!("{}.{}", quote_ident(schema), quote_ident(&i.idxname)),
                None => quote_ident(&i.idxname),
            })
        }
        _ => None,
    };
    Statement {
        range,
        summary,
        needs_autocommit,
        transaction_control,
        session_setting,
        procedural,
        concurrent_index,
        node,
        meta: None,
    }
}

/// True when running the script may leave temporary objects in the session (a `CREATE TEMP
/// TABLE`, `SELECT ... INTO TEMP`, a temporary view or sequence, or a `DO`/`CALL` body that
/// may create them with dynamic SQL). psql loops and sqitch run each script on a connection
/// of its own, so a script's temporary tables never meet the next script's; strata runs a set
/// on one connection and discards them after such a script (`DISCARD TEMP`), so two scripts
/// that each create `temporary table milestone` both run, as they do under psql.
pub fn may_leave_temporary_objects(analysis: &Analysis) -> bool {
    let temporary =
        |rel: &Option<protobuf::RangeVar>| rel.as_ref().is_some_and(|r| r.relpersistence == "t");
    analysis.statements.iter().any(|s| match &s.node {
        Some(N::CreateStmt(c)) => temporary(&c.relation),
        Some(N::CreateTableAsStmt(c)) => c.into.as_ref().is_some_and(|i| temporary(&i.rel)),
        Some(N::SelectStmt(sel)) => sel.into_clause.as_ref().is_some_and(|i| temporary(&i.rel)),
        Some(N::ViewStmt(v)) => temporary(&v.view),
        Some(N::CreateSeqStmt(seq)) => temporary(&seq.sequence),
        Some(N::DoStmt(_) | N::CallStmt(_)) => true,
        // Not parsed (a syntax error the server reports) or a meta-command: nothing to discard.
        _ => false,
    })
}

/// Transaction control recognised from a statement's first words, for scripts the parser could
/// not parse: a stray `COMMIT` must never end strata's transaction unnoticed.
fn control_by_keywords(text: &str) -> Option<TransactionControl> {
    let mut words = text
        .split_whitespace()
        .map(|w| w.trim_end_matches(';').to_ascii_uppercase());
    let first = words.next()?;
    let second = words.next().unwrap_or_default();
    match (first.as_str(), second.as_str()) {
        ("BEGIN", "ATOMIC") => None,
        ("BEGIN", _) | ("START", "TRANSACTION") => Some(TransactionControl::Begin),
        ("COMMIT", "PREPARED") | ("PREPARE", "TRANSACTION") => Some(TransactionControl::TwoPhase),
        ("ROLLBACK", "PREPARED") => Some(TransactionControl::TwoPhase),
        ("COMMIT", _) | ("END", _) => Some(TransactionControl::Commit),
        ("ROLLBACK", "TO") => Some(TransactionControl::Savepoint),
        ("ROLLBACK", _) | ("ABORT", _) => Some(TransactionControl::Rollback),
        ("SAVEPOINT", _) | ("RELEASE", _) => Some(TransactionControl::Savepoint),
        _ => None,
    }
}

fn scanner_statements(sql: &str) -> Vec<Statement> {
    // The scanner still understands quotes, dollar quotes and comments, so splitting at its `;`
    // tokens is exact for everything but `BEGIN ATOMIC` bodies, which need the parser anyway.
    let tokens = pg_query::scan_tokens(sql).unwrap_or_default();
    let mut bounds = Vec::new();
    let mut start = 0usize;
    for t in &tokens {
        let (s, e) = (t.start as usize, t.end as usize);
        if sql.get(s..e) == Some(";") {
            bounds.push(start..s);
            start = e;
        }
    }
    bounds.push(start..sql.len());
    bounds
        .into_iter()
        .map(|b| trim_range(sql, b))
        .filter(|range| !range.is_empty() && !strata_model::sql_is_blank(&sql[range.clone()]))
        .map(|range| {
            let first_words = sql[range.clone()]
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ");
            let transaction_control = control_by_keywords(&sql[range.clone()]);
            Statement {
                range,
                summary: first_words.to_uppercase(),
                needs_autocommit: false,
                transaction_control,
                session_setting: first_words.to_uppercase().starts_with("SET ")
                    || first_words.to_uppercase().starts_with("RESET"),
                concurrent_index: None,
                procedural: first_words.to_uppercase().starts_with("CALL")
                    || first_words.to_uppercase().starts_with("DO"),
                node: None,
                meta: None,
            }
        })
        .collect()
}

fn has_option(options: &[protobuf::Node], name: &str) -> bool {
    options
        .iter()
        .any(|o| matches!(&o.node, Some(N::DefElem(d)) if d.defname.eq_ignore_ascii_case(name)))
}

/// Returns (summary, needs autocommit, transaction control).
fn classify(node: &N) -> (String, bool, Option<TransactionControl>) {
    use protobuf::TransactionStmtKind as K;
    let simple = |s: &str| (s.to_owned(), false, None);
    match node {
        N::IndexStmt(s) if s.concurrent => ("CREATE INDEX CONCURRENTLY".into(), true, None),
        N::IndexStmt(_) => simple("CREATE INDEX"),
        N::DropStmt(s) if s.concurrent => ("DROP INDEX CONCURRENTLY".into(), true, None),
        N::ReindexStmt(s) if has_option(&s.params, "concurrently") => {
            ("REINDEX CONCURRENTLY".into(), true, None)
        }
        N::ReindexStmt(s)
            if s.kind != protobuf::ReindexObjectType::ReindexObjectIndex as i32
                && s.kind != protobuf::ReindexObjectType::ReindexObjectTable as i32 =>
        {
            // REINDEX SCHEMA/SYSTEM/DATABASE commit per table and refuse a transaction block.
            ("REINDEX SCHEMA/DATABASE/SYSTEM".into(), true, None)
        }
        N::VacuumStmt(s) if s.is_vacuumcmd => ("VACUUM".into(), true, None),
        N::CreatedbStmt(_) => ("CREATE DATABASE".into(), true, None),
        N::DropdbStmt(_) => ("DROP DATABASE".into(), true, None),
        N::AlterSystemStmt(_) => ("ALTER SYSTEM".into(), true, None),
        N::CreateTableSpaceStmt(_) => ("CREATE TABLESPACE".into(), true, None),
        N::DropTableSpaceStmt(_) => ("DROP TABLESPACE".into(), true, None),
        N::AlterTableStmt(s) => {
            let detach_concurrently = s.cmds.iter().any(|c| match &c.node {
                Some(N::AlterTableCmd(cmd)) => {
                    cmd.subtype == protobuf::AlterTableType::AtDetachPartition as i32
                        && matches!(cmd.def.as_deref().and_then(|d| d.node.as_ref()),
                            Some(N::PartitionCmd(p)) if p.concurrent)
                }
                _ => false,
            });
            if detach_concurrently {
                (
                    "ALTER TABLE ... DETACH PARTITION CONCURRENTLY".into(),
                    true,
                    None,
                )
            } else {
                simple("ALTER TABLE")
            }
        }
        N::TransactionStmt(t) => {
            let kind = K::try_from(t.kind).unwrap_or(K::Undefined);
            let (name, control) = match kind {
                K::TransStmtBegin | K::TransStmtStart => ("BEGIN", TransactionControl::Begin),
                K::TransStmtCommit => ("COMMIT", TransactionControl::Commit),
                K::TransStmtRollback => ("ROLLBACK", TransactionControl::Rollback),
                K::TransStmtSavepoint | K::TransStmtRelease | K::TransStmtRollbackTo => {
                    ("SAVEPOINT", TransactionControl::Savepoint)
                }
                K::TransStmtPrepare | K::TransStmtCommitPrepared | K::TransStmtRollbackPrepared => {
                    ("PREPARE TRANSACTION", TransactionControl::TwoPhase)
                }
                K::Undefined => ("transaction statement", TransactionControl::TwoPhase),
            };
            (name.to_owned(), false, Some(control))
        }
        other => simple(&node_summary(other)),
    }
}

/// A readable statement tag derived from the node name (`CreateStmt` -> `CREATE`), good enough
/// for progress lines; precise tags exist for the statements strata treats specially.
fn node_summary(node: &N) -> String {
    let dbg = variant_name(node);
    let name = if dbg.is_empty() { "statement" } else { &dbg };
    let name = name.strip_suffix("Stmt").unwrap_or(name);
    let mut out = String::new();
    for (i, ch) in name.chars().enumerate() {
        if ch.is_uppercase() && i > 0 {
            out.push(' ');
        }
        out.push(ch.to_ascii_uppercase());
    }
    out
}

/// The name of `node`'s enum variant (`CreateStmt`), from its `Debug` output. The writer
/// refuses everything after the variant name, which aborts the formatting there: formatting a
/// whole statement tree just to read its first word cost more than parsing it.
fn variant_name(node: &N) -> String {
    struct UpToParen(String);
    impl std::fmt::Write for UpToParen {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            match s.find('(') {
                Some(i) => {
                    self.0.push_str(&s[..i]);
                    Err(std::fmt::Error)
                }
                None => {
                    self.0.push_str(s);
                    Ok(())
                }
            }
        }
    }
    let mut out = UpToParen(String::new());
    let _ = std::fmt::write(&mut out, format_args!("{node:?}"));
    out.0
}

/// Fingerprint of the first `n` statements of a script: `sha256-lf` of their texts, each
/// followed by a NUL. The statement journal stores it with the count of completed statements,
/// so a resumed run can check that what already ran is still what the file says, while the
/// statements that did not run yet may have been fixed.
pub fn fingerprint(sql: &str, analysis: &Analysis, n: usize) -> String {
    let mut text = Vec::new();
    for s in analysis.statements.iter().take(n) {
        text.extend_from_slice(sql[s.range.clone()].as_bytes());
        text.push(0);
    }
    strata_model::Checksum::of_bytes(&text).hex
}

/// The index of a `BEGIN` that the script never closes with `COMMIT` or `ROLLBACK`. psql would
/// roll such a transaction back when the file ends, silently losing the migration; strata
/// refuses to run it instead.
pub fn unclosed_transaction(analysis: &Analysis) -> Option<usize> {
    let mut open = None;
    for (i, s) in analysis.statements.iter().enumerate() {
        match s.transaction_control {
            Some(TransactionControl::Begin) if open.is_none() => open = Some(i),
            Some(TransactionControl::Commit | TransactionControl::Rollback) => open = None,
            _ => {}
        }
    }
    open
}

/// How a migration script should be executed: the decision the executor makes and the linter
/// reports.
#[derive(Debug, Clone)]
pub struct ExecutionShape {
    /// The mode and why.
    pub decision: TransactionDecision,
    /// For transactional scripts that wrap themselves in `BEGIN; ... COMMIT;`, the byte range
    /// between those two statements: strata runs just that range inside its own transaction so
    /// the history row commits atomically with the migration.
    pub body: Range<usize>,
}

/// Decides how a script runs: inside strata's transaction, statement by statement outside any
/// transaction, or under the script's own transaction control.
pub fn decide_transaction_mode(
    sql: &str,
    analysis: &Analysis,
    directives: &[Directive],
) -> ExecutionShape {
    let whole = 0..sql.len();
    if let Some(d) = directives
        .iter()
        .find(|d| d.kind == DirectiveKind::NoTransaction)
    {
        return ExecutionShape {
            decision: TransactionDecision {
                mode: TransactionMode::NonTransactional,
                reason: format!("directive `{}` at line {}", d.text.trim(), d.line),
            },
            body: whole,
        };
    }
    if let Some((i, s)) = analysis
        .statements
        .iter()
        .enumerate()
        .find(|(_, s)| s.needs_autocommit)
    {
        return ExecutionShape {
            decision: TransactionDecision {
                mode: TransactionMode::NonTransactional,
                reason: format!(
                    "statement {} ({}) cannot run inside a transaction block",
                    i + 1,
                    s.summary
                ),
            },
            body: whole,
        };
    }
    let controls: Vec<(usize, TransactionControl)> = analysis
        .statements
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.transaction_control.map(|c| (i, c)))
        .filter(|(_, c)| *c != TransactionControl::Savepoint)
        .collect();
    if controls.is_empty() {
        return ExecutionShape {
            decision: TransactionDecision {
                mode: TransactionMode::Transactional,
                reason: "every statement can run inside a transaction".into(),
            },
            body: whole,
        };
    }
    let last = analysis.statements.len() - 1;
    if let [(0, TransactionControl::Begin), (end, TransactionControl::Commit)] = controls.as_slice()
    {
        if *end == last {
            let begin = &analysis.statements[0];
            let commit = &analysis.statements[last];
            let mut body_start = begin.range.end;
            let after = &sql[body_start..];
            let skip = after.len() - after.trim_start().len();
            if after[skip..].starts_with(';') {
                body_start += skip + 1;
            }
            return ExecutionShape {
                decision: TransactionDecision {
                    mode: TransactionMode::Transactional,
                    reason: "the script's own BEGIN/COMMIT wrap it whole; strata runs the body in its transaction".into(),
                },
                body: body_start..commit.range.start,
            };
        }
    }
    let (i, c) = controls[0];
    ExecutionShape {
        decision: TransactionDecision {
            mode: TransactionMode::ScriptManaged,
            reason: format!(
                "statement {} ({:?}) controls the transaction itself; the script runs as psql would run it",
                i + 1,
                c
            ),
        },
        body: whole,
    }
}

#[cfg(test)]
mod temporary_tests {
    use super::*;

    #[test]
    fn scripts_that_may_leave_temporary_objects() {
        for sql in [
            "create temporary table milestone (json_data jsonb);",
            "CREATE TEMP TABLE t AS SELECT 1;",
            "SELECT 1 AS a INTO TEMP t;",
            "create temp view v as select 1;",
            "create temporary sequence s;",
            "DO $$ BEGIN EXECUTE 'create temp table x (a int)'; END $$;",
        ] {
            assert!(may_leave_temporary_objects(&analyze(sql)), "{sql}");
        }
        for sql in [
            "create table t (a int);",
            "create unlogged table u (a int);",
            "create table t2 as select 1;",
            "select 1 into t3;",
            "create view v as select 1;",
        ] {
            assert!(!may_leave_temporary_objects(&analyze(sql)), "{sql}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(sql: &str) -> ExecutionShape {
        decide_transaction_mode(sql, &analyze(sql), &[])
    }

    #[test]
    fn summaries_name_the_statement_kind() {
        let a = analyze("create table t (a int); comment on table t is 'x'; select 1;");
        let summaries: Vec<_> = a.statements.iter().map(|s| s.summary.as_str()).collect();
        assert_eq!(summaries, ["CREATE", "COMMENT", "SELECT"]);
    }

    #[test]
    fn splits_dollar_quoted_bodies() {
        let sql = "create table t (id int);\n-- note; with semicolon\ncreate function f() returns int language plpgsql as $$ begin return 1; end; $$;\nselect ';';";
        let a = analyze(sql);
        assert!(a.syntax_error.is_none());
        let texts: Vec<&str> = a.statements.iter().map(|s| &sql[s.range.clone()]).collect();
        assert_eq!(texts.len(), 3);
        assert!(texts[1].starts_with("create function"), "{texts:?}");
        assert_eq!(texts[2], "select ';'");
    }

    #[test]
    fn detects_statements_that_refuse_transactions() {
        for sql in [
            "create index concurrently i on t (a);",
            "drop index concurrently i;",
            "reindex index concurrently i;",
            "vacuum t;",
            "create database d;",
            "alter system set work_mem = '1MB';",
            "alter table p detach partition c concurrently;",
        ] {
            let s = shape(sql);
            assert_eq!(s.decision.mode, TransactionMode::NonTransactional, "{sql}");
        }
        assert_eq!(
            shape("create index i on t (a); analyze t;").decision.mode,
            TransactionMode::Transactional
        );
    }

    #[test]
    fn concurrent_index_names_are_captured() {
        let a = analyze("create index concurrently i on app.t (a); create index concurrently \"Odd\" on t (a); create index concurrently on t (b);");
        let names: Vec<_> = a
            .statements
            .iter()
            .map(|s| s.concurrent_index.clone())
            .collect();
        assert_eq!(
            names,
            [Some("\"app\".\"i\"".into()), Some("\"Odd\"".into()), None]
        );
    }

    #[test]
    fn own_begin_commit_is_unwrapped() {
        let sql = "-- header\nBEGIN;\ncreate table t (id int);\nCOMMIT;\n";
        let s = shape(sql);
        assert_eq!(s.decision.mode, TransactionMode::Transactional);
        assert_eq!(sql[s.body.clone()].trim(), "create table t (id int);");
        let sql = "begin; create table a(); commit; begin; create table b(); commit;";
        assert_eq!(shape(sql).decision.mode, TransactionMode::ScriptManaged);
    }

    #[test]
    fn broken_scripts_still_show_their_transaction_control() {
        let sql = "BEGIN;\nCREATE TABLE t (id int,, x int);\nCOMMIT;\nINSERT INTO t VALUES (1);";
        let a = analyze(sql);
        assert!(a.syntax_error.is_some());
        assert_eq!(
            decide_transaction_mode(sql, &a, &[]).decision.mode,
            TransactionMode::ScriptManaged
        );
    }

    #[test]
    fn unclosed_transactions_are_found() {
        assert_eq!(
            unclosed_transaction(&analyze(
                "begin; create table a(); commit; begin; create table b();"
            )),
            Some(3)
        );
        assert_eq!(
            unclosed_transaction(&analyze("begin; create table a(); rollback;")),
            None
        );
        assert_eq!(unclosed_transaction(&analyze("create table a();")), None);
    }

    #[test]
    fn syntax_errors_fall_back_to_the_scanner() {
        let a = analyze("select 1; selec 2; select 3;");
        assert!(a.syntax_error.is_some());
        assert_eq!(a.statements.len(), 3, "{:?}", a.statements);
    }

    fn texts(sql: &str) -> Vec<&str> {
        analyze(sql)
            .statements
            .iter()
            .map(|s| &sql[s.range.clone()])
            .collect()
    }

    #[test]
    fn meta_commands_are_statements_in_their_place() {
        let sql = r"begin;
create temporary table project (json_data jsonb);
\copy project(json_data) from program 'sed ''s/\\/\\\\/g'' < p.json | tr -d ''\n''';
  \set ON_ERROR_STOP on
insert into t select * from project;
commit;
";
        let a = analyze(sql);
        assert!(a.syntax_error.is_none(), "{:?}", a.syntax_error);
        assert_eq!(
            texts(sql),
            [
                "begin",
                "create temporary table project (json_data jsonb)",
                r"\copy project(json_data) from program 'sed ''s/\\/\\\\/g'' < p.json | tr -d ''\n''';",
                r"\set ON_ERROR_STOP on",
                "insert into t select * from project",
                "commit",
            ]
        );
        let copy = a.statements[2].meta.as_ref().unwrap();
        assert_eq!(copy.name, "copy");
        assert_eq!(a.statements[2].summary, r"\copy");
        assert!(copy.args.starts_with("project(json_data) from program"));
        assert_eq!(a.statements[3].meta.as_ref().unwrap().name, "set");
        // Positions are those of the original file: the `\set` is on line 4, column 3.
        let set = &a.statements[3];
        let line_start = sql[..set.range.start].rfind('\n').unwrap() + 1;
        assert_eq!(set.range.start - line_start, 2);
        assert_eq!(sql[..set.range.start].matches('\n').count(), 3);
        // Wrapped in BEGIN/COMMIT, the script still runs in strata's transaction, with the
        // `\copy` inside the body.
        let shape = decide_transaction_mode(sql, &a, &[]);
        assert_eq!(shape.decision.mode, TransactionMode::Transactional);
        assert!(shape.body.contains(&a.statements[2].range.start));
        assert!(unsupported_meta(&a).is_none());
    }

    #[test]
    fn backslashes_inside_sql_are_not_meta_commands() {
        let sql = r#"create function f() returns text language sql as $body$
\copy t from 'x'
select 'a';
$body$;
select E'it\'s
\copy t from ''x''
';
/* a comment
\copy t from 'x' */ -- \copy
select $$;$$, "a\";
\copy t from 'y'
"#;
        let a = analyze(sql);
        assert!(a.syntax_error.is_none(), "{:?}", a.syntax_error);
        let metas: Vec<&str> = a
            .statements
            .iter()
            .filter(|s| s.meta.is_some())
            .map(|s| &sql[s.range.clone()])
            .collect();
        assert_eq!(metas, [r"\copy t from 'y'"]);
        assert_eq!(a.statements.len(), 4);
        assert!(texts(sql)[0].ends_with("$body$"));
    }

    #[test]
    fn a_backslash_inside_an_unfinished_statement_goes_to_the_server() {
        let a = analyze("select 1\n\\gexec\n");
        assert!(a.statements.iter().all(|s| s.meta.is_none()));
        assert!(a.syntax_error.is_some());
    }

    #[test]
    fn inline_copy_data_is_part_of_the_command() {
        let sql = "create table t (a int, b text);\n\\copy t from stdin\n1\tx;y\n2\t\\N\n\\.\nselect 1;\n";
        let a = analyze(sql);
        assert!(a.syntax_error.is_none(), "{:?}", a.syntax_error);
        assert_eq!(a.statements.len(), 3);
        let copy = &a.statements[1];
        let data = copy.meta.as_ref().unwrap().inline_data.clone().unwrap();
        assert_eq!(&sql[data], "1\tx;y\n2\t\\N\n");
        assert!(sql[copy.range.clone()].ends_with("\\."));
        assert_eq!(&sql[a.statements[2].range.clone()], "select 1");
    }

    #[test]
    fn syntax_errors_around_meta_commands_keep_their_positions() {
        let sql = "\\timing on\nselec 1;\n";
        let a = analyze(sql);
        assert!(a.syntax_error.is_some());
        assert_eq!(texts(sql), ["\\timing on", "selec 1"]);
    }

    #[test]
    fn unsupported_meta_commands_are_named() {
        let a = analyze("create table t ();\n\\gexec\n\\i other.sql\n");
        let (i, message) = unsupported_meta(&a).unwrap();
        assert_eq!(i, 1);
        assert!(message.contains("`\\gexec`"), "{message}");
        let (_, message) = unsupported_meta(&analyze("\\copy t\n")).unwrap();
        assert!(message.contains("from|to"), "{message}");
    }
}
