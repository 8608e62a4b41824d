//! `validate`: the pre-deploy check (see `strata_engine::validate`).

use super::{exit, Io};
use crate::render;
use anyhow::Result;
use strata_engine::settings::DbTarget;
use strata_engine::validate::{ValidateDocument, Validated};
use strata_engine::Ctx;

/// Runs `validate`.
pub async fn run(ctx: &Ctx, db: &DbTarget, io: &mut Io<'_>) -> Result<i32> {
    let settings = &ctx.settings;
    let validated = strata_engine::validate::validate(ctx, db).await?;
    if settings.json {
        render::print_json(io.out, &ValidateDocument::from(&validated))?;
    }
    match &validated {
        Validated::Unreadable(e) => {
            writeln!(io.err, "invalid: {e}")?;
            Ok(exit::FINDINGS)
        }
        Validated::Checked { sets, findings } => {
            if settings.json {
                // The document above says it all.
            } else if findings.is_empty() {
                writeln!(
                    io.out,
                    "valid: {sets} set(s) match their history; pending scripts parse"
                )?;
            } else {
                for f in findings {
                    writeln!(
                        io.out,
                        "{} {} [{}]: {}",
                        f.set, f.migration, f.state, f.message
                    )?;
                }
                writeln!(io.out, "{} finding(s)", findings.len())?;
            }
            Ok(if findings.is_empty() {
                exit::OK
            } else {
                exit::FINDINGS
            })
        }
    }
}
