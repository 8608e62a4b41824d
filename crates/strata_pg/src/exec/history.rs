//! Binding the registry's prepared history statements for one step: the history row, its
//! event, an operator's decision (`mark`, `accept`), and the final synchronous commit. The
//! statements' text is the registry's ([`crate::registry`]); here they get the run's values.

use super::Ctx;
use crate::registry::HistoryStatements;
use strata_model::Migration;
use strata_plan::Step;

/// Makes every commit of this run durable. Migrations commit with `synchronous_commit = off`:
/// each commit is atomic and immediately visible, but its WAL is flushed by the WAL writer a
/// moment later instead of before the commit returns. WAL is one sequence, so one synchronous
/// commit of a transaction that writes flushes (and, with synchronous replication, waits for)
/// every earlier commit record too. This is that commit: a no-op update of the registry's own
/// version row, with the session's normal `synchronous_commit`. Only after it returns does a
/// run report success; a server crash before it can lose at most the run's last migrations,
/// each whole, never half of one, and never one without its history row.
pub(super) async fn flush_wal(
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

const STRATA_VERSION: &str = env!("CARGO_PKG_VERSION");

#[allow(clippy::too_many_arguments)]
pub(super) fn record<'a>(
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

pub(super) fn event<'a>(
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

/// Records an operator's decision (`repair --mark-*`, `accept`) with its reason, in one
/// transaction with the event that says who decided and why.
pub(super) async fn record_decision(
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
