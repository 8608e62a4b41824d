//! `schema dump`, `schema diff` and `stats`: the engine reads the schemas
//! (`strata_engine::schema`); this module prints them, their statistics or their differences.

use super::{exit, Io};
use crate::config::Settings;
use crate::render;
use anyhow::Result;
use std::io::Write;

/// Writes `say`'s lines (the dev cluster) to stderr.
fn say_to(err: &mut dyn Write) -> impl FnMut(&str) + '_ {
    move |m: &str| {
        let _ = writeln!(err, "{m}");
    }
}

/// `strata schema dump`.
pub async fn dump(settings: &Settings, format: &str, io: &mut Io<'_>) -> Result<i32> {
    let snap = strata_engine::schema::dump(settings, &mut say_to(io.err)).await?;
    if format == "json" || settings.json {
        writeln!(io.out, "{}", snap.to_json())?;
    } else {
        write!(io.out, "{}", snap.to_text())?;
    }
    Ok(exit::OK)
}

/// `strata stats`.
pub async fn stats(settings: &Settings, io: &mut Io<'_>) -> Result<i32> {
    let stats = strata_engine::schema::stats(settings, &mut say_to(io.err)).await?;
    if settings.json {
        writeln!(io.out, "{}", serde_json::to_string(&stats)?)?;
    } else {
        let c = &stats.constraints;
        let public = if stats.public_schema {
            " (plus public)"
        } else {
            ""
        };
        writeln!(io.out, "schemas            {}{public}", stats.schemas)?;
        writeln!(io.out, "extensions         {}", stats.extensions)?;
        writeln!(
            io.out,
            "tables             {} ({} partitions)",
            stats.tables, stats.partitions
        )?;
        writeln!(io.out, "constraints        {} (primary key {}, foreign key {}, unique {}, check {}, exclusion {})", c.primary_key + c.foreign_key + c.unique + c.check + c.exclusion + c.other, c.primary_key, c.foreign_key, c.unique, c.check, c.exclusion)?;
        writeln!(
            io.out,
            "indexes            {} ({} explicit)",
            stats.indexes, stats.explicit_indexes
        )?;
        writeln!(io.out, "sequences          {}", stats.sequences)?;
        writeln!(
            io.out,
            "functions          {} (+ {} procedures)",
            stats.functions, stats.procedures
        )?;
        writeln!(io.out, "triggers           {}", stats.triggers)?;
        writeln!(
            io.out,
            "views              {} (+ {} materialized)",
            stats.views, stats.materialized_views
        )?;
        writeln!(io.out, "types              {}", stats.types)?;
        writeln!(io.out, "policies           {}", stats.policies)?;
    }
    Ok(exit::OK)
}

/// `strata schema diff A B` (see `strata_engine::schema::diff` for what a side can be).
pub async fn diff(
    settings: &Settings,
    a: &str,
    b: &str,
    scratch_url: Option<&str>,
    io: &mut Io<'_>,
) -> Result<i32> {
    let diff = strata_engine::schema::diff(settings, a, b, scratch_url, &mut say_to(io.err))
        .await
        .map_err(render::engine_error)?;
    if settings.json {
        writeln!(io.out, "{}", serde_json::to_value(&diff)?)?;
    } else if diff.identical {
        writeln!(io.out, "identical: {} object(s)", diff.objects)?;
    } else {
        for d in &diff.differences {
            writeln!(io.out, "{d}")?;
        }
        writeln!(io.out, "{} difference(s)", diff.differences.len())?;
    }
    Ok(if diff.identical {
        exit::OK
    } else {
        exit::FINDINGS
    })
}
