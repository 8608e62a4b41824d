//! A migration has no business dropping a database: one wrong connection string and
//! production is gone.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "ban-drop-database",
    category: Category::Breaking,
    default: ERROR,
    gate: Gate::Always,
    summary: "DROP DATABASE",
    docs: docs!("ban-drop-database"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    if let N::DropdbStmt(d) = cx.node {
        if cx.state.database_is_new(&d.dbname) {
            return;
        }
        out.flag(
            cx.start(),
            format!("DROP DATABASE `{}` in a migration", d.dbname),
            "manage databases outside migrations (strata fresh / dev reset for throwaway ones)",
        );
    }
}
