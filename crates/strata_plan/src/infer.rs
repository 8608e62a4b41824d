//! Proposing a baseline for a database that was migrated without any history table (a psql
//! loop over `001_*.sql`): the schema is the only witness of which migrations ran.
//!
//! For each migration, the caller counts how many of the objects it creates (and no later
//! migration drops) exist in the database. Migrations are applied in order, so the proposal is
//! the last migration whose objects all exist; everything that contradicts that picture — a
//! missing object at or before it, a half-present migration, an existing object after it — is
//! reported instead of guessed away, and the proposal is only ever recorded by an explicit
//! `strata baseline` (or `adopt --infer --apply`).

use serde::Serialize;

/// What the database shows of one migration's objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Evidence {
    /// Objects the migration creates that exist.
    pub present: usize,
    /// Objects the migration creates that do not.
    pub absent: usize,
}

/// The reading of one migration's evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every object it creates exists.
    Applied,
    /// None of them exists.
    NotApplied,
    /// Some exist, some do not.
    Partial,
    /// It creates nothing that can be checked (data changes only, or everything it creates is
    /// dropped later).
    NoEvidence,
}

impl Verdict {
    fn of(e: Evidence) -> Verdict {
        match (e.present, e.absent) {
            (0, 0) => Verdict::NoEvidence,
            (_, 0) => Verdict::Applied,
            (0, _) => Verdict::NotApplied,
            _ => Verdict::Partial,
        }
    }
}

/// The proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inference {
    /// Per migration, in order.
    pub verdicts: Vec<Verdict>,
    /// Index of the last migration to record as applied (`None`: nothing ran).
    pub baseline: Option<usize>,
    /// Migrations whose evidence contradicts the proposal: missing objects at or before the
    /// baseline, or partial ones anywhere.
    pub conflicts: Vec<usize>,
    /// Migrations without evidence right after the baseline: they may or may not have run.
    pub undecided: Vec<usize>,
}

/// Proposes a baseline from per-migration evidence (in apply order).
pub fn infer_baseline(evidence: &[Evidence]) -> Inference {
    let verdicts: Vec<Verdict> = evidence.iter().copied().map(Verdict::of).collect();
    let baseline = verdicts.iter().rposition(|v| *v == Verdict::Applied);
    let conflicts = verdicts
        .iter()
        .enumerate()
        .filter(|(i, v)| match v {
            Verdict::Partial => true,
            Verdict::NotApplied => baseline.is_some_and(|b| *i < b),
            _ => false,
        })
        .map(|(i, _)| i)
        .collect();
    let start = baseline.map_or(0, |b| b + 1);
    let undecided = verdicts[start..]
        .iter()
        .take_while(|v| **v == Verdict::NoEvidence)
        .enumerate()
        .map(|(k, _)| start + k)
        .collect();
    Inference {
        verdicts,
        baseline,
        conflicts,
        undecided,
    }
}

/// The objects that witness each migration of `migrations` (in order): what it creates that
/// neither it nor a later migration drops again, directly or with what holds it (a dropped
/// table takes its columns, constraints and triggers along; a dropped schema its contents): a
/// later drop makes absence meaningless.
/// Counting which of them exist gives each migration's [`Evidence`].
pub fn witnesses(
    migrations: &[&strata_model::Migration],
) -> Vec<Vec<strata_sql::objects::DbObject>> {
    let effects: Vec<strata_sql::objects::Effects> = migrations
        .iter()
        .map(|m| strata_sql::objects::effects(&strata_sql::analyze(m.up.sql())))
        .collect();
    effects
        .iter()
        .enumerate()
        .map(|(k, e)| {
            let mut objects: Vec<_> = e
                .created
                .iter()
                .filter(|o| {
                    !effects[k..]
                        .iter()
                        .any(|later| later.dropped.iter().any(|d| o.goes_with(d)))
                })
                .cloned()
                .collect();
            objects.sort();
            objects.dedup();
            objects
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(present: usize, absent: usize) -> Evidence {
        Evidence { present, absent }
    }

    #[test]
    fn a_clean_prefix_is_proposed() {
        let i = infer_baseline(&[ev(3, 0), ev(0, 0), ev(2, 0), ev(0, 0), ev(0, 2), ev(0, 1)]);
        assert_eq!(i.baseline, Some(2));
        assert!(i.conflicts.is_empty());
        assert_eq!(i.undecided, [3]);
        assert_eq!(i.verdicts[4], Verdict::NotApplied);
    }

    #[test]
    fn contradictions_are_reported_not_guessed() {
        let i = infer_baseline(&[ev(1, 0), ev(0, 1), ev(1, 1), ev(2, 0), ev(0, 1)]);
        assert_eq!(i.baseline, Some(3));
        assert_eq!(i.conflicts, [1, 2]);
        let none = infer_baseline(&[ev(0, 1), ev(0, 0)]);
        assert_eq!(none.baseline, None);
        assert_eq!(none.undecided, Vec::<usize>::new());
    }

    fn migration(version: &str, sql: &str) -> strata_model::Migration {
        let file = std::sync::Arc::new(strata_model::SourceFile::from_string(
            format!("{version}_m.sql"),
            sql,
        ));
        strata_model::Migration {
            id: strata_model::MigrationId {
                version: Some(strata_model::Version::parse(version).unwrap()),
                name: "m".into(),
                shared_version: false,
            },
            kind: strata_model::MigrationKind::Versioned,
            checksum: file.checksum().clone(),
            up: strata_model::Script::whole(file, vec![]),
            down: None,
            verify: None,
        }
    }

    #[test]
    fn objects_a_later_migration_drops_witness_nothing() {
        let first = migration("1", "CREATE TABLE a (x int); CREATE TABLE gone (x int);");
        let second = migration("2", "DROP TABLE gone; CREATE TABLE b (x int);");
        let found = witnesses(&[&first, &second]);
        let names: Vec<Vec<String>> = found
            .iter()
            .map(|objects| objects.iter().map(ToString::to_string).collect())
            .collect();
        assert_eq!(names.len(), 2);
        assert!(names[0].contains(&"relation a".to_owned()), "{names:?}");
        assert!(!names[0].contains(&"relation gone".to_owned()), "{names:?}");
        assert!(names[1].contains(&"relation b".to_owned()), "{names:?}");
    }

    #[test]
    fn a_dropped_table_takes_its_columns_constraints_and_triggers_along() {
        let first = migration(
            "1",
            "CREATE TABLE keep (x int); CREATE TABLE gone (id int CONSTRAINT gone_pk PRIMARY KEY, email text);\n\
             ALTER TABLE gone ADD COLUMN name text;",
        );
        let second = migration("2", "DROP TABLE gone;");
        let names: Vec<String> = witnesses(&[&first, &second])[0]
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(names.iter().all(|n| !n.contains("gone")), "{names:?}");
        assert!(names.contains(&"relation keep".to_owned()), "{names:?}");

        let in_schema = migration("1", "CREATE SCHEMA app; CREATE TABLE app.t (x int);");
        let dropped = migration("2", "DROP SCHEMA app CASCADE;");
        assert!(witnesses(&[&in_schema, &dropped])[0].is_empty());
    }
}
