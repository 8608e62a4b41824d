//! `status`: every migration with its state; read-only (no lock, never creates the registry).

use super::{exit, Io};
use crate::config::Settings;
use crate::render;
use anyhow::Result;
use strata_engine::documents::{
    OtherHistoryDocument, SetStatusDocument, SharedHistoryDocument, StatusDocument,
};
use strata_engine::settings::DbTarget;
use strata_engine::Ctx;

/// Runs `status`.
pub async fn run(ctx: &Ctx, db: &DbTarget, check: bool, io: &mut Io<'_>) -> Result<i32> {
    let settings = &ctx.settings;
    let status = strata_engine::status::status(ctx, db).await?;
    let clean = status.is_clean();
    let mut docs = Vec::new();
    for (set, s) in status.sets.iter().zip(&status.statuses) {
        // No history under this set's key, but under another: say what `up` will do about it.
        let elsewhere = other_histories_note(settings, set, &s.others);
        if settings.json {
            let mut doc = SetStatusDocument::new(set, &s.plan);
            doc.shared_history = s.shared.as_ref().map(SharedHistoryDocument::from);
            doc.other_histories = s.others.iter().map(OtherHistoryDocument::from).collect();
            docs.push(doc);
        } else {
            render::status_text(set, &s.plan, io.out)?;
            // Another tool's history still in the database: say when it disagrees with strata's.
            if let Some(w) = s.shared.as_ref().and_then(|h| h.warning(&set.spec.name)) {
                writeln!(io.out, "  {w}")?;
            }
            if let Some(note) = elsewhere {
                writeln!(io.out, "  {note}")?;
            }
        }
    }
    if settings.json {
        render::print_json(
            io.out,
            &StatusDocument {
                database: status.db.info.redacted(),
                sets: docs,
            },
        )?;
    }
    let strata_engine::status::Status {
        sets,
        statuses,
        loader,
        ..
    } = status;
    render::exit_without_freeing((sets, statuses));
    drop(loader);
    Ok(if check && !clean {
        exit::FINDINGS
    } else {
        exit::OK
    })
}

/// What `status` says about other strata histories that record a history-less set's files.
fn other_histories_note(
    settings: &Settings,
    set: &strata_engine::LoadedSet,
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
