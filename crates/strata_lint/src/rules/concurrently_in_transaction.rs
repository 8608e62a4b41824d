//! strata already runs a migration with `CREATE INDEX CONCURRENTLY` (and the other statements
//! PostgreSQL refuses in a transaction block) outside a transaction. A `BEGIN` in the script
//! puts the statement back into one, where it fails at run time.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "concurrently-in-transaction",
    category: Category::Transactions,
    default: ERROR,
    gate: Gate::Advisory,
    summary: "a statement that cannot run in a transaction block placed inside the script's own BEGIN ... COMMIT",
    docs: docs!("concurrently-in-transaction"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    if !(cx.statement.needs_autocommit && cx.in_tx) {
        return;
    }
    out.flag(
        cx.start(),
        format!(
            "{} cannot run inside a transaction block, and the script's own BEGIN opened one: it will fail with `cannot run inside a transaction block`",
            cx.statement.summary
        ),
        "remove BEGIN/COMMIT around it: strata already runs this migration outside a transaction because of this statement",
    );
}
