//! The executor: runs the steps of a [`Plan`], nothing more.
//!
//! Transactional migrations are sent as one pipeline — `BEGIN`, the timeouts, the script, the
//! history row, the event, `COMMIT` — so a migration costs one round trip and its history row
//! commits with it: if the script fails, PostgreSQL turns the pipelined `COMMIT` into a
//! `ROLLBACK` and nothing of the migration remains. Migrations that cannot run in a transaction
//! run statement by statement, and the registry records after each statement how far they got,
//! so a failure can be resumed exactly where it stopped.

use crate::meta::{self, MetaError};
use crate::registry::{HistoryStatements, Registry};
use crate::session::{Notice, Session};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use strata_model::{char_pos_to_byte, LineCol, Migration, Script, TransactionMode};
use strata_plan::{ApplyReason, Plan, Step};
use strata_sql::{
    analyze, decide_transaction_mode, Analysis, ExecutionShape, Statement, TransactionControl,
};
use tokio_postgres::error::ErrorPosition;

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

/// A session holding a lock the migration waits for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Blocker {
    /// Its backend PID (what `pg_terminate_backend` takes).
    pub pid: i32,
    /// `application_name`.
    pub application_name: String,
    /// `state` (`active`, `idle in transaction`, ...).
    pub state: String,
    /// Age of its transaction in seconds, when it has one.
    pub transaction_age_s: Option<i64>,
    /// Its current or last query, truncated.
    pub query: String,
}

