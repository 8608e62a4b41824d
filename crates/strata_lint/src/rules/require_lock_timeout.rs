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
    gate: Gate::TableSize,
    summary: "a strong lock on an existing table with no lock_timeout in effect",
    docs: docs!("require-lock-timeout"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    if cx.lock_timeout {
        return;
    }
    for target in strong_lock_targets(cx) {
        let message = format!(
            "{} waits for a strong lock on `{}` with no lock_timeout: while it waits, every query on the table queues behind it",
            cx.statement.summary, target.display
        );
        let help = "no lock_timeout applies here (strata's is 0, or the script SET it to 0): set `lock_timeout` in strata.toml (or --lock-timeout), add `-- strata:lock-timeout 5s` to the migration, or SET lock_timeout first";
        match target.table {
            Some(t) => out.flag_table(cx.start(), t, message, help),
            None => out.flag(cx.start(), message, help),
        }
    }
}

/// A table (or index) a statement takes a strong lock on.
pub(super) struct LockTarget<'a> {
    /// As written.
    pub display: String,
    /// The relation, when the statement names it as one.
    pub table: Option<&'a RangeVar>,
}

/// The existing tables a statement locks strongly (ACCESS EXCLUSIVE, SHARE, SHARE ROW
/// EXCLUSIVE): what a lock or statement timeout protects the application from.
pub(super) fn strong_lock_targets<'a>(cx: &Ctx<'a>) -> Vec<LockTarget<'a>> {
    let table: Option<&'a RangeVar> = match cx.node {
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
        N::CreateStmt(c) => referenced_existing_table(cx, c),
        N::DropStmt(d) if !d.concurrent => return drops_of_existing(cx, d),
        _ => None,
    };
    match table {
        Some(t) if !cx.is_new(t) => vec![LockTarget {
            display: ast::rel_display(t),
            table: Some(t),
        }],
        _ => Vec::new(),
    }
}

/// A new table's foreign key locks the table it references (SHARE ROW EXCLUSIVE).
fn referenced_existing_table<'a>(
    cx: &Ctx<'_>,
    c: &'a pg_query::protobuf::CreateStmt,
) -> Option<&'a RangeVar> {
    let (columns, constraints) = ast::table_elements(c);
    columns
        .iter()
        .flat_map(|col| ast::column_constraints(col))
        .chain(constraints.iter().copied())
        .filter(|k| ast::contype(k) == ConstrType::ConstrForeign)
        .filter_map(|k| k.pktable.as_ref())
        .find(|t| !cx.is_new(t))
}

/// `DROP TABLE` / `DROP INDEX` of existing objects take ACCESS EXCLUSIVE locks.
fn drops_of_existing<'a>(cx: &Ctx<'a>, d: &pg_query::protobuf::DropStmt) -> Vec<LockTarget<'a>> {
    let kind = d.remove_type;
    if kind != ObjectType::ObjectTable as i32 && kind != ObjectType::ObjectIndex as i32 {
        return Vec::new();
    }
    ast::dropped_names(d)
        .into_iter()
        .filter(|name| {
            if kind == ObjectType::ObjectTable as i32 {
                !cx.state.table_is_new(name)
            } else {
                !cx.state.index_is_new(name)
            }
        })
        .take(1)
        .map(|name| LockTarget {
            display: name.to_string(),
            table: None,
        })
        .collect()
}
