//! `verify` and `drift`: run migrations where it is safe, and compare schemas.
//!
//! [`verify`] proves on a throwaway database that every down undoes its up: apply all, then
//! from the last migration to the first, down (the schema must equal the one before its up), up
//! again (it must equal the one after), and down once more to continue. It stops at the first
//! failure of a set, since nothing below it can be reverted to check. [`drift`] rebuilds the
//! schema the live database's applied history should produce and compares it with the live one.
//!
//! Both return what they found as data; the front end renders it. `verify` also tells a
//! [`VerifyReporter`] about each migration as it is checked, since a long set takes a while.

use crate::ctx::Ctx;
use crate::database;
use crate::error::EngineError;
use crate::load::{self, LoadedSet};
use crate::plan::apply_step;
use crate::schema::snapshot_of;
use crate::scratch::{self, ReplayError, ReplaySet, Scratch, ScratchServer};
use crate::settings::{DbTarget, Settings};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;
use strata_model::{Migration, MigrationId, MigrationKind, Version};
use strata_pg::{ConnInfo, Registry, Session};
use strata_plan::Step;
use strata_schema::Difference;

/// What `verify` is asked to do.
#[derive(Debug, Clone, Copy, Default)]
pub struct VerifyOptions<'a> {
    /// Check only the migrations from this version up (`--from V`); the ones below are
    /// applied but not reverted.
    pub from: Option<&'a str>,
    /// Load each set's sample data (`seed`, after `seed_after`) so the downs and re-ups run
    /// against data (`--with-data`).
    pub with_data: bool,
    /// The server to create throwaway databases on (`--scratch-url`, or a cluster strata
    /// starts).
    pub scratch: ScratchServer<'a>,
}

/// What `verify` reports while it runs.
pub trait VerifyReporter {
    /// Set `set` starts: `migrations` versioned migrations are applied and then checked.
    fn set_started(&mut self, set: &str, migrations: usize);
    /// The sample data `seed` was loaded after migration `after` was applied.
    fn seeded(&mut self, seed: &Path, after: &MigrationId);
    /// A migration was checked (or failed); the same value ends up in the outcome.
    fn checked(&mut self, check: &MigrationCheck);
}

/// A [`VerifyReporter`] that reports nothing.
pub struct Quiet;

impl VerifyReporter for Quiet {
    fn set_started(&mut self, _set: &str, _migrations: usize) {}
    fn seeded(&mut self, _seed: &Path, _after: &MigrationId) {}
    fn checked(&mut self, _check: &MigrationCheck) {}
}

/// What `verify` found, set by set.
///
/// Not `Serialize`: its failures are execution errors that the front end renders against
/// their files (the CLI puts the rendered diagnostic in its JSON document).
#[derive(Debug)]
pub struct VerifyOutcome {
    /// The sets, in order.
    pub sets: Vec<SetVerification>,
}

impl VerifyOutcome {
    /// True when no check of any set failed.
    pub fn reversible(&self) -> bool {
        !self.sets.iter().any(SetVerification::failed)
    }
}

/// One set's checks.
#[derive(Debug)]
pub struct SetVerification {
    /// The set.
    pub name: String,
    /// The migrations checked, from the last down to where the checks stopped (for a failed
    /// up, only that migration).
    pub checks: Vec<MigrationCheck>,
}

impl SetVerification {
    /// True when a check failed (it is then the last one: a set's checks stop at a failure).
    pub fn failed(&self) -> bool {
        self.checks.last().is_some_and(|c| c.result.is_failure())
    }
}

/// One migration's check.
#[derive(Debug)]
pub struct MigrationCheck {
    /// Which migration.
    pub id: MigrationId,
    /// Its up script's file.
    pub path: PathBuf,
    /// Its down script's file, if it has one.
    pub down_path: Option<PathBuf>,
    /// What happened.
    pub result: CheckResult,
}

