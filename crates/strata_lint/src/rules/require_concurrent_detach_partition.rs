//! `DETACH PARTITION` takes an ACCESS EXCLUSIVE lock on the parent table; PostgreSQL 14 added
//! `DETACH PARTITION ... CONCURRENTLY`, which needs only SHARE UPDATE EXCLUSIVE.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "require-concurrent-detach-partition",
    category: Category::Locking,
    default: ERROR,
    gate: Gate::TableSize,
    summary: "ALTER TABLE ... DETACH PARTITION without CONCURRENTLY (PostgreSQL 14+)",
    docs: docs!("require-concurrent-detach-partition"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    if cx.options.target_version < 14 {
        return;
    }
    let Some((a, rel)) = cx.altered_existing_table() else {
        return;
    };
    for cmd in ast::alter_cmds(a) {
        if ast::subtype(cmd) != AlterTableType::AtDetachPartition {
            continue;
        }
        let concurrent = matches!(cmd.def.as_deref().and_then(ast::inner), Some(N::PartitionCmd(p)) if p.concurrent);
        if !concurrent {
            out.flag_table(
                cx.start(),
                rel,
                format!(
                    "DETACH PARTITION takes an ACCESS EXCLUSIVE lock on the partitioned table `{}`",
                    ast::rel_display(rel)
                ),
                "use DETACH PARTITION ... CONCURRENTLY (its own migration; strata runs it outside a transaction automatically)",
            );
        }
    }
}
