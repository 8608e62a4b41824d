//! Which database a run talks to, decided in one place: an explicit URL (flag, environment or
//! strata.toml, as the front end resolved it), libpq's own variables, or, with nothing
//! configured, the project's embedded dev cluster. Then connecting and taking the lock.

use crate::error::EngineError;
use crate::settings::{DbTarget, Settings};
use strata_pg::{ConnInfo, MigrationLock, Session};

/// How the engine reads the environment (`PGHOST`, `PGPASSWORD`, ...): passed in, so a front
/// end decides what the process environment is (the CLI reads `std::env`; tests and fleets can
/// pass their own).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, as libpq reads it.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The connection target of a URL given on its own (`--scratch-url`, the sides of `schema
/// diff`): libpq's variables fill what it leaves out, as for the run's database.
pub fn conninfo_of_url(url: &str, env: Env<'_>) -> Result<ConnInfo, EngineError> {
    Ok(ConnInfo::resolve(Some(url), env)?)
}

/// The resolved database, with a note when strata chose the dev cluster.
pub struct Database {
    /// Connection target.
    pub info: ConnInfo,
    /// True when this is strata's own dev cluster.
    pub is_dev: bool,
}

/// Resolves the database, starting the dev cluster when nothing is configured.
pub fn database(
    db: &DbTarget,
    settings: &Settings,
    say: &mut (dyn FnMut(&str) + Send),
) -> Result<Database, EngineError> {
    database_with_env(db, settings, &process_env, say)
}

/// [`database`] with the environment passed in.
pub fn database_with_env(
    db: &DbTarget,
    settings: &Settings,
    env: Env<'_>,
    say: &mut (dyn FnMut(&str) + Send),
) -> Result<Database, EngineError> {
    match db {
        DbTarget::Url(url) => Ok(Database {
            info: ConnInfo::resolve(Some(url), env)?,
            is_dev: crate::dev::is_dev_url(&settings.project_root, url),
        }),
        DbTarget::Resolved(info) => Ok(Database {
            info: (**info).clone(),
            is_dev: false,
        }),
        DbTarget::LibpqEnv => Ok(Database {
            info: ConnInfo::resolve(None, env)?,
            is_dev: false,
        }),
        DbTarget::Dev => {
            let url = crate::dev::ensure_running(&settings.project_root)?;
            say(&format!(
                "no database configured (--database-url, DATABASE_URL or PGHOST/PGDATABASE): using strata's dev cluster in {} (database {})",
                crate::dev::dev_root(&settings.project_root).display(),
                crate::dev::DEV_DATABASE
            ));
            // The dev cluster is ours: only the URL counts, not the caller's PG* variables.
            let none = |_: &str| None;
            Ok(Database {
                info: ConnInfo::resolve(Some(&url), &none)?,
                is_dev: true,
            })
        }
    }
}

/// Connects.
pub async fn connect(db: &Database) -> Result<Session, EngineError> {
    Ok(Session::connect(&db.info).await?)
}

/// Takes the migration lock, telling the user when it has to wait.
pub async fn lock(
    db: &Database,
    settings: &Settings,
    say: &mut (dyn FnMut(&str) + Send),
) -> Result<MigrationLock, EngineError> {
    let lock = MigrationLock::acquire(
        &db.info,
        &settings.registry_schema,
        settings.lock_wait,
        |holders| {
            let who: Vec<String> = holders
                .iter()
                .map(|h| format!("pid {} ({})", h.pid, h.application_name))
                .collect();
            say(&format!(
                "waiting for the migration lock, held by {} (up to {:?})",
                if who.is_empty() {
                    "another session".into()
                } else {
                    who.join(", ")
                },
                settings.lock_wait
            ));
        },
    )
    .await?;
    Ok(lock)
}
