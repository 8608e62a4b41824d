//! `ADD CONSTRAINT ... UNIQUE` builds its index while holding an ACCESS EXCLUSIVE lock. Building
//! the index concurrently first and attaching it with `USING INDEX` takes the strong lock only
//! for a catalog update.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "disallowed-unique-constraint",
    category: Category::Locking,
    default: ERROR,
    gate: Gate::TableSize,
    summary: "adding a UNIQUE or EXCLUDE constraint to an existing table without USING INDEX",
    docs: docs!("disallowed-unique-constraint"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    let Some((rel, added)) = cx.added_constraints() else {
        return;
    };
    for (con, _) in added {
        let kind = ast::contype(con);
        if !matches!(kind, ConstrType::ConstrUnique | ConstrType::ConstrExclusion)
            || !con.indexname.is_empty()
        {
            continue;
        }
        out.flag_table(
            cx.at(con.location),
            rel,
            format!(
                "adding a {} constraint to `{}` builds its index under an ACCESS EXCLUSIVE lock: reads and writes wait for the build",
                if kind == ConstrType::ConstrUnique { "UNIQUE" } else { "EXCLUDE" },
                ast::rel_display(rel)
            ),
            if kind == ConstrType::ConstrUnique {
                "CREATE UNIQUE INDEX CONCURRENTLY in its own migration, then ALTER TABLE ... ADD CONSTRAINT ... UNIQUE USING INDEX"
            } else {
                // EXCLUDE has no USING INDEX form: there is no online path.
                "an EXCLUDE constraint cannot be attached to an existing index: add it while the table is small, or in a maintenance window"
            },
        );
    }
}
