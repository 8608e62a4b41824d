//! `ADD COLUMN ... NOT NULL` without a default fails as soon as the table has a row, and
//! application versions still inserting without the column fail after it succeeds. A table
//! the same transaction emptied first (`DELETE` without `WHERE`, `TRUNCATE`) has no row to fail
//! on: that is how a migration deliberately resets a table's contents.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "adding-required-field",
    category: Category::Breaking,
    default: ERROR,
    gate: Gate::TableSize,
    summary: "ADD COLUMN ... NOT NULL without a DEFAULT on an existing table",
    docs: docs!("adding-required-field"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    let Some((rel, columns)) = cx.added_columns() else {
        return;
    };
    if cx.in_tx && cx.state.emptied_in(&crate::state::RelName::of(rel), cx.tx) {
        return;
    }
    for col in columns {
        let kinds: Vec<ConstrType> = ast::column_constraints(col).map(ast::contype).collect();
        let not_null = col.is_not_null
            || kinds.contains(&ConstrType::ConstrNotnull)
            || kinds.contains(&ConstrType::ConstrPrimary);
        let filled = kinds.iter().any(|k| {
            matches!(
                k,
                ConstrType::ConstrDefault
                    | ConstrType::ConstrIdentity
                    | ConstrType::ConstrGenerated
            )
        }) || col
            .type_name
            .as_ref()
            .is_some_and(|t| ast::ColType::of(t).is_serial());
        if not_null && !filled {
            out.flag_table(
                cx.at(col.location),
                rel,
                format!(
                    "adding NOT NULL column `{}` without a default to `{}` fails if the table has any row, and breaks inserts from code that does not know the column",
                    col.colname,
                    ast::rel_display(rel)
                ),
                "add the column with a DEFAULT (free since PostgreSQL 11), or nullable, backfill, then SET NOT NULL the safe way",
            );
        }
    }
}
