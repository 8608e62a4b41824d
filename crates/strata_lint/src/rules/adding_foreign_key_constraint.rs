//! Adding a foreign key validates every existing row while holding SHARE ROW EXCLUSIVE locks on
//! both tables: writes to both wait for the scan. `NOT VALID` skips the scan; a later
//! `VALIDATE CONSTRAINT` checks the rows under a lock that lets writes through.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "adding-foreign-key-constraint",
    category: Category::Locking,
    default: ERROR,
    summary: "adding a FOREIGN KEY to an existing table without NOT VALID",
    docs: docs!("adding-foreign-key-constraint"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    let Some((a, rel)) = cx.altered_existing_table() else {
        return;
    };
    for cmd in ast::alter_cmds(a) {
        let constraints: Vec<_> = match ast::subtype(cmd) {
            AlterTableType::AtAddConstraint => ast::cmd_constraint(cmd).into_iter().collect(),
            AlterTableType::AtAddColumn => ast::cmd_column(cmd)
                .map(|c| ast::column_constraints(c).collect())
                .unwrap_or_default(),
            _ => continue,
        };
        let on_new_column = ast::subtype(cmd) == AlterTableType::AtAddColumn;
        for con in constraints {
            if ast::contype(con) != ConstrType::ConstrForeign || con.skip_validation {
                continue;
            }
            let target = con
                .pktable
                .as_ref()
                .map(ast::rel_display)
                .unwrap_or_default();
            out.flag_table(
                cx.at(con.location),
                rel,
                format!(
                    "adding a foreign key on `{}` (to `{target}`) scans the whole table while blocking writes to both tables",
                    ast::rel_display(rel)
                ),
                if on_new_column {
                    // A column constraint cannot be NOT VALID.
                    "add the column without REFERENCES, then ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID, and VALIDATE CONSTRAINT in a later migration"
                } else {
                    "add it with NOT VALID, then run ALTER TABLE ... VALIDATE CONSTRAINT in a later migration"
                },
            );
        }
    }
}
