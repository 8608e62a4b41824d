//! The JSON contract as types: the documents `--json` prints for the migrating verbs and
//! `status`, built from the engine's outcomes.
//!
//! Every front end that prints JSON (the CLI today; fleets and reports next) builds these and
//! serializes them, so the contract has one definition and a field cannot go missing in one
//! place only. Serialize through `serde_json::Value` (as `serde_json::to_value`): the keys then
//! come out in the alphabetical order the contract has always had, whatever the order of the
//! fields here.

use crate::load::LoadedSet;
use serde::Serialize;
use strata_model::{AppliedState, MigrationKind, TransactionMode};
use strata_pg::exec::Blocker;
use strata_pg::{ExecError, Failure, StepDone};
use strata_plan::{Entry, Plan};

/// `strata status --json`.
#[derive(Debug, Serialize)]
pub struct StatusDocument {
    /// The database read, without its password (`user@host:port/db`).
    pub database: String,
    /// Each set.
    pub sets: Vec<SetStatusDocument>,
}

/// One set in `status --json` (the scriptable contract: `name`, `dir`, `layout`,
/// `migrations`).
#[derive(Debug, Serialize)]
pub struct SetStatusDocument {
    /// The set's name.
    pub name: String,
    /// Its directory.
    pub dir: String,
    /// The layout its files were read in.
    pub layout: &'static str,
    /// Why that layout.
    pub layout_reason: String,
    /// Files that are not migrations.
    pub ignored_files: Vec<String>,
    /// What the source tool accepts but deserves a look.
    pub warnings: Vec<WarningDocument>,
    /// Every migration, files and history together.
    pub migrations: Vec<MigrationDocument>,
    /// What `validate` and `status --check` report.
    pub findings: Vec<strata_plan::Finding>,
    /// Another tool's history of the same migrations, when one is in the database.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_history: Option<SharedHistoryDocument>,
    /// Other strata histories that record these files (for a set without its own).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other_histories: Vec<OtherHistoryDocument>,
}

/// A loading warning.
#[derive(Debug, Serialize)]
pub struct WarningDocument {
    /// The files concerned.
    pub files: Vec<String>,
    /// What to look at.
    pub message: String,
}

/// One migration's row in `status --json`.
#[derive(Debug, Serialize)]
pub struct MigrationDocument {
    /// Its version as written.
    pub version: Option<String>,
    /// Its name.
    pub name: String,
    /// Versioned or repeatable.
    pub kind: MigrationKind,
    /// `applied`, `pending`, `modified`, `missing`, `out_of_order`, `partial`, `failed`.
    pub state: &'static str,
    /// When it was applied.
    pub applied_at: Option<String>,
    /// By whom.
    pub applied_by: Option<String>,
    /// How long it took.
    pub duration_ms: Option<i64>,
    /// The file's checksum.
    pub checksum: Option<String>,
    /// The file.
    pub file: Option<String>,
    /// For a migration left part-way: the statements done and the next one.
    pub statements: Option<JournalDocument>,
}

/// Where a migration left part-way stands.
#[derive(Debug, Serialize)]
pub struct JournalDocument {
    /// Statements in its script.
    pub total: usize,
    /// Statements completed and recorded.
    pub done: usize,
    /// The statement the next run starts with.
    pub next: Option<NextStatementDocument>,
    /// The script's file.
    pub file: String,
}

/// The statement a resumed migration starts with.
#[derive(Debug, Serialize)]
pub struct NextStatementDocument {
    /// 1-based index in the script.
    pub statement: usize,
    /// Its line.
    pub line: usize,
    /// Its column.
    pub col: usize,
    /// What it is (`CREATE INDEX CONCURRENTLY`).
    pub summary: String,
}

