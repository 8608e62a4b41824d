//! `renumber`: after a branch merge interleaved versions, give the pending migrations that are
//! older than applied ones new versions after every existing one, renaming their files in the
//! set's own layout and spelling. A dry run unless `--apply`.

use super::{exit, Io};
use crate::app;
use crate::config::Settings;
use anyhow::{bail, Result};
use serde_json::json;
use std::path::PathBuf;
use strata_model::Version;
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

/// Runs `renumber`.
pub async fn run(settings: &Settings, apply: bool, io: &mut Io<'_>) -> Result<i32> {
    let sets = app::load_sets(settings)?;
    for s in &sets {
        if let Err(why) = strata_source::layout_for(s.set.detection.layout).renumbers() {
            bail!("set `{}` {why}", s.spec.name);
        }
        if !s.spec.locations.is_empty() {
            bail!("set `{}` names its files with its own pattern or keeps them in several locations; renumber its files by hand", s.spec.name);
        }
    }
    let err = &mut *io.err;
    let mut say = |m: &str| {
        let _ = writeln!(err, "{m}");
    };
    let db = app::database(settings, &mut say)?;
    let session = app::connect(&db).await?;
    let registry = Registry::new(&settings.registry_schema);
    let mut docs = Vec::new();
    for set in &sets {
        let applied = registry.read(&session.client, &set.spec.name).await?;
        let plan = strata_plan::plan(
            set.migrations(),
            &applied,
            &Target::Status,
            &Default::default(),
        )?;
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
        let mut renames: Vec<(PathBuf, PathBuf)> = Vec::new();
        for e in plan.entries.iter().filter(|e| e.state == State::OutOfOrder) {
            let m = &set.migrations()[e.local.expect("out-of-order entries are local")];
            let old = m.id.version.clone().expect("versioned");
            let new_raw = bump(last.as_ref().map_or(old.as_str(), |v| v.as_str()))
                .ok_or_else(|| anyhow::anyhow!("cannot compute a version after {}", old))?;
            let new = Version::parse(&new_raw).map_err(|e| anyhow::anyhow!("{e}"))?;
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
                    anyhow::anyhow!(
                        "{}: the version {old} is not in the file name",
                        rel.display()
                    )
                })?;
                let renamed = format!(
                    "{}{}{}",
                    &name[..at],
                    new_raw,
                    &name[at + old.as_str().len()..]
                );
                let pair = (set.set.dir.join(&top), set.set.dir.join(&renamed));
                if !renames.contains(&pair) {
                    renames.push(pair);
                }
            }
            last = Some(new);
        }
        if renames.is_empty() {
            if !settings.json {
                writeln!(io.out, "set {}: nothing to renumber (no pending migration is older than an applied one)", set.spec.name)?;
            }
            docs.push(json!({"name": set.spec.name, "renames": []}));
            continue;
        }
        for (_, to) in &renames {
            if to.exists() {
                bail!("{} already exists; renumber by hand", to.display());
            }
        }
        for (from, to) in &renames {
            if apply {
                std::fs::rename(from, to).map_err(|e| {
                    anyhow::anyhow!("cannot rename {} to {}: {e}", from.display(), to.display())
                })?;
            }
            if !settings.json {
                writeln!(
                    io.out,
                    "  {} {} -> {}",
                    if apply { "renamed" } else { "would rename" },
                    from.display(),
                    to.display()
                )?;
            }
        }
        docs.push(json!({"name": set.spec.name, "renames": renames.iter().map(|(a, b)| json!({"from": a.display().to_string(), "to": b.display().to_string()})).collect::<Vec<_>>()}));
    }
    if settings.json {
        writeln!(io.out, "{}", json!({"applied": apply, "sets": docs}))?;
    } else if !apply {
        writeln!(
            io.out,
            "dry run: nothing was renamed; run again with --apply"
        )?;
    }
    Ok(exit::OK)
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
