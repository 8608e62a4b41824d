//! The migrating verbs (`up`, `down`, `redo`, `goto`, `baseline`, `repair`, `accept`), in two
//! calls around the lint gate: [`prepare`] loads, connects, takes the lock when there is work
//! and plans every set under it (refusing, before anything runs, what [`crate::guard`]
//! refuses); [`apply`] runs the plans and releases the lock. Between them a front end runs the
//! gate ([`crate::gate`]) and renders what it decides; while [`apply`] runs, it is told what
//! happens through an [`ApplyReporter`].

use crate::ctx::Ctx;
use crate::database::{self, Database};
use crate::error::EngineError;
use crate::guard;
use crate::load::{self, LoadedSet, LoaderThread};
use crate::plan::{self as planning, HistoryBasis};
use crate::settings::{DbTarget, Settings};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use strata_pg::{ExecError, MigrationLock, Registry, Session, StepDone};
use strata_plan::{Plan, Target};

/// What a run reports while it applies, beyond each step (the [`strata_pg::Reporter`] part).
pub trait ApplyReporter: strata_pg::Reporter {
    /// A line about the run itself (an old history taken over).
    fn note(&mut self, message: &str);
    /// `rows` history rows of `set` were re-recorded in the current checksum algorithm.
    fn rehashed(&mut self, set: &str, rows: usize);
    /// Set `set` starts running its plan of `steps` steps (0: nothing to do).
    fn set_started(&mut self, set: &str, steps: usize);
    /// Set `set` has finished (or stopped at a failure).
    fn set_finished(&mut self, set: &str);
}

/// Sets planned and ready for the gate and [`apply`].
pub struct Run {
    /// Where they run.
    pub db: Database,
    /// The executing connection.
    pub session: Session,
    /// The sets, in run order.
    pub sets: Vec<LoadedSet>,
    /// Each set's plan.
    pub plans: Vec<Plan>,
    /// Code migrations the plans stop before, one message each (see
    /// [`guard::code_stop_message`]).
    pub stops: Vec<String>,
    take_overs: Vec<Option<(String, u64)>>,
    lock: Option<MigrationLock>,
    _loader: LoaderThread,
}

impl Run {
    /// A handle that cancels the statement the run is executing (for signal handling).
    pub fn cancel_handle(&self) -> strata_pg::session::CancelHandle {
        self.session.cancel_handle()
    }

    /// Gives the run up without applying anything (the gate refused it): releases the
    /// migration lock now, in a round trip, rather than when the dropped connection's task
    /// next runs. A process about to exit needs no such care; a library caller that goes on
    /// working does, or the next run waits for a lock nobody uses.
    pub async fn abandon(mut self) -> Result<(), EngineError> {
        match self.lock.take() {
            Some(lock) => Ok(lock.release().await?),
            None => Ok(()),
        }
    }
}

/// What [`prepare`] found.
pub enum Prepared {
    /// `--dry-run`: every set planned, nothing locked or changed.
    DryRun(Run),
    /// Every set is already where `up` would take it; nothing was locked. The plans made are
    /// kept so the caller decides when to free them.
    Idle {
        /// The sets, for the "nothing to do" lines.
        sets: Vec<LoadedSet>,
        /// What each set was planned from.
        plans: Vec<Option<(HistoryBasis, Plan)>>,
    },
    /// Planned under the migration lock: run the gate, then [`apply`].
    Ready(Run),
}

/// Every set's history summary, pipelined (one round trip).
async fn summaries_of(
    registry: &Registry,
    session: &Session,
    settings: &Settings,
) -> Vec<Option<strata_plan::HistorySummary>> {
    futures_util::future::join_all(
        settings
            .sets
            .iter()
            .map(|spec| registry.summary(session, &spec.name)),
    )
    .await
}

