//! `schema dump`, `schema diff` and `stats`: the engine reads the schemas
//! (`strata_engine::schema`); this module prints them, their statistics or their differences.

use super::{exit, Io};
use crate::render;
use anyhow::Result;
use strata_engine::settings::DbTarget;
use strata_engine::Ctx;

/// `strata schema dump`.
pub async fn dump(ctx: &Ctx, db: &DbTarget, format: &str, io: &mut Io<'_>) -> Result<i32> {
    let snap = strata_engine::schema::dump(ctx, db).await?;
    if format == "json" || ctx.settings.json {
        writeln!(io.out, "{}", snap.to_json())?;
    } else {
        write!(io.out, "{}", snap.to_text())?;
    }
    Ok(exit::OK)
}

/// `strata stats`.
pub async fn stats(ctx: &Ctx, db: &DbTarget, io: &mut Io<'_>) -> Result<i32> {
    let stats = strata_engine::schema::stats(ctx, db).await?;
    if ctx.settings.json {
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
    ctx: &Ctx,
    db: &DbTarget,
    a: &str,
    b: &str,
    scratch_url: Option<&str>,
    io: &mut Io<'_>,
) -> Result<i32> {
    let diff = strata_engine::schema::diff(ctx, db, a, b, scratch_url)
        .await
        .map_err(render::engine_error)?;
    if ctx.settings.json {
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
