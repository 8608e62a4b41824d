//! A team's own naming scheme, described in strata.toml by a regular expression.
//!
//! Home-grown schemes (`M0001.add_users.forward.sql`, `0001-add-users-UP.sql`) follow no tool,
//! so no fixed layout reads them, and guessing would be wrong half the time. The team states
//! its scheme once, with named groups for what strata needs: `version` (required), `name` and
//! `direction` (both optional). The pattern must match the whole file name. A file it does not
//! match is not a migration and is listed as ignored; one it matches but whose parts do not
//! make sense (a `version` that is no version, a direction that is neither of the configured
//! two) is an error naming it. Ups and downs pair by version, as golang-migrate pairs them.
//! The layout is never detected: only a `[[set]]` with `layout = "pattern"` uses it.

use super::{common_checks, versioned, Layout, LayoutKind, Loaded};
use crate::deferred::whole_script;
use crate::listing::{Entry, Listing};
use crate::new_file::NewFile;
use crate::Problem;
use std::collections::HashMap;
use strata_model::{MigrationId, Version};

/// The named groups a pattern may use.
const GROUPS: [&str; 3] = ["version", "name", "direction"];

/// A configured pattern layout: the regular expression and the two direction words.
#[derive(Debug, Clone)]
pub struct PatternLayout {
    /// The pattern as written in strata.toml (for messages).
    source: String,
    /// The pattern anchored at both ends, so it must match the whole file name.
    regex: regex::Regex,
    /// The `direction` of an up script (default `up`).
    up: String,
    /// The `direction` of a down script (default `down`).
    down: String,
}

impl PatternLayout {
    /// Checks and compiles a pattern with its direction words (`None` takes the defaults,
    /// `up` and `down`). The error says what is wrong in terms of strata.toml's keys.
    pub fn new(
        pattern: &str,
        up_direction: Option<&str>,
        down_direction: Option<&str>,
    ) -> Result<PatternLayout, String> {
        // Anchored here, so a pattern written without `^...$` cannot match a part of a name.
        let regex = regex::Regex::new(&format!("^(?:{pattern})$"))
            .map_err(|e| format!("`pattern` is not a valid regular expression: {e}"))?;
        let names: Vec<&str> = regex.capture_names().flatten().collect();
        if let Some(other) = names.iter().find(|n| !GROUPS.contains(n)) {
            return Err(format!(
                "`pattern` names a group `{other}`; the groups strata reads are `version` (required), `name` and `direction`"
            ));
        }
        if !names.contains(&"version") {
            return Err(
                "`pattern` has no group named `version`: capture the version with `(?P<version>...)`, e.g. `^M(?P<version>\\d+)\\.(?P<name>[a-z_]+)\\.sql$`"
                    .into(),
            );
        }
        let has_direction = names.contains(&"direction");
        if !has_direction && (up_direction.is_some() || down_direction.is_some()) {
            return Err("`up_direction` and `down_direction` need a group named `direction` in `pattern`, e.g. `\\.(?P<direction>up|down)\\.sql$`".into());
        }
        let up = up_direction.unwrap_or("up").to_owned();
        let down = down_direction.unwrap_or("down").to_owned();
        if up.is_empty() || down.is_empty() || up == down {
            return Err(format!(
                "`up_direction` (`{up}`) and `down_direction` (`{down}`) must be two different, non-empty words"
            ));
        }
        Ok(PatternLayout {
            source: pattern.to_owned(),
            regex,
            up,
            down,
        })
    }

    /// The pattern as configured.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

/// What a matching file name says.
struct Parts<'a> {
    version: &'a str,
    name: &'a str,
    /// `Some(true)` for an up script, `Some(false)` for a down script; `None` for another
    /// direction word.
    up: Option<bool>,
    direction: &'a str,
}

impl PatternLayout {
    fn parts<'a>(&self, file_name: &'a str) -> Option<Parts<'a>> {
        let caps = self.regex.captures(file_name)?;
        let group = |g: &str| caps.name(g).map_or("", |m| m.as_str());
        let direction = group("direction");
        // A name without a direction (the group did not take part) is an up script.
        let up = if direction.is_empty() || direction == self.up {
            Some(true)
        } else if direction == self.down {
            Some(false)
        } else {
            None
        };
        Some(Parts {
            version: group("version"),
            name: group("name"),
            up,
            direction,
        })
    }
}

/// How the pattern layout is described in messages.
const DESCRIPTION: &str = "file names matching the set's `pattern` in strata.toml";
/// Why `strata new` writes no files for a pattern set.
const NOT_NEW: &str = "the set names its files with its own `pattern`, which strata cannot write names from; create the files by hand";
/// Why `strata squash` refuses a pattern set (said of the set).
const NOT_SQUASHED: &str = "names its files with its own `pattern`, which strata cannot write a baseline's name from; squash it by hand";
/// Why `strata renumber` refuses a pattern set (said of the set).
const NOT_RENUMBERED: &str =
    "names its files with its own pattern or keeps them in several locations; renumber its files by hand";

