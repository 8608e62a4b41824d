//! `new NAME`: the next migration's file(s), in the set's layout and version style (see
//! `strata_engine::new_migration`).

use super::{exit, Io};
use crate::config::Settings;
use crate::render;
use anyhow::Result;

/// Runs `new`.
pub fn run(settings: &Settings, name: &str, io: &mut Io<'_>) -> Result<i32> {
    let [spec] = settings.sets.as_slice() else {
        anyhow::bail!(
            "`strata new` creates a migration in one set; choose it with --set NAME (or use --dir)"
        );
    };
    let created =
        strata_engine::new_migration::create(spec, name, strata_engine::new_migration::now_utc())?;
    if settings.json {
        render::print_json(io.out, &created)?;
    } else {
        for c in &created.created {
            writeln!(io.out, "created {c}")?;
        }
        writeln!(
            io.out,
            "write the migration's SQL there; an up script left empty is reported as an error"
        )?;
    }
    Ok(exit::OK)
}
