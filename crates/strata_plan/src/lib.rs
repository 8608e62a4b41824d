//! The one planner behind every verb.
//!
//! `up`, `down`, `redo`, `goto`, `baseline`, `status`, `validate` and every `--dry-run` call
//! [`plan`] with the migrations found on disk, the history read from the database and a
//! [`Target`]; they render or execute the same [`Plan`]. Keeping this pure (no I/O, no clock)
//! means every rule about ordering, drift and refusal is unit-tested without PostgreSQL, and the
//! executor can stay dumb: it only runs steps.

mod identity;
mod infer;
mod summary;
pub use identity::{disagreement, identity_of, Disagreement, Identity, OtherHistory};
pub use infer::{infer_baseline, witnesses, Evidence, Inference, Verdict};
pub use summary::{plan_from_summary, Digest, HistorySummary};

use serde::Serialize;
use strata_model::{AppliedMigration, AppliedState, Migration, MigrationKind, Version};

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Apply pending migrations, all of them or up to a version / a number of steps.
    Up {
        /// Stop after this version (inclusive).
        to: Option<String>,
        /// Apply at most this many.
        steps: Option<usize>,
    },
    /// Revert applied migrations.
    Down {
        /// Revert everything above this version (the version itself stays applied).
        to: Option<String>,
        /// Revert this many (default 1).
        steps: Option<usize>,
        /// Revert everything.
        all: bool,
    },
    /// Revert the last applied migration and apply it again.
    Redo,
    /// Move up or down to exactly this version.
    Goto(String),
    /// Record everything up to this version as applied without running it.
    Baseline(String),
    /// Only report.
    Status,
    /// Settle a migration by hand-made decision: record it as applied, or forget it, without
    /// running anything (after finishing or undoing it by hand).
    Mark {
        /// The migration's version.
        version: String,
        /// `true`: record as applied; `false`: record as reverted (delete its row).
        applied: bool,
    },
    /// Accept the current file of an applied migration that was edited on purpose.
    Accept(String),
}

/// Knobs that change what is allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Apply pending migrations whose version is below the highest applied one.
    pub allow_out_of_order: bool,
}

/// The state of one migration, as `status` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Applied with the checksum the file still has.
    Applied,
    /// Not applied yet.
    Pending,
    /// Applied, but the file changed since.
    Modified,
    /// Applied, but its file is gone.
    Missing,
    /// Not applied, and older than the newest applied migration.
    OutOfOrder,
    /// A non-transactional migration that stopped part-way; resumable.
    Partial,
    /// Not applied; its last attempt failed and was rolled back (see [`mark_failed`]).
    Failed,
}

impl State {
    /// The stable name used in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::Modified => "modified",
            State::Missing => "missing",
            State::OutOfOrder => "out_of_order",
            State::Partial => "partial",
            State::Failed => "failed",
        }
    }
}

/// One line of status: a local migration, a history row, or both.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Registry key.
    pub key: String,
    /// Version as written (file name, or history when the file is missing).
    pub version: Option<String>,
    /// Name.
    pub name: String,
    /// Versioned or repeatable.
    pub kind: MigrationKind,
    /// The state.
    pub state: State,
    /// Index into the local migrations.
    #[serde(skip)]
    pub local: Option<usize>,
    /// The history row (`None` for a migration not applied, and in a plan made by
    /// [`plan_from_summary`], which has no rows).
    ///
    /// Boxed: a plan of 10,000 entries, most of them without a row, is then 10,000 small
    /// entries instead of 10,000 entries the size of a row.
    #[serde(skip)]
    pub applied: Option<Box<AppliedMigration>>,
}

/// Something the executor does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Step {
    /// Run a migration's up script (from statement `resume_from`, 0-based, when resuming a
    /// partial non-transactional run).
    Apply {
        /// Index into the local migrations.
        index: usize,
        /// Registry key to record under: the existing row's key when there is one (the file
        /// may spell the version differently, `005` vs `5`), else the file's own key.
        key: String,
        /// First statement to run.
        resume_from: usize,
        /// Why this migration is applied.
        reason: ApplyReason,
    },
    /// Run a migration's down script and delete its history row.
    Revert {
        /// Index into the local migrations.
        index: usize,
        /// Registry key of the history row to delete.
        key: String,
    },
    /// Record an operator's decision: applied (`applied == true`, a row with the file's
    /// checksum) or reverted (its row deleted). Nothing runs.
    Mark {
        /// Index into the local migrations (absent for a missing file being forgotten).
        index: Option<usize>,
        /// Registry key.
        key: String,
        /// The decision.
        applied: bool,
    },
    /// Replace the recorded checksum of an applied migration with its file's current one.
    Accept {
        /// Index into the local migrations.
        index: usize,
        /// Registry key.
        key: String,
    },
    /// Record a migration as applied without running it.
    Baseline {
        /// Index into the local migrations.
        index: usize,
        /// Registry key to record under.
        key: String,
    },
}

