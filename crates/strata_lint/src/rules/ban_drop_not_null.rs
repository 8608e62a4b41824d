//! Code written against the schema assumes the column is never NULL; dropping the constraint
//! lets NULLs in that the running code does not expect.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "ban-drop-not-null",
    category: Category::Breaking,
    default: WARNING,
    gate: Gate::Advisory,
    summary: "DROP NOT NULL on an existing table",
    docs: docs!("ban-drop-not-null"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    let Some((a, rel)) = cx.altered_existing_table() else {
        return;
    };
    for cmd in ast::alter_cmds(a) {
        if ast::subtype(cmd) == AlterTableType::AtDropNotNull {
            out.flag_table(
                cx.start(),
                rel,
                format!(
                    "DROP NOT NULL on `{}.{}`: readers that assume a value will meet NULLs",
                    ast::rel_display(rel),
                    cmd.name
                ),
                "make sure every reader handles NULL before relaxing the column, then suppress with a reason",
            );
        }
    }
}
