//! `ADD CONSTRAINT ... CHECK` scans the table under an ACCESS EXCLUSIVE lock. With `NOT VALID`
//! only new rows are checked; `VALIDATE CONSTRAINT` later scans under SHARE UPDATE EXCLUSIVE.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "adding-check-constraint",
    category: Category::Locking,
    default: ERROR,
    gate: Gate::TableSize,
    summary: "adding a CHECK constraint to an existing table without NOT VALID",
    docs: docs!("adding-check-constraint"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    let Some((rel, added)) = cx.added_constraints() else {
        return;
    };
    for (con, on_new_column) in added {
        if ast::contype(con) != ConstrType::ConstrCheck || con.skip_validation {
            continue;
        }
        out.flag_table(
            cx.at(con.location),
            rel,
            format!(
                "adding a CHECK constraint to `{}` scans every row while holding an ACCESS EXCLUSIVE lock",
                ast::rel_display(rel)
            ),
            if on_new_column {
                // A column constraint cannot be NOT VALID.
                "add the column without the CHECK, then ADD CONSTRAINT ... CHECK (...) NOT VALID, and VALIDATE CONSTRAINT in a later migration"
            } else {
                "add it with NOT VALID, then VALIDATE CONSTRAINT in a later migration"
            },
        );
    }
}
