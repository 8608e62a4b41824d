//! Files that are also run by other tools or by hand fail on a second run unless every
//! statement is repeatable. strata itself never needs it (transactional migrations roll back
//! whole, and non-transactional ones resume after the last completed statement), so the rule is
//! opt-in, for teams whose files must stay safe to re-run anywhere.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "prefer-robust-stmts",
    category: Category::Robustness,
    default: OFF,
    gate: Gate::Advisory,
    summary: "CREATE without IF NOT EXISTS / DROP without IF EXISTS (opt-in)",
    docs: docs!("prefer-robust-stmts"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    let missing = match cx.node {
        N::CreateStmt(c) => !c.if_not_exists,
        N::IndexStmt(i) => !i.if_not_exists,
        N::CreateSeqStmt(s) => !s.if_not_exists,
        N::CreateSchemaStmt(s) => !s.if_not_exists,
        N::CreateExtensionStmt(e) => !e.if_not_exists,
        N::DropStmt(d) => !d.missing_ok,
        N::AlterTableStmt(a) => ast::alter_cmds(a).any(|c| {
            matches!(
                ast::subtype(c),
                AlterTableType::AtAddColumn | AlterTableType::AtDropColumn
            ) && !c.missing_ok
        }),
        _ => false,
    };
    if missing {
        out.flag(
            cx.start(),
            format!(
                "{} is not repeatable: running the file again fails here",
                cx.statement.summary
            ),
            "add IF NOT EXISTS (CREATE, ADD COLUMN) or IF EXISTS (DROP, DROP COLUMN)",
        );
    }
}
