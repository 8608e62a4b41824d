//! A PostgreSQL cluster in a directory: initialise, start, stop, talk to it.

use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::sys::{self, UserIds};
use crate::{EphemeralError, PgBinaries};

/// The OS user that runs the server binaries when we are root.
pub(crate) const SERVER_OS_USER: &str = "postgres";

/// The database role every connection uses (created by `initdb -U postgres`,
/// trust authentication).
pub const SUPERUSER: &str = "postgres";

/// Longest usable unix socket path (`sizeof(sun_path) - 1` on Linux).
const MAX_SOCKET_PATH: usize = 107;

/// How long `pg_ctl` may wait for a start or stop, in seconds.
const PG_CTL_TIMEOUT_SECS: &str = "60";

/// Environment variables that could redirect or alter client connections.
const CLIENT_ENV_TO_CLEAR: [&str; 11] = [
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGDATABASE",
    "PGOPTIONS",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGSSLMODE",
    "PGTARGETSESSIONATTRS",
    "PGREQUIRESSL",
];

/// How to run a cluster's server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterOptions {
    /// Whether to fsync. Off (the default) is much faster and fine for
    /// throwaway data; it also turns off `synchronous_commit` and
    /// `full_page_writes`.
    pub fsync: bool,
    /// The port number. The server listens only on a unix socket in the
    /// cluster's own directory, so the port never conflicts with anything;
    /// it only names the socket file (`.s.PGSQL.<port>`). Defaults to 5432.
    pub port: u16,
    /// Further `-c name=value` server settings, applied last.
    pub extra_settings: Vec<(String, String)>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            fsync: false,
            port: 5432,
            extra_settings: Vec::new(),
        }
    }
}

/// A PostgreSQL cluster living under one root directory:
///
/// - `root/data` — the data directory,
/// - `root/run` — the unix socket directory (no TCP listener),
/// - `root/postgres.log` — the server log.
///
/// When this process is root, server-side binaries run as the `postgres` OS
/// user and the root directory is owned by it. Dropping a `Cluster` does not
/// stop the server; use [`Cluster::stop`] or [`Cluster::destroy`] (or a
/// [`TempCluster`](crate::TempCluster), which cleans up by itself).
#[derive(Debug)]
pub struct Cluster {
    bins: PgBinaries,
    root: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    log_file: PathBuf,
    opts: ClusterOptions,
    server_user: Option<UserIds>,
}

impl Cluster {
    /// Opens the cluster at `root`, or initialises a new one there
    /// (`initdb -N -A trust -U postgres -E UTF8 --locale=C --no-instructions`)
    /// if `root/data/PG_VERSION` is absent. Creates `root` if needed. Does not
    /// start the server.
    pub fn open_or_init(
        bins: &PgBinaries,
        root: &Path,
        opts: ClusterOptions,
    ) -> Result<Cluster, EphemeralError> {
        fs::create_dir_all(root).map_err(io_err("create cluster directory", root))?;
        let root = fs::canonicalize(root).map_err(io_err("resolve cluster directory", root))?;
        let cluster = Cluster {
            bins: bins.clone(),
            data_dir: root.join("data"),
            socket_dir: root.join("run"),
            log_file: root.join("postgres.log"),
            root,
            opts,
            server_user: server_user()?,
        };
        cluster.check_socket_path()?;
        fs::create_dir_all(&cluster.socket_dir)
            .map_err(io_err("create socket directory", &cluster.socket_dir))?;
        if let Some(user) = cluster.server_user {
            chown_tree(&cluster.root, user)?;
            cluster.check_reachable()?;
        }
        if !cluster.data_dir.join("PG_VERSION").is_file() {
            cluster.initdb()?;
        }
        Ok(cluster)
    }