/// Why a migration is in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplyReason {
    /// Never applied.
    Pending,
    /// Never applied and older than applied ones; allowed by policy.
    OutOfOrder,
    /// A repeatable migration that is new or changed.
    RepeatableChanged,
    /// Completing a partial non-transactional run.
    Resume,
}

/// Why a `Mark` or `Accept` target does not fit the migration's state.
fn unfit(key: &str, state: State, wanted: &str) -> PlanError {
    PlanError::NotApplicable {
        key: key.to_owned(),
        state: state.as_str().to_owned(),
        wanted: wanted.to_owned(),
    }
}

/// A problem `validate` and `status --check` report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Registry key of the migration.
    pub key: String,
    /// The state behind the finding.
    pub state: State,
    /// What is wrong and what to do.
    pub message: String,
}

/// The result of planning.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Every migration's state, versioned in version order, then repeatables.
    pub entries: Vec<Entry>,
    /// What to do, in order.
    pub steps: Vec<Step>,
    /// Drift and ordering problems, independent of the target.
    pub findings: Vec<Finding>,
}

impl Plan {
    /// True when nothing is pending and nothing has drifted.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty() && self.entries.iter().all(|e| e.state == State::Applied)
    }

    /// The local indexes of the migrations this plan applies from their first statement (a
    /// part-way one resumes where it stopped, so its completed statements are not new).
    pub fn first_applies(&self) -> Vec<usize> {
        first_applies(&self.steps)
    }
}

/// [`Plan::first_applies`] of a list of steps.
pub fn first_applies(steps: &[Step]) -> Vec<usize> {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::Apply {
                index,
                resume_from: 0,
                ..
            } => Some(*index),
            _ => None,
        })
        .collect()
}

/// Why a target cannot be planned. Each message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// An applied migration's file changed.
    #[error("migration {key} was applied with checksum {applied} but its file now has {local}: an applied migration must not be edited; restore the file from version control, or write a new migration for the change")]
    Modified {
        /// The migration.
        key: String,
        /// Checksum in history.
        applied: String,
        /// Checksum on disk.
        local: String,
    },
    /// Pending migrations older than applied ones.
    #[error("migration(s) {} are pending but older than the newest applied migration {newest}: applying them now would run them out of order; if that is intended, run again with --allow-out-of-order", keys.join(", "))]
    OutOfOrder {
        /// Registry keys of the out-of-order migrations.
        keys: Vec<String>,
        /// The newest applied version.
        newest: String,
    },
    /// A version given on the command line matches no migration.
    #[error("no migration has version `{input}`; `strata status` lists the versions of this set")]
    UnknownVersion {
        /// As typed.
        input: String,
    },
    /// A version given on the command line that several migrations share.
    #[error("version `{input}` is shared by {} migrations ({}); name one by its key", keys.len(), keys.join(", "))]
    SharedVersion {
        /// As typed.
        input: String,
        /// The registry keys of the migrations with that version.
        keys: Vec<String>,
    },
    /// A version that cannot be parsed.
    #[error("`{input}` is not a version (expected digits such as `5`, `005`, `V5`, `1.2` or `20250101120000`)")]
    BadVersion {
        /// As typed.
        input: String,
    },
    /// Reverting a migration that has no down script.
    #[error("migration {key} has no down script, so strata cannot revert it; add one ({hint}) or revert it by hand and record that with `strata baseline`")]
    NoDown {
        /// The migration.
        key: String,
        /// Where a down script would go for this layout.
        hint: String,
    },
    /// Reverting a migration whose file is missing.
    #[error("migration {key} is applied but its file is missing, so strata cannot revert it; restore the file from version control")]
    MissingFile {
        /// The migration.
        key: String,
    },
    /// A partial run blocks anything but resuming it.
    #[error("migration {key} stopped part-way ({done} statement(s) ran) and must be completed before anything else; run `strata up` to resume it from statement {}", done + 1)]
    PartialBlocks {
        /// The migration.
        key: String,
        /// Statements completed.
        done: usize,
    },
    /// A repair that does not fit the migration's state.
    #[error("migration {key} is {state}; {wanted}")]
    NotApplicable {
        /// The migration.
        key: String,
        /// Its state.
        state: String,
        /// What the operator asked, and what fits instead.
        wanted: String,
    },
    /// A migration to apply is still the template `strata new` wrote.
    #[error("migration {key} ({path}) is still the template `strata new` wrote (its up script has the `-- strata:template` line, or is exactly the old template): write its SQL and delete that line, or delete the file; {before}")]
    Template {
        /// The migration.
        key: String,
        /// Its up script's file.
        path: String,
        /// How to apply the migrations before it meanwhile.
        before: String,
    },
    /// A partial run whose file changed since: the statement journal no longer lines up.
    #[error("migration {key} stopped part-way ({done} statement(s) ran) and its file has changed since, so strata cannot tell where to resume; restore the file and run `strata up`, or finish the migration by hand and record it with `strata baseline {key}`")]
    PartialModified {
        /// The migration.
        key: String,
        /// Statements completed.
        done: usize,
    },
}