impl std::fmt::Display for Blocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pid {} ({}, {}",
            self.pid,
            if self.application_name.is_empty() {
                "no application_name"
            } else {
                &self.application_name
            },
            self.state
        )?;
        if let Some(age) = self.transaction_age_s {
            write!(f, ", transaction open for {age}s")?;
        }
        write!(f, "): {}", self.query)
    }
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
/// `monitor` is another connection to the same database (the migration lock's, which is idle
/// meanwhile): while a step runs longer than a moment, it is used to find the sessions that
/// block the step's locks, so the operator learns who they are while strata still waits.
pub async fn execute(
    session: &mut Session,
    registry: &Registry,
    local: &[Migration],
    plan: &Plan,
    opts: &ExecOptions,
    monitor: Option<&tokio_postgres::Client>,
    reporter: &mut dyn Reporter,
) -> Result<Vec<StepDone>, ExecError> {
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
        if monitor.is_some_and(|c| c.is_closed()) {
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
        if let (TransactionMode::ScriptManaged, Some(open)) = (
            shape.decision.mode,
            strata_sql::unclosed_transaction(&analysis),
        ) {
            let stmt = &analysis.statements[open];
            let mut failure = Failure::plain(&format!(
                "statement {} opens a transaction (BEGIN) that the script never commits",
                open + 1
            ));
            failure.location = Some(script.locate(stmt.range.start));
            failure.statement = Some(open + 1);
            failure.statement_summary = Some(stmt.summary.clone());
            let _ = flush_wal(&session.client, ctx.prepared).await;
            return Err(ExecError {
                done,
                key: key.to_owned(),
                action,
                path: script.file.path().to_owned(),
                failure,
                state: format!("nothing of {key} ran: psql would have rolled this transaction back at the end of the file, losing the migration silently"),
                next: format!("add the missing COMMIT to {} (or remove the BEGIN to let strata run the script in its own transaction)", script.file.path().display()),
                interrupted: false,
                blockers: Vec::new(),
                statements_done: None,
            });
        }
        if let Some((i, message)) = strata_sql::unsupported_meta(&analysis) {
            let stmt = &analysis.statements[i];
            let mut failure = Failure::plain(&message);
            failure.location = Some(script.locate(stmt.range.start));
            failure.statement = Some(i + 1);
            failure.statement_summary = Some(stmt.summary.clone());
            let _ = flush_wal(&session.client, ctx.prepared).await;
            return Err(ExecError {
                done,
                key: key.to_owned(),
                action,
                path: script.file.path().to_owned(),
                failure,
                state: format!("nothing of {key} ran: strata checks a script's psql meta-commands before running any of it"),
                next: format!("rewrite the meta-command in {} as SQL, or apply that script with psql and record it with `strata baseline VERSION` (or `strata mark`)", script.file.path().display()),
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
        let mut resume = resume_from;
        let mut attempt = 0u32;
        let mut seen_blockers: Vec<Blocker> = Vec::new();
        let result = loop {
            // A resumed run continues statement by statement whatever the file looks like now:
            // running it whole would repeat the statements that already completed.
            let step = async {
                match shape.decision.mode {
                    TransactionMode::Transactional if resume == 0 => {
                        run_transactional(session, &run, &shape).await
                    }
                    TransactionMode::Transactional => run_statements(session, &run, resume).await,
                    _ => run_statements(session, &run, resume).await,
                }
            };
            let outcome = watch_blockers(step, monitor, backend_pid, &mut |b: &[Blocker]| {
                reporter.waiting(m, b);
                for blocker in b {
                    if !seen_blockers.iter().any(|x| x.pid == blocker.pid) {
                        seen_blockers.push(blocker.clone());
                    }
                }
            })
            .await;
            match outcome {
                // lock_timeout: the transaction (or the one statement) was rolled back, so
                // trying again later is safe; a non-transactional run resumes where it stopped.
                Err(f)
                    if f.failure.sqlstate == "55P03"
                        && attempt < opts.lock_retries
                        && !opts.interrupted.load(Ordering::SeqCst) =>
                {
                    attempt += 1;
                    resume = f.statements_done.unwrap_or(resume);
                    let delay = backoff(opts.retry_delay, attempt);
                    reporter.retrying(m, attempt, opts.lock_retries, delay, &seen_blockers);
                    let until = Instant::now() + delay;
                    while Instant::now() < until && !opts.interrupted.load(Ordering::SeqCst) {
                        tokio::time::sleep(
                            Duration::from_millis(50)
                                .min(until.saturating_duration_since(Instant::now())),
                        )
                        .await;
                    }
                    if opts.interrupted.load(Ordering::SeqCst) {
                        let mut f = run.error(
                            Failure::plain("interrupted while waiting to retry after lock_timeout"),
                            format!("stopped by a signal; {key} was rolled back after its last attempt and is not applied"),
                            "run the same command again to continue".into(),
                        );
                        f.interrupted = true;
                        f.blockers = seen_blockers.clone();
                        break Err(f);
                    }
                }
                Err(mut f) => {
                    f.blockers = seen_blockers.clone();
                    if f.failure.sqlstate == "55P03" {
                        f.next = format!(
                            "{}; strata gave up after {} attempt(s) waiting for locks{} (raise --lock-timeout or --lock-retries, or end the blocking session)",
                            f.next,
                            attempt + 1,
                            if seen_blockers.is_empty() { String::new() } else { format!(" held by {}", seen_blockers.iter().map(|b| format!("pid {}", b.pid)).collect::<Vec<_>>().join(", ")) }
                        );
                    }
                    break Err(f);
                }
                Ok(()) => break Ok(()),
            }
        };
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

/// How many scripts the parsing thread works ahead of the executor.
const PARSE_AHEAD: usize = 4;

/// The analyses of the plan's apply and revert scripts, in step order, parsed on a helper
/// thread [`PARSE_AHEAD`] steps ahead of the executor. Only that many script texts are copied
/// to the thread at a time, so memory does not grow with the plan. The thread ends when the
/// executor drops this (an early return) or has taken every analysis.
struct Prefetch<'a> {
    local: &'a [Migration],
    /// The scripts of the plan's apply and revert steps: (migration index, revert?).
    order: Vec<(usize, bool)>,
    sent: usize,
    to_thread: Option<std::sync::mpsc::Sender<String>>,
    from_thread: Option<std::sync::mpsc::Receiver<(String, Analysis)>>,
}

impl<'a> Prefetch<'a> {
    fn new(local: &'a [Migration], plan: &Plan) -> Prefetch<'a> {
        let order: Vec<(usize, bool)> = plan
            .steps
            .iter()
            .filter_map(|step| match step {
                Step::Apply { index, .. } => Some((*index, false)),
                Step::Revert { index, .. } => Some((*index, true)),
                _ => None,
            })
            .collect();
        let mut prefetch = Prefetch {
            local,
            order,
            sent: 0,
            to_thread: None,
            from_thread: None,
        };
        if prefetch.order.len() > 1 {
            let (to_thread, texts) = std::sync::mpsc::channel::<String>();
            let (results, from_thread) = std::sync::mpsc::channel();
            let spawned = std::thread::Builder::new()
                .name("strata-parse".into())
                .spawn(move || {
                    for sql in texts {
                        let analysis = analyze(&sql);
                        if results.send((sql, analysis)).is_err() {
                            break;
                        }
                    }
                });
            // Without the thread (spawn refused), the executor parses each script itself.
            if spawned.is_ok() {
                prefetch.to_thread = Some(to_thread);
                prefetch.from_thread = Some(from_thread);
                for _ in 0..PARSE_AHEAD {
                    prefetch.send_one();
                }
            }
        }
        prefetch
    }

    fn send_one(&mut self) {
        let (Some(tx), Some(&(index, revert))) = (&self.to_thread, self.order.get(self.sent))
        else {
            return;
        };
        let m = &self.local[index];
        let sql = if revert {
            m.down.as_ref().map_or("", |d| d.sql())
        } else {
            m.up.sql()
        };
        let _ = tx.send(sql.to_owned());
        self.sent += 1;
    }

    /// The analysis of `script`, the next step's script. The text travels with its analysis
    /// and is compared, so a mismatch can never run one script's statement ranges against
    /// another's text; then (and without the thread) the script is parsed here.
    fn analysis(&mut self, script: &Script) -> Analysis {
        self.send_one();
        match self.from_thread.as_ref().map(|rx| rx.recv()) {
            Some(Ok((sql, analysis))) if sql == script.sql() => analysis,
            _ => analyze(script.sql()),
        }
    }
}

/// Makes every commit of this run durable. Migrations commit with `synchronous_commit = off`:
/// each commit is atomic and immediately visible, but its WAL is flushed by the WAL writer a
/// moment later instead of before the commit returns. WAL is one sequence, so one synchronous
/// commit of a transaction that writes flushes (and, with synchronous replication, waits for)
/// every earlier commit record too. This is that commit: a no-op update of the registry's own
/// version row, with the session's normal `synchronous_commit`. Only after it returns does a
/// run report success; a server crash before it can lose at most the run's last migrations,
/// each whole, never half of one, and never one without its history row.
async fn flush_wal(
    client: &tokio_postgres::Client,
    prepared: &HistoryStatements,
) -> Result<(), tokio_postgres::Error> {
    // Synchronous whatever the role's or database's default is.
    let (b, s, u, c) = tokio::join!(
        client.batch_execute("BEGIN"),
        client.batch_execute("SET LOCAL synchronous_commit = on"),
        client.execute(&prepared.flush, &[]),
        client.batch_execute("COMMIT"),
    );
    b.and(s).and(u.map(drop)).and(c)
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

const STRATA_VERSION: &str = env!("CARGO_PKG_VERSION");

#[allow(clippy::too_many_arguments)]
fn record<'a>(
    client: &'a tokio_postgres::Client,
    ctx: &'a Ctx<'_>,
    in_tx: bool,
    first_apply: bool,
    m: &'a Migration,
    key: &'a str,
    duration_ms: i64,
    state: &'a str,
    statements_done: i32,
    error: Option<&'a str>,
) -> impl std::future::Future<Output = Result<u64, tokio_postgres::Error>> + 'a {
    let version = m.id.version.as_ref().map(|v| v.to_string());
    async move {
        client
            .execute(
                // A transactional first apply (duration measured by the server) of a versioned
                // migration must insert; everything else updates its row.
                if in_tx && first_apply && m.kind == strata_model::MigrationKind::Versioned {
                    &ctx.prepared.insert_in_tx
                } else if in_tx {
                    &ctx.prepared.record_in_tx
                } else {
                    &ctx.prepared.record
                },
                &[
                    &ctx.opts.set_name,
                    &key,
                    &version,
                    &m.id.name,
                    &m.kind.as_str(),
                    &m.checksum.hex,
                    &m.checksum.algorithm.as_str(),
                    &ctx.os_user,
                    &STRATA_VERSION,
                    &duration_ms,
                    &state,
                    &statements_done,
                    &error,
                ],
            )
            .await
    }
}

fn event<'a>(
    client: &'a tokio_postgres::Client,
    ctx: &'a Ctx<'_>,
    in_tx: bool,
    key: &'a str,
    kind: &'a str,
    details: serde_json::Value,
) -> impl std::future::Future<Output = Result<u64, tokio_postgres::Error>> + 'a {
    let details = details.to_string();
    async move {
        client
            .execute(
                if in_tx {
                    &ctx.prepared.event_in_tx
                } else {
                    &ctx.prepared.event
                },
                &[
                    &ctx.opts.set_name,
                    &key,
                    &kind,
                    &ctx.os_user,
                    &ctx.host,
                    &STRATA_VERSION,
                    &details,
                ],
            )
            .await
    }
}

type Pending<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), tokio_postgres::Error>> + 'a>>;

/// True when the error is the server's answer (so the session is usable and the transaction
/// state is known), false when the connection itself failed.
fn server_answered(e: &tokio_postgres::Error) -> bool {
    e.as_db_error().is_some()
}

async fn run_transactional(
    session: &mut Session,
    run: &Run<'_>,
    shape: &ExecutionShape,
) -> Result<(), Box<ExecError>> {
    let client = &session.client;
    let ctx = run.ctx;
    let key = run.key;
    // The statements between a script's own BEGIN and COMMIT (or all of them).
    let statements: Vec<&Statement> = run
        .analysis
        .statements
        .iter()
        .filter(|s| s.range.start >= shape.body.start && s.range.end <= shape.body.end)
        .collect();
    // A verify script (sqitch) runs after the script in the same transaction, before the
    // history row: if it fails, the pipelined COMMIT rolls the deploy back with it. Queued in
    // the same pipeline, so it costs no round trip; migrations without one are unchanged.
    let verify = run.verify();
    let verify_analysis = verify.map(|v| analyze(v.sql()));
    let verify_statements = match (verify, &verify_analysis) {
        (Some(v), Some(a)) => verify_body(v, a).map_err(|f| run.verify_error(v, *f))?,
        _ => Vec::new(),
    };
    let details =
        serde_json::json!({"checksum": run.m.checksum.to_string(), "mode": "transactional"});
    let begin_params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
        [&ctx.opts.lock_timeout, &ctx.opts.statement_timeout, &key];
    let forget_params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&ctx.opts.set_name, &key];
    let restore_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&ctx.search_path];
    // One pipeline: every request is queued before any answer is awaited, each statement as its
    // own message so a failure names its statement. After a failure the server answers the rest
    // with 25P02 and the final COMMIT with ROLLBACK.
    let mut requests: Vec<Pending<'_>> =
        Vec::with_capacity(statements.len() + verify_statements.len() + 6);
    requests.push(Box::pin(client.batch_execute("BEGIN")));
    requests.push(Box::pin(async {
        client
            .query(&ctx.prepared.begin_migration, &begin_params)
            .await
            .map(drop)
    }));
    for s in &statements {
        if s.meta.is_some() {
            // Run in its place by `run_segments`.
            requests.push(Box::pin(async { Ok(()) }));
        } else {
            requests.push(Box::pin(
                client.batch_execute(&run.script.sql()[s.range.clone()]),
            ));
        }
    }
    if let Some(v) = verify {
        for s in &verify_statements {
            requests.push(Box::pin(client.batch_execute(&v.sql()[s.range.clone()])));
        }
    }
    if run.action == "revert" {
        requests.push(Box::pin(async {
            client
                .query(&ctx.prepared.forget, &forget_params)
                .await
                .map(drop)
        }));
    } else {
        requests.push(Box::pin(async {
            record(
                client,
                ctx,
                true,
                run.action == "apply",
                run.m,
                key,
                -1,
                "complete",
                0,
                None,
            )
            .await
            .map(drop)
        }));
    }
    let kind = if run.action == "revert" {
        "revert"
    } else {
        "apply"
    };
    requests.push(Box::pin(async {
        event(client, ctx, true, key, kind, details).await.map(drop)
    }));
    // `SET search_path` without LOCAL survives the commit; restore it in the same transaction
    // (no extra round trip) so one migration cannot change how the next one resolves names.
    // If anything before it failed, the rollback undoes the script's SET as well.
    requests.push(Box::pin(async {
        client
            .query(&ctx.prepared.restore_path, &restore_params)
            .await
            .map(drop)
    }));
    requests.push(Box::pin(client.batch_execute("COMMIT")));
    let metas: Vec<(usize, &Statement)> = statements
        .iter()
        .enumerate()
        .filter(|(_, s)| s.meta.is_some())
        .map(|(j, s)| (j + 2, *s))
        .collect();
    let results = if metas.is_empty() {
        futures_util::future::join_all(requests).await
    } else {
        run_segments(client, run, requests, &metas).await?
    };
    let first_failure = results
        .iter()
        .enumerate()
        .find_map(|(i, r)| r.as_ref().err().map(|e| (i, e)));
    let commit = results.last().expect("COMMIT is always queued");

    let Some((failed_at, error)) = first_failure else {
        return Ok(());
    };
    // A failure of the verify script: the deploy is rolled back with it. (When the connection
    // failed instead, the outcome is unknown: that is reported below.)
    let answered = server_answered(error) && commit.as_ref().err().is_none_or(server_answered);
    if let (Some(v), Some(a), Some(j), true) = (
        verify,
        &verify_analysis,
        failed_at
            .checked_sub(2 + statements.len())
            .filter(|j| *j < verify_statements.len()),
        answered,
    ) {
        let s = verify_statements[j];
        let mut failure = failure_from(error, Some((v, s.range.start, true)), Some(a));
        failure.statement_summary = Some(s.summary.clone());
        let _ = event(client, ctx, false, key, "fail", serde_json::json!({"action": run.action, "error": failure.message, "sqlstate": failure.sqlstate, "verify": v.file.path().display().to_string(), "mode": "transactional"})).await;
        let _ = client
            .query(&ctx.prepared.restore_path, &[&ctx.search_path])
            .await;
        let mut e = run.verify_error(v, failure);
        e.state = format!("the deploy script and its verify script ran in one transaction, which was rolled back: the database is exactly as before {} of {key}", run.action);
        return Err(e);
    }
    // A statement's failure: locate it in the file.
    let statement = failed_at.checked_sub(2).and_then(|i| statements.get(i));
    let mut failure = match statement {
        Some(s) if s.meta.is_some() => failure_from(error, None, None),
        Some(s) => failure_from(
            error,
            Some((run.script, s.range.start, true)),
            Some(run.analysis),
        ),
        None => failure_from(error, None, None),
    };
    if let Some(command) = statement.and_then(|s| s.meta.as_ref()) {
        // The server's position refers to the `COPY` strata sent: point at the command.
        failure.message = format!("`{}`: {}", command.display(), failure.message);
        failure.location = statement.map(|s| run.script.locate(s.range.start));
    }
    if let Some(s) = statement {
        failure.statement = run
            .analysis
            .statements
            .iter()
            .position(|x| std::ptr::eq(x, *s))
            .map(|i| i + 1);
        failure.statement_summary = Some(s.summary.clone());
    }
    let committed_unknown = commit.as_ref().err().is_some_and(|e| !server_answered(e));
    if committed_unknown || !server_answered(error) {
        return Err(run.error(
            failure,
            format!("the connection failed before PostgreSQL confirmed the outcome: {key} may or may not have been {}", if run.action == "revert" { "reverted" } else { "applied" }),
            "reconnect and run `strata status`: the history row commits with the migration, so it tells which happened".into(),
        ));
    }
    // Recorded after the rollback, in its own statement: the attempt leaves a trace (`status`
    // shows the migration as failed) but no effect.
    let _ = event(
        client,
        ctx,
        false,
        key,
        "fail",
        serde_json::json!({"action": run.action, "error": failure.message, "sqlstate": failure.sqlstate, "statement": failure.statement, "mode": "transactional"}),
    )
    .await;
    let _ = client
        .query(&ctx.prepared.restore_path, &[&ctx.search_path])
        .await;
    Err(run.error(
        failure,
        format!("the migration ran in one transaction and was rolled back: the database is exactly as before {} of {key}", run.action),
        format!("fix {} and run `strata {}` again", run.script.file.path().display(), run.verb()),
    ))
}

