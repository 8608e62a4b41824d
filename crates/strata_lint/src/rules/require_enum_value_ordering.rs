//! Enum values compare in declaration order, not alphabetically: `ADD VALUE` without `BEFORE` or
//! `AFTER` appends the value at the end, and every `ORDER BY`, `<` and `max()` on the column
//! now places it last. Teams whose enums encode an order (statuses, severities) want the
//! position written down. Opt-in.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "require-enum-value-ordering",
    category: Category::Types,
    default: OFF,
    gate: Gate::Advisory,
    summary: "ALTER TYPE ... ADD VALUE without BEFORE or AFTER (opt-in)",
    docs: docs!("require-enum-value-ordering"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    let N::AlterEnumStmt(e) = cx.node else { return };
    if e.new_val.is_empty() || !e.old_val.is_empty() || !e.new_val_neighbor.is_empty() {
        return;
    }
    out.flag(
        cx.start(),
        format!(
            "'{}' is appended after every existing value of `{}`: it sorts and compares as the greatest",
            e.new_val,
            ast::dotted(&ast::strings(&e.type_name))
        ),
        "say where it belongs: ADD VALUE '...' BEFORE '...' or AFTER '...'",
    );
}
