//! Flyway: `V<version>__<description>.sql` versioned scripts, `U<version>__` undo scripts and
//! `R__<description>.sql` repeatables. Flyway spells `1.1` as `1_1` too; both are the same
//! version here, as in Flyway.

use super::{common_checks, directives_of, source_file, versioned, Layout, LayoutKind, Loaded};
use crate::listing::{Entry, Listing};
use crate::new_file::{NewFile, Timestamp, UP_TEMPLATE};
use crate::Problem;
use std::collections::BTreeMap;
use strata_model::{Migration, MigrationId, MigrationKind, Script, Version};

/// The Flyway layout.
pub struct Flyway;

enum Name<'a> {
    Versioned(&'a str, &'a str),
    Undo(&'a str),
    Repeatable(&'a str),
}

/// What pairs an undo script with its migration: the version's numeric components (`U05`
/// undoes `V5`).
fn undo_key(version: &Version) -> String {
    version.parts().collect::<Vec<_>>().join(".")
}

fn parse_name(name: &str) -> Option<Name<'_>> {
    let stem = name.strip_suffix(".sql")?;
    // The prefix is one character, which need not be one byte (`é__x.sql`).
    let (prefix, rest) = stem.split_at(stem.chars().next().map_or(0, char::len_utf8));
    let (version, desc) = rest.split_once("__")?;
    if desc.is_empty() {
        return None;
    }
    match prefix {
        "R" if version.is_empty() => Some(Name::Repeatable(desc)),
        "V" if !version.is_empty() => Some(Name::Versioned(version, desc)),
        "U" if !version.is_empty() => Some(Name::Undo(version)),
        _ => None,
    }
}

impl Layout for Flyway {
    fn kind(&self) -> LayoutKind {
        LayoutKind::Flyway
    }
    fn name(&self) -> &'static str {
        "flyway"
    }
    fn pattern(&self) -> &'static str {
        "`V<version>__<description>.sql`, `U<version>__<description>.sql` or `R__<description>.sql`"
    }
    /// Flyway's evidence counts its undo scripts too.
    fn evidence_noun(&self) -> &'static str {
        "script(s)"
    }
    fn starts_like_a_migration(&self, name: &str) -> bool {
        match name.as_bytes() {
            [b'V' | b'U' | b'v' | b'u', next, ..] => next.is_ascii_digit() || *next == b'_',
            [b'R' | b'r', b'_', ..] => true,
            _ => false,
        }
    }
    fn code_languages(&self) -> &'static [(&'static str, &'static str)] {
        &[("java", "Java"), ("kt", "Kotlin")]
    }
    fn code_stem(&self, stem: &str) -> Option<(Version, String)> {
        let (version, desc) = stem.strip_prefix('V')?.split_once("__")?;
        let version = Version::parse(version).ok()?;
        (!desc.is_empty()).then(|| (version, desc.to_owned()))
    }
    fn names_directions(&self) -> bool {
        false
    }
    fn first_version(&self, _: &Timestamp) -> String {
        "1".into()
    }
    fn new_files(&self, version: &str, name: &str) -> Result<Vec<NewFile>, String> {
        Ok(vec![NewFile::new(
            format!("V{version}__{name}.sql"),
            UP_TEMPLATE,
        )])
    }
    fn squashed_file(&self, version: &str, name: &str, body: &str) -> Result<NewFile, String> {
        Ok(NewFile::new(format!("V{version}__{name}.sql"), body))
    }

    fn evidence(&self, listing: &Listing) -> usize {
        listing
            .entries()
            .iter()
            .filter(|e| e.parent.is_none() && parse_name(&e.name).is_some())
            .count()
    }

    fn load(&self, listing: &Listing) -> Loaded {
        let mut loaded = Loaded::default();
        common_checks(listing, &mut loaded);
        let mut undos: BTreeMap<String, (&Entry, Version)> = BTreeMap::new();
        let mut versioned_entries = Vec::new();
        for entry in listing.entries() {
            // Flyway scans its locations recursively; so does strata. (Java migrations are
            // code, which `not_a_migration` places in the order for `up` to stop before.)
            if !entry.name.ends_with(".sql") {
                super::not_a_migration(LayoutKind::Flyway, listing, entry, &mut loaded);
                continue;
            }
            match parse_name(&entry.name) {
                Some(Name::Versioned(v, d)) => match Version::parse(v) {
                    Ok(version) => versioned_entries.push((entry, version, d)),
                    Err(e) => loaded.problems.push(Problem::new(
                        &entry.rel,
                        format!("cannot parse the Flyway version: {e}"),
                    )),
                },
                Some(Name::Undo(v)) => match Version::parse(v) {
                    Ok(version) => {
                        undos.insert(undo_key(&version), (entry, version));
                    }
                    Err(e) => loaded.problems.push(Problem::new(
                        &entry.rel,
                        format!("cannot parse the Flyway version: {e}"),
                    )),
                },
                Some(Name::Repeatable(desc)) => {
                    let Some(file) = source_file(listing, entry, &mut loaded.problems) else {
                        continue;
                    };
                    let directives = directives_of(
                        &file,
                        0..file.text().len(),
                        &entry.rel,
                        &mut loaded.problems,
                    );
                    let checksum = file.checksum().clone();
                    // Empty, it is a no-op that is recorded, as Flyway records it.
                    let up = Script::whole(file, directives);
                    loaded.migrations.push(Migration {
                        id: MigrationId {
                            version: None,
                            name: desc.to_owned(),
                            shared_version: false,
                        },
                        kind: MigrationKind::Repeatable,
                        up,
                        down: None,
                        verify: None,
                        checksum,
                    });
                }
                None => super::not_a_migration(LayoutKind::Flyway, listing, entry, &mut loaded),
            }
        }
        for (entry, version, desc) in versioned_entries {
            let Some(file) = source_file(listing, entry, &mut loaded.problems) else {
                continue;
            };
            let directives = directives_of(
                &file,
                0..file.text().len(),
                &entry.rel,
                &mut loaded.problems,
            );
            let checksum = file.checksum().clone();
            let up = Script::whole(file, directives);
            let down = undos.remove(&undo_key(&version)).and_then(|(u, _)| {
                let file = source_file(listing, u, &mut loaded.problems)?;
                let directives =
                    directives_of(&file, 0..file.text().len(), &u.rel, &mut loaded.problems);
                Some(Script::whole(file, directives))
            });
            let id = MigrationId {
                version: Some(version),
                name: desc.to_owned(),
                shared_version: false,
            };
            loaded.migrations.push(versioned(id, up, down, checksum));
        }
        for (entry, version) in undos.values() {
            loaded.problems.push(Problem::new(
                &entry.rel,
                format!("this undo migration has no up migration (no `V{version}__*.sql` beside it); add it or delete the undo file"),
            ));
        }
        loaded
    }
}