/// `shared_history` of `status --json`.
#[derive(Debug, Serialize)]
pub struct SharedHistoryDocument {
    /// The tool (`golang-migrate`, `flyway`, ...).
    pub tool: &'static str,
    /// `schema.table` of its history.
    pub table: String,
    /// True when both histories record the same migrations.
    pub agree: bool,
    /// Versions the tool applied that strata has not recorded.
    pub only_in_tool: Vec<String>,
    /// Versions strata recorded that the tool has not applied.
    pub only_in_strata: Vec<String>,
}

/// One entry of `other_histories`.
#[derive(Debug, Serialize)]
pub struct OtherHistoryDocument {
    /// The other set's name.
    pub set: String,
    /// Its history rows.
    pub rows: u64,
    /// Of those, the rows matching one of the files.
    pub matching: u64,
}

impl SetStatusDocument {
    /// The document of `set` planned as `plan` (without `shared_history` and
    /// `other_histories`, which the caller adds when there are any).
    pub fn new(set: &LoadedSet, plan: &Plan) -> SetStatusDocument {
        SetStatusDocument {
            name: set.spec.name.clone(),
            dir: set.set.dir.display().to_string(),
            layout: set.set.detection.layout.as_str(),
            layout_reason: set.set.detection.reason.clone(),
            ignored_files: set
                .set
                .ignored
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            warnings: set
                .set
                .warnings
                .iter()
                .map(|w| WarningDocument {
                    files: w.paths.iter().map(|p| p.display().to_string()).collect(),
                    message: w.message.clone(),
                })
                .collect(),
            migrations: plan
                .entries
                .iter()
                .map(|e| MigrationDocument::new(set, e))
                .collect(),
            findings: plan.findings.clone(),
            shared_history: None,
            other_histories: Vec::new(),
        }
    }
}

impl MigrationDocument {
    fn new(set: &LoadedSet, e: &Entry) -> MigrationDocument {
        let a = e.applied.as_ref();
        let local = e.local.map(|i| &set.migrations()[i]);
        MigrationDocument {
            version: e.version.clone(),
            name: e.name.clone(),
            kind: e.kind,
            state: e.state.as_str(),
            applied_at: a.map(|a| a.applied_at.clone()),
            applied_by: a.map(|a| a.applied_by.clone()),
            duration_ms: a.map(|a| a.duration_ms),
            checksum: local.map(|m| m.checksum.to_string()),
            file: local.map(|m| m.path().display().to_string()),
            statements: JournalDocument::of(set, e),
        }
    }
}

impl JournalDocument {
    /// For a migration left part-way: which statements ran and where the next one is.
    pub fn of(set: &LoadedSet, e: &Entry) -> Option<JournalDocument> {
        let done = match e.applied.as_ref().map(|a| &a.state) {
            Some(AppliedState::Partial {
                statements_done, ..
            }) => *statements_done,
            _ => return None,
        };
        let m = &set.migrations()[e.local?];
        let analysis = strata_sql::analyze(m.up.sql());
        let next = analysis.statements.get(done).map(|s| {
            let at = m.up.locate(s.range.start);
            NextStatementDocument {
                statement: done + 1,
                line: at.line,
                col: at.col,
                summary: s.summary.clone(),
            }
        });
        Some(JournalDocument {
            total: analysis.statements.len(),
            done,
            next,
            file: m.path().display().to_string(),
        })
    }
}

impl From<&crate::adoption::SharedHistory> for SharedHistoryDocument {
    fn from(shared: &crate::adoption::SharedHistory) -> SharedHistoryDocument {
        SharedHistoryDocument {
            tool: shared.tool.name(),
            table: shared.table.clone(),
            agree: shared.only_tool.is_empty() && shared.only_strata.is_empty(),
            only_in_tool: shared.only_tool.clone(),
            only_in_strata: shared.only_strata.clone(),
        }
    }
}

impl From<&strata_plan::OtherHistory> for OtherHistoryDocument {
    fn from(other: &strata_plan::OtherHistory) -> OtherHistoryDocument {
        OtherHistoryDocument {
            set: other.set.clone(),
            rows: other.rows,
            matching: other.matching,
        }
    }
}

