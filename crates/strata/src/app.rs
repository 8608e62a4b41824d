//! What every verb shares: loading the selected sets, connecting (or starting the dev
//! cluster), taking the lock, reading history and planning. Verbs differ only in the
//! [`Target`] they plan for and in how they render the result.

use crate::config::{DbTarget, SetSpec, Settings};
use anyhow::{Context, Result};
use strata_model::Migration;
use strata_pg::{ConnInfo, MigrationLock, Registry, Session};
use strata_plan::{ApplyReason, Plan, Policy, Step, Target};
use strata_source::MigrationSet;

/// A set with its files loaded.
pub struct LoadedSet {
    /// Configuration.
    pub spec: SetSpec,
    /// Files.
    pub set: MigrationSet,
}

impl LoadedSet {
    /// The migrations, in order.
    pub fn migrations(&self) -> &[Migration] {
        &self.set.migrations
    }
}

/// Loads every selected set, failing with all problems of all sets at once.
pub fn load_sets(settings: &Settings) -> Result<Vec<LoadedSet>> {
    load(settings, false)
}

/// Like [`load_sets`], for `up`, `down` and `status`: scripts that planning does not need
/// (applied migrations unchanged since the file cache saw them, down scripts) are not read;
/// [`plan_set`] reads the ones its plan uses. The file cache lives in the project's
/// `.strata/cache`; `STRATA_NO_FILE_CACHE=1` turns it off (every up script is then read, down
/// scripts still only when needed).
pub fn load_sets_deferred(settings: &Settings) -> Result<Vec<LoadedSet>> {
    load(settings, true)
}

fn load(settings: &Settings, deferred: bool) -> Result<Vec<LoadedSet>> {
    let cache_dir = settings.project_root.join(".strata").join("cache");
    let cache_on = std::env::var_os("STRATA_NO_FILE_CACHE").is_none_or(|v| v == "0");
    let mut loaded = Vec::new();
    let mut errors = Vec::new();
    for spec in &settings.sets {
        let set = if deferred {
            strata_source::load_dir_cached(
                &spec.dir,
                spec.layout,
                cache_on.then_some(cache_dir.as_path()),
            )
        } else {
            strata_source::load_dir(&spec.dir, spec.layout)
        };
        let rendered = set.and_then(|mut set| {
            // Flyway replaces `${...}` by default; other layouts only when values are given.
            let syntax = strata_source::Syntax {
                dollar_brace: set.detection.layout == strata_source::LayoutKind::Flyway
                    || !spec.placeholders.is_empty(),
                go_template: !spec.placeholders.is_empty(),
            };
            if syntax.dollar_brace || syntax.go_template {
                // Rendering rewrites every script's text, so every script is read.
                set.load_all()?;
                strata_source::render_placeholders(&mut set, &spec.placeholders, syntax)?;
            }
            Ok(set)
        });
        match rendered {
            Ok(set) => loaded.push(LoadedSet {
                spec: spec.clone(),
                set,
            }),
            Err(e) => errors.push(format!("set `{}`: {e}", spec.name)),
        }
    }
    if !errors.is_empty() {
        anyhow::bail!("{}", errors.join("\n"));
    }
    Ok(loaded)
}

/// The resolved database, with a note when strata chose the dev cluster.
pub struct Database {
    /// Connection target.
    pub info: ConnInfo,
    /// True when this is strata's own dev cluster.
    pub is_dev: bool,
}

/// Resolves the database, starting the dev cluster when nothing is configured.
pub fn database(settings: &Settings, say: &mut dyn FnMut(&str)) -> Result<Database> {
    let env = |k: &str| std::env::var(k).ok();
    match &settings.db {
        DbTarget::Url(url) => Ok(Database {
            info: ConnInfo::resolve(Some(url), &env)?,
            is_dev: crate::dev::is_dev_url(&settings.project_root, url),
        }),
        DbTarget::LibpqEnv => Ok(Database {
            info: ConnInfo::resolve(None, &env)?,
            is_dev: false,
        }),
        DbTarget::Dev => {
            let url = crate::dev::ensure_running(&settings.project_root)?;
            say(&format!(
                "no database configured (--database-url, DATABASE_URL or PGHOST/PGDATABASE): using strata's dev cluster in {} (database {})",
                crate::dev::dev_root(&settings.project_root).display(),
                crate::dev::DEV_DATABASE
            ));
            // The dev cluster is ours: only the URL counts, not the caller's PG* variables.
            let none = |_: &str| None;
            Ok(Database {
                info: ConnInfo::resolve(Some(&url), &none)?,
                is_dev: true,
            })
        }
    }
}

/// Connects.
pub async fn connect(db: &Database) -> Result<Session> {
    Ok(Session::connect(&db.info).await?)
}

/// Takes the migration lock, telling the user when it has to wait.
pub async fn lock(
    db: &Database,
    settings: &Settings,
    say: &mut dyn FnMut(&str),
) -> Result<MigrationLock> {
    let lock = MigrationLock::acquire(
        &db.info,
        &settings.registry_schema,
        settings.lock_wait,
        |holders| {
            let who: Vec<String> = holders
                .iter()
                .map(|h| format!("pid {} ({})", h.pid, h.application_name))
                .collect();
            say(&format!(
                "waiting for the migration lock, held by {} (up to {:?})",
                if who.is_empty() {
                    "another session".into()
                } else {
                    who.join(", ")
                },
                settings.lock_wait
            ));
        },
    )
    .await?;
    Ok(lock)
}

