//! The layouts, one module each, behind one trait.
//!
//! Detection is evidence-based: content markers (`-- migrate:up`, `-- +goose Up`) and naming
//! schemes that only one tool uses (`.up.sql`, `V1__`, `<dir>/up.sql`) decide; plain numbered
//! files are the fallback. The reason is kept so `strata status` can say why it read a
//! directory the way it did.

mod diesel;
mod flyway;
mod pairs;
mod sectioned;
mod sqitch;

use crate::listing::{Entry, Listing};
use crate::{Detection, Problem};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use strata_model::{
    Checksum, Directive, Migration, MigrationId, MigrationKind, Script, SourceFile,
};

/// The layouts strata reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LayoutKind {
    /// `<version>_<name>.up.sql` + `.down.sql` (golang-migrate, sqlx).
    Updown,
    /// `<version>_<name>.sql` with an optional `.down.sql` sibling (psql loops).
    Plain,
    /// `V<version>__<desc>.sql`, `U<version>__<desc>.sql`, `R__<desc>.sql`.
    Flyway,
    /// One file per migration with `-- migrate:up` / `-- migrate:down` sections.
    Dbmate,
    /// One file per migration with `-- +goose Up` / `-- +goose Down` annotations.
    Goose,
    /// A directory per migration holding `up.sql` and `down.sql`.
    Diesel,
    /// A sqitch project: `sqitch.plan` with `deploy/`, `revert/` and `verify/` scripts.
    Sqitch,
}

impl LayoutKind {
    /// Every layout, in detection priority order, except that a `sqitch.plan` is looked for
    /// first (it is definitive); sqitch comes last here so the older layouts keep their indices.
    pub const ALL: [LayoutKind; 7] = [
        LayoutKind::Diesel,
        LayoutKind::Flyway,
        LayoutKind::Dbmate,
        LayoutKind::Goose,
        LayoutKind::Updown,
        LayoutKind::Plain,
        LayoutKind::Sqitch,
    ];

    /// The configuration name.
    pub fn as_str(self) -> &'static str {
        match self {
            LayoutKind::Updown => "updown",
            LayoutKind::Plain => "plain",
            LayoutKind::Flyway => "flyway",
            LayoutKind::Dbmate => "dbmate",
            LayoutKind::Goose => "goose",
            LayoutKind::Diesel => "diesel",
            LayoutKind::Sqitch => "sqitch",
        }
    }

    /// Parses a configuration name.
    pub fn from_name(name: &str) -> Option<LayoutKind> {
        LayoutKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The naming pattern, for messages.
    pub fn pattern(self) -> &'static str {
        match self {
            LayoutKind::Updown => "`<version>_<name>.up.sql` with `<version>_<name>.down.sql`",
            LayoutKind::Plain => "`<version>_<name>.sql` with an optional `<version>_<name>.down.sql`",
            LayoutKind::Flyway => "`V<version>__<description>.sql`, `U<version>__<description>.sql` or `R__<description>.sql`",
            LayoutKind::Dbmate => "`<version>_<name>.sql` containing `-- migrate:up` (and optionally `-- migrate:down`)",
            LayoutKind::Goose => "`<version>_<name>.sql` containing `-- +goose Up` (and optionally `-- +goose Down`)",
            LayoutKind::Diesel => "a directory `<version>_<name>/` holding `up.sql` and `down.sql`",
            LayoutKind::Sqitch => "`sqitch.plan` naming changes whose scripts are `deploy/<change>.sql`, `revert/<change>.sql` and `verify/<change>.sql`",
        }
    }
}

impl std::fmt::Display for LayoutKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a layout produced from a listing.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Migrations, unordered.
    pub migrations: Vec<Migration>,
    /// Problems, each naming its files.
    pub problems: Vec<Problem>,
    /// Non-migration files.
    pub ignored: Vec<PathBuf>,
    /// The parsed `sqitch.plan` (sqitch layout only).
    pub sqitch: Option<crate::sqitch::SqitchPlan>,
}

/// One way of laying out migrations on disk.
pub trait Layout {
    /// Which layout this is.
    fn kind(&self) -> LayoutKind;
    /// How strongly the listing looks like this layout: the number of entries that only this
    /// layout would name or mark the way they are.
    fn evidence(&self, listing: &Listing) -> usize;
    /// Reads every migration, reporting every file it cannot read.
    fn load(&self, listing: &Listing) -> Loaded;
}

/// The implementation of a layout.
pub fn layout_for(kind: LayoutKind) -> &'static dyn Layout {
    match kind {
        LayoutKind::Updown => &pairs::Updown,
        LayoutKind::Plain => &pairs::Plain,
        LayoutKind::Flyway => &flyway::Flyway,
        LayoutKind::Dbmate => &sectioned::Dbmate,
        LayoutKind::Goose => &sectioned::Goose,
        LayoutKind::Diesel => &diesel::Diesel,
        LayoutKind::Sqitch => &sqitch::Sqitch,
    }
}

