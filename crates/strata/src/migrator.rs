//! The verbs: [`Migrator::migrate`] (the CLI's `strata up`) and [`Migrator::status`]
//! (`strata status`), running the same engine functions the CLI runs, with the same
//! safety: one run at a time under the migration lock, the plan made under it, the lint gate
//! before anything is applied, each step recorded with the migration.

use crate::{Database, Error, Migrations, State};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;
use strata_engine::migrate::{self, Prepared};
use strata_engine::settings::{LintConfig, DEFAULT_GATE_MIN_TABLE_BYTES};
use strata_engine::{Ctx, DbTarget, Settings};
use strata_plan::Target;

/// Runs one or more migration sets against databases.
#[derive(Debug, Clone)]
pub struct Migrator {
    sets: Vec<Migrations>,
    registry_schema: String,
    timeouts: Timeouts,
    lock_wait: Duration,
    lint_gate: bool,
    allow_out_of_order: bool,
}

/// The PostgreSQL timeouts each migration runs under.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    pub(crate) lock_timeout: Duration,
    pub(crate) statement_timeout: Duration,
}

/// What [`Migrator::migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Migrated {
    /// Each set, in the order they ran.
    pub sets: Vec<SetMigrated>,
}

impl Migrated {
    /// How many migrations were applied, over all sets (0: the database was up to date).
    ///
    /// ```no_run
    /// # async fn f(db: strata::Database) -> Result<(), strata::Error> {
    /// let migrated = strata::Migrator::new(strata::embed!("../../examples/embedded/migrations"))
    ///     .migrate(&db)
    ///     .await?;
    /// if migrated.applied() == 0 {
    ///     println!("up to date");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn applied(&self) -> usize {
        self.sets.iter().map(|s| s.steps.len()).sum()
    }
}

/// One set's part of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SetMigrated {
    /// The set's name.
    pub name: String,
    /// The steps completed, in order (empty when the set was up to date).
    pub steps: Vec<Step>,
}

/// One completed step.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Step {
    /// The migration's history key.
    pub migration: String,
    /// `apply`, or `resume` for a non-transactional migration an earlier run left part-way.
    pub action: &'static str,
    /// How long it took.
    pub duration: Duration,
}

/// One set's state against a database (what `strata status` shows).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SetStatus {
    /// The set's name.
    pub name: String,
    /// Every migration, files and history rows together, in order.
    pub migrations: Vec<MigrationStatus>,
}

impl SetStatus {
    /// How many migrations are waiting to be applied (pending, out of order, failed or left
    /// part-way).
    ///
    /// ```no_run
    /// # async fn f(db: strata::Database) -> Result<(), strata::Error> {
    /// let migrator = strata::Migrator::new(strata::embed!("../../examples/embedded/migrations"));
    /// for set in migrator.status(&db).await? {
    ///     println!("{}: {} pending", set.name, set.pending());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn pending(&self) -> usize {
        self.migrations
            .iter()
            .filter(|m| {
                matches!(
                    m.state,
                    State::Pending | State::OutOfOrder | State::Failed | State::Partial
                )
            })
            .count()
    }
}

/// One migration's state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MigrationStatus {
    /// Its history key.
    pub migration: String,
    /// Its state.
    pub state: State,
    /// When it was applied (RFC 3339), for one the history records.
    pub applied_at: Option<String>,
}

/// What [`Migrator::verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// Each set, in order.
    pub sets: Vec<SetVerified>,
}

impl Verified {
    /// True when every down checked restores the schema before its up, and every re-up gives
    /// the same schema as the first.
    ///
    /// ```no_run
    /// # async fn f(server: strata::Database) -> Result<(), strata::Error> {
    /// let migrator = strata::Migrator::new(strata::embed!("../../examples/embedded/migrations"));
    /// assert!(migrator.verify(&server).await?.reversible());
    /// # Ok(()) }
    /// ```
    pub fn reversible(&self) -> bool {
        self.sets
            .iter()
            .all(|s| s.checks.iter().all(|c| !c.outcome.is_failure()))
    }
}

