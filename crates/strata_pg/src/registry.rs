//! strata's own history: the registry schema, its upgrades, and reading a set's rows.
//!
//! The registry lives in its own schema (default `strata`) because real migration sets drop
//! and recreate `public`. Its layout is versioned by embedded SQL files applied in order under
//! the migration lock, so two strata processes cannot race to create it and a newer strata can
//! upgrade an older registry in place.

use crate::ident::quote_ident;
use futures_util::TryStreamExt;
use strata_model::{AppliedMigration, AppliedState, Checksum, ChecksumAlgorithm, MigrationKind};
use strata_plan::{Digest, HistorySummary, OtherHistory};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Row};

/// The registry layouts, in order. Index + 1 is the version.
const UPGRADES: &[&str] = &[
    include_str!("registry/v1.sql"),
    include_str!("registry/v2.sql"),
];

/// Registry problems.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// A query failed.
    #[error("registry query failed: {0}")]
    Query(#[from] tokio_postgres::Error),
    /// The registry was created by a newer strata.
    #[error("the registry in schema `{schema}` has layout version {found}, newer than this strata understands ({known}); upgrade strata")]
    TooNew {
        /// Schema.
        schema: String,
        /// Version found.
        found: i32,
        /// Newest known.
        known: i32,
    },
    /// The registry schema is missing and this role may not create it.
    #[error("cannot create the registry schema `{schema}`: {source}; have an administrator create it for this role (CREATE SCHEMA ... AUTHORIZATION <role>) or choose another with --registry-schema")]
    CannotCreate {
        /// Schema.
        schema: String,
        /// The server's refusal.
        #[source]
        source: tokio_postgres::Error,
    },
    /// A history was to be moved onto a set that already has one.
    #[error("set `{set}` already has {rows} history row(s); a history can only be moved to a set that has none")]
    Occupied {
        /// The set that has a history.
        set: String,
        /// Its rows.
        rows: u64,
    },
    /// A row strata cannot interpret.
    #[error("unreadable registry row for set `{set}`, key `{key}`: {message}")]
    BadRow {
        /// Set name.
        set: String,
        /// Row key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// The name of the history table inside the registry schema (one row per applied migration).
pub const HISTORY_TABLE: &str = "migrations";

/// A handle on the registry schema.
#[derive(Debug, Clone)]
pub struct Registry {
    schema: String,
    quoted: String,
}

impl Registry {
    /// The registry in `schema`.
    pub fn new(schema: &str) -> Registry {
        Registry {
            schema: schema.to_owned(),
            quoted: quote_ident(schema),
        }
    }

    /// The schema name, unquoted.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// `"schema".table`.
    pub fn table(&self, table: &str) -> String {
        format!("{}.{}", self.quoted, quote_ident(table))
    }

    /// The installed layout version (0 when there is no registry yet).
    pub async fn installed_version(&self, client: &Client) -> Result<i32, RegistryError> {
        // query_typed: one message exchange each, no statement prepared first (this runs
        // before every run that changes something).
        let version_table = self.table("registry_version");
        let exists = client
            .query_typed(
                "SELECT to_regclass($1) IS NOT NULL",
                &[(&version_table, tokio_postgres::types::Type::TEXT)],
            )
            .await?
            .first()
            .is_some_and(|row| row.get::<_, bool>(0));
        if !exists {
            return Ok(0);
        }
        let v: Option<i32> = client
            .query_typed(&format!("SELECT max(version) FROM {version_table}"), &[])
            .await?
            .first()
            .and_then(|row| row.get(0));
        Ok(v.unwrap_or(0))
    }

    /// Creates or upgrades the registry. Call with the migration lock held.
    pub async fn ensure(&self, client: &Client) -> Result<(), RegistryError> {
        let installed = self.installed_version(client).await?;
        let known = UPGRADES.len() as i32;
        if installed > known {
            return Err(RegistryError::TooNew {
                schema: self.schema.clone(),
                found: installed,
                known,
            });
        }
        if installed == 0 {
            // CREATE SCHEMA IF NOT EXISTS checks the database-level CREATE right even when the
            // schema exists, so a role that was only given its own schema could never get
            // here; create it only when it is missing.
            let exists: bool = client
                .query_one("SELECT to_regnamespace($1) IS NOT NULL", &[&self.quoted])
                .await?
                .get(0);
            if !exists {
                client
                    .batch_execute(&format!(
                        "CREATE SCHEMA {0}; COMMENT ON SCHEMA {0} IS 'strata migration registry: which migrations of which set are applied, and an append-only event log'",
                        self.quoted
                    ))
                    .await
                    .map_err(|e| RegistryError::CannotCreate { schema: self.schema.clone(), source: e })?;
            }
        }
        for (i, sql) in UPGRADES.iter().enumerate().skip(installed as usize) {
            let version = i as i32 + 1;
            let ddl = sql.replace("{schema}", &self.quoted);
            client.batch_execute("BEGIN").await?;
            let result = async {
                client.batch_execute(&ddl).await?;
                client
                    .execute(
                        &format!(
                            "INSERT INTO {} (version) VALUES ($1)",
                            self.table("registry_version")
                        ),
                        &[&version],
                    )
                    .await?;
                client.batch_execute("COMMIT").await
            }
            .await;
            if let Err(e) = result {
                let _ = client.batch_execute("ROLLBACK").await;
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// Of the given keys (the pending ones), those whose latest event is a failure, with that
    /// failure's error message. Costs one index probe per key, not a scan of the history, and
    /// one round trip (no registry yet: no failures).
    pub async fn last_failures(
        &self,
        client: &Client,
        set: &str,
        keys: &[String],
    ) -> Result<Vec<(String, String)>, RegistryError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT k.key, coalesce(e.details->>'error', '') FROM unnest($2::text[]) AS k(key) \
             CROSS JOIN LATERAL (SELECT kind, details FROM {} WHERE set_name = $1 AND key = k.key ORDER BY id DESC LIMIT 1) e \
             WHERE e.kind = 'fail'",
            self.table("events")
        );
        let rows = match client
            .query_typed(&sql, &[(&set, Type::TEXT), (&keys, Type::TEXT_ARRAY)])
            .await
        {
            Ok(rows) => rows,
            Err(e) if no_registry(&e) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// One row about a set's history: how many rows, how many the summary cannot vouch for
    /// (stopped part-way, or a versioned row whose `version` is not its key), and their
    /// [`strata_plan::Digest`], computed by the server with the same arithmetic. One round
    /// trip and a few bytes however long the history is; see `strata_plan::plan_from_summary`.
    /// A database without a registry has an empty history. `None` when the query fails for
    /// any reason (a server older than PostgreSQL 11 has no `hashtextextended`, a lost
    /// connection): the caller then reads the rows, and that read reports a real error.
    pub async fn summary(&self, client: &Client, set: &str) -> Option<HistorySummary> {
        let sql = format!(
            "SELECT count(*)::int8, \
             (count(*) FILTER (WHERE state <> 'complete' OR (kind = 'versioned' AND version IS DISTINCT FROM key)))::int8, \
             coalesce(sum(hashtextextended(checksum, hashtextextended(key, hashtextextended(checksum_algorithm, hashtextextended(kind, 0))))), 0)::text, \
             coalesce(sum(hashtextextended(checksum, hashtextextended(key, hashtextextended(checksum_algorithm, hashtextextended(kind, 1))))), 0)::text \
             FROM {} WHERE set_name = $1",
            self.table(HISTORY_TABLE)
        );
        // query_typed: parse, bind and execute in one round trip (no separate prepare).
        match client.query_typed(&sql, &[(&set, Type::TEXT)]).await {
            Ok(rows) => {
                let row = rows.first()?;
                let sum = |i: usize| row.get::<_, &str>(i).parse::<i128>().ok();
                Some(HistorySummary {
                    rows: u64::try_from(row.get::<_, i64>(0)).ok()?,
                    irregular: u64::try_from(row.get::<_, i64>(1)).ok()?,
                    digest: Digest {
                        sums: [sum(2)?, sum(3)?],
                    },
                })
            }
            Err(e) if no_registry(&e) => Some(HistorySummary::default()),
            Err(_) => None,
        }
    }

    /// The history of one set, or nothing when the registry does not exist yet (so read-only
    /// verbs never create it).
    pub async fn read(
        &self,
        client: &Client,
        set: &str,
    ) -> Result<Vec<AppliedMigration>, RegistryError> {
        let sql = format!(
            // Plain columns, formatted here: the server sends `applied_at` as 8 binary bytes,
            // where formatting it (to_char, or even extract()) and concatenating the `by`
            // columns on every row took most of the server's time for this query at 10,000
            // rows.
            "SELECT key, version, name, kind, checksum, checksum_algorithm, applied_at, \
             applied_by_role, applied_by_os_user, duration_ms, state, statements_done, error, statements_fingerprint \
             FROM {} WHERE set_name = $1",
            self.table(HISTORY_TABLE)
        );
        // One round trip (no separate prepare, no existence check first): a missing registry
        // is the server's "undefined table".
        let stream = match client
            .query_typed_raw(&sql, [(&set as &(dyn ToSql + Sync), Type::TEXT)])
            .await
        {
            Ok(stream) => stream,
            Err(e) if no_registry(&e) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        // Each row is decoded as it arrives and dropped: collecting the whole result first
        // kept 10,000 rows (an index allocation each, and the receive buffers they point
        // into) alive at once, fresh memory whose page faults cost more than the decoding.
        futures_util::pin_mut!(stream);
        let mut history = Vec::new();
        while let Some(r) = stream.try_next().await? {
            history.push(applied_of(set, &r)?);
        }
        Ok(history)
    }
}

impl Registry {
    /// The histories of sets other than `set` that record at least one of the given migrations
    /// (`keys[i]` with checksum `checksums[i]`, or `earlier[i]`: the checksum an older strata
    /// recorded for the same file, see `strata_plan::recorded_matches`), most matching rows
    /// first: the candidates for "these files were already applied under another name". One
    /// round trip; no registry yet means none.
    pub async fn other_histories(
        &self,
        client: &Client,
        set: &str,
        keys: &[String],
        checksums: &[String],
        earlier: &[String],
    ) -> Result<Vec<OtherHistory>, RegistryError> {
        let sql = format!(
            "SELECT m.set_name, count(*)::int8, count(f.key)::int8 \
             FROM {} m LEFT JOIN unnest($2::text[], $3::text[], $4::text[]) AS f(key, checksum, earlier) \
             ON f.key = m.key AND m.checksum IN (f.checksum, f.earlier) \
             WHERE m.set_name <> $1 GROUP BY m.set_name HAVING count(f.key) > 0 \
             ORDER BY 3 DESC, 1",
            self.table(HISTORY_TABLE)
        );
        let rows = match client
            .query_typed(
                &sql,
                &[
                    (&set, Type::TEXT),
                    (&keys, Type::TEXT_ARRAY),
                    (&checksums, Type::TEXT_ARRAY),
                    (&earlier, Type::TEXT_ARRAY),
                ],
            )
            .await
        {
            Ok(rows) => rows,
            Err(e) if no_registry(&e) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        Ok(rows
            .iter()
            .map(|r| OtherHistory {
                set: r.get(0),
                rows: u64::try_from(r.get::<_, i64>(1)).unwrap_or(0),
                matching: u64::try_from(r.get::<_, i64>(2)).unwrap_or(0),
            })
            .collect())
    }

    /// Moves every history row of set `from` to set `to` (which must have none), and its
    /// events with it, in one transaction with an `adopt` event on `to` that records where the
    /// rows came from and `why`. Nothing runs: the migrations stay applied, only their set's key changes. Call
    /// with the migration lock held. Returns the number of rows moved.
    pub async fn move_history(
        &self,
        client: &Client,
        from: &str,
        to: &str,
        why: &str,
    ) -> Result<u64, RegistryError> {
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
}

impl Registry {
    /// The other tools' history tables (`schema.table`) that `strata adopt` has taken set
    /// `set`'s history from: once adopted, such a table is the past, and what it records is no
    /// reason to stop `up` (a migration reverted and applied again under strata, say).
    pub async fn adopted_tables(
        &self,
        client: &Client,
        set: &str,
    ) -> Result<Vec<String>, RegistryError> {
        let sql = format!(
            "SELECT DISTINCT details->>'source_table' FROM {} \
             WHERE set_name = $1 AND kind = 'adopt' AND details ? 'source_table'",
            self.table("events")
        );
        match client.query_typed(&sql, &[(&set, Type::TEXT)]).await {
            Ok(rows) => Ok(rows.iter().map(|r| r.get(0)).collect()),
            Err(e) if no_registry(&e) => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }

    /// Records `checksums` (registry key, checksum under the current algorithm) for rows of
    /// `set` that were written with an older algorithm and whose file is unchanged (see
    /// `strata_plan::rehashes`), with a `rehash` event each, in one transaction. Nothing runs.
    /// Call with the migration lock held, after [`Registry::ensure`].
    pub async fn rehash(
        &self,
        client: &Client,
        set: &str,
        checksums: &[(String, strata_model::Checksum)],
    ) -> Result<(), RegistryError> {
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

/// One history row of `set` as strata's model.
fn applied_of(set: &str, r: &Row) -> Result<AppliedMigration, RegistryError> {
    let key: String = r.get(0);
    let bad = |message: String| RegistryError::BadRow {
        set: set.to_owned(),
        key: key.clone(),
        message,
    };
    let kind = match r.get::<_, &str>(3) {
        "versioned" => MigrationKind::Versioned,
        "repeatable" => MigrationKind::Repeatable,
        other => return Err(bad(format!("unknown kind `{other}`"))),
    };
    let algorithm_name: &str = r.get(5);
    let algorithm = ChecksumAlgorithm::from_name(algorithm_name).ok_or_else(|| {
        bad(format!(
            "unknown checksum algorithm `{algorithm_name}`; upgrade strata"
        ))
    })?;
    let state = match r.get::<_, &str>(10) {
        "complete" => AppliedState::Complete,
        "partial" => AppliedState::Partial {
            statements_done: r.get::<_, i32>(11) as usize,
            error: r.get::<_, Option<String>>(12).unwrap_or_default(),
            fingerprint: r.get(13),
        },
        other => return Err(bad(format!("unknown state `{other}`; upgrade strata"))),
    };
    Ok(AppliedMigration {
        key,
        version: r.get(1),
        name: r.get(2),
        kind,
        checksum: Checksum {
            algorithm,
            hex: r.get(4),
        },
        applied_at: rfc3339_millis(unix_micros(r.get(6))),
        applied_by: [r.get::<_, &str>(7), "@", r.get::<_, &str>(8)].concat(),
        duration_ms: r.get(9),
        state,
    })
}

/// The server's answer when the registry schema or table does not exist (yet).
fn no_registry(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNDEFINED_TABLE) || e.code() == Some(&SqlState::INVALID_SCHEMA_NAME)
}

/// A timestamp as microseconds since the Unix epoch (negative before it).
fn unix_micros(t: std::time::SystemTime) -> i64 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_micros()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_micros()).unwrap_or(i64::MAX),
    }
}

/// `micros` since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC, milliseconds truncated, as
/// `to_char(... 'MS')` printed them before).
fn rfc3339_millis(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let millis = micros.rem_euclid(1_000_000) / 1000;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = strata_model::civil_from_days(days);
    if (0..=9999).contains(&year) {
        // Digit by digit: `status` formats one per history row, and `format!` was a
        // measurable part of reading 10,000 rows.
        let mut out = String::with_capacity(24);
        let mut digits = |value: u64, width: u32, after: char| {
            for place in (0..width).rev() {
                out.push(char::from(b'0' + (value / 10u64.pow(place) % 10) as u8));
            }
            out.push(after);
        };
        let rem = rem as u64;
        digits(year as u64, 4, '-');
        digits(u64::from(month), 2, '-');
        digits(u64::from(day), 2, 'T');
        digits(rem / 3600, 2, ':');
        digits(rem % 3600 / 60, 2, ':');
        digits(rem % 60, 2, '.');
        digits(millis as u64, 3, 'Z');
        return out;
    }
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::rfc3339_millis;

    #[test]
    fn timestamps_format_like_to_char() {
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        // 2026-11-22T02:53:55.040123Z
        assert_eq!(
            rfc3339_millis(1_795_316_035_040_123),
            "2026-11-22T02:53:55.040Z"
        );
        assert_eq!(
            rfc3339_millis(951_782_400_000_000),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(rfc3339_millis(-1), "1969-12-31T23:59:59.999Z");
        // Beyond four-digit years, the general path.
        assert_eq!(
            rfc3339_millis(253_402_300_800_000_000),
            "10000-01-01T00:00:00.000Z"
        );
    }
}