/// What a migration's check found, in the order of the steps: up, down, compare, up again,
/// compare, down again.
#[derive(Debug)]
#[non_exhaustive]
pub enum CheckResult {
    /// Applying it (on the way up, before any check) failed.
    UpFailed {
        /// Why.
        error: ReplayError,
    },
    /// It has no down script: it and every migration before it cannot be checked.
    NoDown {
        /// How long its up took, in milliseconds.
        up_ms: u64,
    },
    /// Its down script failed.
    DownFailed {
        /// Why.
        error: ReplayError,
    },
    /// Its down script ran but left another schema than the one before its up.
    DownDoesNotRestore {
        /// From the schema before the up to the one after the down (+ left behind by the
        /// down, - missing after it).
        differences: Vec<Difference>,
    },
    /// Applying it again after its down failed.
    ReupFailed {
        /// Why.
        error: ReplayError,
    },
    /// Applying it again after its down gave another schema than the first time.
    ReupDiffers {
        /// From the schema after the first up to the one after the second.
        differences: Vec<Difference>,
    },
    /// Its down script failed the second time, after the re-up (the check itself passed).
    SecondDownFailed {
        /// Why.
        error: ReplayError,
    },
    /// The down restores the schema before the up and the re-up gives the same schema.
    Reversible {
        /// How long the first up took, in milliseconds.
        up_ms: u64,
        /// How long the first down took, in milliseconds.
        down_ms: u64,
    },
}

impl CheckResult {
    /// True for everything but [`CheckResult::Reversible`] and [`CheckResult::NoDown`].
    pub fn is_failure(&self) -> bool {
        !matches!(
            self,
            CheckResult::Reversible { .. } | CheckResult::NoDown { .. }
        )
    }
}

/// `strata verify`: every selected set on a throwaway database of its own.
pub async fn verify(
    ctx: &Ctx,
    options: VerifyOptions<'_>,
    reporter: &mut impl VerifyReporter,
) -> Result<VerifyOutcome, EngineError> {
    let settings = &ctx.settings;
    let sets = load::load_sets(settings)?;
    if options.with_data {
        if let Some(set) = sets.iter().find(|s| s.spec.seed.is_none()) {
            return Err(EngineError::NoSeed {
                set: set.spec.name.clone(),
            });
        }
    }
    let scratch = Scratch::on(options.scratch)?;
    let mut outcome = Vec::with_capacity(sets.len());
    for set in &sets {
        let reporter = &mut *reporter;
        let checked = scratch::with_database(&scratch, "verify", |info| async move {
            verify_set(settings, set, &info, options, reporter).await
        })
        .await?;
        outcome.push(checked);
    }
    Ok(VerifyOutcome { sets: outcome })
}

/// Runs one step on the scratch database and says how long it took.
async fn run_step(
    session: &mut Session,
    registry: &Registry,
    set: &LoadedSet,
    step: Step,
) -> Result<u64, ReplayError> {
    let started = Instant::now();
    scratch::replay(session, registry, replay_set(set), vec![step]).await?;
    Ok(started.elapsed().as_millis() as u64)
}

/// A loaded set as [`scratch::replay`] runs it.
pub(crate) fn replay_set(set: &LoadedSet) -> ReplaySet<'_> {
    ReplaySet {
        migrations: set.migrations(),
        dir: &set.spec.dir,
        name: &set.spec.name,
        statement_timeout: &set.spec.statement_timeout,
    }
}

/// Where in the set's versioned migrations its sample data loads: right after `seed_after`
/// (or after the last migration), so the downs and re-ups run against data, as they would in
/// production.
fn seed_position(
    set: &LoadedSet,
    versioned: &[usize],
    with_data: bool,
) -> Result<Option<usize>, EngineError> {
    Ok(match (&set.spec.seed, &set.spec.seed_after) {
        (Some(_), Some(v)) if with_data => {
            let want =
                Version::parse_user(v).map_err(|error| EngineError::SeedAfterVersion { error })?;
            let pos = versioned.iter().position(|&i| {
                set.migrations()[i]
                    .id
                    .version
                    .as_ref()
                    .is_some_and(|x| x.same_as(&want))
            });
            Some(pos.ok_or_else(|| EngineError::SeedAfterUnknown {
                set: set.spec.name.clone(),
                seed_after: v.clone(),
            })?)
        }
        (Some(_), None) if with_data => versioned.len().checked_sub(1),
        _ => None,
    })
}

