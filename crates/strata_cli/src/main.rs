//! The `strata` binary: parse arguments, resolve settings, call the library, render, exit.
//!
//! Exit codes: 0 success or nothing to do; 1 findings (pending or drifted migrations under
//! `--check`, `validate` failures); 2 errors (bad input, failed migration, unreachable
//! database), crashes included; 141 when the reader of stdout went away. Errors print their
//! whole cause chain to stderr, with every known password masked.

mod cli;
mod commands;
mod config;
mod dev;
mod lint_setup;
mod render;
mod run;

use clap::Parser;
use cli::{Cli, Command};
use commands::{exit, Io};
use std::io::Write;
use std::sync::{Mutex, PoisonError};
use strata_plan::Target;

fn main() {
    install_crash_report();
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    remember_secrets(secrets(&args, &|k| std::env::var(k).ok()));
    // Debug builds only: a way for the CLI tests to check the crash report end to end.
    #[cfg(debug_assertions)]
    if let Ok(message) = std::env::var("STRATA_TEST_PANIC") {
        panic!("{message}");
    }
    let cli = Cli::parse();
    let json = cli.global.json;
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr();
    let code = match run(cli, &mut stdout, &mut stderr) {
        Ok(code) => code,
        // The reader went away (`strata status | head -1`): nothing to say, and nobody to say
        // it to on stdout. 141 is what a shell reports for a process killed by SIGPIPE, which
        // Rust programs ignore, so that the writes fail with EPIPE instead.
        Err(e) if is_broken_pipe(&e) => exit::BROKEN_PIPE,
        Err(e) => {
            let secrets = known_secrets();
            let causes: Vec<String> = e
                .chain()
                .skip(1)
                .map(|c| strata_pg::scrub(&c.to_string(), &secrets))
                .collect();
            let message = strata_pg::scrub(&e.to_string(), &secrets);
            if json {
                let doc = strata_engine::documents::ErrorDocument {
                    error: strata_engine::documents::ErrorBody {
                        message: message.clone(),
                        causes: causes.clone(),
                    },
                };
                let _ = render::print_json(&mut stdout, &doc);
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

/// True when the error comes from writing to a pipe whose reader has exited.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Every password strata was given, for the error printer and the crash report, which runs
/// where `main`'s locals are out of reach.
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn remember_secrets(found: Vec<String>) {
    let mut all = SECRETS.lock().unwrap_or_else(PoisonError::into_inner);
    for s in found {
        if !all.contains(&s) {
            all.push(s);
        }
    }
}

fn known_secrets() -> Vec<String> {
    SECRETS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// A panic is a bug, but the report of it must still not leak a password (a panic message can
/// quote anything), must be short, and must end the process with strata's error code rather
/// than Rust's 101. Exiting from the hook also means no destructor runs after a broken
/// invariant: an open transaction is rolled back by the server when the connection drops.
fn install_crash_report() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".into());
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_else(|| "an unknown place".into());
        // `try_lock`: the panic may have happened while this thread held the lock. Without the
        // secrets the message cannot be scrubbed, so it is left out.
        let text = match SECRETS.try_lock() {
            Ok(secrets) => crash_report(Some(&message), &location, &secrets),
            Err(std::sync::TryLockError::Poisoned(p)) => {
                crash_report(Some(&message), &location, &p.into_inner())
            }
            Err(std::sync::TryLockError::WouldBlock) => crash_report(None, &location, &[]),
        };
        let _ = writeln!(std::io::stderr(), "{text}");
        std::process::exit(exit::ERROR);
    }));
}

/// The one line a crash prints.
fn crash_report(message: Option<&str>, location: &str, secrets: &[String]) -> String {
    let message = message.map_or_else(
        || "(message withheld)".to_owned(),
        |m| strata_pg::scrub(m, secrets),
    );
    format!(
        "error: strata crashed (a bug): {message} at {}; nothing more was changed; please report it",
        strata_pg::scrub(location, secrets)
    )
}

/// Every password strata may have been given: in `--database-url` and `--scratch-url` (or
/// their `STRATA_` variables), `DATABASE_URL` and `PGPASSWORD`, so no error text can carry one
/// (a last line of defence: messages are written not to contain them in the first place). Read
/// from the raw arguments, before they are parsed, so that even a crash while parsing them is
/// covered. Secrets shorter than 3 bytes are left out: masking every `a` would make messages
/// unreadable.
fn secrets(args: &[String], env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    const FLAGS: [&str; 2] = ["--database-url", "--scratch-url"];
    let mut urls = Vec::new();
    let mut rest = args.iter().skip(1);
    while let Some(arg) = rest.next() {
        if FLAGS.contains(&arg.as_str()) {
            urls.extend(rest.next().cloned());
        } else if let Some((flag, url)) = arg.split_once('=') {
            if FLAGS.contains(&flag) {
                urls.push(url.to_owned());
            }
        } else if arg == "--" {
            break;
        }
    }
    urls.extend(
        ["STRATA_DATABASE_URL", "DATABASE_URL", "STRATA_SCRATCH_URL"]
            .into_iter()
            .filter_map(env),
    );
    let mut out: Vec<String> = urls.iter().flat_map(|u| strata_pg::secrets_in(u)).collect();
    out.extend(env("PGPASSWORD"));
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
    let config::Resolved { mut settings, db } = if names_its_own_input {
        config::resolve_sets(&cli.global, &cwd, &env, false)?
    } else {
        config::resolve(&cli.global, &cwd, &env)?
    };
    // strata.toml may name the database too.
    if let config::DbTarget::Url(url) = &db {
        let mut found = strata_pg::secrets_in(url);
        found.retain(|s| s.len() >= 3);
        remember_secrets(found);
    }
    match &cli.command {
        Command::Up(a) => {
            if a.no_lint {
                settings.lint.on_up = Some(false);
            }
            settings.ignore_foreign = a.ignore_foreign;
        }
        Command::Goto(a) => settings.ignore_foreign = a.ignore_foreign,
        _ => {}
    }
    // The engine's notes (the dev cluster, a wait for the lock) go to stderr as they happen.
    let ctx = strata_engine::Ctx::new(settings)
        .with_secrets(known_secrets())
        .with_notes(|line| {
            // Not `eprintln!`: it panics when stderr is closed.
            let _ = writeln!(std::io::stderr(), "{line}");
        });
    let settings = &ctx.settings;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Up(a) => {
                run::run(
                    &ctx,
                    &db,
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
                run::run(
                    &ctx,
                    &db,
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
            Command::Redo(a) => run::run(&ctx, &db, Target::Redo, a.dry_run, &mut io).await,
            Command::Goto(a) => {
                run::run(&ctx, &db, Target::Goto(a.target), a.dry_run, &mut io).await
            }
            Command::Status(a) => commands::status::run(&ctx, &db, a.check, &mut io).await,
            Command::Validate => commands::validate::run(&ctx, &db, &mut io).await,
            Command::Baseline(a) => {
                commands::baseline::run(&ctx, &db, &a.target, a.dry_run, &mut io).await
            }
            Command::Repair(a) => {
                if settings.sets.len() > 1 {
                    anyhow::bail!("repair acts on one set; choose it with --set NAME");
                }
                if a.resume {
                    run::run(&ctx, &db, Target::Up { to: Some(a.target), steps: None }, a.dry_run, &mut io).await
                } else {
                    let Some(reason) = a.reason.as_deref().filter(|r| !r.trim().is_empty()) else {
                        anyhow::bail!("say why with --reason \"...\": the decision is recorded with who made it and why");
                    };
                    let target = Target::Mark { version: a.target, applied: a.mark_applied };
                    run::run_with_reason(&ctx, &db, target, a.dry_run, Some(reason), &mut io).await
                }
            }
            Command::Accept(a) => {
                if settings.sets.len() > 1 {
                    anyhow::bail!("accept acts on one set; choose it with --set NAME");
                }
                if a.reason.trim().is_empty() {
                    anyhow::bail!("say why with --reason \"...\": the decision is recorded with who made it and why");
                }
                run::run_with_reason(&ctx, &db, Target::Accept(a.target), a.dry_run, Some(&a.reason), &mut io).await
            }
            Command::Adopt(a) if a.from_set.is_some() => {
                let old = a.from_set.as_deref().unwrap_or_default();
                commands::adopt::from_set(&ctx, &db, old, a.apply, &mut io).await
            }
            Command::Adopt(a) if a.infer => commands::adopt::infer(&ctx, &db, a.apply, &mut io).await,
            Command::Adopt(a) => commands::adopt::run(&ctx, &db, a.tool.as_deref(), a.apply, &mut io).await,
            Command::Renumber(a) => commands::renumber::run(&ctx, &db, a.apply, &mut io).await,
            Command::Squash(a) => commands::squash::run(&ctx, &a.to, a.apply, &mut io).await,
            Command::New(a) => commands::new::run(settings, &a.name, &mut io),
            Command::Fresh(a) => {
                commands::fresh::run(&ctx, &db, a.confirm.as_deref(), &mut io).await
            }
            Command::Dev(_) => unreachable!("handled above"),
            Command::Schema(a) => match a.action {
                cli::SchemaAction::Dump { format } => commands::schema::dump(&ctx, &db, &format, &mut io).await,
                cli::SchemaAction::Diff { a, b, scratch } => commands::schema::diff(&ctx, &db, &a, &b, scratch.scratch_url.as_deref(), &mut io).await,
            },
            Command::Stats => commands::schema::stats(&ctx, &db, &mut io).await,
            Command::Verify(a) => commands::verify::verify(&ctx, a.from.as_deref(), a.with_data, a.scratch.scratch_url.as_deref(), &mut io).await,
            Command::Lint(a) => commands::lint::run(&ctx, &db, &a, &mut io).await,
            Command::Drift(a) => commands::verify::drift(&ctx, &db, a.scratch_url.as_deref(), &mut io).await,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn secrets_come_from_flags_and_variables() {
        let env = env_of(&[
            ("DATABASE_URL", "postgres://u:from-env@h/db"),
            ("STRATA_SCRATCH_URL", "host=h password='scratch pw'"),
            ("PGPASSWORD", "pgpw"),
        ]);
        let found = secrets(
            &args(&[
                "strata",
                "--database-url",
                "postgres://u:S3cret%2é@h/db",
                "--scratch-url=postgres://u:p%40ss@h/db",
                "status",
            ]),
            &env,
        );
        for expected in [
            "S3cret%2é",
            "p%40ss",
            "p@ss",
            "from-env",
            "scratch pw",
            "pgpw",
        ] {
            assert!(found.iter().any(|s| s == expected), "{expected}: {found:?}");
        }
        // Too short to mask without wrecking messages.
        let found = secrets(
            &args(&["strata", "--database-url=postgres://u:ab@h/db"]),
            &env_of(&[]),
        );
        assert!(found.is_empty(), "{found:?}");
        // After `--`, arguments are not flags.
        let found = secrets(
            &args(&["strata", "--", "--database-url", "postgres://u:S3cret@h/db"]),
            &env_of(&[]),
        );
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn crash_reports_are_scrubbed() {
        let secrets = vec!["S3cret".to_owned(), "S3cret%2é".to_owned()];
        let report = crash_report(
            Some("byte index 9 is not a char boundary; it is inside 'é' of `S3cret%2é`"),
            "crates/strata_pg/src/conn.rs:10:5",
            &secrets,
        );
        assert_eq!(
            report,
            "error: strata crashed (a bug): byte index 9 is not a char boundary; it is inside 'é' of `***` at crates/strata_pg/src/conn.rs:10:5; nothing more was changed; please report it"
        );
        assert!(!crash_report(None, "x.rs:1:1", &secrets).contains("S3cret"));
        assert!(crash_report(None, "x.rs:1:1", &secrets).contains("(message withheld)"));
    }

    #[test]
    fn broken_pipes_are_recognised_through_context() {
        let pipe = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let e = anyhow::Error::from(pipe).context("writing the status table");
        assert!(is_broken_pipe(&e));
        let other = anyhow::Error::from(std::io::Error::from(std::io::ErrorKind::NotFound));
        assert!(!is_broken_pipe(&other));
    }
}