/// Resolves a version typed by a user (`5`, `005`, `V5`) against local migrations and history.
fn resolve(
    input: &str,
    local: &[Migration],
    applied: &[AppliedMigration],
) -> Result<Version, PlanError> {
    let v = Version::parse_user(input).map_err(|_| PlanError::BadVersion {
        input: input.to_owned(),
    })?;
    let known = local
        .iter()
        .filter_map(|m| m.id.version.as_ref())
        .any(|lv| lv.same_as(&v))
        || applied
            .iter()
            .filter_map(|a| a.version.as_deref())
            .filter_map(|s| Version::parse(s).ok())
            .any(|av| av.same_as(&v));
    // `0` is the conventional "before everything" for `down --to 0` / `goto 0`.
    if known || v.parts().all(|p| p == "0") {
        Ok(v)
    } else {
        Err(PlanError::UnknownVersion {
            input: input.to_owned(),
        })
    }
}

/// True when the files are in apply order with distinct versions: versioned ones by strictly
/// ascending version, then repeatables by name (as a loaded set is: loading sorts it and
/// rejects two files claiming one version).
fn files_in_apply_order(local: &[Migration]) -> bool {
    local.windows(2).all(|w| match (w[0].kind, w[1].kind) {
        (MigrationKind::Versioned, MigrationKind::Versioned) => {
            matches!((&w[0].id.version, &w[1].id.version), (Some(a), Some(b)) if a < b)
        }
        (MigrationKind::Versioned, MigrationKind::Repeatable) => true,
        (MigrationKind::Repeatable, MigrationKind::Repeatable) => {
            (&w[0].id.version, &w[0].id.name) <= (&w[1].id.version, &w[1].id.name)
        }
        (MigrationKind::Repeatable, MigrationKind::Versioned) => false,
    })
}

/// True when history row *i* is the row of local migration *i* for every row: all versioned
/// and each spelled exactly as its file's version, with the files in apply order
/// ([`files_in_apply_order`], passed in as `files_in_order`). Each row then matches its own
/// file and no other, as [`match_rows`] would find.
fn rows_follow_the_files(
    local: &[Migration],
    applied: &[AppliedMigration],
    files_in_order: bool,
) -> bool {
    files_in_order
        && applied.len() <= local.len()
        && applied.iter().zip(local).all(|(a, m)| {
            a.kind == MigrationKind::Versioned
                && m.kind == MigrationKind::Versioned
                && matches!((&a.version, &m.id.version), (Some(row), Some(file)) if row == file.as_str())
                && (!m.id.shared_version || a.name == m.id.name)
        })
}

/// For each local migration, the history row matching it (by canonical version, repeatables
/// by name; the first such row when several match), with the newest and oldest applied
/// versions. Where a version is shared by several files or several rows (see
/// [`strata_model::MigrationId::shared_version`]), a file takes the row of its own name, and
/// otherwise the one row left of its version with its checksum: a renamed file keeps its row
/// only when that is unambiguous.
fn match_rows(
    local: &[Migration],
    applied: &[AppliedMigration],
) -> (Vec<Option<usize>>, Option<Version>, Option<Version>) {
    let applied_versions: Vec<Option<Version>> = applied
        .iter()
        .map(|a| match a.kind {
            MigrationKind::Versioned => a.version.as_deref().and_then(|s| Version::parse(s).ok()),
            MigrationKind::Repeatable => None,
        })
        .collect();
    let newest = applied_versions.iter().flatten().max().cloned();
    let oldest = applied_versions.iter().flatten().min().cloned();
    let mut by_version: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut by_name: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut rows_per_version: std::collections::HashMap<String, usize> =
        std::collections::HashMap::new();
    for (i, a) in applied.iter().enumerate() {
        match (a.kind, &applied_versions[i]) {
            (MigrationKind::Versioned, Some(v)) => {
                let key = v.canonical_key();
                *rows_per_version.entry(key.clone()).or_default() += 1;
                by_version.entry(key).or_insert(i);
            }
            (MigrationKind::Versioned, None) => {}
            (MigrationKind::Repeatable, _) => {
                by_name.entry(a.name.as_str()).or_insert(i);
            }
        }
    }
    let mut row_of: Vec<Option<usize>> = local
        .iter()
        .map(|m| match (&m.id.version, m.kind) {
            (Some(_), MigrationKind::Versioned) if m.id.shared_version => None,
            (Some(v), MigrationKind::Versioned) => by_version.get(&v.canonical_key()).copied(),
            _ => by_name.get(m.id.name.as_str()).copied(),
        })
        .collect();
    // Versions whose files or rows are several: matched by name, then by checksum.
    let several_rows = rows_per_version.values().any(|&c| c > 1);
    // Versions whose files or rows are several, with their files and rows (one pass over each
    // side): matched by name, then by checksum.
    let mut groups: std::collections::BTreeMap<String, (Vec<usize>, Vec<usize>)> =
        std::collections::BTreeMap::new();
    for (i, m) in local.iter().enumerate() {
        if m.kind != MigrationKind::Versioned || !(several_rows || m.id.shared_version) {
            continue;
        }
        let Some(key) = m.id.version.as_ref().map(Version::canonical_key) else {
            continue;
        };
        if m.id.shared_version || rows_per_version.get(&key) > Some(&1) {
            groups.entry(key).or_default().0.push(i);
        }
    }
    if !groups.is_empty() {
        for (i, a) in applied.iter().enumerate() {
            let key = match (a.kind, &applied_versions[i]) {
                (MigrationKind::Versioned, Some(v)) => v.canonical_key(),
                _ => continue,
            };
            if let Some((_, rows)) = groups.get_mut(&key) {
                rows.push(i);
            }
        }
    }
    for (files, mut rows) in groups.into_values() {
        let mut unmatched = Vec::new();
        for &f in &files {
            match rows
                .iter()
                .position(|&r| applied[r].name == local[f].id.name)
            {
                Some(p) => row_of[f] = Some(rows.remove(p)),
                None => unmatched.push(f),
            }
        }
        for f in unmatched {
            let same_content: Vec<usize> = (0..rows.len())
                .filter(|&p| applied[rows[p]].checksum == local[f].checksum)
                .collect();
            row_of[f] = match same_content[..] {
                [p] => Some(rows.remove(p)),
                _ => None,
            };
        }
    }
    (row_of, newest, oldest)
}

