//! `ALTER TYPE ... ADD VALUE` can run in a transaction since PostgreSQL 12, but the new value
//! cannot be used until that transaction commits ("unsafe use of new value"). Before 12 it
//! cannot run in a transaction block at all.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "enum-add-value",
    category: Category::Transactions,
    default: ERROR,
    summary: "an enum value used in the transaction that added it (or ADD VALUE in a transaction before PostgreSQL 12)",
    docs: docs!("enum-add-value"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    if !cx.in_tx {
        return;
    }
    if let N::AlterEnumStmt(e) = cx.node {
        if !e.new_val.is_empty() && e.old_val.is_empty() && cx.options.target_version < 12 {
            out.flag(
                cx.start(),
                format!(
                    "ALTER TYPE ... ADD VALUE cannot run inside a transaction block before PostgreSQL 12 (target is {})",
                    cx.options.target_version
                ),
                "put it in its own migration with `-- strata:no-transaction`",
            );
        }
        return;
    }
    if cx.state.enum_values_added().is_empty() {
        return;
    }
    for (value, location) in ast::string_constants(cx.node) {
        let Some(added) = cx
            .state
            .enum_values_added()
            .iter()
            .find(|a| a.value == value && a.tx == cx.tx)
        else {
            continue;
        };
        out.flag(
            location.map_or(cx.start(), |l| cx.base + l),
            format!(
                "'{value}' was added to enum `{}` by statement {} in this same transaction; PostgreSQL refuses to use it before that transaction commits",
                added.type_name,
                added.statement + 1
            ),
            "move the statements that use the new value to a later migration",
        );
    }
}