async fn run_statements(
    session: &mut Session,
    run: &Run<'_>,
    resume_from: usize,
) -> Result<(), Box<ExecError>> {
    let client = &session.client;
    let ctx = run.ctx;
    let key = run.key;
    let recording = run.action != "revert";
    let started = Instant::now();
    let statements = &run.analysis.statements;
    let total = statements.len();
    let plain = |e: &tokio_postgres::Error| failure_from(e, None, None);
    // A VALID index found on resume counts as built only when the earlier run crashed (no
    // error recorded): after a failure such an index may be someone else's, of another shape.
    // Read before the partial row is rewritten below.
    let earlier_run_crashed = (resume_from > 0 || run.action == "resume")
        && client
            .query_opt(&ctx.prepared.crashed, &[&ctx.opts.set_name, &key])
            .await
            .ok()
            .flatten()
            .is_some_and(|r| r.get::<_, bool>(0));
    let setup = async {
        client
            .query(
                "SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', $2, false)",
                &[&ctx.opts.lock_timeout, &ctx.opts.statement_timeout],
            )
            .await?;
        // A resumed run starts a new session: replay the session settings (SET search_path,
        // SET ROLE, ...) of the statements that already ran, so the rest runs as it would have.
        for s in statements.iter().take(resume_from) {
            if s.session_setting {
                client.batch_execute(&run.script.sql()[s.range.clone()]).await?;
            }
        }
        if recording {
            // The partial row exists before the first statement runs: a crash at any point
            // leaves a record of exactly how far the migration got.
            record(client, ctx, false, false, run.m, key, 0, "partial", resume_from as i32, None).await?;
        }
        Ok::<(), tokio_postgres::Error>(())
    }
    .await;
    setup.map_err(|e| {
        run.error(
            plain(&e),
            "nothing of this migration ran".into(),
            "check the connection and run the command again".into(),
        )
    })?;

    let mut committed_upto = resume_from;
    let mut in_script_tx = false;
    let resuming = resume_from > 0 || run.action == "resume";

    let mut rebuilt: Vec<String> = Vec::new();
    for (i, stmt) in statements.iter().enumerate().skip(resume_from) {
        if ctx.opts.interrupted.load(Ordering::SeqCst) && i > resume_from {
            if in_script_tx {
                let _ = client.batch_execute("ROLLBACK").await;
            }
            let _ = client
                .batch_execute("RESET lock_timeout; RESET statement_timeout")
                .await;
            let mut e = run.error(
                Failure::plain("interrupted between statements"),
                format!("stopped by a signal after statement {committed_upto} of {total}; the completed statements are recorded and {key} is marked partial"),
                format!("run `strata up` to resume {key} from statement {}", committed_upto + 1),
            );
            e.statements_done = Some(committed_upto);
            return Err(e);
        }
        let text = &run.script.sql()[stmt.range.clone()];
        // A failed or interrupted CREATE INDEX CONCURRENTLY leaves an INVALID index behind;
        // building it again would fail with "already exists". Drop it (concurrently, so writes
        // go on) and build it anew. When resuming, a VALID one means the build finished but
        // its progress row was not written: it counts as done.
        if let Some(index) = &stmt.concurrent_index {
            let validity = client
                .query_opt(
                    "SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass($1)",
                    &[index],
                )
                .await
                .map_err(|e| {
                    run.error(
                        plain(&e),
                        format!("{committed_upto} of {total} statement(s) completed"),
                        "check the connection and run `strata up` to resume".into(),
                    )
                })?
                .map(|r| r.get::<_, bool>(0));
            match validity {
                Some(false) => {
                    client.batch_execute(&format!("DROP INDEX CONCURRENTLY {index}")).await.map_err(|e| {
                        run.error(
                            failure_from(&e, None, None),
                            format!("{committed_upto} of {total} statement(s) completed; the INVALID index {index} left by an earlier attempt could not be dropped"),
                            format!("drop it by hand (DROP INDEX CONCURRENTLY {index}), then run `strata up`"),
                        )
                    })?;
                    rebuilt.push(index.clone());
                }
                Some(true) if earlier_run_crashed && i == resume_from && recording => {
                    committed_upto = i + 1;
                    client
                        .execute(
                            &ctx.prepared.progress,
                            &[
                                &ctx.opts.set_name,
                                &key,
                                &(committed_upto as i32),
                                &None::<String>,
                                &strata_sql::fingerprint(
                                    run.script.sql(),
                                    run.analysis,
                                    committed_upto,
                                ),
                            ],
                        )
                        .await
                        .map_err(|e| {
                            run.error(
                                plain(&e),
                                format!("{committed_upto} of {total} statement(s) completed"),
                                "run `strata up` to resume".into(),
                            )
                        })?;
                    continue;
                }
                _ => {}
            }
        }
        let next_fingerprint = strata_sql::fingerprint(run.script.sql(), run.analysis, i + 1);
        let progress_params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] = [
            &ctx.opts.set_name,
            &key,
            &((i + 1) as i32),
            &None::<String>,
            &next_fingerprint,
        ];
        // Outside the script's own transactions, a statement that may run in a transaction
        // commits together with its progress row: a crash can never run it twice on resume.
        // Outside the script's own transactions, a statement that may run in a transaction
        // commits together with its progress row (never CALL/DO, which may commit themselves);
        // inside one, the progress row is written just before the script's COMMIT, in the same
        // transaction. Either way a crash can never run a completed statement twice.
        let atomic = recording
            && !in_script_tx
            && !stmt.needs_autocommit
            && !stmt.procedural
            && stmt.transaction_control.is_none();
        if recording && in_script_tx && stmt.transaction_control == Some(TransactionControl::Commit)
        {
            let fp = strata_sql::fingerprint(run.script.sql(), run.analysis, i + 1);
            if let Err(e) = client
                .execute(
                    &ctx.prepared.progress,
                    &[
                        &ctx.opts.set_name,
                        &key,
                        &((i + 1) as i32),
                        &None::<String>,
                        &fp,
                    ],
                )
                .await
            {
                let _ = client.batch_execute("ROLLBACK").await;
                let mut err = run.error(
                    failure_from(&e, None, None),
                    format!("the script's transaction was rolled back; {committed_upto} of {total} statement(s) completed"),
                    format!("run `strata up` to resume {key} from statement {}", committed_upto + 1),
                );
                err.statements_done = Some(committed_upto);
                return Err(err);
            }
        }
        let outcome = match (atomic, stmt.meta.is_some()) {
            (true, false) => {
                let (b, r, p, c) = tokio::join!(
                    client.batch_execute("BEGIN"),
                    client.batch_execute(text),
                    client.execute(&ctx.prepared.progress, &progress_params),
                    client.batch_execute("COMMIT"),
                );
                b.and(r).and(p.map(drop)).and(c).map_err(MetaError::Server)
            }
            // A `\copy` commits with its progress row too, but it must run alone: it streams
            // its data before anything else can be sent.
            (true, true) => {
                let mut outcome = client
                    .batch_execute("BEGIN")
                    .await
                    .map_err(MetaError::Server);
                if outcome.is_ok() {
                    outcome = run.meta(client, stmt).await;
                }
                if outcome.is_ok() {
                    outcome = client
                        .execute(&ctx.prepared.progress, &progress_params)
                        .await
                        .map(drop)
                        .map_err(MetaError::Server);
                }
                match outcome {
                    Ok(()) => client
                        .batch_execute("COMMIT")
                        .await
                        .map_err(MetaError::Server),
                    Err(e) => {
                        let _ = client.batch_execute("ROLLBACK").await;
                        Err(e)
                    }
                }
            }
            (false, true) => run.meta(client, stmt).await,
            (false, false) => client.batch_execute(text).await.map_err(MetaError::Server),
        };
        if let Err(err) = outcome {
            if in_script_tx {
                let _ = client.batch_execute("ROLLBACK").await;
            }
            let _ = client
                .batch_execute("RESET lock_timeout; RESET statement_timeout")
                .await;
            let answered = match &err {
                MetaError::Server(e) => server_answered(e),
                MetaError::Client(_) => true,
            };
            let failure = match (&err, stmt.meta.is_some()) {
                (MetaError::Server(e), false) => failure_from(
                    e,
                    Some((run.script, stmt.range.start, true)),
                    Some(run.analysis),
                ),
                _ => run.meta_failure(stmt, &err),
            };
            let invalid_index = match &stmt.concurrent_index {
                Some(index) => client
                    .query_opt("SELECT NOT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass($1)", &[index])
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|r| r.get::<_, bool>(0))
                    .then(|| format!("; it left the INVALID index {index} behind, which `strata up` drops and rebuilds")),
                None => None,
            }
            .unwrap_or_default();
            if !answered {
                return Err(run.error(
                    failure,
                    format!("the connection failed during statement {} of {total}; statements 1..{committed_upto} are recorded as done, statement {} may or may not have completed", i + 1, i + 1),
                    format!("reconnect, check statement {} of {} by hand, then run `strata up` to resume", i + 1, run.script.file.path().display()),
                ));
            }
            let (state, next) = if !recording {
                (
                    format!(
                        "the down script runs outside a transaction: statements {} of {total} completed, statement {} failed; {key} is still recorded as applied",
                        if committed_upto == 0 { "none".to_string() } else { format!("1..{committed_upto}") },
                        i + 1
                    ),
                    format!(
                        "finish or undo the remaining statements of {} by hand, then run `strata down` again once the down script can run from the start",
                        run.script.file.path().display()
                    ),
                )
            } else {
                let message = Some(failure.message.clone());
                let _ = client
                    .execute(
                        &ctx.prepared.progress,
                        &[
                            &ctx.opts.set_name,
                            &key,
                            &(committed_upto as i32),
                            &message,
                            &strata_sql::fingerprint(
                                run.script.sql(),
                                run.analysis,
                                committed_upto,
                            ),
                        ],
                    )
                    .await;
                let _ = event(client, ctx, false, key, "fail", serde_json::json!({"statement": i + 1, "statements_done": committed_upto, "error": failure.message})).await;
                (
                    format!("the migration runs outside a transaction: {committed_upto} of {total} statement(s) completed and are recorded; {key} is marked partial{invalid_index}"),
                    format!("fix the cause, then run `strata up` to resume {key} from statement {}", committed_upto + 1),
                )
            };
            let mut e = run.error(failure, state, next);
            e.statements_done = Some(committed_upto);
            return Err(e);
        }
        match stmt.transaction_control {
            Some(TransactionControl::Begin) => in_script_tx = true,
            Some(TransactionControl::Commit | TransactionControl::Rollback) => {
                in_script_tx = false;
                committed_upto = i + 1;
            }
            _ if !in_script_tx => committed_upto = i + 1,
            _ => {}
        }
        let written_with_commit =
            recording && stmt.transaction_control == Some(TransactionControl::Commit);
        if recording && !in_script_tx && !atomic && !written_with_commit {
            client
                .execute(&ctx.prepared.progress, &[&ctx.opts.set_name, &key, &(committed_upto as i32), &None::<String>, &strata_sql::fingerprint(run.script.sql(), run.analysis, committed_upto)])
                .await
                .map_err(|e| {
                    run.error(
                        plain(&e),
                        format!("{committed_upto} of {total} statement(s) completed, but the last one's progress may not be recorded"),
                        "run `strata status`, check the last statement by hand, then `strata up` to resume".into(),
                    )
                })?;
        }
    }
    let finish = async {
        client.batch_execute("RESET lock_timeout; RESET statement_timeout").await?;
        client.query(&ctx.prepared.restore_path, &[&ctx.search_path]).await?;
        let details = serde_json::json!({"checksum": run.m.checksum.to_string(), "mode": "non_transactional", "resumed_from": resume_from, "rebuilt_invalid_indexes": rebuilt});
        client.batch_execute("BEGIN").await?;
        client.query(&ctx.prepared.mark_migration, &[&key]).await?;
        if recording {
            let ms = started.elapsed().as_millis() as i64;
            record(client, ctx, true, false, run.m, key, ms, "complete", total as i32, None).await?;
            event(client, ctx, true, key, if resuming { "resume" } else { "apply" }, details).await?;
        } else {
            client.query(&ctx.prepared.forget, &[&ctx.opts.set_name, &key]).await?;
            event(client, ctx, true, key, "revert", details).await?;
        }
        client.batch_execute("COMMIT").await
    }
    .await;
    match finish {
        Ok(()) => verify_after(client, run, total).await,
        Err(e) => {
            if server_answered(&e) {
                let _ = client.batch_execute("ROLLBACK").await;
            }
            Err(run.error(
                plain(&e),
                format!("all {total} statement(s) ran but the history could not be updated"),
                "run `strata status`; the migration's effects are in place".into(),
            ))
        }
    }
}

