//! The engine's steps as the commands call them. They live in `strata_engine` (loading,
//! the database, planning); this module only re-exports them, so every command reaches the
//! engine the same way.

pub use strata_engine::{
    apply_step, connect, database, load_sets, load_spec, lock, plan_set, read_history,
    render_placeholders, LoadedSet,
};

use strata_model::Migration;
use strata_pg::{Registry, Session};
use strata_plan::Step;

pub use strata_engine::schema::snapshot_of;

/// Runs `steps` on a throwaway database (see `strata_engine::scratch::replay`); a failure comes
/// back rendered against its file.
pub async fn run_on_scratch(
    session: &mut Session,
    registry: &Registry,
    migrations: &[Migration],
    set_dir: &std::path::Path,
    set_name: &str,
    statement_timeout: &str,
    steps: Vec<Step>,
) -> Result<(), String> {
    let set = strata_engine::scratch::ReplaySet {
        migrations,
        dir: set_dir,
        name: set_name,
        statement_timeout,
    };
    strata_engine::scratch::replay(session, registry, set, steps)
        .await
        .map_err(|e| crate::render::replay_error_text(&e))
}