/// Builds the plan for `target`.
pub fn plan(
    local: &[Migration],
    applied: &[AppliedMigration],
    target: &Target,
    policy: &Policy,
) -> Result<Plan, PlanError> {
    let mut entries = Vec::with_capacity(local.len());
    // Which history row (if any) each local migration has. Usually the rows are the first
    // files' rows in the same order (a history written by applying the set in order, read in
    // the table's physical order), and checking that costs one string comparison per row;
    // otherwise rows are matched by canonical version (and repeatables by name), one pass
    // over each side, so planning costs O(n) however long the history is.
    let files_in_order = files_in_apply_order(local);
    let aligned = rows_follow_the_files(local, applied, files_in_order);
    let (row_of, newest_applied, oldest_applied) = if aligned {
        let versions = || {
            local[..applied.len()]
                .iter()
                .filter_map(|m| m.id.version.as_ref())
        };
        let row_of: Vec<Option<usize>> = (0..local.len())
            .map(|i| (i < applied.len()).then_some(i))
            .collect();
        (row_of, versions().max().cloned(), versions().min().cloned())
    } else {
        match_rows(local, applied)
    };
    let mut matched = vec![false; applied.len()];
    // A squashed baseline (written by `strata squash`) stands for every migration up to its
    // version: a database that applied any of those has, in effect, applied the baseline.
    let covered_upto = local
        .iter()
        .filter(|m| {
            m.up.directives
                .iter()
                .any(|d| d.kind == strata_model::DirectiveKind::SquashedBaseline)
        })
        .filter_map(|m| m.id.version.clone())
        .filter(|v| oldest_applied.as_ref().is_some_and(|o| o <= v))
        .max();
    for (index, m) in local.iter().enumerate() {
        let row_index = row_of[index];
        if let Some(i) = row_index {
            matched[i] = true;
        }
        let row = row_index.map(|i| &applied[i]);
        let is_covered_baseline = covered_upto
            .as_ref()
            .is_some_and(|c| m.id.version.as_ref() == Some(c));
        let state = match (row, m.kind) {
            _ if is_covered_baseline => State::Applied,
            (Some(r), _) if matches!(r.state, AppliedState::Partial { .. }) => State::Partial,
            (Some(r), MigrationKind::Versioned) if !recorded_matches(r, m) => State::Modified,
            (Some(r), MigrationKind::Repeatable) if !recorded_matches(r, m) => State::Pending,
            (Some(_), _) => State::Applied,
            (None, MigrationKind::Versioned) => match (&newest_applied, &m.id.version) {
                (Some(newest), Some(v)) if v < newest => State::OutOfOrder,
                _ => State::Pending,
            },
            (None, MigrationKind::Repeatable) => State::Pending,
        };
        entries.push(Entry {
            key: row.map_or_else(|| m.id.registry_key(), |r| r.key.clone()),
            version: m.id.version.as_ref().map(|v| v.to_string()),
            name: m.id.name.clone(),
            kind: m.kind,
            state,
            local: Some(index),
            applied: row.cloned().map(Box::new),
        });
    }
    let from_files = entries.len();
    for (i, a) in applied.iter().enumerate() {
        let covered = || {
            covered_upto.as_ref().is_some_and(|c| {
                a.kind == MigrationKind::Versioned
                    && a.version
                        .as_deref()
                        .and_then(|s| Version::parse(s).ok())
                        .is_some_and(|v| v <= *c)
            })
        };
        if !matched[i] && !covered() {
            entries.push(Entry {
                key: a.key.clone(),
                version: a.version.clone(),
                name: a.name.clone(),
                kind: a.kind,
                state: State::Missing,
                local: None,
                applied: Some(Box::new(a.clone())),
            });
        }
    }
    // Keys computed once per entry, not twice per comparison (a version parse and a name
    // copy each): this sort was most of planning's cost with 10,000 migrations.
    // Entries made from files in set order are already sorted (the usual case: a set is
    // loaded sorted, and no applied migration lacks its file); that check cost one
    // comparison of parsed versions per migration (done once above) instead of a parse per
    // entry.
    let presorted = entries.len() == from_files && files_in_order;
    if !presorted {
        entries.sort_by_cached_key(|e| {
            (
                e.kind,
                e.version.as_deref().and_then(|s| Version::parse(s).ok()),
                e.name.clone(),
            )
        });
    }

    let findings = findings_of(&entries, local);
    let steps = steps_for(target, policy, local, applied, &entries)?;
    Ok(Plan {
        entries,
        steps,
        findings,
    })
}

