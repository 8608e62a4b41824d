//! The engine's errors: what went wrong, for which set, with the library error underneath as
//! the source, so a front end prints the whole chain (the CLI does, one `caused by:` a link).

use strata_source::SourceError;

/// Everything the engine's functions can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// Sets whose files cannot be read: every problem of every set, at once.
    #[error("{}", .0.iter().map(|(set, e)| format!("set `{set}`: {e}")).collect::<Vec<_>>().join("\n"))]
    Files(Vec<(String, SourceError)>),
    /// Reading a set's scripts after loading (a deferred script, every script before
    /// rendering placeholders).
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The thread loading the files ended without handing them over.
    #[error("loading the migration files stopped without a result (a bug in strata: please report it with the command line; running it again is safe, nothing was changed)")]
    LoaderLost,
    /// The database could not be resolved or reached.
    #[error(transparent)]
    Connect(#[from] strata_pg::ConnectError),
    /// The migration lock could not be taken.
    #[error(transparent)]
    Lock(#[from] strata_pg::lock::LockError),
    /// strata's registry could not be read or written.
    #[error(transparent)]
    Registry(#[from] strata_pg::RegistryError),
    /// A query against the database failed.
    #[error(transparent)]
    Database(#[from] tokio_postgres::Error),
    /// A set's history could not be read.
    #[error("cannot read the history of set `{set}`")]
    History {
        /// The set.
        set: String,
        /// Why.
        #[source]
        source: strata_pg::RegistryError,
    },
    /// A set could not be planned for the target.
    #[error("set `{set}`")]
    Plan {
        /// The set.
        set: String,
        /// Why.
        #[source]
        source: strata_plan::PlanError,
    },
    /// A sqitch change to deploy conflicts with one applied in this database.
    #[error("set `{set}`: nothing was run:\n  {}\nrevert the conflicting change first (`strata down`), or remove the conflict from the plan", conflicts.join("\n  "))]
    SqitchConflict {
        /// The set.
        set: String,
        /// One line per conflict, naming its `sqitch.plan` line.
        conflicts: Vec<String>,
    },
    /// Running a plan would apply a migration another history already records, or the set's
    /// history is not these files' (see [`crate::guard`]). The message names the candidates
    /// and the command that settles it.
    #[error("{message}")]
    HistoryRefused {
        /// The set.
        set: String,
        /// What was found and what to do.
        message: String,
    },
    /// A migration to apply is still the template `strata new` wrote.
    #[error("set `{set}`: {refusal}")]
    Template {
        /// The set.
        set: String,
        /// The planner's refusal, naming the migration.
        refusal: strata_plan::PlanError,
    },
    /// `renumber` cannot rename this set's files (its layout's names carry no version it may
    /// change, or a configured pattern or several locations name them).
    #[error("set `{set}` {why}")]
    CannotRenumber {
        /// The set.
        set: String,
        /// Why, as a phrase following the set's name.
        why: String,
    },
    /// `renumber` cannot work out a new name for one of the set's migrations.
    #[error("set `{set}`: {message}")]
    Renumber {
        /// The set.
        set: String,
        /// What is wrong.
        message: String,
    },
    /// A file `renumber` would rename to exists already; nothing was renamed.
    #[error("{} already exists; renumber by hand", path.display())]
    RenameTargetExists {
        /// The existing file.
        path: std::path::PathBuf,
    },
    /// A rename failed.
    #[error("cannot rename {} to {}", from.display(), to.display())]
    Rename {
        /// The file.
        from: std::path::PathBuf,
        /// Its new name.
        to: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file a verb writes (`new`) could not be written, or its directory created.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file or directory.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `new` cannot create the migration asked for.
    #[error("{message}")]
    NewMigration {
        /// What is wrong and what to do.
        message: String,
    },
    /// A path given to `lint` does not exist.
    #[error("{}: no such file or directory", path.display())]
    NoSuchPath {
        /// The path as given.
        path: std::path::PathBuf,
    },
    /// A file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file is not UTF-8.
    #[error("{}:{}:{}: not valid UTF-8", path.display(), at.line, at.col)]
    NotUtf8 {
        /// The file.
        path: std::path::PathBuf,
        /// Where the first invalid byte is.
        at: strata_model::LineCol,
    },
    /// A `-- strata:` directive in a file cannot be read.
    #[error("{}: {message}", path.display())]
    Directive {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong, with its line.
        message: String,
    },
    /// git could not be run (`lint --since`).
    #[error("cannot run git (needed for --since)")]
    GitMissing {
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A git command failed.
    #[error("git {command}: {stderr}")]
    Git {
        /// Its arguments.
        command: String,
        /// What it printed.
        stderr: String,
    },
    /// `lint --since` names no commit.
    #[error("--since {reference}: not a commit, branch or tag in this repository")]
    SinceNotACommit {
        /// The reference as given.
        reference: String,
        /// git's answer.
        #[source]
        source: Box<EngineError>,
    },
    /// The linter's thread panicked (a bug in strata).
    #[error("the linter panicked; run with --no-lint and report it")]
    LinterPanicked,
    /// A catalog snapshot could not be read.
    #[error(transparent)]
    Schema(#[from] strata_schema::SchemaError),
    /// A version given by the user is not one.
    #[error(transparent)]
    BadVersion(#[from] strata_model::VersionParseError),
    /// No throwaway cluster could be started for a scratch database.
    #[error("cannot start a throwaway PostgreSQL cluster (or pass --scratch-url)")]
    ScratchCluster {
        /// Why.
        #[source]
        source: Box<strata_ephemeral::EphemeralError>,
    },
    /// A throwaway cluster refused to create or drop a scratch database.
    #[error(transparent)]
    Ephemeral(Box<strata_ephemeral::EphemeralError>),
    /// The `--scratch-url` server refused to create a scratch database.
    #[error("cannot create a scratch database on --scratch-url (strata needs CREATEDB there)")]
    ScratchDatabase {
        /// The server's refusal.
        #[source]
        source: tokio_postgres::Error,
    },
    /// `verify --with-data` on a set without sample data.
    #[error("--with-data: set `{set}` has no sample data; add `seed = \"path/to/seed.sql\"` (and optionally `seed_after = \"V\"`) to its [[set]] in strata.toml")]
    NoSeed {
        /// The set.
        set: String,
    },
    /// A set's `seed_after` is not a version.
    #[error("seed_after: {error}")]
    SeedAfterVersion {
        /// Why (its message is this one's: it has no cause of its own).
        error: strata_model::VersionParseError,
    },
    /// A set's `seed_after` names no migration of the set.
    #[error("seed_after = \"{seed_after}\" names no migration of set `{set}`")]
    SeedAfterUnknown {
        /// The set.
        set: String,
        /// The version configured.
        seed_after: String,
    },
    /// A set's sample data cannot be read.
    #[error("cannot read the seed {}: {error}", path.display())]
    SeedUnreadable {
        /// The seed file.
        path: std::path::PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// A set's sample data failed to load.
    #[error("loading the seed {} failed: {message}", path.display())]
    SeedFailed {
        /// The seed file.
        path: std::path::PathBuf,
        /// The server's message.
        message: String,
    },
    /// A set's history does not plan against its files (an edited applied migration, ...).
    #[error("{error}")]
    Unplannable {
        /// The set.
        set: String,
        /// The planner's refusal (its message is this one's).
        error: strata_plan::PlanError,
    },
    /// `drift` on a set whose applied history does not match its files: the expected schema
    /// would be a guess.
    #[error("set `{set}`: migration {key} is {state}; resolve that first (see `strata status`), then check drift")]
    DriftUnsettled {
        /// The set.
        set: String,
        /// The migration.
        key: String,
        /// Its state (`modified`, `missing`, ...).
        state: &'static str,
    },
    /// Rebuilding, on a scratch database, the schema a set's applied history produces failed.
    #[error("rebuilding the expected schema failed")]
    Rebuild {
        /// The set.
        set: String,
        /// The failing migration.
        #[source]
        source: crate::scratch::ReplayError,
    },
    /// Replaying a set's migrations on a throwaway database failed.
    #[error("replaying the migrations of set `{set}` on a throwaway database failed")]
    Replay {
        /// The set (`scratch` for a directory no set describes).
        set: String,
        /// The failing migration.
        #[source]
        source: crate::scratch::ReplayError,
    },
    /// A side of `schema diff` names a file that cannot be read.
    #[error("cannot read {side}")]
    SnapshotUnreadable {
        /// The side as given.
        side: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A side of `schema diff` names a file that is not a saved snapshot.
    #[error("{side}")]
    NotASnapshot {
        /// The side as given.
        side: String,
        /// Why.
        #[source]
        source: strata_schema::SchemaError,
    },
    /// A verb that works on one set was given several.
    #[error("{what}; choose it with --set NAME")]
    OneSet {
        /// The verb and what it does to one set (`squash works on one set`).
        what: &'static str,
    },
    /// A set's layout has no file strata can write for what the verb needs.
    #[error("set `{set}` {why}")]
    LayoutCannotWrite {
        /// The set.
        set: String,
        /// Why, said of the set (from the layout).
        why: String,
    },
    /// `squash` on a set kept in several Flyway locations.
    #[error("set `{set}` is kept in several Flyway locations, and strata would not know which one the baseline and the archive belong to; squash it by hand")]
    SquashLocations {
        /// The set.
        set: String,
    },
    /// `squash --to V` where no migration has a version up to V.
    #[error("no migration of set `{set}` has a version up to {to}")]
    SquashNothing {
        /// The set.
        set: String,
        /// The version asked for.
        to: String,
    },
    /// `squash --to V` where no migration has version V.
    #[error("no migration has version {to}; `strata status` lists the versions")]
    SquashNoSuchVersion {
        /// The version asked for.
        to: String,
    },
    /// `pg_dump` could not be started.
    #[error("cannot run pg_dump")]
    PgDumpNotRun {
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `pg_dump` failed.
    #[error("pg_dump failed: {stderr}")]
    PgDumpFailed {
        /// What it printed.
        stderr: String,
    },
    /// `pg_dump` printed something that is not UTF-8.
    #[error("pg_dump printed invalid UTF-8")]
    PgDumpNotUtf8 {
        /// Where.
        #[source]
        source: std::string::FromUtf8Error,
    },
    /// The baseline `squash` generated does not run on a new database.
    #[error("the baseline does not apply on a new database")]
    BaselineDoesNotApply {
        /// Why.
        #[source]
        source: Box<EngineError>,
    },
    /// The baseline `squash` generated builds another schema than the migrations it replaces.
    #[error("the baseline does not reproduce the schema exactly; nothing was changed:\n{}", differences.iter().map(|d| format!("  {d}")).collect::<Vec<_>>().join("\n"))]
    BaselineDiffers {
        /// From the migrations' schema to the baseline's.
        differences: Vec<strata_schema::Difference>,
    },
    /// A file could not be moved.
    #[error("cannot move {} to {}", from.display(), to.display())]
    Move {
        /// The file.
        from: std::path::PathBuf,
        /// Where it was to go.
        to: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file or directory could not be read or written.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// `adopt --from-set` naming the selected set itself.
    #[error("set `{set}` is already the selected set; name the other set's key with --from-set")]
    AdoptOwnSet {
        /// The set.
        set: String,
    },
    /// `adopt --from-set` into a set that has a history already.
    #[error("set `{set}` already has {rows} history row(s) in this database; a history can only be moved to a set that has none")]
    AdoptIntoHistory {
        /// The selected set.
        set: String,
        /// Its history rows.
        rows: usize,
    },
    /// `adopt --from-set` naming a set key with no history.
    #[error("there is no history recorded as `{set}` in this database{}", if others.is_empty() { String::new() } else { format!("; histories that record these files: {}", crate::guard::describe(others)) })]
    NoSuchHistory {
        /// The set key named.
        set: String,
        /// The histories that do record the selected set's files.
        others: Vec<strata_plan::OtherHistory>,
    },
    /// `adopt --from TOOL` naming no tool strata knows.
    #[error("unknown tool `{name}`; strata adopts from {}", strata_pg::adopt::Tool::ALL.iter().map(|t| t.name()).collect::<Vec<_>>().join(", "))]
    UnknownTool {
        /// The name given.
        name: String,
    },
    /// `adopt` found no other tool's history for a set.
    #[error("set `{set}`: no {} history table found in the database; for a database without any tracking, `strata adopt --infer` proposes a baseline from the objects that exist (or use `strata baseline V`)", tool.unwrap_or("known tool's"))]
    NoForeignHistory {
        /// The set.
        set: String,
        /// The tool asked for, if one was.
        tool: Option<&'static str>,
    },
    /// Recording the migrations `adopt` adopts failed.
    #[error("set `{set}`: recording the adopted migrations failed")]
    AdoptFailed {
        /// The set.
        set: String,
        /// The executor's error.
        #[source]
        source: Box<strata_pg::ExecError>,
    },
    /// `adopt --infer` on a set strata already tracks.
    #[error("set `{set}` already has a strata history; `strata status` shows it (adopt --infer is for databases no tool tracked)")]
    InferWithHistory {
        /// The set.
        set: String,
    },
    /// `fresh` on a database that is not the dev cluster, without `--confirm` naming it.
    #[error("`strata fresh` drops every object the selected sets created in database `{database}` ({target}); it runs without confirmation only on strata's dev cluster. If you mean it, run again with --confirm {database}")]
    FreshUnconfirmed {
        /// The database's name.
        database: String,
        /// Where it is, without secrets.
        target: String,
    },
    /// `fresh` for a set in `public` that other (unselected) sets share.
    #[error("`strata fresh` would drop `public`, which set(s) {} share with the selected set; give each set its own `schema` in strata.toml, or run fresh for all sets at once (without --set)", others.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "))]
    FreshSharedPublic {
        /// The other sets without a schema of their own.
        others: Vec<String>,
    },
    /// `fresh` could not reset a set; its transaction was rolled back.
    #[error("cannot reset set `{set}`; nothing was dropped")]
    FreshFailed {
        /// The set.
        set: String,
        /// Why.
        #[source]
        source: tokio_postgres::Error,
    },
    /// The embedded dev cluster could not be made ready.
    #[error("{what}")]
    DevCluster {
        /// What strata was doing.
        what: String,
        /// Why it failed.
        #[source]
        source: Box<DevClusterError>,
    },
}

/// Why the dev cluster failed.
#[derive(Debug, thiserror::Error)]
pub enum DevClusterError {
    /// From the cluster manager.
    #[error(transparent)]
    Cluster(#[from] strata_ephemeral::EphemeralError),
    /// From the file system.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl From<strata_ephemeral::EphemeralError> for EngineError {
    fn from(e: strata_ephemeral::EphemeralError) -> Self {
        EngineError::Ephemeral(Box::new(e))
    }
}
