//! Renaming a column breaks every running application version that uses the old name.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "renaming-column",
    category: Category::Breaking,
    default: WARNING,
    gate: Gate::Advisory,
    summary: "renaming a column of an existing table",
    docs: docs!("renaming-column"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    let N::RenameStmt(r) = cx.node else { return };
    if r.rename_type != ObjectType::ObjectColumn as i32 {
        return;
    }
    let Some(rel) = &r.relation else { return };
    if cx
        .state
        .column_is_new(&crate::state::RelName::of(rel), &r.subname)
    {
        return;
    }
    out.flag_table(
        cx.start(),
        rel,
        format!(
            "renaming column `{}.{}` to `{}` breaks code still using the old name",
            ast::rel_display(rel),
            r.subname,
            r.newname
        ),
        "add the new column, write both, backfill, move reads, then drop the old column",
    );
}