/// Records an operator's decision (`repair --mark-*`, `accept`) with its reason, in one
/// transaction with the event that says who decided and why.
async fn record_decision(
    client: &tokio_postgres::Client,
    ctx: &Ctx<'_>,
    step: &Step,
    local: &[Migration],
) -> Result<(), tokio_postgres::Error> {
    let reason = ctx.opts.reason.clone().unwrap_or_default();
    client.batch_execute("BEGIN").await?;
    match step {
        Step::Mark {
            index,
            key,
            applied: true,
        } => {
            let m = &local[index.expect("planner: marking applied needs the file")];
            record(client, ctx, false, false, m, key, 0, "complete", 0, None).await?;
            event(client, ctx, false, key, "mark", serde_json::json!({"decision": "applied", "reason": reason, "checksum": m.checksum.to_string()})).await?;
        }
        Step::Mark { key, .. } => {
            client.query(&ctx.prepared.mark_migration, &[key]).await?;
            client
                .query(&ctx.prepared.forget, &[&ctx.opts.set_name, key])
                .await?;
            event(
                client,
                ctx,
                false,
                key,
                "mark",
                serde_json::json!({"decision": "reverted", "reason": reason}),
            )
            .await?;
        }
        Step::Accept { index, key } => {
            let m = &local[*index];
            let old: String = client
                .query_one(
                    &ctx.prepared.accept,
                    &[
                        &ctx.opts.set_name,
                        key,
                        &m.checksum.hex,
                        &m.checksum.algorithm.as_str(),
                    ],
                )
                .await?
                .get(0);
            event(client, ctx, false, key, "accept", serde_json::json!({"reason": reason, "old_checksum": old, "new_checksum": m.checksum.hex})).await?;
        }
        _ => {}
    }
    client.batch_execute("COMMIT").await
}

