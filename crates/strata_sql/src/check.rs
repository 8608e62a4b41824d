//! What can be known to be wrong with a script before any server sees it: a `BEGIN` never
//! closed, a psql meta-command strata cannot run, SQL PostgreSQL's grammar rejects.
//!
//! `strata validate` reports these for the pending scripts of a database, and `strata::embed!`
//! refuses to compile a set that has them; both ask here, so the two can never disagree.

use crate::{analyze, unclosed_transaction, unsupported_meta, Analysis};

/// Which check a script fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptProblemKind {
    /// A `BEGIN` without `COMMIT` or `ROLLBACK` (psql would silently roll it back at the end).
    UnclosedTransaction,
    /// A psql meta-command strata does not run (or a `\copy` it cannot read).
    UnsupportedMetaCommand,
    /// Not valid SQL for PostgreSQL's grammar.
    Syntax,
}

/// One problem of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptProblem {
    /// Which check failed.
    pub kind: ScriptProblemKind,
    /// Byte offset in the script of the statement concerned. For a syntax error, the first
    /// statement that does not parse on its own; `None` when no single statement is to blame
    /// (an unterminated quote running to the end, say).
    pub offset: Option<usize>,
    /// What is wrong, without the location (the caller knows the file).
    pub message: String,
}

/// Every problem of `sql`, in the order `strata validate` reports them.
pub fn script_problems(sql: &str) -> Vec<ScriptProblem> {
    problems_in(sql, &analyze(sql))
}

/// [`script_problems`] of a script already analysed (`analysis` is `analyze(sql)`), for a caller
/// that looks at its statements for more.
pub fn problems_in(sql: &str, analysis: &Analysis) -> Vec<ScriptProblem> {
    let mut problems = Vec::new();
    if let Some(open) = unclosed_transaction(analysis) {
        problems.push(ScriptProblem {
            kind: ScriptProblemKind::UnclosedTransaction,
            offset: Some(analysis.statements[open].range.start),
            message: "BEGIN without COMMIT; psql would roll it back at the end of the file".into(),
        });
    }
    if let Some((i, message)) = unsupported_meta(analysis) {
        problems.push(ScriptProblem {
            kind: ScriptProblemKind::UnsupportedMetaCommand,
            offset: Some(analysis.statements[i].range.start),
            message,
        });
    }
    if let Some(message) = analysis.syntax_error.clone() {
        // The parser does not say where (pg_query drops the cursor position): the first
        // statement, as the scanner split them, that fails on its own is where to look.
        let offset = analysis
            .statements
            .iter()
            .filter(|s| s.meta.is_none())
            .find(|s| analyze(&sql[s.range.clone()]).syntax_error.is_some())
            .map(|s| s.range.start);
        problems.push(ScriptProblem {
            kind: ScriptProblemKind::Syntax,
            offset,
            message,
        });
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clean_script_has_no_problems() {
        assert!(script_problems("CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);").is_empty());
    }

    #[test]
    fn an_unclosed_begin_is_found_where_it_starts() {
        let sql = "CREATE TABLE a (id int);\nBEGIN;\nCREATE TABLE b (id int);\n";
        let problems = script_problems(sql);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].kind, ScriptProblemKind::UnclosedTransaction);
        assert_eq!(problems[0].offset, Some(sql.find("BEGIN").unwrap()));
    }

    #[test]
    fn a_syntax_error_points_at_the_statement_that_does_not_parse() {
        let sql = "CREATE TABLE a (id int);\nCREAT TABLE b (id int);\nSELECT 1;\n";
        let problems = script_problems(sql);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].kind, ScriptProblemKind::Syntax);
        assert_eq!(problems[0].offset, Some(sql.find("CREAT TABLE b").unwrap()));
        assert!(problems[0].message.contains("syntax error"), "{problems:?}");
    }

    #[test]
    fn an_unsupported_meta_command_is_named() {
        let sql = "SELECT 1;\n\\gset\n";
        let problems = script_problems(sql);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].kind, ScriptProblemKind::UnsupportedMetaCommand);
        assert_eq!(problems[0].offset, Some(sql.find("\\gset").unwrap()));
    }
}
