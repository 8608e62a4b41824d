//! Which history a set's files belong to, decided before anything is applied.
//!
//! A set's history is keyed by its name. When a set that has no history yet is about to apply
//! migrations that another key in the same registry already records (same version, same
//! checksum), the files were almost certainly applied before under another name: an unnamed
//! set keyed by its directory path in an older strata, a folder copied into a container image,
//! or a second `[[set]]` pointing at the same directory. Applying them again would run every
//! `INSERT` and `UPDATE` a second time. These functions decide, from the registry's answer,
//! whether to go on, to move the one old history to this set's key, or to refuse; they hold no
//! I/O so every case is unit-tested.

use crate::{Plan, State};

/// Another set's history in the registry, compared with a set's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherHistory {
    /// The other set's registry key.
    pub set: String,
    /// Its history rows.
    pub rows: u64,
    /// Of those, the rows whose key and checksum are those of one of the files.
    pub matching: u64,
}

impl OtherHistory {
    /// Every row of that history names one of the files, unchanged.
    pub fn fully_matches(&self) -> bool {
        self.rows > 0 && self.matching == self.rows
    }
}

/// What to do with a set that has no history rows and has migrations to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// No other history records these files: a first run.
    Fresh,
    /// Exactly one history that no configured set owns records these files, all of its rows
    /// matching: it is this set's history under its old key; move it (nothing runs again).
    Move {
        /// The old key.
        from: String,
        /// Its rows.
        rows: u64,
    },
    /// Other histories record some of these files; which one is this set's is a decision for
    /// the user (`strata adopt --from-set NAME`), or none is (a distinct set with a copy of
    /// the same files: `--ignore-foreign`).
    Refuse {
        /// Every history that records some of these files, most matching first.
        candidates: Vec<OtherHistory>,
    },
}

/// Decides for a set without history rows. `named`: the set's key was chosen by the user
/// (`[[set]] name`, `--set`), so it is never moved onto silently; `configured`: every set name
/// in strata.toml (those histories belong to their sets, never to an unnamed one); `others`:
/// the registry's histories that record some of these files.
pub fn identity_of(named: bool, configured: &[String], others: &[OtherHistory]) -> Identity {
    match others {
        [] => Identity::Fresh,
        [only] if !named && only.fully_matches() && !configured.contains(&only.set) => {
            Identity::Move {
                from: only.set.clone(),
                rows: only.rows,
            }
        }
        _ => Identity::Refuse {
            candidates: others.to_vec(),
        },
    }
}

/// How an unnamed set's files disagree with the history recorded under its key: applied
/// migrations whose file is not in this directory, and applied migrations whose file changed.
/// Both sides empty means they agree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Disagreement {
    /// Keys of history rows without a file here.
    pub missing: Vec<String>,
    /// Keys of applied migrations whose file was edited since.
    pub modified: Vec<String>,
}

impl Disagreement {
    /// True when the files and the history agree.
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.modified.is_empty()
    }
}

/// The ways `plan`'s files disagree with its history (see [`Disagreement`]).
pub fn disagreement(plan: &Plan) -> Disagreement {
    let keys = |state: State| {
        plan.entries
            .iter()
            .filter(|e| e.state == state)
            .map(|e| e.key.clone())
            .collect()
    };
    Disagreement {
        missing: keys(State::Missing),
        modified: keys(State::Modified),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn other(set: &str, rows: u64, matching: u64) -> OtherHistory {
        OtherHistory {
            set: set.into(),
            rows,
            matching,
        }
    }

    #[test]
    fn nothing_recorded_elsewhere_is_a_first_run() {
        assert_eq!(identity_of(false, &[], &[]), Identity::Fresh);
        assert_eq!(identity_of(true, &[], &[]), Identity::Fresh);
    }

    #[test]
    fn one_old_unconfigured_history_of_these_files_moves() {
        assert_eq!(
            identity_of(false, &["auth".into()], &[other("app/migrations", 3, 3)]),
            Identity::Move {
                from: "app/migrations".into(),
                rows: 3
            }
        );
    }

    #[test]
    fn a_named_set_never_takes_another_history_silently() {
        assert!(matches!(
            identity_of(true, &[], &[other("app/migrations", 3, 3)]),
            Identity::Refuse { .. }
        ));
    }

    #[test]
    fn partial_ambiguous_or_configured_histories_refuse() {
        // Some rows are not these files (another folder's history that shares a version).
        assert!(matches!(
            identity_of(false, &[], &[other("a", 3, 2)]),
            Identity::Refuse { .. }
        ));
        // Two candidates.
        let two = [other("a", 3, 3), other("b", 3, 3)];
        match identity_of(false, &[], &two) {
            Identity::Refuse { candidates } => assert_eq!(candidates, two.to_vec()),
            other => panic!("{other:?}"),
        }
        // A configured set's history belongs to that set.
        assert!(matches!(
            identity_of(false, &["a".into()], &[other("a", 3, 3)]),
            Identity::Refuse { .. }
        ));
    }

    #[test]
    fn disagreement_lists_missing_and_modified_rows() {
        use crate::{Entry, Plan};
        use strata_model::MigrationKind;
        let entry = |key: &str, state: State| Entry {
            key: key.into(),
            version: Some(key.into()),
            name: "x".into(),
            kind: MigrationKind::Versioned,
            state,
            local: None,
            applied: None,
        };
        let plan = Plan {
            entries: vec![
                entry("1", State::Applied),
                entry("2", State::Modified),
                entry("3", State::Pending),
                entry("9", State::Missing),
            ],
            steps: Vec::new(),
            findings: Vec::new(),
        };
        let d = disagreement(&plan);
        assert_eq!(d.missing, vec!["9".to_owned()]);
        assert_eq!(d.modified, vec!["2".to_owned()]);
        assert!(!d.is_empty());
        assert!(disagreement(&Plan {
            entries: vec![entry("1", State::Applied)],
            steps: Vec::new(),
            findings: Vec::new()
        })
        .is_empty());
    }
}