/// The statements of a verify script that run inside the deploy's transaction: sqitch's
/// template wraps them in `BEGIN; ... ROLLBACK;`, which cannot nest in strata's transaction, so
/// a leading `BEGIN` and a final `ROLLBACK` or `COMMIT` are left out. A verify script should
/// only read; anything it writes commits with the deploy. Other transaction control, and
/// statements PostgreSQL refuses inside a transaction, are refused before anything runs.
fn verify_body<'a>(v: &Script, analysis: &'a Analysis) -> Result<Vec<&'a Statement>, Box<Failure>> {
    let all = &analysis.statements;
    let mut body: &[Statement] = all;
    if body.first().and_then(|s| s.transaction_control) == Some(TransactionControl::Begin) {
        body = &body[1..];
        if matches!(
            body.last().and_then(|s| s.transaction_control),
            Some(TransactionControl::Rollback | TransactionControl::Commit)
        ) {
            body = &body[..body.len() - 1];
        }
    }
    if let Some(s) = body.iter().find(|s| {
        s.needs_autocommit
            || s.transaction_control
                .is_some_and(|c| c != TransactionControl::Savepoint)
            || s.meta.as_ref().is_some_and(|m| {
                !matches!(
                    m.support(),
                    strata_sql::MetaSupport::Ignored | strata_sql::MetaSupport::Echo
                )
            })
    }) {
        let mut f = Failure::plain(&match &s.meta {
            Some(m) => m.unsupported_message().unwrap_or_else(|| {
                format!("the verify script's `{}` is not supported in a verify script: a verify script only reads", m.display())
            }),
            None => format!(
                "the verify script's statement `{}` cannot run inside the deploy's transaction",
                s.summary
            ),
        });
        f.location = Some(v.locate(s.range.start));
        f.statement_summary = Some(s.summary.clone());
        return Err(Box::new(f));
    }
    // Display settings and `\echo` change nothing a check does.
    Ok(body.iter().filter(|s| s.meta.is_none()).collect())
}

