//! A `timestamp` stores wall-clock time without a zone: the same instant reads differently per
//! server or session time zone, and daylight-saving gaps make values ambiguous.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "prefer-timestamptz",
    category: Category::Types,
    default: WARNING,
    gate: Gate::Advisory,
    summary: "timestamp without time zone columns",
    docs: docs!("prefer-timestamptz"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    for col in cx.declared_columns() {
        let ty = ast::ColType::of(col.type_name);
        if ty.base != "timestamp" {
            continue;
        }
        out.flag(
            col.location,
            format!(
                "column `{}.{}` is {} (without time zone): instants are stored without their zone",
                ast::rel_display(col.table),
                col.name,
                ty.display()
            ),
            "use timestamptz, which stores an absolute instant and converts on display",
        );
    }
}
