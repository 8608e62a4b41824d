//! Planning `up` from a summary of the history instead of its rows.
//!
//! With 10,000 migrations applied, reading every history row and matching it against its file
//! is most of the time of an `up` that has nothing (or one migration) to do, although almost
//! always the history is exactly "the first *c* migrations on disk, with the checksums they
//! have now". The registry can answer that with one row: how many rows a set has, how many
//! stopped part-way, and a [`Digest`] of what identifies them (kind, key, checksum). When the
//! digest of the first *c* local migrations equals the database's, [`plan_from_summary`] builds
//! the plan [`crate::plan`] would build from the rows; when anything else is the case (drift,
//! a missing file, out-of-order or part-way migrations, repeatables, a squashed baseline, a
//! target other than `up`) it declines, and the caller reads the rows.
//!
//! The digest is a sum of per-row MD5 terms, so it does not depend on the order rows are
//! read in, and the database computes it with the same arithmetic (`Registry::summary` in
//! `strata_pg`; a test there runs both sides against PostgreSQL). MD5 is used as a hash to
//! compare two lists that are meant to be equal, not to resist someone who can already write
//! to the history table.

use crate::{steps_for, Entry, Plan, PlanError, Policy, State, Target};
use md5::{Digest as _, Md5};
use strata_model::{ChecksumAlgorithm, Migration, MigrationKind};

/// An order-independent digest of history rows: the sums of the two 64-bit halves of each
/// row's MD5 term, read as signed big-endian integers (as PostgreSQL's `bit(64)::int8` reads
/// them), summed exactly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Digest {
    /// Sum of the first halves.
    pub high: i128,
    /// Sum of the second halves.
    pub low: i128,
}

impl Digest {
    /// The term of one history row: MD5 of `kind \n key \n algorithm \n hex`, the columns
    /// `kind`, `key`, `checksum_algorithm` and `checksum` of the registry.
    pub fn of_row(
        kind: MigrationKind,
        key: &str,
        algorithm: ChecksumAlgorithm,
        hex: &str,
    ) -> Digest {
        let mut md5 = Md5::new();
        for (i, part) in [kind.as_str(), key, algorithm.as_str(), hex]
            .iter()
            .enumerate()
        {
            if i > 0 {
                md5.update(b"\n");
            }
            md5.update(part.as_bytes());
        }
        let bytes = md5.finalize();
        let half = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[at..at + 8]);
            i128::from(i64::from_be_bytes(b))
        };
        Digest {
            high: half(0),
            low: half(8),
        }
    }

    /// The term of a local migration, as the row recording it would be hashed.
    pub fn of_migration(m: &Migration) -> Digest {
        let key = m.id.registry_key();
        Digest::of_row(m.kind, &key, m.checksum.algorithm, &m.checksum.hex)
    }

    /// Adds one term.
    pub fn add(&mut self, term: Digest) {
        self.high += term.high;
        self.low += term.low;
    }
}

/// What the registry says about one set's history without listing it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistorySummary {
    /// History rows of the set.
    pub rows: u64,
    /// Rows of migrations that stopped part-way (state `partial`).
    pub unfinished: u64,
    /// The digest of every row.
    pub digest: Digest,
}

