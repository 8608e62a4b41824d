//! `squash --to V`: the engine builds and proves the baseline and writes it
//! (`strata_engine::squash`); this module says what it replaces and what moves where.

use super::{exit, Io};
use crate::render;
use anyhow::Result;
use strata_engine::Ctx;

/// Runs `squash`.
pub async fn run(ctx: &Ctx, to: &str, apply: bool, io: &mut Io<'_>) -> Result<i32> {
    let mut lines = render::Lines::new(&mut *io.out);
    let prepared = strata_engine::squash::prepare(ctx, to, &mut |why| {
        lines.line(format_args!(
            "  note: {why}; the baseline is the squashed scripts, concatenated"
        ))
    })
    .await;
    lines.finish()?;
    let squash = prepared.map_err(render::engine_error)?;
    writeln!(io.out, "set {}: {} migration(s) up to {} squash into {} ({} bytes); the schemas are identical ({} objects)", squash.set, squash.replaces, squash.last, squash.file.display(), squash.content.len(), squash.objects)?;
    for m in &squash.moves {
        writeln!(
            io.out,
            "  {} {} -> {}",
            if apply { "archived" } else { "would archive" },
            m.display(),
            squash.archive.display()
        )?;
    }
    if apply {
        let path = strata_engine::squash::apply(&squash)?;
        writeln!(io.out, "  wrote {}", path.display())?;
    } else {
        writeln!(
            io.out,
            "dry run: nothing was changed; run again with --apply"
        )?;
    }
    Ok(exit::OK)
}
