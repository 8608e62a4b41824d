//! The executor: runs the steps of a [`Plan`], nothing more.
//!
//! Transactional migrations are sent as one pipeline — `BEGIN`, the timeouts, the script, the
//! history row, the event, `COMMIT` — so a migration costs one round trip and its history row
//! commits with it: if the script fails, PostgreSQL turns the pipelined `COMMIT` into a
//! `ROLLBACK` and nothing of the migration remains. Migrations that cannot run in a transaction
//! run statement by statement, and the registry records after each statement how far they got,
//! so a failure can be resumed exactly where it stopped.

use crate::registry::Registry;
use crate::session::{Notice, Session};
use std::path::PathBuf;
use std::time::Instant;
use strata_model::{char_pos_to_byte, LineCol, Migration, Script, TransactionMode};
use strata_plan::{ApplyReason, Plan, Step};
use strata_sql::{analyze, decide_transaction_mode, Analysis, ExecutionShape, TransactionControl};
use tokio_postgres::error::ErrorPosition;
use tokio_postgres::Statement as Prepared;

/// Settings for one run.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// The set's name (keys its history).
    pub set_name: String,
    /// `lock_timeout` for migration statements, in PostgreSQL syntax (`5s`, `500ms`, `0`).
    pub lock_timeout: String,
    /// `statement_timeout` for migration statements.
    pub statement_timeout: String,
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
}

struct Prepared3 {
    timeouts_local: Prepared,
    record: Prepared,
    event: Prepared,
    forget: Prepared,
    progress: Prepared,
    restore_path: Prepared,
}

/// Runs a plan's steps against `session`. The caller holds the migration lock and has ensured
/// the registry exists.
pub async fn execute(
    session: &mut Session,
    registry: &Registry,
    local: &[Migration],
    plan: &Plan,
    opts: &ExecOptions,
    reporter: &mut dyn Reporter,
) -> Result<Vec<StepDone>, ExecError> {
    let mut done = Vec::new();
    if plan.steps.is_empty() {
        return Ok(done);
    }
    let fail_early = |e: tokio_postgres::Error, done: &Vec<StepDone>| ExecError {
        done: done.clone(),
        key: String::new(),
        action: "preparation",
        path: PathBuf::new(),
        failure: failure_from(&e, None, None),
        state: "nothing was changed".into(),
        next: "check the connection and the registry schema".into(),
    };
    let prepared = prepare(&session.client, registry)
        .await
        .map_err(|e| fail_early(e, &done))?;
    let search_path: String = session
        .client
        .query_one("SELECT current_setting('search_path')", &[])
        .await
        .map_err(|e| fail_early(e, &done))?
        .get(0);
    let ctx = Ctx {
        opts,
        prepared: &prepared,
        search_path,
        os_user: crate::who::os_user(),
        host: crate::who::host_name(),
    };

    // Baselines of one run are recorded together: all or nothing.
    let baselines: Vec<usize> = plan
        .steps
        .iter()
        .filter_map(|s| {
            if let Step::Baseline { index } = s {
                Some(*index)
            } else {
                None
            }
        })
        .collect();
    if !baselines.is_empty() {
        let started = Instant::now();
        let result = async {
            session.client.batch_execute("BEGIN").await?;
            for &i in &baselines {
                let m = &local[i];
                record(&session.client, &ctx, m, 0, "complete", 0, None).await?;
                event(
                    &session.client,
                    &ctx,
                    &m.id.registry_key(),
                    "baseline",
                    serde_json::json!({"checksum": m.checksum.to_string()}),
                )
                .await?;
            }
            session.client.batch_execute("COMMIT").await
        }
        .await;
        if let Err(e) = result {
            let _ = session.client.batch_execute("ROLLBACK").await;
            return Err(ExecError {
                done,
                key: local[baselines[0]].id.registry_key(),
                action: "baseline",
                path: local[baselines[0]].path().to_owned(),
                failure: failure_from(&e, None, None),
                state: "nothing was recorded".into(),
                next: "fix the cause above and run `strata baseline` again".into(),
            });
        }
        for &i in &baselines {
            let d = StepDone {
                key: local[i].id.registry_key(),
                action: "baseline",
                duration_ms: started.elapsed().as_millis() as u64,
                mode: TransactionMode::Transactional,
            };
            reporter.step_finished(&d);
            done.push(d);
        }
    }

    for step in &plan.steps {
        let (index, action, resume_from) = match step {
            Step::Baseline { .. } => continue,
            Step::Apply {
                index,
                resume_from,
                reason,
            } => (
                *index,
                if *reason == ApplyReason::Resume {
                    "resume"
                } else {
                    "apply"
                },
                *resume_from,
            ),
            Step::Revert { index } => (*index, "revert", 0),
        };
        let m = &local[index];
        let script = if action == "revert" {
            m.down.as_ref().expect("planner checked the down script")
        } else {
            &m.up
        };
        let analysis = analyze(script.sql());
        let shape = decide_transaction_mode(script.sql(), &analysis, &script.directives);
        reporter.step_started(m, action, shape.decision.mode);
        let started = Instant::now();
        let result = match shape.decision.mode {
            TransactionMode::Transactional => {
                run_transactional(session, &ctx, m, script, &analysis, &shape, action).await
            }
            TransactionMode::NonTransactional | TransactionMode::ScriptManaged => {
                run_statements(
                    session,
                    &ctx,
                    m,
                    script,
                    &analysis,
                    shape.decision.mode,
                    action,
                    resume_from,
                )
                .await
            }
        };
        for n in session.drain_notices() {
            reporter.notice(m, &n);
        }
        match result {
            Ok(()) => {
                let d = StepDone {
                    key: m.id.registry_key(),
                    action,
                    duration_ms: started.elapsed().as_millis() as u64,
                    mode: shape.decision.mode,
                };
                reporter.step_finished(&d);
                done.push(d);
            }
            Err(mut failure) => {
                failure.done = done;
                return Err(*failure);
            }
        }
    }
    Ok(done)
}