/// Loads the selected sets, reaches the database and plans every set for `target`: under the
/// migration lock when there is work, without it when a consistent read shows there is none
/// (the common no-op `up` of every deploy stays one connection), and without it for a dry run.
/// Nothing is written. `say` receives lines about the run (the dev cluster, waiting for the
/// lock, a history a dry run would take over).
pub async fn prepare(
    ctx: &Ctx,
    db: &DbTarget,
    target: &Target,
    dry_run: bool,
) -> Result<Prepared, EngineError> {
    let settings = &ctx.settings;
    let say: &mut (dyn FnMut(&str) + Send) = &mut ctx.notes();
    let registry = Registry::new(&settings.registry_schema);
    let plans_up = !dry_run && matches!(target, Target::Up { .. });
    // While the files load: connect and, for `up`, ask for each set's history summary and
    // then whether another run holds the lock, in one pipelined round trip. The order matters:
    // a run that committed before the summaries were read and has released the lock by the
    // time of the probe has made its commits durable (its final flush precedes the release).
    // When the lock is free and a set's snapshot suggests work (its directory changed, or it
    // holds more migrations than the history has rows), the lock is taken right away, still
    // while the files load, and the summaries read again under it: at 10,000 migrations the
    // load takes tens of milliseconds that the lock's connection, its attempt and the second
    // summary would otherwise follow. A guess that finds nothing to do releases the lock.
    // A changed directory needs no summary to make that guess: then the lock comes first and
    // the summaries are read once, under it (at 10,000 rows a summary is about 5 ms of the
    // server's CPU, on the cores the load is using).
    let (mut sets, (db, session, prefetched, early), loader) =
        load::load_while(settings, db, async {
            let db = database::database(db, settings, &mut *say)?;
            let session = database::connect(&db).await?;
            // Read once per set, and only for `up` (the only verb that guesses).
            let hints: Vec<_> = settings
                .sets
                .iter()
                .filter(|_| plans_up)
                .map(|spec| load::snapshot_hint(settings, spec))
                .collect();
            if hints.iter().flatten().any(|hint| hint.dir_changed) {
                let held = strata_pg::lock::lock_held(&session, &settings.registry_schema).await?;
                if held {
                    return Ok::<_, EngineError>((db, session, Some((true, Vec::new())), None));
                }
                let lock = database::lock(&db, settings, &mut *say).await?;
                let summaries = summaries_of(&registry, &session, settings).await;
                let prefetched = Some((false, summaries.clone()));
                return Ok((db, session, prefetched, Some((lock, summaries))));
            }
            let prefetched = if plans_up {
                let (summaries, held) = tokio::join!(
                    summaries_of(&registry, &session, settings),
                    strata_pg::lock::lock_held(&session, &settings.registry_schema)
                );
                Some((held?, summaries))
            } else {
                None
            };
            let early = match &prefetched {
                Some((false, summaries))
                    if hints
                        .iter()
                        .zip(summaries)
                        .any(|(hint, s)| load::expects_work(hint.as_ref(), s.as_ref())) =>
                {
                    let lock = database::lock(&db, settings, &mut *say).await?;
                    Some((lock, summaries_of(&registry, &session, settings).await))
                }
                _ => None,
            };
            Ok((db, session, prefetched, early))
        })
        .await?;
    let (mut early_lock, mut summaries_under_lock) = early.unzip();

    let mut stops: Vec<String> = Vec::new();
    if dry_run {
        let mut plans = Vec::with_capacity(sets.len());
        for set in &mut sets {
            let planned = planning::plan_set(&session, &registry, set, target, settings).await;
            let (applied, plan) =
                guard::explain(planned, &session, &registry, settings, set, target).await?;
            let checked = guard::check(
                &session,
                &registry,
                settings,
                set,
                target,
                plan,
                applied.len() as u64,
            )
            .await?;
            if let Some((from, rows)) = &checked.take_over {
                say(&guard::take_over_preview(set, from, *rows));
            }
            if let Some(stop) = &checked.stop {
                stops.push(guard::code_stop_message(settings, set, stop, true));
            }
            plans.push(checked.plan);
        }
        let take_overs = plans.iter().map(|_| None).collect();
        return Ok(Prepared::DryRun(Run {
            db,
            session,
            sets,
            plans,
            stops,
            take_overs,
            lock: None,
            _loader: loader,
        }));
    }

    // "Nothing to do" needs no lock: if a consistent read of the committed history already
    // has every migration of every set applied, no concurrent run can change that into work
    // for this one. This keeps the common no-op `up` (every deploy) to one connection.
    // While another run holds the lock, what it committed may not be durable yet (it commits
    // with synchronous_commit off until its final flush): then wait for the lock like any run.
    let mut earlier: Vec<Option<_>> = Vec::new();
    if let Some((false, summaries)) = prefetched {
        let mut idle = true;
        for (set, summary) in sets.iter_mut().zip(summaries) {
            let planned = planning::plan_up(
                &session,
                &registry,
                set,
                target,
                settings,
                Some(summary),
                None,
            )
            .await;
            let planned =
                guard::explain(planned, &session, &registry, settings, set, target).await?;
            // Rows an older strata checksummed another way are upgraded under the lock.
            let busy = !planned.1.steps.is_empty()
                || !strata_plan::rehashes(&planned.1, set.migrations()).is_empty();
            earlier.push(Some(planned));
            if busy {
                idle = false;
                break;
            }
        }
        // A set the summary could not plan was planned from rows read after the probe: ask
        // again, so that "nothing to do" never rests on commits not yet durable.
        let from_rows = earlier
            .iter()
            .flatten()
            .any(|(basis, _)| matches!(basis, HistoryBasis::Rows(_)));
        if idle
            && from_rows
            && strata_pg::lock::lock_held(&session, &settings.registry_schema).await?
        {
            idle = false;
        }
        if idle {
            if let Some(lock) = early_lock.take() {
                lock.release().await?;
            }
            drop(loader);
            return Ok(Prepared::Idle {
                sets,
                plans: earlier,
            });
        }
    }

    let lock = match early_lock {
        Some(lock) => lock,
        None => database::lock(&db, settings, &mut *say).await?,
    };
    // Plan every set under the lock before running any (the sets' histories are independent),
    // so the linter sees exactly what will run and a refusal changes nothing.
    // A set planned by the lock-free read above is planned again only if its history changed
    // meanwhile (another run may have applied it while this one waited for the lock).
    let mut plans = Vec::with_capacity(sets.len());
    let mut take_overs = Vec::with_capacity(sets.len());
    earlier.resize_with(sets.len(), || None);
    for (i, (set, before)) in sets.iter_mut().zip(earlier).enumerate() {
        let (plan, history_rows) = if matches!(target, Target::Up { .. }) {
            // Read under the lock while the files loaded, or now.
            let summary = summaries_under_lock
                .as_mut()
                .map(|summaries| std::mem::take(&mut summaries[i]));
            let planned =
                planning::plan_up(&session, &registry, set, target, settings, summary, before)
                    .await;
            let (basis, plan) =
                guard::explain(planned, &session, &registry, settings, set, target).await?;
            let rows = match &basis {
                HistoryBasis::Summary(summary) => summary.rows,
                HistoryBasis::Rows(rows) => rows.len() as u64,
            };
            (plan, rows)
        } else {
            let planned = planning::plan_set(&session, &registry, set, target, settings).await;
            let (applied, plan) =
                guard::explain(planned, &session, &registry, settings, set, target).await?;
            (plan, applied.len() as u64)
        };
        // Still under the lock and before anything runs: never apply what another history
        // already records.
        let checked = guard::check(
            &session,
            &registry,
            settings,
            set,
            target,
            plan,
            history_rows,
        )
        .await?;
        if let Some(stop) = &checked.stop {
            stops.push(guard::code_stop_message(settings, set, stop, false));
        }
        take_overs.push(checked.take_over);
        plans.push(checked.plan);
    }
    Ok(Prepared::Ready(Run {
        db,
        session,
        sets,
        plans,
        stops,
        take_overs,
        lock: Some(lock),
        _loader: loader,
    }))
}