    /// Starts the server unless it is already running (then returns `Ok`, as
    /// long as it runs with this handle's socket directory and port).
    ///
    /// Runs `pg_ctl start -w` with `listen_addresses=''` (unix socket only),
    /// `max_connections=200` and the fsync settings from [`ClusterOptions`].
    /// On failure the error includes the tail of the server log.
    pub fn start(&self) -> Result<(), EphemeralError> {
        if self.is_running() {
            return self.check_running_here();
        }
        let output = self
            .server_command("pg_ctl")
            .arg("start")
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(&self.log_file)
            .args(["-w", "-s", "-t", PG_CTL_TIMEOUT_SECS, "-o"])
            .arg(self.server_options())
            .output()
            .map_err(self.spawn_err("pg_ctl"))?;
        if output.status.success() {
            return Ok(());
        }
        // Someone else (another process sharing this cluster) may have won
        // the race to start it.
        if self.is_running() {
            return self.check_running_here();
        }
        Err(EphemeralError::StartFailed {
            data_dir: self.data_dir.clone(),
            log_file: self.log_file.clone(),
            status: output.status.to_string(),
            output: combined_output(&output),
            log_tail: self.log_tail(40),
        })
    }

    /// Stops the server (`pg_ctl stop -m fast -w`). Returns `Ok` if it was not
    /// running.
    pub fn stop(&self) -> Result<(), EphemeralError> {
        self.stop_with_mode("fast")
    }

    /// Whether the server is running (`pg_ctl status`).
    pub fn is_running(&self) -> bool {
        self.server_command("pg_ctl")
            .arg("status")
            .arg("-D")
            .arg(&self.data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// The cluster's root directory (absolute).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory holding the server's unix socket.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// The port, i.e. the number in the socket file name `.s.PGSQL.<port>`.
    pub fn port(&self) -> u16 {
        self.opts.port
    }

    /// The data directory (`root/data`).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The server log file (`root/postgres.log`).
    pub fn log_file(&self) -> &Path {
        &self.log_file
    }

    /// The binaries this cluster runs.
    pub fn binaries(&self) -> &PgBinaries {
        &self.bins
    }

    /// The URL of `database` on the cluster at `root` when its server is already up, read from
    /// the files alone (no `pg_ctl`, no `initdb` check, no ownership pass): `postmaster.pid`
    /// names a live process whose status line says `ready`, listening on `root/run` at the
    /// options' port, and that socket exists. `None` when any of that is not so; callers then
    /// take the full [`Cluster::open_or_init`] + [`Cluster::start`] path. A process id reused
    /// by something else after a crash can pass this check; connecting then fails with the
    /// socket error, and the next run takes the full path.
    pub fn url_if_running(root: &Path, database: &str, opts: &ClusterOptions) -> Option<String> {
        let root = fs::canonicalize(root).ok()?;
        let pid_file = fs::read_to_string(root.join("data").join("postmaster.pid")).ok()?;
        let lines: Vec<&str> = pid_file.lines().collect();
        let pid: u32 = lines.first()?.trim().parse().ok()?;
        let socket_dir = root.join("run");
        let listening = lines.get(3)?.trim() == opts.port.to_string()
            && Path::new(lines.get(4)?.trim()) == socket_dir
            && lines.get(7)?.trim() == "ready";
        let socket = socket_dir.join(format!(".s.PGSQL.{}", opts.port));
        if !listening || !Path::new(&format!("/proc/{pid}")).exists() || !socket.exists() {
            return None;
        }
        Some(format!(
            "postgresql://{SUPERUSER}@/{}?host={}&port={}",
            percent_encode(database.as_bytes()),
            percent_encode(socket_dir.as_os_str().as_bytes()),
            opts.port
        ))
    }

    /// A libpq-style connection URL for `database`, user `postgres`, over the
    /// unix socket: `postgresql://postgres@/DB?host=<socket dir>&port=<port>`
    /// (database and socket directory percent-encoded).
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgresql://{SUPERUSER}@/{}?host={}&port={}",
            percent_encode(database.as_bytes()),
            percent_encode(self.socket_dir.as_os_str().as_bytes()),
            self.opts.port
        )
    }

