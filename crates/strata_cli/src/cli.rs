//! Command-line arguments, stage one: raw flags as typed. [`crate::config`] turns them, the
//! environment and `strata.toml` into resolved settings.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// PostgreSQL schema migrations, done right.
#[derive(Debug, Parser)]
#[command(
    name = "strata",
    version,
    about,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Global options.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The verb.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every verb understands.
#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// Database URL (`postgres://user@host:5432/db?sslmode=require`) or key=value string.
    /// Without it: DATABASE_URL, then the libpq variables (PGHOST, PGDATABASE, ...), then the
    /// embedded dev cluster under `.strata/`.
    #[arg(
        long,
        global = true,
        env = "STRATA_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// One migration directory; no strata.toml needed.
    #[arg(long, global = true, env = "STRATA_DIR")]
    pub dir: Option<PathBuf>,
    /// The set to act on (with --dir: its name, which keys its history).
    #[arg(long = "set", global = true, env = "STRATA_SET")]
    pub set: Option<String>,
    /// Configuration file (default: strata.toml found by walking up from the working directory).
    #[arg(long, global = true, env = "STRATA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print one JSON document instead of text.
    #[arg(long, global = true, env = "STRATA_JSON", value_parser = clap::builder::FalseyValueParser::new())]
    pub json: bool,
    /// Hide server NOTICEs and progress lines.
    #[arg(long, short, global = true, env = "STRATA_QUIET", value_parser = clap::builder::FalseyValueParser::new())]
    pub quiet: bool,
    /// Schema holding strata's registry (default `strata`).
    #[arg(long, global = true, env = "STRATA_REGISTRY_SCHEMA")]
    pub registry_schema: Option<String>,
    /// Layout of --dir when detection should be overridden (`pattern` needs its `[[set]] pattern`).
    #[arg(long, global = true, env = "STRATA_LAYOUT", value_parser = layout_names())]
    pub layout: Option<String>,
    /// lock_timeout for migration statements (`5s`, `500ms`, `0` = none; default 5s).
    #[arg(long, global = true, env = "STRATA_LOCK_TIMEOUT")]
    pub lock_timeout: Option<String>,
    /// statement_timeout for migration statements (default 0 = none).
    #[arg(long, global = true, env = "STRATA_STATEMENT_TIMEOUT")]
    pub statement_timeout: Option<String>,
    /// How long to wait for another strata run to release the migration lock (default 60s).
    #[arg(long, global = true, env = "STRATA_LOCK_WAIT")]
    pub lock_wait: Option<String>,
    /// How often a migration that hit lock_timeout is retried, with exponential backoff (default 5).
    #[arg(long, global = true, env = "STRATA_LOCK_RETRIES")]
    pub lock_retries: Option<u32>,
    /// First delay between lock_timeout retries; doubles each time, with jitter (default 500ms).
    #[arg(long, global = true, env = "STRATA_RETRY_DELAY")]
    pub retry_delay: Option<String>,
    /// A placeholder value, `name=value` (repeatable): fills `${name}` and `{{ index .Options "name" }}`.
    #[arg(long = "var", global = true, value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Allow applying pending migrations older than the newest applied one.
    #[arg(long, global = true, env = "STRATA_ALLOW_OUT_OF_ORDER", value_parser = clap::builder::FalseyValueParser::new())]
    pub allow_out_of_order: bool,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations in order.
    Up(UpArgs),
    /// Revert applied migrations (one by default).
    Down(DownArgs),
    /// Revert the last migration and apply it again.
    Redo(DryRunArgs),
    /// Move up or down to exactly version V.
    Goto(GotoArgs),
    /// Show every migration with its state.
    Status(StatusArgs),
    /// Check files against history (edited, missing, out-of-order, part-way) without applying anything.
    Validate,
    /// Record every migration up to V as applied without running it (adopting an existing database).
    Baseline(BaselineArgs),
    /// Settle a migration left part-way or failed: resume it, or record your decision.
    Repair(RepairArgs),
    /// Accept the edited file of an applied migration (records the new checksum and why).
    Accept(AcceptArgs),
    /// Take over a database another tool manages (golang-migrate, Flyway, dbmate, goose, sqlx, diesel, node-pg-migrate, Laravel, sqitch, Prisma): record its applied migrations without running them.
    Adopt(AdoptArgs),
    /// Give pending migrations that are older than applied ones (after a branch merge) new versions after all others, renaming their files.
    Renumber(ApplyArgs),
    /// Replace the migrations up to V with one baseline generated from the schema they produce (proven identical first); old files are archived.
    Squash(SquashArgs),
    /// Create the next migration file(s) in the set's layout.
    New(NewArgs),
    /// Drop everything the set's migrations created and apply them again (development reset).
    Fresh(FreshArgs),
    /// Manage the embedded development cluster under `.strata/`.
    Dev(DevArgs),
    /// Describe or compare schemas (deterministic snapshots from the catalogs).
    Schema(SchemaArgs),
    /// Count user objects: schemas, extensions, tables, constraints, indexes, functions, ...
    Stats,
    /// Prove on a throwaway database that every down undoes its up.
    Verify(VerifyArgs),
    /// Compare the live schema with what its applied migrations produce.
    Drift(ScratchArgs),
    /// Check migrations for locking, transaction and compatibility hazards, the way strata will
    /// run them.
    Lint(LintArgs),
}