/// A plan in `--dry-run --json` (and the `plan` of other reports).
#[derive(Debug, Serialize)]
pub struct PlanDocument {
    /// The set's name.
    pub name: String,
    /// Its layout.
    pub layout: &'static str,
    /// The steps, in order.
    pub steps: Vec<PlanStepDocument>,
}

/// One step of a plan.
#[derive(Debug, Serialize)]
pub struct PlanStepDocument {
    /// `apply`, `resume`, `revert`, `baseline`, `mark applied`, `mark reverted`, `accept`.
    pub action: &'static str,
    /// The migration's history key.
    pub key: String,
    /// Its version.
    pub version: Option<String>,
    /// Its name.
    pub name: Option<String>,
    /// The script's file (or the migration's, for a step that runs nothing).
    pub file: Option<String>,
    /// How the script runs.
    pub mode: Option<TransactionMode>,
    /// Why that way, or what a step that runs nothing records.
    pub mode_reason: Option<String>,
    /// For a resumed migration: the 1-based statement it starts with.
    pub resume_from_statement: Option<usize>,
    /// The SQL that would run (dry runs).
    pub sql: Option<String>,
}

/// `--dry-run --json` of the migrating verbs.
#[derive(Debug, Serialize)]
pub struct DryRunDocument {
    /// Always true.
    pub dry_run: bool,
    /// Each set's plan.
    pub sets: Vec<PlanDocument>,
    /// Code migrations the real run would stop before.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stopped: Vec<String>,
}

/// `--json` of a migrating verb that ran (or found nothing to do).
#[derive(Debug, Serialize)]
pub struct RunDocument {
    /// Each set that ran, in order, up to and including one that failed.
    pub sets: Vec<SetRunDocument>,
    /// The failure that stopped the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<FailureDocument>,
    /// Code migrations the plans stopped before.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stopped: Vec<String>,
}

/// One set of a run.
#[derive(Debug, Serialize)]
pub struct SetRunDocument {
    /// The set's name.
    pub name: String,
    /// The steps completed.
    pub steps: Vec<StepDone>,
    /// What the server said while they ran.
    pub notices: Vec<NoticeDocument>,
}

/// A server NOTICE or WARNING during a run.
#[derive(Debug, Serialize)]
pub struct NoticeDocument {
    /// The migration running.
    pub migration: String,
    /// `NOTICE`, `WARNING`, ...
    pub severity: String,
    /// The message.
    pub message: String,
}

/// The failure that stopped a run.
#[derive(Debug, Clone, Serialize)]
pub struct FailureDocument {
    /// The set.
    pub set: String,
    /// The failing migration's key.
    pub migration: String,
    /// `apply`, `revert`, `baseline`, `resume`, or `preparation`.
    pub action: &'static str,
    /// Its file.
    pub file: String,
    /// What the server said, and where.
    pub failure: Failure,
    /// The database's state, in words.
    pub state: String,
    /// What to do next.
    pub next: String,
    /// True when a signal stopped the run.
    pub interrupted: bool,
    /// Sessions that held the locks it waited for.
    pub blockers: Vec<Blocker>,
    /// For a statement-by-statement run: the statements completed and recorded.
    pub statements_done: Option<usize>,
}

impl FailureDocument {
    /// The document of `error`, a failure of set `set`.
    pub fn new(set: &str, error: &ExecError) -> FailureDocument {
        FailureDocument {
            set: set.to_owned(),
            migration: error.key.clone(),
            action: error.action,
            file: error.path.display().to_string(),
            failure: error.failure.clone(),
            state: error.state.clone(),
            next: error.next.clone(),
            interrupted: error.interrupted,
            blockers: error.blockers.clone(),
            statements_done: error.statements_done,
        }
    }
}