    /// Runs `sql` through `psql -X -v ON_ERROR_STOP=1 -q -A -t -c` against
    /// `database` and returns its stdout: unaligned, tuples only (so
    /// `select 1` yields `"1\n"`). On failure the error carries psql's stderr.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, EphemeralError> {
        let output = self
            .client_command("psql")
            .args(["-X", "-v", "ON_ERROR_STOP=1", "-q", "-A", "-t", "-d"])
            .arg(format!("dbname={}", conninfo_quote(database)))
            .arg("-c")
            .arg(sql)
            .output()
            .map_err(self.spawn_err("psql"))?;
        self.client_result("psql", database, output)
            .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Creates a database with the `createdb` tool, optionally from a
    /// template database.
    pub fn create_database(
        &self,
        name: &str,
        template: Option<&str>,
    ) -> Result<(), EphemeralError> {
        let mut cmd = self.client_command("createdb");
        if let Some(template) = template {
            cmd.arg("-T").arg(template);
        }
        let output = cmd.arg(name).output().map_err(self.spawn_err("createdb"))?;
        self.client_result("createdb", name, output).map(drop)
    }

    /// Drops a database with `dropdb --if-exists --force` (terminating any
    /// connections to it). Succeeds if it does not exist.
    pub fn drop_database(&self, name: &str) -> Result<(), EphemeralError> {
        let output = self
            .client_command("dropdb")
            .args(["--if-exists", "--force"])
            .arg(name)
            .output()
            .map_err(self.spawn_err("dropdb"))?;
        self.client_result("dropdb", name, output).map(drop)
    }

    /// Stops the server and deletes the root directory.
    pub fn destroy(self) -> Result<(), EphemeralError> {
        self.destroy_in_place()
    }

