//! diesel: one directory per migration, `<version>_<name>/up.sql` and `down.sql`.

use super::{common_checks, unclaimed, versioned, Layout, LayoutKind, Loaded};
use crate::deferred::whole_script;
use crate::listing::{Entry, Listing};
use crate::names::split_version_name;
use crate::Problem;
use std::collections::BTreeMap;
use std::path::Path;
use strata_model::MigrationId;

/// The diesel layout.
pub struct Diesel;

impl Layout for Diesel {
    fn kind(&self) -> LayoutKind {
        LayoutKind::Diesel
    }

    fn evidence(&self, listing: &Listing) -> usize {
        listing
            .entries()
            .iter()
            .filter(|e| e.parent.is_some() && e.name == "up.sql")
            .count()
    }

    fn load(&self, listing: &Listing) -> Loaded {
        let mut loaded = Loaded::default();
        common_checks(listing, &mut loaded);
        let mut dirs: BTreeMap<&str, (Option<&Entry>, Option<&Entry>)> = BTreeMap::new();
        for entry in listing.entries() {
            let top_level_dir = entry.parent.as_deref().filter(|d| !d.contains('/'));
            match (top_level_dir, entry.name.as_str()) {
                (Some(dir), "up.sql") => dirs.entry(dir).or_default().0 = Some(entry),
                (Some(dir), "down.sql") => dirs.entry(dir).or_default().1 = Some(entry),
                // diesel reads `up.sql`/`down.sql` one directory deep and nothing else: a
                // top-level `schema.sql` or a script deeper down is not a migration.
                (None, _) if entry.parent.is_none() => {
                    super::not_a_migration(LayoutKind::Diesel, listing, entry, &mut loaded)
                }
                _ => loaded.ignored.push(entry.rel.clone()),
            }
        }
        for (dir, (up, down)) in dirs {
            let Some(up_entry) = up else {
                let rel = down.map_or_else(|| Path::new(dir).to_owned(), |d| d.rel.clone());
                loaded.problems.push(Problem::new(rel, format!("this down migration has no up migration (expected `{dir}/up.sql`); add it or delete the directory")));
                continue;
            };
            let Some((version, name)) = split_version_name(dir) else {
                loaded
                    .problems
                    .push(unclaimed(LayoutKind::Diesel, &up_entry.rel));
                continue;
            };
            let Some(up) = whole_script(listing, up_entry, &mut loaded.problems) else {
                continue;
            };
            let checksum = up.file.checksum().clone();
            let down = down.and_then(|d| whole_script(listing, d, &mut loaded.problems));
            let id = MigrationId {
                version: Some(version),
                name,
                shared_version: false,
            };
            loaded.migrations.push(versioned(id, up, down, checksum));
        }
        loaded
    }
}
