//! Changing a set's history: the statements the executor prepares and pipelines with each
//! migration, moving a history to another set, recording new checksums, forgetting a set's
//! rows for `fresh`, and the lock's `runs` bookkeeping.
//!
//! A history row is written in the transaction of the migration it describes; the guards the
//! layout defines (`in_migration`, `expect_rows`) make the server refuse any other case.

use super::{Registry, RegistryError, HISTORY_TABLE};
use crate::session::Session;
use tokio_postgres::{Client, Statement as Prepared};

impl Registry {
    /// Moves every history row of set `from` to set `to` (which must have none), and its
    /// events with it, in one transaction with an `adopt` event on `to` that records where the
    /// rows came from and `why`. Nothing runs: the migrations stay applied, only their set's key changes. Call
    /// with the migration lock held. Returns the number of rows moved.
    pub async fn move_history(
        &self,
        session: &Session,
        from: &str,
        to: &str,
        why: &str,
    ) -> Result<u64, RegistryError> {
        let client = &session.client;
        let migrations = self.table(HISTORY_TABLE);
        let events = self.table("events");
        client.batch_execute("BEGIN").await?;
        let result = async {
            let existing: i64 = client
                .query_one(
                    &format!("SELECT count(*) FROM {migrations} WHERE set_name = $1"),
                    &[&to],
                )
                .await?
                .get(0);
            if existing > 0 {
                return Ok(Err(RegistryError::Occupied {
                    set: to.to_owned(),
                    rows: existing as u64,
                }));
            }
            let moved = client
                .execute(
                    &format!("UPDATE {migrations} SET set_name = $2 WHERE set_name = $1"),
                    &[&from, &to],
                )
                .await?;
            // The log goes with the history it describes: its `adopt` events name the tables
            // the set was adopted from, its failures mark pending migrations.
            client
                .execute(
                    &format!("UPDATE {events} SET set_name = $2 WHERE set_name = $1"),
                    &[&from, &to],
                )
                .await?;
            let details = serde_json::json!({
                "source": "strata",
                "from_set": from,
                "rows": moved,
                "reason": why,
            })
            .to_string();
            client
                .execute(
                    &format!(
                        "INSERT INTO {events} (set_name, key, kind, by_os_user, host, strata_version, details) \
                         VALUES ($1, NULL, 'adopt', $2, $3, $4, $5::text::jsonb)"
                    ),
                    &[
                        &to,
                        &crate::who::os_user(),
                        &crate::who::host_name(),
                        &env!("CARGO_PKG_VERSION"),
                        &details,
                    ],
                )
                .await?;
            client.batch_execute("COMMIT").await?;
            Ok::<_, tokio_postgres::Error>(Ok(moved))
        }
        .await;
        match result {
            Ok(Ok(moved)) => Ok(moved),
            Ok(Err(refused)) => {
                client.batch_execute("ROLLBACK").await?;
                Err(refused)
            }
            Err(e) => {
                let _ = client.batch_execute("ROLLBACK").await;
                Err(RegistryError::Query(e))
            }
        }
    }

    /// Records `checksums` (registry key, checksum under the current algorithm) for rows of
    /// `set` that were written with an older algorithm and whose file is unchanged (see
    /// `strata_plan::rehashes`), with a `rehash` event each, in one transaction. Nothing runs.
    /// Call with the migration lock held, after [`Registry::ensure`].
    pub async fn rehash(
        &self,
        session: &Session,
        set: &str,
        checksums: &[(String, strata_model::Checksum)],
    ) -> Result<(), RegistryError> {
        let client = &session.client;
        if checksums.is_empty() {
            return Ok(());
        }
        let migrations = self.table(HISTORY_TABLE);
        let events = self.table("events");
        let expect_rows = self.table("expect_rows");
        let update = format!(
            "WITH old AS (SELECT checksum, checksum_algorithm FROM {migrations} WHERE set_name = $1 AND key = $2),              changed AS (UPDATE {migrations} SET checksum = $3, checksum_algorithm = $4 WHERE set_name = $1 AND key = $2 RETURNING 1),              logged AS (INSERT INTO {events} (set_name, key, kind, by_os_user, host, strata_version, details)                         SELECT $1, $2, 'rehash', $5, $6, $7, jsonb_build_object('from', old.checksum_algorithm || ':' || old.checksum, 'to', $4 || ':' || $3) FROM old RETURNING 1)              SELECT {expect_rows}((SELECT count(*) FROM changed), 1, $2)"
        );
        let (user, host) = (crate::who::os_user(), crate::who::host_name());
        let version = env!("CARGO_PKG_VERSION");
        client.batch_execute("BEGIN").await?;
        let result = async {
            for (key, checksum) in checksums {
                client
                    .execute(
                        &update,
                        &[
                            &set,
                            key,
                            &checksum.hex,
                            &checksum.algorithm.as_str(),
                            &user,
                            &host,
                            &version,
                        ],
                    )
                    .await?;
            }
            client.batch_execute("COMMIT").await
        }
        .await;
        if let Err(e) = result {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(e.into());
        }
        Ok(())
    }
}

