//! The migration lock.
//!
//! A session-level advisory lock held by a dedicated connection that never opens a transaction:
//! a lock held by the executing connection's transaction would deadlock `CREATE INDEX
//! CONCURRENTLY`, which waits for every transaction older than itself, and a transaction-level
//! lock would be released at the first migration's commit. Acquisition polls
//! `pg_try_advisory_lock` so it can time out and say who holds the lock instead of queueing
//! forever. The guard releases on drop (closing the dedicated connection ends its backend, and
//! PostgreSQL releases session locks with it), so no error path can leak it.

use crate::conn::{ConnInfo, ConnectError};
use crate::session::Session;
use std::time::{Duration, Instant};
use tokio_postgres::types::Type;

/// First half of the advisory lock key: "STRA".
const LOCK_CLASS: i32 = 0x5354_5241;

/// Someone holding the lock we want.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LockHolder {
    /// Backend PID.
    pub pid: i32,
    /// `application_name` (strata puts its host and PID there).
    pub application_name: String,
    /// Client address, or `local` for unix sockets.
    pub client: String,
    /// When the holder connected.
    pub since: String,
}

/// Lock acquisition failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// The dedicated lock connection failed.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// A query on the lock connection failed.
    #[error("advisory lock query failed: {0}")]
    Query(#[from] tokio_postgres::Error),
    /// Another process kept the lock longer than the timeout.
    #[error("another migration run holds the strata lock for registry `{schema}` and did not release it within {waited:?} (held by {}); wait for it to finish, or raise --lock-wait", holders.iter().map(|h| format!("pid {} `{}` from {} since {}", h.pid, h.application_name, h.client, h.since)).collect::<Vec<_>>().join("; "))]
    Timeout {
        /// Registry schema the lock protects.
        schema: String,
        /// How long we waited.
        waited: Duration,
        /// Who holds it.
        holders: Vec<LockHolder>,
    },
}

/// A held migration lock. Release explicitly with [`MigrationLock::release`] or by dropping it.
pub struct MigrationLock {
    session: Option<Session>,
    key: i32,
    /// The statement that forgets this run in the registry's `runs` table, once it is
    /// recorded there.
    forget_run: Option<String>,
}

/// True when some session holds the migration lock of `registry_schema` in this database
/// (a run is in progress: what it committed may not be durable yet).
pub async fn lock_held(
    session: &Session,
    registry_schema: &str,
) -> Result<bool, tokio_postgres::Error> {
    let key = lock_key(registry_schema);
    // query_typed: one round trip, no separate prepare (this runs on every no-op `up`).
    let rows = session
        .client
        .query_typed(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = $1::int4::oid AND objid = $2::int4::oid \
             AND objsubid = 2 AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))",
            &[(&LOCK_CLASS, Type::INT4), (&key, Type::INT4)],
        )
        .await?;
    Ok(rows.first().is_some_and(|r| r.get(0)))
}

/// One attempt at the lock: true when this session holds it now. query_typed: one message
/// exchange per attempt, no statement to prepare first.
async fn try_lock(
    client: &tokio_postgres::Client,
    key: i32,
) -> Result<bool, tokio_postgres::Error> {
    let rows = client
        .query_typed(
            "SELECT pg_try_advisory_lock($1, $2)",
            &[(&LOCK_CLASS, Type::INT4), (&key, Type::INT4)],
        )
        .await?;
    Ok(rows.first().is_some_and(|row| row.get(0)))
}

/// The lock key for a registry schema (FNV-1a, stable across versions and platforms).
pub fn lock_key(registry_schema: &str) -> i32 {
    // why not a crate: the key is the 32-bit FNV-1a (an `int4` for `pg_try_advisory_lock`),
    // which the `fnv` crate used for the 64-bit hashes does not offer; these four lines must
    // never change, since every strata version has to contend for the same lock.
    let mut h: u32 = 0x811c_9dc5;
    for b in registry_schema.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h as i32
}