/// `strata lint`.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// Migration directories or files (default: the configured sets). A file is linted in its
    /// directory's context: earlier migrations feed the schema state, only the file is reported.
    #[arg(value_name = "PATHS")]
    pub paths: Vec<PathBuf>,
    /// Output format (`--json` is `--format json`).
    #[arg(long, env = "STRATA_LINT_FORMAT", default_value = "text", value_parser = ["text", "json", "github", "sarif"])]
    pub format: String,
    /// Only report migrations added since this git ref (branch, tag, commit); older ones are
    /// treated as applied.
    #[arg(
        long,
        env = "STRATA_LINT_SINCE",
        value_name = "GIT_REF",
        conflicts_with = "pending"
    )]
    pub since: Option<String>,
    /// Only report migrations not yet applied on the database (connects; also reads the server
    /// version and table sizes).
    #[arg(long, env = "STRATA_LINT_PENDING", conflicts_with = "paths", value_parser = clap::builder::FalseyValueParser::new())]
    pub pending: bool,
    /// PostgreSQL major version to lint for (default: `[lint] target_version`, the connected
    /// server's, else 14).
    #[arg(long, env = "STRATA_PG_VERSION", value_name = "MAJOR")]
    pub pg_version: Option<u32>,
    /// Rule level for this run, overriding strata.toml: `--rule prefer-robust-stmts=warning`.
    #[arg(long = "rule", value_name = "RULE=LEVEL")]
    pub rules: Vec<String>,
    /// Print a rule's documentation and exit.
    #[arg(long, value_name = "RULE", conflicts_with_all = ["list_rules", "paths"])]
    pub explain: Option<String>,
    /// List every rule with its category and level, and exit.
    #[arg(long)]
    pub list_rules: bool,
}

/// Where throwaway databases come from.
#[derive(Debug, Args)]
pub struct ScratchArgs {
    /// A server where strata may create and drop databases (default: a throwaway cluster strata starts).
    #[arg(long, env = "STRATA_SCRATCH_URL", hide_env_values = true)]
    pub scratch_url: Option<String>,
}

/// `strata verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Verify only this version and newer ones.
    #[arg(long, value_name = "VERSION")]
    pub from: Option<String>,
    /// Load the set's sample data (`seed` in strata.toml) first, so data-dependent steps run on data.
    #[arg(long)]
    pub with_data: bool,
    /// Where throwaway databases come from.
    #[command(flatten)]
    pub scratch: ScratchArgs,
}

/// `strata schema`.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: SchemaAction,
}

/// Schema actions.
#[derive(Debug, Subcommand)]
pub enum SchemaAction {
    /// Print the database's schema: one block per object, stable order, no timestamps.
    Dump {
        /// `sql` (readable, diffable) or `json`.
        #[arg(long, default_value = "sql", value_parser = ["sql", "json"])]
        format: String,
    },
    /// Compare two schemas: each a saved `.json` snapshot, a migration directory (applied to a throwaway database), `db` (the configured database) or a database URL. Exit 1 when they differ.
    Diff {
        /// The first schema.
        a: String,
        /// The second schema.
        b: String,
        /// Where throwaway databases come from.
        #[command(flatten)]
        scratch: ScratchArgs,
    },
}

/// `--dry-run`.
#[derive(Debug, Args)]
pub struct DryRunArgs {
    /// Print the plan and the exact SQL; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `strata up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Stop after this version (inclusive).
    #[arg(long, conflicts_with = "steps")]
    pub to: Option<String>,
    /// Apply at most N migrations.
    #[arg(long)]
    pub steps: Option<usize>,
    /// Print the plan and the exact SQL; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not lint the pending migrations first (also `[lint] on_up = false` in strata.toml).
    #[arg(long, env = "STRATA_NO_LINT", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_lint: bool,
    /// Apply even when another history already records some of the pending migrations:
    /// another tool's table (golang-migrate, Flyway, goose, ...) or another strata set with
    /// the same files. Without it `up` refuses and names the `strata adopt` command.
    #[arg(long)]
    pub ignore_foreign: bool,
}