/// The history statements of a run, prepared once by [`Registry::prepare_history_statements`]
/// and bound by the executor for each migration. Each is a server-side prepared statement so a
/// migration's pipeline carries only Bind/Execute messages for them.
pub(crate) struct HistoryStatements {
    /// Sets the migration's timeouts and `strata.migration` for its transaction.
    pub(crate) begin_migration: Prepared,
    /// Sets `strata.migration` (the key `in_migration` checks) for this transaction.
    pub(crate) mark_migration: Prepared,
    /// Writes (or rewrites) a history row, outside a migration's transaction.
    pub(crate) record: Prepared,
    /// Writes (or rewrites) a history row inside the migration's transaction.
    pub(crate) record_in_tx: Prepared,
    /// Inserts the history row of a first apply inside the migration's transaction.
    pub(crate) insert_in_tx: Prepared,
    /// Appends an event, outside a migration's transaction.
    pub(crate) event: Prepared,
    /// Appends an event inside the migration's transaction.
    pub(crate) event_in_tx: Prepared,
    /// Deletes a reverted migration's row (exactly one, or the transaction aborts).
    pub(crate) forget: Prepared,
    /// Records how far a statement-by-statement run got.
    pub(crate) progress: Prepared,
    /// Whether a partial row has no error (its run crashed rather than failed).
    pub(crate) crashed: Prepared,
    /// The no-op write whose synchronous commit makes the run durable.
    pub(crate) flush: Prepared,
    /// Restores the session's `search_path` (not a registry table; prepared with the rest).
    pub(crate) restore_path: Prepared,
    /// Records a changed file's new checksum, returning the old one.
    pub(crate) accept: Prepared,
}

impl Registry {
    /// Prepares the run's history statements: the Parse messages go out back to back and
    /// their answers come back in one round trip.
    pub(crate) async fn prepare_history_statements(
        &self,
        client: &Client,
    ) -> Result<HistoryStatements, tokio_postgres::Error> {
        let migrations = self.table(HISTORY_TABLE);
        let events = self.table("events");
        let expect_rows = self.table("expect_rows");
        let in_migration = self.table("in_migration");
        let upsert = |guard: &str| {
            format!(
                "INSERT INTO {migrations} AS m (set_name, key, version, name, kind, checksum, checksum_algorithm, applied_by_os_user, strata_version, duration_ms, state, statements_done, error) \
                 SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text, $8::text, $9::text, \
                        CASE WHEN $10::bigint < 0 THEN (extract(epoch FROM clock_timestamp() - now()) * 1000)::bigint ELSE $10::bigint END, \
                        $11::text, $12::int, $13::text {guard} \
                 ON CONFLICT (set_name, key) DO UPDATE SET version = EXCLUDED.version, name = EXCLUDED.name, kind = EXCLUDED.kind, checksum = EXCLUDED.checksum, \
                 checksum_algorithm = EXCLUDED.checksum_algorithm, applied_at = clock_timestamp(), applied_by_role = current_user, \
                 applied_by_os_user = EXCLUDED.applied_by_os_user, strata_version = EXCLUDED.strata_version, duration_ms = EXCLUDED.duration_ms, \
                 state = EXCLUDED.state, statements_done = EXCLUDED.statements_done, error = EXCLUDED.error"
            )
        };
        let insert_event = |guard: &str| {
            format!(
                "INSERT INTO {events} (set_name, key, kind, by_os_user, host, strata_version, details) \
                 SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text::jsonb {guard}"
            )
        };
        let guard = format!("WHERE {in_migration}($2::text)");
        let sql: [String; 13] = [
            // Each migration commits with synchronous_commit off; the run ends with one
            // synchronous commit (see `flush_wal`), which makes all of them durable at once.
            "SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', $2, true), \
             set_config('strata.migration', $3, true), set_config('synchronous_commit', 'off', true)"
                .to_owned(),
            "SELECT set_config('strata.migration', $1, true)".to_owned(),
            upsert(""),
            // Inside a migration's transaction the history row is written only if that
            // transaction is still the one strata opened: a script that ends it with its own
            // COMMIT cannot get itself recorded by accident.
            upsert(&guard),
            // A first apply inserts: if another run recorded the migration meanwhile (it lost
            // the lock unnoticed), the unique key aborts this transaction instead of overwriting.
            upsert(&guard)
                .split(" ON CONFLICT")
                .next()
                .expect("the upsert has a conflict clause")
                .to_owned(),
            insert_event(""),
            insert_event(&guard),
            // Deleting a row that is not there must abort the revert's transaction: otherwise the
            // down script's effects would commit while history still says "applied".
            format!(
                "WITH gone AS (DELETE FROM {migrations} WHERE set_name = $1 AND key = $2 AND {in_migration}($2) RETURNING 1) \
                 SELECT {expect_rows}((SELECT count(*) FROM gone), 1, $2)"
            ),
            format!("UPDATE {migrations} SET statements_done = $3, error = $4, statements_fingerprint = $5 WHERE set_name = $1 AND key = $2"),
            "SELECT set_config('search_path', $1, false)".to_owned(),
            format!("SELECT error IS NULL FROM {migrations} WHERE set_name = $1 AND key = $2"),
            format!(
                "UPDATE {0} SET upgraded_at = upgraded_at WHERE version = (SELECT max(version) FROM {0})",
                self.table("registry_version")
            ),
            format!(
                "UPDATE {migrations} m SET checksum = $3, checksum_algorithm = $4 FROM {migrations} old \
                 WHERE m.set_name = $1 AND m.key = $2 AND old.set_name = m.set_name AND old.key = m.key RETURNING old.checksum"
            ),
        ];
        // Polled together, the Parse messages go out back to back and their answers come back in
        // one round trip, instead of one round trip per statement before the first migration.
        let statements =
            futures_util::future::try_join_all(sql.iter().map(|text| client.prepare(text))).await?;
        let [begin_migration, mark_migration, record, record_in_tx, insert_in_tx, event, event_in_tx, forget, progress, restore_path, crashed, flush, accept] =
            <[Prepared; 13]>::try_from(statements).expect("one statement per text");
        Ok(HistoryStatements {
            begin_migration,
            mark_migration,
            record,
            record_in_tx,
            insert_in_tx,
            event,
            event_in_tx,
            forget,
            progress,
            crashed,
            flush,
            restore_path,
            accept,
        })
    }
}

