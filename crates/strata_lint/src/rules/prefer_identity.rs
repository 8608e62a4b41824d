//! `serial` creates a separately owned sequence with loose permissions and odd dump behaviour;
//! identity columns are the SQL-standard replacement (PostgreSQL 10+).

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "prefer-identity",
    category: Category::Types,
    default: WARNING,
    gate: Gate::Advisory,
    summary: "serial columns",
    docs: docs!("prefer-identity"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    for col in cx.declared_columns() {
        let ty = ast::ColType::of(col.type_name);
        if !(ty.is_serial()) {
            continue;
        }
        out.flag(
            col.location,
            format!(
                "column `{}.{}` is {}",
                ast::rel_display(col.table),
                col.name,
                ty.display()
            ),
            "use bigint GENERATED ALWAYS AS IDENTITY (or BY DEFAULT)",
        );
    }
}
