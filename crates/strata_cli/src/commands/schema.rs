//! `schema dump`, `schema diff` and `stats`: what a database's schema is, from the catalogs.

use super::{exit, Io};
use crate::app;
use crate::app::snapshot_of;
use crate::config::Settings;
use anyhow::{Context, Result};
use serde_json::json;
use std::path::Path;
use strata_engine::scratch::Scratch;
use strata_pg::{Registry, Session};
use strata_schema::Snapshot;

/// Applies every migration of `dir` to a new scratch database and returns its snapshot.
pub async fn snapshot_of_dir(
    dir: &Path,
    scratch: &Scratch,
    settings: &Settings,
) -> Result<Snapshot> {
    let set = strata_source::load_dir(dir, None)?;
    let db = scratch.create_database("dir").await?;
    let result = async {
        let mut session = Session::connect(&db.info).await?;
        let registry = Registry::new(&settings.registry_schema);
        registry.ensure(&session.client).await?;
        let steps = (0..set.migrations.len())
            .map(|i| app::apply_step(&set.migrations, i))
            .collect();
        app::run_on_scratch(
            &mut session,
            &registry,
            &set.migrations,
            dir,
            "scratch",
            "0",
            steps,
        )
        .await
        .map_err(anyhow::Error::msg)?;
        anyhow::Ok(snapshot_of(&session, settings).await?)
    }
    .await;
    // The result matters more than a failed clean-up of the scratch database.
    let dropped = scratch.drop_database(&db).await;
    let snapshot = result?;
    dropped?;
    Ok(snapshot)
}

/// `strata schema dump`.
pub async fn dump(settings: &Settings, format: &str, io: &mut Io<'_>) -> Result<i32> {
    let session = connect(settings, io).await?;
    let snap = snapshot_of(&session, settings).await?;
    if format == "json" || settings.json {
        writeln!(io.out, "{}", snap.to_json())?;
    } else {
        write!(io.out, "{}", snap.to_text())?;
    }
    Ok(exit::OK)
}

/// `strata stats`.
pub async fn stats(settings: &Settings, io: &mut Io<'_>) -> Result<i32> {
    let session = connect(settings, io).await?;
    let stats = snapshot_of(&session, settings).await?.stats();
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

/// `strata schema diff A B`: each side is a saved snapshot (`.json`), a migration directory
/// (applied to a throwaway database), `db` for the configured database, or a database URL.
pub async fn diff(
    settings: &Settings,
    a: &str,
    b: &str,
    scratch_url: Option<&str>,
    io: &mut Io<'_>,
) -> Result<i32> {
    let mut scratch = None;
    let mut sides = Vec::new();
    for side in [a, b] {
        let path = Path::new(side);
        let snap = if path.is_file() {
            Snapshot::from_json(
                &std::fs::read_to_string(path).with_context(|| format!("cannot read {side}"))?,
            )
            .with_context(|| side.to_owned())?
        } else if path.is_dir() {
            if scratch.is_none() {
                scratch = Some(Scratch::new(scratch_url)?);
            }
            snapshot_of_dir(path, scratch.as_ref().expect("set above"), settings).await?
        } else if side == "db" {
            let session = connect(settings, io).await?;
            snapshot_of(&session, settings).await?
        } else {
            let info = strata_engine::database::conninfo_of_url(
                side,
                &strata_engine::database::process_env,
            )?;
            let session = Session::connect(&info).await?;
            snapshot_of(&session, settings).await?
        };
        sides.push(snap);
    }
    let differences = sides[0].diff(&sides[1]);
    if settings.json {
        writeln!(
            io.out,
            "{}",
            json!({"identical": differences.is_empty(), "differences": differences})
        )?;
    } else if differences.is_empty() {
        writeln!(io.out, "identical: {} object(s)", sides[0].objects.len())?;
    } else {
        for d in &differences {
            writeln!(io.out, "{d}")?;
        }
        writeln!(io.out, "{} difference(s)", differences.len())?;
    }
    Ok(if differences.is_empty() {
        exit::OK
    } else {
        exit::FINDINGS
    })
}

async fn connect(settings: &Settings, io: &mut Io<'_>) -> Result<Session> {
    let err = &mut *io.err;
    let mut say = |m: &str| {
        let _ = writeln!(err, "{m}");
    };
    let db = app::database(settings, &mut say)?;
    Ok(app::connect(&db).await?)
}