/// The plan [`crate::plan`] would make for `target`, when the summary shows that the history
/// is exactly the first `summary.rows` local migrations, complete and with their current
/// checksums; `None` whenever planning needs the rows (see the module docs). `local` must be
/// the set's migrations in the order a set is loaded in (versioned, by version).
///
/// Only [`Target::Up`] is planned here. The entries of applied migrations carry no history
/// row (`applied` is `None`): use this plan to run `up`, not to display the history.
pub fn plan_from_summary(
    local: &[Migration],
    summary: &HistorySummary,
    target: &Target,
    policy: &Policy,
) -> Option<Result<Plan, PlanError>> {
    if !matches!(target, Target::Up { .. }) || summary.unfinished != 0 {
        return None;
    }
    let applied = usize::try_from(summary.rows).ok()?;
    if applied > local.len() {
        return None;
    }
    // Repeatables are matched by name and re-run on change, and a squashed baseline stands for
    // older rows: both need the rows.
    let plain = local.iter().all(|m| {
        m.kind == MigrationKind::Versioned
            && m.id.version.is_some()
            && !m
                .up
                .directives
                .iter()
                .any(|d| d.kind == strata_model::DirectiveKind::SquashedBaseline)
    });
    let ordered = local.windows(2).all(|w| w[0].id.version < w[1].id.version);
    if !plain || !ordered {
        return None;
    }
    let mut digest = Digest::default();
    for m in &local[..applied] {
        digest.add(Digest::of_migration(m));
    }
    if digest != summary.digest {
        return None;
    }
    // Every applied migration is older than every pending one: nothing is out of order.
    let entries: Vec<Entry> = local
        .iter()
        .enumerate()
        .map(|(index, m)| Entry {
            key: m.id.registry_key(),
            version: m.id.version.as_ref().map(|v| v.to_string()),
            name: m.id.name.clone(),
            kind: m.kind,
            state: if index < applied {
                State::Applied
            } else {
                State::Pending
            },
            local: Some(index),
            applied: None,
        })
        .collect();
    Some(
        steps_for(target, policy, local, &[], &entries).map(|steps| Plan {
            entries,
            steps,
            findings: Vec::new(),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan;
    use std::sync::Arc;
    use strata_model::{
        AppliedMigration, AppliedState, Checksum, MigrationId, Script, SourceFile, Version,
    };

    fn mig(version: &str, sql: &str) -> Migration {
        let file = Arc::new(SourceFile::from_string(format!("{version}_m.up.sql"), sql));
        Migration {
            id: MigrationId {
                version: Some(Version::parse(version).unwrap()),
                name: format!("m{version}"),
            },
            kind: MigrationKind::Versioned,
            checksum: file.checksum().clone(),
            up: Script::whole(file, vec![]),
            down: None,
            verify: None,
        }
    }

    fn row_of(m: &Migration) -> AppliedMigration {
        AppliedMigration {
            key: m.id.registry_key(),
            version: m.id.version.as_ref().map(|v| v.to_string()),
            name: m.id.name.clone(),
            kind: m.kind,
            checksum: m.checksum.clone(),
            applied_at: "2026-01-01T00:00:00.000Z".into(),
            applied_by: "postgres@test".into(),
            duration_ms: 1,
            state: AppliedState::Complete,
        }
    }

    fn summary_of(rows: &[AppliedMigration]) -> HistorySummary {
        let mut digest = Digest::default();
        for r in rows {
            digest.add(Digest::of_row(
                r.kind,
                &r.key,
                r.checksum.algorithm,
                &r.checksum.hex,
            ));
        }
        HistorySummary {
            rows: rows.len() as u64,
            unfinished: rows
                .iter()
                .filter(|r| r.state != AppliedState::Complete)
                .count() as u64,
            digest,
        }
    }

    fn set(n: usize) -> Vec<Migration> {
        (1..=n)
            .map(|i| mig(&format!("{i:03}"), &format!("create table t{i} ();")))
            .collect()
    }

    #[test]
    fn every_prefix_plans_as_the_rows_would() {
        let local = set(6);
        let targets = [
            Target::Up {
                to: None,
                steps: None,
            },
            Target::Up {
                to: None,
                steps: Some(2),
            },
            Target::Up {
                to: Some("4".into()),
                steps: None,
            },
        ];
        for applied in 0..=local.len() {
            let rows: Vec<_> = local[..applied].iter().map(row_of).collect();
            let summary = summary_of(&rows);
            for target in &targets {
                let fast = plan_from_summary(&local, &summary, target, &Policy::default())
                    .expect("a prefix is planned from the summary");
                let full = plan(&local, &rows, target, &Policy::default());
                match (fast, full) {
                    (Ok(fast), Ok(full)) => {
                        assert_eq!(fast.steps, full.steps, "{applied} applied, {target:?}");
                        assert!(fast.findings.is_empty() && full.findings.is_empty());
                        let shape = |p: &Plan| {
                            p.entries
                                .iter()
                                .map(|e| {
                                    (
                                        e.key.clone(),
                                        e.version.clone(),
                                        e.name.clone(),
                                        e.state,
                                        e.local,
                                    )
                                })
                                .collect::<Vec<_>>()
                        };
                        assert_eq!(shape(&fast), shape(&full));
                    }
                    (fast, full) => assert_eq!(fast.is_err(), full.is_err()),
                }
            }
        }
    }

    #[test]
    fn anything_but_an_exact_prefix_needs_the_rows() {
        let local = set(4);
        let up = Target::Up {
            to: None,
            steps: None,
        };
        let policy = Policy::default();
        let rows: Vec<_> = local[..3].iter().map(row_of).collect();

        // An applied file edited since.
        let mut edited = rows.clone();
        edited[1].checksum = Checksum::of_bytes(b"create table other ();");
        assert!(plan_from_summary(&local, &summary_of(&edited), &up, &policy).is_none());

        // A gap: 002 pending below applied 003 (out of order).
        let gap = vec![rows[0].clone(), rows[2].clone()];
        assert!(plan_from_summary(&local, &summary_of(&gap), &up, &policy).is_none());

        // A row whose file is missing.
        let mut extra = rows.clone();
        extra.push(row_of(&mig("900", "select 1;")));
        assert!(plan_from_summary(&local, &summary_of(&extra), &up, &policy).is_none());

        // More rows than files.
        let all: Vec<_> = local.iter().map(row_of).collect();
        assert!(plan_from_summary(&local[..2], &summary_of(&all), &up, &policy).is_none());

        // A part-way migration.
        let mut partial = rows.clone();
        partial[2].state = AppliedState::Partial {
            statements_done: 1,
            error: "boom".into(),
            fingerprint: None,
        };
        assert!(plan_from_summary(&local, &summary_of(&partial), &up, &policy).is_none());

        // The same version spelled differently in history (`2` for `002`).
        let mut respelled = rows.clone();
        respelled[1].key = "2".into();
        assert!(plan_from_summary(&local, &summary_of(&respelled), &up, &policy).is_none());

        // Other targets always read the rows.
        let summary = summary_of(&rows);
        for target in [
            Target::Status,
            Target::Redo,
            Target::Down {
                to: None,
                steps: None,
                all: true,
            },
        ] {
            assert!(plan_from_summary(&local, &summary, &target, &policy).is_none());
        }
        assert!(plan_from_summary(&local, &summary, &up, &policy).is_some());
    }

    #[test]
    fn the_digest_does_not_depend_on_row_order() {
        let local = set(5);
        let rows: Vec<_> = local.iter().map(row_of).collect();
        let mut reversed = rows.clone();
        reversed.reverse();
        assert_eq!(summary_of(&rows), summary_of(&reversed));
        // Swapping two files' contents changes it (the key is hashed with its checksum).
        let mut swapped = rows.clone();
        let c = swapped[0].checksum.clone();
        swapped[0].checksum = swapped[1].checksum.clone();
        swapped[1].checksum = c;
        assert_ne!(summary_of(&rows), summary_of(&swapped));
    }

    #[test]
    fn a_term_is_md5_of_the_row_text_in_halves() {
        // md5("versioned\n1\nsha256-lf\nab") computed independently (coreutils md5sum).
        let d = Digest::of_row(
            MigrationKind::Versioned,
            "1",
            ChecksumAlgorithm::Sha256Lf,
            "ab",
        );
        let hex = format!("{:016x}{:016x}", d.high as i64 as u64, d.low as i64 as u64);
        assert_eq!(hex, "d50f54a25b415fdfe7c02f7e4036a6ba");
    }
}
