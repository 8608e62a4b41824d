//! The layouts, one module each, behind one trait, listed once in [`LAYOUTS`].
//!
//! Everything strata knows about a layout lives in its module: how to recognise it, how to
//! read it, how it names the files `new` and `squash` write, and what the other verbs may do
//! with it. Adding a layout is one module, its [`LayoutKind`] variant and its row in
//! [`LAYOUTS`]; detection, `--layout` values and messages follow from the table.
//!
//! Detection is evidence-based: content markers (`-- migrate:up`, `-- +goose Up`) and naming
//! schemes that only one tool uses (`.up.sql`, `V1__`, `<dir>/up.sql`) decide; plain numbered
//! files are the fallback. The reason is kept so `strata status` can say why it read a
//! directory the way it did.

mod dbmate;
mod diesel;
mod flyway;
mod goose;
mod pairs;
mod pattern;
mod plain;
mod prisma;
mod sectioned;
mod sqitch;
mod updown;

pub use pattern::PatternLayout;

use crate::listing::{Entry, Listing};
use crate::new_file::{NewFile, Timestamp};
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
    /// Prisma Migrate: a directory `<timestamp>_<name>/` per migration holding
    /// `migration.sql`, and `migration_lock.toml` at the top; no down scripts.
    Prisma,
    /// A team's own naming scheme, described by a regular expression in strata.toml (see
    /// [`PatternLayout`]); never detected, only configured.
    Pattern,
}

/// Every layout, in detection priority order, except that a `sqitch.plan` is looked for first
/// (it is definitive); the layouts added later come last so the older ones keep their indices
/// (the fuzz targets pick a layout by index). Prisma is tried after the others: its
/// directories hold no file another layout claims, so a directory that also has another
/// layout's files is read as that layout. `Pattern` has no evidence of its own: its row reads
/// nothing and says why, and a pattern set loads with its configured [`PatternLayout`].
pub static LAYOUTS: [&dyn Layout; 9] = [
    &diesel::Diesel,
    &flyway::Flyway,
    &dbmate::Dbmate,
    &goose::Goose,
    &updown::Updown,
    &plain::Plain,
    &sqitch::Sqitch,
    &prisma::Prisma,
    &pattern::Unconfigured,
];

impl LayoutKind {
    /// Every layout kind, in the order of [`LAYOUTS`].
    pub fn all() -> impl Iterator<Item = LayoutKind> {
        LAYOUTS.iter().map(|l| l.kind())
    }

    /// The configuration name (`--layout`, `layout =` in strata.toml).
    pub fn as_str(self) -> &'static str {
        layout_for(self).name()
    }

    /// Parses a configuration name.
    pub fn from_name(name: &str) -> Option<LayoutKind> {
        LAYOUTS.iter().find(|l| l.name() == name).map(|l| l.kind())
    }

    /// The configuration names, in table order (for `--layout` and its errors).
    pub fn names() -> impl Iterator<Item = &'static str> {
        LAYOUTS.iter().map(|l| l.name())
    }

    /// The naming pattern, for messages.
    pub fn pattern(self) -> &'static str {
        layout_for(self).pattern()
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
    /// Things the source tool accepts that deserve a look (a down without its up, a file that
    /// looks meant as a migration but is not one), each naming its files.
    pub warnings: Vec<Problem>,
    /// Non-migration files.
    pub ignored: Vec<PathBuf>,
    /// The parsed `sqitch.plan` (sqitch layout only).
    pub sqitch: Option<crate::sqitch::SqitchPlan>,
}

