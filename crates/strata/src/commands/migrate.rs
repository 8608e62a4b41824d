//! `up`, `down`, `redo`, `goto`: plan under the lock, then execute (or print with --dry-run).

use super::{exit, Io};
use crate::config::Settings;
use crate::render;
use anyhow::Result;
use serde_json::json;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use strata_engine::migrate::{self, Prepared};
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
    let prepared = {
        let err = &mut *io.err;
        let mut say = |m: &str| {
            let _ = writeln!(err, "{m}");
        };
        migrate::prepare(settings, &target, dry_run, &mut say).await?
    };
    let lints = matches!(target, Target::Up { .. } | Target::Goto(_));
    let run = match prepared {
        Prepared::DryRun(run) => return dry_run_report(settings, run, lints, io).await,
        Prepared::Idle { sets, plans } => {
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
            exit_without_freeing((sets, plans));
            return Ok(exit::OK);
        }
        Prepared::Ready(run) => run,
    };
    if lints {
        if let Some(code) =
            super::lint::gate_sets(settings, &run.session, &run.sets, &run.plans, io).await?
        {
            return Ok(code);
        }
    }
    // Ctrl-C / SIGTERM: stop starting anything new, cancel the running statement on the
    // server (its transaction rolls back), and let the normal error path record and report
    // the state, release the lock and exit 2. A second signal exits at once; the server
    // releases the lock with the dropped connection.
    let interrupted = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn(watch_signals(interrupted.clone(), run.cancel_handle()));
    let mut progress =
        render::Progress::new(&mut *io.out, &mut *io.err, settings.json, settings.quiet);
    let applied = migrate::apply(run, settings, reason, &interrupted, &mut progress).await;
    let notices = std::mem::take(&mut progress.finished);
    drop(progress);
    // Report the migration's failure even if releasing the lock fails too (dropping the lock
    // connection releases it server-side anyway).
    watcher.abort();
    let applied = applied?;
    let results: Vec<_> = applied
        .runs
        .iter()
        .zip(notices.iter().map(Some).chain(std::iter::repeat(None)))
        .map(|(set, notices)| {
            let notices: Vec<_> = notices
                .into_iter()
                .flatten()
                .map(|(k, n)| json!({"migration": k, "severity": n.severity, "message": n.message}))
                .collect();
            json!({"name": set.name, "steps": set.steps, "notices": notices})
        })
        .collect();
    let failure = applied.failure.as_ref().map(|(set, e)| Rendered {
        rendered: render::exec_error_text(e),
        json: json!({
            "set": set, "migration": e.key, "action": e.action,
            "file": e.path.display().to_string(), "failure": e.failure, "state": e.state, "next": e.next,
            "interrupted": e.interrupted, "blockers": e.blockers, "statements_done": e.statements_done
        }),
    });
    if settings.json {
        let mut doc = json!({"sets": results});
        if let Some(f) = &failure {
            doc["error"] = f.json.clone();
        }
        if !applied.stops.is_empty() {
            doc["stopped"] = json!(applied.stops);
        }
        writeln!(io.out, "{doc}")?;
    }
    let migrate::Applied {
        sets,
        plans,
        stops,
        released,
        ..
    } = applied;
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

/// `--dry-run`: the plans, then why the real run would not go ahead (the lint gate, a code
/// migration it would stop before). With --json the gate's refusal is the one document
/// printed; in text the plan is shown first.
async fn dry_run_report(
    settings: &Settings,
    run: migrate::Run,
    lints: bool,
    io: &mut Io<'_>,
) -> Result<i32> {
    if lints && settings.json {
        if let Some(code) =
            super::lint::gate_sets(settings, &run.session, &run.sets, &run.plans, io).await?
        {
            return Ok(code);
        }
    }
    let mut docs = Vec::new();
    for (set, plan) in run.sets.iter().zip(&run.plans) {
        if settings.json {
            docs.push(render::plan_json(set, plan, true));
        } else {
            render::plan_text(set, plan, true, io.out)?;
        }
    }
    if settings.json {
        let mut doc = json!({"dry_run": true, "sets": docs});
        if !run.stops.is_empty() {
            doc["stopped"] = json!(run.stops);
        }
        writeln!(io.out, "{doc}")?;
        return Ok(exit::OK);
    }
    writeln!(io.out, "dry run: nothing was changed")?;
    for stop in &run.stops {
        writeln!(io.err, "dry run: {stop}")?;
    }
    if lints {
        if let Some(code) =
            super::lint::gate_sets(settings, &run.session, &run.sets, &run.plans, io).await?
        {
            return Ok(code);
        }
    }
    Ok(exit::OK)
}

/// Leaks `loaded` (the sets and plans) instead of dropping it: the process exits right after
/// the verb returns, and the operating system reclaims the memory at once, whereas freeing tens
/// of thousands of small strings one by one took about a tenth of a no-op run at N=10,000. The
/// sets hold no resources but memory (no files, sockets or locks).
pub(crate) fn exit_without_freeing<T>(loaded: T) {
    std::mem::forget(loaded);
}
