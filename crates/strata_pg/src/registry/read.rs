//! Reading a set's history: its rows, their summary, its recent failures, the histories of
//! other sets, and the tables it was adopted from.
//!
//! Every read answers "nothing" when the registry does not exist yet (the server's "undefined
//! table"), so read-only verbs never create it, and each is one round trip (`query_typed`:
//! parse, bind and execute without a separate prepare).

use super::{no_registry, Registry, RegistryError, HISTORY_TABLE};
use crate::session::Session;
use futures_util::TryStreamExt;
use strata_model::{AppliedMigration, AppliedState, Checksum, ChecksumAlgorithm, MigrationKind};
use strata_plan::{Digest, HistorySummary, OtherHistory};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Row;

impl Registry {
    /// Of the given keys (the pending ones), those whose latest event is a failure, with that
    /// failure's error message. Costs one index probe per key, not a scan of the history, and
    /// one round trip (no registry yet: no failures).
    pub async fn last_failures(
        &self,
        session: &Session,
        set: &str,
        keys: &[String],
    ) -> Result<Vec<(String, String)>, RegistryError> {
        let client = &session.client;
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
    pub async fn summary(&self, session: &Session, set: &str) -> Option<HistorySummary> {
        let client = &session.client;
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
        session: &Session,
        set: &str,
    ) -> Result<Vec<AppliedMigration>, RegistryError> {
        let client = &session.client;
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

    /// The histories of sets other than `set` that record at least one of the given migrations
    /// (`keys[i]` with checksum `checksums[i]`, or `earlier[i]`: the checksum an older strata
    /// recorded for the same file, see `strata_plan::recorded_matches`), most matching rows
    /// first: the candidates for "these files were already applied under another name". One
    /// round trip; no registry yet means none.
    pub async fn other_histories(
        &self,
        session: &Session,
        set: &str,
        keys: &[String],
        checksums: &[String],
        earlier: &[String],
    ) -> Result<Vec<OtherHistory>, RegistryError> {
        let client = &session.client;
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

    /// The other tools' history tables (`schema.table`) that `strata adopt` has taken set
    /// `set`'s history from: once adopted, such a table is the past, and what it records is no
    /// reason to stop `up` (a migration reverted and applied again under strata, say).
    pub async fn adopted_tables(
        &self,
        session: &Session,
        set: &str,
    ) -> Result<Vec<String>, RegistryError> {
        let client = &session.client;
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

    /// The SQL expression that describes the holder of the migration lock, backend `a.pid` of
    /// `pg_stat_activity a`: its `runs` row (host, OS pid and user of the other strata) when it
    /// has one, its `application_name` otherwise. `None` when there is no `runs` table yet.
    pub(crate) async fn run_holder_expression(
        &self,
        session: &Session,
    ) -> Result<Option<String>, tokio_postgres::Error> {
        let runs = self.table("runs");
        let has_runs: bool = session
            .client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&runs])
            .await?
            .get(0);
        Ok(has_runs.then(|| {
            format!(
                "coalesce((SELECT format('strata on %s, pid %s, user %s, since %s', r.host, r.os_pid, r.os_user, to_char(r.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')) FROM {runs} r WHERE r.backend_pid = a.pid), coalesce(a.application_name, ''))"
            )
        }))
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
