//! The engine's steps as the commands call them. They live in `strata_engine` (loading,
//! the database, planning); this module only re-exports them, so every command reaches the
//! engine the same way.

pub use strata_engine::{apply_step, connect, database, load_sets, lock, read_history, LoadedSet};

use strata_model::Migration;
use strata_pg::{Registry, Session};
use strata_plan::{Plan, Step};

/// Runs `steps` on a throwaway database (`verify`, `drift`, `squash`, `schema diff` of a
/// directory): nobody else uses it, so there is no migration lock, no lock timeout and no
/// progress output; a failure comes back rendered against its file. `set_dir` is where
/// `\copy` meta-commands find their files (see `strata_pg::ExecOptions::set_dir`).
pub async fn run_on_scratch(
    session: &mut Session,
    registry: &Registry,
    migrations: &[Migration],
    set_dir: &std::path::Path,
    set_name: &str,
    statement_timeout: &str,
    steps: Vec<Step>,
) -> Result<(), String> {
    // A code migration only its own tool can run: say so rather than feed it to PostgreSQL.
    for step in &steps {
        if let Step::Apply { index, .. } | Step::Revert { index, .. } = step {
            let m = &migrations[*index];
            if let Some(language) = m.code_language() {
                return Err(format!(
                    "migration {} ({}) is a {language} migration, which strata cannot run on a throwaway database; this command needs every migration it replays to be SQL",
                    m.id.registry_key(),
                    m.path().display()
                ));
            }
        }
    }
    let opts = strata_pg::ExecOptions {
        set_name: set_name.to_owned(),
        lock_timeout: "0".into(),
        statement_timeout: statement_timeout.to_owned(),
        set_dir: set_dir.to_owned(),
        ..Default::default()
    };
    let plan = Plan {
        entries: Vec::new(),
        steps,
        findings: Vec::new(),
    };
    strata_pg::execute(
        session,
        registry,
        migrations,
        &plan,
        &opts,
        None,
        &mut strata_pg::Silent,
    )
    .await
    .map(drop)
    .map_err(|e| crate::render::exec_error_text(&e))
}

/// Reads the snapshot of a connected database, without strata's registry.
pub async fn snapshot_of(
    session: &Session,
    settings: &strata_engine::Settings,
) -> anyhow::Result<strata_schema::Snapshot> {
    Ok(strata_schema::Snapshot::read(
        &session.client,
        std::slice::from_ref(&settings.registry_schema),
    )
    .await?)
}