/// One way of laying out migrations on disk: everything strata knows about it.
pub trait Layout: Sync {
    /// Which layout this is.
    fn kind(&self) -> LayoutKind;
    /// The configuration name (`updown`, `flyway`, ...).
    fn name(&self) -> &'static str;
    /// Its file naming, for messages.
    fn pattern(&self) -> &'static str;
    /// How strongly the listing looks like this layout: the number of entries that only this
    /// layout would name or mark the way they are.
    fn evidence(&self, listing: &Listing) -> usize;
    /// What [`Layout::evidence`] counts, for the detection's reason.
    fn evidence_noun(&self) -> &'static str {
        "migration(s)"
    }
    /// Reads every migration, reporting every file it cannot read.
    fn load(&self, listing: &Listing) -> Loaded;

    /// True when `name` begins the way one of this layout's migration files does (a version:
    /// `001_`, `20250101_`). A file that begins so but is not a migration is a typo worth an
    /// error; any other file is not a migration at all.
    fn starts_like_a_migration(&self, name: &str) -> bool {
        name.as_bytes().first().is_some_and(u8::is_ascii_digit)
    }
    /// Extensions of the code migrations its tool runs beside the SQL ones, with their
    /// language (goose's `.go`); elsewhere such files are helpers.
    fn code_languages(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }
    /// The version and name of a code migration's stem (`00005_backfill`).
    fn code_stem(&self, stem: &str) -> Option<(strata_model::Version, String)> {
        crate::names::split_version_name(stem)
    }
    /// True when `.up.sql` / `.down.sql` name its migrations, so such a file without a version
    /// was probably meant as one.
    fn names_directions(&self) -> bool {
        true
    }
    /// True when every script is a whole file (no sections): reading can be deferred to the
    /// file cache, and the set snapshotted.
    fn whole_file_scripts(&self) -> bool {
        false
    }
    /// True when every migration is a file at the top of the directory: a changed directory
    /// can be read as its snapshot plus the names added.
    fn flat(&self) -> bool {
        false
    }
    /// True when its tool applies several migrations of one version, in file-name order
    /// (psql loops, runners that key by file name); elsewhere that is a duplicate.
    fn shares_versions(&self) -> bool {
        false
    }

    /// The version `strata new` gives the first migration of an empty set.
    fn first_version(&self, now: &Timestamp) -> String {
        now.compact()
    }
    /// The files `strata new` writes for migration `version`, `name` (a sanitized name), or
    /// why this layout's files are not strata's to write.
    fn new_files(&self, version: &str, name: &str) -> Result<Vec<NewFile>, String>;
    /// The file `strata squash` writes for a baseline holding `body`, or why it cannot (said
    /// of the set: "is a sqitch project, ...").
    fn squashed_file(&self, version: &str, name: &str, body: &str) -> Result<NewFile, String>;
    /// Whether `strata renumber` may rename this layout's files, and why not (said of the
    /// set, as for [`Layout::squashed_file`]).
    fn renumbers(&self) -> Result<(), String> {
        Ok(())
    }
}

