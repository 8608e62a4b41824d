//! `up`, `down`, `redo`, `goto`: plan under the lock, then execute (or print with --dry-run).

use super::{exit, Io};
use crate::app;
use crate::config::Settings;
use crate::render;
use anyhow::Result;
use serde_json::json;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use strata_pg::Registry;
use strata_plan::Target;

async fn watch_signals(interrupted: Arc<AtomicBool>, cancel: strata_pg::session::CancelHandle) {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return,
    };
    for _ in 0..2 {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        if interrupted.swap(true, Ordering::SeqCst) {
            // Not `eprintln!`: it panics when stderr is closed.
            let _ = writeln!(std::io::stderr(), "strata: second signal, exiting now (the server rolls back the open transaction and releases the lock)");
            std::process::exit(exit::ERROR);
        }
        let _ = writeln!(std::io::stderr(), "strata: interrupted; cancelling the running statement and stopping (signal again to exit at once)");
        let _ = cancel.cancel().await;
    }
}

/// Every set's history summary, pipelined (one round trip).
async fn summaries_of(
    registry: &Registry,
    session: &strata_pg::Session,
    settings: &Settings,
) -> Vec<Option<strata_plan::HistorySummary>> {
    futures_util::future::join_all(
        settings
            .sets
            .iter()
            .map(|spec| registry.summary(&session.client, &spec.name)),
    )
    .await
}

/// An execution failure that has already been rendered.
#[derive(Debug, thiserror::Error)]
#[error("{rendered}")]
pub struct Rendered {
    /// The diagnostic text.
    pub rendered: String,
    /// JSON form, for --json.
    pub json: serde_json::Value,
}

/// Runs a migrating verb.
pub async fn run(
    settings: &Settings,
    target: Target,
    dry_run: bool,
    io: &mut Io<'_>,
) -> Result<i32> {
    run_with_reason(settings, target, dry_run, None, io).await
}

