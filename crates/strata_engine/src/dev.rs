//! The embedded default: a project-local throwaway cluster under `.strata/dev`.
//!
//! A developer who runs `strata up` with no database configured gets a real PostgreSQL started
//! from the system's binaries, with its socket inside the project and no TCP port, instead of an
//! error. strata always says when it does this.

use crate::error::{DevClusterError, EngineError};
use std::path::{Path, PathBuf};
use strata_ephemeral::{Cluster, ClusterOptions, PgBinaries};

/// The database strata uses inside the dev cluster.
pub const DEV_DATABASE: &str = "strata_dev";

/// Where the dev cluster lives for a project: `.strata/dev`, unless the server could not use
/// that path (a socket path over the kernel's 107-byte limit, or, when strata runs as root, a
/// parent directory the `postgres` user cannot enter, such as a 0700 `/root`); then a
/// per-project directory under the system temp dir.
pub fn dev_root(project_root: &Path) -> PathBuf {
    let local = project_root.join(".strata").join("dev");
    if usable_by_server(&local) {
        return local;
    }
    let canonical = std::fs::canonicalize(project_root).unwrap_or_else(|_| project_root.to_owned());
    std::env::temp_dir().join(fallback_dir_name(&canonical))
}

/// The name of a project's dev directory under the temp dir: `strata-dev-` and the 64-bit
/// FNV-1a of its canonical path. A cluster already lives there, so the name must never change.
fn fallback_dir_name(canonical: &Path) -> String {
    use std::hash::Hasher;
    // `write` of the raw bytes, never `Hash::hash` of the string (which appends a 0xFF byte).
    let mut h = fnv::FnvHasher::default();
    h.write(canonical.to_string_lossy().as_bytes());
    format!("strata-dev-{:016x}", h.finish())
}

fn usable_by_server(root: &Path) -> bool {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if root.join("run/.s.PGSQL.5432.lock").as_os_str().len() > 100 {
        return false;
    }
    let running_as_root = std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false);
    if !running_as_root {
        return true;
    }
    root.ancestors()
        .filter_map(|dir| std::fs::metadata(dir).ok())
        .all(|m| m.permissions().mode() & 0o001 != 0)
}

/// The failure of a dev-cluster step, saying what strata was doing.
fn failed(what: impl Into<String>) -> impl FnOnce(DevClusterError) -> EngineError {
    move |source| EngineError::DevCluster {
        what: what.into(),
        source: Box::new(source),
    }
}

/// The project's dev cluster, initialised if it was not (not started).
pub fn open(project_root: &Path) -> Result<Cluster, EngineError> {
    let bins = PgBinaries::discover()
        .map_err(DevClusterError::from)
        .map_err(failed(
            "the embedded dev cluster needs PostgreSQL's server binaries",
        ))?;
    let root = dev_root(project_root);
    std::fs::create_dir_all(root.parent().expect("dev root has a parent"))
        .map_err(DevClusterError::from)
        .map_err(failed(format!("cannot create {}", root.display())))?;
    Cluster::open_or_init(&bins, &root, ClusterOptions::default())
        .map_err(DevClusterError::from)
        .map_err(failed(format!(
            "cannot initialise the dev cluster in {}",
            root.display()
        )))
}

/// Written next to the cluster once the dev database is known to exist, so later commands can
/// skip the checks that need external programs.
const DATABASE_READY: &str = "strata_dev.ready";

/// Starts the dev cluster if needed, creates the dev database, and returns its URL.
///
/// The common case — cluster up, database made by an earlier command — is answered from the
/// cluster's files alone: starting `pg_ctl` and `psql` and re-checking ownership would cost
/// more than the command itself (about 0.2 s on every `strata up`).
pub fn ensure_running(project_root: &Path) -> Result<String, EngineError> {
    let root = dev_root(project_root);
    if root.join(DATABASE_READY).is_file() {
        if let Some(url) = Cluster::url_if_running(&root, DEV_DATABASE, &ClusterOptions::default())
        {
            return Ok(url);
        }
    }
    let cluster = open(project_root)?;
    cluster
        .start()
        .map_err(DevClusterError::from)
        .map_err(failed(
            "cannot start the dev cluster; `strata dev reset` recreates it",
        ))?;
    let exists = cluster
        .psql(
            "postgres",
            "SELECT 1 FROM pg_database WHERE datname = 'strata_dev'",
        )
        .map_err(DevClusterError::from)
        .map_err(failed("cannot query the dev cluster"))?;
    if exists.trim().is_empty() {
        cluster
            .create_database(DEV_DATABASE, None)
            .map_err(DevClusterError::from)
            .map_err(failed("cannot create the dev database"))?;
    }
    // Best effort: without the marker the next command simply takes this path again.
    let _ = std::fs::write(cluster.root().join(DATABASE_READY), b"");
    Ok(cluster.url(DEV_DATABASE))
}

/// True when `url` points into this project's dev cluster.
pub fn is_dev_url(project_root: &Path, url: &str) -> bool {
    let root = dev_root(project_root);
    let encoded: String = root
        .to_string_lossy()
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    url.contains(&encoded) || url.contains(&*root.to_string_lossy())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_dir_names_never_change() {
        // Golden values: a dev cluster created by an earlier strata lives under this name.
        assert_eq!(
            fallback_dir_name(Path::new("/home/alice/shop")),
            "strata-dev-4ba7a69d2de761a3"
        );
        assert_eq!(
            fallback_dir_name(Path::new("/tmp/proj/migrations")),
            "strata-dev-6bb41fb2ec25d10d"
        );
        assert_eq!(
            fallback_dir_name(Path::new("")),
            "strata-dev-cbf29ce484222325"
        );
    }
}
