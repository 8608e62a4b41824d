//! PostgreSQL has no nested transactions: a second `BEGIN` only warns, and the first `COMMIT`
//! commits everything, so the script's idea of its transaction boundaries is wrong.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "transaction-nesting",
    category: Category::Transactions,
    default: WARNING,
    gate: Gate::Advisory,
    summary: "BEGIN inside an open transaction, or COMMIT/ROLLBACK with none open",
    docs: docs!("transaction-nesting"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    if let Some(problem) = cx.nesting {
        out.flag(
            cx.start(),
            format!("{problem}; PostgreSQL has no nested transactions"),
            "use SAVEPOINT for a nested unit of work, or remove the extra BEGIN/COMMIT (strata wraps each migration in a transaction itself)",
        );
    }
}
