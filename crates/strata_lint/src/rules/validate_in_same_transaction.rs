//! `NOT VALID` exists to split a constraint into a cheap catalog change and a validation scan
//! under a weaker lock. Validating in the same transaction keeps the first step's strong lock
//! for the whole scan, so nothing is gained.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "validate-in-same-transaction",
    category: Category::Locking,
    default: WARNING,
    gate: Gate::TableSize,
    summary: "VALIDATE CONSTRAINT in the transaction that added the constraint NOT VALID",
    docs: docs!("validate-in-same-transaction"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    if !cx.in_tx {
        return;
    }
    let N::AlterTableStmt(a) = cx.node else {
        return;
    };
    let Some(rel) = &a.relation else { return };
    for cmd in ast::alter_cmds(a) {
        if ast::subtype(cmd) != AlterTableType::AtValidateConstraint {
            continue;
        }
        let Some(added) = cx
            .state
            .not_valid(&crate::state::RelName::of(rel), &cmd.name)
        else {
            continue;
        };
        if added.unit == cx.state.unit() && added.tx == cx.tx && !cx.is_new(rel) {
            out.flag_table(
                cx.start(),
                rel,
                format!(
                    "constraint `{}` was added NOT VALID by statement {} of this migration, in the same transaction: its {} lock is held during this validation scan",
                    cmd.name,
                    added.statement + 1,
                    if added.foreign_key { "SHARE ROW EXCLUSIVE" } else { "ACCESS EXCLUSIVE" }
                ),
                "move VALIDATE CONSTRAINT to a later migration",
            );
        }
    }
}