fn findings_of(entries: &[Entry], local: &[Migration]) -> Vec<Finding> {
    let mut out = Vec::new();
    for e in entries {
        let message = match e.state {
            State::Applied | State::Pending | State::Failed => continue,
            State::Modified => {
                let (a, l) = (e.applied.as_ref().map(|a| a.checksum.short().to_owned()), e.local.map(|i| local[i].checksum.short().to_owned()));
                format!(
                    "applied migration was edited after it ran (checksum {} in history, {} on disk); restore it from version control or put the change in a new migration",
                    a.unwrap_or_default(),
                    l.unwrap_or_default()
                )
            }
            State::Missing => "applied migration has no file any more; restore it, or check that this is the right directory and branch".into(),
            State::OutOfOrder => "pending, but older than the newest applied migration (a branch merge?); apply it with --allow-out-of-order or renumber it".into(),
            State::Partial => match e.applied.as_ref().map(|a| &a.state) {
                Some(AppliedState::Partial { statements_done, error, .. }) => format!(
                    "stopped part-way: {statements_done} statement(s) ran before it failed ({error}); fix the cause and run `strata up` to resume"
                ),
                _ => "stopped part-way".into(),
            },
        };
        out.push(Finding {
            key: e.key.clone(),
            state: e.state,
            message,
        });
    }
    out
}

/// A code migration (see [`strata_model::DirectiveKind::Code`]) that `up` stopped before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeStop {
    /// Its registry key.
    pub key: String,
    /// Its version as written.
    pub version: String,
    /// Its file.
    pub path: std::path::PathBuf,
    /// Its language.
    pub language: &'static str,
    /// How many migrations the plan still applies before it.
    pub applied_before: usize,
}

/// Cuts `plan` short before the first code migration it would apply: the SQL migrations before
/// it run, and the code migration is left to its own tool. `None` when the plan applies none.
pub fn stop_at_code(plan: &mut Plan, local: &[Migration]) -> Option<CodeStop> {
    let at = plan.steps.iter().position(
        |step| matches!(step, Step::Apply { index, .. } if local[*index].code_language().is_some()),
    )?;
    let Step::Apply { index, key, .. } = &plan.steps[at] else {
        unreachable!("found above");
    };
    let m = &local[*index];
    let stop = CodeStop {
        key: key.clone(),
        version: m
            .id
            .version
            .as_ref()
            .map(|v| v.to_string())
            .unwrap_or_default(),
        path: m.path().to_owned(),
        language: m.code_language().unwrap_or("code"),
        applied_before: at,
    };
    plan.steps.truncate(at);
    Some(stop)
}

/// True when history row `r` vouches for migration `m` as it is on disk: the same checksum,
/// or, for a sectioned file now checksummed without its down section (`sha256-lf-up`), a row
/// that an older strata wrote with the whole file's `sha256-lf` checksum and a whole file that
/// is unchanged since. Such rows are upgraded in place by the next run that writes (see
/// [`rehashes`]), so no applied migration turns `modified` when strata is upgraded.
pub fn recorded_matches(r: &AppliedMigration, m: &Migration) -> bool {
    r.checksum == m.checksum || recorded_by_an_older_strata(r, m)
}

/// The second case of [`recorded_matches`]: `r` is `sha256-lf` of `m`'s whole file, which is
/// unchanged, and `m` is now checksummed `sha256-lf-up`.
fn recorded_by_an_older_strata(r: &AppliedMigration, m: &Migration) -> bool {
    r.checksum.algorithm == strata_model::ChecksumAlgorithm::Sha256Lf
        && m.checksum.algorithm == strata_model::ChecksumAlgorithm::Sha256LfUp
        && !m.up.file.is_deferred()
        && *m.up.file.checksum() == r.checksum
}