/// Runs a verb whose steps record an operator's reason (`repair`, `accept`).
pub async fn run_with_reason(
    settings: &Settings,
    target: Target,
    dry_run: bool,
    reason: Option<&str>,
    io: &mut Io<'_>,
) -> Result<i32> {
    let err = &mut *io.err;
    let mut say = |m: &str| {
        let _ = writeln!(err, "{m}");
    };
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
    let (mut sets, (db, mut session, prefetched, early), _loader) =
        app::load_while(settings, async {
            let db = app::database(settings, &mut say)?;
            let session = app::connect(&db).await?;
            // Read once per set, and only for `up` (the only verb that guesses).
            let hints: Vec<_> = settings
                .sets
                .iter()
                .filter(|_| plans_up)
                .map(|spec| app::snapshot_hint(settings, spec))
                .collect();
            if hints.iter().flatten().any(|hint| hint.dir_changed) {
                let held =
                    strata_pg::lock::lock_held(&session.client, &settings.registry_schema).await?;
                if held {
                    return Ok::<_, anyhow::Error>((db, session, Some((true, Vec::new())), None));
                }
                let lock = app::lock(&db, settings, &mut say).await?;
                let summaries = summaries_of(&registry, &session, settings).await;
                let prefetched = Some((false, summaries.clone()));
                return Ok((db, session, prefetched, Some((lock, summaries))));
            }
            let prefetched = if plans_up {
                let (summaries, held) = tokio::join!(
                    summaries_of(&registry, &session, settings),
                    strata_pg::lock::lock_held(&session.client, &settings.registry_schema)
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
                        .any(|(hint, s)| app::expects_work(hint.as_ref(), s.as_ref())) =>
                {
                    let lock = app::lock(&db, settings, &mut say).await?;
                    Some((lock, summaries_of(&registry, &session, settings).await))
                }
                _ => None,
            };
            Ok((db, session, prefetched, early))
        })
        .await?;
    let (mut early_lock, mut summaries_under_lock) = early.unzip();

    // Code migrations `up` stopped before, one message each (see `history_guard`).
    let mut stops: Vec<String> = Vec::new();
    if dry_run {
        let mut plans = Vec::with_capacity(sets.len());
        for set in &mut sets {
            let planned = app::plan_set(&session, &registry, set, &target, settings).await;
            let (applied, plan) =
                strata_engine::guard::explain(planned, &session, &registry, settings, set, &target)
                    .await?;
            let checked = strata_engine::guard::check(
                &session,
                &registry,
                settings,
                set,
                &target,
                plan,
                applied.len() as u64,
            )
            .await?;
            if let Some((from, rows)) = &checked.take_over {
                say(&strata_engine::guard::take_over_preview(set, from, *rows));
            }
            if let Some(stop) = &checked.stop {
                stops.push(strata_engine::guard::code_stop_message(
                    settings, set, stop, true,
                ));
            }
            plans.push(checked.plan);
        }
        // The real run would lint first. With --json the refusal is the one document printed;
        // in text the plan is shown, then why it would not run.
        let lints = matches!(target, Target::Up { .. } | Target::Goto(_));
        if lints && settings.json {
            if let Some(code) =
                super::lint::gate_sets(settings, &session, &sets, &plans, io).await?
            {
                return Ok(code);
            }
        }
        let mut docs = Vec::new();
        for (set, plan) in sets.iter().zip(&plans) {
            if settings.json {
                docs.push(render::plan_json(set, plan, true));
            } else {
                render::plan_text(set, plan, true, io.out)?;
            }
        }
        if settings.json {
            let mut doc = json!({"dry_run": true, "sets": docs});
            if !stops.is_empty() {
                doc["stopped"] = json!(stops);
            }
            writeln!(io.out, "{doc}")?;
            return Ok(exit::OK);
        }
        writeln!(io.out, "dry run: nothing was changed")?;
        for stop in &stops {
            writeln!(io.err, "dry run: {stop}")?;
        }
        if lints {
            if let Some(code) =
                super::lint::gate_sets(settings, &session, &sets, &plans, io).await?
            {
                return Ok(code);
            }
        }
        return Ok(exit::OK);
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
            let planned = app::plan_up(
                &session,
                &registry,
                set,
                &target,
                settings,
                Some(summary),
                None,
            )
            .await;
            let planned =
                strata_engine::guard::explain(planned, &session, &registry, settings, set, &target)
                    .await?;
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
            .any(|(basis, _)| matches!(basis, app::HistoryBasis::Rows(_)));
        if idle
            && from_rows
            && strata_pg::lock::lock_held(&session.client, &settings.registry_schema).await?
        {
            idle = false;
        }
        if idle {
            if settings.json {
                let docs: Vec<_> = sets
                    .iter()
                    .map(|s| json!({"name": s.spec.name, "steps": [], "notices": []}))
                    .collect();
                writeln!(io.out, "{}", json!({"sets": docs}))?;
            } else if !settings.quiet {
                for set in &sets {
                    writeln!(io.out, "set {}: nothing to do", set.spec.name)?;
                }
            }
            if let Some(lock) = early_lock.take() {
                lock.release().await?;
            }
            exit_without_freeing((sets, earlier));
            return Ok(exit::OK);
        }
    }

    let mut lock = match early_lock {
        Some(lock) => lock,
        None => app::lock(&db, settings, &mut say).await?,
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
                app::plan_up(&session, &registry, set, &target, settings, summary, before).await;
            let (basis, plan) =
                strata_engine::guard::explain(planned, &session, &registry, settings, set, &target)
                    .await?;
            let rows = match &basis {
                app::HistoryBasis::Summary(summary) => summary.rows,
                app::HistoryBasis::Rows(rows) => rows.len() as u64,
            };
            (plan, rows)
        } else {
            let planned = app::plan_set(&session, &registry, set, &target, settings).await;
            let (applied, plan) =
                strata_engine::guard::explain(planned, &session, &registry, settings, set, &target)
                    .await?;
            (plan, applied.len() as u64)
        };
        // Still under the lock and before anything runs: never apply what another history
        // already records.
        let checked = strata_engine::guard::check(
            &session,
            &registry,
            settings,
            set,
            &target,
            plan,
            history_rows,
        )
        .await?;
        if let Some(stop) = &checked.stop {
            stops.push(strata_engine::guard::code_stop_message(
                settings, set, stop, false,
            ));
        }
        take_overs.push(checked.take_over);
        plans.push(checked.plan);
    }
    if matches!(target, Target::Up { .. } | Target::Goto(_)) {
        if let Some(code) = super::lint::gate_sets(settings, &session, &sets, &plans, io).await? {
            return Ok(code);
        }
    }
    // Ctrl-C / SIGTERM: stop starting anything new, cancel the running statement on the
    // server (its transaction rolls back), and let the normal error path record and report
    // the state, release the lock and exit 2. A second signal exits at once; the server
    // releases the lock with the dropped connection.
    let interrupted = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn(watch_signals(interrupted.clone(), session.cancel_handle()));
    registry.ensure(&session.client).await?;
    lock.register(&registry).await?;
    // Every check and the gate passed: old histories become their sets' now, before anything
    // runs (the plans were made from them).
    for (set, take_over) in sets.iter().zip(&take_overs) {
        if let Some((from, _)) = take_over {
            strata_engine::guard::take_over(&session, &registry, set, from, &mut |m: &str| {
                let _ = writeln!(io.err, "{m}");
            })
            .await?;
        }
    }
    for (set, plan) in sets.iter().zip(&plans) {
        let rehashes = strata_plan::rehashes(plan, set.migrations());
        if !rehashes.is_empty() {
            registry
                .rehash(&session.client, &set.spec.name, &rehashes)
                .await?;
            if !settings.quiet && !settings.json {
                writeln!(
                    io.err,
                    "set {}: recorded {} checksum(s) in the current algorithm (the files are unchanged; see docs/REGISTRY.md)",
                    set.spec.name,
                    rehashes.len()
                )?;
            }
        }
    }
    let mut results = Vec::new();
    let mut failure = None;
    for (set, plan) in sets.iter().zip(&plans) {
        if !settings.json && !settings.quiet {
            if plan.steps.is_empty() {
                writeln!(io.out, "set {}: nothing to do", set.spec.name)?;
            } else {
                writeln!(
                    io.out,
                    "set {}: {} step(s)",
                    set.spec.name,
                    plan.steps.len()
                )?;
            }
        }
        let bar = (!settings.json
            && !settings.quiet
            && plan.steps.len() > 20
            && std::io::stderr().is_terminal())
        .then(|| indicatif::ProgressBar::new(plan.steps.len() as u64));
        let mut sink = std::io::sink();
        let progress_out: &mut dyn std::io::Write = if settings.json {
            &mut sink
        } else {
            &mut *io.out
        };
        let mut progress = render::Progress {
            out: progress_out,
            quiet: settings.quiet,
            notices: Vec::new(),
            bar,
        };
        let outcome = strata_pg::execute(
            &mut session,
            &registry,
            set.migrations(),
            plan,
            &app::exec_options(set, settings, &interrupted, reason),
            lock.client(),
            &mut progress,
        )
        .await;
        if let Some(bar) = &progress.bar {
            bar.finish_and_clear();
        }
        let notices: Vec<_> = progress
            .notices
            .iter()
            .map(|(k, n)| json!({"migration": k, "severity": n.severity, "message": n.message}))
            .collect();
        match outcome {
            Ok(done) => {
                results.push(json!({"name": set.spec.name, "steps": done, "notices": notices}))
            }
            Err(e) => {
                results.push(json!({"name": set.spec.name, "steps": e.done, "notices": notices}));
                failure = Some(Rendered {
                    rendered: render::exec_error_text(&e),
                    json: json!({
                        "set": set.spec.name, "migration": e.key, "action": e.action,
                        "file": e.path.display().to_string(), "failure": e.failure, "state": e.state, "next": e.next,
                        "interrupted": e.interrupted, "blockers": e.blockers, "statements_done": e.statements_done
                    }),
                });
                break;
            }
        }
    }
    // Report the migration's failure even if releasing the lock fails too (dropping the lock
    // connection releases it server-side anyway).
    watcher.abort();
    let released = lock.release().await;
    if settings.json {
        let mut doc = json!({"sets": results});
        if let Some(f) = &failure {
            doc["error"] = f.json.clone();
        }
        if !stops.is_empty() {
            doc["stopped"] = json!(stops);
        }
        writeln!(io.out, "{doc}")?;
    }
    exit_without_freeing((sets, plans));
    match failure {
        Some(f) => {
            write!(io.err, "{}", f.rendered)?;
            Ok(exit::ERROR)
        }
        None => {
            released?;
            // The database is not where `up` was asked to take it: say why, and fail the
            // deploy step that ran it.
            for stop in &stops {
                writeln!(io.err, "{stop}")?;
            }
            Ok(if stops.is_empty() {
                exit::OK
            } else {
                exit::ERROR
            })
        }
    }
}

/// Leaks `loaded` (the sets and plans) instead of dropping it: the process exits right after
/// the verb returns, and the operating system reclaims the memory at once, whereas freeing tens
/// of thousands of small strings one by one took about a tenth of a no-op run at N=10,000. The
/// sets hold no resources but memory (no files, sockets or locks).
pub(crate) fn exit_without_freeing<T>(loaded: T) {
    std::mem::forget(loaded);
}
