//! The settings a run needs, resolved: which sets, which database, how long to wait, what
//! the linter gates. Front ends build them (the CLI from flags, `STRATA_*` variables and
//! `strata.toml`); the engine only reads them.

use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;
use strata_source::LayoutKind;

/// `[lint]` in strata.toml.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LintConfig {
    /// PostgreSQL major version the migrations target (default: the connected server's, else
    /// 14).
    pub target_version: Option<u32>,
    /// Whether `up` lints pending migrations first and refuses on errors (default true).
    pub on_up: Option<bool>,
    /// Tables smaller than this do not stop `up` for a lock or a rewrite (default `10MB`):
    /// `"500kB"`, `"1GB"`, or a number of bytes.
    pub gate_min_table_size: Option<ByteSize>,
    /// Per-rule levels: `rule-name = "off" | "warning" | "error"`.
    #[serde(default)]
    pub rules: std::collections::BTreeMap<String, String>,
}

/// A size in strata.toml: a number of bytes, or text with a unit (`"10MB"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ByteSize {
    /// A number of bytes.
    Bytes(u64),
    /// `"10MB"`, `"500kB"`, `"1GB"`, `"4096"`.
    Text(String),
}

/// The gate's default size threshold: a table under 10 MB is read or indexed in well under
/// a second on any server, so locking it holds nobody up noticeably.
pub const DEFAULT_GATE_MIN_TABLE_BYTES: u64 = 10 << 20;

/// A set ready to load.
#[derive(Debug, Clone)]
pub struct SetSpec {
    /// Name; keys the set's history.
    pub name: String,
    /// True when the user chose the name (`[[set]] name`, `--set`); false for
    /// [`DEFAULT_SET`].
    pub named: bool,
    /// Directory; for a set of several locations, the directory their paths are relative to
    /// (the one holding strata.toml).
    pub dir: PathBuf,
    /// The Flyway locations of a set kept in several directories (absolute); empty for a set
    /// in one directory.
    pub locations: Vec<PathBuf>,
    /// Owned schema.
    pub schema: Option<String>,
    /// Forced layout.
    pub layout: Option<LayoutKind>,
    /// The configured layout of a `layout = "pattern"` set.
    pub pattern: Option<strata_source::PatternLayout>,
    /// The set's declared placeholder syntax (`placeholder_syntax`).
    pub placeholder_syntax: Option<strata_source::PlaceholderSyntax>,
    /// PostgreSQL-syntax lock_timeout.
    pub lock_timeout: String,
    /// PostgreSQL-syntax statement_timeout.
    pub statement_timeout: String,
    /// Sample data for `verify --with-data`.
    pub seed: Option<PathBuf>,
    /// Version after which the seed loads.
    pub seed_after: Option<String>,
    /// Placeholder values: file, then set, then `--var`.
    pub placeholders: std::collections::BTreeMap<String, String>,
    /// The set's files when they are held in memory (a set embedded at compile time with
    /// `strata::embed!`, or read once by the library): loaded from here, never from `dir`
    /// (which then only names the files in messages), and never through the file cache.
    pub listing: Option<std::sync::Arc<strata_source::Listing>>,
}

/// Where the database is.
#[derive(Debug, Clone)]
pub enum DbTarget {
    /// An explicit URL (flag, env or file).
    Url(String),
    /// libpq variables only.
    LibpqEnv,
    /// Nothing configured: the embedded dev cluster.
    Dev,
    /// A target already resolved by the caller (the library's `Database`), used as it is.
    Resolved(Box<strata_pg::ConnInfo>),
}

/// Everything a command needs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The sets selected for this run.
    pub sets: Vec<SetSpec>,
    /// Registry schema.
    pub registry_schema: String,
    /// Lock wait.
    pub lock_wait: Duration,
    /// Retries after lock_timeout.
    pub lock_retries: u32,
    /// First retry delay.
    pub retry_delay: Duration,
    /// JSON output.
    pub json: bool,
    /// Quiet.
    pub quiet: bool,
    /// Out-of-order policy.
    pub allow_out_of_order: bool,
    /// Schemas declared by every configured set (selected or not); `fresh` never drops them
    /// for another set.
    pub declared_schemas: Vec<String>,
    /// Names of configured sets that declare no schema (they share `public`).
    pub schemaless_sets: Vec<String>,
    /// Directory holding strata.toml, or the working directory; `.strata/` lives here.
    pub project_root: PathBuf,
    /// The `[lint]` section.
    pub lint: LintConfig,
    /// Every `[[set]]` name in strata.toml (selected or not): those histories belong to their
    /// sets, never to an unnamed one.
    pub configured_sets: Vec<String>,
    /// `up --ignore-foreign`: apply even when another history (another tool's table, or
    /// another strata set) already records some of the pending migrations.
    pub ignore_foreign: bool,
    /// `[lint] gate_min_table_size` in bytes.
    pub gate_min_table_bytes: u64,
    /// Placeholder values for a directory no `[[set]]` describes: the file's, then `--var`.
    pub placeholders: std::collections::BTreeMap<String, String>,
    /// Whether loading may use (and write) the file cache and set snapshots under
    /// `project_root/.strata/cache` (the CLI: yes, unless `STRATA_NO_FILE_CACHE` says no; the
    /// library: no, it writes nothing beside an application's files).
    pub file_cache: bool,
}

/// The history key of a set nobody named (a `--dir`, or the `migrations/` directory, without
/// `--set` or a `[[set]]`): fixed, so that the same files keep their history wherever they
/// are checked out, copied or built into an image, as every other migration tool keeps one
/// history per database. Two unnamed sets in one database would share it; strata refuses to
/// mix them (see `strata_plan::identity_of`) and asks for names.
pub const DEFAULT_SET: &str = "default";