/// Runs the verify script of a migration that ran outside a transaction, after its history
/// row committed (a deploy that is not atomic cannot be rolled back by a failing check). The
/// verify statements run in a transaction of their own that is rolled back, as sqitch runs
/// them; a failure leaves the migration applied and recorded and says so.
async fn verify_after(
    client: &tokio_postgres::Client,
    run: &Run<'_>,
    total: usize,
) -> Result<(), Box<ExecError>> {
    let Some(v) = run.verify() else {
        return Ok(());
    };
    let analysis = analyze(v.sql());
    let body = verify_body(v, &analysis).map_err(|f| run.verify_error(v, *f))?;
    let mut requests: Vec<Pending<'_>> = Vec::with_capacity(body.len() + 2);
    requests.push(Box::pin(client.batch_execute("BEGIN")));
    for s in &body {
        requests.push(Box::pin(client.batch_execute(&v.sql()[s.range.clone()])));
    }
    requests.push(Box::pin(client.batch_execute("ROLLBACK")));
    let results = futures_util::future::join_all(requests).await;
    let Some((i, error)) = results
        .iter()
        .enumerate()
        .find_map(|(i, r)| r.as_ref().err().map(|e| (i, e)))
    else {
        return Ok(());
    };
    let failure = match i.checked_sub(1).and_then(|j| body.get(j)) {
        Some(s) => failure_from(error, Some((v, s.range.start, true)), Some(&analysis)),
        None => failure_from(error, None, None),
    };
    if server_answered(error) {
        let _ = event(client, run.ctx, false, run.key, "fail", serde_json::json!({"action": run.action, "error": failure.message, "sqlstate": failure.sqlstate, "verify": v.file.path().display().to_string(), "mode": "non_transactional"})).await;
    }
    let mut e = run.verify_error(v, failure);
    e.state = format!("{} ran outside a transaction, so it cannot be rolled back: all {total} statement(s) completed and it is recorded as applied, but its verify script then failed", run.key);
    e.next = format!("inspect the database: fix what the deploy left wrong by hand (or revert it with `strata down`), then check again by running {} with psql", v.file.path().display());
    // A retry (lock_timeout) resumes after the last statement: only the check runs again.
    e.statements_done = Some(total);
    Err(e)
}

