//! The crate's error type.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while finding PostgreSQL binaries or managing
/// a throwaway cluster. Every message says what to do next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EphemeralError {
    /// No directory with `initdb`, `pg_ctl` and `postgres` was found.
    #[error(
        "no PostgreSQL server binaries found (looked in {}); install them with \
         `apt-get install -y postgresql` or set STRATA_PG_BIN to the directory containing initdb",
        searched.join(", ")
    )]
    BinariesNotFound {
        /// Human-readable descriptions of every place that was checked.
        searched: Vec<String>,
    },

    /// `STRATA_PG_BIN` is set but does not point at PostgreSQL's bin directory.
    #[error(
        "STRATA_PG_BIN is set to {}, but that directory does not contain initdb, pg_ctl and postgres; \
         point it at PostgreSQL's bin directory (e.g. /usr/lib/postgresql/15/bin) or unset it",
        path.display()
    )]
    InvalidPgBinEnv {
        /// The value of `STRATA_PG_BIN`.
        path: PathBuf,
    },

    /// Running as root, but the OS user the server must run as does not exist.
    #[error(
        "running as root, but there is no `{user}` OS user to run the PostgreSQL server as \
         (PostgreSQL refuses to run as root); create it with `useradd --system --user-group {user}` \
         (installing the `postgresql` package does this) or run strata as an unprivileged user"
    )]
    ServerUserMissing {
        /// The user name that was looked up.
        user: String,
    },

    /// The `postgres` OS user cannot reach the cluster directory because a
    /// parent directory is not traversable for it.
    #[error(
        "the `{user}` OS user (which runs the server because we are root) cannot enter {}, \
         so it cannot use the cluster at {}; move the cluster to a directory it can reach, \
         or allow traversal with `chmod o+x {}`",
        blocked.display(), root.display(), blocked.display()
    )]
    RootInaccessible {
        /// The OS user the server runs as.
        user: String,
        /// The cluster root directory.
        root: PathBuf,
        /// The first directory on the way to `root` that the user cannot enter.
        blocked: PathBuf,
    },

    /// The unix socket path would exceed the kernel's `sun_path` limit.
    #[error(
        "the PostgreSQL socket path {} is {len} bytes, over the {max}-byte limit for unix sockets; \
         put the cluster in a directory with a shorter path",
        path.display()
    )]
    SocketPathTooLong {
        /// The full socket file path.
        path: PathBuf,
        /// Its length in bytes.
        len: usize,
        /// The maximum allowed length in bytes.
        max: usize,
    },

    /// A filesystem operation failed.
    #[error("could not {action} {}: {source}; check that the path exists and is writable", path.display())]
    Io {
        /// What was being attempted, e.g. "create directory".
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },

    /// A PostgreSQL program could not be executed at all.
    #[error(
        "could not run {}: {source}; check the PostgreSQL installation or set STRATA_PG_BIN",
        program.display()
    )]
    Spawn {
        /// The program that failed to start.
        program: PathBuf,
        /// The underlying error.
        source: io::Error,
    },

    /// `postgres --version` printed something we could not parse.
    #[error(
        "could not read the PostgreSQL major version from `{} --version` (it printed {output:?}); \
         check the installation or point STRATA_PG_BIN at a working one",
        program.display()
    )]
    VersionUnparseable {
        /// The `postgres` binary.
        program: PathBuf,
        /// What it printed.
        output: String,
    },

    /// `initdb` failed.
    #[error(
        "initdb failed for {} ({status}):\n{output}\nhint: if the directory holds leftovers of an \
         interrupted run, delete it and try again",
        data_dir.display()
    )]
    InitFailed {
        /// The data directory being initialised.
        data_dir: PathBuf,
        /// The exit status.
        status: String,
        /// initdb's stdout and stderr.
        output: String,
    },

    /// The server did not start.
    #[error(
        "PostgreSQL did not start for data directory {} ({status}):\n{output}\n\
         --- last lines of {} ---\n{log_tail}\n---\nhint: fix the problem shown in the log, \
         or delete the cluster directory to start from scratch",
        data_dir.display(), log_file.display()
    )]
    StartFailed {
        /// The cluster's data directory.
        data_dir: PathBuf,
        /// The server log file.
        log_file: PathBuf,
        /// pg_ctl's exit status.
        status: String,
        /// pg_ctl's stdout and stderr.
        output: String,
        /// The last lines of the server log.
        log_tail: String,
    },

    /// The server is already running, but not where this handle expects it.
    #[error(
        "the cluster in {} is already running with socket directory {actual_socket_dir} and port {actual_port}, \
         not {} and port {expected_port}; stop it with `pg_ctl stop -D {}` and try again",
        data_dir.display(), expected_socket_dir.display(), data_dir.display()
    )]
    RunningElsewhere {
        /// The cluster's data directory.
        data_dir: PathBuf,
        /// The socket directory this handle uses.
        expected_socket_dir: PathBuf,
        /// The port this handle uses.
        expected_port: u16,
        /// The socket directory recorded in `postmaster.pid`.
        actual_socket_dir: String,
        /// The port recorded in `postmaster.pid`.
        actual_port: String,
    },

    /// The server did not stop.
    #[error(
        "could not stop the PostgreSQL server for {} ({status}):\n{output}\n\
         hint: stop it by hand with `pg_ctl stop -D {} -m immediate`",
        data_dir.display(), data_dir.display()
    )]
    StopFailed {
        /// The cluster's data directory.
        data_dir: PathBuf,
        /// pg_ctl's exit status.
        status: String,
        /// pg_ctl's stdout and stderr.
        output: String,
    },

    /// A client program (`psql`, `createdb`, `dropdb`) failed.
    #[error(
        "{tool} on database `{database}` failed ({status}):\n{stderr}\n\
         hint: check the SQL / database name above; the server log is {}",
        log_file.display()
    )]
    ClientFailed {
        /// The client program, e.g. `psql`.
        tool: String,
        /// The database it was working on.
        database: String,
        /// Its exit status.
        status: String,
        /// Its stderr.
        stderr: String,
        /// The cluster's server log, for more detail.
        log_file: PathBuf,
    },
}