/// `strata down`.
#[derive(Debug, Args)]
pub struct DownArgs {
    /// Revert N migrations (default 1).
    #[arg(long, conflicts_with_all = ["to", "all"])]
    pub steps: Option<usize>,
    /// Revert every migration above this version.
    #[arg(long, conflicts_with = "all")]
    pub to: Option<String>,
    /// Revert every applied migration.
    #[arg(long)]
    pub all: bool,
    /// Print the plan and the exact SQL; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `strata goto`.
#[derive(Debug, Args)]
pub struct GotoArgs {
    /// Target version (`5`, `005`, `V5` name the same migration).
    #[arg(value_name = "VERSION")]
    pub target: String,
    /// Print the plan and the exact SQL; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Apply even when another history already records some of the migrations (see `up`).
    #[arg(long)]
    pub ignore_foreign: bool,
}

/// `strata status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Exit 1 when anything is pending or drifted.
    #[arg(long)]
    pub check: bool,
}

/// `strata baseline`.
#[derive(Debug, Args)]
pub struct BaselineArgs {
    /// Last version to record as applied.
    #[arg(value_name = "VERSION")]
    pub target: String,
    /// Print what would be recorded; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `strata repair`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("decision").required(true).args(["resume", "mark_applied", "mark_reverted"]))]
pub struct RepairArgs {
    /// The migration (`5`, `005`, `V5`; the key, such as `0010_add_x`, of one of several
    /// migrations sharing a version).
    #[arg(value_name = "VERSION")]
    pub target: String,
    /// Run the rest of it (what `strata up` does first anyway).
    #[arg(long)]
    pub resume: bool,
    /// You completed it by hand: record it as applied without running anything.
    #[arg(long)]
    pub mark_applied: bool,
    /// You undid it by hand: remove its history row without running anything.
    #[arg(long)]
    pub mark_reverted: bool,
    /// Why (recorded in the event log with who decided); required with --mark-*.
    #[arg(long)]
    pub reason: Option<String>,
    /// Print what would be done; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `strata accept`.
#[derive(Debug, Args)]
pub struct AcceptArgs {
    /// The applied migration whose file was edited on purpose.
    #[arg(value_name = "VERSION")]
    pub target: String,
    /// Why the edit is acceptable (recorded in the event log with who accepted it).
    #[arg(long)]
    pub reason: String,
    /// Print what would be done; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `strata adopt`.
#[derive(Debug, Args)]
pub struct AdoptArgs {
    /// The tool whose history to read (default: detected).
    #[arg(long = "from", value_name = "TOOL")]
    pub tool: Option<String>,
    /// Take over the history strata recorded under another set key (an older strata's
    /// path-derived key for an unnamed set, a renamed `[[set]]`); the selected set must have
    /// none yet. Nothing runs.
    #[arg(long, value_name = "SET", conflicts_with_all = ["tool", "infer"])]
    pub from_set: Option<String>,
    /// No tool kept a history (a psql loop): check, migration by migration, whether the objects
    /// each one creates exist, and propose a baseline (recorded only with --apply).
    #[arg(long, conflicts_with = "tool")]
    pub infer: bool,
    /// Record the adoption (the default is a dry run that shows what would be recorded).
    #[arg(long)]
    pub apply: bool,
}

/// A dry run unless `--apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Do it (the default is a dry run that shows what would change).
    #[arg(long)]
    pub apply: bool,
}

/// `strata squash`.
#[derive(Debug, Args)]
pub struct SquashArgs {
    /// The last version to squash.
    #[arg(long, value_name = "VERSION")]
    pub to: String,
    /// Do it (the default is a dry run that shows what would change).
    #[arg(long)]
    pub apply: bool,
}

/// `strata new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// Migration name, e.g. `add_users_table`.
    pub name: String,
}

/// `strata fresh`.
#[derive(Debug, Args)]
pub struct FreshArgs {
    /// Required unless the target is strata's dev cluster: the database name, typed out.
    #[arg(long)]
    pub confirm: Option<String>,
}

/// `strata dev`.
#[derive(Debug, Args)]
pub struct DevArgs {
    /// What to do with the dev cluster.
    #[command(subcommand)]
    pub action: DevAction,
}

/// Dev cluster actions.
#[derive(Debug, Subcommand, Clone, Copy)]
pub enum DevAction {
    /// Start it (initialising it on first use).
    Start,
    /// Stop it.
    Stop,
    /// Say whether it runs, where, and its URL.
    Status,
    /// Print its connection URL.
    Url,
    /// Open psql on it.
    Psql,
    /// Stop it, delete it and start a new empty one.
    Reset,
}

/// The `--layout` values: the names of strata_source's layout table, so a layout added there
/// is accepted (and listed in `--help`) here.
fn layout_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(strata_source::LayoutKind::names())
}

#[cfg(test)]
mod tests {
    #[test]
    fn arguments_are_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
