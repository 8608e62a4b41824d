//! `new NAME`: the next migration's file(s), in the set's layout and version style.

use super::{exit, Io};
use crate::config::Settings;
use anyhow::{Context, Result};
use serde_json::json;
use strata_source::{LayoutKind, Timestamp};

/// The current UTC time, for the timestamp versions of new files.
pub fn now_utc() -> Timestamp {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    Timestamp::from_unix_seconds(secs)
}

/// Runs `new`.
pub fn run(settings: &Settings, name: &str, io: &mut Io<'_>) -> Result<i32> {
    let [spec] = settings.sets.as_slice() else {
        anyhow::bail!(
            "`strata new` creates a migration in one set; choose it with --set NAME (or use --dir)"
        );
    };
    // A set kept in several Flyway locations gets its new files in the first one listed.
    let (set, target) = if spec.locations.is_empty() && spec.pattern.is_none() {
        std::fs::create_dir_all(&spec.dir)
            .with_context(|| format!("cannot create {}", spec.dir.display()))?;
        let empty = std::fs::read_dir(&spec.dir)?.next().is_none();
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
        let target = spec.locations.first().unwrap_or(&spec.dir).clone();
        (crate::app::load_spec(spec)?, target)
    };
    let files =
        strata_source::new_migration_files(&set, name, now_utc()).map_err(anyhow::Error::msg)?;
    let mut created = Vec::new();
    for f in &files {
        let path = target.join(&f.rel);
        if path.exists() {
            anyhow::bail!("{} already exists; pick another name", path.display());
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, &f.content)
            .with_context(|| format!("cannot write {}", path.display()))?;
        created.push(path.display().to_string());
    }
    if settings.json {
        writeln!(
            io.out,
            "{}",
            json!({"set": spec.name, "layout": set.detection.layout.as_str(), "created": created})
        )?;
    } else {
        for c in &created {
            writeln!(io.out, "created {c}")?;
        }
        writeln!(
            io.out,
            "write the migration's SQL there; an up script left empty is reported as an error"
        )?;
    }
    Ok(exit::OK)
}
