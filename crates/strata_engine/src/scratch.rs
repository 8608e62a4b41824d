//! Throwaway databases, and running migrations on them, for the verbs that learn what
//! migrations produce by running them: `verify`, `drift`, `squash` and `schema diff` of a
//! directory.
//!
//! Those verbs need a database that is not the target: a fresh cluster strata starts itself
//! (fsync off, gone when the [`Scratch`] is dropped), or a new database on a server the user
//! names (`--scratch-url`), dropped afterwards. The target database is never used. Nobody else
//! uses a scratch database, so [`replay`] runs without the migration lock, without a lock
//! timeout and without progress output.

use crate::error::EngineError;
use std::path::{Path, PathBuf};
use strata_ephemeral::{ClusterOptions, TempCluster};
use strata_model::Migration;
use strata_pg::{ConnInfo, ExecError, Registry, Session};
use strata_plan::{Plan, Step};

/// Where scratch databases come from.
pub enum Scratch {
    /// A cluster of our own, destroyed on drop.
    Cluster(TempCluster),
    /// An existing server; databases are created and dropped through this admin connection.
    Server(ConnInfo),
}

/// Which server scratch databases are made on.
#[derive(Debug, Clone, Copy, Default)]
pub enum ScratchServer<'a> {
    /// A cluster strata starts itself (it needs PostgreSQL's server binaries).
    #[default]
    Cluster,
    /// The server a URL names (`--scratch-url`; libpq's variables fill what it leaves out).
    Url(&'a str),
    /// A server the caller has already resolved (the library's `Database`).
    Resolved(&'a ConnInfo),
}

impl<'a> From<Option<&'a str>> for ScratchServer<'a> {
    fn from(url: Option<&'a str>) -> ScratchServer<'a> {
        url.map_or(ScratchServer::Cluster, ScratchServer::Url)
    }
}

/// A scratch database, dropped with [`Scratch::drop_database`].
pub struct ScratchDb {
    /// Its name.
    pub name: String,
    /// How to reach it.
    pub info: ConnInfo,
}

impl Scratch {
    /// A fresh throwaway cluster, or the server behind `scratch_url` (libpq's variables fill
    /// what the URL leaves out).
    pub fn new(scratch_url: Option<&str>) -> Result<Scratch, EngineError> {
        Scratch::on(ScratchServer::from(scratch_url))
    }

    /// Scratch databases on `server`.
    pub fn on(server: ScratchServer<'_>) -> Result<Scratch, EngineError> {
        match server {
            ScratchServer::Url(url) => Ok(Scratch::Server(crate::database::conninfo_of_url(
                url,
                &crate::database::process_env,
            )?)),
            ScratchServer::Resolved(info) => Ok(Scratch::Server(info.clone())),
            ScratchServer::Cluster => Ok(Scratch::Cluster(
                TempCluster::start(ClusterOptions::default()).map_err(|e| {
                    EngineError::ScratchCluster {
                        source: Box::new(e),
                    }
                })?,
            )),
        }
    }

    /// Creates an empty database, named after `label`, this process and the clock, so that
    /// concurrent runs against one `--scratch-url` server never collide.
    pub async fn create_database(&self, label: &str) -> Result<ScratchDb, EngineError> {
        let name = format!(
            "strata_{label}_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        match self {
            Scratch::Cluster(c) => {
                c.create_database(&name, None)?;
                // The cluster is ours: only its URL counts, not the caller's PG* variables.
                let none = |_: &str| None;
                Ok(ScratchDb {
                    info: ConnInfo::resolve(Some(&c.url(&name)), &none)?,
                    name,
                })
            }
            Scratch::Server(admin) => {
                let session = Session::connect(admin).await?;
                session
                    .create_database(&name)
                    .await
                    .map_err(|source| EngineError::ScratchDatabase { source })?;
                Ok(ScratchDb {
                    info: admin.with_database(&name),
                    name,
                })
            }
        }
    }

    /// Drops a scratch database.
    pub async fn drop_database(&self, db: &ScratchDb) -> Result<(), EngineError> {
        match self {
            Scratch::Cluster(c) => Ok(c.drop_database(&db.name)?),
            Scratch::Server(admin) => {
                let session = Session::connect(admin).await?;
                session.drop_database(&db.name).await?;
                Ok(())
            }
        }
    }
}

/// Why migrations could not be run on a throwaway database. The front end renders an
/// execution failure against its file (the CLI as it renders a failed `up`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// A code migration only its own tool can run: strata says so rather than feed it to
    /// PostgreSQL.
    #[error("migration {key} ({}) is a {language} migration, which strata cannot run on a throwaway database; this command needs every migration it replays to be SQL", path.display())]
    CodeMigration {
        /// The migration's registry key.
        key: String,
        /// Its file.
        path: PathBuf,
        /// The language its directive names.
        language: &'static str,
    },
    /// A step failed on the server (or could not start).
    #[error(transparent)]
    Exec(Box<ExecError>),
}

/// One set's migrations and where they live, as [`replay`] needs them.
#[derive(Clone, Copy)]
pub struct ReplaySet<'a> {
    /// The migrations the steps index.
    pub migrations: &'a [Migration],
    /// Where `\copy` meta-commands find their files (see `strata_pg::ExecOptions::set_dir`).
    pub dir: &'a Path,
    /// The history key the steps are recorded under.
    pub name: &'a str,
    /// PostgreSQL-syntax statement_timeout for each step (`"0"`: none).
    pub statement_timeout: &'a str,
}

/// Runs `steps` of `set` on a throwaway database, recording them in `registry` as `up` would
/// (the registry must exist). A code migration among the steps refuses the whole replay before
/// anything runs.
pub async fn replay(
    session: &mut Session,
    registry: &Registry,
    set: ReplaySet<'_>,
    steps: Vec<Step>,
) -> Result<(), ReplayError> {
    for step in &steps {
        if let Step::Apply { index, .. } | Step::Revert { index, .. } = step {
            let m = &set.migrations[*index];
            if let Some(language) = m.code_language() {
                return Err(ReplayError::CodeMigration {
                    key: m.id.registry_key(),
                    path: m.path().to_owned(),
                    language,
                });
            }
        }
    }
    let opts = strata_pg::ExecOptions {
        set_name: set.name.to_owned(),
        // Nobody else uses the database: nothing to wait for.
        lock_timeout: "0".into(),
        statement_timeout: set.statement_timeout.to_owned(),
        set_dir: set.dir.to_owned(),
        ..Default::default()
    };
    let plan = Plan {
        entries: Vec::new(),
        steps,
        findings: Vec::new(),
    };
    strata_pg::execute(
        session,
        registry,
        set.migrations,
        &plan,
        &opts,
        None,
        &mut strata_pg::Silent,
    )
    .await
    .map(drop)
    .map_err(|e| ReplayError::Exec(Box::new(e)))
}

/// Creates a scratch database, runs `work` with its connection target, and drops it again, whatever `work`
/// returned: `work`'s result matters more than a failed clean-up, which is reported only when
/// `work` succeeded.
pub async fn with_database<T, F>(
    scratch: &Scratch,
    label: &str,
    work: impl FnOnce(ConnInfo) -> F,
) -> Result<T, EngineError>
where
    F: std::future::Future<Output = Result<T, EngineError>>,
{
    let db = scratch.create_database(label).await?;
    let result = work(db.info.clone()).await;
    let dropped = scratch.drop_database(&db).await;
    let value = result?;
    dropped?;
    Ok(value)
}