/// The implementation of a layout. A pattern set's layout lives in its configuration: for
/// [`LayoutKind::Pattern`] this returns one that reports the missing pattern, and the set
/// loads through [`crate::load_dir_with`] with its configured [`PatternLayout`].
pub fn layout_for(kind: LayoutKind) -> &'static dyn Layout {
    *LAYOUTS
        .iter()
        .find(|l| l.kind() == kind)
        .expect("every layout kind has a row in LAYOUTS")
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
    let sqitch_first = std::iter::once(LayoutKind::Sqitch)
        .chain(LayoutKind::all().filter(|k| *k != LayoutKind::Sqitch));
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
            // Counted in migrations, not files: a set of 124 pairs has 248 files, all of them
            // following the convention.
            return Detection {
                layout: kind,
                reason: format!(
                    "{n} {} named the {kind} way: {}",
                    layout_for(kind).evidence_noun(),
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

/// Builds a versioned migration. An up script that is empty or holds only comments is a no-op
/// that is applied and recorded, as golang-migrate and sqlx record one; a down script of that
/// kind is a no-op revert. A blank up script that is exactly what an earlier `strata new` wrote
/// is marked as a template, which `up` refuses to apply (see [`strata_model::DirectiveKind::Template`]).
pub(crate) fn versioned(
    id: MigrationId,
    mut up: Script,
    down: Option<Script>,
    checksum: Checksum,
) -> Migration {
    // (A blank file holds no `-- strata:template` line: the older template is marked here.)
    if up.is_blank() && crate::new_file::LEGACY_TEMPLATES.contains(&up.file.text()) {
        up.directives.push(Directive {
            kind: strata_model::DirectiveKind::Template,
            line: 1,
            text: up.file.text().lines().next().unwrap_or_default().to_owned(),
        });
    }
    Migration {
        id,
        kind: MigrationKind::Versioned,
        up,
        down,
        verify: None,
        checksum,
    }
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

/// Sorts an entry below the top level of a layout that reads only the top level: listed as
/// ignored, as golang-migrate, goose and dbmate ignore sub-directories (a `seeds/` folder, a
/// project's helper scripts).
pub(crate) fn not_a_top_level_migration(entry: &Entry, loaded: &mut Loaded) {
    loaded.ignored.push(entry.rel.clone());
}

/// See [`Layout::starts_like_a_migration`].
pub(crate) fn starts_like_a_migration(kind: LayoutKind, name: &str) -> bool {
    layout_for(kind).starts_like_a_migration(name)
}

/// True for `.sql`, and for an extension one typing slip away from it (`.sq`, `.sqll`,
/// `.sl`): a file named like a migration with such an extension was meant to be one.
pub(crate) fn sql_like_extension(name: &str) -> bool {
    // An editor's backup (`001_init.sql~`) is no migration a tool would run.
    let Some((_, ext)) = name.rsplit_once('.').filter(|_| !name.ends_with('~')) else {
        return false;
    };
    let ext = ext.to_ascii_lowercase();
    ext == "sql" || strata_model::edit_distance_at_most_one(&ext, "sql")
}

/// The version, name and language of a code migration of `kind` named `name`
/// (`00005_backfill.go`, `V3__Backfill.java`), or `None`.
pub(crate) fn code_migration_name(
    kind: LayoutKind,
    name: &str,
) -> Option<(strata_model::Version, String, &'static str)> {
    let (stem, ext) = name.rsplit_once('.')?;
    let layout = layout_for(kind);
    let language = layout
        .code_languages()
        .iter()
        .find(|(e, _)| e.eq_ignore_ascii_case(ext))?
        .1;
    // Go's tests sit beside the migrations they test.
    if stem.ends_with("_test") {
        return None;
    }
    let (version, name) = layout.code_stem(stem)?;
    Some((version, name, language))
}

/// Sorts a top-level file that the layout does not read as an SQL migration: a code migration
/// (`00005_backfill.go`) takes its place in the order, marked so that `up` stops before it;
/// named like one of its migrations (a version first, an SQL-like extension), it is an error
/// naming the typo; named with one of the layout's own markers (`init.up.sql`) but no version,
/// it is ignored, as the source tool ignores it, with a warning; anything else (`seed.sql`,
/// `schema.sql`, `README.md`) is listed as ignored.
pub(crate) fn not_a_migration(
    kind: LayoutKind,
    listing: &Listing,
    entry: &Entry,
    loaded: &mut Loaded,
) {
    if let Some((version, name, language)) = code_migration_name(kind, &entry.name) {
        let Some(file) = source_file(listing, entry, &mut loaded.problems) else {
            return;
        };
        loaded.warnings.push(Problem::new(
            &entry.rel,
            format!("a {language} migration: strata runs SQL only, so `up` applies the migrations before it and stops there; run it with its own tool, then record it with `strata adopt` (or `strata baseline {version}`)"),
        ));
        let checksum = file.checksum().clone();
        let up = Script::whole(
            file,
            vec![Directive {
                kind: strata_model::DirectiveKind::Code { language },
                line: 1,
                text: format!("{language} migration"),
            }],
        );
        loaded.migrations.push(versioned(
            MigrationId {
                version: Some(version),
                name,
                shared_version: false,
            },
            up,
            None,
            checksum,
        ));
        return;
    }
    if starts_like_a_migration(kind, &entry.name) && sql_like_extension(&entry.name) {
        loaded.problems.push(unclaimed(kind, &entry.rel));
        return;
    }
    let marked = entry.name.ends_with(".up.sql") || entry.name.ends_with(".down.sql");
    // Flyway and Prisma name their migrations otherwise: `.up.sql` is no marker of theirs.
    if marked && layout_for(kind).names_directions() {
        loaded.warnings.push(Problem::new(
            &entry.rel,
            format!(
                "named like a {kind} migration but without a version, so it is not one and does not run (as the {kind} tool ignores it); give it a version prefix if it should run"
            ),
        ));
    }
    loaded.ignored.push(entry.rel.clone());
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
