//! The `strata` binary: parse arguments, resolve settings, call the library, render, exit.
//!
//! Exit codes: 0 success or nothing to do; 1 findings (pending or drifted migrations under
//! `--check`, `validate` failures); 2 errors (bad input, failed migration, unreachable
//! database). Errors print their whole cause chain to stderr.

mod app;
mod cli;
mod commands;
mod config;
mod dev;
mod history_guard;
mod render;
mod scratch;
mod sqitch;

use clap::Parser;
use cli::{Cli, Command};
use commands::{exit, Io};
use std::io::Write;
use strata_plan::Target;

fn main() {
    let cli = Cli::parse();
    let json = cli.global.json;
    let secrets = secrets(&cli);
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr();
    let code = match run(cli, &mut stdout, &mut stderr) {
        Ok(code) => code,
        Err(e) => {
            let scrub = |text: String| {
                secrets
                    .iter()
                    .fold(text, |t, s| t.replace(s.as_str(), "***"))
            };
            let causes: Vec<String> = e.chain().skip(1).map(|c| scrub(c.to_string())).collect();
            let message = scrub(e.to_string());
            if json {
                let doc = serde_json::json!({"error": {"message": message, "causes": causes}});
                let _ = writeln!(stdout, "{doc}");
            }
            let mut text = format!("error: {message}");
            for cause in &causes {
                text.push_str(&format!("\n  caused by: {cause}"));
            }
            let _ = writeln!(stderr, "{text}");
            exit::ERROR
        }
    };
    drop(stdout);
    std::process::exit(code);
}

/// Every password strata was given, so no error text can carry one (a last line of defence:
/// messages are written not to contain them in the first place).
fn secrets(cli: &Cli) -> Vec<String> {
    let mut out = Vec::new();
    for url in [
        cli.global.database_url.clone(),
        std::env::var("DATABASE_URL").ok(),
    ]
    .into_iter()
    .flatten()
    {
        out.extend(strata_pg::secrets_in(&url));
    }
    if let Ok(pw) = std::env::var("PGPASSWORD") {
        out.push(pw);
    }
    out.retain(|s| s.len() >= 3);
    out
}

fn run(
    cli: Cli,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> anyhow::Result<i32> {
    let cwd = std::env::current_dir()?;
    let mut io = Io { out, err };
    if let Command::Dev(args) = &cli.command {
        let root = config::find_config(&cwd)
            .and_then(|p| p.parent().map(std::path::Path::to_owned))
            .unwrap_or(cwd.clone());
        return dev::run(&root, args.action, io.out);
    }
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let names_its_own_input = matches!(&cli.command, Command::Lint(a)
        if a.explain.is_some() || a.list_rules || !a.paths.is_empty());
    let settings = if names_its_own_input {
        config::resolve_sets(&cli.global, &cwd, &env, false)?
    } else {
        config::resolve(&cli.global, &cwd, &env)?
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Up(a) => {
                let mut settings = settings.clone();
                if a.no_lint {
                    settings.lint.on_up = Some(false);
                }
                settings.ignore_foreign = a.ignore_foreign;
                commands::migrate::run(
                    &settings,
                    Target::Up {
                        to: a.to,
                        steps: a.steps,
                    },
                    a.dry_run,
                    &mut io,
                )
                .await
            }
            Command::Down(a) => {
                commands::migrate::run(
                    &settings,
                    Target::Down {
                        to: a.to,
                        steps: a.steps,
                        all: a.all,
                    },
                    a.dry_run,
                    &mut io,
                )
                .await
            }
            Command::Redo(a) => {
                commands::migrate::run(&settings, Target::Redo, a.dry_run, &mut io).await
            }
            Command::Goto(a) => {
                commands::migrate::run(&settings, Target::Goto(a.target), a.dry_run, &mut io).await
            }
            Command::Status(a) => commands::status::run(&settings, a.check, &mut io).await,
            Command::Validate => commands::validate::run(&settings, &mut io).await,
            Command::Baseline(a) => {
                commands::baseline::run(&settings, &a.target, a.dry_run, &mut io).await
            }
            Command::Repair(a) => {
                if settings.sets.len() > 1 {
                    anyhow::bail!("repair acts on one set; choose it with --set NAME");
                }
                if a.resume {
                    commands::migrate::run(&settings, Target::Up { to: Some(a.target), steps: None }, a.dry_run, &mut io).await
                } else {
                    let Some(reason) = a.reason.as_deref().filter(|r| !r.trim().is_empty()) else {
                        anyhow::bail!("say why with --reason \"...\": the decision is recorded with who made it and why");
                    };
                    let target = Target::Mark { version: a.target, applied: a.mark_applied };
                    commands::migrate::run_with_reason(&settings, target, a.dry_run, Some(reason), &mut io).await
                }
            }
            Command::Accept(a) => {
                if settings.sets.len() > 1 {
                    anyhow::bail!("accept acts on one set; choose it with --set NAME");
                }
                if a.reason.trim().is_empty() {
                    anyhow::bail!("say why with --reason \"...\": the decision is recorded with who made it and why");
                }
                commands::migrate::run_with_reason(&settings, Target::Accept(a.target), a.dry_run, Some(&a.reason), &mut io).await
            }
            Command::Adopt(a) if a.from_set.is_some() => {
                let old = a.from_set.as_deref().unwrap_or_default();
                commands::adopt::from_set(&settings, old, a.apply, &mut io).await
            }
            Command::Adopt(a) if a.infer => commands::adopt::infer(&settings, a.apply, &mut io).await,
            Command::Adopt(a) => commands::adopt::run(&settings, a.tool.as_deref(), a.apply, &mut io).await,
            Command::Renumber(a) => commands::renumber::run(&settings, a.apply, &mut io).await,
            Command::Squash(a) => commands::squash::run(&settings, &a.to, a.apply, &mut io).await,
            Command::New(a) => commands::new::run(&settings, &a.name, &mut io),
            Command::Fresh(a) => {
                commands::fresh::run(&settings, a.confirm.as_deref(), &mut io).await
            }
            Command::Dev(_) => unreachable!("handled above"),
            Command::Schema(a) => match a.action {
                cli::SchemaAction::Dump { format } => commands::schema::dump(&settings, &format, &mut io).await,
                cli::SchemaAction::Diff { a, b, scratch } => commands::schema::diff(&settings, &a, &b, scratch.scratch_url.as_deref(), &mut io).await,
            },
            Command::Stats => commands::schema::stats(&settings, &mut io).await,
            Command::Verify(a) => commands::verify::verify(&settings, a.from.as_deref(), a.with_data, a.scratch.scratch_url.as_deref(), &mut io).await,
            Command::Lint(a) => commands::lint::run(&settings, &a, &mut io).await,
            Command::Drift(a) => commands::verify::drift(&settings, a.scratch_url.as_deref(), &mut io).await,
        }
    })
}
