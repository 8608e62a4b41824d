//! diesel: one directory per migration, `<version>_<name>/up.sql` and `down.sql`.

use super::{common_checks, unclaimed, versioned, Layout, LayoutKind, Loaded};
use crate::deferred::whole_script;
use crate::listing::{Entry, Listing};
use crate::names::split_version_name;
use crate::new_file::{NewFile, Timestamp, DOWN_TEMPLATE, UP_TEMPLATE};
use crate::Problem;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use strata_model::MigrationId;

/// The diesel layout.
pub struct Diesel;

impl Layout for Diesel {
    fn kind(&self) -> LayoutKind {
        LayoutKind::Diesel
    }
    fn name(&self) -> &'static str {
        "diesel"
    }
    fn pattern(&self) -> &'static str {
        "a directory `<version>_<name>/` holding `up.sql` and `down.sql`"
    }
    fn whole_file_scripts(&self) -> bool {
        true
    }
    fn first_version(&self, now: &Timestamp) -> String {
        now.separated('-')
    }
    fn new_files(&self, version: &str, name: &str) -> Result<Vec<NewFile>, String> {
        let dir = PathBuf::from(format!("{version}_{name}"));
        Ok(vec![
            NewFile::new(dir.join("up.sql"), UP_TEMPLATE),
            NewFile::new(dir.join("down.sql"), DOWN_TEMPLATE),
        ])
    }
    fn squashed_file(&self, version: &str, name: &str, body: &str) -> Result<NewFile, String> {
        Ok(NewFile::new(
            PathBuf::from(format!("{version}_{name}")).join("up.sql"),
            body,
        ))
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
