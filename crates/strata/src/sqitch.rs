//! sqitch checks that need the database: a change planned to run must not conflict
//! (`[!name]`) with a change recorded as applied. Conflicts with changes planned above it are
//! refused earlier, while reading the plan (`strata_source::sqitch`).

use anyhow::{bail, Result};
use strata_model::AppliedMigration;
use strata_plan::{Plan, Step};

/// Refuses a plan whose steps apply a sqitch change that conflicts with an applied one, before
/// anything runs.
pub fn check_conflicts(
    set: &crate::app::LoadedSet,
    applied: &[AppliedMigration],
    plan: &Plan,
) -> Result<()> {
    let Some(sqitch) = &set.set.sqitch else {
        return Ok(());
    };
    // Change `i` of the plan is migration version `i + 1`.
    let pending: Vec<usize> = plan
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Apply { index, .. } => set.migrations()[*index].id.version.as_ref(),
            _ => None,
        })
        .filter_map(|v| v.as_str().parse::<usize>().ok()?.checked_sub(1))
        .collect();
    if pending.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = applied.iter().map(|a| a.name.as_str()).collect();
    let hits = strata_source::sqitch::conflicts_with_applied(sqitch, &pending, &names);
    if hits.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = hits
        .iter()
        .map(|(i, d)| {
            let c = &sqitch.changes[*i];
            format!(
                "sqitch.plan:{}: change `{}` conflicts with `{}`, which is applied in this database",
                c.line,
                c.name,
                d.change.as_deref().unwrap_or(&d.text)
            )
        })
        .collect();
    bail!(
        "set `{}`: nothing was run:\n  {}\nrevert the conflicting change first (`strata down`), or remove the conflict from the plan",
        set.spec.name,
        lines.join("\n  ")
    )
}
