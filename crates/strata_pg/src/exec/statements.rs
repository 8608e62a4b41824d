//! Migrations that cannot run in a transaction (`CREATE INDEX CONCURRENTLY`, a script that
//! commits itself): statement by statement, the registry recording after each one how far the
//! migration got, so a failure or a crash resumes exactly at the statement that did not finish.

use super::failure::{failure_from, server_answered};
use super::history::{event, record};
use super::transactional::verify_body;
use super::{ExecError, Failure, Pending, Run};
use crate::meta::MetaError;
use crate::session::Session;
use std::sync::atomic::Ordering;
use std::time::Instant;
use strata_sql::{analyze, TransactionControl};

pub(super) async fn run_statements(
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

/// Runs the verify script of a migration that ran outside a transaction, after its history
/// row committed (a deploy that is not atomic cannot be rolled back by a failing check). The
/// verify statements run in a transaction of their own that is rolled back, as sqitch runs
/// them; a failure leaves the migration applied and recorded and says so.
pub(super) async fn verify_after(
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