/// How one set's run went.
pub struct SetRun {
    /// The set.
    pub name: String,
    /// The steps that completed.
    pub steps: Vec<StepDone>,
}

/// What [`apply`] did.
pub struct Applied {
    /// The sets (the caller decides when to free them).
    pub sets: Vec<LoadedSet>,
    /// Their plans.
    pub plans: Vec<Plan>,
    /// Each set that ran, in order, up to and including one that failed.
    pub runs: Vec<SetRun>,
    /// The failure that stopped the run: the set and the executor's error (which lists the
    /// steps completed before it, as [`Applied::runs`] does).
    pub failure: Option<(String, Box<ExecError>)>,
    /// Code migrations the plans stopped before (the database is not where it was asked to
    /// go: the caller reports them and fails).
    pub stops: Vec<String>,
    /// Releasing the migration lock (a failure there matters only when nothing else failed:
    /// the server releases the lock with the connection anyway).
    pub released: Result<(), EngineError>,
}

/// Runs a [`Prepared::Ready`] run: installs or upgrades the registry, registers the run,
/// takes over the old histories the checks named, records checksums in the current algorithm,
/// then executes each set's plan in order, stopping at the first failure, and releases the
/// lock. `interrupted` stops it between statements (the front end sets it on a signal and
/// cancels the running statement with [`Run::cancel_handle`]); `reason` is recorded with the
/// steps of `repair` and `accept`.
pub async fn apply(
    ctx: &Ctx,
    run: Run,
    reason: Option<&str>,
    interrupted: &Arc<AtomicBool>,
    reporter: &mut impl ApplyReporter,
) -> Result<Applied, EngineError> {
    let settings = &ctx.settings;
    let Run {
        mut session,
        sets,
        plans,
        stops,
        take_overs,
        lock,
        ..
    } = run;
    let mut lock = lock.expect("apply runs a plan made under the lock");
    let registry = Registry::new(&settings.registry_schema);
    registry.ensure(&session).await?;
    lock.register(&registry).await?;
    // Every check and the gate passed: old histories become their sets' now, before anything
    // runs (the plans were made from them).
    for (set, take_over) in sets.iter().zip(&take_overs) {
        if let Some((from, _)) = take_over {
            // Collected, then told: the reporter need not be `Send` for the run to be.
            let mut notes = Vec::new();
            guard::take_over(&session, &registry, set, from, &mut |m: &str| {
                notes.push(m.to_owned())
            })
            .await?;
            for note in notes {
                reporter.note(&note);
            }
        }
    }
    for (set, plan) in sets.iter().zip(&plans) {
        let rehashes = strata_plan::rehashes(plan, set.migrations());
        if !rehashes.is_empty() {
            registry.rehash(&session, &set.spec.name, &rehashes).await?;
            reporter.rehashed(&set.spec.name, rehashes.len());
        }
    }
    let mut runs = Vec::new();
    let mut failure = None;
    for (set, plan) in sets.iter().zip(&plans) {
        reporter.set_started(&set.spec.name, plan.steps.len());
        let outcome = strata_pg::execute(
            &mut session,
            &registry,
            set.migrations(),
            plan,
            &planning::exec_options(set, settings, interrupted, reason),
            Some(&lock),
            &mut *reporter,
        )
        .await;
        reporter.set_finished(&set.spec.name);
        match outcome {
            Ok(done) => runs.push(SetRun {
                name: set.spec.name.clone(),
                steps: done,
            }),
            Err(e) => {
                runs.push(SetRun {
                    name: set.spec.name.clone(),
                    steps: e.done.clone(),
                });
                failure = Some((set.spec.name.clone(), Box::new(e)));
                break;
            }
        }
    }
    let released = lock.release().await.map_err(EngineError::from);
    Ok(Applied {
        sets,
        plans,
        runs,
        failure,
        stops,
        released,
    })
}
