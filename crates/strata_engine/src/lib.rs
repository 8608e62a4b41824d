//! strata's run engine, without the command line.
//!
//! Every front end — the `strata` binary today; the library facade, environments and fleets
//! next — needs the same steps: load the selected sets (files first from the file cache and
//! the set snapshot), decide which database to talk to (in one place: [`mod@database`]), connect,
//! take the migration lock, plan each set against its history (from a one-row summary when it
//! can), and refuse, before anything runs, to apply a migration another history already
//! records ([`guard`]). Those steps live here and take the database as a parameter, so one
//! process can run them against many databases. Each verb is a module here returning a typed
//! outcome (`migrate`, `status`, `verify`, `schema`, `squash`, `adopt`, `fresh`, `lint`, `validate`,
//! `renumber`, `new_migration`), with
//! throwaway databases for the verbs that run migrations to learn what they produce
//! ([`scratch`]). Rendering (text, JSON, progress) stays with the front end.
//!
//! The engine is reached through [`settings::Settings`], which a front end builds from its own
//! inputs (the CLI from flags, `STRATA_*` variables and `strata.toml`).

pub mod adopt;
pub mod adoption;
pub mod ctx;
pub mod database;
pub mod dev;
pub mod documents;
pub mod error;
pub mod fresh;
pub mod gate;
pub mod guard;
pub mod lint;
pub mod load;
pub mod migrate;
pub mod new_migration;
pub mod plan;
pub mod renumber;
pub mod schema;
pub mod scratch;
pub mod settings;
pub mod squash;
pub mod status;
pub mod validate;
pub mod verify;

pub use ctx::Ctx;
pub use database::{connect, database, lock, Database};
pub use error::EngineError;
pub use load::{
    expects_work, load_sets, load_sets_deferred, load_spec, load_while, render_placeholders,
    snapshot_hint, LoadedSet, LoaderThread,
};
pub use plan::{
    apply_step, check_sqitch_conflicts, exec_options, plan_set, plan_up, plan_with_rows,
    read_history, HistoryBasis,
};
pub use settings::{DbTarget, SetSpec, Settings};
