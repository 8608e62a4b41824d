//! psql rolls back a transaction still open at the end of a file without an error, so the
//! migration looks applied while nothing happened. strata refuses to run such a script.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "uncommitted-transaction",
    category: Category::Transactions,
    default: ERROR,
    gate: Gate::Executor,
    summary: "BEGIN without a matching COMMIT",
    docs: docs!("uncommitted-transaction"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    if cx.unclosed_begin {
        out.flag(
            cx.start(),
            "this BEGIN is never committed: the work after it would be rolled back when the script ends",
            "add COMMIT at the end of the transaction, or remove BEGIN and let strata run the migration in its own transaction",
        );
    }
}