/// Loads the sample data `path` in one transaction.
async fn load_seed(session: &Session, path: &Path) -> Result<(), EngineError> {
    let sql = std::fs::read_to_string(path).map_err(|error| EngineError::SeedUnreadable {
        path: path.to_owned(),
        error,
    })?;
    session
        .run_script(&format!("BEGIN;\n{sql}\n;COMMIT;"))
        .await
        .map_err(|e| EngineError::SeedFailed {
            path: path.to_owned(),
            message: e
                .as_db_error()
                .map(|d| d.message().to_owned())
                .unwrap_or_else(|| e.to_string()),
        })
}

async fn verify_set(
    settings: &Settings,
    set: &LoadedSet,
    info: &ConnInfo,
    options: VerifyOptions<'_>,
    reporter: &mut impl VerifyReporter,
) -> Result<SetVerification, EngineError> {
    let mut session = Session::connect(info).await?;
    let registry = Registry::new(&settings.registry_schema);
    registry.ensure(&session).await?;
    let migrations = set.migrations();
    let versioned: Vec<usize> = migrations
        .iter()
        .enumerate()
        .filter(|(_, m)| m.kind == MigrationKind::Versioned)
        .map(|(i, _)| i)
        .collect();
    let floor = options.from.map(Version::parse_user).transpose()?;
    let revert = |i: usize| Step::Revert {
        index: i,
        key: migrations[i].id.registry_key(),
    };
    let check = |m: &Migration, result: CheckResult| MigrationCheck {
        id: m.id.clone(),
        path: m.path().to_owned(),
        down_path: m.down.as_ref().map(|d| d.file.path().to_owned()),
        result,
    };
    let mut checks = Vec::new();
    let mut report = |reporter: &mut dyn VerifyReporter, c: MigrationCheck| {
        reporter.checked(&c);
        checks.push(c);
    };
    reporter.set_started(&set.spec.name, versioned.len());
    let seed_at = seed_position(set, &versioned, options.with_data)?;
    let mut snaps = vec![snapshot_of(&session, settings).await?];
    let mut up_ms = Vec::new();
    for &i in &versioned {
        match run_step(&mut session, &registry, set, apply_step(migrations, i)).await {
            Ok(ms) => up_ms.push(ms),
            Err(error) => {
                report(
                    reporter,
                    check(&migrations[i], CheckResult::UpFailed { error }),
                );
                return Ok(SetVerification {
                    name: set.spec.name.clone(),
                    checks,
                });
            }
        }
        snaps.push(snapshot_of(&session, settings).await?);
        if seed_at == Some(snaps.len() - 2) {
            let path = set
                .spec
                .seed
                .as_ref()
                .expect("seed_at is set only with a seed");
            load_seed(&session, path).await?;
            reporter.seeded(path, &migrations[i].id);
        }
    }
    for (pos, &i) in versioned.iter().enumerate().rev() {
        let m = &migrations[i];
        if floor
            .as_ref()
            .is_some_and(|f| m.id.version.as_ref().is_some_and(|v| v < f))
        {
            break;
        }
        let (before, after) = (&snaps[pos], &snaps[pos + 1]);
        if m.down.is_none() {
            report(
                reporter,
                check(m, CheckResult::NoDown { up_ms: up_ms[pos] }),
            );
            break;
        }
        let down_ms = match run_step(&mut session, &registry, set, revert(i)).await {
            Ok(ms) => ms,
            Err(error) => {
                report(reporter, check(m, CheckResult::DownFailed { error }));
                break;
            }
        };
        let reverted = snapshot_of(&session, settings).await?;
        if &reverted != before {
            let differences = before.diff(&reverted);
            report(
                reporter,
                check(m, CheckResult::DownDoesNotRestore { differences }),
            );
            break;
        }
        if let Err(error) = run_step(&mut session, &registry, set, apply_step(migrations, i)).await
        {
            report(reporter, check(m, CheckResult::ReupFailed { error }));
            break;
        }
        let reapplied = snapshot_of(&session, settings).await?;
        if &reapplied != after {
            let differences = after.diff(&reapplied);
            report(reporter, check(m, CheckResult::ReupDiffers { differences }));
            break;
        }
        if let Err(error) = run_step(&mut session, &registry, set, revert(i)).await {
            report(reporter, check(m, CheckResult::SecondDownFailed { error }));
            break;
        }
        report(
            reporter,
            check(
                m,
                CheckResult::Reversible {
                    up_ms: up_ms[pos],
                    down_ms,
                },
            ),
        );
    }
    Ok(SetVerification {
        name: set.spec.name.clone(),
        checks,
    })
}

