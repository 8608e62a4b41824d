//! `DROP INDEX` takes an ACCESS EXCLUSIVE lock on the index's table: reads and writes queue
//! behind it, and behind any long query it waits for.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "require-concurrent-index-deletion",
    category: Category::Locking,
    default: ERROR,
    gate: Gate::TableSize,
    summary: "DROP INDEX without CONCURRENTLY",
    docs: docs!("require-concurrent-index-deletion"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    let N::DropStmt(d) = cx.node else { return };
    if d.concurrent || d.remove_type != ObjectType::ObjectIndex as i32 {
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
        if cx.state.index_is_new(&name) {
            continue;
        }
        out.flag_index(
            cx.start(),
            cx.state,
            &name,
            format!(
                "DROP INDEX `{}` takes an ACCESS EXCLUSIVE lock on its table: every query on the table waits",
                ast::dotted(&parts)
            ),
            "use DROP INDEX CONCURRENTLY (one index per statement); strata runs it outside a transaction automatically",
        );
    }
}
