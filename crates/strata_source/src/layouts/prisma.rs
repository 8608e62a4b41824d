//! Prisma Migrate: one directory per migration, `<timestamp>_<name>/migration.sql`, with
//! `migration_lock.toml` at the top of the migrations directory.
//!
//! Prisma has no down scripts (a `down.sql` it can generate is run by hand, never by
//! `prisma migrate`), so neither does this layout: such a file is listed as ignored. Prisma
//! identifies a migration by its directory name; strata keys it by the version that name
//! begins with, and `adopt` matches Prisma's `migration_name` against the directory name.

use super::{common_checks, unclaimed, versioned, Layout, LayoutKind, Loaded};
use crate::deferred::whole_script;
use crate::listing::{Entry, Listing};
use crate::names::split_version_name;
use crate::new_file::{NewFile, UP_TEMPLATE};
use crate::Problem;
use std::collections::BTreeMap;
use std::path::PathBuf;
use strata_model::MigrationId;

/// The Prisma layout.
pub struct Prisma;

/// The file Prisma keeps beside its migration directories (it records the provider).
pub(crate) const LOCK_FILE: &str = "migration_lock.toml";

/// The script of a Prisma migration.
const SCRIPT: &str = "migration.sql";

/// The migration directory an entry sits in directly, if any.
fn migration_dir(entry: &Entry) -> Option<&str> {
    entry.parent.as_deref().filter(|d| !d.contains('/'))
}

/// The `provider = "..."` of a `migration_lock.toml`, with its 1-based line: `None` when the
/// file names none (Prisma writes one; a file without it is left to Prisma to judge).
fn provider_of(bytes: &[u8]) -> Option<(usize, String)> {
    let text = std::str::from_utf8(bytes).ok()?;
    text.lines().enumerate().find_map(|(i, line)| {
        let (key, value) = line.split_once('=')?;
        if key.trim() != "provider" {
            return None;
        }
        let value = value.split('#').next()?.trim().trim_matches('"');
        Some((i + 1, value.to_owned()))
    })
}

impl Layout for Prisma {
    fn kind(&self) -> LayoutKind {
        LayoutKind::Prisma
    }
    fn name(&self) -> &'static str {
        "prisma"
    }
    fn pattern(&self) -> &'static str {
        "a directory `<timestamp>_<name>/` holding `migration.sql`, with `migration_lock.toml` beside them"
    }
    /// Prisma's evidence counts its lock file too.
    fn evidence_noun(&self) -> &'static str {
        "file(s)"
    }
    fn names_directions(&self) -> bool {
        false
    }
    /// Prisma has no down scripts.
    fn new_files(&self, version: &str, name: &str) -> Result<Vec<NewFile>, String> {
        Ok(vec![NewFile::new(
            PathBuf::from(format!("{version}_{name}")).join(SCRIPT),
            UP_TEMPLATE,
        )])
    }
    fn squashed_file(&self, version: &str, name: &str, body: &str) -> Result<NewFile, String> {
        Ok(NewFile::new(
            PathBuf::from(format!("{version}_{name}")).join(SCRIPT),
            body,
        ))
    }

    fn evidence(&self, listing: &Listing) -> usize {
        listing
            .entries()
            .iter()
            // Only a directory named like a migration counts: a `seeds/migration.sql` beside
            // plain numbered files does not make them a Prisma project.
            .filter(|e| match migration_dir(e) {
                Some(dir) => e.name == SCRIPT && split_version_name(dir).is_some(),
                None => e.parent.is_none() && e.name == LOCK_FILE,
            })
            .count()
    }

    fn load(&self, listing: &Listing) -> Loaded {
        let mut loaded = Loaded::default();
        common_checks(listing, &mut loaded);
        // Every migration directory, with its script when it has one.
        let mut dirs: BTreeMap<&str, Option<&Entry>> = BTreeMap::new();
        for entry in listing.entries() {
            match (migration_dir(entry), entry.name.as_str()) {
                (Some(dir), SCRIPT) => {
                    dirs.insert(dir, Some(entry));
                }
                (Some(dir), _) => {
                    dirs.entry(dir).or_default();
                    loaded.ignored.push(entry.rel.clone());
                }
                // Prisma's own file: part of the layout, not a stray one. It names the
                // database the migrations were written for.
                (None, LOCK_FILE) if entry.parent.is_none() => {
                    if let Some((line, provider)) = provider_of(&entry.bytes) {
                        if provider != "postgresql" {
                            loaded.problems.push(Problem::new(
                                &entry.rel,
                                format!("line {line}: these migrations were written for Prisma's `{provider}` provider, not `postgresql`; strata runs PostgreSQL migrations only (Prisma refuses them against PostgreSQL too, P3019)"),
                            ));
                        }
                    }
                }
                (None, _) if entry.parent.is_none() => {
                    super::not_a_migration(LayoutKind::Prisma, listing, entry, &mut loaded)
                }
                _ => loaded.ignored.push(entry.rel.clone()),
            }
        }
        for (dir, script) in dirs {
            let Some(entry) = script else {
                // Prisma refuses a migration directory without its script (P3015); a folder
                // not named like a migration is just not one.
                if dir.as_bytes().first().is_some_and(u8::is_ascii_digit) {
                    loaded.problems.push(Problem::new(
                        dir,
                        format!("this Prisma migration directory has no `{SCRIPT}` (Prisma refuses it too); restore the file or delete the directory"),
                    ));
                }
                continue;
            };
            let Some((version, name)) = split_version_name(dir) else {
                loaded
                    .problems
                    .push(unclaimed(LayoutKind::Prisma, &entry.rel));
                continue;
            };
            let Some(up) = whole_script(listing, entry, &mut loaded.problems) else {
                continue;
            };
            let checksum = up.file.checksum().clone();
            let id = MigrationId {
                version: Some(version),
                name,
                shared_version: false,
            };
            loaded.migrations.push(versioned(id, up, None, checksum));
        }
        loaded
    }
}
