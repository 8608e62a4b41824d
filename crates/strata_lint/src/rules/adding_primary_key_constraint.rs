//! `ADD PRIMARY KEY` builds a unique index (and checks NOT NULL) under an ACCESS EXCLUSIVE lock.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "adding-primary-key-constraint",
    category: Category::Locking,
    default: ERROR,
    summary: "adding a PRIMARY KEY to an existing table without USING INDEX",
    docs: docs!("adding-primary-key-constraint"),
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
        for con in constraints {
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
}