impl Layout for PatternLayout {
    fn kind(&self) -> LayoutKind {
        LayoutKind::Pattern
    }
    fn name(&self) -> &'static str {
        "pattern"
    }
    fn pattern(&self) -> &'static str {
        DESCRIPTION
    }
    fn new_files(&self, _: &str, _: &str) -> Result<Vec<NewFile>, String> {
        Err(NOT_NEW.into())
    }
    fn squashed_file(&self, _: &str, _: &str, _: &str) -> Result<NewFile, String> {
        Err(NOT_SQUASHED.into())
    }
    fn renumbers(&self) -> Result<(), String> {
        Err(NOT_RENUMBERED.into())
    }
    fn shares_versions(&self) -> bool {
        true
    }

    fn evidence(&self, listing: &Listing) -> usize {
        listing
            .entries()
            .iter()
            .filter(|e| e.parent.is_none() && self.regex.is_match(&e.name))
            .count()
    }

    fn load(&self, listing: &Listing) -> Loaded {
        let mut loaded = Loaded::default();
        common_checks(listing, &mut loaded);
        let mut ups: Vec<(&Entry, Version, &str)> = Vec::new();
        let mut downs: HashMap<String, &Entry> = HashMap::new();
        for entry in listing.entries() {
            // Like the other file layouts, only the top level holds migrations.
            if entry.parent.is_some() {
                super::not_a_top_level_migration(entry, &mut loaded);
                continue;
            }
            let Some(parts) = self.parts(&entry.name) else {
                loaded.ignored.push(entry.rel.clone());
                continue;
            };
            let version = match Version::parse(parts.version) {
                Ok(v) => v,
                Err(e) => {
                    loaded.problems.push(Problem::new(
                        &entry.rel,
                        format!(
                            "the pattern's `version` group took `{}`, which is not a version ({e}); adjust `pattern` or rename the file",
                            parts.version
                        ),
                    ));
                    continue;
                }
            };
            match parts.up {
                Some(true) => ups.push((entry, version, parts.name)),
                Some(false) => {
                    if let Some(other) = downs.insert(version.canonical_key(), entry) {
                        loaded.problems.push(Problem {
                            paths: vec![other.rel.clone(), entry.rel.clone()],
                            message: format!("two down scripts for version {version}; keep one"),
                        });
                    }
                }
                None => loaded.problems.push(Problem::new(
                    &entry.rel,
                    format!(
                        "direction `{}` is neither `up_direction` (`{}`) nor `down_direction` (`{}`); rename the file or adjust the set's configuration",
                        parts.direction, self.up, self.down
                    ),
                )),
            }
        }
        for (entry, version, name) in ups {
            let Some(up) = whole_script(listing, entry, &mut loaded.problems) else {
                continue;
            };
            let checksum = up.file.checksum().clone();
            let down = downs
                .remove(&version.canonical_key())
                .and_then(|d| whole_script(listing, d, &mut loaded.problems));
            let id = MigrationId {
                version: Some(version),
                name: name.to_owned(),
                shared_version: false,
            };
            loaded.migrations.push(versioned(id, up, down, checksum));
        }
        // No tool defines what a lone down means in a home-grown scheme: refused, not guessed.
        let mut lone: Vec<&Entry> = downs.into_values().collect();
        lone.sort_by(|a, b| a.rel.cmp(&b.rel));
        for entry in lone {
            loaded.problems.push(Problem::new(
                &entry.rel,
                "this down script has no up script with its version; add the up script or delete this file",
            ));
        }
        loaded
    }
}

/// The pattern layout without a pattern (a `--layout pattern` or a set missing its `pattern`):
/// it reads nothing and says what is missing.
pub(crate) struct Unconfigured;

impl Layout for Unconfigured {
    fn kind(&self) -> LayoutKind {
        LayoutKind::Pattern
    }
    fn name(&self) -> &'static str {
        "pattern"
    }
    fn pattern(&self) -> &'static str {
        DESCRIPTION
    }
    fn new_files(&self, _: &str, _: &str) -> Result<Vec<NewFile>, String> {
        Err(NOT_NEW.into())
    }
    fn squashed_file(&self, _: &str, _: &str, _: &str) -> Result<NewFile, String> {
        Err(NOT_SQUASHED.into())
    }
    fn renumbers(&self) -> Result<(), String> {
        Err(NOT_RENUMBERED.into())
    }

    fn evidence(&self, _: &Listing) -> usize {
        0
    }

    fn load(&self, listing: &Listing) -> Loaded {
        let mut loaded = Loaded::default();
        loaded.problems.push(Problem::new(
            listing.dir(),
            "the pattern layout needs the set's `pattern` in strata.toml (a regular expression with a `version` group)",
        ));
        loaded
    }
}
