//! `baseline V`: adopt an existing database by recording migrations as applied without running
//! them; the same planner and executor as `up`.

use super::Io;
use crate::config::Settings;
use anyhow::Result;
use strata_plan::Target;

/// Runs `baseline`.
pub async fn run(
    settings: &Settings,
    version: &str,
    dry_run: bool,
    io: &mut Io<'_>,
) -> Result<i32> {
    if settings.sets.len() > 1 {
        anyhow::bail!("baseline applies to one set; choose it with --set NAME");
    }
    crate::run::run(settings, Target::Baseline(version.to_owned()), dry_run, io).await
}
