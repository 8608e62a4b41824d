//! `verify` and `drift`: the engine runs migrations where it is safe and compares schemas
//! (`strata_engine::verify`); this module prints each check as it happens and the outcome as
//! text or JSON.

use super::{exit, Io};
use crate::render;
use anyhow::Result;
use std::path::Path;
use strata_engine::documents::{VerifyCheckDocument, VerifyDocument, VerifySetDocument};
use strata_engine::settings::DbTarget;
use strata_engine::verify::{CheckResult, MigrationCheck, VerifyOptions, VerifyReporter};
use strata_engine::Ctx;
use strata_model::MigrationId;
use strata_schema::Difference;

/// The lines `verify` prints while it runs (none with `--json`: only the final document goes
/// to stdout).
struct Lines<'a> {
    lines: render::Lines<'a>,
    json: bool,
}

impl Lines<'_> {
    fn line(&mut self, text: std::fmt::Arguments<'_>) {
        if !self.json {
            self.lines.line(text);
        }
    }
}

fn show_diff(differences: &[Difference]) -> String {
    differences.iter().map(|d| format!("    {d}\n")).collect()
}

impl VerifyReporter for Lines<'_> {
    fn set_started(&mut self, set: &str, migrations: usize) {
        self.line(format_args!(
            "set {set}: verifying {migrations} migration(s) on a throwaway database"
        ));
    }

    fn seeded(&mut self, seed: &Path, after: &MigrationId) {
        self.line(format_args!("  seeded {} after {after}", seed.display()));
    }

    fn checked(&mut self, check: &MigrationCheck) {
        let id = &check.id;
        match &check.result {
            CheckResult::UpFailed { error } => self.line(format_args!(
                "  FAIL {id}: up failed\n{}",
                render::replay_error_text(error)
            )),
            CheckResult::NoDown { up_ms } => self.line(format_args!(
                "  skip {id}: up ok ({up_ms} ms), no down script, so earlier migrations cannot be reverted past it either"
            )),
            CheckResult::DownFailed { error } => self.line(format_args!(
                "  FAIL {id}: down failed\n{}",
                render::replay_error_text(error)
            )),
            CheckResult::DownDoesNotRestore { differences } => self.line(format_args!(
                "  FAIL {id}: the down script does not restore the schema before the up ({}); + left behind by the down, - missing after it:\n{}",
                check.down_path.as_deref().map(|p| p.display().to_string()).unwrap_or_default(),
                show_diff(differences)
            )),
            CheckResult::ReupFailed { error } => self.line(format_args!(
                "  FAIL {id}: up after down failed\n{}",
                render::replay_error_text(error)
            )),
            CheckResult::ReupDiffers { differences } => self.line(format_args!(
                "  FAIL {id}: applying it again after its down gives another schema ({}):\n{}",
                check.path.display(),
                show_diff(differences)
            )),
            CheckResult::SecondDownFailed { error } => self.line(format_args!(
                "  FAIL {id}: second down failed\n{}",
                render::replay_error_text(error)
            )),
            CheckResult::Reversible { up_ms, down_ms } => self.line(format_args!(
                "  ok   {id}: up {up_ms} ms, down {down_ms} ms restores the schema, re-up identical"
            )),
            _ => {}
        }
    }
}

/// `strata verify [--from V]`.
pub async fn verify(
    ctx: &Ctx,
    from: Option<&str>,
    with_data: bool,
    scratch_url: Option<&str>,
    io: &mut Io<'_>,
) -> Result<i32> {
    let settings = &ctx.settings;
    let mut lines = Lines {
        lines: render::Lines::new(&mut *io.out),
        json: settings.json,
    };
    let options = VerifyOptions {
        from,
        with_data,
        scratch: scratch_url.into(),
    };
    let outcome = strata_engine::verify::verify(ctx, options, &mut lines).await;
    lines.lines.finish()?;
    let outcome = outcome.map_err(render::engine_error)?;
    let reversible = outcome.reversible();
    if settings.json {
        let sets = outcome
            .sets
            .iter()
            .map(|set| VerifySetDocument {
                name: set.name.clone(),
                migrations: set
                    .checks
                    .iter()
                    .filter_map(|c| VerifyCheckDocument::new(c, render::replay_error_text))
                    .collect(),
            })
            .collect();
        render::print_json(io.out, &VerifyDocument { reversible, sets })?;
    } else if reversible {
        writeln!(io.out, "verified: every down restores the schema before its up, and every up re-applies identically")?;
    }
    Ok(if reversible { exit::OK } else { exit::FINDINGS })
}

/// `strata drift`: the live schema against the one its applied history produces.
pub async fn drift(
    ctx: &Ctx,
    db: &DbTarget,
    scratch_url: Option<&str>,
    io: &mut Io<'_>,
) -> Result<i32> {
    let settings = &ctx.settings;
    let drift = strata_engine::verify::drift(ctx, db, scratch_url)
        .await
        .map_err(render::engine_error)?;
    if settings.json {
        writeln!(io.out, "{}", serde_json::to_value(&drift)?)?;
    } else if drift.differences.is_empty() {
        writeln!(
            io.out,
            "no drift: the live schema is what the applied migrations produce ({} objects)",
            drift.live_objects
        )?;
    } else {
        writeln!(io.out, "drift: the live schema differs from what the applied migrations produce (+ only live, - only expected):")?;
        for d in &drift.differences {
            writeln!(io.out, "  {d}")?;
        }
    }
    Ok(if drift.drifted {
        exit::FINDINGS
    } else {
        exit::OK
    })
}
