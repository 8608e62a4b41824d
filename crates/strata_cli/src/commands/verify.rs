//! `verify` and `drift`: run migrations where it is safe, and compare schemas.
//!
//! `verify` proves on a throwaway database that every down undoes its up: apply all, then from
//! the last migration to the first, down (the schema must equal the one before its up), up again
//! (it must equal the one after), and down once more to continue. `drift` rebuilds the schema the
//! live database's applied history should produce and compares it with the live one.

use super::{exit, Io};
use crate::app::snapshot_of;
use crate::app::{self, LoadedSet};
use crate::config::Settings;
use crate::scratch::Scratch;
use anyhow::Result;
use serde_json::json;
use std::time::Instant;
use strata_model::Version;
use strata_pg::{Registry, Session};
use strata_plan::Step;
use strata_schema::Snapshot;

async fn run_step(
    session: &mut Session,
    registry: &Registry,
    set: &LoadedSet,
    step: Step,
) -> Result<u64, String> {
    let started = Instant::now();
    app::run_on_scratch(
        session,
        registry,
        set.migrations(),
        &set.spec.dir,
        &set.spec.name,
        &set.spec.statement_timeout,
        vec![step],
    )
    .await?;
    Ok(started.elapsed().as_millis() as u64)
}

fn show_diff(expected: &Snapshot, actual: &Snapshot) -> String {
    expected
        .diff(actual)
        .iter()
        .map(|d| format!("    {d}\n"))
        .collect()
}

/// `strata verify [--from V]`.
pub async fn verify(
    settings: &Settings,
    from: Option<&str>,
    with_data: bool,
    scratch_url: Option<&str>,
    io: &mut Io<'_>,
) -> Result<i32> {
    let sets = app::load_sets(settings)?;
    if with_data {
        if let Some(set) = sets.iter().find(|s| s.spec.seed.is_none()) {
            anyhow::bail!("--with-data: set `{}` has no sample data; add `seed = \"path/to/seed.sql\"` (and optionally `seed_after = \"V\"`) to its [[set]] in strata.toml", set.spec.name);
        }
    }
    let scratch = Scratch::new(scratch_url)?;
    let mut failures = 0;
    let mut docs = Vec::new();
    for set in &sets {
        let db = scratch.create_database("verify").await?;
        let outcome = verify_set(settings, set, &db.info, from, with_data, io).await;
        let dropped = scratch.drop_database(&db).await;
        let (report, failed) = outcome?;
        dropped?;
        failures += failed;
        docs.push(report);
    }
    if settings.json {
        writeln!(
            io.out,
            "{}",
            json!({"reversible": failures == 0, "sets": docs})
        )?;
    } else if failures == 0 {
        writeln!(io.out, "verified: every down restores the schema before its up, and every up re-applies identically")?;
    }
    Ok(if failures == 0 {
        exit::OK
    } else {
        exit::FINDINGS
    })
}

