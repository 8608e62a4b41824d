//! `json` keeps the input text: no equality operator, no GIN indexes, and every access
//! re-parses it. `jsonb` is what nearly every application wants.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "prefer-jsonb",
    category: Category::Types,
    default: WARNING,
    gate: Gate::Advisory,
    summary: "json columns",
    docs: docs!("prefer-jsonb"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    for col in cx.declared_columns() {
        let ty = ast::ColType::of(col.type_name);
        if ty.base != "json" {
            continue;
        }
        out.flag(
            col.location,
            format!("column `{}.{}` is {}: it cannot be indexed or compared, and is re-parsed on every access", ast::rel_display(col.table), col.name, ty.display()),
            "use jsonb",
        );
    }
}
