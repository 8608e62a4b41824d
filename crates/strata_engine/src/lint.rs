//! `lint`: what to lint and what only the outside world knows about it.
//!
//! The linter itself is pure (`strata_lint`); this module decides what to lint (the selected
//! sets, paths, `--since`, `--pending`) and feeds it what only the outside world knows (git,
//! the database's history, version and table sizes). The lint gate in front of `up` is
//! [`crate::gate`]; rendering the report is the front end's.

use crate::ctx::Ctx;
use crate::error::EngineError;
use crate::gate::{attach_sizes, duration_ms, lint_with_catalog, major_version, measure};
use crate::settings::DbTarget;
use crate::settings::Settings;
use crate::{database, load, plan};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use strata_lint::{Options, Report, Unit};
use strata_model::Migration;
use strata_pg::Registry;
use strata_plan::{State, Target};

/// What to lint.
#[derive(Debug, Clone, Default)]
pub struct LintRequest {
    /// Files and directories to lint; empty: the selected sets.
    pub paths: Vec<PathBuf>,
    /// Only the migrations added since this git commit, branch or tag.
    pub since: Option<String>,
    /// The migrations the database has not applied, as `up` would apply them (with its
    /// catalog: table sizes, existing columns).
    pub pending: bool,
    /// Ask the database for its major version (with `pending`, unless a version was given).
    pub detect_version: bool,
}

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

/// Lints what `request` names with the options `base` (rule levels, target version; each
/// set's timeouts are its own). With `pending`, `say` receives lines about the database (the
/// dev cluster) and the findings are ranked by impact with the tables' sizes attached.
pub async fn lint(
    ctx: &Ctx,
    db: &DbTarget,
    request: &LintRequest,
    mut base: Options,
) -> Result<Report, EngineError> {
    let settings = &ctx.settings;
    let say: &mut (dyn FnMut(&str) + Send) = &mut ctx.notes();
    let mut groups = if request.pending {
        Vec::new() // built from the database's history below
    } else if request.paths.is_empty() {
        load::load_sets(settings)?
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
        groups_for_paths(settings, &request.paths)?
    };

    if let Some(reference) = &request.since {
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
    if request.pending {
        let mut sets = load::load_sets(settings)?;
        let db = database::database(db, settings, say)?;
        let session = database::connect(&db).await?;
        let registry = Registry::new(&settings.registry_schema);
        for set in &mut sets {
            let (_, plan) =
                plan::plan_set(&session, &registry, set, &Target::Status, settings).await?;
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
        if request.detect_version {
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
    Ok(report)
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
fn groups_for_paths(settings: &Settings, paths: &[PathBuf]) -> Result<Vec<Group>, EngineError> {
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
    let load = |dir: &Path| -> Result<strata_source::MigrationSet, EngineError> {
        let spec = configured(dir);
        let mut set = match spec {
            Some(spec) => load::load_spec(spec),
            None => strata_source::load_dir(dir, None),
        }?;
        load::render_placeholders(
            &mut set,
            spec.map_or(&settings.placeholders, |s| &s.placeholders),
            spec.and_then(|s| s.placeholder_syntax.as_ref()),
        )?;
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
        let file = canonical(path).ok_or_else(|| EngineError::NoSuchPath {
            path: path.to_owned(),
        })?;
        // Only a directory that loads as a set gives the file its context; a broken sibling
        // must not stop the file from being linted alone. Placeholders it cannot render are
        // an error, as they are for the directory.
        let in_set = match file.parent().and_then(|dir| {
            match configured(dir) {
                Some(spec) => load::load_spec(spec),
                None => strata_source::load_dir(dir, None),
            }
            .ok()
        }) {
            Some(mut set) => {
                let dir = file.parent().expect("loaded from it").to_owned();
                let spec = configured(&dir);
                let values = spec.map_or(&settings.placeholders, |s| &s.placeholders);
                load::render_placeholders(
                    &mut set,
                    values,
                    spec.and_then(|s| s.placeholder_syntax.as_ref()),
                )?;
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
) -> Result<Migration, EngineError> {
    let bytes = std::fs::read(file).map_err(|source| EngineError::Read {
        path: path.to_owned(),
        source,
    })?;
    let source = strata_model::SourceFile::from_bytes(path.to_owned(), &bytes).map_err(|at| {
        EngineError::NotUtf8 {
            path: path.to_owned(),
            at,
        }
    })?;
    let directives =
        strata_sql::parse_directives(source.text(), 1).map_err(|e| EngineError::Directive {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
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
    load::render_placeholders(&mut set, values, None)?;
    Ok(set.migrations.pop().expect("one migration"))
}

/// Files added since `reference` (committed, staged or not yet tracked), as canonical paths.
fn files_added_since(root: &Path, reference: &str) -> Result<HashSet<PathBuf>, EngineError> {
    let git = |args: &[&str]| -> Result<String, EngineError> {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .output()
            .map_err(|source| EngineError::GitMissing { source })?;
        if !out.status.success() {
            return Err(EngineError::Git {
                command: args.join(" "),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    git(&[
        "rev-parse",
        "--verify",
        "--quiet",
        &format!("{reference}^{{commit}}"),
    ])
    .map_err(|source| EngineError::SinceNotACommit {
        reference: reference.to_owned(),
        source: Box::new(source),
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
