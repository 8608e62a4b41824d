//! Finding migrations on disk, in whatever layout a team already uses.
//!
//! strata must drop into a repository without renaming a file, so it reads golang-migrate/sqlx
//! pairs, plain numbered files, Flyway `V/U/R` scripts (in one directory or several
//! locations), dbmate and goose sectioned files, diesel's and Prisma's directory-per-migration
//! layouts, and a team's own naming scheme described by a regular expression. Each layout is
//! one module behind the [`Layout`] trait; [`load_dir`] lists the directory once, lets every
//! layout score the listing, picks one and says why. Every `.sql` file must be claimed: a file the chosen layout cannot read is an
//! error naming it, never silently skipped. Discovery never touches a database.

mod cache;
mod deferred;
mod layouts;
mod listing;
mod names;
mod new_file;
mod placeholders;
mod snapshot;
pub mod sqitch;

pub use cache::{CacheWrites, FileCache, FileKey, RACY_MARGIN};
pub use deferred::{load_dir_cached, load_dir_cached_writing_later, Part};
pub use layouts::{layout_for, Layout, LayoutKind, PatternLayout};
pub use listing::{Deferred, Entry, Listing};
pub use new_file::{new_migration_files, NewFile, Timestamp, UP_TEMPLATE};
pub use placeholders::{render_placeholders, validate_value, PlaceholderSyntax, Syntax};
pub use snapshot::{hint as snapshot_hint, SnapshotHint};

/// Splits a `<version>_<name>` stem (a file or directory name without extension) into its
/// version and name, with the same rules the layouts use (timestamps in every spelling).
pub fn parse_version_name(stem: &str) -> Option<(strata_model::Version, String)> {
    names::split_version_name(stem)
}

use serde::Serialize;
use std::path::{Path, PathBuf};
use strata_model::{Migration, MigrationKind};

/// A loaded migration set: every migration of one directory, in apply order.
#[derive(Debug, Clone)]
pub struct MigrationSet {
    /// The directory that was read.
    pub dir: PathBuf,
    /// Which layout was used, and why.
    pub detection: Detection,
    /// Versioned migrations in version order, then repeatables in name order.
    pub migrations: Vec<Migration>,
    /// Files that are not migrations (READMEs, `.gitkeep`, Go files of goose projects), listed
    /// so that nothing is skipped silently.
    pub ignored: Vec<PathBuf>,
    /// What the source tool accepts but deserves a look (a down without its up, a file named
    /// like a migration without a version), each naming its files; `status` shows them.
    pub warnings: Vec<Problem>,
    /// The parsed `sqitch.plan` of a sqitch project (change `i` is migration version `i + 1`).
    pub sqitch: Option<sqitch::SqitchPlan>,
}

impl MigrationSet {
    /// Versioned migrations only, in order.
    pub fn versioned(&self) -> impl Iterator<Item = &Migration> {
        self.migrations
            .iter()
            .filter(|m| m.kind == MigrationKind::Versioned)
    }
}

/// The outcome of layout detection.
#[derive(Debug, Clone, Serialize)]
pub struct Detection {
    /// The chosen layout.
    pub layout: LayoutKind,
    /// Why it was chosen (or "configured" when forced by the user).
    pub reason: String,
}

/// Everything wrong with a migration directory, reported at once.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} problem(s) in migration directory {}:\n{}", problems.len(), dir.display(), problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
#[non_exhaustive]
pub struct SourceError {
    /// The directory.
    pub dir: PathBuf,
    /// Each problem with the file it concerns.
    pub problems: Vec<Problem>,
}

/// One problem with one (or more) files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The files concerned, relative to the set's directory.
    pub paths: Vec<PathBuf>,
    /// What is wrong and what to do.
    pub message: String,
}

