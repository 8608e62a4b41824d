//! The migrating verbs as the CLI runs them (`up`, `down`, `redo`, `goto`, `baseline`, `repair`,
//! `accept`, and `adopt` and `fresh` after their own work): the engine prepares and applies
//! (`strata_engine::migrate`); this module runs the lint gate between the two, handles signals
//! and renders the plans, the progress and the outcome.

use crate::commands::{exit, Io};
use crate::config::Settings;
use crate::lint_setup::{colour_for, options, relative_paths};
use crate::render;
use anyhow::Result;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use strata_engine::documents::{
    DryRunDocument, FailureDocument, GateRefusalDocument, NoticeDocument, RunDocument,
    SetRunDocument,
};
use strata_engine::gate::attach_sizes;
use strata_engine::migrate::{self, Prepared};
use strata_engine::settings::DbTarget;
use strata_engine::Ctx;
use strata_engine::LoadedSet;
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
struct Rendered {
    /// The diagnostic text.
    rendered: String,
    /// Its JSON document, for --json.
    document: FailureDocument,
}

/// Runs a migrating verb.
pub async fn run(
    ctx: &Ctx,
    db: &DbTarget,
    target: Target,
    dry_run: bool,
    io: &mut Io<'_>,
) -> Result<i32> {
    run_with_reason(ctx, db, target, dry_run, None, io).await
}

