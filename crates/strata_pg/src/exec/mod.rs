//! The executor: runs the steps of a [`Plan`], nothing more.
//!
//! Transactional migrations are sent as one pipeline — `BEGIN`, the timeouts, the script, the
//! history row, the event, `COMMIT` — so a migration costs one round trip and its history row
//! commits with it: if the script fails, PostgreSQL turns the pipelined `COMMIT` into a
//! `ROLLBACK` and nothing of the migration remains. Migrations that cannot run in a transaction
//! run statement by statement, and the registry records after each statement how far they got,
//! so a failure can be resumed exactly where it stopped.
//!
//! This module holds the options, the public types and [`execute`], the loop over a plan's
//! steps; each concern of running one step has its own module: `transactional` (the one-round-
//! trip pipeline), `statements` (statement by statement, resumable), `failure` (server
//! errors mapped onto the file), `retry` (`lock_timeout` retries and the blocker watch),
//! `history` (binding the registry's history statements) and `prefetch` (parsing scripts
//! ahead on a helper thread). The SQL of strata's own tables is the registry's.

mod failure;
mod history;
mod prefetch;
mod retry;
mod statements;
mod transactional;

pub use retry::{blockers_of, Blocker};

use crate::lock::MigrationLock;
use crate::meta::{self, MetaError};
use crate::registry::{HistoryStatements, Registry};
use crate::session::{Notice, Session};
use failure::failure_from;
use history::{event, flush_wal, record, record_decision};
use prefetch::Prefetch;
use retry::run_with_retries;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use strata_model::{LineCol, Migration, Script, TransactionMode};
use strata_plan::{ApplyReason, Plan, Step};
use strata_sql::{decide_transaction_mode, Analysis, Statement};

/// Settings for one run.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// The set's name (keys its history).
    pub set_name: String,
    /// `lock_timeout` for migration statements, in PostgreSQL syntax (`5s`, `500ms`, `0`).
    pub lock_timeout: String,
    /// `statement_timeout` for migration statements.
    pub statement_timeout: String,
    /// How many times a migration that hit `lock_timeout` (55P03) is retried.
    pub lock_retries: u32,
    /// First delay between retries; it doubles each time (with jitter), up to 30 s.
    pub retry_delay: Duration,
    /// Set (by a signal handler) to stop: the running statement is cancelled by the caller,
    /// and no further step or statement starts.
    pub interrupted: Arc<AtomicBool>,
    /// Why the operator asked for a `mark` or `accept` step; recorded in its event.
    pub reason: Option<String>,
    /// The event baseline steps record instead of `baseline` (`adopt`, with its source).
    pub baseline_event: Option<(String, serde_json::Value)>,
    /// The set's directory, standing in for psql's working directory: a relative file of a
    /// `\copy` meta-command is resolved against it and a `\copy ... program` runs in it (the
    /// sqitch project's top directory, where sqitch runs psql, or the migration directory of
    /// a psql loop). Empty: the current directory.
    pub set_dir: PathBuf,
}

/// What happened to one migration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StepDone {
    /// Registry key.
    pub key: String,
    /// `apply`, `revert`, `baseline` or `resume`.
    pub action: &'static str,
    /// Wall time.
    pub duration_ms: u64,
    /// How it ran.
    pub mode: TransactionMode,
}

/// Progress callbacks; the CLI renders them, the library never prints.
pub trait Reporter {
    /// A step begins.
    fn step_started(
        &mut self,
        _migration: &Migration,
        _action: &'static str,
        _mode: TransactionMode,
    ) {
    }
    /// A step finished.
    fn step_finished(&mut self, _done: &StepDone) {}
    /// The server sent a NOTICE/WARNING.
    fn notice(&mut self, _migration: &Migration, _notice: &Notice) {}
    /// The migration has been waiting for locks held by these sessions.
    fn waiting(&mut self, _migration: &Migration, _blockers: &[Blocker]) {}
    /// The migration hit `lock_timeout` and will be retried after `delay`.
    fn retrying(
        &mut self,
        _migration: &Migration,
        _attempt: u32,
        _of: u32,
        _delay: Duration,
        _blockers: &[Blocker],
    ) {
    }
}

/// A reporter that ignores everything.
pub struct Silent;
impl Reporter for Silent {}

