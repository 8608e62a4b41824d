//! A safety linter for PostgreSQL migrations that knows how strata will run them.
//!
//! Other linters guess whether the runner wraps a file in a transaction and flag an index on a
//! table the same file just created. This crate asks [`strata_sql::decide_transaction_mode`],
//! the function the executor itself uses, how each migration runs, and follows the schema
//! through the set (tables created in the same or in not-yet-applied migrations are new and
//! empty, so locking them is harmless). Rules live one per file under `rules/`; the registry
//! in [`RULES`] is the single list of names, categories, default levels and documentation.
//!
//! The crate is pure: it never connects to a database. Callers that have one pass what it
//! knows (the server version, which migrations are pending, table sizes) in [`Options`] and
//! [`Unit`].

mod ast;
mod engine;
mod gate;
mod render;
mod rules;
mod state;
mod suppress;

pub use ast::ColType;
pub use engine::{lint, lint_run};
pub use gate::{apply_gate, may_block, GatePolicy, Gated, TableName};
pub use render::{
    render_github, render_json, render_sarif, render_text, render_text_capped, rules_index_markdown,
};
pub use rules::{find_rule, RULES};
pub use state::{Catalog, CatalogIndex, CatalogTable};

use serde::Serialize;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use strata_model::{Script, SourceFile};

/// How bad a finding is. `strata lint` exits 1 when any finding is an error, and `strata up`
/// refuses to run migrations with errors that are risks where they run (see [`Gate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth a look; never blocks.
    Warning,
    /// Fails `strata lint`; stops `strata up` as the rule's [`Gate`] says.
    Error,
}

impl Severity {
    /// The lowercase name used in output and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// A rule's configured level: off, or on with a severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// The rule does not run.
    Off,
    /// The rule runs and reports at this severity.
    On(Severity),
}

impl Level {
    /// Parses `off`, `warning` or `error` (also `warn`, and `allow`/`deny` as in other linters).
    pub fn parse(text: &str) -> Option<Level> {
        match text.trim().to_ascii_lowercase().as_str() {
            "off" | "allow" => Some(Level::Off),
            "warning" | "warn" => Some(Level::On(Severity::Warning)),
            "error" | "deny" => Some(Level::On(Severity::Error)),
            _ => None,
        }
    }

    /// `off`, `warning` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Off => "off",
            Level::On(s) => s.as_str(),
        }
    }
}

/// What a rule is about; groups the documentation and the `--list-rules` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Statements that hold strong locks or rewrite tables while production traffic waits.
    Locking,
    /// Transaction control that will fail or silently lose work under strata's runner.
    Transactions,
    /// Changes that break the application code still running against the old schema.
    Breaking,
    /// Column types that are hard to change later or behave surprisingly.
    Types,
    /// Statements that fail or misbehave on re-runs, truncated names, unqualified objects.
    Robustness,
    /// Team conventions (opt-in): naming, key types, audit columns.
    Conventions,
    /// Findings about the linting itself: syntax errors and suppressions.
    Meta,
}

impl Category {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Locking => "locking",
            Category::Transactions => "transactions",
            Category::Breaking => "breaking",
            Category::Types => "types",
            Category::Robustness => "robustness",
            Category::Conventions => "conventions",
            Category::Meta => "meta",
        }
    }
}

/// What a rule's errors mean to the lint gate in front of `strata up`, which refuses to apply
/// migrations only for risks that are real where they run (`strata lint` itself reports every
/// finding at its level).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Gate {
    /// A lock, rewrite or validation scan on an existing table: how long it holds production up
    /// depends on the table's size. An error blocks `up` only on a table that existed before
    /// the run and is at least the gate's size threshold; below it, it is shown as a warning
    /// stating the table's size.
    TableSize,
    /// Data loss, or damage that does not depend on size: an error blocks `up`.
    Always,
    /// Naming, types and style, and statements the server refuses by itself (nothing is lost
    /// when it does): an error blocks `up` only when the configuration sets the rule's level
    /// explicitly; otherwise `up` shows it as a warning.
    Advisory,
    /// Input the executor refuses before running anything, with the server's own message
    /// (syntax errors, a `BEGIN` never committed): the gate leaves it to the executor.
    Executor,
}

