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
use strata_lint::{Level, Options, Report, Unit};
use strata_model::Migration;
use strata_pg::Registry;
use strata_plan::{State, Step, Target};

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

    let mut report = Report::default();
    for g in &groups {
        let mut options = base.clone();
        options.lock_timeout_ms = g.lock_timeout_ms;
        options.statement_timeout_ms = g.statement_timeout_ms;
        let units = units_of(g);
        let mut part = strata_lint::lint(&units, &options);
        if let Some(session) = &sizes_from {
            part = lint_with_catalog(session, &units, &options, part).await?;
        }
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
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            write!(io.out, "{}", strata_lint::render_text(&report, color))?;
        }
    }
    Ok(if report.errors() > 0 {
        exit::FINDINGS
    } else {
        exit::OK
    })
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

/// A set's timeout (as `pg_duration` wrote it) in milliseconds.
fn duration_ms(pg: &str, default: u64) -> u64 {
    strata_model::parse_duration_ms(pg).unwrap_or(default)
}

fn units_of(g: &Group) -> Vec<Unit<'_>> {
    g.migrations
        .iter()
        .enumerate()
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
/// (when the directory is one) with only that file reported.
fn groups_for_paths(settings: &Settings, paths: &[PathBuf]) -> Result<Vec<Group>> {
    let mut groups = Vec::new();
    for path in paths {
        let spec = settings
            .sets
            .iter()
            .find(|s| canonical(&s.dir).is_some() && canonical(&s.dir) == canonical(path))
            .or(settings.sets.first());
        let lock_timeout = spec.map_or(5_000, |s| duration_ms(&s.lock_timeout, 5_000));
        let statement_timeout = spec.map_or(0, |s| duration_ms(&s.statement_timeout, 0));
        if path.is_dir() {
            let set = strata_source::load_dir(path, None).map_err(anyhow::Error::msg)?;
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
        let in_set = file
            .parent()
            .and_then(|dir| strata_source::load_dir(dir, None).ok())
            .and_then(|set| {
                let index = set
                    .migrations
                    .iter()
                    .position(|m| canonical(m.path()).as_deref() == Some(file.as_path()))?;
                Some((set, index))
            });
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
                let bytes = std::fs::read(&file)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let source =
                    strata_model::SourceFile::from_bytes(path.clone(), &bytes).map_err(|at| {
                        anyhow::anyhow!(
                            "{}:{}:{}: not valid UTF-8",
                            path.display(),
                            at.line,
                            at.col
                        )
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
                    },
                    kind: strata_model::MigrationKind::Versioned,
                    checksum: source.checksum().clone(),
                    up: strata_model::Script::whole(source, directives),
                    down: None,
                    verify: None,
                };
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

async fn attach_sizes(session: &strata_pg::Session, report: &mut Report) -> Result<()> {
    let tables = report.tables();
    if tables.is_empty() {
        return Ok(());
    }
    let sizes = strata_pg::estimates::table_row_estimates(&session.client, &tables).await?;
    for f in &mut report.findings {
        f.table_rows = f.table_name.as_ref().and_then(|t| sizes.get(t)).copied();
    }
    Ok(())
}

/// Lints again knowing what the database has for the tables the first pass flagged and the
/// tables the reported migrations create (`IF NOT EXISTS` on an existing table creates
/// nothing): their column types, proven non-null columns and partitioning turn guesses into
/// facts.
async fn lint_with_catalog(
    session: &strata_pg::Session,
    units: &[Unit<'_>],
    options: &Options,
    first: Report,
) -> Result<Report> {
    let mut names = first.tables();
    for unit in units.iter().filter(|u| u.report) {
        let effects = strata_sql::objects::effects(&strata_sql::analyze(unit.script.sql()));
        for created in effects.created {
            if let strata_sql::objects::DbObject::Relation { schema, name } = created {
                names.push((schema, name));
            }
        }
    }
    names.sort();
    names.dedup();
    if names.is_empty() {
        return Ok(first);
    }
    let facts = strata_pg::estimates::table_facts(&session.client, &names).await?;
    let mut options = options.clone();
    options.catalog.tables = facts
        .into_iter()
        .map(|f| {
            let mut t = strata_lint::CatalogTable::new(f.schema, f.name);
            t.partitioned = f.partitioned;
            t.columns = f
                .columns
                .into_iter()
                .map(|(name, typname, typmod, array)| {
                    (
                        name,
                        strata_lint::ColType::from_catalog(&typname, typmod, array),
                    )
                })
                .collect();
            t.validated_not_null = f.proven_not_null;
            t
        })
        .collect();
    Ok(strata_lint::lint(units, &options))
}

/// Problems the executor refuses by itself, with an exit code of 2 and the server's own
/// position: the gate leaves them to it. The server is the authority on syntax (its version may
/// accept what the bundled parser does not), and a script that never commits is refused before
/// anything runs.
const ENFORCED_BY_EXECUTOR: &[&str] = &["syntax-error", "uncommitted-transaction"];

/// The server's major version (`15` for 15.4), which version-dependent rules read.
async fn major_version(session: &strata_pg::Session) -> Result<u32> {
    let num = strata_pg::exec::server_version(session).await?;
    Ok(u32::try_from(num / 10_000).unwrap_or(0))
}

/// A finding that stops `up`.
fn blocks(f: &strata_lint::Finding) -> bool {
    f.severity == strata_lint::Severity::Error && !ENFORCED_BY_EXECUTOR.contains(&f.rule)
}

/// [`gate`] for every set of a run, in order; the first refusal stops it.
pub async fn gate_sets(
    settings: &Settings,
    session: &strata_pg::Session,
    sets: &[LoadedSet],
    plans: &[strata_plan::Plan],
    io: &mut Io<'_>,
) -> Result<Option<i32>> {
    for (set, plan) in sets.iter().zip(plans) {
        if let Some(code) = gate(settings, session, set, &plan.steps, io).await? {
            return Ok(Some(code));
        }
    }
    Ok(None)
}

/// The gate in front of `up`: lints the migrations the plan is about to apply (with nothing
/// else parsed: the applied history is not re-read) and, when it finds errors, prints them and
/// returns the exit code to stop with. Runs under the migration lock, after planning, so it
/// sees exactly what will run; `--no-lint` or `[lint] on_up = false` turn it off.
async fn gate(
    settings: &Settings,
    session: &strata_pg::Session,
    set: &LoadedSet,
    steps: &[Step],
    io: &mut Io<'_>,
) -> Result<Option<i32>> {
    if settings.lint.on_up == Some(false) {
        return Ok(None);
    }
    let indexes: Vec<usize> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Apply {
                index,
                resume_from: 0,
                ..
            } => Some(*index),
            _ => None,
        })
        .collect();
    if indexes.is_empty() {
        return Ok(None);
    }
    let mut options = options(settings, None, &[])?;
    options.lock_timeout_ms = duration_ms(&set.spec.lock_timeout, 5_000);
    options.statement_timeout_ms = duration_ms(&set.spec.statement_timeout, 0);
    if settings.lint.target_version.is_none() {
        options.target_version = major_version(session).await?;
    }
    let units: Vec<Unit<'_>> = indexes
        .iter()
        .map(|&i| {
            let m = &set.migrations()[i];
            Unit {
                name: m.id.registry_key(),
                script: &m.up,
                pending: true,
                report: true,
            }
        })
        .collect();
    // On a worker thread: with glibc, memory a thread frees stays with that thread's arena, and
    // the arena of a finished thread is handed to the next new one, the executor's parsing
    // thread; linted on the main thread, the schema state of a long pending list would stay
    // resident next to what the executor allocates afterwards.
    let first = std::thread::scope(|scope| {
        scope
            .spawn(|| strata_lint::lint(&units, &options))
            .join()
            .map_err(|_| anyhow::anyhow!("the linter panicked; run with --no-lint and report it"))
    })?;
    if !first.findings.iter().any(blocks) {
        return Ok(None);
    }
    // Only when something would block: the pending migrations alone do not know the existing
    // tables' columns and constraints; the database does.
    let mut report = lint_with_catalog(session, &units, &options, first).await?;
    report.findings.retain(blocks);
    if report.errors() == 0 {
        return Ok(None);
    }
    attach_sizes(session, &mut report).await?;
    report.rank_by_impact();
    relative_paths(&mut report);
    if settings.json {
        writeln!(
            io.out,
            "{}",
            serde_json::json!({"refused": "lint", "set": set.spec.name, "lint": strata_lint::render_json(&report)})
        )?;
    } else {
        let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        write!(io.err, "{}", strata_lint::render_text(&report, color))?;
        writeln!(
            io.err,
            "strata: not applying set `{}`: the linter found {} error(s) in the pending migrations; fix them, suppress one with `-- strata:allow <rule> <reason>` above the statement, or run `strata up --no-lint`",
            set.spec.name,
            report.errors()
        )?;
    }
    Ok(Some(exit::FINDINGS))
}