async fn verify_set(
    settings: &Settings,
    set: &LoadedSet,
    info: &strata_pg::ConnInfo,
    from: Option<&str>,
    with_data: bool,
    io: &mut Io<'_>,
) -> Result<(serde_json::Value, usize)> {
    // With --json, only the final document goes to stdout.
    let mut sink = std::io::sink();
    let out: &mut dyn std::io::Write = if settings.json {
        &mut sink
    } else {
        &mut *io.out
    };
    let mut session = Session::connect(info).await?;
    let registry = Registry::new(&settings.registry_schema);
    registry.ensure(&session.client).await?;
    let versioned: Vec<usize> = set
        .migrations()
        .iter()
        .enumerate()
        .filter(|(_, m)| m.kind == strata_model::MigrationKind::Versioned)
        .map(|(i, _)| i)
        .collect();
    let floor = match from {
        Some(v) => Some(Version::parse_user(v).map_err(|e| anyhow::anyhow!("{e}"))?),
        None => None,
    };
    let key = |i: usize| set.migrations()[i].id.registry_key();
    let apply = |i: usize| app::apply_step(set.migrations(), i);
    let revert = |i: usize| Step::Revert {
        index: i,
        key: key(i),
    };
    if !settings.json {
        writeln!(
            out,
            "set {}: verifying {} migration(s) on a throwaway database",
            set.spec.name,
            versioned.len()
        )?;
    }
    // Sample data loads right after `seed_after` (or after the last migration), so the downs
    // and re-ups below run against data, as they would in production.
    let seed_at = match (&set.spec.seed, &set.spec.seed_after) {
        (Some(_), Some(v)) if with_data => {
            let want = Version::parse_user(v).map_err(|e| anyhow::anyhow!("seed_after: {e}"))?;
            let pos = versioned.iter().position(|&i| {
                set.migrations()[i]
                    .id
                    .version
                    .as_ref()
                    .is_some_and(|x| x.same_as(&want))
            });
            Some(pos.ok_or_else(|| {
                anyhow::anyhow!(
                    "seed_after = \"{v}\" names no migration of set `{}`",
                    set.spec.name
                )
            })?)
        }
        (Some(_), None) if with_data => versioned.len().checked_sub(1),
        _ => None,
    };
    let mut snaps = vec![snapshot_of(&session, settings).await?];
    let mut up_ms = Vec::new();
    let mut rows = Vec::new();
    for &i in &versioned {
        match run_step(&mut session, &registry, set, apply(i)).await {
            Ok(ms) => up_ms.push(ms),
            Err(text) => {
                writeln!(out, "  FAIL {}: up failed\n{text}", set.migrations()[i].id)?;
                rows.push(json!({"migration": key(i), "up": false, "error": text}));
                return Ok((json!({"name": set.spec.name, "migrations": rows}), 1));
            }
        }
        snaps.push(snapshot_of(&session, settings).await?);
        if seed_at == Some(snaps.len() - 2) {
            let path = set
                .spec
                .seed
                .as_ref()
                .expect("seed_at is set only with a seed");
            let sql = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read the seed {}: {e}", path.display()))?;
            session
                .run_script(&format!("BEGIN;\n{sql}\n;COMMIT;"))
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "loading the seed {} failed: {}",
                        path.display(),
                        e.as_db_error()
                            .map(|d| d.message().to_owned())
                            .unwrap_or_else(|| e.to_string())
                    )
                })?;
            if !settings.json {
                writeln!(
                    out,
                    "  seeded {} after {}",
                    path.display(),
                    set.migrations()[i].id
                )?;
            }
        }
    }
    let mut failed = 0;
    for (pos, &i) in versioned.iter().enumerate().rev() {
        let m = &set.migrations()[i];
        if floor
            .as_ref()
            .is_some_and(|f| m.id.version.as_ref().is_some_and(|v| v < f))
        {
            break;
        }
        let (before, after) = (&snaps[pos], &snaps[pos + 1]);
        if m.down.is_none() {
            writeln!(out, "  skip {}: up ok ({} ms), no down script, so earlier migrations cannot be reverted past it either", m.id, up_ms[pos])?;
            rows.push(json!({"migration": key(i), "up": true, "down": null, "up_ms": up_ms[pos]}));
            break;
        }
        let down_ms = match run_step(&mut session, &registry, set, revert(i)).await {
            Ok(ms) => ms,
            Err(text) => {
                writeln!(out, "  FAIL {}: down failed\n{text}", m.id)?;
                rows.push(json!({"migration": key(i), "up": true, "down": false, "error": text}));
                failed += 1;
                break;
            }
        };
        let reverted = snapshot_of(&session, settings).await?;
        if &reverted != before {
            let path = m
                .down
                .as_ref()
                .map(|d| d.file.path().display().to_string())
                .unwrap_or_default();
            writeln!(
                out,
                "  FAIL {}: the down script does not restore the schema before the up ({path}); + left behind by the down, - missing after it:\n{}",
                m.id,
                show_diff(before, &reverted)
            )?;
            rows.push(json!({"migration": key(i), "up": true, "down_restores": false, "differences": before.diff(&reverted)}));
            failed += 1;
            break;
        }
        match run_step(&mut session, &registry, set, apply(i)).await {
            Ok(_) => {}
            Err(text) => {
                writeln!(out, "  FAIL {}: up after down failed\n{text}", m.id)?;
                rows.push(json!({"migration": key(i), "up": true, "down_restores": true, "reup": false, "error": text}));
                failed += 1;
                break;
            }
        }
        let reapplied = snapshot_of(&session, settings).await?;
        if &reapplied != after {
            writeln!(
                out,
                "  FAIL {}: applying it again after its down gives another schema ({}):\n{}",
                m.id,
                m.path().display(),
                show_diff(after, &reapplied)
            )?;
            rows.push(json!({"migration": key(i), "up": true, "down_restores": true, "reup_identical": false, "differences": after.diff(&reapplied)}));
            failed += 1;
            break;
        }
        if let Err(text) = run_step(&mut session, &registry, set, revert(i)).await {
            writeln!(out, "  FAIL {}: second down failed\n{text}", m.id)?;
            failed += 1;
            break;
        }
        if !settings.json {
            writeln!(
                out,
                "  ok   {}: up {} ms, down {} ms restores the schema, re-up identical",
                m.id, up_ms[pos], down_ms
            )?;
        }
        rows.push(json!({"migration": key(i), "up": true, "down_restores": true, "reup_identical": true, "up_ms": up_ms[pos], "down_ms": down_ms}));
    }
    Ok((json!({"name": set.spec.name, "migrations": rows}), failed))
}