impl Gate {
    /// How the rules index describes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Gate::TableSize => "on large tables",
            Gate::Always => "yes",
            Gate::Advisory => "only if set to error",
            Gate::Executor => "yes (the executor refuses it)",
        }
    }
}

/// One lint rule: its identity, defaults and documentation, and the check that implements it.
pub struct Rule {
    /// Kebab-case name used in suppressions, configuration and output.
    pub name: &'static str,
    /// What the rule is about.
    pub category: Category,
    /// Level when the configuration says nothing; [`Level::Off`] marks an opt-in rule.
    pub default: Level,
    /// What its errors mean to the gate in front of `strata up`.
    pub gate: Gate,
    /// One line saying what is flagged.
    pub summary: &'static str,
    /// The rule's documentation page (`docs/rules/<name>.md`), embedded in the binary so
    /// `strata lint --explain` always matches the running version.
    pub docs: &'static str,
    pub(crate) check: rules::Check,
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rule")
            .field("name", &self.name)
            .field("category", &self.category)
            .field("default", &self.default)
            .finish_non_exhaustive()
    }
}

/// A rule level the configuration cannot set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The name is not a rule.
    #[error("unknown lint rule `{name}`{}; `strata lint --list-rules` lists them", suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    UnknownRule {
        /// The name as configured.
        name: String,
        /// The closest existing rule name.
        suggestion: Option<String>,
    },
    /// The rule reports input strata cannot run or understand; it is always an error.
    #[error("lint rule `{name}` cannot be turned off or down: it reports input strata cannot use")]
    Fixed {
        /// The rule.
        name: String,
    },
}

/// Everything the linter knows beyond the SQL itself.
#[derive(Debug, Clone)]
pub struct Options {
    /// Major version of the PostgreSQL server the migrations will run on.
    pub target_version: u32,
    /// strata's effective `lock_timeout` for the set, in milliseconds (0 = none).
    pub lock_timeout_ms: u64,
    /// strata's effective `statement_timeout` for the set, in milliseconds (0 = none).
    pub statement_timeout_ms: u64,
    /// What the target database already has (empty without a connection).
    pub catalog: Catalog,
    levels: BTreeMap<&'static str, Level>,
}

/// Rules whose level cannot be configured.
const FIXED_RULES: &[&str] = &[
    "syntax-error",
    "unsupported-meta-command",
    "invalid-suppression",
];

/// The PostgreSQL major version assumed when neither configuration nor a connection says:
/// the oldest version still supported by the PostgreSQL project.
pub const DEFAULT_TARGET_VERSION: u32 = 14;

impl Default for Options {
    fn default() -> Self {
        Options {
            target_version: DEFAULT_TARGET_VERSION,
            lock_timeout_ms: 5_000,
            statement_timeout_ms: 0,
            catalog: Catalog::default(),
            levels: BTreeMap::new(),
        }
    }
}

impl Options {
    /// Sets one rule's level, refusing names that are not rules and the rules that report
    /// unusable input (`syntax-error`, `invalid-suppression`), which are always errors.
    pub fn set_level(&mut self, name: &str, level: Level) -> Result<(), ConfigError> {
        match find_rule(name) {
            Some(rule) if FIXED_RULES.contains(&rule.name) && level != rule.default => {
                Err(ConfigError::Fixed {
                    name: rule.name.to_owned(),
                })
            }
            Some(rule) => {
                self.levels.insert(rule.name, level);
                Ok(())
            }
            None => Err(ConfigError::UnknownRule {
                name: name.to_owned(),
                suggestion: suppress::closest_rule(name).map(str::to_owned),
            }),
        }
    }

    /// The level a rule runs at under this configuration.
    pub fn level(&self, rule: &Rule) -> Level {
        self.levels.get(rule.name).copied().unwrap_or(rule.default)
    }

    /// The level the configuration sets for a rule, when it sets one (the rule's default
    /// otherwise applies): an explicit level is the user's decision, which the gate of
    /// `strata up` honours over its own defaults.
    pub fn explicit_level(&self, rule: &Rule) -> Option<Level> {
        self.levels.get(rule.name).copied()
    }
}