/// The lock's bookkeeping in the `runs` table, built by [`Registry::runs_statements`]. The
/// lock sends them on its own connection (pipelined with its other requests), so they are
/// plain texts, not prepared statements.
pub(crate) struct RunsStatements {
    /// Forgets this backend's row and the rows of runs whose backend is gone.
    pub(crate) forget_stale: String,
    /// Records this run: `$1` host, `$2` OS pid, `$3` OS user, `$4` strata version.
    pub(crate) insert: String,
    /// Forgets this backend's row, on release.
    pub(crate) forget_own: String,
}

impl Registry {
    /// The statements with which the migration lock records and forgets its run.
    pub(crate) fn runs_statements(&self) -> RunsStatements {
        let runs = self.table("runs");
        RunsStatements {
            forget_stale: format!("DELETE FROM {runs} WHERE backend_pid = pg_backend_pid() OR backend_pid NOT IN (SELECT pid FROM pg_stat_activity)"),
            insert: format!("INSERT INTO {runs} (backend_pid, host, os_pid, os_user, strata_version) VALUES (pg_backend_pid(), $1, $2, $3, $4)"),
            forget_own: format!("DELETE FROM {runs} WHERE backend_pid = pg_backend_pid()"),
        }
    }

    /// Forgets every history row of `set` and records a `fresh` event naming the schemas that
    /// were dropped (`strata fresh`). Runs inside the caller's transaction, which drops those
    /// schemas: the history goes with the objects it describes, or neither does.
    pub async fn forget_for_fresh(
        &self,
        session: &Session,
        set: &str,
        dropped_schemas: &[String],
    ) -> Result<(), tokio_postgres::Error> {
        let client = &session.client;
        client
            .execute(
                &format!(
                    "DELETE FROM {} WHERE set_name = $1",
                    self.table(HISTORY_TABLE)
                ),
                &[&set],
            )
            .await?;
        client
            .execute(
                &format!("INSERT INTO {} (set_name, kind, by_os_user, host, strata_version, details) VALUES ($1, 'fresh', $2, $3, $4, $5::text::jsonb)", self.table("events")),
                &[
                    &set,
                    &crate::who::os_user(),
                    &crate::who::host_name(),
                    &env!("CARGO_PKG_VERSION"),
                    &serde_json::json!({"dropped_schemas": dropped_schemas}).to_string(),
                ],
            )
            .await?;
        Ok(())
    }
}
