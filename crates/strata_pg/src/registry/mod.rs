//! strata's own tables: the registry schema, its layout versions, and every statement that
//! reads or writes them.
//!
//! The registry lives in its own schema (default `strata`) because real migration sets drop
//! and recreate `public`. Its layout is versioned by embedded SQL files applied in order under
//! the migration lock, so two strata processes cannot race to create it and a newer strata can
//! upgrade an older registry in place.
//!
//! Whoever writes to strata's tables owns them, so every statement against them is built here:
//! `schema` installs and upgrades the layout, `read` answers questions about a set's
//! history, and `write` changes it, including the prepared statements the executor pipelines
//! with each migration (it still sends them: a migration and its history row are one
//! transaction and one round trip) and the lock's `runs` bookkeeping. Nothing outside this
//! module names a registry table.
//!
//! The public methods take a [`Session`], never a driver client: other crates cannot hold
//! one, so they cannot send a statement of their own to these tables either.

mod read;
mod schema;
mod write;

pub(crate) use write::HistoryStatements;

use crate::ident::quote_ident;
use crate::session::Session;
use tokio_postgres::error::SqlState;

/// Registry problems.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// A query failed.
    #[error("registry query failed: {0}")]
    Query(#[from] tokio_postgres::Error),
    /// The registry was created by a newer strata.
    #[error("the registry in schema `{schema}` has layout version {found}, newer than this strata understands ({known}); upgrade strata")]
    TooNew {
        /// Schema.
        schema: String,
        /// Version found.
        found: i32,
        /// Newest known.
        known: i32,
    },
    /// The registry schema is missing and this role may not create it.
    #[error("cannot create the registry schema `{schema}`: {source}; have an administrator create it for this role (CREATE SCHEMA ... AUTHORIZATION <role>) or choose another with --registry-schema")]
    CannotCreate {
        /// Schema.
        schema: String,
        /// The server's refusal.
        #[source]
        source: tokio_postgres::Error,
    },
    /// A history was to be moved onto a set that already has one.
    #[error("set `{set}` already has {rows} history row(s); a history can only be moved to a set that has none")]
    Occupied {
        /// The set that has a history.
        set: String,
        /// Its rows.
        rows: u64,
    },
    /// A row strata cannot interpret.
    #[error("unreadable registry row for set `{set}`, key `{key}`: {message}")]
    BadRow {
        /// Set name.
        set: String,
        /// Row key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// The name of the history table inside the registry schema (one row per applied migration).
pub const HISTORY_TABLE: &str = "migrations";

/// A handle on the registry schema.
#[derive(Debug, Clone)]
pub struct Registry {
    schema: String,
    quoted: String,
}

impl Registry {
    /// The registry in `schema`.
    pub fn new(schema: &str) -> Registry {
        Registry {
            schema: schema.to_owned(),
            quoted: quote_ident(schema),
        }
    }

    /// The schema name, unquoted.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// `"schema".table`.
    pub fn table(&self, table: &str) -> String {
        format!("{}.{}", self.quoted, quote_ident(table))
    }

    /// The installed layout version (0 when there is no registry yet).
    pub async fn installed_version(&self, session: &Session) -> Result<i32, RegistryError> {
        let client = &session.client;
        // query_typed: one message exchange each, no statement prepared first (this runs
        // before every run that changes something).
        let version_table = self.table("registry_version");
        let exists = client
            .query_typed(
                "SELECT to_regclass($1) IS NOT NULL",
                &[(&version_table, tokio_postgres::types::Type::TEXT)],
            )
            .await?
            .first()
            .is_some_and(|row| row.get::<_, bool>(0));
        if !exists {
            return Ok(0);
        }
        let v: Option<i32> = client
            .query_typed(&format!("SELECT max(version) FROM {version_table}"), &[])
            .await?
            .first()
            .and_then(|row| row.get(0));
        Ok(v.unwrap_or(0))
    }

    /// Creates or upgrades the registry. Call with the migration lock held.
    pub async fn ensure(&self, session: &Session) -> Result<(), RegistryError> {
        let installed = self.installed_version(session).await?;
        let client = &session.client;
        let known = schema::LATEST;
        if installed > known {
            return Err(RegistryError::TooNew {
                schema: self.schema.clone(),
                found: installed,
                known,
            });
        }
        if installed == 0 {
            self.create_schema(client).await?;
        }
        self.upgrade(client, installed).await
    }
}

/// The server's answer when the registry schema or table does not exist (yet).
fn no_registry(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNDEFINED_TABLE) || e.code() == Some(&SqlState::INVALID_SCHEMA_NAME)
}
