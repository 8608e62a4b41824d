//! `new NAME`: the next migration's file(s), in the set's layout and version style. No
//! database is involved; the set's files decide the layout, the version style and the next
//! version.

use crate::error::EngineError;
use crate::settings::SetSpec;
use serde::Serialize;
use std::path::PathBuf;
use strata_source::{LayoutKind, Timestamp};

/// What `new` created (`strata new --json`).
#[derive(Debug, Clone, Serialize)]
pub struct Created {
    /// The set.
    pub set: String,
    /// Its layout.
    pub layout: &'static str,
    /// The files written, in order.
    pub created: Vec<String>,
}

/// The current UTC time, for the timestamp versions of new files.
pub fn now_utc() -> Timestamp {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    Timestamp::from_unix_seconds(secs)
}

/// Writes the files of a new migration called `name` in `spec`'s set, versioned after its
/// last one (timestamps from `now`). An empty or missing directory gets golang-migrate pairs
/// unless a layout is configured; a set kept in several Flyway locations gets its new files
/// in the first one listed. No existing file is ever overwritten.
pub fn create(spec: &SetSpec, name: &str, now: Timestamp) -> Result<Created, EngineError> {
    let (set, target) = if spec.locations.is_empty() && spec.pattern.is_none() {
        std::fs::create_dir_all(&spec.dir).map_err(|source| EngineError::Write {
            path: spec.dir.clone(),
            source,
        })?;
        let empty = std::fs::read_dir(&spec.dir)
            .map_err(|source| EngineError::Write {
                path: spec.dir.clone(),
                source,
            })?
            .next()
            .is_none();
        let layout = spec.layout.or(if empty {
            Some(LayoutKind::Updown)
        } else {
            None
        });
        (
            strata_source::load_dir(&spec.dir, layout)?,
            spec.dir.clone(),
        )
    } else {
        let target: PathBuf = spec.locations.first().unwrap_or(&spec.dir).clone();
        (crate::load::load_spec(spec)?, target)
    };
    let files = strata_source::new_migration_files(&set, name, now)
        .map_err(|message| EngineError::NewMigration { message })?;
    let paths: Vec<PathBuf> = files.iter().map(|f| target.join(&f.rel)).collect();
    if let Some(existing) = paths.iter().find(|p| p.exists()) {
        return Err(EngineError::NewMigration {
            message: format!("{} already exists; pick another name", existing.display()),
        });
    }
    let mut created = Vec::new();
    for (f, path) in files.iter().zip(&paths) {
        let write = |source| EngineError::Write {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(write)?;
        }
        std::fs::write(path, &f.content).map_err(write)?;
        created.push(path.display().to_string());
    }
    Ok(Created {
        set: spec.name.clone(),
        layout: set.detection.layout.as_str(),
        created,
    })
}
