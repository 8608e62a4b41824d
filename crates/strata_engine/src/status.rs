//! `status`: every set's migrations with their state, read-only (no lock, never creates the
//! registry), with what else the database holds about them: another tool's history that
//! disagrees with strata's, and other strata histories that record a history-less set's files.

use crate::adoption::{shared_history, SharedHistory};
use crate::ctx::Ctx;
use crate::database::{self, Database};
use crate::error::EngineError;
use crate::load::{self, LoadedSet, LoaderThread};
use crate::plan;
use crate::settings::DbTarget;
use strata_model::AppliedMigration;
use strata_pg::Registry;
use strata_plan::{OtherHistory, Plan, Target};

/// One set's status.
pub struct SetStatus {
    /// Its history rows.
    pub applied: Vec<AppliedMigration>,
    /// Every migration with its state (the [`Target::Status`] plan).
    pub plan: Plan,
    /// Another tool's history still in the database, compared with strata's.
    pub shared: Option<SharedHistory>,
    /// Other strata histories that record this set's files, when it has none of its own.
    pub others: Vec<OtherHistory>,
}

/// Every selected set's status.
pub struct Status {
    /// The database read.
    pub db: Database,
    /// The sets, in order.
    pub sets: Vec<LoadedSet>,
    /// Their statuses, in the same order.
    pub statuses: Vec<SetStatus>,
    /// The thread still writing the file cache: dropping it waits for the writes.
    pub loader: LoaderThread,
}

impl Status {
    /// True when every set is clean: nothing pending, modified, missing or part-way.
    pub fn is_clean(&self) -> bool {
        self.statuses.iter().all(|s| s.plan.is_clean())
    }
}

/// Reads every selected set's status. The histories are read (pipelined, one round trip)
/// while the files load. `say` receives lines about the run (the dev cluster).
pub async fn status(ctx: &Ctx, db: &DbTarget) -> Result<Status, EngineError> {
    let settings = &ctx.settings;
    let say: &mut (dyn FnMut(&str) + Send) = &mut ctx.notes();
    let registry = Registry::new(&settings.registry_schema);
    let (mut sets, (db, session, histories), loader) = load::load_while(settings, db, async {
        let db = database::database(db, settings, &mut *say)?;
        let session = database::connect(&db).await?;
        let histories =
            futures_util::future::try_join_all(settings.sets.iter().map(|spec| async {
                let (rows, tools) = tokio::join!(
                    plan::read_history(&session, &registry, &spec.name),
                    strata_pg::adopt::detect(&session, spec.schema.as_deref(), &registry)
                );
                Ok::<_, EngineError>((rows?, tools?))
            }))
            .await?;
        Ok::<_, EngineError>((db, session, histories))
    })
    .await?;
    let mut statuses = Vec::with_capacity(sets.len());
    for (set, (applied, tools)) in sets.iter_mut().zip(histories) {
        let plan = plan::plan_with_rows(
            &session,
            &registry,
            set,
            &Target::Status,
            settings,
            &applied,
        )
        .await?;
        let shared = shared_history(&session, set, &applied, &tools).await?;
        let others = if applied.is_empty() && !set.migrations().is_empty() {
            crate::guard::other_histories(&session, &registry, set).await?
        } else {
            Vec::new()
        };
        statuses.push(SetStatus {
            applied,
            plan,
            shared,
            others,
        });
    }
    Ok(Status {
        db,
        sets,
        statuses,
        loader,
    })
}