impl Problem {
    pub(crate) fn new(path: impl Into<PathBuf>, message: impl Into<String>) -> Problem {
        Problem {
            paths: vec![path.into()],
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let paths: Vec<String> = self.paths.iter().map(|p| p.display().to_string()).collect();
        write!(f, "{}: {}", paths.join(", "), self.message)
    }
}

/// Reads a migration directory. `layout` forces a layout instead of detecting one.
pub fn load_dir(dir: &Path, layout: Option<LayoutKind>) -> Result<MigrationSet, SourceError> {
    let listing = Listing::read(dir).map_err(|e| SourceError {
        dir: dir.to_owned(),
        problems: vec![Problem::new(
            dir,
            format!("cannot read the directory: {e}; check `dir` in strata.toml or --dir"),
        )],
    })?;
    load_listing(&listing, layout)
}

/// Loads an already-read listing (the pure core of [`load_dir`], used by tests on in-memory
/// listings).
pub fn load_listing(
    listing: &Listing,
    layout: Option<LayoutKind>,
) -> Result<MigrationSet, SourceError> {
    let detection = match layout {
        Some(kind) => Detection {
            layout: kind,
            reason: "configured".into(),
        },
        None => layouts::detect(listing),
    };
    let layout = layout_for(detection.layout);
    load_listing_with(listing, layout, detection)
}

/// Reads a migration directory with a layout that carries configuration of its own (a
/// [`PatternLayout`]), which [`load_dir`] cannot pick by kind.
pub fn load_dir_with(dir: &Path, layout: &dyn Layout) -> Result<MigrationSet, SourceError> {
    let listing = Listing::read(dir).map_err(|e| SourceError {
        dir: dir.to_owned(),
        problems: vec![Problem::new(
            dir,
            format!("cannot read the directory: {e}; check `dir` in strata.toml or --dir"),
        )],
    })?;
    let detection = Detection {
        layout: layout.kind(),
        reason: "configured".into(),
    };
    load_listing_with(&listing, layout, detection)
}

/// Reads a Flyway set kept in several locations (`[[set]] dirs` in strata.toml), merged in
/// version order as Flyway merges its `locations`. Each location is read recursively, as
/// Flyway reads it; `root` is the directory the paths in messages are relative to (the one
/// holding strata.toml), so two files of the same name in different locations are told
/// apart. A version claimed in two locations is a duplicate naming both files.
pub fn load_locations(root: &Path, locations: &[PathBuf]) -> Result<MigrationSet, SourceError> {
    let listing =
        Listing::read_locations(root, locations).map_err(|(location, e)| SourceError {
            dir: root.to_owned(),
            problems: vec![Problem::new(
                location,
                format!("cannot read this location: {e}; check `dirs` in strata.toml"),
            )],
        })?;
    let shown: Vec<String> = locations
        .iter()
        .map(|l| listing.relative(l).display().to_string())
        .collect();
    let detection = Detection {
        layout: LayoutKind::Flyway,
        reason: format!(
            "configured: {} Flyway locations ({}), merged in version order",
            locations.len(),
            shown.join(", ")
        ),
    };
    load_listing_with(&listing, layout_for(LayoutKind::Flyway), detection)
}

/// Loads a listing with `layout`, ordering the migrations and reporting duplicates.
pub(crate) fn load_listing_with(
    listing: &Listing,
    layout: &dyn Layout,
    detection: Detection,
) -> Result<MigrationSet, SourceError> {
    let loaded = layout.load(listing);
    let mut problems = loaded.problems;
    let mut migrations = loaded.migrations;
    // Files listed by name are usually in version order already (zero-padded or timestamped
    // versions): one pass checks that instead of a sort comparing versions part by part.
    if !migrations
        .windows(2)
        .all(|w| apply_order(&w[0], &w[1]).is_le())
    {
        migrations.sort_by(apply_order);
    }
    let mut shared: Vec<usize> = Vec::new();
    for (i, pair) in migrations.windows(2).enumerate() {
        let (a, b) = (&pair[0], &pair[1]);
        // Spelled alike (`0010_a`, `0010_b`): one version two files share. Spelled unlike
        // (`001_a`, `1_b`) a psql loop would not even run them next to each other.
        let spelled_alike = matches!((&a.id.version, &b.id.version), (Some(x), Some(y)) if x.as_str() == y.as_str());
        if claim_the_same_version(a, b)
            && spelled_alike
            && a.id.name != b.id.name
            && layout.shares_versions()
        {
            shared.extend([i, i + 1]);
        } else if claim_the_same_version(a, b) {
            problems.push(Problem {
                paths: vec![listing.relative(a.path()), listing.relative(b.path())],
                message: format!(
                    "duplicate version {}: two migrations claim it; renumber one of them (for example with the next free version)",
                    a.id.version.as_ref().map_or(a.id.name.clone(), |v| v.to_string())
                ),
            });
        }
    }
    shared.dedup();
    let mut warnings = loaded.warnings;
    if !shared.is_empty() {
        for &i in &shared {
            migrations[i].id.shared_version = true;
        }
        warnings.push(Problem {
            paths: shared
                .iter()
                .map(|&i| listing.relative(migrations[i].path()))
                .collect(),
            message: format!(
                "{} migrations share their version with another one; strata applies them in file-name order, as a psql loop over the files (and runners that key by file name) do, and records each under `<version>_<name>` (for example `{}`); give each its own version to make the order explicit",
                shared.len(),
                migrations[shared[0]].id.registry_key()
            ),
        });
    }
    if !problems.is_empty() {
        problems.sort_by(|a, b| a.paths.cmp(&b.paths));
        return Err(SourceError {
            dir: listing.dir().to_owned(),
            problems,
        });
    }
    let mut ignored = loaded.ignored;
    ignored.sort_unstable();
    Ok(MigrationSet {
        dir: listing.dir().to_owned(),
        detection,
        migrations,
        ignored,
        warnings: {
            warnings.sort_by(|a, b| a.paths.cmp(&b.paths));
            warnings
        },
        sqitch: loaded.sqitch,
    })
}

/// The order of a set's migrations: versioned ones by version, then repeatables by name.
pub(crate) fn apply_order(a: &Migration, b: &Migration) -> std::cmp::Ordering {
    (a.kind, &a.id.version, &a.id.name).cmp(&(b.kind, &b.id.version, &b.id.name))
}

/// True when two migrations adjacent in [`apply_order`] are a duplicate: numerically equal
/// versions are the same migration (`001` == `1`).
pub(crate) fn claim_the_same_version(a: &Migration, b: &Migration) -> bool {
    match (&a.id.version, &b.id.version) {
        (Some(x), Some(y)) => x.same_as(y),
        (None, None) => a.id.name == b.id.name,
        _ => false,
    }
}

#[cfg(test)]
mod tests;
