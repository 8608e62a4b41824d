//! Test support: one shared cluster per test binary, one database per test.

use std::process;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::{ClusterOptions, EphemeralError, TempCluster};

/// PostgreSQL's identifier length limit (NAMEDATALEN - 1).
const MAX_DATABASE_NAME: usize = 63;

static SHARED: OnceLock<Result<TempCluster, String>> = OnceLock::new();
static DB_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The process-wide test cluster, started on first use.
///
/// Statics are never dropped, so it is the cluster's watchdog that stops the
/// server and deletes its directory once the test binary exits.
///
/// # Panics
///
/// Panics with a loud explanation if PostgreSQL cannot be found or started
/// (every later call panics with the same message): tests that need a
/// database must fail, not silently skip.
pub fn shared_cluster() -> &'static TempCluster {
    let result = SHARED
        .get_or_init(|| TempCluster::start(ClusterOptions::default()).map_err(|e| e.to_string()));
    match result {
        Ok(cluster) => cluster,
        Err(message) => panic!(
            "\n\n========== strata_ephemeral: NO TEST DATABASE ==========\n\
             Could not start the shared PostgreSQL test cluster:\n\n{message}\n\n\
             These tests need real PostgreSQL server binaries (initdb, pg_ctl, postgres)\n\
             and fail rather than skip without them.\n\
             =========================================================\n"
        ),
    }
}

/// A uniquely named database on the [`shared_cluster`], dropped
/// (`dropdb --force`) when this value is dropped.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    cluster: &'static TempCluster,
}

impl TestDatabase {
    /// Creates a database named `<prefix>_<counter>_<pid>` (prefix lowercased,
    /// non-alphanumerics replaced by `_`, shortened to fit 63 bytes).
    ///
    /// # Panics
    ///
    /// Panics if the shared cluster cannot be started or the database cannot
    /// be created.
    pub fn new(prefix: &str) -> TestDatabase {
        let cluster = shared_cluster();
        let name = database_name(
            prefix,
            DB_COUNTER.fetch_add(1, Ordering::Relaxed),
            process::id(),
        );
        if let Err(e) = cluster.create_database(&name, None) {
            panic!("strata_ephemeral: could not create test database `{name}`: {e}");
        }
        TestDatabase { name, cluster }
    }

    /// The database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A connection URL for this database (see [`crate::Cluster::url`]).
    pub fn url(&self) -> String {
        self.cluster.url(&self.name)
    }

    /// The shared cluster the database lives on.
    pub fn cluster(&self) -> &'static TempCluster {
        self.cluster
    }

    /// Runs SQL in this database with [`crate::Cluster::psql`].
    pub fn psql(&self, sql: &str) -> Result<String, EphemeralError> {
        self.cluster.psql(&self.name, sql)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Err(e) = self.cluster.drop_database(&self.name) {
            eprintln!(
                "strata_ephemeral: could not drop test database `{}`: {e}",
                self.name
            );
        }
    }
}

fn database_name(prefix: &str, counter: u64, pid: u32) -> String {
    let suffix = format!("_{counter}_{pid}");
    let mut clean: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() {
        clean.push_str("test");
    }
    clean.truncate(MAX_DATABASE_NAME - suffix.len());
    clean + &suffix
}

#[cfg(test)]
mod tests {
    use super::database_name;

    #[test]
    fn database_names_are_clean_and_short() {
        assert_eq!(database_name("My-Test", 3, 42), "my_test_3_42");
        assert_eq!(database_name("", 0, 1), "test_0_1");
        let long = database_name(&"x".repeat(100), 12, 4_000_000);
        assert_eq!(long.len(), 63);
        assert!(long.ends_with("_12_4000000"));
    }
}
