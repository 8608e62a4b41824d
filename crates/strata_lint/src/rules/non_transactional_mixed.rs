//! One statement that refuses a transaction block makes strata run the whole migration
//! statement by statement. Ordinary statements in the same file lose their atomicity: if a
//! later statement fails, the earlier ones stay applied.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "non-transactional-mixed",
    category: Category::Transactions,
    default: WARNING,
    gate: Gate::Advisory,
    summary: "ordinary statements in a migration that runs outside a transaction",
    docs: docs!("non-transactional-mixed"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    if !cx.first_mixed_statement {
        return;
    }
    out.flag(
        cx.start(),
        format!(
            "this migration runs outside a transaction ({}), so statement {} ({}) and the statements after it are not atomic: a failure leaves the earlier ones applied",
            cx.mode_reason,
            cx.index + 1,
            cx.statement.summary
        ),
        "move the statements that need no transaction (CONCURRENTLY, VACUUM, ...) into a migration of their own",
    );
}