struct Ctx<'a> {
    opts: &'a ExecOptions,
    prepared: &'a Prepared3,
    search_path: String,
    os_user: String,
    host: String,
}

async fn prepare(
    client: &tokio_postgres::Client,
    registry: &Registry,
) -> Result<Prepared3, tokio_postgres::Error> {
    let migrations = registry.table("migrations");
    let events = registry.table("events");
    Ok(Prepared3 {
        timeouts_local: client.prepare("SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', $2, true)").await?,
        record: client
            .prepare(&format!(
                "INSERT INTO {migrations} AS m (set_name, key, version, name, kind, checksum, checksum_algorithm, applied_by_os_user, strata_version, duration_ms, state, statements_done, error) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, CASE WHEN $10::bigint < 0 THEN (extract(epoch FROM clock_timestamp() - now()) * 1000)::bigint ELSE $10::bigint END, $11, $12, $13) \
                 ON CONFLICT (set_name, key) DO UPDATE SET version = EXCLUDED.version, name = EXCLUDED.name, kind = EXCLUDED.kind, checksum = EXCLUDED.checksum, \
                 checksum_algorithm = EXCLUDED.checksum_algorithm, applied_at = clock_timestamp(), applied_by_role = current_user, \
                 applied_by_os_user = EXCLUDED.applied_by_os_user, strata_version = EXCLUDED.strata_version, duration_ms = EXCLUDED.duration_ms, \
                 state = EXCLUDED.state, statements_done = EXCLUDED.statements_done, error = EXCLUDED.error"
            ))
            .await?,
        event: client
            .prepare(&format!(
                "INSERT INTO {events} (set_name, key, kind, by_os_user, host, strata_version, details) VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb)"
            ))
            .await?,
        forget: client.prepare(&format!("DELETE FROM {migrations} WHERE set_name = $1 AND key = $2")).await?,
        progress: client.prepare(&format!("UPDATE {migrations} SET statements_done = $3, error = $4 WHERE set_name = $1 AND key = $2")).await?,
        restore_path: client.prepare("SELECT set_config('search_path', $1, false)").await?,
    })
}

const STRATA_VERSION: &str = env!("CARGO_PKG_VERSION");