/// One set's checks, from its last migration down to where they stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SetVerified {
    /// The set's name.
    pub name: String,
    /// One per migration checked; a failure is the last one.
    pub checks: Vec<Check>,
}

/// One migration's check.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Check {
    /// Its history key.
    pub migration: String,
    /// What the check found.
    pub outcome: CheckOutcome,
}

/// What checking a migration found, step by step: up, down (must restore the schema before
/// the up), up again (must give the same schema), down again.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckOutcome {
    /// Its down restores the schema and its re-up gives the same one.
    Reversible,
    /// It has no down script: it and the migrations before it cannot be checked.
    NoDown,
    /// Applying it failed (message with `file:line:col`).
    UpFailed(String),
    /// Its down failed.
    DownFailed(String),
    /// Its down left another schema than the one before its up: one line per difference
    /// (`+` left behind by the down, `-` missing after it).
    DownDoesNotRestore(Vec<String>),
    /// Applying it again after its down failed.
    ReupFailed(String),
    /// Applying it again gave another schema than the first time.
    ReupDiffers(Vec<String>),
    /// Its down failed the second time, after the re-up.
    SecondDownFailed(String),
}

impl CheckOutcome {
    /// True for everything but [`CheckOutcome::Reversible`] and [`CheckOutcome::NoDown`].
    ///
    /// ```
    /// assert!(!strata::CheckOutcome::NoDown.is_failure());
    /// assert!(strata::CheckOutcome::DownFailed("...".into()).is_failure());
    /// ```
    pub fn is_failure(&self) -> bool {
        !matches!(self, CheckOutcome::Reversible | CheckOutcome::NoDown)
    }
}

impl Migrator {
    /// A migrator for one set, with the `strata` command's defaults: history in schema
    /// `strata`, `lock_timeout` 5 s per statement, no `statement_timeout`, up to 60 s of waiting
    /// for another run's migration lock, the lint gate on.
    ///
    /// ```
    /// let migrator = strata::Migrator::new(strata::embed!("../../examples/embedded/migrations"));
    /// # drop(migrator);
    /// ```
    pub fn new(migrations: Migrations) -> Migrator {
        Migrator {
            sets: vec![migrations],
            registry_schema: "strata".into(),
            timeouts: Timeouts {
                lock_timeout: Duration::from_secs(5),
                statement_timeout: Duration::ZERO,
            },
            lock_wait: Duration::from_secs(60),
            lint_gate: true,
            allow_out_of_order: false,
        }
    }

    /// Adds a set, run after the ones before it (each keeps its own history: give them
    /// different [names](Migrations::named)).
    ///
    /// ```
    /// let embedded = strata::embed!("../../examples/embedded/migrations");
    /// let migrator = strata::Migrator::new(embedded.clone().named("billing"))
    ///     .and(embedded.named("orders").in_schema("orders"));
    /// # drop(migrator);
    /// ```
    pub fn and(mut self, migrations: Migrations) -> Migrator {
        self.sets.push(migrations);
        self
    }

    /// The schema holding strata's history tables (default `strata`; never `public`).
    ///
    /// ```
    /// let migrator = strata::Migrator::new(strata::embed!("../../examples/embedded/migrations"))
    ///     .registry_schema("app_migrations");
    /// # drop(migrator);
    /// ```
    pub fn registry_schema(mut self, schema: impl Into<String>) -> Migrator {
        self.registry_schema = schema.into();
        self
    }

    /// PostgreSQL's `lock_timeout` for each statement (default 5 s): a migration waiting
    /// longer for a table lock gives up instead of queueing every query behind it, and is
    /// retried.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let migrator = strata::Migrator::new(strata::embed!("../../examples/embedded/migrations"))
    ///     .lock_timeout(Duration::from_secs(2));
    /// # drop(migrator);
    /// ```
    pub fn lock_timeout(mut self, timeout: Duration) -> Migrator {
        self.timeouts.lock_timeout = timeout;
        self
    }