/// The server's error, mapped onto the migration file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Failure {
    /// SQLSTATE code.
    pub sqlstate: String,
    /// Severity (`ERROR`, `FATAL`).
    pub severity: String,
    /// Primary message.
    pub message: String,
    /// DETAIL.
    pub detail: Option<String>,
    /// HINT.
    pub hint: Option<String>,
    /// CONTEXT (PL/pgSQL call stack and the like).
    pub context: Option<String>,
    /// Position in the file, when the server reported one (or the failing statement's start).
    pub location: Option<LineCol>,
    /// 1-based index of the failing statement in the script, when known.
    pub statement: Option<usize>,
    /// The failing statement's description.
    pub statement_summary: Option<String>,
}

/// A failed step, with everything done before it.
#[derive(Debug, thiserror::Error)]
#[error("{action} of migration {key} failed: {}", failure.message)]
#[non_exhaustive]
pub struct ExecError {
    /// Steps that completed before the failure.
    pub done: Vec<StepDone>,
    /// The failing migration.
    pub key: String,
    /// `apply` / `revert` / `baseline`.
    pub action: &'static str,
    /// The file of the failing script.
    pub path: PathBuf,
    /// What the server said.
    pub failure: Failure,
    /// The database state after the failure, in words.
    pub state: String,
    /// What to run or do next.
    pub next: String,
    /// The run was stopped by a signal.
    pub interrupted: bool,
    /// Sessions that blocked the migration while it waited for locks.
    pub blockers: Vec<Blocker>,
    /// For statement-by-statement runs: statements completed and recorded.
    pub statements_done: Option<usize>,
}