/// The applied migrations of `plan` whose history row vouches for them under an older
/// checksum algorithm (see [`recorded_matches`]), with the checksum to record instead.
pub fn rehashes(plan: &Plan, local: &[Migration]) -> Vec<(String, strata_model::Checksum)> {
    plan.entries
        .iter()
        .filter(|e| e.state == State::Applied)
        .filter_map(|e| {
            let m = &local[e.local?];
            let r = e.applied.as_ref()?;
            recorded_by_an_older_strata(r, m).then(|| (e.key.clone(), m.checksum.clone()))
        })
        .collect()
}

/// Refuses a plan that would apply a migration that is still the template `strata new`
/// wrote (see [`strata_model::DirectiveKind::Template`]): recording it as applied with nothing
/// in it would make the SQL written into it later never run. Every other verb, and planning
/// itself, work with the template present.
pub fn refuse_templates(plan: &Plan, local: &[Migration]) -> Result<(), PlanError> {
    let mut previous: Option<&str> = None;
    for step in &plan.steps {
        let Step::Apply { index, key, .. } = step else {
            continue;
        };
        let m = &local[*index];
        if m.is_template() {
            return Err(PlanError::Template {
                key: key.clone(),
                path: m.path().display().to_string(),
                before: match previous {
                    Some(v) => format!("`strata up --to {v}` applies the migrations before it"),
                    None => "nothing before it is pending".into(),
                },
            });
        }
        previous = Some(key);
    }
    Ok(())
}

/// Marks pending migrations whose last attempt failed (and was rolled back) as
/// [`State::Failed`], with a finding carrying the error. `failures` maps registry keys to the
/// error of their latest attempt, for keys whose latest event is a failure. Steps are unchanged:
/// a failed migration is still applied by the next `up`.
pub fn mark_failed(plan: &mut Plan, failures: &[(String, String)]) {
    for e in plan.entries.iter_mut() {
        if e.state != State::Pending {
            continue;
        }
        if let Some((_, error)) = failures.iter().find(|(k, _)| *k == e.key) {
            e.state = State::Failed;
            plan.findings.push(Finding {
                key: e.key.clone(),
                state: State::Failed,
                message: format!("the last attempt failed and was rolled back ({error}); fix the migration and run `strata up`"),
            });
        }
    }
}

fn blockers(entries: &[Entry], local: &[Migration]) -> Result<(), PlanError> {
    for e in entries {
        if e.state == State::Modified {
            let a = e
                .applied
                .as_ref()
                .map(|a| a.checksum.hex.clone())
                .unwrap_or_default();
            let l = e
                .local
                .map(|i| local[i].checksum.hex.clone())
                .unwrap_or_default();
            return Err(PlanError::Modified {
                key: e.key.clone(),
                applied: a,
                local: l,
            });
        }
    }
    Ok(())
}

fn completed_part_unchanged(e: &Entry, m: &Migration, done: usize) -> bool {
    if done == 0 {
        return true;
    }
    let Some(AppliedState::Partial {
        fingerprint: Some(recorded),
        ..
    }) = e.applied.as_ref().map(|a| &a.state)
    else {
        return false;
    };
    let sql = m.up.sql();
    let analysis = strata_sql::analyze(sql);
    analysis.statements.len() >= done && strata_sql::fingerprint(sql, &analysis, done) == *recorded
}

fn partial_of(e: &Entry) -> Option<usize> {
    match e.applied.as_ref().map(|a| &a.state) {
        Some(AppliedState::Partial {
            statements_done, ..
        }) => Some(*statements_done),
        _ => None,
    }
}