/// Exponential backoff with jitter: `base * 2^(attempt-1)`, capped at 30 s, scaled by a
/// random factor in [0.75, 1.25) so that several blocked runs do not retry in lockstep.
fn backoff(base: Duration, attempt: u32) -> Duration {
    let exp = base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(Duration::from_secs(30));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut x = u64::from(nanos) ^ (u64::from(std::process::id()) << 32) ^ u64::from(attempt);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    let factor = 0.75 + (x % 1000) as f64 / 2000.0;
    exp.mul_f64(factor)
}

/// Runs `step`; once it has taken longer than a moment, looks every second for sessions that
/// block the executing backend and reports each new set of them.
async fn watch_blockers<F: std::future::Future>(
    step: F,
    monitor: Option<&tokio_postgres::Client>,
    backend_pid: i32,
    on_blocked: &mut dyn FnMut(&[Blocker]),
) -> F::Output {
    let Some(monitor) = monitor else {
        return step.await;
    };
    tokio::pin!(step);
    let mut ticks = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_millis(700),
        Duration::from_secs(1),
    );
    let mut last: Vec<i32> = Vec::new();
    loop {
        tokio::select! {
            out = &mut step => return out,
            _ = ticks.tick() => {
                if let Ok(blockers) = blockers_of(monitor, backend_pid).await {
                    let pids: Vec<i32> = blockers.iter().map(|b| b.pid).collect();
                    if !blockers.is_empty() && pids != last {
                        on_blocked(&blockers);
                    }
                    last = pids;
                }
            }
        }
    }
}