/// Runs a plan's steps against `session`. The caller holds the migration lock and has ensured
/// the registry exists.
///
/// `lock` is the migration lock the caller holds, if any: its connection, a second one to the
/// same database that is idle meanwhile, is the monitor. While a step runs longer than a
/// moment, the monitor finds the sessions that block the step's locks, so the operator learns
/// who they are while strata still waits; and a lost lock connection stops the run before the
/// next step. The lock is passed rather than its connection so that connection stays inside
/// this crate: it must never open a transaction (see [`crate::lock`]).
pub async fn execute(
    session: &mut Session,
    registry: &Registry,
    local: &[Migration],
    plan: &Plan,
    opts: &ExecOptions,
    lock: Option<&MigrationLock>,
    reporter: &mut impl Reporter,
) -> Result<Vec<StepDone>, ExecError> {
    let monitor = lock.and_then(MigrationLock::session);
    let mut done = Vec::new();
    if plan.steps.is_empty() {
        return Ok(done);
    }
    let fail_before = |failure: Failure, done: &Vec<StepDone>| ExecError {
        done: done.clone(),
        key: String::new(),
        action: "preparation",
        path: PathBuf::new(),
        failure,
        state: "nothing was changed".into(),
        next: "check the connection and the registry schema".into(),
        interrupted: false,
        blockers: Vec::new(),
        statements_done: None,
    };
    let fail_early = |e: tokio_postgres::Error, done: &Vec<StepDone>| {
        fail_before(failure_from(&e, None, None), done)
    };
    // One pipelined exchange: the statements, and what the run needs to know of the session.
    // A killed strata must not leave its statement running on the server for minutes: with
    // client_connection_check_interval (PostgreSQL 14+) the backend notices the lost client
    // during long statements and cancels them.
    let client = &session.client;
    let (prepared, session_facts, ()) = tokio::try_join!(
        registry.prepare_history_statements(client),
        client.query_typed(
            "SELECT current_setting('search_path'), pg_backend_pid()",
            &[]
        ),
        client.batch_execute("SELECT set_config('client_connection_check_interval', '1s', false) WHERE current_setting('server_version_num')::int >= 140000"),
    )
    .map_err(|e| fail_early(e, &done))?;
    let Some(facts) = session_facts.first() else {
        return Err(fail_before(
            Failure {
                sqlstate: String::new(),
                severity: "ERROR".into(),
                message: "the server answered no row to `SELECT current_setting('search_path'), pg_backend_pid()`".into(),
                detail: None,
                hint: None,
                context: None,
                location: None,
                statement: None,
                statement_summary: None,
            },
            &done,
        ));
    };
    let search_path: String = facts.get(0);
    let backend_pid: i32 = facts.get(1);
    let ctx = Ctx {
        opts,
        prepared: &prepared,
        search_path,
        os_user: crate::who::os_user(),
        host: crate::who::host_name(),
    };

    // Baselines of one run are recorded together: all or nothing.
    let baselines: Vec<(usize, &str)> = plan
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Baseline { index, key } => Some((*index, key.as_str())),
            _ => None,
        })
        .collect();
    if !baselines.is_empty() {
        let started = Instant::now();
        let result = async {
            session.client.batch_execute("BEGIN").await?;
            for &(i, key) in &baselines {
                let m = &local[i];
                record(
                    &session.client,
                    &ctx,
                    false,
                    false,
                    m,
                    key,
                    0,
                    "complete",
                    0,
                    None,
                )
                .await?;
                let (kind, mut details) = ctx
                    .opts
                    .baseline_event
                    .clone()
                    .unwrap_or_else(|| ("baseline".to_owned(), serde_json::json!({})));
                details["checksum"] = serde_json::json!(m.checksum.to_string());
                event(&session.client, &ctx, false, key, &kind, details).await?;
            }
            session.client.batch_execute("COMMIT").await
        }
        .await;
        if let Err(e) = result {
            let _ = session.client.batch_execute("ROLLBACK").await;
            return Err(ExecError {
                done,
                key: baselines[0].1.to_owned(),
                action: "baseline",
                path: local[baselines[0].0].path().to_owned(),
                failure: failure_from(&e, None, None),
                state: "nothing was recorded".into(),
                next: "fix the cause above and run `strata baseline` again".into(),
                interrupted: false,
                blockers: Vec::new(),
                statements_done: None,
            });
        }
        for &(_, key) in &baselines {
            let d = StepDone {
                key: key.to_owned(),
                action: "baseline",
                duration_ms: started.elapsed().as_millis() as u64,
                mode: TransactionMode::Transactional,
            };
            reporter.step_finished(&d);
            done.push(d);
        }
    }

    // Parsing a script (libpg_query) is the executor's main CPU cost. A helper thread parses
    // the scripts of the next few steps, in step order, while the server runs the current one.
    let mut analyses = Prefetch::new(local, plan);

    for step in &plan.steps {
        let (index, key, action, resume_from) = match step {
            Step::Baseline { .. } => continue,
            Step::Mark { .. } | Step::Accept { .. } => {
                let started = Instant::now();
                let (key, action) = match step {
                    Step::Mark {
                        key, applied: true, ..
                    } => (key, "mark applied"),
                    Step::Mark { key, .. } => (key, "mark reverted"),
                    Step::Accept { key, .. } => (key, "accept"),
                    _ => unreachable!("matched above"),
                };
                if let Err(e) = record_decision(&session.client, &ctx, step, local).await {
                    let _ = session.client.batch_execute("ROLLBACK").await;
                    let _ = flush_wal(&session.client, ctx.prepared).await;
                    return Err(ExecError {
                        done,
                        key: key.clone(),
                        action: "repair",
                        path: PathBuf::new(),
                        failure: failure_from(&e, None, None),
                        state: "nothing was recorded".into(),
                        next: "fix the cause above and run the command again".into(),
                        interrupted: false,
                        blockers: Vec::new(),
                        statements_done: None,
                    });
                }
                let d = StepDone {
                    key: key.clone(),
                    action: if action == "accept" { "accept" } else { "mark" },
                    duration_ms: started.elapsed().as_millis() as u64,
                    mode: TransactionMode::Transactional,
                };
                reporter.step_finished(&d);
                done.push(d);
                continue;
            }
            Step::Apply {
                index,
                key,
                resume_from,
                reason,
            } => (
                *index,
                key.as_str(),
                if *reason == ApplyReason::Resume {
                    "resume"
                } else {
                    "apply"
                },
                *resume_from,
            ),
            Step::Revert { index, key } => (*index, key.as_str(), "revert", 0),
        };
        if monitor.is_some_and(|m| m.client.is_closed()) {
            let _ = flush_wal(&session.client, ctx.prepared).await;
            return Err(ExecError {
                done,
                key: key.to_owned(),
                action,
                path: local[index].path().to_owned(),
                failure: Failure::plain("the connection holding the migration lock was lost"),
                state: format!("stopped before {action} of {key}: without the lock another run could interleave; every earlier step completed and is recorded"),
                next: "check the connection and run the same command again".into(),
                interrupted: false,
                blockers: Vec::new(),
                statements_done: None,
            });
        }
        let m = &local[index];
        let script = if action == "revert" {
            m.down.as_ref().expect("planner checked the down script")
        } else {
            &m.up
        };
        let analysis = analyses.analysis(script);
        let shape = decide_transaction_mode(script.sql(), &analysis, &script.directives);
        // What stops a script before any of it runs: the statement, why, the state, and what
        // to do.
        let refusal = match (
            shape.decision.mode,
            strata_sql::unclosed_transaction(&analysis),
        ) {
            (TransactionMode::ScriptManaged, Some(open)) => Some((
                open,
                format!(
                    "statement {} opens a transaction (BEGIN) that the script never commits",
                    open + 1
                ),
                format!("nothing of {key} ran: psql would have rolled this transaction back at the end of the file, losing the migration silently"),
                format!("add the missing COMMIT to {} (or remove the BEGIN to let strata run the script in its own transaction)", script.file.path().display()),
            )),
            _ => strata_sql::unsupported_meta(&analysis).map(|(i, message)| (
                i,
                message,
                format!("nothing of {key} ran: strata checks a script's psql meta-commands before running any of it"),
                format!("rewrite the meta-command in {} as SQL, or apply that script with psql and record it with `strata baseline VERSION` (or `strata repair VERSION --mark-applied --reason ...`)", script.file.path().display()),
            )),
        };
        if let Some((index, message, state, next)) = refusal {
            let stmt = &analysis.statements[index];
            let mut failure = Failure::plain(&message);
            failure.location = Some(script.locate(stmt.range.start));
            failure.statement = Some(index + 1);
            failure.statement_summary = Some(stmt.summary.clone());
            let _ = flush_wal(&session.client, ctx.prepared).await;
            return Err(ExecError {
                done,
                key: key.to_owned(),
                action,
                path: script.file.path().to_owned(),
                failure,
                state,
                next,
                interrupted: false,
                blockers: Vec::new(),
                statements_done: None,
            });
        }
        if opts.interrupted.load(Ordering::SeqCst) {
            let _ = flush_wal(&session.client, ctx.prepared).await;
            return Err(ExecError {
                done,
                key: key.to_owned(),
                action,
                path: script.file.path().to_owned(),
                failure: Failure::plain("interrupted before this migration started"),
                state: format!("stopped by a signal before {action} of {key}; every earlier step completed and is recorded"),
                next: "run the same command again to continue".into(),
                interrupted: true,
                blockers: Vec::new(),
                statements_done: None,
            });
        }
        reporter.step_started(m, action, shape.decision.mode);
        let started = Instant::now();
        // `-- strata:lock-timeout` / `statement-timeout` override the run's settings for this
        // script only.
        let mut script_opts = opts.clone();
        for d in &script.directives {
            match d.kind {
                strata_model::DirectiveKind::LockTimeout { ms } => {
                    script_opts.lock_timeout = format!("{ms}ms")
                }
                strata_model::DirectiveKind::StatementTimeout { ms } => {
                    script_opts.statement_timeout = format!("{ms}ms")
                }
                strata_model::DirectiveKind::NoTransaction
                | strata_model::DirectiveKind::SquashedBaseline
                | strata_model::DirectiveKind::Template
                | strata_model::DirectiveKind::Code { .. } => {}
            }
        }
        let script_ctx = Ctx {
            opts: &script_opts,
            prepared: ctx.prepared,
            search_path: ctx.search_path.clone(),
            os_user: ctx.os_user.clone(),
            host: ctx.host.clone(),
        };
        let run = Run {
            ctx: &script_ctx,
            m,
            key,
            script,
            analysis: &analysis,
            action,
            output: std::sync::Mutex::new(Vec::new()),
        };
        let result = run_with_retries(
            session,
            &run,
            &shape,
            resume_from,
            opts,
            monitor,
            backend_pid,
            reporter,
        )
        .await;
        // `\echo` output first: it was printed before the statements that follow it ran.
        for line in std::mem::take(&mut *run.output.lock().unwrap_or_else(|e| e.into_inner())) {
            let echo = Notice {
                severity: "ECHO".into(),
                message: line,
                detail: None,
                hint: None,
            };
            reporter.notice(m, &echo);
        }
        for n in session.drain_notices() {
            reporter.notice(m, &n);
        }
        match result {
            Ok(()) => {
                // Each script on a clean session, as psql and sqitch run each on a connection
                // of its own: its temporary tables must not meet the next script's.
                if strata_sql::may_leave_temporary_objects(&analysis) {
                    let _ = session.client.batch_execute("DISCARD TEMP").await;
                }
                let d = StepDone {
                    key: key.to_owned(),
                    action,
                    duration_ms: started.elapsed().as_millis() as u64,
                    mode: shape.decision.mode,
                };
                reporter.step_finished(&d);
                done.push(d);
            }
            Err(mut failure) => {
                // What did commit before the failure is reported as done: make it durable too.
                let _ = flush_wal(&session.client, ctx.prepared).await;
                failure.done = done;
                return Err(*failure);
            }
        }
    }
    flush_wal(&session.client, ctx.prepared).await.map_err(|e| ExecError {
        done: done.clone(),
        key: String::new(),
        action: "final commit",
        path: PathBuf::new(),
        failure: failure_from(&e, None, None),
        state: "every migration above committed, but the final synchronous commit that makes them durable failed; a server crash right now could lose the last ones".into(),
        next: "run `strata status` to confirm what is applied".into(),
        interrupted: false,
        blockers: Vec::new(),
        statements_done: None,
    })?;
    Ok(done)
}