    /// PostgreSQL's `statement_timeout` for each statement (default none).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let migrator = strata::Migrator::new(strata::embed!("../../examples/embedded/migrations"))
    ///     .statement_timeout(Duration::from_secs(600));
    /// # drop(migrator);
    /// ```
    pub fn statement_timeout(mut self, timeout: Duration) -> Migrator {
        self.timeouts.statement_timeout = timeout;
        self
    }

    /// How long to wait for the migration lock another run holds (default 60 s).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let migrator = strata::Migrator::new(strata::embed!("../../examples/embedded/migrations"))
    ///     .lock_wait(Duration::from_secs(300));
    /// # drop(migrator);
    /// ```
    pub fn lock_wait(mut self, wait: Duration) -> Migrator {
        self.lock_wait = wait;
        self
    }

    /// Whether the lint gate runs before anything is applied (default on; the CLI's
    /// `--no-lint` turns it off).
    ///
    /// ```
    /// let migrator = strata::Migrator::new(strata::embed!("../../examples/embedded/migrations"))
    ///     .lint_gate(false);
    /// # drop(migrator);
    /// ```
    pub fn lint_gate(mut self, on: bool) -> Migrator {
        self.lint_gate = on;
        self
    }

    /// Whether a migration older than the newest applied one may still be applied (default
    /// no: such a migration is reported and nothing runs).
    ///
    /// ```
    /// let migrator = strata::Migrator::new(strata::embed!("../../examples/embedded/migrations"))
    ///     .allow_out_of_order(true);
    /// # drop(migrator);
    /// ```
    pub fn allow_out_of_order(mut self, allow: bool) -> Migrator {
        self.allow_out_of_order = allow;
        self
    }

