//! File-pair layouts: golang-migrate/sqlx `.up.sql`/`.down.sql`, and plain numbered files with
//! an optional `.down.sql` sibling (the psql-loop projects).

use super::{common_checks, unclaimed, versioned, Layout, LayoutKind, Loaded};
use crate::deferred::whole_script;
use crate::listing::{Entry, Listing};
use crate::names::split_version_name;
use crate::Problem;
use std::collections::{HashMap, HashSet};
use strata_model::MigrationId;

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
    // hashed by stem for pairing: at 10,000 pairs, ordered maps were a large part of loading.
    let mut ups: Vec<(&str, &Entry)> = Vec::new();
    let mut downs: Vec<(&str, &Entry)> = Vec::new();
    for entry in listing.entries() {
        if entry.parent.is_some() || !entry.name.ends_with(".sql") {
            super::not_a_top_level_migration(kind, entry, &mut loaded);
            continue;
        }
        if let Some(stem) = entry.name.strip_suffix(".down.sql") {
            downs.push((stem, entry));
        } else if let Some(stem) = entry.name.strip_suffix(up_suffix) {
            ups.push((stem, entry));
        } else {
            loaded.problems.push(unclaimed(kind, &entry.rel));
        }
    }
    let up_stems: HashSet<&str> = ups.iter().map(|(stem, _)| *stem).collect();
    let down_of: HashMap<&str, &Entry> = downs.iter().copied().collect();
    for (stem, entry) in &downs {
        if !up_stems.contains(stem) {
            loaded.problems.push(Problem::new(
                &entry.rel,
                format!("this down migration has no up migration (expected `{stem}{up_suffix}` beside it); add the up file or delete the down file"),
            ));
        }
    }
    let build = |ups: &[(&str, &Entry)]| {
        let mut migrations = Vec::with_capacity(ups.len());
        let mut problems = Vec::new();
        for &(stem, entry) in ups {
            let Some((version, name)) = split_version_name(stem) else {
                problems.push(unclaimed(kind, &entry.rel));
                continue;
            };
            let Some(up) = whole_script(listing, entry, &mut problems) else {
                continue;
            };
            let checksum = up.file.checksum().clone();
            let down = down_of
                .get(stem)
                .and_then(|d| whole_script(listing, d, &mut problems));
            let id = MigrationId {
                version: Some(version),
                name,
            };
            if let Some(m) = versioned(id, up, down, checksum, &entry.rel, &mut problems) {
                migrations.push(m);
            }
        }
        (migrations, problems)
    };
    // (Building on two threads was measured: 2 ms faster at 10,000 pairs, but the second
    // thread's malloc arena cost `up` about 3 MB of peak memory.)
    let (migrations, problems) = build(&ups);
    loaded.migrations.extend(migrations);
    loaded.problems.extend(problems);
    loaded
}