fn steps_for(
    target: &Target,
    policy: &Policy,
    local: &[Migration],
    applied: &[AppliedMigration],
    entries: &[Entry],
) -> Result<Vec<Step>, PlanError> {
    let versioned = |e: &&Entry| e.kind == MigrationKind::Versioned;
    let version_of = |e: &Entry| e.version.as_deref().and_then(|s| Version::parse(s).ok());
    match target {
        Target::Status => Ok(Vec::new()),
        Target::Up { to, steps } => {
            blockers(entries, local)?;
            let limit = to
                .as_deref()
                .map(|t| resolve(t, local, applied))
                .transpose()?;
            let mut out = Vec::new();
            // A partial migration is first: nothing may run before it is completed.
            if let Some(e) = entries.iter().find(|e| e.state == State::Partial) {
                let done = partial_of(e).unwrap_or(0);
                let index = e
                    .local
                    .ok_or(PlanError::MissingFile { key: e.key.clone() })?;
                // An edited file may be resumed as long as the statements that already ran are
                // unchanged (the journal's fingerprint): fixing the statement that failed, or
                // any after it, is the normal way out of a failed run.
                if e.applied
                    .as_ref()
                    .is_some_and(|a| !recorded_matches(a, &local[index]))
                    && !completed_part_unchanged(e, &local[index], done)
                {
                    return Err(PlanError::PartialModified {
                        key: e.key.clone(),
                        done,
                    });
                }
                out.push(Step::Apply {
                    index,
                    key: e.key.clone(),
                    resume_from: done,
                    reason: ApplyReason::Resume,
                });
            }
            let out_of_order: Vec<&Entry> = entries
                .iter()
                .filter(|e| e.state == State::OutOfOrder)
                .collect();
            let pending: Vec<&Entry> = entries
                .iter()
                .filter(versioned)
                .filter(|e| matches!(e.state, State::Pending | State::OutOfOrder))
                .filter(|e| {
                    limit
                        .as_ref()
                        .is_none_or(|l| version_of(e).is_some_and(|v| v <= *l))
                })
                .collect();
            if pending.iter().any(|e| e.state == State::OutOfOrder) && !policy.allow_out_of_order {
                let newest = entries
                    .iter()
                    .filter(|e| e.applied.is_some() && e.kind == MigrationKind::Versioned)
                    .filter_map(|e| e.version.clone())
                    .next_back()
                    .unwrap_or_default();
                return Err(PlanError::OutOfOrder {
                    keys: out_of_order.iter().map(|e| e.key.clone()).collect(),
                    newest,
                });
            }
            let take = steps.unwrap_or(usize::MAX).saturating_sub(out.len());
            for e in pending.into_iter().take(take) {
                let reason = if e.state == State::OutOfOrder {
                    ApplyReason::OutOfOrder
                } else {
                    ApplyReason::Pending
                };
                out.push(Step::Apply {
                    index: e.local.expect("pending entries are local"),
                    key: e.key.clone(),
                    resume_from: 0,
                    reason,
                });
            }
            // Repeatables follow a full run, as in Flyway: after every versioned migration they
            // may depend on.
            if to.is_none() && steps.is_none() {
                for e in entries
                    .iter()
                    .filter(|e| e.kind == MigrationKind::Repeatable && e.state == State::Pending)
                {
                    out.push(Step::Apply {
                        index: e.local.expect("pending entries are local"),
                        key: e.key.clone(),
                        resume_from: 0,
                        reason: ApplyReason::RepeatableChanged,
                    });
                }
            }
            Ok(out)
        }
        Target::Down { to, steps, all } => {
            // An edited applied migration's down script may no longer undo what ran.
            blockers(entries, local)?;
            if let Some(e) = entries.iter().find(|e| e.state == State::Partial) {
                return Err(PlanError::PartialBlocks {
                    key: e.key.clone(),
                    done: partial_of(e).unwrap_or(0),
                });
            }
            let floor = to
                .as_deref()
                .map(|t| resolve(t, local, applied))
                .transpose()?;
            let mut applied_desc: Vec<&Entry> = entries
                .iter()
                .filter(versioned)
                .filter(|e| e.applied.is_some())
                .collect();
            applied_desc.reverse();
            let chosen: Vec<&Entry> = match (&floor, all) {
                (_, true) => applied_desc,
                (Some(f), _) => applied_desc
                    .into_iter()
                    .filter(|e| version_of(e).is_some_and(|v| v > *f))
                    .collect(),
                (None, false) => applied_desc.into_iter().take(steps.unwrap_or(1)).collect(),
            };
            chosen.into_iter().map(|e| revert_step(e, local)).collect()
        }
        Target::Redo => {
            blockers(entries, local)?;
            if let Some(e) = entries.iter().find(|e| e.state == State::Partial) {
                return Err(PlanError::PartialBlocks {
                    key: e.key.clone(),
                    done: partial_of(e).unwrap_or(0),
                });
            }
            let last = entries
                .iter()
                .rfind(|e| e.kind == MigrationKind::Versioned && e.applied.is_some());
            match last {
                None => Ok(Vec::new()),
                Some(e) => {
                    let revert = revert_step(e, local)?;
                    let index = e.local.expect("revert_step checked the file");
                    Ok(vec![
                        revert,
                        Step::Apply {
                            index,
                            key: local[index].id.registry_key(),
                            resume_from: 0,
                            reason: ApplyReason::Pending,
                        },
                    ])
                }
            }
        }
        Target::Goto(v) => {
            // Exactly V: revert everything above it, then apply everything pending up to it.
            let goal = resolve(v, local, applied)?;
            let mut out = steps_for(
                &Target::Down {
                    to: Some(v.clone()),
                    steps: None,
                    all: false,
                },
                policy,
                local,
                applied,
                entries,
            )?;
            let reverted: Vec<usize> = out
                .iter()
                .filter_map(|s| match s {
                    Step::Revert { index, .. } => Some(*index),
                    _ => None,
                })
                .collect();
            let remaining_newest = entries
                .iter()
                .filter(versioned)
                .filter(|e| e.applied.is_some() && !e.local.is_some_and(|i| reverted.contains(&i)))
                .filter_map(version_of)
                .max();
            let pending: Vec<&Entry> = entries
                .iter()
                .filter(versioned)
                .filter(|e| matches!(e.state, State::Pending | State::OutOfOrder))
                .filter(|e| version_of(e).is_some_and(|x| x <= goal))
                .collect();
            let late: Vec<String> = pending
                .iter()
                .filter(|e| {
                    remaining_newest
                        .as_ref()
                        .is_some_and(|n| version_of(e).is_some_and(|x| x < *n))
                })
                .map(|e| e.key.clone())
                .collect();
            if !late.is_empty() && !policy.allow_out_of_order {
                return Err(PlanError::OutOfOrder {
                    keys: late,
                    newest: remaining_newest.map(|v| v.to_string()).unwrap_or_default(),
                });
            }
            for e in pending {
                out.push(Step::Apply {
                    index: e.local.expect("pending entries are local"),
                    key: e.key.clone(),
                    resume_from: 0,
                    reason: if e.state == State::OutOfOrder {
                        ApplyReason::OutOfOrder
                    } else {
                        ApplyReason::Pending
                    },
                });
            }
            Ok(out)
        }
        Target::Mark {
            version,
            applied: as_applied,
        } => {
            let e = one_entry(version, local, applied, entries)?;
            match (as_applied, e.state) {
                (true, State::Partial | State::Pending | State::Failed | State::OutOfOrder) => {
                    let index = e
                        .local
                        .ok_or_else(|| PlanError::MissingFile { key: e.key.clone() })?;
                    Ok(vec![Step::Mark {
                        index: Some(index),
                        key: e.key.clone(),
                        applied: true,
                    }])
                }
                (false, State::Partial | State::Applied | State::Modified | State::Missing) => {
                    Ok(vec![Step::Mark {
                        index: e.local,
                        key: e.key.clone(),
                        applied: false,
                    }])
                }
                (true, state) => Err(unfit(
                    &e.key,
                    state,
                    "it is already recorded as applied; nothing to mark",
                )),
                (false, state) => Err(unfit(
                    &e.key,
                    state,
                    "it is not recorded as applied; nothing to mark as reverted",
                )),
            }
        }
        Target::Accept(version) => {
            let e = one_entry(version, local, applied, entries)?;
            match (e.state, e.local) {
                (State::Modified, Some(index)) => Ok(vec![Step::Accept { index, key: e.key.clone() }]),
                (state, _) => Err(unfit(&e.key, state, "only an applied migration whose file was edited (state modified) can be accepted")),
            }
        }
        Target::Baseline(v) => {
            let goal = resolve(v, local, applied)?;
            Ok(entries
                .iter()
                .filter(versioned)
                // A part-way run can be taken over too, once the operator finished it by hand.
                .filter(|e| {
                    (e.applied.is_none() || e.state == State::Partial)
                        && e.local.is_some()
                        && version_of(e).is_some_and(|x| x <= goal)
                })
                .map(|e| Step::Baseline {
                    index: e.local.expect("filtered"),
                    key: e.key.clone(),
                })
                .collect())
        }
    }
}

