//! Teams that merge data across services or generate ids in the application ask for uuid keys.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "uuid-primary-key",
    category: Category::Conventions,
    default: OFF,
    gate: Gate::Advisory,
    summary: "primary keys that are not uuid (opt-in)",
    docs: docs!("uuid-primary-key"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    check_added_keys(cx, out);
    for col in cx.declared_columns() {
        if col.def.is_none() || !col.key {
            continue;
        }
        let identity_only = col.def.is_some_and(|d| {
            ast::column_constraints(d).all(|c| ast::contype(c) != ConstrType::ConstrPrimary)
        }) && !is_table_pk(cx, col.name);
        if identity_only {
            continue;
        }
        let ty = ast::ColType::of(col.type_name);
        if ty.base == "uuid" {
            continue;
        }
        out.flag(
            col.location,
            format!(
                "primary key `{}.{}` is {}, not uuid",
                ast::rel_display(col.table),
                col.name,
                ty.display()
            ),
            "use uuid (DEFAULT gen_random_uuid())",
        );
    }
}

fn check_added_keys(cx: &Ctx<'_>, out: &mut Sink) {
    for (table, column, ty, at) in cx.added_primary_key_columns() {
        let Some(ty) = ty else { continue };
        if ty.base == "uuid" {
            continue;
        }
        out.flag(
            at,
            format!(
                "primary key `{}.{column}` is {}, not uuid",
                ast::rel_display(table),
                ty.display()
            ),
            "use uuid (DEFAULT gen_random_uuid())",
        );
    }
}

fn is_table_pk(cx: &Ctx<'_>, column: &str) -> bool {
    let N::CreateStmt(c) = cx.node else {
        return false;
    };
    ast::table_elements(c).1.iter().any(|k| {
        ast::contype(k) == ConstrType::ConstrPrimary
            && ast::strings(&k.keys).iter().any(|n| n == column)
    })
}
