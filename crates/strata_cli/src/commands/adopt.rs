//! `adopt`: take over a database another tool manages, without running anything twice. The
//! engine reads and matches the histories and records the adoption (`strata_engine::adopt`);
//! this module prints what it found, and for `--infer --apply` records the proposed baselines
//! as `baseline` does.

use super::{exit, Io};
use crate::render;
use anyhow::Result;
use strata_engine::adopt::{SetAdoption, SetInference};
use strata_engine::settings::DbTarget;
use strata_engine::Ctx;
use strata_plan::Verdict;

/// `adopt --from-set OLD`: the history recorded under another set key becomes the selected
/// set's. A dry run unless `apply`.
pub async fn from_set(
    ctx: &Ctx,
    db: &DbTarget,
    old: &str,
    apply: bool,
    io: &mut Io<'_>,
) -> Result<i32> {
    let moved = strata_engine::adopt::from_set(ctx, db, old, apply).await?;
    if ctx.settings.json {
        writeln!(io.out, "{}", serde_json::to_value(&moved)?)?;
    } else {
        writeln!(
            io.out,
            "set {}: {} {} history row(s) recorded as `{old}` ({} of them match these files unchanged)",
            moved.set,
            if apply { "took over" } else { "would take over" },
            moved.rows,
            moved.matching_files,
        )?;
        if !apply {
            writeln!(io.out, "dry run: nothing was moved; run again with --apply")?;
        }
    }
    Ok(exit::OK)
}

/// One set's findings, as text.
fn adoption_text(lines: &mut render::Lines<'_>, set: &SetAdoption, apply: bool) {
    lines.line(format_args!(
        "set {}: {} history in {} ({} row(s))",
        set.name, set.tool, set.source_table, set.source_rows
    ));
    for n in &set.adopted {
        lines.line(format_args!(
            "  {} {n}",
            if apply { "adopted" } else { "would adopt" }
        ));
    }
    for p in &set.problems {
        lines.line(format_args!("  problem: {p}"));
    }
    lines.line(format_args!(
        "  {} migration(s) stay pending for `strata up`",
        set.pending
    ));
}

/// Runs `adopt`.
pub async fn run(
    ctx: &Ctx,
    db: &DbTarget,
    from: Option<&str>,
    apply: bool,
    io: &mut Io<'_>,
) -> Result<i32> {
    let mut lines = render::Lines::new(&mut *io.out);
    let settings = &ctx.settings;
    let outcome = strata_engine::adopt::adopt(ctx, db, from, apply, &mut |set| {
        if !settings.json {
            adoption_text(&mut lines, set, apply);
        }
    })
    .await;
    lines.finish()?;
    let outcome = outcome.map_err(render::engine_error)?;
    if settings.json {
        writeln!(io.out, "{}", serde_json::to_value(&outcome)?)?;
    } else if !apply {
        writeln!(
            io.out,
            "dry run: nothing was recorded; run again with --apply"
        )?;
    }
    Ok(if outcome.has_problems() {
        exit::FINDINGS
    } else {
        exit::OK
    })
}

/// One set's proposal, as text.
fn inference_text(lines: &mut render::Lines<'_>, set: &SetInference) {
    lines.line(format_args!(
        "set {}: what the database shows of each migration",
        set.name
    ));
    for m in &set.migrations {
        let verdict = match m.verdict {
            Verdict::Applied => format!(
                "applied ({}/{} objects exist)",
                m.present,
                m.present + m.absent
            ),
            Verdict::NotApplied => {
                format!("not applied (none of its {} objects exists)", m.absent)
            }
            Verdict::Partial => format!(
                "PARTIAL ({}/{} objects exist)",
                m.present,
                m.present + m.absent
            ),
            Verdict::NoEvidence => {
                "no evidence (it creates nothing that can be checked)".to_owned()
            }
        };
        let flag = if m.conflict {
            "  <- contradicts the others"
        } else {
            ""
        };
        lines.line(format_args!("  {:<40} {verdict}{flag}", m.migration));
        if m.conflict {
            for missing in &m.missing {
                lines.line(format_args!("      missing: {missing}"));
            }
        }
    }
    match &set.baseline {
        Some(v) => lines.line(format_args!("  proposed baseline: {v} (record it with `strata adopt --infer --apply` or `strata baseline {v}`)")),
        None => lines.line(format_args!("  proposed baseline: none: no migration's objects exist; `strata up` applies everything")),
    }
    let undecided: Vec<&str> = set
        .migrations
        .iter()
        .filter(|m| m.undecided)
        .map(|m| m.migration.as_str())
        .collect();
    if !undecided.is_empty() {
        lines.line(format_args!("  cannot tell whether {} ran (no objects to check); if they did, baseline the last of them instead", undecided.join(", ")));
    }
    if set.conflicts {
        lines.line(format_args!("  the evidence is contradictory: check the migrations marked above by hand before recording any baseline"));
    }
}

/// `adopt --infer`: propose a baseline for a database migrated without any history (a psql
/// loop), from which of each migration's objects exist; `--apply` records it with `baseline`.
pub async fn infer(ctx: &Ctx, db: &DbTarget, apply: bool, io: &mut Io<'_>) -> Result<i32> {
    let settings = &ctx.settings;
    let mut lines = render::Lines::new(&mut *io.out);
    let proposals = strata_engine::adopt::infer(ctx, db, &mut |set| {
        if !settings.json {
            inference_text(&mut lines, set);
        }
    })
    .await;
    lines.finish()?;
    let proposals = proposals?;
    let contradicted = proposals.iter().any(|p| p.conflicts);
    if settings.json {
        render::print_json(
            io.out,
            &strata_engine::adopt::InferDocument {
                sets: &proposals,
                applied: apply && !contradicted,
            },
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
    for proposal in proposals {
        let Some(version) = proposal.baseline else {
            continue;
        };
        let mut one = settings.clone();
        one.sets = vec![proposal.spec];
        let target = strata_engine::adopt::baseline_target(&one, &version)?;
        let code = crate::run::run(&ctx.with_settings(one), db, target, false, io).await?;
        if code != exit::OK {
            return Ok(code);
        }
    }
    Ok(exit::OK)
}
