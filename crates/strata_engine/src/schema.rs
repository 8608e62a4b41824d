//! `schema dump`, `schema diff` and `stats`: what a database's schema is, from the catalogs.
//!
//! Every verb that compares schemas (these, `verify`, `drift`, `squash`) reads them the same
//! way, [`snapshot_of`]: a catalog snapshot without strata's own registry, which is
//! bookkeeping, not the user's schema (two databases with the same objects but different
//! histories have the same schema).

use crate::ctx::Ctx;
use crate::database;
use crate::error::EngineError;
use crate::plan::apply_step;
use crate::scratch::{self, ReplaySet, Scratch};
use crate::settings::DbTarget;
use crate::settings::Settings;
use serde::Serialize;
use std::path::Path;
use strata_pg::{Registry, Session};
use strata_schema::{Difference, Snapshot, Stats};

/// Reads the snapshot of a connected database, without strata's registry.
pub async fn snapshot_of(session: &Session, settings: &Settings) -> Result<Snapshot, EngineError> {
    Ok(session
        .snapshot(std::slice::from_ref(&settings.registry_schema))
        .await?)
}

/// Connects to the configured database. `say` receives lines about the run (the dev cluster).
async fn connect(ctx: &Ctx, db: &DbTarget) -> Result<Session, EngineError> {
    let db = database::database(db, &ctx.settings, &mut ctx.notes())?;
    database::connect(&db).await
}

/// `strata schema dump`: the configured database's schema.
pub async fn dump(ctx: &Ctx, db: &DbTarget) -> Result<Snapshot, EngineError> {
    let session = connect(ctx, db).await?;
    snapshot_of(&session, &ctx.settings).await
}

/// `strata stats`: how many objects of each kind the configured database's schema has.
pub async fn stats(ctx: &Ctx, db: &DbTarget) -> Result<Stats, EngineError> {
    Ok(dump(ctx, db).await?.stats())
}

/// Applies every migration of the directory `dir` (its layout detected) to a new scratch
/// database and returns the schema they produce.
pub async fn snapshot_of_dir(
    dir: &Path,
    scratch: &Scratch,
    settings: &Settings,
) -> Result<Snapshot, EngineError> {
    let set = strata_source::load_dir(dir, None)?;
    scratch::with_database(scratch, "dir", |info| async move {
        let mut session = Session::connect(&info).await?;
        let registry = Registry::new(&settings.registry_schema);
        registry.ensure(&session).await?;
        let steps = (0..set.migrations.len())
            .map(|i| apply_step(&set.migrations, i))
            .collect();
        let name = "scratch";
        let replayed = ReplaySet {
            migrations: &set.migrations,
            dir,
            name,
            statement_timeout: "0",
        };
        scratch::replay(&mut session, &registry, replayed, steps)
            .await
            .map_err(|source| EngineError::Replay {
                set: name.to_owned(),
                source,
            })?;
        snapshot_of(&session, settings).await
    })
    .await
}

/// What `schema diff` found.
#[derive(Debug, Serialize)]
pub struct SchemaDiff {
    /// True when the two schemas are the same.
    pub identical: bool,
    /// From the first schema to the second (+ only in the second, - only in the first).
    pub differences: Vec<Difference>,
    /// How many objects the first schema has.
    #[serde(skip)]
    pub objects: usize,
}

/// `strata schema diff A B`: each side is a saved snapshot (a file, as `schema dump --format
/// json` writes it), a migration directory (applied to a throwaway database, on
/// `scratch_url`'s server or a cluster of strata's own), `db` for the configured database, or
/// a database URL. `say` receives lines about the run (the dev cluster).
pub async fn diff(
    ctx: &Ctx,
    db: &DbTarget,
    a: &str,
    b: &str,
    scratch_url: Option<&str>,
) -> Result<SchemaDiff, EngineError> {
    let settings = &ctx.settings;
    let mut scratch = None;
    let mut sides = Vec::new();
    for side in [a, b] {
        let path = Path::new(side);
        let snap = if path.is_file() {
            let text = std::fs::read_to_string(path).map_err(|source| {
                EngineError::SnapshotUnreadable {
                    side: side.to_owned(),
                    source,
                }
            })?;
            Snapshot::from_json(&text).map_err(|source| EngineError::NotASnapshot {
                side: side.to_owned(),
                source,
            })?
        } else if path.is_dir() {
            // One cluster for both sides, started only when a side needs it.
            let scratch = match &mut scratch {
                Some(s) => s,
                None => scratch.insert(Scratch::new(scratch_url)?),
            };
            snapshot_of_dir(path, scratch, settings).await?
        } else if side == "db" {
            dump(ctx, db).await?
        } else {
            let info = database::conninfo_of_url(side, &database::process_env)?;
            let session = Session::connect(&info).await?;
            snapshot_of(&session, settings).await?
        };
        sides.push(snap);
    }
    let differences = sides[0].diff(&sides[1]);
    Ok(SchemaDiff {
        identical: differences.is_empty(),
        differences,
        objects: sides[0].objects.len(),
    })
}
