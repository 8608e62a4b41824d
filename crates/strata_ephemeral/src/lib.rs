//! Throwaway PostgreSQL clusters, run from the system's own PostgreSQL
//! binaries.
//!
//! strata needs a real PostgreSQL server in two places:
//!
//! - the `strata` CLI's *embedded default*: a development cluster kept under
//!   the project's `.strata/` directory, so that `strata` works out of the box
//!   without the user provisioning a database ([`Cluster`]);
//! - the test suites: one cluster per test binary and one database per test
//!   ([`shared_cluster`], [`TestDatabase`], built on [`TempCluster`]).
//!
//! Rather than downloading or bundling PostgreSQL, this crate drives the
//! installed binaries (`initdb`, `pg_ctl`, `postgres`, `psql`, `createdb`,
//! `dropdb`; see [`PgBinaries::discover`]) with `std::process::Command`. It is
//! deliberately synchronous and free of any PostgreSQL client library:
//! callers get a connection URL ([`Cluster::url`]) and connect with whatever
//! client they use.
//!
//! Servers listen only on a unix socket inside the cluster directory (no TCP),
//! so clusters never fight over ports, and use trust authentication for the
//! `postgres` role. PostgreSQL refuses to run as root: when this process is
//! root, the server-side binaries run as the `postgres` OS user and the
//! cluster directory is handed over to it; client binaries run as the
//! current user.
//!
//! Temporary clusters clean up after themselves even when the process is
//! killed: see [`TempCluster`].

mod binaries;
mod cluster;
mod error;
mod sys;
mod temp;
mod testing;

pub use binaries::{PgBinaries, PG_BIN_ENV};
pub use cluster::{Cluster, ClusterOptions, SUPERUSER};
pub use error::EphemeralError;
pub use temp::{TempCluster, CLUSTERS_DIR_NAME, OWNER_PID_FILE};
pub use testing::{shared_cluster, TestDatabase};
