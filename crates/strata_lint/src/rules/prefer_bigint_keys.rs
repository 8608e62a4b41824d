//! A 32-bit key runs out at 2,147,483,647 rows (a 16-bit one at 32,767), and widening a key
//! later is a rewrite of the table and of every table referencing it.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "prefer-bigint-keys",
    category: Category::Types,
    default: WARNING,
    gate: Gate::Advisory,
    summary: "integer or smallint primary-key or identity columns",
    docs: docs!("prefer-bigint-keys"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    for (table, column, ty, at) in cx.added_primary_key_columns() {
        let Some(ty) = ty.filter(|t| t.is_small_int()) else {
            continue;
        };
        out.flag(
            at,
            format!(
                "key column `{}.{column}` is {}: it runs out long before bigint would, and widening it later rewrites every table that references it",
                ast::rel_display(table),
                ty.display()
            ),
            "use bigint (bigint GENERATED ALWAYS AS IDENTITY for generated keys)",
        );
    }
    for col in cx.declared_columns() {
        let ty = ast::ColType::of(col.type_name);
        if !col.key || !ty.is_small_int() {
            continue;
        }
        out.flag(
            col.location,
            format!(
                "key column `{}.{}` is {}: it runs out long before bigint would, and widening it later rewrites every table that references it",
                ast::rel_display(col.table),
                col.name,
                ty.display()
            ),
            "use bigint (bigint GENERATED ALWAYS AS IDENTITY for generated keys)",
        );
    }
}
