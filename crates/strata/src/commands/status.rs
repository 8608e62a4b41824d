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
    let err = &mut *io.err;
    let mut say = |m: &str| {
        let _ = writeln!(err, "{m}");
    };
    let registry = Registry::new(&settings.registry_schema);
    // The histories are read (pipelined, one round trip) while the files load.
    let (mut sets, (db, session, histories), _loader) = app::load_while(settings, async {
        let db = app::database(settings, &mut say)?;
        let session = app::connect(&db).await?;
        let histories =
            futures_util::future::try_join_all(settings.sets.iter().map(|spec| async {
                let (rows, tools) = tokio::join!(
                    app::read_history(&session, &registry, &spec.name),
                    strata_pg::adopt::detect(&session.client, spec.schema.as_deref(), &registry)
                );
                Ok::<_, anyhow::Error>((rows?, tools?))
            }))
            .await?;
        Ok::<_, anyhow::Error>((db, session, histories))
    })
    .await?;
    let mut docs = Vec::new();
    let mut clean = true;
    let mut finished = Vec::new();
    for (set, (applied, tools)) in sets.iter_mut().zip(histories) {
        let plan = app::plan_with_rows(
            &session,
            &registry,
            set,
            &Target::Status,
            settings,
            &applied,
        )
        .await?;
        clean &= plan.is_clean();
        // Another tool's history still in the database: say when it disagrees with strata's.
        let shared = super::adopt::shared_history(&session, set, &applied, &tools).await?;
        // No history under this set's key, but under another: say what `up` will do about it.
        let others = if applied.is_empty() && !set.migrations().is_empty() {
            strata_engine::guard::other_histories(&session, &registry, set).await?
        } else {
            Vec::new()
        };
        let elsewhere = other_histories_note(settings, set, &others);
        if settings.json {
            let mut doc = render::status_json(set, &plan);
            if let Some(obj) = doc.as_object_mut() {
                if let Some(s) = &shared {
                    obj.insert("shared_history".into(), s.json());
                }
                if !others.is_empty() {
                    let list: Vec<_> = others
                        .iter()
                        .map(|o| json!({"set": o.set, "rows": o.rows, "matching": o.matching}))
                        .collect();
                    obj.insert("other_histories".into(), json!(list));
                }
            }
            docs.push(doc);
        } else {
            render::status_text(set, &plan, io.out)?;
            if let Some(w) = shared.as_ref().and_then(|s| s.warning(&set.spec.name)) {
                writeln!(io.out, "  {w}")?;
            }
            if let Some(note) = elsewhere {
                writeln!(io.out, "  {note}")?;
            }
        }
        finished.push((applied, plan));
    }
    if settings.json {
        writeln!(
            io.out,
            "{}",
            json!({"database": db.info.redacted(), "sets": docs})
        )?;
    }
    super::migrate::exit_without_freeing((sets, finished));
    Ok(if check && !clean {
        exit::FINDINGS
    } else {
        exit::OK
    })
}

/// What `status` says about other strata histories that record a history-less set's files.
fn other_histories_note(
    settings: &Settings,
    set: &app::LoadedSet,
    others: &[strata_plan::OtherHistory],
) -> Option<String> {
    match strata_plan::identity_of(set.spec.named, &settings.configured_sets, others) {
        strata_plan::Identity::Fresh => None,
        strata_plan::Identity::Move { from, rows } => Some(format!(
            "note: these migrations are recorded as set `{from}` ({rows} row(s), all matching these files; an older strata keyed unnamed sets by their path): the next `strata up` takes that history over and runs none of them again"
        )),
        strata_plan::Identity::Refuse { candidates } => Some(format!(
            "warning: other histories record these migrations: {}; `strata up` refuses until you choose: `strata adopt --from-set {} --apply` if one is this set's, or `strata up --ignore-foreign` if this set is separate",
            strata_engine::guard::describe(&candidates),
            candidates[0].set
        )),
    }
}
