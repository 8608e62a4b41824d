//! The registry's layout: the embedded `v*.sql` files and how they are applied.
//!
//! Each file upgrades the layout by one version; a fresh registry gets all of them in order, an
//! older one the files it lacks. Every file runs in its own transaction with the row that
//! records its version, so an interrupted upgrade leaves the previous layout whole.

use super::{Registry, RegistryError};
use tokio_postgres::Client;

/// The registry layouts, in order. Index + 1 is the version.
const UPGRADES: &[&str] = &[include_str!("v1.sql"), include_str!("v2.sql")];

/// The newest layout version this strata installs.
pub(super) const LATEST: i32 = UPGRADES.len() as i32;

impl Registry {
    /// Creates the registry schema when it is missing.
    pub(super) async fn create_schema(&self, client: &Client) -> Result<(), RegistryError> {
        // CREATE SCHEMA IF NOT EXISTS checks the database-level CREATE right even when the
        // schema exists, so a role that was only given its own schema could never get
        // here; create it only when it is missing.
        let exists: bool = client
            .query_one("SELECT to_regnamespace($1) IS NOT NULL", &[&self.quoted])
            .await?
            .get(0);
        if !exists {
            client
                .batch_execute(&format!(
                    "CREATE SCHEMA {0}; COMMENT ON SCHEMA {0} IS 'strata migration registry: which migrations of which set are applied, and an append-only event log'",
                    self.quoted
                ))
                .await
                .map_err(|e| RegistryError::CannotCreate { schema: self.schema.clone(), source: e })?;
        }
        Ok(())
    }

    /// Applies the layouts after version `installed`, each in its own transaction.
    pub(super) async fn upgrade(
        &self,
        client: &Client,
        installed: i32,
    ) -> Result<(), RegistryError> {
        for (i, sql) in UPGRADES.iter().enumerate().skip(installed as usize) {
            let version = i as i32 + 1;
            let ddl = sql.replace("{schema}", &self.quoted);
            client.batch_execute("BEGIN").await?;
            let result = async {
                client.batch_execute(&ddl).await?;
                client
                    .execute(
                        &format!(
                            "INSERT INTO {} (version) VALUES ($1)",
                            self.table("registry_version")
                        ),
                        &[&version],
                    )
                    .await?;
                client.batch_execute("COMMIT").await
            }
            .await;
            if let Err(e) = result {
                let _ = client.batch_execute("ROLLBACK").await;
                return Err(e.into());
            }
        }
        Ok(())
    }
}
