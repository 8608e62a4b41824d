//! The engine's steps as the commands call them. They live in `strata_engine` (loading,
//! the database, planning); this module only re-exports them, so every command reaches the
//! engine the same way.

pub use strata_engine::{
    connect, database, load_sets, load_spec, plan_set, render_placeholders, LoadedSet,
};
