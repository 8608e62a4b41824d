//! Self-cleaning clusters in the temp directory.

use std::fs;
use std::io::Write;
use std::ops::Deref;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{self, Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::cluster::{io_err, server_user};
use crate::sys::{self, UserIds};
use crate::{Cluster, ClusterOptions, EphemeralError, PgBinaries};

/// Name of the directory under [`std::env::temp_dir`] holding temp clusters.
pub const CLUSTERS_DIR_NAME: &str = "strata-clusters";

/// File in each temp cluster root that records the owning process id.
pub const OWNER_PID_FILE: &str = "owner.pid";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The watchdog script. `$1` = pg_ctl, `$2` = data dir, `$3` = cluster root.
///
/// It blocks reading its stdin, a pipe whose write end only the owning process
/// holds. The kernel closes that end when the owner exits for any reason
/// (including SIGKILL), so `read` returns; unless the owner sent `disarm`
/// first (after cleaning up itself), the watchdog stops the server and
/// deletes the root. It ignores SIGHUP/SIGINT so that Ctrl-C on the test run
/// or a closed terminal does not kill it before it has done its job.
const WATCHDOG_SCRIPT: &str = r#"trap '' HUP INT
IFS= read -r line
if [ "$line" = disarm ]; then exit 0; fi
"$1" stop -D "$2" -m immediate -w -t 30 >/dev/null 2>&1
rm -rf -- "$3"
"#;

/// A cluster in a fresh directory
/// `temp_dir()/strata-clusters/<pid>-<counter>-<nanos>`, started on creation
/// and destroyed (server stopped, directory deleted) on drop.
///
/// If the process dies without running `Drop` (a crashed or killed test
/// binary, or a `static` that is never dropped), a detached watchdog process
/// started with the cluster stops the server and deletes the directory.
/// Creating a `TempCluster` also sweeps away leftovers of dead processes in
/// `temp_dir()/strata-clusters` (judged by each directory's `owner.pid`).
#[derive(Debug)]
pub struct TempCluster {
    cluster: Cluster,
    watchdog: Mutex<Option<Child>>,
    cleaned_up: bool,
}

impl TempCluster {
    /// Discovers the binaries ([`PgBinaries::discover`]), then
    /// [`TempCluster::start_with`].
    pub fn start(opts: ClusterOptions) -> Result<TempCluster, EphemeralError> {
        TempCluster::start_with(&PgBinaries::discover()?, opts)
    }

    /// Initialises and starts a new temp cluster with the given binaries.
    pub fn start_with(
        bins: &PgBinaries,
        opts: ClusterOptions,
    ) -> Result<TempCluster, EphemeralError> {
        let base = clusters_base_dir()?;
        sweep_stale(&base, bins);

        let root = base.join(format!(
            "{}-{}-{}",
            process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        fs::create_dir(&root).map_err(io_err("create temporary cluster directory", &root))?;
        let owner_file = root.join(OWNER_PID_FILE);
        if let Err(e) = fs::write(&owner_file, format!("{}\n", process::id())) {
            let _ = fs::remove_dir_all(&root);
            return Err(io_err("write", &owner_file)(e));
        }

        let cluster = match Cluster::open_or_init(bins, &root, opts) {
            Ok(cluster) => cluster,
            Err(e) => {
                let _ = fs::remove_dir_all(&root);
                return Err(e);
            }
        };
        // The watchdog is armed before the server starts, so that a crash
        // at any later point is covered.
        let watchdog = match spawn_watchdog(&cluster) {
            Ok(child) => child,
            Err(e) => {
                let _ = cluster.destroy_in_place();
                return Err(e);
            }
        };
        let temp = TempCluster {
            cluster,
            watchdog: Mutex::new(Some(watchdog)),
            cleaned_up: false,
        };
        temp.cluster.start()?; // on error, Drop cleans up
        Ok(temp)
    }

    /// The underlying cluster (also reachable through `Deref`).
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// Destroys the cluster now and reports errors, instead of printing them
    /// from `Drop`.
    pub fn destroy(mut self) -> Result<(), EphemeralError> {
        self.clean_up()
    }

    fn clean_up(&mut self) -> Result<(), EphemeralError> {
        if self.cleaned_up {
            return Ok(());
        }
        self.cleaned_up = true;
        let result = self.cluster.destroy_in_place();
        let watchdog = self
            .watchdog
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(mut child) = watchdog {
            if let Some(mut stdin) = child.stdin.take() {
                if result.is_ok() {
                    let _ = stdin.write_all(b"disarm\n");
                }
                // Dropping stdin closes the pipe. If we failed to clean up,
                // the watchdog sees EOF without `disarm` and tries itself.
            }
            if result.is_ok() {
                let _ = child.wait();
            }
        }
        result
    }
}

impl Deref for TempCluster {
    type Target = Cluster;

    fn deref(&self) -> &Cluster {
        &self.cluster
    }
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        if let Err(e) = self.clean_up() {
            eprintln!(
                "strata_ephemeral: could not clean up the temporary cluster at {}: {e}",
                self.cluster.root().display()
            );
        }
    }
}

/// `temp_dir()/strata-clusters`, created world-writable and sticky (like
/// `/tmp`) so that clusters owned by different users (root's are owned by
/// `postgres`) can coexist and their watchdogs can delete them.
fn clusters_base_dir() -> Result<PathBuf, EphemeralError> {
    let base = std::env::temp_dir().join(CLUSTERS_DIR_NAME);
    fs::create_dir_all(&base).map_err(io_err("create directory", &base))?;
    if let Ok(meta) = fs::metadata(&base) {
        if meta.permissions().mode() & 0o7777 != 0o1777 {
            // Best effort: only the owner (or root) may change it.
            let _ = fs::set_permissions(&base, fs::Permissions::from_mode(0o1777));
        }
    }
    Ok(base)
}

fn spawn_watchdog(cluster: &Cluster) -> Result<Child, EphemeralError> {
    let sh = Path::new("/bin/sh");
    let mut cmd = Command::new(sh);
    cmd.arg("-c")
        .arg(WATCHDOG_SCRIPT)
        .arg("strata-watchdog")
        .arg(cluster.binaries().tool("pg_ctl"))
        .arg(cluster.data_dir())
        .arg(cluster.root())
        .current_dir("/")
        .env("LC_ALL", "C")
        .env_remove("PGDATA")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Own process group: not hit by Ctrl-C / group kills aimed at us.
        .process_group(0);
    // Run the whole watchdog as the server's OS user: pg_ctl then runs as
    // the right user, and the root (owned by it) can be deleted.
    if let Some(UserIds { uid, gid }) = server_user()? {
        cmd.uid(uid).gid(gid);
    }
    cmd.spawn().map_err(|source| EphemeralError::Spawn {
        program: sh.to_path_buf(),
        source,
    })
}

/// Deletes temp clusters whose owning process is gone (stopping their server
/// first). Best effort: errors are ignored, since another process or a
/// watchdog may be cleaning up the same directory concurrently.
fn sweep_stale(base: &Path, bins: &PgBinaries) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    let me = process::id();
    for entry in entries.flatten() {
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let path = entry.path();
        let Some(owner) = owner_pid(&path) else {
            continue;
        };
        if owner == me || sys::process_alive(owner) {
            continue;
        }
        let data_dir = path.join("data");
        if data_dir.join("postmaster.pid").exists() {
            let mut cmd = Command::new(bins.tool("pg_ctl"));
            cmd.arg("stop")
                .arg("-D")
                .arg(&data_dir)
                .args(["-m", "immediate", "-w", "-t", "30"])
                .current_dir("/")
                .env("LC_ALL", "C")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            if let Ok(Some(UserIds { uid, gid })) = server_user() {
                cmd.uid(uid).gid(gid);
            }
            let _ = cmd.status();
        }
        let _ = fs::remove_dir_all(&path);
    }
}

/// The owner pid from `owner.pid`, or else from the `<pid>-...` directory
/// name (covers a crash between creating the directory and writing the file).
fn owner_pid(dir: &Path) -> Option<u32> {
    if let Ok(text) = fs::read_to_string(dir.join(OWNER_PID_FILE)) {
        if let Ok(pid) = text.trim().parse() {
            return Some(pid);
        }
    }
    dir.file_name()?.to_str()?.split('-').next()?.parse().ok()
}
