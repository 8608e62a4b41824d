//! `adopt` and `baseline`: take over a database another tool (or another strata set, or no
//! tool at all) managed, without running anything twice.
//!
//! [`adopt`] reads the other tool's history (never changes it), matches it against the files
//! by version ([`crate::adoption`]) and, when applying, records the matches in strata's
//! registry as applied, with an `adopt` event naming the source table and its row count.
//! Anything the tool itself would complain about (a dirty or failed migration, a checksum that
//! no longer matches the file) is reported and not adopted, so the operator decides.
//! [`from_set`] moves a history recorded under another set key. [`infer`] proposes a baseline
//! for a database migrated without any history, from which objects exist; recording it is
//! `baseline`'s work ([`baseline_target`], then [`crate::migrate`]).

use crate::adoption::plan_adoption;
use crate::ctx::Ctx;
use crate::database;
use crate::error::EngineError;
use crate::load;
use crate::plan::read_history;
use crate::settings::DbTarget;
use crate::settings::{SetSpec, Settings};
use serde::Serialize;
use strata_model::MigrationKind;
use strata_pg::adopt::{self as foreign, Tool};
use strata_pg::Registry;
use strata_plan::{Plan, Step, Target, Verdict};

/// What `adopt --from-set` did (or, without `apply`, would do).
#[derive(Debug, Serialize)]
pub struct FromSet {
    /// The selected set, which takes the history over.
    pub set: String,
    /// The set key the history was recorded under.
    pub from_set: String,
    /// The history rows moved (or that would move).
    pub rows: u64,
    /// How many of them match the set's files unchanged.
    pub matching_files: u64,
    /// True when the rows were moved.
    pub applied: bool,
}

/// `adopt --from-set OLD`: the history strata recorded under another set key (an older
/// strata's path-derived key, a renamed `[[set]]`) becomes the selected set's, which must have
/// none yet. Nothing runs; the rows move in one transaction with an `adopt` event that names
/// the old key, under the migration lock. A dry run unless `apply`. `say` receives lines about
/// the run (the dev cluster, waiting for the lock).
pub async fn from_set(
    ctx: &Ctx,
    db: &DbTarget,
    old: &str,
    apply: bool,
) -> Result<FromSet, EngineError> {
    let settings = &ctx.settings;
    let say: &mut (dyn FnMut(&str) + Send) = &mut ctx.notes();
    let sets = load::load_sets(settings)?;
    let [set] = sets.as_slice() else {
        return Err(EngineError::OneSet {
            what: "adopt --from-set moves a history to one set",
        });
    };
    if set.spec.name == old {
        return Err(EngineError::AdoptOwnSet {
            set: old.to_owned(),
        });
    }
    let db = database::database(db, settings, say)?;
    let session = database::connect(&db).await?;
    let registry = Registry::new(&settings.registry_schema);
    let lock = if apply {
        let mut lock = database::lock(&db, settings, say).await?;
        registry.ensure(&session).await?;
        lock.register(&registry).await?;
        Some(lock)
    } else {
        None
    };
    let result = async {
        let own = read_history(&session, &registry, &set.spec.name).await?;
        if !own.is_empty() {
            return Err(EngineError::AdoptIntoHistory {
                set: set.spec.name.clone(),
                rows: own.len(),
            });
        }
        let rows = read_history(&session, &registry, old).await?;
        let others = crate::guard::other_histories(&session, &registry, set).await?;
        if rows.is_empty() {
            return Err(EngineError::NoSuchHistory {
                set: old.to_owned(),
                others,
            });
        }
        let matching = others
            .into_iter()
            .find(|o| o.set == old)
            .map_or(0, |o| o.matching);
        let moved = if apply {
            registry
                .move_history(&session, old, &set.spec.name, "strata adopt --from-set")
                .await?
        } else {
            rows.len() as u64
        };
        Ok((moved, matching))
    }
    .await;
    // Released first: a failure to release matters even when the move failed.
    if let Some(lock) = lock {
        lock.release().await?;
    }
    let (rows, matching_files) = result?;
    Ok(FromSet {
        set: set.spec.name.clone(),
        from_set: old.to_owned(),
        rows,
        matching_files,
        applied: apply,
    })
}

/// What `adopt` found for one set (and, when applying, recorded).
#[derive(Debug, Serialize)]
pub struct SetAdoption {
    /// The set.
    pub name: String,
    /// The tool whose history was read.
    pub tool: &'static str,
    /// Its history table.
    pub source_table: String,
    /// How many rows the table has.
    pub source_rows: i64,
    /// The migrations its history records as applied, adopted (or to adopt).
    pub adopted: Vec<String>,
    /// What stops a migration from being adopted, one line each.
    pub problems: Vec<String>,
    /// True when the adoption was recorded.
    pub applied: bool,
    /// Versioned migrations that stay pending for `strata up`.
    #[serde(skip)]
    pub pending: usize,
}

