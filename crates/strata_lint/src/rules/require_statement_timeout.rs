//! strata's `lock_timeout` bounds how long a statement waits for its lock; once it has the lock,
//! only `statement_timeout` bounds how long it keeps it. A rewrite or scan of a large table under
//! ACCESS EXCLUSIVE with no statement_timeout holds every query on that table for as long as it
//! takes. Opt-in: strata's default statement_timeout is none, and a migration that must finish
//! (a deliberate backfill) should not be cancelled half-way by a blanket default.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "require-statement-timeout",
    category: Category::Locking,
    default: OFF,
    gate: Gate::TableSize,
    summary: "a strong lock on an existing table with no statement_timeout in effect (opt-in)",
    docs: docs!("require-statement-timeout"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    if cx.statement_timeout {
        return;
    }
    for target in super::require_lock_timeout::strong_lock_targets(cx) {
        let message = format!(
            "{} holds a strong lock on `{}` for as long as it runs, with no statement_timeout to bound it",
            cx.statement.summary, target.display
        );
        let help = "set `statement_timeout` in strata.toml (or --statement-timeout), add `-- strata:statement-timeout 30s` to the migration, or SET statement_timeout first";
        match target.table {
            Some(t) => out.flag_table(cx.start(), t, message, help),
            None => out.flag(cx.start(), message, help),
        }
    }
}
