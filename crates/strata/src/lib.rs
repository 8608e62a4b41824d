//! PostgreSQL schema migrations as a library: the engine behind the `strata` command, for an
//! application that migrates its own database.
//!
//! Load a set of migrations — from a directory ([`Migrations::from_dir`]) or compiled into the
//! binary ([`embed!`]) — in any layout the `strata` command reads (golang-migrate pairs,
//! Flyway, dbmate, goose, sqitch, diesel, Prisma, plain numbered files), say which database
//! ([`Database`]), and call [`Migrator::migrate`]. The call is the CLI's `strata up`: it opens
//! its own connections (executing, lock, blocker watch), takes the migration lock, plans
//! against the history, runs the lint gate in front of anything that would lock or rewrite a
//! large table, records every step in the same transaction as the migration, and never runs an
//! applied migration twice. [`Migrator::status`] is `strata status`; [`Migrator::verify`] is
//! `strata verify` (every down undoes its up, proven on throwaway databases).
//!
//! ```no_run
//! # async fn start() -> Result<(), strata::Error> {
//! let migrations = strata::embed!("../../examples/embedded/migrations");
//! let db = strata::Database::from_url("postgres://app@localhost/app")?;
//! let migrated = strata::Migrator::new(migrations).migrate(&db).await?;
//! println!("{} migration(s) applied", migrated.applied());
//! # Ok(()) }
//! ```
//!
//! The functions are `async` and need a Tokio runtime (tokio-postgres' connections run on
//! it). The library never prints: what the CLI would say comes back in the outcomes.

mod database;
mod error;
mod migrations;
mod migrator;

pub use database::Database;
pub use error::Error;
pub use migrations::{MigrationInfo, Migrations};
pub use migrator::{
    Check, CheckOutcome, Migrated, MigrationStatus, Migrator, SetMigrated, SetStatus, SetVerified,
    Step, Verified,
};
/// A migration's state against a database's history (`applied`, `pending`, ...).
pub use strata_plan::State;

/// Embeds the migration set in a directory (relative to the crate's `Cargo.toml`) at compile
/// time, evaluating to a [`Migrations`].
///
/// The layout is detected and every checksum computed by the build; a problem in the files
/// (two migrations of one version where the layout's tool refuses that, SQL that does not
/// parse, a `BEGIN` never closed) is a compile error naming the file and line. Editing a
/// file rebuilds the crate; to rebuild when a file is added, put
/// `println!("cargo:rerun-if-changed=migrations");` in the crate's `build.rs`.
///
/// ```
/// let migrations = strata::embed!("../../examples/embedded/migrations");
/// assert_eq!(migrations.layout(), "updown");
/// assert_eq!(migrations.list().unwrap().len(), 2);
/// ```
pub use strata_macros::embed;
