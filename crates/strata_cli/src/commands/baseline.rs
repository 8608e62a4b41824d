//! `baseline V`: adopt an existing database by recording migrations as applied without running
//! them; the engine checks the target (`strata_engine::adopt::baseline_target`) and plans and
//! records it as for `up`, and `crate::run` renders it as for `up`.

use super::Io;
use anyhow::Result;
use strata_engine::settings::DbTarget;
use strata_engine::Ctx;

/// Runs `baseline`.
pub async fn run(
    ctx: &Ctx,
    db: &DbTarget,
    version: &str,
    dry_run: bool,
    io: &mut Io<'_>,
) -> Result<i32> {
    let target = strata_engine::adopt::baseline_target(&ctx.settings, version)?;
    crate::run::run(ctx, db, target, dry_run, io).await
}
