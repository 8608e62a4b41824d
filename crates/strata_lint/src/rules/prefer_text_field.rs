//! Changing the limit of a `varchar(n)` is a type change (a rewrite when it shrinks); a
//! `CHECK (length(col) <= n)` on `text` is changed with NOT VALID + VALIDATE instead.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "prefer-text-field",
    category: Category::Types,
    default: WARNING,
    gate: Gate::Advisory,
    summary: "varchar(n) columns",
    docs: docs!("prefer-text-field"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    for col in cx.declared_columns() {
        let ty = ast::ColType::of(col.type_name);
        if ty.base != "varchar" || ty.mods.is_empty() {
            continue;
        }
        out.flag(
            col.location,
            format!("column `{}.{}` is {}: changing the limit later is a type change", ast::rel_display(col.table), col.name, ty.display()),
            "use text with CHECK (length(col) <= n), which can be changed without locking the table",
        );
    }
}
