//! `renumber`: new versions for pending migrations older than applied ones (see
//! `strata_engine::renumber`). A dry run unless `--apply`.

use super::{exit, Io};
use crate::render;
use anyhow::Result;
use strata_engine::settings::DbTarget;
use strata_engine::Ctx;

/// Runs `renumber`.
pub async fn run(ctx: &Ctx, db: &DbTarget, apply: bool, io: &mut Io<'_>) -> Result<i32> {
    let settings = &ctx.settings;
    let outcome = strata_engine::renumber::renumber(ctx, db, apply).await?;
    if settings.json {
        render::print_json(io.out, &outcome)?;
        return Ok(exit::OK);
    }
    for set in &outcome.sets {
        if set.renames.is_empty() {
            writeln!(
                io.out,
                "set {}: nothing to renumber (no pending migration is older than an applied one)",
                set.name
            )?;
        }
        for rename in &set.renames {
            writeln!(
                io.out,
                "  {} {} -> {}",
                if apply { "renamed" } else { "would rename" },
                rename.from.display(),
                rename.to.display()
            )?;
        }
    }
    if !apply {
        writeln!(
            io.out,
            "dry run: nothing was renamed; run again with --apply"
        )?;
    }
    Ok(exit::OK)
}
