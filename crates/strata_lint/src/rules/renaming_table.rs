//! Renaming a table breaks every running application version that uses the old name, the
//! moment the migration commits.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "renaming-table",
    category: Category::Breaking,
    default: WARNING,
    gate: Gate::Advisory,
    summary: "renaming an existing table",
    docs: docs!("renaming-table"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    let N::RenameStmt(r) = cx.node else { return };
    if r.rename_type != ObjectType::ObjectTable as i32 {
        return;
    }
    let Some(rel) = &r.relation else { return };
    if cx.is_new(rel) {
        return;
    }
    out.flag_table(
        cx.start(),
        rel,
        format!(
            "renaming table `{}` to `{}` breaks code still using the old name",
            ast::rel_display(rel),
            r.newname
        ),
        "create the new name as a view (or the new table with a sync), move the application, then drop the old name",
    );
}
