//! Dropping a table breaks every deployed version of the application that still reads it,
//! and the data is gone: a down migration cannot bring it back.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "ban-drop-table",
    category: Category::Breaking,
    default: WARNING,
    gate: Gate::Always,
    summary: "DROP TABLE of an existing table",
    docs: docs!("ban-drop-table"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    let N::DropStmt(d) = cx.node else { return };
    if d.remove_type != ObjectType::ObjectTable as i32 {
        return;
    }
    for name in ast::dropped_names(d) {
        if cx.state.table_is_new(&name) {
            continue;
        }
        out.flag(
            cx.start(),
            format!("DROP TABLE `{name}` deletes its data and breaks code that still uses it"),
            "stop using the table in the application first (a release before), keep a backup, then drop it; add `-- strata:allow ban-drop-table <reason>` once that is done",
        );
    }
}