    /// Applies every pending migration of every set, in order, as `strata up` does: with
    /// nothing to do it only reads (no lock, one connection); otherwise it takes the migration
    /// lock, plans each set under it, runs the lint gate, and applies, recording each step in
    /// the same transaction as its migration. It stops at the first failure
    /// ([`Error::MigrationFailed`]), leaving the database as it was before that migration.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), strata::Error> {
    /// let db = strata::Database::from_url("postgres://app@localhost/app")?;
    /// let migrated = strata::Migrator::new(strata::embed!("../../examples/embedded/migrations"))
    ///     .migrate(&db)
    ///     .await?;
    /// for step in &migrated.sets[0].steps {
    ///     println!("applied {} in {:?}", step.migration, step.duration);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn migrate(&self, db: &Database) -> Result<Migrated, Error> {
        let ctx = Ctx::new(self.settings()?);
        let settings = &ctx.settings;
        let target = Target::Up {
            to: None,
            steps: None,
        };
        let run = match migrate::prepare(&ctx, &target_of(db), &target, false).await? {
            Prepared::Ready(run) => run,
            Prepared::Idle { sets, .. } | Prepared::DryRun(migrate::Run { sets, .. }) => {
                return Ok(Migrated {
                    sets: sets
                        .iter()
                        .map(|s| SetMigrated {
                            name: s.spec.name.clone(),
                            steps: Vec::new(),
                        })
                        .collect(),
                })
            }
        };
        if self.lint_gate && strata_engine::gate::applies_anything(&run.plans) {
            let gate = strata_engine::gate::check(
                settings,
                &run.session,
                &run.sets,
                &run.plans,
                strata_lint::Options::default(),
            )
            .await;
            let gate = match gate {
                Ok(gate) => gate,
                Err(e) => {
                    // The gate's own failure is the one to report; the lock goes either way.
                    let _ = run.abandon().await;
                    return Err(e.into());
                }
            };
            if let Some(strata_engine::gate::Gate {
                blocking,
                blocked_set: Some(set),
                ..
            }) = gate
            {
                run.abandon().await?;
                return Err(Error::Refused {
                    set,
                    findings: blocking
                        .findings
                        .iter()
                        .map(|f| {
                            format!(
                                "{}:{}:{}: {}: {}",
                                f.file.display(),
                                f.line,
                                f.col,
                                f.rule,
                                f.message
                            )
                        })
                        .collect(),
                });
            }
        }
        // A library call has no signal to watch: the application cancels by dropping the
        // future, and the server rolls back the open transaction with the connection.
        let interrupted = Arc::new(AtomicBool::new(false));
        let applied = migrate::apply(&ctx, run, None, &interrupted, &mut Quiet).await?;
        if let Some((set, e)) = applied.failure {
            return Err(Error::MigrationFailed { set, source: e });
        }
        applied.released?;
        if !applied.stops.is_empty() {
            return Err(Error::Stopped {
                reasons: applied.stops,
            });
        }
        Ok(Migrated {
            sets: applied
                .runs
                .into_iter()
                .map(|run| SetMigrated {
                    name: run.name,
                    steps: run
                        .steps
                        .into_iter()
                        .map(|s| Step {
                            migration: s.key,
                            action: s.action,
                            duration: Duration::from_millis(s.duration_ms),
                        })
                        .collect(),
                })
                .collect(),
        })
    }

    /// Every set's migrations with their state against `db`, as `strata status` shows them.
    /// Reads only: no lock, nothing written.
    ///
    /// ```no_run
    /// # async fn f(db: strata::Database) -> Result<(), strata::Error> {
    /// let migrator = strata::Migrator::new(strata::embed!("../../examples/embedded/migrations"));
    /// for set in migrator.status(&db).await? {
    ///     for m in &set.migrations {
    ///         println!("{} {}", m.migration, m.state.as_str());
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn status(&self, db: &Database) -> Result<Vec<SetStatus>, Error> {
        let ctx = Ctx::new(self.settings()?);
        let status = strata_engine::status::status(&ctx, &target_of(db)).await?;
        Ok(status
            .sets
            .iter()
            .zip(&status.statuses)
            .map(|(set, s)| SetStatus {
                name: set.spec.name.clone(),
                migrations: s
                    .plan
                    .entries
                    .iter()
                    .map(|e| MigrationStatus {
                        migration: e.key.clone(),
                        state: e.state,
                        applied_at: s
                            .applied
                            .iter()
                            .find(|row| row.key == e.key)
                            .map(|row| row.applied_at.clone()),
                    })
                    .collect(),
            })
            .collect())
    }

    /// Proves that every down undoes its up, as `strata verify` does, on throwaway databases
    /// created on `server` (and dropped afterwards; the role needs `CREATEDB`): each set is
    /// applied in full, then from its last migration to its first, reverted (the schema must
    /// be the one before its up), applied again (it must be the same as the first time) and
    /// reverted again. No database but the throwaway ones is touched. A set's checks stop at
    /// its first failure.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), strata::Error> {
    /// let server = strata::Database::from_url("postgres://ci@localhost/postgres")?;
    /// let migrator = strata::Migrator::new(strata::embed!("../../examples/embedded/migrations"));
    /// let verified = migrator.verify(&server).await?;
    /// for check in &verified.sets[0].checks {
    ///     println!("{}: {:?}", check.migration, check.outcome);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn verify(&self, server: &Database) -> Result<Verified, Error> {
        use strata_engine::verify::{CheckResult, VerifyOptions};
        let ctx = Ctx::new(self.settings()?);
        let options = VerifyOptions {
            from: None,
            with_data: false,
            scratch: strata_engine::scratch::ScratchServer::Resolved(&server.info),
        };
        let outcome =
            strata_engine::verify::verify(&ctx, options, &mut strata_engine::verify::Quiet).await?;
        let replay = |e: &strata_engine::scratch::ReplayError| match e {
            strata_engine::scratch::ReplayError::Exec(e) => {
                format!("{e}\n  at {}", crate::error::located(e))
            }
            other => other.to_string(),
        };
        let lines = |d: &[strata_schema::Difference]| d.iter().map(ToString::to_string).collect();
        Ok(Verified {
            sets: outcome
                .sets
                .iter()
                .map(|set| SetVerified {
                    name: set.name.clone(),
                    checks: set
                        .checks
                        .iter()
                        .map(|c| Check {
                            migration: c.id.registry_key(),
                            outcome: match &c.result {
                                CheckResult::Reversible { .. } => CheckOutcome::Reversible,
                                CheckResult::NoDown { .. } => CheckOutcome::NoDown,
                                CheckResult::UpFailed { error } => {
                                    CheckOutcome::UpFailed(replay(error))
                                }
                                CheckResult::DownFailed { error } => {
                                    CheckOutcome::DownFailed(replay(error))
                                }
                                CheckResult::DownDoesNotRestore { differences } => {
                                    CheckOutcome::DownDoesNotRestore(lines(differences))
                                }
                                CheckResult::ReupFailed { error } => {
                                    CheckOutcome::ReupFailed(replay(error))
                                }
                                CheckResult::ReupDiffers { differences } => {
                                    CheckOutcome::ReupDiffers(lines(differences))
                                }
                                CheckResult::SecondDownFailed { error } => {
                                    CheckOutcome::SecondDownFailed(replay(error))
                                }
                                // A result this library does not know yet is a failure to
                                // look at, never a pass.
                                _ => CheckOutcome::DownFailed(format!("{:?}", c.result)),
                            },
                        })
                        .collect(),
                })
                .collect(),
        })
    }

    /// The engine's settings for a call (the database is a parameter of each call). Embedded
    /// sets are checked against what their build found first (once per set).
    fn settings(&self) -> Result<Settings, Error> {
        if self.registry_schema.is_empty() || self.registry_schema == "public" {
            return Err(Error::Setting {
                message: format!("registry schema `{}` is not allowed: strata keeps its history out of `public`, which migration sets drop and recreate; pick another name (the default is `strata`)", self.registry_schema),
            });
        }
        for set in &self.sets {
            set.check()?;
        }
        Ok(Settings {
            sets: self.sets.iter().map(|m| m.spec(&self.timeouts)).collect(),
            registry_schema: self.registry_schema.clone(),
            lock_wait: self.lock_wait,
            lock_retries: 5,
            retry_delay: Duration::from_millis(500),
            json: false,
            quiet: true,
            allow_out_of_order: self.allow_out_of_order,
            declared_schemas: self.sets.iter().filter_map(|s| s.schema.clone()).collect(),
            schemaless_sets: self
                .sets
                .iter()
                .filter(|s| s.schema.is_none())
                .map(|s| s.name.clone())
                .collect(),
            // Only the dev cluster and the file cache live under it; a library uses neither.
            project_root: std::env::temp_dir(),
            lint: LintConfig {
                on_up: Some(self.lint_gate),
                ..LintConfig::default()
            },
            configured_sets: self
                .sets
                .iter()
                .filter(|s| s.named)
                .map(|s| s.name.clone())
                .collect(),
            ignore_foreign: false,
            gate_min_table_bytes: DEFAULT_GATE_MIN_TABLE_BYTES,
            placeholders: Default::default(),
            file_cache: false,
        })
    }
}

/// The engine's description of `db`: already resolved, used as it is.
fn target_of(db: &Database) -> DbTarget {
    DbTarget::Resolved(Box::new(db.info.clone()))
}

/// The library prints nothing while it applies.
struct Quiet;

impl strata_pg::Reporter for Quiet {}

impl migrate::ApplyReporter for Quiet {
    fn note(&mut self, _message: &str) {}
    fn rehashed(&mut self, _set: &str, _rows: usize) {}
    fn set_started(&mut self, _set: &str, _steps: usize) {}
    fn set_finished(&mut self, _set: &str) {}
}
