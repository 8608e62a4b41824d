//! `squash --to V`: the engine builds and proves the baseline and writes it
//! (`strata_engine::squash`); this module says what it replaces and what moves where.

use super::{exit, Io};
use crate::config::Settings;
use crate::render;
use anyhow::Result;

/// Runs `squash`.
pub async fn run(settings: &Settings, to: &str, apply: bool, io: &mut Io<'_>) -> Result<i32> {
    let mut failed_write = None;
    let prepared = {
        let out = &mut *io.out;
        let mut fallback = |why: &str| {
            if failed_write.is_none() {
                if let Err(e) = writeln!(
                    out,
                    "  note: {why}; the baseline is the squashed scripts, concatenated"
                ) {
                    failed_write = Some(e);
                }
            }
        };
        strata_engine::squash::prepare(settings, to, &mut fallback).await
    };
    if let Some(e) = failed_write {
        return Err(e.into());
    }
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
