//! `adopt`: take over a database another tool manages, without running anything twice.
//!
//! The other tool's history is read (never changed), matched against the files on disk by
//! version, and — with `--apply` — recorded in strata's registry as applied, with an `adopt`
//! event naming the source table and its row count. Anything the tool itself would complain
//! about (a dirty or failed migration, a checksum that no longer matches the file) is reported
//! and not adopted, so the operator decides.

use super::{exit, Io};
use crate::app::{self};
use crate::config::Settings;
use anyhow::{bail, Result};
use serde_json::json;
use strata_engine::adoption::plan_adoption;
use strata_model::MigrationKind;
use strata_pg::adopt::{self, Tool};
use strata_pg::Registry;
use strata_plan::{Plan, Step};

/// `adopt --from-set OLD`: the history strata recorded under another set key (an older
/// strata's path-derived key, a renamed `[[set]]`) becomes the selected set's, which must have
/// none yet. Nothing runs; the rows move in one transaction with an `adopt` event that names
/// the old key. A dry run unless `apply`.
pub async fn from_set(settings: &Settings, old: &str, apply: bool, io: &mut Io<'_>) -> Result<i32> {
    let sets = app::load_sets(settings)?;
    let [set] = sets.as_slice() else {
        bail!("adopt --from-set moves a history to one set; choose it with --set NAME");
    };
    if set.spec.name == old {
        bail!("set `{old}` is already the selected set; name the other set's key with --from-set");
    }
    let err = &mut *io.err;
    let mut say = |m: &str| {
        let _ = writeln!(err, "{m}");
    };
    let db = app::database(settings, &mut say)?;
    let session = app::connect(&db).await?;
    let registry = Registry::new(&settings.registry_schema);
    let lock = if apply {
        let mut lock = app::lock(&db, settings, &mut say).await?;
        registry.ensure(&session.client).await?;
        lock.register(&registry).await?;
        Some(lock)
    } else {
        None
    };
    let result = async {
        let own = app::read_history(&session, &registry, &set.spec.name).await?;
        if !own.is_empty() {
            bail!(
                "set `{}` already has {} history row(s) in this database; a history can only be moved to a set that has none",
                set.spec.name,
                own.len()
            );
        }
        let rows = app::read_history(&session, &registry, old).await?;
        if rows.is_empty() {
            let others = strata_engine::guard::other_histories(&session, &registry, set).await?;
            bail!(
                "there is no history recorded as `{old}` in this database{}",
                if others.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; histories that record these files: {}",
                        strata_engine::guard::describe(&others)
                    )
                }
            );
        }
        let matching = strata_engine::guard::other_histories(&session, &registry, set)
            .await?
            .into_iter()
            .find(|o| o.set == old)
            .map_or(0, |o| o.matching);
        let moved = if apply {
            registry
                .move_history(
                    &session.client,
                    old,
                    &set.spec.name,
                    "strata adopt --from-set",
                )
                .await?
        } else {
            rows.len() as u64
        };
        Ok((moved, matching))
    }
    .await;
    if let Some(lock) = lock {
        lock.release().await?;
    }
    let (moved, matching) = result?;
    if settings.json {
        writeln!(
            io.out,
            "{}",
            json!({"set": set.spec.name, "from_set": old, "rows": moved, "matching_files": matching, "applied": apply})
        )?;
    } else {
        writeln!(
            io.out,
            "set {}: {} {moved} history row(s) recorded as `{old}` ({matching} of them match these files unchanged)",
            set.spec.name,
            if apply { "took over" } else { "would take over" },
        )?;
        if !apply {
            writeln!(io.out, "dry run: nothing was moved; run again with --apply")?;
        }
    }
    Ok(exit::OK)
}

