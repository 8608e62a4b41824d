//! `REINDEX` without `CONCURRENTLY` blocks writes to the table (and reads that would use the
//! index) for the whole rebuild. PostgreSQL 12 added `REINDEX CONCURRENTLY`.

use super::prelude::*;
use pg_query::protobuf::ReindexObjectType;

pub(crate) static RULE: Rule = Rule {
    name: "require-concurrent-reindex",
    category: Category::Locking,
    default: ERROR,
    gate: Gate::TableSize,
    summary: "REINDEX without CONCURRENTLY (PostgreSQL 12+)",
    docs: docs!("require-concurrent-reindex"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    let N::ReindexStmt(r) = cx.node else { return };
    if cx.options.target_version < 12 || cx.statement.needs_autocommit {
        return;
    }
    let concurrent = r.params.iter().any(|p| {
        matches!(ast::inner(p), Some(N::DefElem(d)) if d.defname.eq_ignore_ascii_case("concurrently"))
    });
    if concurrent {
        return;
    }
    let Some(rel) = &r.relation else { return };
    let kind = ReindexObjectType::try_from(r.kind).unwrap_or(ReindexObjectType::Undefined);
    let name = crate::state::RelName::of(rel);
    let message = format!(
        "REINDEX of `{}` blocks writes to the table for the whole rebuild",
        ast::rel_display(rel)
    );
    let help = "use REINDEX ... CONCURRENTLY; strata runs it outside a transaction automatically";
    match kind {
        ReindexObjectType::ReindexObjectIndex if !cx.state.index_is_new(&name) => {
            out.flag_index(cx.start(), cx.state, &name, message, help);
        }
        ReindexObjectType::ReindexObjectTable if !cx.is_new(rel) => {
            out.flag_table(cx.start(), rel, message, help);
        }
        _ => {}
    }
}
