//! `renumber`: new versions for pending migrations older than applied ones (see
//! `strata_engine::renumber`). A dry run unless `--apply`.

use super::{exit, Io};
use crate::config::Settings;
use crate::render;
use anyhow::Result;

/// Runs `renumber`.
pub async fn run(settings: &Settings, apply: bool, io: &mut Io<'_>) -> Result<i32> {
    let outcome = {
        let err = &mut *io.err;
        let mut say = |m: &str| {
            let _ = writeln!(err, "{m}");
        };
        strata_engine::renumber::renumber(settings, apply, &mut say).await?
    };
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