struct Ctx<'a> {
    opts: &'a ExecOptions,
    prepared: &'a HistoryStatements,
    search_path: String,
    os_user: String,
    host: String,
}

/// One step being run.
struct Run<'a> {
    ctx: &'a Ctx<'a>,
    m: &'a Migration,
    /// The registry key the step records under (the existing row's key when there is one).
    key: &'a str,
    script: &'a Script,
    analysis: &'a Analysis,
    action: &'static str,
    /// Lines printed by the script's `\echo` meta-commands, reported as `ECHO` notices.
    output: std::sync::Mutex<Vec<String>>,
}

impl Run<'_> {
    /// Runs meta-command statement `s` of the script and keeps what it prints.
    async fn meta(&self, client: &tokio_postgres::Client, s: &Statement) -> Result<(), MetaError> {
        let Some(command) = &s.meta else {
            return Ok(());
        };
        let mut lines = Vec::new();
        let outcome = meta::run(
            client,
            self.script.sql(),
            command,
            &self.ctx.opts.set_dir,
            &mut lines,
        )
        .await;
        self.output
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(lines);
        outcome
    }

    /// The failure of meta-command statement `s`, located at its start: the server's position
    /// refers to the `COPY` strata sent, not to the file.
    fn meta_failure(&self, s: &Statement, error: &MetaError) -> Failure {
        let command = s.meta.as_ref().map(|m| m.display()).unwrap_or_default();
        let mut failure = match error {
            MetaError::Server(e) => {
                let mut f = failure_from(e, None, None);
                f.message = format!("`{command}`: {}", f.message);
                f
            }
            MetaError::Client(message) => Failure::plain(&format!("`{command}`: {message}")),
        };
        failure.location = Some(self.script.locate(s.range.start));
        failure.statement = self
            .analysis
            .statements
            .iter()
            .position(|x| std::ptr::eq(x, s))
            .map(|i| i + 1);
        failure.statement_summary = Some(s.summary.clone());
        failure
    }

    fn error(&self, failure: Failure, state: String, next: String) -> Box<ExecError> {
        Box::new(ExecError {
            done: Vec::new(),
            key: self.key.to_owned(),
            action: self.action,
            path: self.script.file.path().to_owned(),
            failure,
            state,
            next,
            interrupted: self.ctx.opts.interrupted.load(Ordering::SeqCst),
            blockers: Vec::new(),
            statements_done: None,
        })
    }

    /// The verify script to run after this step's script (applies only).
    fn verify(&self) -> Option<&Script> {
        if self.action == "revert" {
            None
        } else {
            self.m.verify.as_ref()
        }
    }

    /// An error of the verify script `v`, located in its file.
    fn verify_error(&self, v: &Script, failure: Failure) -> Box<ExecError> {
        let mut e = self.error(
            failure,
            format!("nothing of {} was applied", self.key),
            format!(
                "the verify script {} says the deploy did not do its job: fix {} (or the verify script) and run `strata up` again",
                v.file.path().display(),
                self.script.file.path().display()
            ),
        );
        e.path = v.file.path().to_owned();
        e.action = "verify";
        e
    }

    fn verb(&self) -> &'static str {
        if self.action == "revert" {
            "down"
        } else {
            "up"
        }
    }
}

type Pending<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<(), tokio_postgres::Error>> + Send + 'a>,
>;

/// The server's version number (`server_version_num`).
pub async fn server_version(session: &Session) -> Result<i32, tokio_postgres::Error> {
    let v: Option<String> = session
        .client
        .query_typed("SELECT current_setting('server_version_num')", &[])
        .await?
        .first()
        .map(|row| row.get(0));
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
}