/// The sessions `pg_blocking_pids` names for a backend, with what an operator needs to act.
pub async fn blockers_of(
    client: &tokio_postgres::Client,
    pid: i32,
) -> Result<Vec<Blocker>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.state, ''), \
                    extract(epoch FROM now() - a.xact_start)::bigint, left(coalesce(a.query, ''), 200) \
             FROM pg_stat_activity a WHERE a.pid = ANY (pg_blocking_pids($1)) ORDER BY a.pid",
            &[&pid],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Blocker {
            pid: r.get(0),
            application_name: r.get(1),
            state: r.get(2),
            transaction_age_s: r.get(3),
            query: r
                .get::<_, String>(4)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        })
        .collect())
}

impl Failure {
    fn plain(message: &str) -> Failure {
        Failure {
            sqlstate: String::new(),
            severity: "ERROR".into(),
            message: message.to_owned(),
            detail: None,
            hint: None,
            context: None,
            location: None,
            statement: None,
            statement_summary: None,
        }
    }
}

/// Maps a driver error to a [`Failure`]; `sent` is the script and the byte offset in it of the
/// text that was sent, used to turn the server's character position into a file position.
fn failure_from(
    e: &tokio_postgres::Error,
    sent: Option<(&Script, usize, bool)>,
    analysis: Option<&Analysis>,
) -> Failure {
    let Some(db) = e.as_db_error() else {
        return Failure {
            sqlstate: String::new(),
            severity: "ERROR".into(),
            message: e.to_string(),
            detail: None,
            hint: None,
            context: None,
            location: None,
            statement: None,
            statement_summary: None,
        };
    };
    let mut byte_in_script = None;
    if let Some((script, offset, single_statement)) = sent {
        let sent_text = &script.sql()[offset..];
        byte_in_script = match db.position() {
            Some(ErrorPosition::Original(p)) => {
                Some(offset + char_pos_to_byte(sent_text, *p as usize))
            }
            _ => None,
        };
        if byte_in_script.is_none() && single_statement {
            byte_in_script = Some(offset);
        }
    }
    let (statement, statement_summary, stmt_start) = match (analysis, byte_in_script) {
        (Some(a), Some(b)) => a
            .statements
            .iter()
            .enumerate()
            .find(|(_, s)| s.range.start <= b && b <= s.range.end)
            .map(|(i, s)| (Some(i + 1), Some(s.summary.clone()), Some(s.range.start)))
            .unwrap_or((None, None, None)),
        _ => (None, None, None),
    };
    let location =
        sent.and_then(|(script, _, _)| byte_in_script.or(stmt_start).map(|b| script.locate(b)));
    let mut context = db.where_().map(str::to_owned);
    if let Some(ErrorPosition::Internal { position, query }) = db.position() {
        let note = format!("internal query (position {position}): {query}");
        context = Some(match context {
            Some(c) => format!("{c}\n{note}"),
            None => note,
        });
    }
    Failure {
        sqlstate: db.code().code().to_owned(),
        severity: db.severity().to_owned(),
        message: db.message().to_owned(),
        detail: db.detail().map(str::to_owned),
        hint: db.hint().map(str::to_owned),
        context,
        location,
        statement,
        statement_summary,
    }
}

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

/// Runs a transactional pipeline whose script holds meta-commands (`metas`: request index and
/// statement). A `\copy` streams its data before anything else may be sent, so the requests
/// before it are pipelined and awaited, the command runs, and the next segment follows; the
/// results line up with `requests` as `join_all` would return them. After a statement failed,
/// later meta-commands are skipped (their placeholders answer `Ok`) and the rest is still sent,
/// so the server turns the final `COMMIT` into `ROLLBACK` as usual. When strata's own part of a
/// meta-command fails (a missing file, a failing program), nothing after it is sent: the
/// transaction is rolled back here and the error returned.
async fn run_segments<'a>(
    client: &tokio_postgres::Client,
    run: &Run<'_>,
    requests: Vec<Pending<'a>>,
    metas: &[(usize, &Statement)],
) -> Result<Vec<Result<(), tokio_postgres::Error>>, Box<ExecError>> {
    let total = requests.len();
    let mut results = Vec::with_capacity(total);
    let mut rest = requests.into_iter();
    for &(at, s) in metas {
        let segment: Vec<Pending<'a>> = rest.by_ref().take(at - results.len()).collect();
        results.extend(futures_util::future::join_all(segment).await);
        let _placeholder = rest.next();
        if results.iter().any(Result::is_err) {
            results.push(Ok(()));
            continue;
        }
        match run.meta(client, s).await {
            Ok(()) => results.push(Ok(())),
            Err(MetaError::Server(e)) => results.push(Err(e)),
            Err(client_error) => {
                drop(rest);
                let _ = client.batch_execute("ROLLBACK").await;
                let failure = run.meta_failure(s, &client_error);
                let ctx = run.ctx;
                let _ = event(client, ctx, false, run.key, "fail", serde_json::json!({"action": run.action, "error": failure.message, "statement": failure.statement, "mode": "transactional"})).await;
                let _ = client
                    .query(&ctx.prepared.restore_path, &[&ctx.search_path])
                    .await;
                return Err(run.error(
                    failure,
                    format!("the migration ran in one transaction and was rolled back: the database is exactly as before {} of {}", run.action, run.key),
                    format!("fix the cause (or {}) and run `strata {}` again", run.script.file.path().display(), run.verb()),
                ));
            }
        }
    }
    results.extend(futures_util::future::join_all(rest).await);
    debug_assert_eq!(results.len(), total);
    Ok(results)
}
