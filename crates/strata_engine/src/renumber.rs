//! `renumber`: after a branch merge interleaved versions, give the pending migrations that are
//! older than applied ones new versions after every existing one, renaming their files in the
//! set's own layout and spelling.
//!
//! Every rename of every set is worked out and checked (no target may exist) before the first
//! file moves, so a refusal leaves every file where it was.

use crate::ctx::Ctx;
use crate::error::EngineError;
use crate::load::LoadedSet;
use crate::settings::DbTarget;
use crate::{database, load};
use serde::Serialize;
use std::path::PathBuf;
use strata_model::{AppliedMigration, Version};
use strata_pg::Registry;
use strata_plan::{State, Target};

/// The next version in the same spelling: the last digit group incremented, its width kept
/// (`000007` → `000008`, `2025_11_14_000001` → `2025_11_14_000002`, `1.2.3` → `1.2.4`).
pub fn bump(version: &str) -> Option<String> {
    let end = version.rfind(|c: char| c.is_ascii_digit())? + 1;
    let start = version[..end]
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    let digits = &version[start..end];
    let next = digits.parse::<u128>().ok()? + 1;
    Some(format!(
        "{}{:0width$}{}",
        &version[..start],
        next,
        &version[end..],
        width = digits.len()
    ))
}

/// One file (or diesel directory) to rename.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rename {
    /// Its path now.
    #[serde(serialize_with = "display_path")]
    pub from: PathBuf,
    /// Its path after.
    #[serde(serialize_with = "display_path")]
    pub to: PathBuf,
}

fn display_path<S: serde::Serializer>(path: &std::path::Path, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&path.display())
}

/// One set's renames (empty: nothing to renumber).
#[derive(Debug, Clone, Serialize)]
pub struct SetRenames {
    /// The set.
    pub name: String,
    /// Its renames, in order.
    pub renames: Vec<Rename>,
}

/// What `renumber` did or would do (`strata renumber --json`).
#[derive(Debug, Clone, Serialize)]
pub struct Renumbered {
    /// True when the files were renamed; false for a dry run.
    pub applied: bool,
    /// Each set.
    pub sets: Vec<SetRenames>,
}

/// Works out every set's renames against its history in the database and, with `apply`,
/// renames the files. `say` receives lines about the run (the dev cluster).
pub async fn renumber(ctx: &Ctx, db: &DbTarget, apply: bool) -> Result<Renumbered, EngineError> {
    let settings = &ctx.settings;
    let say: &mut (dyn FnMut(&str) + Send) = &mut ctx.notes();
    let sets = load::load_sets(settings)?;
    for s in &sets {
        if let Err(why) = strata_source::layout_for(s.set.detection.layout).renumbers() {
            return Err(EngineError::CannotRenumber {
                set: s.spec.name.clone(),
                why: why.to_string(),
            });
        }
        if !s.spec.locations.is_empty() {
            return Err(EngineError::CannotRenumber {
                set: s.spec.name.clone(),
                why: "names its files with its own pattern or keeps them in several locations; renumber its files by hand".into(),
            });
        }
    }
    let db = database::database(db, settings, say)?;
    let session = database::connect(&db).await?;
    let registry = Registry::new(&settings.registry_schema);
    let mut planned = Vec::new();
    for set in &sets {
        let applied = registry.read(&session, &set.spec.name).await?;
        planned.push(SetRenames {
            name: set.spec.name.clone(),
            renames: renames(set, &applied)?,
        });
    }
    for rename in planned.iter().flat_map(|s| &s.renames) {
        if rename.to.exists() {
            return Err(EngineError::RenameTargetExists {
                path: rename.to.clone(),
            });
        }
    }
    if apply {
        for rename in planned.iter().flat_map(|s| &s.renames) {
            std::fs::rename(&rename.from, &rename.to).map_err(|source| EngineError::Rename {
                from: rename.from.clone(),
                to: rename.to.clone(),
                source,
            })?;
        }
    }
    Ok(Renumbered {
        applied: apply,
        sets: planned,
    })
}

/// The renames that give `set`'s out-of-order migrations versions after every file's and
/// every history row's (in `applied`), in order, each in the spelling of the version before
/// it.
pub fn renames(set: &LoadedSet, applied: &[AppliedMigration]) -> Result<Vec<Rename>, EngineError> {
    let plan = strata_plan::plan(
        set.migrations(),
        applied,
        &Target::Status,
        &Default::default(),
    )
    .map_err(|source| EngineError::Plan {
        set: set.spec.name.clone(),
        source,
    })?;
    let mut last = set
        .migrations()
        .iter()
        .filter_map(|m| m.id.version.clone())
        .chain(
            applied
                .iter()
                .filter_map(|a| a.version.as_deref().and_then(|v| Version::parse(v).ok())),
        )
        .max();
    let mut renames: Vec<Rename> = Vec::new();
    for e in plan.entries.iter().filter(|e| e.state == State::OutOfOrder) {
        let m = &set.migrations()[e.local.expect("out-of-order entries are local")];
        let old = m.id.version.clone().expect("versioned");
        let cannot = |message: String| EngineError::Renumber {
            set: set.spec.name.clone(),
            message,
        };
        let new_raw = bump(last.as_ref().map_or(old.as_str(), |v| v.as_str()))
            .ok_or_else(|| cannot(format!("cannot compute a version after {old}")))?;
        let new = Version::parse(&new_raw).map_err(|e| cannot(e.to_string()))?;
        // Every file (or diesel directory) named after the migration's version.
        let mut paths = vec![m.up.file.path().to_owned()];
        if let Some(d) = &m.down {
            paths.push(d.file.path().to_owned());
        }
        paths.sort();
        paths.dedup();
        for path in paths {
            let rel = path.strip_prefix(&set.set.dir).unwrap_or(&path).to_owned();
            let top = rel
                .components()
                .next()
                .map(|c| PathBuf::from(c.as_os_str()))
                .unwrap_or_default();
            let name = top.to_string_lossy().into_owned();
            let at = name.find(old.as_str()).ok_or_else(|| {
                cannot(format!(
                    "{}: the version {old} is not in the file name",
                    rel.display()
                ))
            })?;
            let renamed = format!(
                "{}{}{}",
                &name[..at],
                new_raw,
                &name[at + old.as_str().len()..]
            );
            let rename = Rename {
                from: set.set.dir.join(&top),
                to: set.set.dir.join(&renamed),
            };
            if !renames.contains(&rename) {
                renames.push(rename);
            }
        }
        last = Some(new);
    }
    Ok(renames)
}

#[cfg(test)]
mod tests {
    #[test]
    fn bump_keeps_the_spelling() {
        assert_eq!(super::bump("000007").as_deref(), Some("000008"));
        assert_eq!(super::bump("9").as_deref(), Some("10"));
        assert_eq!(
            super::bump("2025_11_14_000001").as_deref(),
            Some("2025_11_14_000002")
        );
        assert_eq!(
            super::bump("2025-11-14-000009").as_deref(),
            Some("2025-11-14-000010")
        );
        assert_eq!(super::bump("1.2.3").as_deref(), Some("1.2.4"));
        assert_eq!(
            super::bump("20250101120000").as_deref(),
            Some("20250101120001")
        );
    }
}
