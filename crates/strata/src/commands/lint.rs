//! `strata lint`, and the lint gate in front of `up`.
//!
//! The linter itself is pure (`strata_lint`); this module decides what to lint (configured
//! sets, paths, `--since`, `--pending`), feeds it what only the outside world knows (git,
//! the database's history, version and table sizes) and renders the report.

use super::{exit, Io};
use crate::app::{self, LoadedSet};
use crate::cli::LintArgs;
use crate::config::Settings;
use anyhow::{bail, Context, Result};
use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use strata_engine::gate::{attach_sizes, duration_ms, lint_with_catalog, major_version, measure};
use strata_lint::{Level, Options, Report, Unit};
use strata_model::Migration;
use strata_pg::Registry;
use strata_plan::{State, Target};

/// One group of migrations linted together (their schema state flows from one to the next).
struct Group {
    migrations: Vec<Migration>,
    /// Per migration: known not to be applied (its tables are new for the later ones).
    pending: Vec<bool>,
    /// Per migration: findings are reported.
    report: Vec<bool>,
    /// strata's lock_timeout for this set, in ms.
    lock_timeout_ms: u64,
    /// strata's statement_timeout for this set, in ms.
    statement_timeout_ms: u64,
}

/// Runs `strata lint`.
pub async fn run(settings: &Settings, args: &LintArgs, io: &mut Io<'_>) -> Result<i32> {
    if let Some(name) = &args.explain {
        let Some(rule) = strata_lint::find_rule(name) else {
            bail!("{}", unknown_rule(name));
        };
        write!(io.out, "{}", rule.docs)?;
        return Ok(exit::OK);
    }
    let mut base = options(settings, args.pg_version, &args.rules)?;
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

    let mut groups = if args.pending {
        Vec::new() // built from the database's history below
    } else if args.paths.is_empty() {
        app::load_sets(settings)?
            .into_iter()
            .map(|set| {
                let n = set.migrations().len();
                Group {
                    lock_timeout_ms: duration_ms(&set.spec.lock_timeout, 5_000),
                    statement_timeout_ms: duration_ms(&set.spec.statement_timeout, 0),
                    migrations: set.set.migrations,
                    pending: vec![false; n],
                    report: vec![true; n],
                }
            })
            .collect()
    } else {
        groups_for_paths(settings, &args.paths)?
    };

    if let Some(reference) = &args.since {
        let added = files_added_since(&settings.project_root, reference)?;
        for g in &mut groups {
            for (i, m) in g.migrations.iter().enumerate() {
                let new = canonical(m.path()).is_some_and(|p| added.contains(&p));
                g.pending[i] = new;
                g.report[i] &= new;
            }
        }
    }

    let mut sizes_from = None;
    if args.pending {
        let mut sets = app::load_sets(settings)?;
        let err = &mut *io.err;
        let mut say = |m: &str| {
            let _ = writeln!(err, "{m}");
        };
        let db = app::database(settings, &mut say)?;
        let session = app::connect(&db).await?;
        let registry = Registry::new(&settings.registry_schema);
        for set in &mut sets {
            let (_, plan) =
                app::plan_set(&session, &registry, set, &Target::Status, settings).await?;
            let n = set.migrations().len();
            let mut pending = vec![false; n];
            let mut report_it = vec![false; n];
            for e in &plan.entries {
                if let Some(i) = e.local {
                    // A part-way migration's completed statements did create their objects.
                    pending[i] =
                        matches!(e.state, State::Pending | State::OutOfOrder | State::Failed);
                    report_it[i] = pending[i] || e.state == State::Partial;
                }
            }
            groups.push(Group {
                lock_timeout_ms: duration_ms(&set.spec.lock_timeout, 5_000),
                statement_timeout_ms: duration_ms(&set.spec.statement_timeout, 0),
                migrations: set.migrations().to_vec(),
                report: report_it,
                pending,
            });
        }
        if args.pg_version.is_none() && settings.lint.target_version.is_none() {
            base.target_version = major_version(&session).await?;
        }
        sizes_from = Some(session);
    }

    let options: Vec<Options> = groups
        .iter()
        .map(|g| {
            let mut options = base.clone();
            options.lock_timeout_ms = g.lock_timeout_ms;
            options.statement_timeout_ms = g.statement_timeout_ms;
            options
        })
        .collect();
    let units: Vec<Vec<Unit<'_>>> = groups.iter().map(units_of).collect();
    let parts: Vec<(&[Unit<'_>], &Options)> = units
        .iter()
        .zip(&options)
        .map(|(u, o)| (u.as_slice(), o))
        .collect();
    let parts_reports = match &sizes_from {
        // The sets of the database's pending run, as `up` would apply them: one after another.
        Some(session) => {
            let first = strata_lint::lint_run(&parts);
            let mut reports = lint_with_catalog(session, &parts, first).await?;
            measure(session, &mut reports).await?;
            reports
        }
        // Independent groups: each its own schema.
        None => parts.iter().map(|(u, o)| strata_lint::lint(u, o)).collect(),
    };
    let mut report = Report::default();
    for part in parts_reports {
        report.scripts += part.scripts;
        report.statements += part.statements;
        report.findings.extend(part.findings);
    }
    if let Some(session) = &sizes_from {
        attach_sizes(session, &mut report).await?;
        report.rank_by_impact();
    }
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

/// Whether findings written to `stream` get ANSI colours: only on a terminal, and never when
/// `NO_COLOR` is set (to anything, even empty).
// why not a crate: `anstream`'s automatic choice (through `anstyle-query`) also honours
// `CLICOLOR_FORCE` (colour into a pipe), `CLICOLOR=0` and `TERM=dumb`, and ignores an empty
// `NO_COLOR`, so the same command would print different bytes than it always has; and the
// colours come from `annotate-snippets`' own renderer into a writer the caller gives, not from a
// stream anstream could wrap. Adopting those conventions is a behaviour change to decide apart.
fn colour_for(stream: &impl IsTerminal) -> bool {
    colour_when(
        stream.is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    )
}

fn colour_when(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none()
}

/// Shows paths relative to the working directory, as compilers do, so they are short and
/// clickable in terminals and CI logs.
fn relative_paths(report: &mut Report) {
    let Ok(cwd) = std::env::current_dir() else {
        return;
    };
    for f in &mut report.findings {
        if let Ok(rel) = f.file.strip_prefix(&cwd) {
            f.file = rel.to_path_buf();
        }
    }
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

/// The linter's options from strata.toml and the flags `--pg-version` and `--rule` (a
/// connection may refine the version; each set's timeouts are its own).
fn options(settings: &Settings, pg_version: Option<u32>, rule_flags: &[String]) -> Result<Options> {
    let mut options = Options::default();
    if let Some(v) = pg_version.or(settings.lint.target_version) {
        options.target_version = v;
    }
    for (name, level) in &settings.lint.rules {
        let parsed = Level::parse(level).with_context(|| {
            format!("[lint.rules] {name} = \"{level}\" in strata.toml: the level must be \"off\", \"warning\" or \"error\"")
        })?;
        options
            .set_level(name, parsed)
            .context("[lint.rules] in strata.toml")?;
    }
    for spec in rule_flags {
        let Some((name, level)) = spec.split_once('=') else {
            bail!("--rule {spec}: write it as --rule <rule>=<off|warning|error>");
        };
        let parsed = Level::parse(level)
            .with_context(|| format!("--rule {spec}: the level must be off, warning or error"))?;
        options
            .set_level(name.trim(), parsed)
            .with_context(|| format!("--rule {spec}"))?;
    }
    Ok(options)
}

fn units_of(g: &Group) -> Vec<Unit<'_>> {
    g.migrations
        .iter()
        .enumerate()
        // A code migration (goose `.go`, Flyway `.java`) is not SQL to lint.
        .filter(|(_, m)| m.code_language().is_none())
        .map(|(i, m)| Unit {
            name: m.id.registry_key(),
            script: &m.up,
            pending: g.pending[i],
            report: g.report[i],
        })
        .collect()
}

fn canonical(path: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(path).ok()
}

/// Directories are loaded as sets; a file is linted in the context of its directory's set
/// (when the directory is one) with only that file reported. Placeholders are rendered as
/// `strata --dir DIR lint` renders them: the values of the `[[set]]` with that directory, else
/// the file's `[placeholders]`, then `--var`.
fn groups_for_paths(settings: &Settings, paths: &[PathBuf]) -> Result<Vec<Group>> {
    // A configured set's directory, or one of the locations of a set kept in several (which
    // is linted as that whole set).
    let configured = |dir: &Path| {
        let wanted = canonical(dir);
        settings.sets.iter().find(|s| {
            wanted.is_some()
                && if s.locations.is_empty() {
                    canonical(&s.dir) == wanted
                } else {
                    s.locations.iter().any(|l| canonical(l) == wanted)
                }
        })
    };
    let load = |dir: &Path| -> Result<strata_source::MigrationSet> {
        let spec = configured(dir);
        let mut set = match spec {
            Some(spec) => app::load_spec(spec),
            None => strata_source::load_dir(dir, None),
        }
        .map_err(anyhow::Error::msg)?;
        app::render_placeholders(
            &mut set,
            spec.map_or(&settings.placeholders, |s| &s.placeholders),
            spec.and_then(|s| s.placeholder_syntax.as_ref()),
        )
        .map_err(anyhow::Error::msg)?;
        Ok(set)
    };
    let mut groups = Vec::new();
    for path in paths {
        let spec = configured(path)
            .or_else(|| path.parent().and_then(configured))
            .or(settings.sets.first());
        let lock_timeout = spec.map_or(5_000, |s| duration_ms(&s.lock_timeout, 5_000));
        let statement_timeout = spec.map_or(0, |s| duration_ms(&s.statement_timeout, 0));
        if path.is_dir() {
            let set = load(path)?;
            let n = set.migrations.len();
            groups.push(Group {
                migrations: set.migrations,
                pending: vec![false; n],
                report: vec![true; n],
                lock_timeout_ms: lock_timeout,
                statement_timeout_ms: statement_timeout,
            });
            continue;
        }
        let file = canonical(path)
            .with_context(|| format!("{}: no such file or directory", path.display()))?;
        // Only a directory that loads as a set gives the file its context; a broken sibling
        // must not stop the file from being linted alone. Placeholders it cannot render are
        // an error, as they are for the directory.
        let in_set = match file.parent().and_then(|dir| {
            match configured(dir) {
                Some(spec) => app::load_spec(spec),
                None => strata_source::load_dir(dir, None),
            }
            .ok()
        }) {
            Some(mut set) => {
                let dir = file.parent().expect("loaded from it").to_owned();
                let spec = configured(&dir);
                let values = spec.map_or(&settings.placeholders, |s| &s.placeholders);
                app::render_placeholders(
                    &mut set,
                    values,
                    spec.and_then(|s| s.placeholder_syntax.as_ref()),
                )
                .map_err(anyhow::Error::msg)?;
                set.migrations
                    .iter()
                    .position(|m| canonical(m.path()).as_deref() == Some(file.as_path()))
                    .map(|index| (set, index))
            }
            None => None,
        };
        match in_set {
            Some((set, index)) => {
                let n = set.migrations.len();
                groups.push(Group {
                    migrations: set.migrations,
                    pending: vec![false; n],
                    report: (0..n).map(|i| i == index).collect(),
                    lock_timeout_ms: lock_timeout,
                    statement_timeout_ms: statement_timeout,
                });
            }
            None => {
                let migration = lone_file(path, &file, &settings.placeholders)?;
                groups.push(Group {
                    migrations: vec![migration],
                    pending: vec![false],
                    report: vec![true],
                    lock_timeout_ms: lock_timeout,
                    statement_timeout_ms: statement_timeout,
                });
            }
        }
    }
    Ok(groups)
}

/// A file that belongs to no set, as one migration (placeholders rendered when values are
/// given: no layout says the file is a template otherwise).
fn lone_file(
    path: &Path,
    file: &Path,
    values: &std::collections::BTreeMap<String, String>,
) -> Result<Migration> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", path.display()))?;
    let source = strata_model::SourceFile::from_bytes(path.to_owned(), &bytes).map_err(|at| {
        anyhow::anyhow!("{}:{}:{}: not valid UTF-8", path.display(), at.line, at.col)
    })?;
    let directives = strata_sql::parse_directives(source.text(), 1)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let source = std::sync::Arc::new(source);
    let migration = Migration {
        id: strata_model::MigrationId {
            version: None,
            name: path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            shared_version: false,
        },
        kind: strata_model::MigrationKind::Versioned,
        checksum: source.checksum().clone(),
        up: strata_model::Script::whole(source, directives),
        down: None,
        verify: None,
    };
    let mut set = strata_source::MigrationSet {
        dir: file.parent().map(Path::to_owned).unwrap_or_default(),
        detection: strata_source::Detection {
            layout: strata_source::LayoutKind::Plain,
            reason: "a single file".into(),
        },
        migrations: vec![migration],
        ignored: Vec::new(),
        warnings: Vec::new(),
        sqitch: None,
    };
    app::render_placeholders(&mut set, values, None).map_err(anyhow::Error::msg)?;
    Ok(set.migrations.pop().expect("one migration"))
}

/// Files added since `reference` (committed, staged or not yet tracked), as canonical paths.
fn files_added_since(root: &Path, reference: &str) -> Result<HashSet<PathBuf>> {
    let git = |args: &[&str]| -> Result<String> {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .output()
            .context("cannot run git (needed for --since)")?;
        if !out.status.success() {
            bail!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    git(&[
        "rev-parse",
        "--verify",
        "--quiet",
        &format!("{reference}^{{commit}}"),
    ])
    .with_context(|| {
        format!("--since {reference}: not a commit, branch or tag in this repository")
    })?;
    let top = PathBuf::from(git(&["rev-parse", "--show-toplevel"])?.trim());
    // NUL-separated and unquoted, so names with spaces or non-ASCII letters come through.
    let mut names = git(&[
        "-c",
        "core.quotePath=false",
        "diff",
        "-z",
        "--name-only",
        "--diff-filter=A",
        "--no-renames",
        reference,
        "--",
    ])?;
    names.push_str(&git(&[
        "-c",
        "core.quotePath=false",
        "ls-files",
        "-z",
        "--others",
        "--exclude-standard",
        "--full-name",
    ])?);
    Ok(names
        .split('\0')
        .filter(|l| !l.is_empty())
        .filter_map(|l| canonical(&top.join(l)))
        .collect())
}

/// How many findings the gate prints; the rest are counted (`strata lint --pending` lists
/// them all), so a refusal over a long pending list stays readable.
const GATE_SHOWN: usize = 10;

/// The gate in front of `up`: lints the migrations the plans of all sets are about to apply,
/// in the order they will run (a table an earlier set creates is new for the later ones; the
/// applied history is not re-read), and returns the exit code to stop with when a finding
/// stops the run (see [`strata_lint::apply_gate`]): a lock or rewrite on a table that existed
/// before the run and is at least `[lint] gate_min_table_size`, data loss, or a rule the
/// configuration explicitly set to `error`. Errors that do not stop it here are printed as
/// warnings. Runs under the migration lock, after planning, so it sees exactly what will run,
/// before anything is applied; `--no-lint` or `[lint] on_up = false` turn it off.
pub async fn gate_sets(
    settings: &Settings,
    session: &strata_pg::Session,
    sets: &[LoadedSet],
    plans: &[strata_plan::Plan],
    io: &mut Io<'_>,
) -> Result<Option<i32>> {
    if settings.lint.on_up == Some(false) {
        return Ok(None);
    }
    if !strata_engine::gate::applies_anything(plans) {
        return Ok(None);
    }
    let base = options(settings, None, &[])?;
    let Some(gate) = strata_engine::gate::check(settings, session, sets, plans, base).await? else {
        return Ok(None);
    };
    let strata_engine::gate::Gate {
        mut blocking,
        mut passed,
        blocked_set,
    } = gate;
    let color = colour_for(&std::io::stderr());
    let Some(set_name) = blocked_set.as_deref() else {
        if !passed.findings.is_empty() && !settings.json && !settings.quiet {
            passed.rank_by_impact();
            relative_paths(&mut passed);
            write!(
                io.err,
                "{}",
                strata_lint::render_text_capped(
                    &passed,
                    color,
                    GATE_SHOWN,
                    "`strata lint --pending` lists them all"
                )
            )?;
            writeln!(io.err, "strata: the warnings above do not stop `up` here")?;
        }
        return Ok(None);
    };
    attach_sizes(session, &mut blocking).await?;
    blocking.rank_by_impact();
    relative_paths(&mut blocking);
    if settings.json {
        writeln!(
            io.out,
            "{}",
            serde_json::json!({"refused": "lint", "set": set_name, "lint": strata_lint::render_json(&blocking)})
        )?;
    } else {
        write!(
            io.err,
            "{}",
            strata_lint::render_text_capped(
                &blocking,
                color,
                GATE_SHOWN,
                "`strata lint --pending` lists them all"
            )
        )?;
        let rule = blocking.findings.first().map_or("<rule>", |f| f.rule);
        writeln!(
            io.err,
            "strata: not applying set `{set_name}`: the linter found {} error(s) in the pending migrations that stop `up` (locks or rewrites of tables of {} or more, data loss, or rules set to \"error\")\n\
             strata: fix them, or override: put `-- strata:allow {rule} <reason>` on the line above the statement, or run `strata up --no-lint` to skip the linter for this run",
            blocking.errors(),
            strata_model::format_byte_size(settings.gate_min_table_bytes),
        )?;
    }
    Ok(Some(exit::FINDINGS))
}

#[cfg(test)]
mod colour_tests {
    use super::colour_when;
    use std::ffi::OsStr;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        // Golden behaviour: any NO_COLOR, even empty, turns colours off; a pipe never has them.
        assert!(colour_when(true, None));
        assert!(!colour_when(true, Some(OsStr::new("1"))));
        assert!(!colour_when(true, Some(OsStr::new(""))));
        assert!(!colour_when(false, None));
        assert!(!colour_when(false, Some(OsStr::new("1"))));
    }
}
