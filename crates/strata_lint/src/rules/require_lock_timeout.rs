//! A statement waiting for a strong lock blocks every later query on the table while it waits.
//! Without `lock_timeout` it waits as long as the longest-running transaction holding a
//! conflicting lock. strata sets `lock_timeout` itself (5s by default, with retries), so this
//! only fires when that is turned off and the script sets none.

use super::prelude::*;
use pg_query::protobuf::RangeVar;

pub(crate) static RULE: Rule = Rule {
    name: "require-lock-timeout",
    category: Category::Locking,
    default: WARNING,
    summary: "a strong lock on an existing table with no lock_timeout in effect",
    docs: docs!("require-lock-timeout"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    if cx.lock_timeout {
        return;
    }
    let table: Option<&RangeVar> = match cx.node {
        N::AlterTableStmt(a) => a.relation.as_ref(),
        N::IndexStmt(i) if !i.concurrent => i.relation.as_ref(),
        N::RenameStmt(r) => r.relation.as_ref(),
        N::CreateTrigStmt(t) => t.relation.as_ref(),
        N::ClusterStmt(c) => c.relation.as_ref(),
        N::ReindexStmt(r) if !cx.statement.needs_autocommit => r.relation.as_ref(),
        N::TruncateStmt(t) => t.relations.iter().find_map(|r| match ast::inner(r) {
            Some(N::RangeVar(rv)) => Some(rv),
            _ => None,
        }),
        N::LockStmt(l) => l.relations.iter().find_map(|r| match ast::inner(r) {
            Some(N::RangeVar(rv)) => Some(rv),
            _ => None,
        }),
        _ => None,
    };
    let Some(table) = table else { return };
    if cx.is_new(table) {
        return;
    }
    out.flag_table(
        cx.start(),
        table,
        format!(
            "{} waits for a strong lock on `{}` with no lock_timeout: while it waits, every query on the table queues behind it",
            cx.statement.summary,
            ast::rel_display(table)
        ),
        "strata's lock_timeout is 0 here: set `lock_timeout` in strata.toml (or --lock-timeout), add `-- strata:lock-timeout 5s` to the migration, or SET lock_timeout first",
    );
}
