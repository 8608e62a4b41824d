//! `REINDEX` without `CONCURRENTLY` blocks writes to the table (and reads that would use the
//! index) for the whole rebuild. PostgreSQL 12 added `REINDEX CONCURRENTLY`.

use super::prelude::*;
use pg_query::protobuf::ReindexObjectType;

pub(crate) static RULE: Rule = Rule {
    name: "require-concurrent-reindex",
    category: Category::Locking,
    default: ERROR,
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
    let new = match kind {
        ReindexObjectType::ReindexObjectIndex => cx.state.index_is_new(&rel.relname),
        ReindexObjectType::ReindexObjectTable => cx.is_new(rel),
        _ => return,
    };
    if new {
        return;
    }
    out.flag_table(
        cx.start(),
        rel,
        format!(
            "REINDEX of `{}` blocks writes to the table for the whole rebuild",
            ast::rel_display(rel)
        ),
        "use REINDEX ... CONCURRENTLY; strata runs it outside a transaction automatically",
    );
}