/// Runs a verb whose steps record an operator's reason (`repair`, `accept`).
pub async fn run_with_reason(
    ctx: &Ctx,
    db: &DbTarget,
    target: Target,
    dry_run: bool,
    reason: Option<&str>,
    io: &mut Io<'_>,
) -> Result<i32> {
    let settings = &ctx.settings;
    let prepared = migrate::prepare(ctx, db, &target, dry_run).await?;
    let lints = matches!(target, Target::Up { .. } | Target::Goto(_));
    let run = match prepared {
        Prepared::DryRun(run) => return dry_run_report(settings, run, lints, io).await,
        Prepared::Idle { sets, plans } => {
            if settings.json {
                let sets = sets
                    .iter()
                    .map(|s| SetRunDocument {
                        name: s.spec.name.clone(),
                        steps: Vec::new(),
                        notices: Vec::new(),
                    })
                    .collect();
                render::print_json(
                    io.out,
                    &RunDocument {
                        sets,
                        error: None,
                        stopped: Vec::new(),
                    },
                )?;
            } else if !settings.quiet {
                for set in &sets {
                    writeln!(io.out, "set {}: nothing to do", set.spec.name)?;
                }
            }
            render::exit_without_freeing((sets, plans));
            return Ok(exit::OK);
        }
        Prepared::Ready(run) => run,
    };
    if lints {
        if let Some(code) = gate_sets(settings, &run.session, &run.sets, &run.plans, io).await? {
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
    let applied = migrate::apply(ctx, run, reason, &interrupted, &mut progress).await;
    let notices = std::mem::take(&mut progress.finished);
    drop(progress);
    // Report the migration's failure even if releasing the lock fails too (dropping the lock
    // connection releases it server-side anyway).
    watcher.abort();
    let applied = applied?;
    let results: Vec<SetRunDocument> = applied
        .runs
        .iter()
        .zip(notices.iter().map(Some).chain(std::iter::repeat(None)))
        .map(|(set, notices)| SetRunDocument {
            name: set.name.clone(),
            steps: set.steps.clone(),
            notices: notices
                .into_iter()
                .flatten()
                .map(|(k, n)| NoticeDocument {
                    migration: k.clone(),
                    severity: n.severity.clone(),
                    message: n.message.clone(),
                })
                .collect(),
        })
        .collect();
    let failure = applied.failure.as_ref().map(|(set, e)| Rendered {
        rendered: render::exec_error_text_coloured(e, colour_for(&std::io::stderr())),
        document: FailureDocument::new(set, e),
    });
    if settings.json {
        render::print_json(
            io.out,
            &RunDocument {
                sets: results,
                error: failure.as_ref().map(|f| f.document.clone()),
                stopped: applied.stops.clone(),
            },
        )?;
    }
    let migrate::Applied {
        sets,
        plans,
        stops,
        released,
        ..
    } = applied;
    render::exit_without_freeing((sets, plans));
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
        if let Some(code) = gate_sets(settings, &run.session, &run.sets, &run.plans, io).await? {
            return Ok(code);
        }
    }
    let mut docs = Vec::new();
    for (set, plan) in run.sets.iter().zip(&run.plans) {
        if settings.json {
            docs.push(render::plan_document(set, plan, true));
        } else {
            render::plan_text(set, plan, true, io.out)?;
        }
    }
    if settings.json {
        render::print_json(
            io.out,
            &DryRunDocument {
                dry_run: true,
                sets: docs,
                stopped: run.stops.clone(),
            },
        )?;
        return Ok(exit::OK);
    }
    writeln!(io.out, "dry run: nothing was changed")?;
    for stop in &run.stops {
        writeln!(io.err, "dry run: {stop}")?;
    }
    if lints {
        if let Some(code) = gate_sets(settings, &run.session, &run.sets, &run.plans, io).await? {
            return Ok(code);
        }
    }
    Ok(exit::OK)
}

/// How many findings the gate prints; the rest are counted (`strata lint --pending` lists
/// them all), so a refusal over a long pending list stays readable.
const GATE_SHOWN: usize = 10;

/// The gate in front of `up`: lints the migrations the plans of all sets are about to apply,
/// in the order they will run (a table an earlier set creates is new for the later ones; the
/// applied history is not re-read), and returns the exit code to stop with when a finding
/// stops the run (see [`strata_lint::apply_gate`]): a lock or rewrite on a table that existed
/// before the run and is at least `[lint] gate_min_table_size`, data loss, or a rule the
/// configuration explicitly set to `error`. Errors that do not stop it here are printed as
/// warnings. Runs under the migration lock, after planning, so it sees exactly what will run,
/// before anything is applied; `--no-lint` or `[lint] on_up = false` turn it off.
async fn gate_sets(
    settings: &Settings,
    session: &strata_pg::Session,
    sets: &[LoadedSet],
    plans: &[strata_plan::Plan],
    io: &mut Io<'_>,
) -> Result<Option<i32>> {
    if settings.lint.on_up == Some(false) {
        return Ok(None);
    }
    if !strata_engine::gate::applies_anything(plans) {
        return Ok(None);
    }
    let base = options(settings, None, &[])?;
    let Some(gate) = strata_engine::gate::check(settings, session, sets, plans, base).await? else {
        return Ok(None);
    };
    let strata_engine::gate::Gate {
        mut blocking,
        mut passed,
        blocked_set,
    } = gate;
    let color = colour_for(&std::io::stderr());
    let Some(set_name) = blocked_set.as_deref() else {
        if !passed.findings.is_empty() && !settings.json && !settings.quiet {
            passed.rank_by_impact();
            relative_paths(&mut passed);
            write!(
                io.err,
                "{}",
                strata_lint::render_text_capped(
                    &passed,
                    color,
                    GATE_SHOWN,
                    "`strata lint --pending` lists them all"
                )
            )?;
            writeln!(io.err, "strata: the warnings above do not stop `up` here")?;
        }
        return Ok(None);
    };
    attach_sizes(session, &mut blocking).await?;
    blocking.rank_by_impact();
    relative_paths(&mut blocking);
    if settings.json {
        render::print_json(
            io.out,
            &GateRefusalDocument {
                refused: "lint",
                set: set_name.to_owned(),
                lint: strata_lint::render_json(&blocking),
            },
        )?;
    } else {
        write!(
            io.err,
            "{}",
            strata_lint::render_text_capped(
                &blocking,
                color,
                GATE_SHOWN,
                "`strata lint --pending` lists them all"
            )
        )?;
        let rule = blocking.findings.first().map_or("<rule>", |f| f.rule);
        writeln!(
            io.err,
            "strata: not applying set `{set_name}`: the linter found {} error(s) in the pending migrations that stop `up` (locks or rewrites of tables of {} or more, data loss, or rules set to \"error\")\n\
             strata: fix them, or override: put `-- strata:allow {rule} <reason>` on the line above the statement, or run `strata up --no-lint` to skip the linter for this run",
            blocking.errors(),
            strata_model::format_byte_size(settings.gate_min_table_bytes),
        )?;
    }
    Ok(Some(exit::FINDINGS))
}
