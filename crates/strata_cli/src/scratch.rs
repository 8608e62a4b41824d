//! Throwaway databases for `verify`, `drift` and `schema diff` of a directory.
//!
//! These verbs run migrations to learn what they produce, so they need a database that is not
//! the target: a fresh cluster strata starts itself (fsync off, gone afterwards), or a new
//! database on a server the user names with `--scratch-url`, dropped afterwards. The target
//! database is never used.

use anyhow::{Context, Result};
use strata_ephemeral::{ClusterOptions, TempCluster};
use strata_pg::{ConnInfo, Session};

/// Where scratch databases come from.
pub enum Scratch {
    /// A cluster of our own, destroyed on drop.
    Cluster(TempCluster),
    /// An existing server; databases are created and dropped through this admin connection.
    Server(ConnInfo),
}

/// A scratch database, dropped with [`Scratch::drop_database`].
pub struct ScratchDb {
    /// Its name.
    pub name: String,
    /// How to reach it.
    pub info: ConnInfo,
}

impl Scratch {
    /// A fresh throwaway cluster, or the server behind `--scratch-url`.
    pub fn new(scratch_url: Option<&str>) -> Result<Scratch> {
        match scratch_url {
            Some(url) => Ok(Scratch::Server(strata_engine::database::conninfo_of_url(
                url,
                &strata_engine::database::process_env,
            )?)),
            None => Ok(Scratch::Cluster(
                TempCluster::start(ClusterOptions::default()).context(
                    "cannot start a throwaway PostgreSQL cluster (or pass --scratch-url)",
                )?,
            )),
        }
    }

    /// Creates an empty database.
    pub async fn create_database(&self, label: &str) -> Result<ScratchDb> {
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
                    .context("cannot create a scratch database on --scratch-url (strata needs CREATEDB there)")?;
                Ok(ScratchDb {
                    info: admin.with_database(&name),
                    name,
                })
            }
        }
    }

    /// Drops a scratch database.
    pub async fn drop_database(&self, db: &ScratchDb) -> Result<()> {
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
