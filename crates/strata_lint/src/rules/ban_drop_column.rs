//! Dropping a column breaks the application versions still running that select or insert it
//! (a rolling deploy runs old and new code side by side), and the data is gone.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "ban-drop-column",
    category: Category::Breaking,
    default: WARNING,
    gate: Gate::Always,
    summary: "DROP COLUMN on an existing table",
    docs: docs!("ban-drop-column"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    let Some((a, rel)) = cx.altered_existing_table() else {
        return;
    };
    for cmd in ast::alter_cmds(a) {
        if ast::subtype(cmd) == AlterTableType::AtDropColumn
            && !cx
                .state
                .column_is_new(&crate::state::RelName::of(rel), &cmd.name)
        {
            out.flag_table(
                cx.start(),
                rel,
                format!(
                    "dropping column `{}.{}` deletes its data and breaks code that still reads or writes it",
                    ast::rel_display(rel),
                    cmd.name
                ),
                "release application code that no longer uses the column first, then drop it in a later migration",
            );
        }
    }
}
