//! Loading the selected sets: files first from the file cache and the set snapshot, on a
//! thread of their own while the database is reached, with placeholders rendered as every
//! verb sees them.

use crate::error::EngineError;
use crate::settings::{DbTarget, SetSpec, Settings};
use strata_model::Migration;
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
pub fn load_sets(settings: &Settings) -> Result<Vec<LoadedSet>, EngineError> {
    let (sets, writes) = load(settings, false)?;
    writes.write();
    Ok(sets)
}

/// Like [`load_sets`], for `up`, `down` and `status`: scripts that planning does not need
/// (applied migrations unchanged since the file cache saw them, down scripts) are not read;
/// [`crate::plan::plan_set`] reads the ones its plan uses. The file cache lives in the project's
/// `.strata/cache`; `STRATA_NO_FILE_CACHE=1` turns it off (every up script is then read, down
/// scripts still only when needed).
pub fn load_sets_deferred(settings: &Settings) -> Result<Vec<LoadedSet>, EngineError> {
    let (sets, writes) = load(settings, true)?;
    writes.write();
    Ok(sets)
}

/// Loads the sets, returning the cache files the loads produced unwritten.
fn load(
    settings: &Settings,
    deferred: bool,
) -> Result<(Vec<LoadedSet>, strata_source::CacheWrites), EngineError> {
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
            Err(e) => errors.push((spec.name.clone(), e)),
        }
    }
    if !errors.is_empty() {
        // What loaded fine is still worth remembering.
        writes.write();
        return Err(EngineError::Files(errors));
    }
    Ok((loaded, writes))
}

/// True for the sets the file cache and the set snapshot serve: one directory read with a
/// layout chosen by kind. A set of several Flyway locations or with a configured pattern is
/// read in full on every run (the snapshot is keyed by one directory and one layout name, and
/// would not notice a changed pattern).
fn uses_the_cache(spec: &SetSpec) -> bool {
    spec.locations.is_empty() && spec.pattern.is_none() && spec.listing.is_none()
}

/// Reads one set in full (no file cache), whatever its kind: files held in memory, several
/// Flyway locations, a configured pattern, or one directory.
pub fn load_spec(spec: &SetSpec) -> Result<MigrationSet, strata_source::SourceError> {
    if let Some(listing) = &spec.listing {
        return strata_source::load_listing(listing, spec.layout);
    }
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

/// The project's file cache directory, `None` when the settings or `STRATA_NO_FILE_CACHE`
/// turn it off.
fn cache_dir(settings: &Settings) -> Option<std::path::PathBuf> {
    (settings.file_cache && std::env::var_os("STRATA_NO_FILE_CACHE").is_none_or(|v| v == "0"))
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
pub async fn load_while<T, E: From<EngineError>>(
    settings: &Settings,
    db: &DbTarget,
    work: impl std::future::Future<Output = Result<T, E>>,
) -> Result<(Vec<LoadedSet>, T, LoaderThread), E> {
    if matches!(db, DbTarget::Dev) {
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
                Ok(()) => (Err(EngineError::LoaderLost), LoaderThread(None)),
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