/// `strata drift`: the live schema against the one its applied history produces.
pub async fn drift(settings: &Settings, scratch_url: Option<&str>, io: &mut Io<'_>) -> Result<i32> {
    let sets = app::load_sets(settings)?;
    let err = &mut *io.err;
    let mut say = |m: &str| {
        let _ = writeln!(err, "{m}");
    };
    let db = app::database(settings, &mut say)?;
    let session = app::connect(&db).await?;
    let registry = Registry::new(&settings.registry_schema);
    let live = snapshot_of(&session, settings).await?;
    // The expected schema: every set's applied migrations, in order, on one scratch database.
    let scratch = Scratch::new(scratch_url)?;
    let scratch_db = scratch.create_database("drift").await?;
    let expected = async {
        let mut scratch_session = Session::connect(&scratch_db.info).await?;
        registry.ensure(&scratch_session.client).await?;
        for set in &sets {
            let applied = registry.read(&session.client, &set.spec.name).await?;
            let plan = strata_plan::plan(set.migrations(), &applied, &strata_plan::Target::Status, &strata_plan::Policy::default())?;
            if let Some(e) = plan.entries.iter().find(|e| e.applied.is_some() && e.state != strata_plan::State::Applied) {
                anyhow::bail!("set `{}`: migration {} is {}; resolve that first (see `strata status`), then check drift", set.spec.name, e.key, e.state.as_str());
            }
            let steps: Vec<Step> = plan.entries.iter().filter(|e| e.applied.is_some()).filter_map(|e| e.local).map(|i| app::apply_step(set.migrations(), i)).collect();
            app::run_on_scratch(&mut scratch_session, &registry, set.migrations(), &set.spec.dir, &set.spec.name, "0", steps)
                .await
                .map_err(|text| anyhow::anyhow!("rebuilding the expected schema failed:\n{text}"))?;
        }
        snapshot_of(&scratch_session, settings).await
    }
    .await;
    let dropped = scratch.drop_database(&scratch_db).await;
    let expected = expected?;
    dropped?;
    let differences = expected.diff(&live);
    if settings.json {
        writeln!(
            io.out,
            "{}",
            json!({"drifted": !differences.is_empty(), "differences": differences})
        )?;
    } else if differences.is_empty() {
        writeln!(
            io.out,
            "no drift: the live schema is what the applied migrations produce ({} objects)",
            live.objects.len()
        )?;
    } else {
        writeln!(io.out, "drift: the live schema differs from what the applied migrations produce (+ only live, - only expected):")?;
        for d in &differences {
            writeln!(io.out, "  {d}")?;
        }
    }
    Ok(if differences.is_empty() {
        exit::OK
    } else {
        exit::FINDINGS
    })
}
