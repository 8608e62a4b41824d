//! `SET NOT NULL` scans the whole table under an ACCESS EXCLUSIVE lock, unless (PostgreSQL 12+)
//! a validated `CHECK (col IS NOT NULL)` constraint already proves it.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "set-not-null",
    category: Category::Locking,
    default: ERROR,
    gate: Gate::TableSize,
    summary: "SET NOT NULL on an existing table without a validated CHECK (col IS NOT NULL)",
    docs: docs!("set-not-null"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    let Some((a, rel)) = cx.altered_existing_table() else {
        return;
    };
    for cmd in ast::alter_cmds(a) {
        if ast::subtype(cmd) != AlterTableType::AtSetNotNull {
            continue;
        }
        if cx.options.target_version >= 12
            && cx
                .state
                .has_validated_not_null_check(&crate::state::RelName::of(rel), &cmd.name)
        {
            continue;
        }
        out.flag_table(
            cx.start(),
            rel,
            format!(
                "SET NOT NULL on `{}.{}` scans the whole table under an ACCESS EXCLUSIVE lock",
                ast::rel_display(rel),
                cmd.name
            ),
            if cx.options.target_version >= 12 {
                "first ADD CONSTRAINT ... CHECK (col IS NOT NULL) NOT VALID and VALIDATE it (in separate migrations); SET NOT NULL then skips the scan"
            } else {
                "before PostgreSQL 12 SET NOT NULL always scans: schedule it for a quiet period, or keep a validated CHECK (col IS NOT NULL) instead"
            },
        );
    }
}
