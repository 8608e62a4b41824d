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
        N::CreateStmt(c) => referenced_existing_table(cx, c),
        N::DropStmt(d) if !d.concurrent => {
            drop_of_existing(cx, d, out);
            None
        }
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
        HELP,
    );
}

const HELP: &str = "strata's lock_timeout is 0 here: set `lock_timeout` in strata.toml (or --lock-timeout), add `-- strata:lock-timeout 5s` to the migration, or SET lock_timeout first";

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
fn drop_of_existing(cx: &Ctx<'_>, d: &pg_query::protobuf::DropStmt, out: &mut Sink) {
    let kind = d.remove_type;
    if kind != ObjectType::ObjectTable as i32 && kind != ObjectType::ObjectIndex as i32 {
        return;
    }
    for object in &d.objects {
        let Some(N::List(l)) = ast::inner(object) else {
            continue;
        };
        let parts = ast::strings(&l.items);
        let Some(name) = crate::state::RelName::from_parts(&parts) else {
            continue;
        };
        let new = if kind == ObjectType::ObjectTable as i32 {
            cx.state.table_is_new(&name)
        } else {
            cx.state.index_is_new(&name.name)
        };
        if new {
            continue;
        }
        out.flag(
            cx.start(),
            format!(
                "{} waits for an ACCESS EXCLUSIVE lock on `{}` with no lock_timeout: while it waits, every query on the table queues behind it",
                cx.statement.summary,
                ast::dotted(&parts)
            ),
            HELP,
        );
        return;
    }
}
