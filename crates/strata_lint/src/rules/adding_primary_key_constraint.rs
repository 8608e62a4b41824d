//! `ADD PRIMARY KEY` builds a unique index (and checks NOT NULL) under an ACCESS EXCLUSIVE lock.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "adding-primary-key-constraint",
    category: Category::Locking,
    default: ERROR,
    gate: Gate::TableSize,
    summary: "adding a PRIMARY KEY to an existing table without USING INDEX",
    docs: docs!("adding-primary-key-constraint"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    let Some((rel, added)) = cx.added_constraints() else {
        return;
    };
    for (con, _) in added {
        if ast::contype(con) != ConstrType::ConstrPrimary || !con.indexname.is_empty() {
            continue;
        }
        out.flag_table(
            cx.at(con.location),
            rel,
            format!(
                "adding a primary key to `{}` builds its index under an ACCESS EXCLUSIVE lock",
                ast::rel_display(rel)
            ),
            "CREATE UNIQUE INDEX CONCURRENTLY in its own migration, then ALTER TABLE ... ADD CONSTRAINT ... PRIMARY KEY USING INDEX",
        );
    }
}
