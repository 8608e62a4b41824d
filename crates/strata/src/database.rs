//! Which database a call talks to. It is a parameter of every call rather than part of the
//! [`crate::Migrator`], so one migrator serves many databases (tenants, environments).

use crate::Error;
use strata_pg::ConnInfo;

/// A PostgreSQL database to migrate: where it is and how to log in. Its `Debug` form never
/// shows the password.
#[derive(Clone)]
pub struct Database {
    pub(crate) info: ConnInfo,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Database({})", self.info.redacted())
    }
}

impl Database {
    /// A database named by a URL (`postgres://user:password@host:5432/db?sslmode=require`) or a
    /// libpq key/value string (`host=/run/postgresql dbname=app`), read as libpq reads it
    /// (and as the `strata` command does): what the string leaves out comes from the
    /// process's `PGHOST`, `PGUSER`, `PGPASSWORD`, ... and `~/.pgpass`. Errors never quote
    /// the string, which may hold a password.
    ///
    /// ```
    /// let db = strata::Database::from_url("postgres://app:secret@db.internal:5433/orders")?;
    /// assert_eq!(db.to_string(), "app@db.internal:5433/orders");
    /// assert!(strata::Database::from_url("postgres://app@db:99999/orders").is_err());
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn from_url(url: &str) -> Result<Database, Error> {
        let info = ConnInfo::resolve(Some(url), &|name| std::env::var(name).ok())
            .map_err(strata_engine::EngineError::from)?;
        Ok(Database { info })
    }

    /// The database libpq's environment variables name (`PGHOST`, `PGPORT`, `PGDATABASE`,
    /// `PGUSER`, `PGPASSWORD`, `PGSSLMODE`, ...), with libpq's defaults for the rest.
    ///
    /// ```
    /// let db = strata::Database::from_env()?;
    /// println!("migrating {db}");
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn from_env() -> Result<Database, Error> {
        let info = ConnInfo::resolve(None, &|name| std::env::var(name).ok())
            .map_err(strata_engine::EngineError::from)?;
        Ok(Database { info })
    }

    /// A database an application already describes with a `tokio_postgres::Config`. What it
    /// leaves unset gets libpq's defaults (local socket, port 5432, the OS user);
    /// `application_name` defaults to `strata`. strata opens its own connections from it.
    ///
    /// ```
    /// let mut config = tokio_postgres::Config::new();
    /// config.host("db.internal").user("app").dbname("orders");
    /// let db = strata::Database::from_config(config);
    /// assert_eq!(db.to_string(), "app@db.internal:5432/orders");
    /// ```
    pub fn from_config(config: tokio_postgres::Config) -> Database {
        Database {
            info: ConnInfo::from_config(config),
        }
    }
}

/// `user@host:port/database`, without the password.
impl std::fmt::Display for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.info.redacted())
    }
}