impl MigrationLock {
    /// Acquires the lock, polling until `timeout`. `on_wait` is called once, with the holders,
    /// when the lock is not free at the first try.
    pub async fn acquire(
        info: &ConnInfo,
        registry_schema: &str,
        timeout: Duration,
        mut on_wait: impl FnMut(&[LockHolder]),
    ) -> Result<MigrationLock, LockError> {
        let mut info = info.clone();
        let app = format!(
            "strata lock {} pid {}",
            crate::who::host_name(),
            std::process::id()
        );
        info.config
            .application_name(app.chars().take(63).collect::<String>());
        let session = Session::connect(&info).await?;
        let key = lock_key(registry_schema);
        // The lock lives as long as this idle connection: a server-side idle_session_timeout
        // (PostgreSQL 14+) or statement_timeout must not end it in the middle of a run. The
        // settings go first on the wire, the first attempt right behind them (one round trip).
        let ((), mut attempt) = tokio::try_join!(
            session.client.batch_execute(
                "SET statement_timeout = 0; \
                 SELECT set_config('idle_session_timeout', '0', false) WHERE current_setting('server_version_num')::int >= 140000",
            ),
            try_lock(&session.client, key),
        )?;
        let started = Instant::now();
        let mut delay = Duration::from_millis(20);
        let mut reported = false;
        loop {
            if attempt {
                return Ok(MigrationLock {
                    session: Some(session),
                    key,
                    forget_run: None,
                });
            }
            if !reported {
                reported = true;
                on_wait(&holders(&session, key, registry_schema).await?);
            }
            if started.elapsed() >= timeout {
                return Err(LockError::Timeout {
                    schema: registry_schema.to_owned(),
                    waited: started.elapsed(),
                    holders: holders(&session, key, registry_schema).await?,
                });
            }
            tokio::time::sleep(delay.min(timeout.saturating_sub(started.elapsed()))).await;
            delay = (delay * 2).min(Duration::from_millis(250));
            attempt = try_lock(&session.client, key).await?;
        }
    }

    /// Records this run (host, PID, user) in the registry's `runs` table, so a run waiting for
    /// the lock can say who holds it. Call once the registry exists; rows of runs whose backend
    /// is gone are removed on the way.
    pub async fn register(&mut self, registry: &crate::Registry) -> Result<(), LockError> {
        let Some(session) = &self.session else {
            return Ok(());
        };
        let runs = registry.runs_statements();
        let (host, os_user) = (crate::who::host_name(), crate::who::os_user());
        let os_pid = std::process::id() as i32;
        let version = env!("CARGO_PKG_VERSION");
        let params: [(&(dyn tokio_postgres::types::ToSql + Sync), Type); 4] = [
            (&host, Type::TEXT),
            (&os_pid, Type::INT4),
            (&os_user, Type::TEXT),
            (&version, Type::TEXT),
        ];
        // Pipelined (one round trip); the server still runs them in this order.
        tokio::try_join!(
            session.client.query_typed(&runs.forget_stale, &[]),
            session.client.query_typed(&runs.insert, &params),
        )?;
        self.forget_run = Some(runs.forget_own);
        Ok(())
    }

    /// The lock's own connection. It is idle while migrations run, so the executor uses it to
    /// watch for sessions blocking the migration. Not public: this connection must never open
    /// a transaction (see the module header), so nothing outside this crate gets to use it.
    pub(crate) fn session(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    /// Releases the lock and closes its connection.
    pub async fn release(mut self) -> Result<(), LockError> {
        if let Some(session) = self.session.take() {
            let forget_run = self.forget_run.take();
            let forget_run = async {
                match &forget_run {
                    Some(sql) => session.client.query_typed(sql, &[]).await.map(drop),
                    None => Ok(()),
                }
            };
            let unlock: [(&(dyn tokio_postgres::types::ToSql + Sync), Type); 2] =
                [(&LOCK_CLASS, Type::INT4), (&self.key, Type::INT4)];
            // Pipelined (one round trip), the run's row deleted first.
            tokio::try_join!(
                forget_run,
                session
                    .client
                    .query_typed("SELECT pg_advisory_unlock($1, $2)", &unlock),
            )?;
        }
        Ok(())
    }
}

async fn holders(
    session: &Session,
    key: i32,
    registry_schema: &str,
) -> Result<Vec<LockHolder>, LockError> {
    let registry = crate::Registry::new(registry_schema);
    // The registry's `runs` row when there is one; pg_stat_activity otherwise.
    let who = registry
        .run_holder_expression(session)
        .await?
        .unwrap_or_else(|| "coalesce(a.application_name, '')".to_owned());
    let rows = session
        .client
        .query(
            &format!(
                "SELECT a.pid, {who}, coalesce(host(a.client_addr), 'local'), \
                 coalesce(to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '?') \
                 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::int4::oid AND l.objid = $2::int4::oid AND l.objsubid = 2 \
                   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            &[&LOCK_CLASS, &key],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| LockHolder {
            pid: r.get(0),
            application_name: r.get(1),
            client: r.get(2),
            since: r.get(3),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_never_change() {
        // Golden values: strata runs of different versions must contend for the same lock.
        assert_eq!(lock_key("strata"), -1_026_826_692);
        assert_eq!(lock_key("public"), -862_940_288);
        assert_eq!(lock_key("a"), -468_965_076);
        assert_eq!(lock_key(""), -2_128_831_035);
    }
}
