//! The only strata crate that talks to PostgreSQL.
//!
//! It resolves where to connect ([`conn`]), holds the migration lock ([`lock`]), owns the
//! registry schema ([`registry`]) and executes plans ([`exec`]). Everything it decides was
//! decided before, by the pure planner; this crate only carries it out and reports precisely
//! what happened, down to the file, line and column of a failing statement.

pub mod adopt;
pub mod conn;
mod conninfo;
mod der;
pub mod estimates;
pub mod exec;
pub mod ident;
pub mod lock;
mod meta;
pub mod registry;
pub mod session;
mod tls;
pub mod who;

pub use conn::{redact_url, scrub, secrets_in, ConnInfo, ConnectError, SslMode};
pub use exec::{execute, ExecError, ExecOptions, Failure, Reporter, Silent, StepDone};
pub use ident::quote_ident;
pub use lock::{LockError, LockHolder, MigrationLock};
pub use registry::{Registry, RegistryError};
pub use session::{Notice, Session};
