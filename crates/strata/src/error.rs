//! The library's one error type: each variant says what went wrong and what to do, and keeps
//! the underlying error as its `source`, so an application can log the whole chain.

use std::path::PathBuf;

/// Everything a call of this crate can fail with. Messages never contain a password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The migration files, the database, the lock or the history: what the engine reported
    /// (its message names the set and the file).
    #[error(transparent)]
    Engine(#[from] strata_engine::EngineError),
    /// A directory's files could not be read or are not a migration set strata can run.
    #[error(transparent)]
    Files(#[from] strata_source::SourceError),
    /// The directory given to [`crate::Migrations::from_dir`] could not be read.
    #[error("cannot read the migration directory {}: {source}", dir.display())]
    ReadDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A migration failed. The database is as it was before that migration (a transactional
    /// one was rolled back), or, for a non-transactional one, recorded statement by statement
    /// so the next run resumes it; the migrations before it stay applied. The executor's
    /// error carries the migration (`key`, `path`), where the server stopped
    /// (`failure.location`), its message, SQLSTATE, detail and hint, the database's state in
    /// words and what to do next.
    #[error("set `{set}`: {source}\n  at {}\n  state: {}\n  next: {}", located(source), source.state, source.next)]
    MigrationFailed {
        /// The set.
        set: String,
        /// What failed, where, and what to do.
        #[source]
        source: Box<strata_pg::ExecError>,
    },
    /// The lint gate stopped the run before anything was applied: a pending migration would
    /// lock or rewrite a large table, lose data, or break a rule configured as an error.
    #[error("set `{set}`: not applying anything: the linter found {} error(s) in the pending migrations:\n{}\nfix them, or put `-- strata:allow <rule> <reason>` on the line above the statement", findings.len(), findings.iter().map(|f| format!("  - {f}")).collect::<Vec<_>>().join("\n"))]
    Refused {
        /// The first set with a blocking finding.
        set: String,
        /// One line per finding: `file:line:col: rule: message`.
        findings: Vec<String>,
    },
    /// The plans stopped before a migration strata cannot run (a goose `.go` or Flyway
    /// `.java` migration): the database is not where it was asked to go.
    #[error("{}", reasons.join("\n"))]
    Stopped {
        /// One message per stop, naming the migration.
        reasons: Vec<String>,
    },
    /// A setting of the [`crate::Migrator`] cannot be used.
    #[error("{message}")]
    Setting {
        /// What is wrong and what to do.
        message: String,
    },
    /// An embedded set does not load at run time as it did when it was compiled (the `strata`
    /// library and the `strata_macros` that expanded `embed!` disagree).
    #[error("embedded migrations `{dir}`: {message}; rebuild the application with matching versions of the strata crates")]
    Embedded {
        /// The directory as written in `embed!`.
        dir: String,
        /// What differs.
        message: String,
    },
}

/// Where a failed migration stopped: `file:line:col`, or the file when the server did not say.
pub(crate) fn located(e: &strata_pg::ExecError) -> String {
    match e.failure.location {
        Some(at) => format!("{}:{}:{}", e.path.display(), at.line, at.col),
        None => e.path.display().to_string(),
    }
}
