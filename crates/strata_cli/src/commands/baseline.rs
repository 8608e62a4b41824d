//! `baseline V`: adopt an existing database by recording migrations as applied without running
//! them; the engine checks the target (`strata_engine::adopt::baseline_target`) and plans and
//! records it as for `up`, and `crate::run` renders it as for `up`.

use super::Io;
use crate::config::Settings;
use anyhow::Result;

/// Runs `baseline`.
pub async fn run(
    settings: &Settings,
    version: &str,
    dry_run: bool,
    io: &mut Io<'_>,
) -> Result<i32> {
    let target = strata_engine::adopt::baseline_target(settings, version)?;
    crate::run::run(settings, target, dry_run, io).await
}