/// Reads history and plans one set, then reads the scripts the plan runs (a set loaded with
/// [`load_sets_deferred`] holds only checksums for the others).
pub async fn plan_set(
    session: &Session,
    registry: &Registry,
    set: &mut LoadedSet,
    target: &Target,
    settings: &Settings,
) -> Result<(Vec<strata_model::AppliedMigration>, Plan)> {
    plan_set_again(session, registry, set, target, settings, None).await
}

/// [`plan_set`] for a set planned before (for the same target, by a lock-free read): reads the
/// history again and, when it is row for row what the earlier plan was made from, returns that
/// plan instead of planning again. Planning is a pure function of the files and the history,
/// so the plan would be the same; this keeps "1 pending on a long history" from planning the
/// whole history twice. (Only the `failed` marks of pending entries, which come from the
/// events, may be older than the history; the executor does not use them.)
pub async fn plan_set_again(
    session: &Session,
    registry: &Registry,
    set: &mut LoadedSet,
    target: &Target,
    settings: &Settings,
    earlier: Option<(Vec<strata_model::AppliedMigration>, Plan)>,
) -> Result<(Vec<strata_model::AppliedMigration>, Plan)> {
    let applied = registry
        .read(&session.client, &set.spec.name)
        .await
        .with_context(|| format!("cannot read the history of set `{}`", set.spec.name))?;
    if let Some((before, plan)) = earlier {
        if before == applied {
            return Ok((applied, plan));
        }
    }
    // A part-way migration is checked statement by statement against its file (planner) and
    // shown with its journal (status): rare, so simply read everything then.
    if applied
        .iter()
        .any(|a| matches!(a.state, strata_model::AppliedState::Partial { .. }))
    {
        set.set.load_all()?;
    }
    let policy = Policy {
        allow_out_of_order: settings.allow_out_of_order,
    };
    let mut plan = strata_plan::plan(set.migrations(), &applied, target, &policy)
        .with_context(|| format!("set `{}`", set.spec.name))?;
    let wanted: Vec<(usize, strata_source::Part)> = plan
        .steps
        .iter()
        .filter_map(|step| match step {
            Step::Apply { index, .. } => Some((*index, strata_source::Part::Up)),
            Step::Revert { index, .. } => Some((*index, strata_source::Part::Down)),
            _ => None,
        })
        .collect();
    set.set.load_scripts(&wanted)?;
    let pending: Vec<String> = plan
        .entries
        .iter()
        .filter(|e| e.state == strata_plan::State::Pending)
        .map(|e| e.key.clone())
        .collect();
    let failures = registry
        .last_failures(&session.client, &set.spec.name, &pending)
        .await?;
    strata_plan::mark_failed(&mut plan, &failures);
    crate::sqitch::check_conflicts(set, &applied, &plan)?;
    Ok((applied, plan))
}

/// Execution options of a set.
pub fn exec_options(
    set: &LoadedSet,
    settings: &Settings,
    interrupted: &std::sync::Arc<std::sync::atomic::AtomicBool>,
    reason: Option<&str>,
) -> strata_pg::ExecOptions {
    strata_pg::ExecOptions {
        set_name: set.spec.name.clone(),
        lock_timeout: set.spec.lock_timeout.clone(),
        statement_timeout: set.spec.statement_timeout.clone(),
        lock_retries: settings.lock_retries,
        retry_delay: settings.retry_delay,
        interrupted: interrupted.clone(),
        reason: reason.map(str::to_owned),
        baseline_event: None,
    }
}

/// The step that applies migration `index` for the first time.
pub fn apply_step(migrations: &[Migration], index: usize) -> Step {
    Step::Apply {
        index,
        key: migrations[index].id.registry_key(),
        resume_from: 0,
        reason: ApplyReason::Pending,
    }
}

/// Runs `steps` on a throwaway database (`verify`, `drift`, `squash`, `schema diff` of a
/// directory): nobody else uses it, so there is no migration lock, no lock timeout and no
/// progress output; a failure comes back rendered against its file.
pub async fn run_on_scratch(
    session: &mut Session,
    registry: &Registry,
    migrations: &[Migration],
    set_name: &str,
    statement_timeout: &str,
    steps: Vec<Step>,
) -> Result<(), String> {
    let opts = strata_pg::ExecOptions {
        set_name: set_name.to_owned(),
        lock_timeout: "0".into(),
        statement_timeout: statement_timeout.to_owned(),
        ..Default::default()
    };
    let plan = Plan {
        entries: Vec::new(),
        steps,
        findings: Vec::new(),
    };
    strata_pg::execute(
        session,
        registry,
        migrations,
        &plan,
        &opts,
        None,
        &mut strata_pg::Silent,
    )
    .await
    .map(drop)
    .map_err(|e| crate::render::exec_error_text(&e))
}