/// One script to lint, in the order the runner would apply it.
#[derive(Debug, Clone)]
pub struct Unit<'a> {
    /// How findings name the migration (`20240101_add_orders`, `V3__x`).
    pub name: String,
    /// The script (an up script, normally).
    pub script: &'a Script,
    /// True when the migration is known not to be applied yet on the target database (from
    /// the database itself, or `--since`): tables it creates are new and empty for the
    /// migrations after it.
    pub pending: bool,
    /// False for migrations that only feed the schema state (already applied, or older than
    /// `--since`): their findings are not reported.
    pub report: bool,
}

/// One problem found in one statement.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Finding {
    /// The rule's name.
    pub rule: &'static str,
    /// Its configured severity.
    pub severity: Severity,
    /// What is wrong, naming the objects involved.
    pub message: String,
    /// What to do instead.
    pub help: String,
    /// The file.
    #[serde(serialize_with = "path_text")]
    pub file: PathBuf,
    /// 1-based line of the start of the flagged code.
    pub line: usize,
    /// 1-based column (characters) of the start.
    pub col: usize,
    /// Line of the end of the flagged code.
    pub end_line: usize,
    /// Column just past the end.
    pub end_col: usize,
    /// The migration as [`Unit::name`] gave it.
    pub migration: String,
    /// 1-based statement number within the script, when the finding is about a statement.
    pub statement: Option<usize>,
    /// The table the statement locks or changes, when there is one (for size ranking).
    pub table: Option<String>,
    /// The same table as (schema when written, name), for looking it up.
    #[serde(skip)]
    pub table_name: Option<(Option<String>, String)>,
    /// The planner's row estimate for [`Finding::table`] on the target database, filled in by
    /// callers that have a connection.
    pub table_rows: Option<f64>,
    /// The size of [`Finding::table`] on the target database (`pg_relation_size`, summed over
    /// the partitions of a partitioned table), filled in by callers that have a connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table_bytes: Option<u64>,
    /// The index a statement drops or rebuilds, as written (schema when written, name), when
    /// its table is not known yet: callers with a connection look it up.
    #[serde(skip)]
    pub index_name: Option<(Option<String>, String)>,
    /// More context, one line each (the table's size and what the gate of `up` made of it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Byte range of the flagged code in the file's text.
    #[serde(skip)]
    pub span: Range<usize>,
    /// The file's text, for rendering the source line.
    #[serde(skip)]
    pub source: Arc<SourceFile>,
}

/// The outcome of linting a set of scripts.
#[derive(Debug, Clone, Default, Serialize)]
#[non_exhaustive]
pub struct Report {
    /// Findings of reported units, in file order (or by impact after
    /// [`Report::rank_by_impact`]).
    pub findings: Vec<Finding>,
    /// Scripts linted (reported units only).
    pub scripts: usize,
    /// Statements linted (reported units only).
    pub statements: usize,
}

impl Report {
    /// Number of findings at error severity.
    pub fn errors(&self) -> usize {
        self.count(Severity::Error)
    }

    /// Number of findings at warning severity.
    pub fn warnings(&self) -> usize {
        self.count(Severity::Warning)
    }

    fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    /// Orders findings so that the ones that hurt most come first: errors before warnings,
    /// then by the affected table's size in bytes, then its estimated rows (largest first;
    /// unknown sizes last), then by position.
    pub fn rank_by_impact(&mut self) {
        self.findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| b.table_bytes.cmp(&a.table_bytes))
                .then_with(|| {
                    let rows = |f: &Finding| f.table_rows.unwrap_or(-1.0);
                    rows(b).total_cmp(&rows(a))
                })
                .then_with(|| a.file.cmp(&b.file))
                .then_with(|| a.span.start.cmp(&b.span.start))
        });
    }

    /// Tables named by findings (schema when written, name), for looking up their sizes and
    /// catalog facts.
    pub fn tables(&self) -> Vec<(Option<String>, String)> {
        let mut names: Vec<_> = self
            .findings
            .iter()
            .filter_map(|f| f.table_name.clone())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Indexes named by findings whose table is not known yet, for looking up whether they
    /// exist and on which table.
    pub fn indexes(&self) -> Vec<(Option<String>, String)> {
        let mut names: Vec<_> = self
            .findings
            .iter()
            .filter_map(|f| f.index_name.clone())
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// Paths are shown as text; a name that is not UTF-8 is shown lossily rather than failing the
/// whole report.
fn path_text<S: serde::Serializer>(path: &std::path::Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&path.to_string_lossy())
}
