//! Planning a set against its history: from the registry's one-row summary when the history is
//! just the set's first migrations, from the rows otherwise; then the scripts the plan runs
//! are read and pending migrations whose last attempt failed are marked.

use crate::error::EngineError;
use crate::load::LoadedSet;
use crate::settings::Settings;
use strata_model::Migration;
use strata_pg::{Registry, Session};
use strata_plan::{ApplyReason, Plan, Policy, Step, Target};

/// Reads history and plans one set, then reads the scripts the plan runs (a set loaded with
/// [`crate::load::load_sets_deferred`] holds only checksums for the others).
pub async fn plan_set(
    session: &Session,
    registry: &Registry,
    set: &mut LoadedSet,
    target: &Target,
    settings: &Settings,
) -> Result<(Vec<strata_model::AppliedMigration>, Plan), EngineError> {
    let applied = read_history(session, registry, &set.spec.name).await?;
    let plan = plan_with_rows(session, registry, set, target, settings, &applied).await?;
    Ok((applied, plan))
}

/// Every history row of set `name`.
pub async fn read_history(
    session: &Session,
    registry: &Registry,
    name: &str,
) -> Result<Vec<strata_model::AppliedMigration>, EngineError> {
    registry
        .read(session, name)
        .await
        .map_err(|source| EngineError::History {
            set: name.to_owned(),
            source,
        })
}

/// Plans one set from its history rows, then reads the scripts the plan runs.
pub async fn plan_with_rows(
    session: &Session,
    registry: &Registry,
    set: &mut LoadedSet,
    target: &Target,
    settings: &Settings,
    applied: &[strata_model::AppliedMigration],
) -> Result<Plan, EngineError> {
    // A part-way migration is checked statement by statement against its file (planner) and
    // shown with its journal (status): rare, so simply read everything then.
    if applied
        .iter()
        .any(|a| matches!(a.state, strata_model::AppliedState::Partial { .. }))
    {
        set.set.load_all()?;
    }
    let policy = policy(settings);
    let plan = strata_plan::plan(set.migrations(), applied, target, &policy).map_err(|source| {
        EngineError::Plan {
            set: set.spec.name.clone(),
            source,
        }
    })?;
    let plan = finish_plan(session, registry, set, plan).await?;
    check_sqitch_conflicts(set, applied, &plan)?;
    Ok(plan)
}

fn policy(settings: &Settings) -> Policy {
    Policy {
        allow_out_of_order: settings.allow_out_of_order,
    }
}

/// Reads the scripts a plan runs and marks pending migrations whose last attempt failed.
async fn finish_plan(
    session: &Session,
    registry: &Registry,
    set: &mut LoadedSet,
    mut plan: Plan,
) -> Result<Plan, EngineError> {
    let wanted: Vec<(usize, strata_source::Part)> = plan
        .steps
        .iter()
        .filter_map(|step| match step {
            Step::Apply { index, .. } => Some((*index, strata_source::Part::Up)),
            Step::Revert { index, .. } => Some((*index, strata_source::Part::Down)),
            _ => None,
        })
        .collect();
    set.set.load_scripts(&wanted)?;
    let pending: Vec<String> = plan
        .entries
        .iter()
        .filter(|e| e.state == strata_plan::State::Pending)
        .map(|e| e.key.clone())
        .collect();
    let failures = registry
        .last_failures(session, &set.spec.name, &pending)
        .await?;
    strata_plan::mark_failed(&mut plan, &failures);
    Ok(plan)
}

/// What an `up` plan was made from, kept to tell later (under the lock) whether it still
/// holds.
#[derive(Debug, Clone, PartialEq)]
pub enum HistoryBasis {
    /// The registry's one-row summary (see [`strata_plan::plan_from_summary`]).
    Summary(strata_plan::HistorySummary),
    /// Every history row.
    Rows(Vec<strata_model::AppliedMigration>),
}

/// Plans `up` for one set. When the history is just the first migrations of the set
/// unchanged (the usual case), the registry's summary is enough and the rows are never read;
/// otherwise the rows are read and planned as by [`plan_set`]. `summary` is one the caller
/// already fetched (pipelined with other queries). With `earlier` (a plan made by a
/// lock-free read for the same target), the history is checked again and that plan returned
/// when the history is unchanged; planning is a pure function of files and history, so it
/// would be the same. (Only the `failed` marks of pending entries, which come from the
/// events, may be older than the history; the executor does not use them.)
pub async fn plan_up(
    session: &Session,
    registry: &Registry,
    set: &mut LoadedSet,
    target: &Target,
    settings: &Settings,
    summary: Option<Option<strata_plan::HistorySummary>>,
    earlier: Option<(HistoryBasis, Plan)>,
) -> Result<(HistoryBasis, Plan), EngineError> {
    // sqitch conflicts are checked against the rows; its sets are small anyway.
    let summarizable = set.set.sqitch.is_none();
    if summarizable {
        let summary = match summary {
            Some(s) => s,
            None => registry.summary(session, &set.spec.name).await,
        };
        if let Some(summary) = summary {
            if let Some((HistoryBasis::Summary(before), _)) = &earlier {
                if *before == summary {
                    let plan = earlier.map(|(_, plan)| plan).expect("checked above");
                    return Ok((HistoryBasis::Summary(summary), plan));
                }
            }
            if let Some(plan) = strata_plan::plan_from_summary(
                set.migrations(),
                &summary,
                target,
                &policy(settings),
            ) {
                let plan = plan.map_err(|source| EngineError::Plan {
                    set: set.spec.name.clone(),
                    source,
                })?;
                let plan = finish_plan(session, registry, set, plan).await?;
                return Ok((HistoryBasis::Summary(summary), plan));
            }
        }
    }
    let applied = read_history(session, registry, &set.spec.name).await?;
    if let Some((HistoryBasis::Rows(before), plan)) = earlier {
        if before == applied {
            return Ok((HistoryBasis::Rows(applied), plan));
        }
    }
    let plan = plan_with_rows(session, registry, set, target, settings, &applied).await?;
    Ok((HistoryBasis::Rows(applied), plan))
}

/// Execution options of a set.
pub fn exec_options(
    set: &LoadedSet,
    settings: &Settings,
    interrupted: &std::sync::Arc<std::sync::atomic::AtomicBool>,
    reason: Option<&str>,
) -> strata_pg::ExecOptions {
    strata_pg::ExecOptions {
        set_name: set.spec.name.clone(),
        lock_timeout: set.spec.lock_timeout.clone(),
        statement_timeout: set.spec.statement_timeout.clone(),
        lock_retries: settings.lock_retries,
        retry_delay: settings.retry_delay,
        interrupted: interrupted.clone(),
        reason: reason.map(str::to_owned),
        baseline_event: None,
        set_dir: set.spec.dir.clone(),
    }
}

/// The step that applies migration `index` for the first time.
pub fn apply_step(migrations: &[Migration], index: usize) -> Step {
    Step::Apply {
        index,
        key: migrations[index].id.registry_key(),
        resume_from: 0,
        reason: ApplyReason::Pending,
    }
}

/// Refuses a plan whose steps apply a sqitch change that conflicts with an applied one, before
/// anything runs.
/// (Conflicts with changes planned above it are refused earlier, while reading the plan:
/// `strata_source::sqitch`.)
pub fn check_sqitch_conflicts(
    set: &LoadedSet,
    applied: &[strata_model::AppliedMigration],
    plan: &Plan,
) -> Result<(), EngineError> {
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
    Err(EngineError::SqitchConflict {
        set: set.spec.name.clone(),
        conflicts: lines,
    })
}
