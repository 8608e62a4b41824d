//! Adding a foreign key validates every existing row while holding SHARE ROW EXCLUSIVE locks on
//! both tables: writes to both wait for the scan. `NOT VALID` skips the scan; a later
//! `VALIDATE CONSTRAINT` checks the rows under a lock that lets writes through.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "adding-foreign-key-constraint",
    category: Category::Locking,
    default: ERROR,
    gate: Gate::TableSize,
    summary: "adding a FOREIGN KEY to an existing table without NOT VALID",
    docs: docs!("adding-foreign-key-constraint"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    let Some((rel, added)) = cx.added_constraints() else {
        return;
    };
    for (con, on_new_column) in added {
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