pub(crate) fn detect(listing: &Listing) -> Detection {
    detect_from(
        |kind| layout_for(kind).evidence(listing),
        sql_files(listing),
    )
}

/// The number of `.sql` files of a listing (for the detection's reason).
pub(crate) fn sql_files(listing: &Listing) -> usize {
    listing
        .entries()
        .iter()
        .filter(|e| e.name.ends_with(".sql"))
        .count()
}

/// Detection from each layout's evidence and the number of `.sql` files. Evidence is a count
/// of entries, so the set snapshot can detect a directory from its stored counts plus the
/// entries added since (see `snapshot.rs`).
pub(crate) fn detect_from(evidence: impl Fn(LayoutKind) -> usize, sql_files: usize) -> Detection {
    let sqitch_first = std::iter::once(LayoutKind::Sqitch).chain(
        LayoutKind::ALL
            .into_iter()
            .filter(|k| *k != LayoutKind::Sqitch),
    );
    for kind in sqitch_first {
        if kind == LayoutKind::Plain {
            continue;
        }
        let n = evidence(kind);
        if n > 0 && kind == LayoutKind::Sqitch {
            return Detection {
                layout: kind,
                reason: format!("{} found: {}", sqitch::PLAN_FILE, kind.pattern()),
            };
        }
        if n > 0 {
            return Detection {
                layout: kind,
                reason: format!(
                    "{n} of {sql_files} .sql file(s) follow the {kind} convention: {}",
                    kind.pattern()
                ),
            };
        }
    }
    Detection {
        layout: LayoutKind::Plain,
        reason: format!(
            "no tool-specific names or markers among {sql_files} .sql file(s); reading them as {}",
            LayoutKind::Plain.pattern()
        ),
    }
}

/// Decodes a file, reporting invalid UTF-8 with its position.
pub(crate) fn source_file(
    listing: &Listing,
    entry: &Entry,
    problems: &mut Vec<Problem>,
) -> Option<Arc<SourceFile>> {
    match SourceFile::from_bytes(listing.path_of(entry), &entry.bytes) {
        Ok(f) => Some(Arc::new(f)),
        Err(at) => {
            problems.push(Problem::new(
                &entry.rel,
                format!(
                    "not valid UTF-8 at line {} column {}; re-save the file as UTF-8 (PostgreSQL migrations must be UTF-8 text)",
                    at.line, at.col
                ),
            ));
            None
        }
    }
}

/// Parses `-- strata:` directives of a script range, reporting unknown ones.
pub(crate) fn directives_of(
    file: &SourceFile,
    range: std::ops::Range<usize>,
    rel: &std::path::Path,
    problems: &mut Vec<Problem>,
) -> Vec<Directive> {
    let first_line = file.line_col(range.start).line;
    match strata_sql::parse_directives(&file.text()[range], first_line) {
        Ok(d) => d,
        Err(e) => {
            problems.push(Problem::new(rel, e.to_string()));
            Vec::new()
        }
    }
}

/// Builds a versioned migration, checking that the up script is not empty.
pub(crate) fn versioned(
    id: MigrationId,
    up: Script,
    down: Option<Script>,
    checksum: Checksum,
    rel: &std::path::Path,
    problems: &mut Vec<Problem>,
) -> Option<Migration> {
    if up.is_blank() {
        problems.push(Problem::new(
            rel,
            "the up migration is empty (only whitespace or comments); write its SQL or delete the file",
        ));
        return None;
    }
    Some(Migration {
        id,
        kind: MigrationKind::Versioned,
        up,
        down: down.filter(|d| !d.is_blank()),
        verify: None,
        checksum,
    })
}

/// The message for a `.sql` file that no layout can read.
pub(crate) fn unclaimed(kind: LayoutKind, rel: &std::path::Path) -> Problem {
    Problem::new(
        rel,
        format!(
            "cannot parse this file name: it matches no layout (this directory uses the {kind} layout: {}); rename it, or move it out of the migration directory",
            kind.pattern()
        ),
    )
}

/// The message for a `.sql` file below the top level of a layout that reads only the top level.
pub(crate) fn nested(kind: LayoutKind, rel: &std::path::Path) -> Problem {
    Problem::new(
        rel,
        format!(
            "this .sql file is in a sub-directory, and the {kind} layout reads migrations only from the top level of the set's directory; move it up, or configure that sub-directory as a set of its own"
        ),
    )
}

/// Sorts a non-migration entry: `.sql` files below the top level are problems, anything else is
/// listed as ignored.
pub(crate) fn not_a_top_level_migration(kind: LayoutKind, entry: &Entry, loaded: &mut Loaded) {
    if entry.name.ends_with(".sql") {
        loaded.problems.push(nested(kind, &entry.rel));
    } else {
        loaded.ignored.push(entry.rel.clone());
    }
}

/// Reports files with undecodable names and classifies non-SQL files as ignored.
pub(crate) fn common_checks(listing: &Listing, loaded: &mut Loaded) {
    for name in &listing.unreadable_names {
        loaded.problems.push(Problem::new(
            name,
            "the file name is not valid UTF-8; rename it",
        ));
    }
}
