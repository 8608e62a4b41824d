//! File-pair layouts: golang-migrate/sqlx `.up.sql`/`.down.sql`, and plain numbered files with
//! an optional `.down.sql` sibling (the psql-loop projects).

use super::{common_checks, not_a_migration, versioned, Layout, LayoutKind, Loaded};
use crate::deferred::whole_script;
use crate::listing::{Entry, Listing};
use crate::names::split_version_name;
use crate::Problem;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use strata_model::{MigrationId, Script, SourceFile, Version};

/// golang-migrate / sqlx pairs.
pub struct Updown;
/// Plain numbered files.
pub struct Plain;

impl Layout for Updown {
    fn kind(&self) -> LayoutKind {
        LayoutKind::Updown
    }
    fn evidence(&self, listing: &Listing) -> usize {
        listing
            .entries()
            .iter()
            .filter(|e| e.parent.is_none() && e.name.ends_with(".up.sql"))
            .count()
    }
    fn load(&self, listing: &Listing) -> Loaded {
        load_pairs(listing, LayoutKind::Updown, ".up.sql")
    }
}

impl Layout for Plain {
    fn kind(&self) -> LayoutKind {
        LayoutKind::Plain
    }
    fn evidence(&self, listing: &Listing) -> usize {
        listing
            .entries()
            .iter()
            .filter(|e| e.parent.is_none() && e.name.ends_with(".sql"))
            .count()
    }
    fn load(&self, listing: &Listing) -> Loaded {
        load_pairs(listing, LayoutKind::Plain, ".sql")
    }
}

fn load_pairs(listing: &Listing, kind: LayoutKind, up_suffix: &str) -> Loaded {
    let mut loaded = Loaded::default();
    common_checks(listing, &mut loaded);
    // In listing order (sorted by name; the migrations are sorted by version afterwards), and
    // hashed for pairing: at 10,000 pairs, ordered maps were a large part of loading.
    let mut ups: Vec<(&str, &Entry)> = Vec::new();
    let mut downs: Vec<(&str, &Entry)> = Vec::new();
    let mut plain_ups: Vec<std::path::PathBuf> = Vec::new();
    for entry in listing.entries() {
        if entry.parent.is_some() {
            super::not_a_top_level_migration(entry, &mut loaded);
        } else if !entry.name.ends_with(".sql") {
            not_a_migration(kind, listing, entry, &mut loaded);
        } else if let Some(stem) = entry.name.strip_suffix(".down.sql") {
            downs.push((stem, entry));
        } else if let Some(stem) = entry.name.strip_suffix(up_suffix) {
            ups.push((stem, entry));
        } else if let Some(stem) = entry
            .name
            .strip_suffix(".sql")
            .filter(|stem| split_version_name(stem).is_some())
        {
            // `<version>_<name>.sql` beside `.up.sql`/`.down.sql` pairs (a project that
            // stopped writing downs): its runner and psql apply it, so it is an up without
            // a down. golang-migrate would skip it, which is worth a warning.
            ups.push((stem, entry));
            plain_ups.push(entry.rel.clone());
        } else {
            not_a_migration(kind, listing, entry, &mut loaded);
        }
    }
    if !plain_ups.is_empty() {
        loaded.warnings.push(Problem {
            message: format!(
                "{} file(s) named `<version>_<name>.sql` beside the `.up.sql` pairs are read as up migrations without a down, as psql and most runners apply them (golang-migrate would skip them); rename them `.up.sql` to make that explicit",
                plain_ups.len()
            ),
            paths: plain_ups,
        });
    }
    // golang-migrate pairs an up and a down by version, not by the whole name
    // (`30_add_x.up.sql` with `30_drop_x.down.sql`); the down with the up's own stem wins when
    // a version has several.
    let mut down_of: HashMap<String, (&str, &Entry, Version)> = HashMap::with_capacity(downs.len());
    for &(stem, entry) in &downs {
        let Some((version, _)) = split_version_name(stem) else {
            not_a_migration(kind, listing, entry, &mut loaded);
            continue;
        };
        match down_of.entry(version.canonical_key()) {
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert((stem, entry, version));
            }
            std::collections::hash_map::Entry::Occupied(slot) => {
                let (other, other_entry, _) = *slot.get();
                loaded.problems.push(Problem {
                    paths: vec![other_entry.rel.clone(), entry.rel.clone()],
                    message: format!(
                        "two down migrations for version {version} (`{other}` and `{stem}`); keep one"
                    ),
                });
            }
        }
    }
    let mut paired: HashSet<String> = HashSet::with_capacity(ups.len());
    let mut migrations = Vec::with_capacity(ups.len());
    let mut problems = Vec::new();
    for &(stem, entry) in &ups {
        let Some((version, name)) = split_version_name(stem) else {
            not_a_migration(kind, listing, entry, &mut loaded);
            continue;
        };
        let Some(up) = whole_script(listing, entry, &mut problems) else {
            continue;
        };
        let checksum = up.file.checksum().clone();
        let key = version.canonical_key();
        let down = down_of
            .get(&key)
            .and_then(|&(_, d, _)| whole_script(listing, d, &mut problems));
        paired.insert(key);
        let id = MigrationId {
            version: Some(version),
            name,
        };
        migrations.push(versioned(id, up, down, checksum));
    }
    // A down whose version has no up is, as in golang-migrate, a migration with an empty
    // (no-op) up that is recorded when applied, and this down, which `down` runs.
    for (key, (stem, entry, version)) in down_of {
        if paired.contains(&key) {
            continue;
        }
        loaded.warnings.push(Problem::new(
            &entry.rel,
            format!(
                "this down migration has no up migration for version {version}; as golang-migrate does, strata reads it as a migration whose up does nothing (applied and recorded) and whose down is this file. Add `{stem}{up_suffix}` if it should do something"
            ),
        ));
        let Some(down) = whole_script(listing, entry, &mut problems) else {
            continue;
        };
        let Ok(file) = SourceFile::from_bytes(listing.path_of(entry), b"") else {
            continue;
        };
        let up = Script::whole(Arc::new(file), Vec::new());
        let checksum = up.file.checksum().clone();
        let name = split_version_name(stem).map(|(_, n)| n).unwrap_or_default();
        let id = MigrationId {
            version: Some(version),
            name,
        };
        migrations.push(versioned(id, up, Some(down), checksum));
    }
    loaded.migrations.extend(migrations);
    loaded.problems.extend(problems);
    loaded
}
