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
    let (sets, writes) = load(settings, false)?;
    writes.write();
    Ok(sets)
}

/// Like [`load_sets`], for `up`, `down` and `status`: scripts that planning does not need
/// (applied migrations unchanged since the file cache saw them, down scripts) are not read;
/// [`plan_set`] reads the ones its plan uses. The file cache lives in the project's
/// `.strata/cache`; `STRATA_NO_FILE_CACHE=1` turns it off (every up script is then read, down
/// scripts still only when needed).
pub fn load_sets_deferred(settings: &Settings) -> Result<Vec<LoadedSet>> {
    let (sets, writes) = load(settings, true)?;
    writes.write();
    Ok(sets)
}

/// Loads the sets, returning the cache files the loads produced unwritten.
fn load(
    settings: &Settings,
    deferred: bool,
) -> Result<(Vec<LoadedSet>, strata_source::CacheWrites)> {
    let cache_dir = cache_dir(settings);
    let mut loaded = Vec::new();
    let mut errors = Vec::new();
    let mut writes = strata_source::CacheWrites::default();
    for spec in &settings.sets {
        let set = if !uses_the_cache(spec) {
            load_spec(spec)
        } else if deferred {
            strata_source::load_dir_cached_writing_later(
                &spec.dir,
                spec.layout,
                cache_dir.as_deref(),
            )
            .map(|(set, set_writes)| {
                writes.extend(set_writes);
                set
            })
        } else {
            strata_source::load_dir(&spec.dir, spec.layout)
        };
        let rendered = set.and_then(|mut set| {
            render_placeholders(
                &mut set,
                &spec.placeholders,
                spec.placeholder_syntax.as_ref(),
            )?;
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
        // What loaded fine is still worth remembering.
        writes.write();
        anyhow::bail!("{}", errors.join("\n"));
    }
    Ok((loaded, writes))
}

/// True for the sets the file cache and the set snapshot serve: one directory read with a
/// layout chosen by kind. A set of several Flyway locations or with a configured pattern is
/// read in full on every run (the snapshot is keyed by one directory and one layout name, and
/// would not notice a changed pattern).
fn uses_the_cache(spec: &SetSpec) -> bool {
    spec.locations.is_empty() && spec.pattern.is_none()
}

/// Reads one set in full (no file cache), whatever its kind: several Flyway locations, a
/// configured pattern, or one directory.
pub fn load_spec(spec: &SetSpec) -> Result<MigrationSet, strata_source::SourceError> {
    if !spec.locations.is_empty() {
        return strata_source::load_locations(&spec.dir, &spec.locations);
    }
    if let Some(pattern) = &spec.pattern {
        let mut set = strata_source::load_dir_with(&spec.dir, pattern)?;
        set.detection.reason = format!("configured: file names matching `{}`", pattern.as_str());
        return Ok(set);
    }
    strata_source::load_dir(&spec.dir, spec.layout)
}

/// Renders a loaded set's placeholders as every verb sees them. A syntax the set declares
/// (`placeholder_syntax`) is the only one, as Flyway's configurable prefix and suffix replace
/// its `${...}`; otherwise Flyway's `${...}` always (Flyway does by default), both default
/// syntaxes when values are given, nothing else.
pub fn render_placeholders(
    set: &mut MigrationSet,
    values: &std::collections::BTreeMap<String, String>,
    declared: Option<&strata_source::PlaceholderSyntax>,
) -> Result<(), strata_source::SourceError> {
    let syntax = match declared {
        Some(declared) => strata_source::Syntax {
            dollar_brace: false,
            go_template: false,
            declared: Some(declared.clone()),
        },
        None => strata_source::Syntax {
            dollar_brace: set.detection.layout == strata_source::LayoutKind::Flyway
                || !values.is_empty(),
            go_template: !values.is_empty(),
            declared: None,
        },
    };
    if syntax.dollar_brace || syntax.go_template || syntax.declared.is_some() {
        // Rendering rewrites every script's text, so every script is read.
        set.load_all()?;
        strata_source::render_placeholders(set, values, syntax)?;
    }
    Ok(())
}

/// The project's file cache directory, `None` when `STRATA_NO_FILE_CACHE` turns it off.
fn cache_dir(settings: &Settings) -> Option<std::path::PathBuf> {
    std::env::var_os("STRATA_NO_FILE_CACHE")
        .is_none_or(|v| v == "0")
        .then(|| settings.project_root.join(".strata").join("cache"))
}

/// What set `spec`'s snapshot says before the set loads (read in a few kB): `None` without a
/// file cache or a snapshot.
pub fn snapshot_hint(settings: &Settings, spec: &SetSpec) -> Option<strata_source::SnapshotHint> {
    if !uses_the_cache(spec) {
        return None;
    }
    strata_source::snapshot_hint(&cache_dir(settings)?, &spec.dir, spec.layout)
}

/// True when a set's snapshot `hint` suggests `up` will have work against a history of
/// `summary`: the directory changed since the snapshot, or the snapshot holds more migrations
/// than the history has rows. Only a guess, to start taking the lock while the files load;
/// planning decides.
pub fn expects_work(
    hint: Option<&strata_source::SnapshotHint>,
    summary: Option<&strata_plan::HistorySummary>,
) -> bool {
    hint.zip(summary)
        .is_some_and(|(hint, summary)| hint.dir_changed || hint.migrations as u64 > summary.rows)
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

/// The thread that loaded the sets, still writing the file cache after handing them over
/// (see [`strata_source::CacheWrites`]). Dropping it waits for the thread, so the process
/// never exits in the middle of a write (that would leave a temporary file in the cache).
#[must_use = "dropping it at once waits for the cache writes"]
pub struct LoaderThread(Option<std::thread::JoinHandle<()>>);

impl Drop for LoaderThread {
    fn drop(&mut self) {
        if let Some(thread) = self.0.take() {
            // A panic there was already reported through the sets' channel.
            let _ = thread.join();
        }
    }
}

/// Loads the selected sets (as [`load_sets_deferred`]) on a helper thread while `work`
/// (resolving the database, connecting, first queries: mostly waiting on the network) runs,
/// so a short command pays for the slower of the two rather than both. Problems in the files
/// are reported before any error of `work`: they are the first thing to fix and need no
/// database. With no database configured, the files are loaded first, so that broken files
/// never start (or create) the dev cluster. The helper writes the file cache after handing
/// the sets over; keep the returned [`LoaderThread`] until the command is done.
pub async fn load_while<T>(
    settings: &Settings,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<(Vec<LoadedSet>, T, LoaderThread)> {
    if matches!(settings.db, DbTarget::Dev) {
        let sets = load_sets_deferred(settings)?;
        return Ok((sets, work.await?, LoaderThread(None)));
    }
    let owned = settings.clone();
    let (done, loaded) = tokio::sync::oneshot::channel();
    // A thread of its own that ends when loading does (not tokio's blocking pool, whose
    // threads linger): glibc hands a finished thread's malloc arena, with the loader's freed
    // scratch memory in it, to the next thread started (the lint gate's, the executor's
    // parser), instead of leaving it idle beside them.
    let loader = std::thread::spawn(move || match load(&owned, true) {
        Ok((sets, writes)) => {
            let _ = done.send(Ok(sets));
            writes.write();
        }
        Err(e) => {
            let _ = done.send(Err(e));
        }
    });
    let loading = async move {
        match loaded.await {
            Ok(result) => (result, LoaderThread(Some(loader))),
            Err(_) => match loader.join() {
                Err(panic) => std::panic::resume_unwind(panic),
                Ok(()) => (
                    Err(anyhow::anyhow!(
                        "loading the migration files stopped without a result (a bug in strata: please report it with the command line; running it again is safe, nothing was changed)"
                    )),
                    LoaderThread(None),
                ),
            },
        }
    };
    tokio::pin!(loading);
    tokio::pin!(work);
    tokio::select! {
        biased;
        (sets, loader) = &mut loading => {
            let sets = sets?;
            Ok((sets, work.await?, loader))
        }
        done = &mut work => {
            let (sets, loader) = loading.await;
            Ok((sets?, done?, loader))
        }
    }
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
    let applied = read_history(session, registry, &set.spec.name).await?;
    let plan = plan_with_rows(session, registry, set, target, settings, &applied).await?;
    Ok((applied, plan))
}

/// Every history row of set `name`.
pub async fn read_history(
    session: &Session,
    registry: &Registry,
    name: &str,
) -> Result<Vec<strata_model::AppliedMigration>> {
    registry
        .read(&session.client, name)
        .await
        .with_context(|| format!("cannot read the history of set `{name}`"))
}

/// Plans one set from its history rows, then reads the scripts the plan runs.
pub async fn plan_with_rows(
    session: &Session,
    registry: &Registry,
    set: &mut LoadedSet,
    target: &Target,
    settings: &Settings,
    applied: &[strata_model::AppliedMigration],
) -> Result<Plan> {
    // A part-way migration is checked statement by statement against its file (planner) and
    // shown with its journal (status): rare, so simply read everything then.
    if applied
        .iter()
        .any(|a| matches!(a.state, strata_model::AppliedState::Partial { .. }))
    {
        set.set.load_all()?;
    }
    let policy = policy(settings);
    let plan = strata_plan::plan(set.migrations(), applied, target, &policy)
        .with_context(|| format!("set `{}`", set.spec.name))?;
    let plan = finish_plan(session, registry, set, plan).await?;
    crate::sqitch::check_conflicts(set, applied, &plan)?;
    Ok(plan)
}

fn policy(settings: &Settings) -> Policy {
    Policy {
        allow_out_of_order: settings.allow_out_of_order,
    }
}

/// Reads the scripts a plan runs and marks pending migrations whose last attempt failed.
async fn finish_plan(
    session: &Session,
    registry: &Registry,
    set: &mut LoadedSet,
    mut plan: Plan,
) -> Result<Plan> {
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
    Ok(plan)
}

/// What an `up` plan was made from, kept to tell later (under the lock) whether it still
/// holds.
#[derive(Debug, Clone, PartialEq)]
pub enum HistoryBasis {
    /// The registry's one-row summary (see [`strata_plan::plan_from_summary`]).
    Summary(strata_plan::HistorySummary),
    /// Every history row.
    Rows(Vec<strata_model::AppliedMigration>),
}

/// Plans `up` for one set. When the history is just the first migrations of the set
/// unchanged (the usual case), the registry's summary is enough and the rows are never read;
/// otherwise the rows are read and planned as by [`plan_set`]. `summary` is one the caller
/// already fetched (pipelined with other queries). With `earlier` (a plan made by a
/// lock-free read for the same target), the history is checked again and that plan returned
/// when the history is unchanged; planning is a pure function of files and history, so it
/// would be the same. (Only the `failed` marks of pending entries, which come from the
/// events, may be older than the history; the executor does not use them.)
pub async fn plan_up(
    session: &Session,
    registry: &Registry,
    set: &mut LoadedSet,
    target: &Target,
    settings: &Settings,
    summary: Option<Option<strata_plan::HistorySummary>>,
    earlier: Option<(HistoryBasis, Plan)>,
) -> Result<(HistoryBasis, Plan)> {
    // sqitch conflicts are checked against the rows; its sets are small anyway.
    let summarizable = set.set.sqitch.is_none();
    if summarizable {
        let summary = match summary {
            Some(s) => s,
            None => registry.summary(&session.client, &set.spec.name).await,
        };
        if let Some(summary) = summary {
            if let Some((HistoryBasis::Summary(before), _)) = &earlier {
                if *before == summary {
                    let plan = earlier.map(|(_, plan)| plan).expect("checked above");
                    return Ok((HistoryBasis::Summary(summary), plan));
                }
            }
            if let Some(plan) = strata_plan::plan_from_summary(
                set.migrations(),
                &summary,
                target,
                &policy(settings),
            ) {
                let plan = plan.with_context(|| format!("set `{}`", set.spec.name))?;
                let plan = finish_plan(session, registry, set, plan).await?;
                return Ok((HistoryBasis::Summary(summary), plan));
            }
        }
    }
    let applied = read_history(session, registry, &set.spec.name).await?;
    if let Some((HistoryBasis::Rows(before), plan)) = earlier {
        if before == applied {
            return Ok((HistoryBasis::Rows(applied), plan));
        }
    }
    let plan = plan_with_rows(session, registry, set, target, settings, &applied).await?;
    Ok((HistoryBasis::Rows(applied), plan))
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
        set_dir: set.spec.dir.clone(),
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
/// progress output; a failure comes back rendered against its file. `set_dir` is where
/// `\copy` meta-commands find their files (see `strata_pg::ExecOptions::set_dir`).
pub async fn run_on_scratch(
    session: &mut Session,
    registry: &Registry,
    migrations: &[Migration],
    set_dir: &std::path::Path,
    set_name: &str,
    statement_timeout: &str,
    steps: Vec<Step>,
) -> Result<(), String> {
    // A code migration only its own tool can run: say so rather than feed it to PostgreSQL.
    for step in &steps {
        if let Step::Apply { index, .. } | Step::Revert { index, .. } = step {
            let m = &migrations[*index];
            if let Some(language) = m.code_language() {
                return Err(format!(
                    "migration {} ({}) is a {language} migration, which strata cannot run on a throwaway database; this command needs every migration it replays to be SQL",
                    m.id.registry_key(),
                    m.path().display()
                ));
            }
        }
    }
    let opts = strata_pg::ExecOptions {
        set_name: set_name.to_owned(),
        lock_timeout: "0".into(),
        statement_timeout: statement_timeout.to_owned(),
        set_dir: set_dir.to_owned(),
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
