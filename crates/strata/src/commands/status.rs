//! `status`: every migration with its state; read-only (no lock, never creates the registry).

use super::{exit, Io};
use crate::app;
use crate::config::Settings;
use crate::render;
use anyhow::Result;
use serde_json::json;
use strata_pg::Registry;
use strata_plan::Target;

/// Runs `status`.
pub async fn run(settings: &Settings, check: bool, io: &mut Io<'_>) -> Result<i32> {
    let mut sets = app::load_sets_deferred(settings)?;
    let err = &mut *io.err;
    let mut say = |m: &str| {
        let _ = writeln!(err, "{m}");
    };
    let db = app::database(settings, &mut say)?;
    let session = app::connect(&db).await?;
    let registry = Registry::new(&settings.registry_schema);
    let mut docs = Vec::new();
    let mut clean = true;
    for set in &mut sets {
        let (applied, plan) =
            app::plan_set(&session, &registry, set, &Target::Status, settings).await?;
        clean &= plan.is_clean();
        // Another tool's history still in the database: say when it disagrees with strata's.
        let shared = super::adopt::shared_history(&session, set, &applied).await?;
        if settings.json {
            let mut doc = render::status_json(set, &plan);
            if let (Some(s), Some(obj)) = (&shared, doc.as_object_mut()) {
                obj.insert("shared_history".into(), s.json());
            }
            docs.push(doc);
        } else {
            render::status_text(set, &plan, io.out)?;
            if let Some(w) = shared.as_ref().and_then(|s| s.warning(&set.spec.name)) {
                writeln!(io.out, "  {w}")?;
            }
        }
    }
    if settings.json {
        writeln!(
            io.out,
            "{}",
            json!({"database": db.info.redacted(), "sets": docs})
        )?;
    }
    super::migrate::exit_without_freeing(sets);
    Ok(if check && !clean {
        exit::FINDINGS
    } else {
        exit::OK
    })
}
