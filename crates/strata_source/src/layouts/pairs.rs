//! What the two file-pair layouts share: golang-migrate/sqlx `.up.sql`/`.down.sql` files
//! ([`super::updown`]) and plain numbered files with an optional `.down.sql` sibling
//! ([`super::plain`]) are read by one loader that pairs ups and downs.

use super::{common_checks, not_a_migration, versioned, LayoutKind, Loaded};
use crate::deferred::whole_script;
use crate::listing::{Entry, Listing};
use crate::names::split_version_name;
use crate::Problem;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use strata_model::{MigrationId, Script, SourceFile, Version};

/// Reads a directory of `<version>_<name><up_suffix>` files with optional
/// `<version>_<name>.down.sql` siblings: the loading both file-pair layouts share.
pub(super) fn load_pairs(listing: &Listing, kind: LayoutKind, up_suffix: &str) -> Loaded {
    let mut loaded = Loaded::default();
    common_checks(listing, &mut loaded);
    // In listing order (sorted by name; the migrations are sorted by version afterwards), and
    // hashed for pairing: at 10,000 pairs, ordered maps were a large part of loading.
    let mut ups: Vec<(&str, &Entry)> = Vec::new();
    let mut downs: Vec<(&str, &Entry)> = Vec::new();
    let mut plain_ups: Vec<std::path::PathBuf> = Vec::new();
    let mut underscored: Vec<std::path::PathBuf> = Vec::new();
    for entry in listing.entries() {
        if entry.parent.is_some() {
            super::not_a_top_level_migration(entry, &mut loaded);
        } else if !entry.name.ends_with(".sql") {
            not_a_migration(kind, listing, entry, &mut loaded);
        } else if let Some(stem) = entry.name.strip_suffix(".down.sql") {
            downs.push((stem, entry));
        } else if let Some(stem) = entry.name.strip_suffix(up_suffix) {
            ups.push((stem, entry));
        } else if let Some((stem, up)) = entry
            .name
            .strip_suffix(".sql")
            .filter(|_| kind == LayoutKind::Updown)
            .and_then(underscored_direction)
        {
            // `<version>_<name>_up.sql` / `_down.sql` beside `.up.sql` pairs: runners that
            // tell the direction by the name's ending (`up.sql`, `down.sql`) read them as a
            // pair, and a later migration may depend on what the up did.
            if up {
                ups.push((stem, entry));
            } else {
                downs.push((stem, entry));
            }
            underscored.push(entry.rel.clone());
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
    if !underscored.is_empty() {
        loaded.warnings.push(Problem {
            message: format!(
                "{} file(s) spell the direction `_up.sql` / `_down.sql`; strata reads them as `.up.sql` / `.down.sql`, as runners that look at the name's ending do (golang-migrate would skip them); rename them to make that explicit",
                underscored.len()
            ),
            paths: underscored,
        });
    }
    // golang-migrate pairs an up and a down by version, not by the whole name
    // (`30_add_x.up.sql` with `30_drop_x.down.sql`). Where a version has several migrations
    // (`0001_a.up.sql` and `0001_b.up.sql`, applied in file-name order by the project's own
    // runner) each up takes the down of its own stem.
    let mut downs_of_version: HashMap<String, Vec<(&str, &Entry, Version)>> =
        HashMap::with_capacity(downs.len());
    for &(stem, entry) in &downs {
        let Some((version, _)) = split_version_name(stem) else {
            not_a_migration(kind, listing, entry, &mut loaded);
            continue;
        };
        downs_of_version
            .entry(version.canonical_key())
            .or_default()
            .push((stem, entry, version));
    }
    let mut ups_of_version: HashMap<String, usize> = HashMap::with_capacity(ups.len());
    let parsed_ups: Vec<Option<(Version, String)>> = ups
        .iter()
        .map(|&(stem, _)| split_version_name(stem))
        .collect();
    for (version, _) in parsed_ups.iter().flatten() {
        *ups_of_version.entry(version.canonical_key()).or_default() += 1;
    }
    let mut used_downs: HashSet<&str> = HashSet::with_capacity(downs.len());
    let mut ambiguous: HashSet<String> = HashSet::new();
    let mut migrations = Vec::with_capacity(ups.len());
    let mut problems = Vec::new();
    for (&(stem, entry), parsed) in ups.iter().zip(parsed_ups) {
        let Some((version, name)) = parsed else {
            not_a_migration(kind, listing, entry, &mut loaded);
            continue;
        };
        let Some(up) = whole_script(listing, entry, &mut problems) else {
            continue;
        };
        let checksum = up.file.checksum().clone();
        let key = version.canonical_key();
        let candidates = downs_of_version.get(&key).map_or(&[][..], Vec::as_slice);
        let own = candidates
            .iter()
            .find(|(down_stem, _, _)| *down_stem == stem);
        let down_entry = match (own, candidates, ups_of_version[&key]) {
            (Some(&(down_stem, d, _)), _, _) => Some((down_stem, d)),
            // The one down of the one up of this version, whatever its name.
            (None, [(down_stem, d, _)], 1) => Some((*down_stem, *d)),
            (None, [], _) => None,
            (None, [_], _) => None,
            (None, several, 1) => {
                ambiguous.insert(key.clone());
                loaded.problems.push(Problem {
                    paths: several.iter().map(|(_, d, _)| d.rel.clone()).collect(),
                    message: format!(
                        "{} down migrations for version {version} and none named like its up `{stem}`; keep one, or name it `{stem}.down.sql`",
                        several.len()
                    ),
                });
                None
            }
            (None, _, _) => None,
        };
        let down = down_entry.and_then(|(down_stem, d)| {
            used_downs.insert(down_stem);
            whole_script(listing, d, &mut problems)
        });
        let id = MigrationId {
            version: Some(version),
            name,
            shared_version: false,
        };
        migrations.push(versioned(id, up, down, checksum));
    }
    // A down that no up took is, as in golang-migrate, a migration with an empty (no-op) up
    // that is recorded when applied, and this down, which `down` runs.
    for (key, candidates) in &downs_of_version {
        if ambiguous.contains(key) {
            continue;
        }
        for &(stem, entry, ref version) in candidates {
            if used_downs.contains(stem) {
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
                version: Some(version.clone()),
                name,
                shared_version: false,
            };
            migrations.push(versioned(id, up, Some(down), checksum));
        }
    }
    loaded.migrations.extend(migrations);
    loaded.problems.extend(problems);
    loaded
}

/// For a stem `<version>_<name>_up` (or `_down`) with a version: the stem without that
/// ending, and whether it is an up.
fn underscored_direction(stem: &str) -> Option<(&str, bool)> {
    let (rest, up) = match stem.strip_suffix("_up") {
        Some(rest) => (rest, true),
        None => (stem.strip_suffix("_down")?, false),
    };
    split_version_name(rest).is_some().then_some((rest, up))
}