    /// [`Cluster::destroy`] without consuming `self` (for `Drop` impls).
    /// Falls back to an immediate shutdown if a fast one fails, and leaves the
    /// directory alone if the server still cannot be stopped.
    pub(crate) fn destroy_in_place(&self) -> Result<(), EphemeralError> {
        if let Err(err) = self.stop() {
            if self.stop_with_mode("immediate").is_err() {
                return Err(err);
            }
        }
        match fs::remove_dir_all(&self.root) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("delete cluster directory", &self.root)(e)),
        }
    }

    fn stop_with_mode(&self, mode: &str) -> Result<(), EphemeralError> {
        if !self.is_running() {
            return Ok(());
        }
        let output = self
            .server_command("pg_ctl")
            .arg("stop")
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-m", mode, "-w", "-s", "-t", PG_CTL_TIMEOUT_SECS])
            .output()
            .map_err(self.spawn_err("pg_ctl"))?;
        if output.status.success() || !self.is_running() {
            return Ok(());
        }
        Err(EphemeralError::StopFailed {
            data_dir: self.data_dir.clone(),
            status: output.status.to_string(),
            output: combined_output(&output),
        })
    }

    fn initdb(&self) -> Result<(), EphemeralError> {
        let mut cmd = self.server_command("initdb");
        cmd.arg("-D").arg(&self.data_dir).args([
            "-N",
            "-A",
            "trust",
            "-U",
            SUPERUSER,
            "-E",
            "UTF8",
            "--locale=C",
        ]);
        // --no-instructions appeared in PostgreSQL 14.
        if self.bins.major_version().is_ok_and(|v| v >= 14) {
            cmd.arg("--no-instructions");
        }
        let output = cmd.output().map_err(self.spawn_err("initdb"))?;
        if output.status.success() {
            return Ok(());
        }
        Err(EphemeralError::InitFailed {
            data_dir: self.data_dir.clone(),
            status: output.status.to_string(),
            output: combined_output(&output),
        })
    }

    /// The `-o` string for `pg_ctl start`. pg_ctl pastes it into a `/bin/sh`
    /// command line, so every value is shell-quoted.
    fn server_options(&self) -> String {
        let mut settings: Vec<(String, String)> = vec![
            ("listen_addresses".into(), String::new()),
            (
                "unix_socket_directories".into(),
                self.socket_dir.to_string_lossy().into_owned(),
            ),
            ("port".into(), self.opts.port.to_string()),
            ("max_connections".into(), "200".into()),
        ];
        if self.opts.fsync {
            settings.push(("fsync".into(), "on".into()));
        } else {
            settings.push(("fsync".into(), "off".into()));
            settings.push(("synchronous_commit".into(), "off".into()));
            settings.push(("full_page_writes".into(), "off".into()));
        }
        settings.extend(self.opts.extra_settings.iter().cloned());
        settings
            .iter()
            .map(|(name, value)| format!("-c {}", sh_quote(&format!("{name}={value}"))))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A command for a server-side binary: run as the `postgres` OS user when
    /// we are root, from the cluster root (so that it never starts in a
    /// directory it cannot read), with C messages.
    fn server_command(&self, tool: &str) -> Command {
        let mut cmd = Command::new(self.bins.tool(tool));
        cmd.current_dir(&self.root)
            .env("LC_ALL", "C")
            .env_remove("PGDATA")
            .stdin(Stdio::null());
        if let Some(user) = self.server_user {
            cmd.uid(user.uid).gid(user.gid);
        }
        cmd
    }

    /// A command for a client binary, connecting as `postgres` over the unix
    /// socket, run as the current user.
    fn client_command(&self, tool: &str) -> Command {
        let mut cmd = Command::new(self.bins.tool(tool));
        for var in CLIENT_ENV_TO_CLEAR {
            cmd.env_remove(var);
        }
        cmd.env("LC_ALL", "C")
            .env("PGCLIENTENCODING", "UTF8")
            .stdin(Stdio::null())
            .arg("-h")
            .arg(&self.socket_dir)
            .arg("-p")
            .arg(self.opts.port.to_string())
            .arg("-U")
            .arg(SUPERUSER);
        cmd
    }

    fn client_result(
        &self,
        tool: &str,
        database: &str,
        output: Output,
    ) -> Result<Output, EphemeralError> {
        if output.status.success() {
            return Ok(output);
        }
        Err(EphemeralError::ClientFailed {
            tool: tool.to_string(),
            database: database.to_string(),
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr)
                .trim_end()
                .to_string(),
            log_file: self.log_file.clone(),
        })
    }

    fn spawn_err(&self, tool: &str) -> impl FnOnce(io::Error) -> EphemeralError {
        let program = self.bins.tool(tool);
        move |source| EphemeralError::Spawn { program, source }
    }

    fn check_socket_path(&self) -> Result<(), EphemeralError> {
        let path = self.socket_dir.join(format!(".s.PGSQL.{}", self.opts.port));
        let len = path.as_os_str().len();
        if len > MAX_SOCKET_PATH {
            return Err(EphemeralError::SocketPathTooLong {
                path,
                len,
                max: MAX_SOCKET_PATH,
            });
        }
        Ok(())
    }

    /// When the server runs as another OS user, every directory above the
    /// root must be traversable by it; find the first one that is not.
    fn check_reachable(&self) -> Result<(), EphemeralError> {
        if self.server_can_enter(&self.root) {
            return Ok(());
        }
        let mut ancestors: Vec<&Path> = self.root.ancestors().collect();
        ancestors.reverse();
        let blocked = ancestors
            .into_iter()
            .find(|dir| !self.server_can_enter(dir))
            .unwrap_or(&self.root)
            .to_path_buf();
        Err(EphemeralError::RootInaccessible {
            user: SERVER_OS_USER.to_string(),
            root: self.root.clone(),
            blocked,
        })
    }

    fn server_can_enter(&self, dir: &Path) -> bool {
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", "cd -- \"$1\"", "sh"])
            .arg(dir)
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(user) = self.server_user {
            cmd.uid(user.uid).gid(user.gid);
        }
        cmd.status().is_ok_and(|s| s.success())
    }

    /// A running server must use this handle's socket directory and port,
    /// or clients would knock on the wrong door.
    fn check_running_here(&self) -> Result<(), EphemeralError> {
        let Ok(pid_file) = fs::read_to_string(self.data_dir.join("postmaster.pid")) else {
            return Ok(());
        };
        // Line 4 is the port, line 5 the first socket directory.
        let lines: Vec<&str> = pid_file.lines().collect();
        let (Some(port), Some(socket_dir)) = (lines.get(3), lines.get(4)) else {
            return Ok(());
        };
        let (port, socket_dir) = (port.trim(), socket_dir.trim());
        if port == self.opts.port.to_string() && Path::new(socket_dir) == self.socket_dir {
            return Ok(());
        }
        Err(EphemeralError::RunningElsewhere {
            data_dir: self.data_dir.clone(),
            expected_socket_dir: self.socket_dir.clone(),
            expected_port: self.opts.port,
            actual_socket_dir: socket_dir.to_string(),
            actual_port: port.to_string(),
        })
    }

    fn log_tail(&self, lines: usize) -> String {
        match fs::read(&self.log_file) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                let all: Vec<&str> = text.lines().collect();
                all[all.len().saturating_sub(lines)..].join("\n")
            }
            Err(e) => format!("(could not read the log: {e})"),
        }
    }
}

