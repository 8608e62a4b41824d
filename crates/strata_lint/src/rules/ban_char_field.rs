//! `char(n)` pads with spaces, compares ignoring them, and is no faster than text: it only
//! surprises.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "ban-char-field",
    category: Category::Types,
    default: WARNING,
    gate: Gate::Advisory,
    summary: "char(n) columns",
    docs: docs!("ban-char-field"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    for col in cx.declared_columns() {
        let ty = ast::ColType::of(col.type_name);
        if ty.base != "bpchar" {
            continue;
        }
        out.flag(
            col.location,
            format!("column `{}.{}` is {}: values are blank-padded and trailing spaces are ignored in comparisons", ast::rel_display(col.table), col.name, ty.display()),
            "use text (with a CHECK on length if the limit matters)",
        );
    }
}
