//! `strata lint`: the options from strata.toml and the flags, `--explain` and
//! `--list-rules`, then the engine's `strata_engine::lint` and the report in the format asked
//! for.

use super::{exit, Io};
use crate::cli::LintArgs;
use crate::lint_setup::{colour_for, options, relative_paths};
use anyhow::{bail, Result};
use strata_engine::settings::DbTarget;
use strata_engine::Ctx;
use strata_lint::{Level, Options, Report};

/// Runs `strata lint`.
pub async fn run(ctx: &Ctx, db: &DbTarget, args: &LintArgs, io: &mut Io<'_>) -> Result<i32> {
    let settings = &ctx.settings;
    if let Some(name) = &args.explain {
        let Some(rule) = strata_lint::find_rule(name) else {
            bail!("{}", unknown_rule(name));
        };
        write!(io.out, "{}", rule.docs)?;
        return Ok(exit::OK);
    }
    let base = options(settings, args.pg_version, &args.rules)?;
    if args.list_rules {
        for rule in strata_lint::RULES {
            writeln!(
                io.out,
                "{:<38} {:<13} {:<8} {}",
                rule.name,
                rule.category.as_str(),
                base.level(rule).as_str(),
                rule.summary
            )?;
        }
        return Ok(exit::OK);
    }
    let request = strata_engine::lint::LintRequest {
        paths: args.paths.clone(),
        since: args.since.clone(),
        pending: args.pending,
        detect_version: args.pg_version.is_none() && settings.lint.target_version.is_none(),
    };
    let mut report = strata_engine::lint::lint(ctx, db, &request, base).await?;
    relative_paths(&mut report);

    let format = if settings.json {
        "json"
    } else {
        args.format.as_str()
    };
    match format {
        "json" => writeln!(io.out, "{}", strata_lint::render_json(&report))?,
        "sarif" => writeln!(
            io.out,
            "{}",
            serde_json::to_string_pretty(&strata_lint::render_sarif(&report))?
        )?,
        "github" => {
            write!(io.out, "{}", strata_lint::render_github(&report))?;
            writeln!(io.err, "{}", summary(&report))?;
        }
        _ => {
            let color = colour_for(&std::io::stdout());
            write!(io.out, "{}", strata_lint::render_text(&report, color))?;
        }
    }
    Ok(if report.errors() > 0 {
        exit::FINDINGS
    } else {
        exit::OK
    })
}

fn summary(report: &Report) -> String {
    format!(
        "lint: {} error(s), {} warning(s) in {} statements of {} migrations",
        report.errors(),
        report.warnings(),
        report.statements,
        report.scripts
    )
}

fn unknown_rule(name: &str) -> String {
    let err = Options::default()
        .set_level(name, Level::Off)
        .expect_err("not a rule");
    err.to_string()
}