/// The OS user to run server binaries as: `Some(postgres)` when we are root,
/// `None` (the current user) otherwise.
pub(crate) fn server_user() -> Result<Option<UserIds>, EphemeralError> {
    if !sys::is_root() {
        return Ok(None);
    }
    match sys::lookup_user(SERVER_OS_USER) {
        Ok(Some(user)) => Ok(Some(user)),
        Ok(None) | Err(_) => Err(EphemeralError::ServerUserMissing {
            user: SERVER_OS_USER.to_string(),
        }),
    }
}

/// `chown -R` without following symlinks.
pub(crate) fn chown_tree(path: &Path, user: UserIds) -> Result<(), EphemeralError> {
    std::os::unix::fs::lchown(path, Some(user.uid), Some(user.gid))
        .map_err(io_err("change the owner of", path))?;
    let meta = fs::symlink_metadata(path).map_err(io_err("inspect", path))?;
    if meta.is_dir() {
        for entry in fs::read_dir(path).map_err(io_err("read directory", path))? {
            let entry = entry.map_err(io_err("read directory", path))?;
            chown_tree(&entry.path(), user)?;
        }
    }
    Ok(())
}

pub(crate) fn io_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> EphemeralError + 'a {
    move |source| EphemeralError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

fn combined_output(output: &Output) -> String {
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    text.trim_end().to_string()
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub(crate) fn percent_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Quotes a word for `/bin/sh`.
pub(crate) fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Quotes a value for a libpq `key=value` connection string.
fn conninfo_quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', r"\\").replace('\'', r"\'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding() {
        assert_eq!(percent_encode(b"/tmp/a b"), "%2Ftmp%2Fa%20b");
        assert_eq!(percent_encode(b"db_1-x.y~"), "db_1-x.y~");
    }

    #[test]
    fn shell_and_conninfo_quoting() {
        assert_eq!(sh_quote("a'b"), r"'a'\''b'");
        assert_eq!(sh_quote("listen_addresses="), "'listen_addresses='");
        assert_eq!(conninfo_quote(r"a'b\c"), r"'a\'b\\c'");
    }

    #[test]
    fn default_options() {
        let opts = ClusterOptions::default();
        assert!(!opts.fsync);
        assert_eq!(opts.port, 5432);
        assert!(opts.extra_settings.is_empty());
    }
}