/// Runs `adopt`.
pub async fn run(
    settings: &Settings,
    from: Option<&str>,
    apply: bool,
    io: &mut Io<'_>,
) -> Result<i32> {
    let sets = app::load_sets(settings)?;
    let wanted = match from {
        Some(name) => Some(Tool::from_name(name).ok_or_else(|| {
            anyhow::anyhow!(
                "unknown tool `{name}`; strata adopts from {}",
                Tool::ALL
                    .iter()
                    .map(|t| t.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?),
        None => None,
    };
    let err = &mut *io.err;
    let mut say = |m: &str| {
        let _ = writeln!(err, "{m}");
    };
    let db = app::database(settings, &mut say)?;
    let mut session = app::connect(&db).await?;
    let registry = Registry::new(&settings.registry_schema);
    let mut lock = if apply {
        Some(app::lock(&db, settings, &mut say).await?)
    } else {
        None
    };
    if apply {
        registry.ensure(&session.client).await?;
        if let Some(l) = lock.as_mut() {
            l.register(&registry).await?;
        }
    }
    let mut docs = Vec::new();
    let mut any_problem = false;
    for set in &sets {
        let found = adopt::detect(&session.client, set.spec.schema.as_deref(), &registry).await?;
        // sqitch's registry serves sqitch projects; other sets look for the other tools.
        let is_sqitch = set.set.sqitch.is_some();
        let chosen = found.iter().find(|(t, _)| match wanted {
            Some(w) => w == *t,
            None => (*t == Tool::Sqitch) == is_sqitch,
        });
        let Some((tool, schema)) = chosen else {
            bail!(
                "set `{}`: no {} history table found in the database; for a database without any tracking, `strata adopt --infer` proposes a baseline from the objects that exist (or use `strata baseline V`)",
                set.spec.name,
                wanted.map_or("known tool's".to_owned(), |t| t.name().to_owned())
            );
        };
        let history = adopt::read(&session.client, *tool, schema).await?;
        let already = registry.read(&session.client, &set.spec.name).await?;
        let adoption = plan_adoption(set, &history, &already, true);
        any_problem |= !adoption.problems.is_empty();
        let names: Vec<String> = adoption
            .adopt
            .iter()
            .map(|&i| set.migrations()[i].id.to_string())
            .collect();
        if !settings.json {
            writeln!(
                io.out,
                "set {}: {} history in {} ({} row(s))",
                set.spec.name,
                tool.name(),
                history.table,
                history.row_count
            )?;
            for n in &names {
                writeln!(
                    io.out,
                    "  {} {n}",
                    if apply { "adopted" } else { "would adopt" }
                )?;
            }
            for p in &adoption.problems {
                writeln!(io.out, "  problem: {p}")?;
            }
            let pending = set
                .migrations()
                .iter()
                .enumerate()
                .filter(|(i, m)| m.kind == MigrationKind::Versioned && !adoption.adopt.contains(i))
                .count();
            writeln!(
                io.out,
                "  {} migration(s) stay pending for `strata up`",
                pending
            )?;
        }
        if apply && !adoption.adopt.is_empty() {
            let steps = adoption
                .adopt
                .iter()
                .map(|&i| Step::Baseline {
                    index: i,
                    key: set.migrations()[i].id.registry_key(),
                })
                .collect();
            let plan = Plan {
                entries: Vec::new(),
                steps,
                findings: Vec::new(),
            };
            let opts = strata_pg::ExecOptions {
                set_name: set.spec.name.clone(),
                lock_timeout: set.spec.lock_timeout.clone(),
                statement_timeout: set.spec.statement_timeout.clone(),
                baseline_event: Some((
                    "adopt".into(),
                    json!({"tool": tool.name(), "source_table": history.table, "source_rows": history.row_count}),
                )),
                set_dir: set.spec.dir.clone(),
                ..Default::default()
            };
            strata_pg::execute(
                &mut session,
                &registry,
                set.migrations(),
                &plan,
                &opts,
                lock.as_ref().and_then(|l| l.client()),
                &mut strata_pg::Silent,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{}", crate::render::exec_error_text(&e)))?;
        }
        docs.push(json!({"name": set.spec.name, "tool": tool.name(), "source_table": history.table, "source_rows": history.row_count, "adopted": names, "problems": adoption.problems, "applied": apply}));
    }
    if let Some(l) = lock {
        l.release().await?;
    }
    if settings.json {
        writeln!(io.out, "{}", json!({"sets": docs}))?;
    } else if !apply {
        writeln!(
            io.out,
            "dry run: nothing was recorded; run again with --apply"
        )?;
    }
    Ok(if any_problem {
        exit::FINDINGS
    } else {
        exit::OK
    })
}

/// The objects that witness each versioned migration: what it creates that neither it nor a
/// later migration drops again (a later drop makes absence meaningless).
fn witnesses(migrations: &[&strata_model::Migration]) -> Vec<Vec<strata_sql::objects::DbObject>> {
    let effects: Vec<strata_sql::objects::Effects> = migrations
        .iter()
        .map(|m| strata_sql::objects::effects(&strata_sql::analyze(m.up.sql())))
        .collect();
    effects
        .iter()
        .enumerate()
        .map(|(k, e)| {
            let mut objects: Vec<_> = e
                .created
                .iter()
                .filter(|o| !effects[k..].iter().any(|later| later.dropped.contains(o)))
                .cloned()
                .collect();
            objects.sort();
            objects.dedup();
            objects
        })
        .collect()
}

/// `adopt --infer`: propose a baseline for a database migrated without any history (a psql
/// loop), from which of each migration's objects exist; `--apply` records it with `baseline`.
pub async fn infer(settings: &Settings, apply: bool, io: &mut Io<'_>) -> Result<i32> {
    let mut sets = app::load_sets(settings)?;
    for set in &mut sets {
        set.set.load_all()?;
    }
    let err = &mut *io.err;
    let mut say = |m: &str| {
        let _ = writeln!(err, "{m}");
    };
    let db = app::database(settings, &mut say)?;
    let session = app::connect(&db).await?;
    let registry = Registry::new(&settings.registry_schema);
    let mut docs = Vec::new();
    let mut proposals = Vec::new();
    let mut contradicted = false;
    for set in &sets {
        if !registry
            .read(&session.client, &set.spec.name)
            .await?
            .is_empty()
        {
            bail!(
                "set `{}` already has a strata history; `strata status` shows it (adopt --infer is for databases no tool tracked)",
                set.spec.name
            );
        }
        let versioned: Vec<&strata_model::Migration> = set
            .migrations()
            .iter()
            .filter(|m| m.kind == MigrationKind::Versioned)
            .collect();
        let witnesses = witnesses(&versioned);
        let mut unique: Vec<strata_sql::objects::DbObject> =
            witnesses.iter().flatten().cloned().collect();
        unique.sort();
        unique.dedup();
        let exists = adopt::objects_exist(&session.client, &unique).await?;
        let present = |o: &strata_sql::objects::DbObject| {
            unique.binary_search(o).ok().is_some_and(|i| exists[i])
        };
        let evidence: Vec<strata_plan::Evidence> = witnesses
            .iter()
            .map(|objects| {
                let here = objects.iter().filter(|o| present(o)).count();
                strata_plan::Evidence {
                    present: here,
                    absent: objects.len() - here,
                }
            })
            .collect();
        let inference = strata_plan::infer_baseline(&evidence);
        contradicted |= !inference.conflicts.is_empty();
        let baseline = inference.baseline.and_then(|i| {
            versioned[i]
                .id
                .version
                .as_ref()
                .map(|v| v.as_str().to_owned())
        });
        let rows: Vec<serde_json::Value> = versioned
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let missing: Vec<String> = witnesses[i]
                    .iter()
                    .filter(|o| !present(o))
                    .map(ToString::to_string)
                    .collect();
                json!({
                    "migration": m.id.to_string(),
                    "verdict": inference.verdicts[i],
                    "present": evidence[i].present,
                    "absent": evidence[i].absent,
                    "missing": missing,
                    "conflict": inference.conflicts.contains(&i),
                    "undecided": inference.undecided.contains(&i),
                })
            })
            .collect();
        if !settings.json {
            writeln!(
                io.out,
                "set {}: what the database shows of each migration",
                set.spec.name
            )?;
            for (i, row) in rows.iter().enumerate() {
                let e = evidence[i];
                let verdict = match inference.verdicts[i] {
                    strata_plan::Verdict::Applied => format!(
                        "applied ({}/{} objects exist)",
                        e.present,
                        e.present + e.absent
                    ),
                    strata_plan::Verdict::NotApplied => {
                        format!("not applied (none of its {} objects exists)", e.absent)
                    }
                    strata_plan::Verdict::Partial => format!(
                        "PARTIAL ({}/{} objects exist)",
                        e.present,
                        e.present + e.absent
                    ),
                    strata_plan::Verdict::NoEvidence => {
                        "no evidence (it creates nothing that can be checked)".to_owned()
                    }
                };
                let flag = if inference.conflicts.contains(&i) {
                    "  <- contradicts the others"
                } else {
                    ""
                };
                writeln!(
                    io.out,
                    "  {:<40} {verdict}{flag}",
                    versioned[i].id.to_string()
                )?;
                if inference.conflicts.contains(&i) {
                    for m in row["missing"].as_array().into_iter().flatten() {
                        writeln!(io.out, "      missing: {}", m.as_str().unwrap_or_default())?;
                    }
                }
            }
            match &baseline {
                Some(v) => writeln!(io.out, "  proposed baseline: {v} (record it with `strata adopt --infer --apply` or `strata baseline {v}`)")?,
                None => writeln!(io.out, "  proposed baseline: none: no migration's objects exist; `strata up` applies everything")?,
            }
            if !inference.undecided.is_empty() {
                let names: Vec<String> = inference
                    .undecided
                    .iter()
                    .map(|&i| versioned[i].id.to_string())
                    .collect();
                writeln!(io.out, "  cannot tell whether {} ran (no objects to check); if they did, baseline the last of them instead", names.join(", "))?;
            }
            if !inference.conflicts.is_empty() {
                writeln!(io.out, "  the evidence is contradictory: check the migrations marked above by hand before recording any baseline")?;
            }
        }
        docs.push(json!({"name": set.spec.name, "migrations": rows, "baseline": baseline, "conflicts": !inference.conflicts.is_empty()}));
        proposals.push((set.spec.clone(), baseline));
    }
    if settings.json {
        writeln!(
            io.out,
            "{}",
            json!({"sets": docs, "applied": apply && !contradicted})
        )?;
    }
    if contradicted {
        if apply {
            writeln!(io.err, "strata: not recording a baseline: the evidence is contradictory (see above); decide by hand and run `strata baseline V`")?;
        }
        return Ok(exit::FINDINGS);
    }
    if !apply {
        return Ok(exit::OK);
    }
    drop(session);
    for (spec, baseline) in proposals {
        let Some(version) = baseline else { continue };
        let mut one = settings.clone();
        one.sets = vec![spec];
        let code = crate::run::run(&one, strata_plan::Target::Baseline(version), false, io).await?;
        if code != exit::OK {
            return Ok(code);
        }
    }
    Ok(exit::OK)
}