/// `--json` when the lint gate refuses a run.
#[derive(Debug, Serialize)]
pub struct GateRefusalDocument {
    /// Always `lint`.
    pub refused: &'static str,
    /// The first set with a blocking finding.
    pub set: String,
    /// The blocking findings, in `strata lint --format json`'s form.
    pub lint: serde_json::Value,
}

/// `strata verify --json`.
#[derive(Debug, Serialize)]
pub struct VerifyDocument {
    /// True when every check passed.
    pub reversible: bool,
    /// Each set's checks.
    pub sets: Vec<VerifySetDocument>,
}

/// One set in `verify --json`.
#[derive(Debug, Serialize)]
pub struct VerifySetDocument {
    /// The set.
    pub name: String,
    /// One row per check (a failed second down has none: `reversible` says it failed).
    pub migrations: Vec<VerifyCheckDocument>,
}

/// One migration's check in `verify --json`: the keys present say how far it got.
#[derive(Debug, Default, Serialize)]
pub struct VerifyCheckDocument {
    /// The migration's key.
    pub migration: String,
    /// Whether its up ran.
    pub up: bool,
    /// `null` when it has no down; `false` when its down failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub down: Option<Option<bool>>,
    /// Whether its down restored the schema before its up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub down_restores: Option<bool>,
    /// `false` when applying it again failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reup: Option<bool>,
    /// Whether applying it again gave the same schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reup_identical: Option<bool>,
    /// How long its up took.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub up_ms: Option<u64>,
    /// How long its down took.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub down_ms: Option<u64>,
    /// The schema differences found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub differences: Option<Vec<strata_schema::Difference>>,
    /// The failure, rendered by the front end against its file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl VerifyCheckDocument {
    /// The row of `check`, with `render` turning a replay failure into the text shown; `None`
    /// for a failed second down (the set's result carries it).
    pub fn new(
        check: &crate::verify::MigrationCheck,
        render: impl Fn(&crate::scratch::ReplayError) -> String,
    ) -> Option<VerifyCheckDocument> {
        use crate::verify::CheckResult;
        let row = VerifyCheckDocument {
            migration: check.id.registry_key(),
            up: true,
            ..VerifyCheckDocument::default()
        };
        Some(match &check.result {
            CheckResult::UpFailed { error } => VerifyCheckDocument {
                up: false,
                error: Some(render(error)),
                ..row
            },
            CheckResult::NoDown { up_ms } => VerifyCheckDocument {
                down: Some(None),
                up_ms: Some(*up_ms),
                ..row
            },
            CheckResult::DownFailed { error } => VerifyCheckDocument {
                down: Some(Some(false)),
                error: Some(render(error)),
                ..row
            },
            CheckResult::DownDoesNotRestore { differences } => VerifyCheckDocument {
                down_restores: Some(false),
                differences: Some(differences.clone()),
                ..row
            },
            CheckResult::ReupFailed { error } => VerifyCheckDocument {
                down_restores: Some(true),
                reup: Some(false),
                error: Some(render(error)),
                ..row
            },
            CheckResult::ReupDiffers { differences } => VerifyCheckDocument {
                down_restores: Some(true),
                reup_identical: Some(false),
                differences: Some(differences.clone()),
                ..row
            },
            CheckResult::Reversible { up_ms, down_ms } => VerifyCheckDocument {
                down_restores: Some(true),
                reup_identical: Some(true),
                up_ms: Some(*up_ms),
                down_ms: Some(*down_ms),
                ..row
            },
            _ => return None,
        })
    }
}

/// What `--json` prints on stdout when a command fails with an error (besides the text on
/// stderr): `{"error": {"message": ..., "causes": [...]}}`, secrets scrubbed by the caller.
#[derive(Debug, Serialize)]
pub struct ErrorDocument {
    /// The error.
    pub error: ErrorBody,
}

/// The body of an [`ErrorDocument`].
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    /// The error's message.
    pub message: String,
    /// Its causes, outermost first.
    pub causes: Vec<String>,
}
