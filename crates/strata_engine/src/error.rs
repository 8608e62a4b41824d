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