/// What `drift` found: how the live schema differs from the one its applied history
/// produces.
#[derive(Debug, Serialize)]
pub struct Drift {
    /// True when there is any difference.
    pub drifted: bool,
    /// From the expected schema to the live one (+ only live, - only expected).
    pub differences: Vec<Difference>,
    /// How many objects the live schema has.
    #[serde(skip)]
    pub live_objects: usize,
}

/// `strata drift`: rebuilds, on one scratch database, the schema every selected set's applied
/// migrations produce, in order, and compares the live schema with it. Refuses when a set's
/// history does not match its files (a modified, missing or part-way migration): the expected
/// schema would then be a guess. `say` receives lines about the run (the dev cluster).
pub async fn drift(
    ctx: &Ctx,
    db: &DbTarget,
    scratch_url: Option<&str>,
) -> Result<Drift, EngineError> {
    let settings = &ctx.settings;
    let say: &mut (dyn FnMut(&str) + Send) = &mut ctx.notes();
    let sets = load::load_sets(settings)?;
    let db = database::database(db, settings, say)?;
    let session = database::connect(&db).await?;
    let registry = Registry::new(&settings.registry_schema);
    let live = snapshot_of(&session, settings).await?;
    let scratch = Scratch::new(scratch_url)?;
    let (registry, sets, session) = (&registry, &sets, &session);
    let expected = scratch::with_database(&scratch, "drift", |info| async move {
        let mut scratch_session = Session::connect(&info).await?;
        registry.ensure(&scratch_session).await?;
        for set in sets {
            let applied = registry.read(session, &set.spec.name).await?;
            let plan = strata_plan::plan(
                set.migrations(),
                &applied,
                &strata_plan::Target::Status,
                &strata_plan::Policy::default(),
            )
            .map_err(|error| EngineError::Unplannable {
                set: set.spec.name.clone(),
                error,
            })?;
            if let Some(e) = plan
                .entries
                .iter()
                .find(|e| e.applied.is_some() && e.state != strata_plan::State::Applied)
            {
                return Err(EngineError::DriftUnsettled {
                    set: set.spec.name.clone(),
                    key: e.key.clone(),
                    state: e.state.as_str(),
                });
            }
            let steps: Vec<Step> = plan
                .entries
                .iter()
                .filter(|e| e.applied.is_some())
                .filter_map(|e| e.local)
                .map(|i| apply_step(set.migrations(), i))
                .collect();
            let replayed = ReplaySet {
                statement_timeout: "0",
                ..replay_set(set)
            };
            scratch::replay(&mut scratch_session, registry, replayed, steps)
                .await
                .map_err(|source| EngineError::Rebuild {
                    set: set.spec.name.clone(),
                    source,
                })?;
        }
        snapshot_of(&scratch_session, settings).await
    })
    .await?;
    let differences = expected.diff(&live);
    Ok(Drift {
        drifted: !differences.is_empty(),
        differences,
        live_objects: live.objects.len(),
    })
}
