//! Transactional migrations: one pipeline (`BEGIN`, the timeouts, the script's statements,
//! a verify script, the history row, the event, `COMMIT`) so a migration costs one round trip
//! and its history row commits with it, or neither does. A script with psql meta-commands runs
//! as several segments of that pipeline, a `\copy` between them.

use super::failure::{failure_from, server_answered};
use super::history::{event, record};
use super::{ExecError, Failure, Pending, Run};
use crate::meta::MetaError;
use crate::session::Session;
use strata_model::Script;
use strata_sql::{analyze, Analysis, ExecutionShape, Statement, TransactionControl};

pub(super) async fn run_transactional(
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

/// Runs a transactional pipeline whose script holds meta-commands (`metas`: request index and
/// statement). A `\copy` streams its data before anything else may be sent, so the requests
/// before it are pipelined and awaited, the command runs, and the next segment follows; the
/// results line up with `requests` as `join_all` would return them. After a statement failed,
/// later meta-commands are skipped (their placeholders answer `Ok`) and the rest is still sent,
/// so the server turns the final `COMMIT` into `ROLLBACK` as usual. When strata's own part of a
/// meta-command fails (a missing file, a failing program), nothing after it is sent: the
/// transaction is rolled back here and the error returned.
pub(super) async fn run_segments<'a>(
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

/// The statements of a verify script that run inside the deploy's transaction: sqitch's
/// template wraps them in `BEGIN; ... ROLLBACK;`, which cannot nest in strata's transaction, so
/// a leading `BEGIN` and a final `ROLLBACK` or `COMMIT` are left out. A verify script should
/// only read; anything it writes commits with the deploy. Other transaction control, and
/// statements PostgreSQL refuses inside a transaction, are refused before anything runs.
pub(super) fn verify_body<'a>(
    v: &Script,
    analysis: &'a Analysis,
) -> Result<Vec<&'a Statement>, Box<Failure>> {
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