/// The one versioned entry a user names, by version (`5`, `005`, `V5`) or, where several
/// migrations share that version, by registry key (`0010_add_x`).
fn one_entry<'e>(
    input: &str,
    local: &[Migration],
    applied: &[AppliedMigration],
    entries: &'e [Entry],
) -> Result<&'e Entry, PlanError> {
    let versioned = entries
        .iter()
        .filter(|e| e.kind == MigrationKind::Versioned);
    if let Some(e) = versioned.clone().find(|e| e.key == input) {
        return Ok(e);
    }
    let goal = resolve(input, local, applied)?;
    let mut matching = versioned.filter(|e| {
        e.version
            .as_deref()
            .and_then(|s| Version::parse(s).ok())
            .is_some_and(|x| x == goal)
    });
    let first = matching.next().ok_or_else(|| PlanError::UnknownVersion {
        input: input.to_owned(),
    })?;
    let others: Vec<&Entry> = matching.collect();
    if others.is_empty() {
        return Ok(first);
    }
    Err(PlanError::SharedVersion {
        input: input.to_owned(),
        keys: std::iter::once(first)
            .chain(others)
            .map(|e| e.key.clone())
            .collect(),
    })
}

fn revert_step(e: &Entry, local: &[Migration]) -> Result<Step, PlanError> {
    let index = e
        .local
        .ok_or_else(|| PlanError::MissingFile { key: e.key.clone() })?;
    if local[index].down.is_none() {
        let path = local[index].path().display().to_string();
        return Err(PlanError::NoDown {
            key: e.key.clone(),
            hint: format!("a down script beside {path}"),
        });
    }
    Ok(Step::Revert {
        index,
        key: e.key.clone(),
    })
}

#[cfg(test)]
mod tests;