#[allow(clippy::too_many_arguments)]
fn record<'a>(
    client: &'a tokio_postgres::Client,
    ctx: &'a Ctx<'_>,
    m: &'a Migration,
    duration_ms: i64,
    state: &'a str,
    statements_done: i32,
    error: Option<&'a str>,
) -> impl std::future::Future<Output = Result<u64, tokio_postgres::Error>> + 'a {
    let key = m.id.registry_key();
    let version = m.id.version.as_ref().map(|v| v.to_string());
    async move {
        client
            .execute(
                &ctx.prepared.record,
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
    key: &'a str,
    kind: &'a str,
    details: serde_json::Value,
) -> impl std::future::Future<Output = Result<u64, tokio_postgres::Error>> + 'a {
    let details = details.to_string();
    async move {
        client
            .execute(
                &ctx.prepared.event,
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

fn first_error(
    results: Vec<Result<(), tokio_postgres::Error>>,
) -> Result<(), tokio_postgres::Error> {
    results.into_iter().collect()
}

async fn run_transactional(
    session: &mut Session,
    ctx: &Ctx<'_>,
    m: &Migration,
    script: &Script,
    analysis: &Analysis,
    shape: &ExecutionShape,
    action: &'static str,
) -> Result<(), Box<ExecError>> {
    let client = &session.client;
    let body = &script.sql()[shape.body.clone()];
    let key = m.id.registry_key();
    let details = serde_json::json!({"checksum": m.checksum.to_string(), "mode": "transactional"});
    // One pipeline: every request is queued before any answer is awaited. On failure the
    // remaining requests fail with 25P02 and the final COMMIT is answered with ROLLBACK.
    let timeout_params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] =
        [&ctx.opts.lock_timeout, &ctx.opts.statement_timeout];
    let (begin, timeouts, run, history, logged, commit) = tokio::join!(
        client.batch_execute("BEGIN"),
        client.query(&ctx.prepared.timeouts_local, &timeout_params),
        client.batch_execute(body),
        async {
            if action == "revert" {
                client
                    .execute(&ctx.prepared.forget, &[&ctx.opts.set_name, &key])
                    .await
            } else {
                record(client, ctx, m, -1, "complete", 0, None).await
            }
        },
        event(
            client,
            ctx,
            &key,
            if action == "revert" {
                "revert"
            } else {
                "apply"
            },
            details
        ),
        client.batch_execute("COMMIT"),
    );
    // COMMIT answered (even as ROLLBACK after an error) means the transaction is closed; only
    // when it was not processed (connection trouble) may one still be open.
    let commit_processed = commit.is_ok();
    let outcome = first_error(vec![
        begin,
        timeouts.map(drop),
        run,
        history.map(drop),
        logged.map(drop),
        commit,
    ]);
    // `SET search_path` without LOCAL survives the commit; restore it so one migration cannot
    // change how the next one resolves names.
    let restore = client
        .query(&ctx.prepared.restore_path, &[&ctx.search_path])
        .await;
    match outcome.and(restore.map(drop)) {
        Ok(()) => Ok(()),
        Err(e) => {
            if !commit_processed {
                let _ = client.batch_execute("ROLLBACK").await;
            }
            let failure = failure_from(&e, Some((script, shape.body.start, false)), Some(analysis));
            // Recorded after the rollback, in its own statement: the attempt leaves a trace
            // (`status` shows the migration as failed) but no effect.
            let _ = event(
                client,
                ctx,
                &key,
                "fail",
                serde_json::json!({"action": action, "error": failure.message, "sqlstate": failure.sqlstate, "mode": "transactional"}),
            )
            .await;
            Err(Box::new(ExecError {
                done: Vec::new(),
                key: key.clone(),
                action,
                path: script.file.path().to_owned(),
                failure,
                state: format!("the migration ran in one transaction and was rolled back: the database is exactly as before {action} of {key}"),
                next: format!("fix {} and run `strata {}` again", script.file.path().display(), if action == "revert" { "down" } else { "up" }),
            }))
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_statements(
    session: &mut Session,
    ctx: &Ctx<'_>,
    m: &Migration,
    script: &Script,
    analysis: &Analysis,
    mode: TransactionMode,
    action: &'static str,
    resume_from: usize,
) -> Result<(), Box<ExecError>> {
    let client = &session.client;
    let key = m.id.registry_key();
    let started = Instant::now();
    let total = analysis.statements.len();
    let wrap = |e: tokio_postgres::Error, state: String, next: String| {
        Box::new(ExecError {
            done: Vec::new(),
            key: key.clone(),
            action,
            path: script.file.path().to_owned(),
            failure: failure_from(&e, None, None),
            state,
            next,
        })
    };
    let setup = async {
        client
            .query("SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', $2, false)", &[&ctx.opts.lock_timeout, &ctx.opts.statement_timeout])
            .await?;
        if action != "revert" {
            // The partial row exists before the first statement runs: a crash at any point
            // leaves a record of exactly how far the migration got.
            record(client, ctx, m, 0, "partial", resume_from as i32, None).await?;
        }
        Ok::<(), tokio_postgres::Error>(())
    }
    .await;
    setup.map_err(|e| {
        wrap(
            e,
            "nothing of this migration ran".into(),
            "check the connection and run the command again".into(),
        )
    })?;

    let mut committed_upto = resume_from;
    let mut in_script_tx = false;
    for (i, stmt) in analysis.statements.iter().enumerate().skip(resume_from) {
        let text = &script.sql()[stmt.range.clone()];
        if let Err(e) = client.batch_execute(text).await {
            if in_script_tx || mode == TransactionMode::ScriptManaged {
                let _ = client.batch_execute("ROLLBACK").await;
            }
            let _ = client
                .batch_execute("RESET lock_timeout; RESET statement_timeout")
                .await;
            let failure = failure_from(&e, Some((script, stmt.range.start, true)), Some(analysis));
            let message = failure.message.clone();
            let (state, next) = if action == "revert" {
                (
                    format!("the down script runs outside a transaction: statements {} of {total} completed, statement {} failed; {key} is still recorded as applied", if committed_upto == 0 { "none".to_string() } else { format!("1..{committed_upto}") }, i + 1),
                    format!("finish or undo the remaining statements of {} by hand, then run `strata down` again once the down script can run from the start", script.file.path().display()),
                )
            } else {
                let _ = client
                    .execute(
                        &ctx.prepared.progress,
                        &[
                            &ctx.opts.set_name,
                            &key,
                            &(committed_upto as i32),
                            &Some(message),
                        ],
                    )
                    .await;
                let _ = event(client, ctx, &key, "fail", serde_json::json!({"statement": i + 1, "statements_done": committed_upto, "error": failure.message})).await;
                (
                    format!("the migration runs outside a transaction: {committed_upto} of {total} statement(s) completed and are recorded; {key} is marked partial"),
                    format!("fix the cause, then run `strata up` to resume {key} from statement {}", committed_upto + 1),
                )
            };
            return Err(Box::new(ExecError {
                done: Vec::new(),
                key: key.clone(),
                action,
                path: script.file.path().to_owned(),
                failure,
                state,
                next,
            }));
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
        if action != "revert" && !in_script_tx {
            client
                .execute(
                    &ctx.prepared.progress,
                    &[
                        &ctx.opts.set_name,
                        &key,
                        &(committed_upto as i32),
                        &None::<String>,
                    ],
                )
                .await
                .map_err(|e| {
                    wrap(
                        e,
                        format!("{committed_upto} of {total} statement(s) completed"),
                        "run `strata status`, then `strata up` to resume".into(),
                    )
                })?;
        }
    }
    let finish = async {
        client.batch_execute("RESET lock_timeout; RESET statement_timeout").await?;
        client.query(&ctx.prepared.restore_path, &[&ctx.search_path]).await?;
        let details = serde_json::json!({"checksum": m.checksum.to_string(), "mode": "non_transactional", "resumed_from": resume_from});
        client.batch_execute("BEGIN").await?;
        if action == "revert" {
            client.execute(&ctx.prepared.forget, &[&ctx.opts.set_name, &key]).await?;
            event(client, ctx, &key, "revert", details).await?;
        } else {
            let ms = started.elapsed().as_millis() as i64;
            record(client, ctx, m, ms, "complete", total as i32, None).await?;
            event(client, ctx, &key, if resume_from > 0 { "resume" } else { "apply" }, details).await?;
        }
        client.batch_execute("COMMIT").await
    }
    .await;
    finish.map_err(|e| {
        wrap(
            e,
            format!("all {total} statement(s) ran but the history could not be updated"),
            "run `strata status`; the migration's effects are in place".into(),
        )
    })
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
    let v: String = session
        .client
        .query_one("SHOW server_version_num", &[])
        .await?
        .get(0);
    Ok(v.parse().unwrap_or(0))
}