/// What `adopt` found, set by set.
#[derive(Debug, Serialize)]
pub struct AdoptOutcome {
    /// The sets, in order.
    pub sets: Vec<SetAdoption>,
}

impl AdoptOutcome {
    /// True when some migration could not be adopted.
    pub fn has_problems(&self) -> bool {
        self.sets.iter().any(|s| !s.problems.is_empty())
    }
}

/// `adopt [--from TOOL]`: for every selected set, reads the history of another tool (`tool`,
/// or the one found: sqitch's registry for sqitch projects, another tool's table for other
/// sets), matches it against the files and, with `apply`, records the matches as applied
/// (without running them) under the migration lock. `report` is told each set's findings
/// before they are recorded. `say` receives lines about the run (the dev cluster, waiting for
/// the lock).
pub async fn adopt(
    ctx: &Ctx,
    db: &DbTarget,
    tool: Option<&str>,
    apply: bool,
    report: &mut impl FnMut(&SetAdoption),
) -> Result<AdoptOutcome, EngineError> {
    let settings = &ctx.settings;
    let say: &mut (dyn FnMut(&str) + Send) = &mut ctx.notes();
    let sets = load::load_sets(settings)?;
    let wanted = match tool {
        Some(name) => Some(
            Tool::from_name(name).ok_or_else(|| EngineError::UnknownTool {
                name: name.to_owned(),
            })?,
        ),
        None => None,
    };
    let db = database::database(db, settings, say)?;
    let mut session = database::connect(&db).await?;
    let registry = Registry::new(&settings.registry_schema);
    let mut lock = if apply {
        Some(database::lock(&db, settings, say).await?)
    } else {
        None
    };
    if apply {
        registry.ensure(&session).await?;
        if let Some(l) = lock.as_mut() {
            l.register(&registry).await?;
        }
    }
    let mut outcome = Vec::with_capacity(sets.len());
    for set in &sets {
        let found = foreign::detect(&session, set.spec.schema.as_deref(), &registry).await?;
        // sqitch's registry serves sqitch projects; other sets look for the other tools.
        let is_sqitch = set.set.sqitch.is_some();
        let chosen = found.iter().find(|(t, _)| match wanted {
            Some(w) => w == *t,
            None => (*t == Tool::Sqitch) == is_sqitch,
        });
        let Some((tool, schema)) = chosen else {
            return Err(EngineError::NoForeignHistory {
                set: set.spec.name.clone(),
                tool: wanted.map(Tool::name),
            });
        };
        let history = foreign::read(&session, *tool, schema).await?;
        let already = registry.read(&session, &set.spec.name).await?;
        let adoption = plan_adoption(set, &history, &already, true);
        let pending = set
            .migrations()
            .iter()
            .enumerate()
            .filter(|(i, m)| m.kind == MigrationKind::Versioned && !adoption.adopt.contains(i))
            .count();
        let found = SetAdoption {
            name: set.spec.name.clone(),
            tool: tool.name(),
            source_table: history.table.clone(),
            source_rows: history.row_count,
            adopted: adoption
                .adopt
                .iter()
                .map(|&i| set.migrations()[i].id.to_string())
                .collect(),
            problems: adoption.problems,
            applied: apply,
            pending,
        };
        report(&found);
        if apply && !adoption.adopt.is_empty() {
            let steps = adoption
                .adopt
                .iter()
                .map(|&i| Step::Baseline {
                    index: i,
                    key: set.migrations()[i].id.registry_key(),
                })
                .collect();
            let plan = Plan {
                entries: Vec::new(),
                steps,
                findings: Vec::new(),
            };
            let opts = strata_pg::ExecOptions {
                set_name: set.spec.name.clone(),
                lock_timeout: set.spec.lock_timeout.clone(),
                statement_timeout: set.spec.statement_timeout.clone(),
                baseline_event: Some((
                    "adopt".into(),
                    serde_json::json!({"tool": tool.name(), "source_table": history.table, "source_rows": history.row_count}),
                )),
                set_dir: set.spec.dir.clone(),
                ..Default::default()
            };
            strata_pg::execute(
                &mut session,
                &registry,
                set.migrations(),
                &plan,
                &opts,
                lock.as_ref(),
                &mut strata_pg::Silent,
            )
            .await
            .map_err(|e| EngineError::AdoptFailed {
                set: set.spec.name.clone(),
                source: Box::new(e),
            })?;
        }
        outcome.push(found);
    }
    if let Some(l) = lock {
        l.release().await?;
    }
    Ok(AdoptOutcome { sets: outcome })
}

