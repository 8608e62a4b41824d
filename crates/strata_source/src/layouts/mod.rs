//! The layouts, one module each, behind one trait.
//!
//! Detection is evidence-based: content markers (`-- migrate:up`, `-- +goose Up`) and naming
//! schemes that only one tool uses (`.up.sql`, `V1__`, `<dir>/up.sql`) decide; plain numbered
//! files are the fallback. The reason is kept so `strata status` can say why it read a
//! directory the way it did.

mod diesel;
mod flyway;
mod pairs;
mod pattern;
mod prisma;
mod sectioned;
mod sqitch;

pub use pattern::PatternLayout;

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
    /// Prisma Migrate: a directory `<timestamp>_<name>/` per migration holding
    /// `migration.sql`, and `migration_lock.toml` at the top; no down scripts.
    Prisma,
    /// A team's own naming scheme, described by a regular expression in strata.toml (see
    /// [`PatternLayout`]); never detected, only configured.
    Pattern,
}

impl LayoutKind {
    /// Every layout, in detection priority order, except that a `sqitch.plan` is looked for
    /// first (it is definitive); the layouts added later come last so the older ones keep
    /// their indices (the fuzz targets pick a layout by index). Prisma is tried after the
    /// others: its directories hold no file another layout claims, so a directory that also
    /// has another layout's files is read as that layout. `Pattern` has no evidence of its own.
    pub const ALL: [LayoutKind; 9] = [
        LayoutKind::Diesel,
        LayoutKind::Flyway,
        LayoutKind::Dbmate,
        LayoutKind::Goose,
        LayoutKind::Updown,
        LayoutKind::Plain,
        LayoutKind::Sqitch,
        LayoutKind::Prisma,
        LayoutKind::Pattern,
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
            LayoutKind::Prisma => "prisma",
            LayoutKind::Pattern => "pattern",
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
            LayoutKind::Prisma => "a directory `<timestamp>_<name>/` holding `migration.sql`, with `migration_lock.toml` beside them",
            LayoutKind::Pattern => "file names matching the set's `pattern` in strata.toml",
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
    /// Things the source tool accepts that deserve a look (a down without its up, a file that
    /// looks meant as a migration but is not one), each naming its files.
    pub warnings: Vec<Problem>,
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

/// The implementation of a layout. A pattern set's layout lives in its configuration: for
/// [`LayoutKind::Pattern`] this returns one that reports the missing pattern, and the set
/// loads through [`crate::load_dir_with`] with its configured [`PatternLayout`].
pub fn layout_for(kind: LayoutKind) -> &'static dyn Layout {
    match kind {
        LayoutKind::Updown => &pairs::Updown,
        LayoutKind::Plain => &pairs::Plain,
        LayoutKind::Flyway => &flyway::Flyway,
        LayoutKind::Dbmate => &sectioned::Dbmate,
        LayoutKind::Goose => &sectioned::Goose,
        LayoutKind::Diesel => &diesel::Diesel,
        LayoutKind::Sqitch => &sqitch::Sqitch,
        LayoutKind::Prisma => &prisma::Prisma,
        LayoutKind::Pattern => &pattern::Unconfigured,
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
            // Counted in migrations, not files: a set of 124 pairs has 248 files, all of them
            // following the convention.
            return Detection {
                layout: kind,
                reason: format!(
                    "{n} {} named the {kind} way: {}",
                    // Flyway's evidence counts its undo scripts too, Prisma's its lock file.
                    if kind == LayoutKind::Flyway {
                        "script(s)"
                    } else if kind == LayoutKind::Prisma {
                        "file(s)"
                    } else {
                        "migration(s)"
                    },
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

/// True when `name` begins the way a migration file of `kind` does: a version (`001_`,
/// `20250101_`), or for Flyway `V`/`U` and a version, or `R__`. A file that begins so but is
/// not a migration is a typo worth an error; any other file is not a migration at all.
pub(crate) fn starts_like_a_migration(kind: LayoutKind, name: &str) -> bool {
    let bytes = name.as_bytes();
    match kind {
        LayoutKind::Flyway => match bytes {
            [b'V' | b'U' | b'v' | b'u', next, ..] => next.is_ascii_digit() || *next == b'_',
            [b'R' | b'r', b'_', ..] => true,
            _ => false,
        },
        _ => bytes.first().is_some_and(u8::is_ascii_digit),
    }
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

/// Languages of code migrations by file extension, per layout: goose's Go migrations,
/// Flyway's Java (and Kotlin) classes, and the JavaScript/TypeScript migrations of
/// node-pg-migrate projects, whose SQL migrations strata reads as plain files. dbmate,
/// golang-migrate, diesel and sqitch have no code migrations: there such files are helpers.
fn code_extensions(kind: LayoutKind) -> &'static [(&'static str, &'static str)] {
    match kind {
        LayoutKind::Goose => &[("go", "Go")],
        LayoutKind::Flyway => &[("java", "Java"), ("kt", "Kotlin")],
        LayoutKind::Plain => &[
            ("js", "JavaScript"),
            ("cjs", "JavaScript"),
            ("mjs", "JavaScript"),
            ("ts", "TypeScript"),
        ],
        _ => &[],
    }
}

/// The version, name and language of a code migration of `kind` named `name`
/// (`00005_backfill.go`, `V3__Backfill.java`), or `None`.
pub(crate) fn code_migration_name(
    kind: LayoutKind,
    name: &str,
) -> Option<(strata_model::Version, String, &'static str)> {
    let (stem, ext) = name.rsplit_once('.')?;
    let language = code_extensions(kind)
        .iter()
        .find(|(e, _)| e.eq_ignore_ascii_case(ext))?
        .1;
    // Go's tests sit beside the migrations they test.
    if stem.ends_with("_test") {
        return None;
    }
    match kind {
        LayoutKind::Flyway => {
            let (version, desc) = stem.strip_prefix('V')?.split_once("__")?;
            let version = strata_model::Version::parse(version).ok()?;
            (!desc.is_empty()).then(|| (version, desc.to_owned(), language))
        }
        _ => {
            let (version, name) = crate::names::split_version_name(stem)?;
            Some((version, name, language))
        }
    }
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
    if marked && !matches!(kind, LayoutKind::Flyway | LayoutKind::Prisma) {
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