/// What the database shows of one migration, for `adopt --infer`.
#[derive(Debug, Serialize)]
pub struct InferredMigration {
    /// The migration.
    pub migration: String,
    /// Whether it looks applied.
    pub verdict: Verdict,
    /// How many of its objects exist.
    pub present: usize,
    /// How many do not.
    pub absent: usize,
    /// The objects that do not exist.
    pub missing: Vec<String>,
    /// True when it contradicts the others (see [`strata_plan::infer_baseline`]).
    pub conflict: bool,
    /// True when nothing tells whether it ran (it creates nothing that can be checked).
    pub undecided: bool,
}

/// `strata adopt --infer --json`.
#[derive(Debug, Serialize)]
pub struct InferDocument<'a> {
    /// What is proposed for each set.
    pub sets: &'a [SetInference],
    /// True when the proposals were recorded (`--apply` and no contradiction).
    pub applied: bool,
}

/// What `adopt --infer` proposes for one set.
#[derive(Debug, Serialize)]
pub struct SetInference {
    /// The set.
    pub name: String,
    /// Its versioned migrations, in order.
    pub migrations: Vec<InferredMigration>,
    /// The version to record as the baseline, if any migration's objects exist.
    pub baseline: Option<String>,
    /// True when the evidence is contradictory: no baseline should be recorded.
    pub conflicts: bool,
    /// The set, to record the baseline with.
    #[serde(skip)]
    pub spec: SetSpec,
}

/// `adopt --infer`: for a database migrated without any history (a psql loop), proposes for
/// every selected set (which must have no strata history) a baseline from which of each
/// migration's objects exist. Nothing is written; `report` is told each set's proposal as it
/// is made. `say` receives lines about the run (the dev cluster).
pub async fn infer(
    ctx: &Ctx,
    db: &DbTarget,
    report: &mut impl FnMut(&SetInference),
) -> Result<Vec<SetInference>, EngineError> {
    let settings = &ctx.settings;
    let say: &mut (dyn FnMut(&str) + Send) = &mut ctx.notes();
    let mut sets = load::load_sets(settings)?;
    for set in &mut sets {
        set.set.load_all()?;
    }
    let db = database::database(db, settings, say)?;
    let session = database::connect(&db).await?;
    let registry = Registry::new(&settings.registry_schema);
    let mut proposals = Vec::with_capacity(sets.len());
    for set in &sets {
        if !registry.read(&session, &set.spec.name).await?.is_empty() {
            return Err(EngineError::InferWithHistory {
                set: set.spec.name.clone(),
            });
        }
        let versioned: Vec<&strata_model::Migration> = set
            .migrations()
            .iter()
            .filter(|m| m.kind == MigrationKind::Versioned)
            .collect();
        let witnesses = strata_plan::witnesses(&versioned);
        let mut unique: Vec<strata_sql::objects::DbObject> =
            witnesses.iter().flatten().cloned().collect();
        unique.sort();
        unique.dedup();
        let exists = foreign::objects_exist(&session, &unique).await?;
        let present = |o: &strata_sql::objects::DbObject| {
            unique.binary_search(o).ok().is_some_and(|i| exists[i])
        };
        let evidence: Vec<strata_plan::Evidence> = witnesses
            .iter()
            .map(|objects| {
                let here = objects.iter().filter(|o| present(o)).count();
                strata_plan::Evidence {
                    present: here,
                    absent: objects.len() - here,
                }
            })
            .collect();
        let inference = strata_plan::infer_baseline(&evidence);
        let baseline = inference.baseline.and_then(|i| {
            versioned[i]
                .id
                .version
                .as_ref()
                .map(|v| v.as_str().to_owned())
        });
        let migrations = versioned
            .iter()
            .enumerate()
            .map(|(i, m)| InferredMigration {
                migration: m.id.to_string(),
                verdict: inference.verdicts[i],
                present: evidence[i].present,
                absent: evidence[i].absent,
                missing: witnesses[i]
                    .iter()
                    .filter(|o| !present(o))
                    .map(ToString::to_string)
                    .collect(),
                conflict: inference.conflicts.contains(&i),
                undecided: inference.undecided.contains(&i),
            })
            .collect();
        let proposal = SetInference {
            name: set.spec.name.clone(),
            migrations,
            baseline,
            conflicts: !inference.conflicts.is_empty(),
            spec: set.spec.clone(),
        };
        report(&proposal);
        proposals.push(proposal);
    }
    Ok(proposals)
}

/// `baseline V`: the target that records the migrations up to V as applied without running
/// them, checked to name one set (the same version means different things in different sets).
/// [`crate::migrate`] plans and records it as for `up`.
pub fn baseline_target(settings: &Settings, version: &str) -> Result<Target, EngineError> {
    if settings.sets.len() > 1 {
        return Err(EngineError::OneSet {
            what: "baseline applies to one set",
        });
    }
    Ok(Target::Baseline(version.to_owned()))
}
