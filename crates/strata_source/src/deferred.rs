//! Loading a set without reading what planning does not need.
//!
//! A no-op `up` or a `status` over thousands of applied migrations needs, per migration, its
//! name, version and checksum; it needs no SQL. [`load_dir_cached`] therefore builds
//! *deferred* scripts (see [`strata_model::SourceFile::deferred`]) for files whose checksum the
//! file cache vouches for, and for down scripts, and [`MigrationSet::load_scripts`] reads the
//! few scripts a plan actually runs, checking each against the checksum planning used.
//!
//! Only the layouts that keep one script per file (updown, plain, diesel) take deferred
//! entries; for the others every file is read, as by [`crate::load_dir`].

use crate::cache::{CacheWrites, FileCache};
use crate::layouts::{self, directives_of, source_file, LayoutKind};
use crate::listing::{Deferred, Entry, Listing};
use crate::{MigrationSet, Problem, SourceError};
use std::path::Path;
use std::sync::Arc;
use strata_model::{Script, SourceFile};

/// Which script of a migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The up script.
    Up,
    /// The down script.
    Down,
}

/// Reads a migration directory like [`crate::load_dir`], but defers every file it can: with
/// `cache_dir` (the project's `.strata/cache`; `None` turns the cache off), up scripts whose
/// `stat` matches the file cache are not read; down scripts are never read here. Call
/// [`MigrationSet::load_scripts`] for the scripts a plan uses before touching their text.
/// When nothing in the directory changed since the last load, the set comes from its snapshot
/// in `cache_dir` without listing the directory (see `snapshot.rs`).
pub fn load_dir_cached(
    dir: &Path,
    layout: Option<LayoutKind>,
    cache_dir: Option<&Path>,
) -> Result<MigrationSet, SourceError> {
    let (set, writes) = load_dir_cached_writing_later(dir, layout, cache_dir)?;
    writes.write();
    Ok(set)
}

/// [`load_dir_cached`], leaving the new snapshot of the directory (when this load makes one)
/// for the caller to write once it has handed the set over (see [`CacheWrites`]).
pub fn load_dir_cached_writing_later(
    dir: &Path,
    layout: Option<LayoutKind>,
    cache_dir: Option<&Path>,
) -> Result<(MigrationSet, CacheWrites), SourceError> {
    load_cached_at(dir, layout, cache_dir, None)
}

/// [`load_dir_cached_writing_later`], with `clock` (nanoseconds since the epoch) standing for
/// the clock readings that decide which files and directories count as settled (tests).
pub(crate) fn load_cached_at(
    dir: &Path,
    layout: Option<LayoutKind>,
    cache_dir: Option<&Path>,
    clock: Option<i128>,
) -> Result<(MigrationSet, CacheWrites), SourceError> {
    if let Some(loaded) = cache_dir.and_then(|c| crate::snapshot::load(c, dir, layout, clock)) {
        return Ok(loaded);
    }
    // Parsing the cache file and listing the directory are independent and each a few ms at
    // 10,000 migrations: done side by side.
    let (cache, walked) = std::thread::scope(|scope| {
        let cache = scope.spawn(|| {
            cache_dir.map_or_else(FileCache::disabled, |c| {
                FileCache::open(c, dir).with_clock(clock)
            })
        });
        let walked = Listing::walk_dir(dir, cache_dir.is_some()).map(|w| w.with_clock(clock));
        (
            cache.join().expect("the cache-reading thread panicked"),
            walked,
        )
    });
    let (listing, set) = load_walked(dir, layout, cache, walked)?;
    let writes = cache_dir.map_or_else(CacheWrites::default, |cache_dir| {
        crate::snapshot::save(cache_dir, &listing, layout, &set)
    });
    Ok((set, writes))
}

/// [`load_dir_cached`] with a given cache (tests move its clock).
#[cfg(test)]
pub(crate) fn load_with_cache(
    dir: &Path,
    layout: Option<LayoutKind>,
    cache: FileCache,
) -> Result<MigrationSet, SourceError> {
    load_walked(dir, layout, cache, Listing::walk_dir(dir, false)).map(|(_, set)| set)
}

fn load_walked(
    dir: &Path,
    layout: Option<LayoutKind>,
    mut cache: FileCache,
    walked: std::io::Result<crate::listing::Walked>,
) -> Result<(Listing, MigrationSet), SourceError> {
    let unreadable = |e: std::io::Error| SourceError {
        dir: dir.to_owned(),
        problems: vec![Problem::new(
            dir,
            format!("cannot read the directory: {e}; check `dir` in strata.toml or --dir"),
        )],
    };
    let mut listing =
        Listing::fill_cached(walked.map_err(unreadable)?, &mut cache).map_err(unreadable)?;
    let detection = match layout {
        Some(kind) => crate::Detection {
            layout: kind,
            reason: "configured".into(),
        },
        None => layouts::detect(&listing),
    };
    if !crate::layout_for(detection.layout).whole_file_scripts() {
        listing.read_deferred().map_err(unreadable)?;
    }
    let mut set = crate::load_listing(&listing, Some(detection.layout))?;
    set.detection = detection;
    Ok((listing, set))
}

/// The script of a whole-file entry: deferred when the listing deferred the entry, else read,
/// decoded and with its directives parsed (problems reported as by the layouts).
pub(crate) fn whole_script(
    listing: &Listing,
    entry: &Entry,
    problems: &mut Vec<Problem>,
) -> Option<Script> {
    let checksum = match &entry.deferred {
        Some(Deferred::Cached(c)) => Some(c.clone()),
        Some(Deferred::Unread) => None,
        None => {
            let file = source_file(listing, entry, problems)?;
            let directives = directives_of(&file, 0..file.text().len(), &entry.rel, problems);
            return Some(Script::whole(file, directives));
        }
    };
    let file = SourceFile::deferred(listing.path_of(entry), checksum);
    Some(Script::deferred(Arc::new(file)))
}

impl MigrationSet {
    /// True when some script has not been read.
    pub fn has_deferred(&self) -> bool {
        self.migrations.iter().any(|m| {
            m.up.file.is_deferred() || m.down.as_ref().is_some_and(|d| d.file.is_deferred())
        })
    }

    /// Reads every deferred script (before placeholders are rendered, or for verbs that look
    /// at all texts).
    pub fn load_all(&mut self) -> Result<(), SourceError> {
        let wanted: Vec<(usize, Part)> = (0..self.migrations.len())
            .flat_map(|i| [(i, Part::Up), (i, Part::Down)])
            .collect();
        self.load_scripts(&wanted)
    }

    /// Reads the given deferred scripts (others are left alone), for a plan that runs them.
    /// An up script must still have the checksum planning used, or the file changed during
    /// the run. A blank down script (only comments, `-- no-op`) is a revert that does nothing
    /// but remove the history row, as golang-migrate runs one.
    pub fn load_scripts(&mut self, wanted: &[(usize, Part)]) -> Result<(), SourceError> {
        let mut problems = Vec::new();
        for &(index, part) in wanted {
            let Some(m) = self.migrations.get_mut(index) else {
                continue;
            };
            let script = match part {
                Part::Up => &mut m.up,
                Part::Down => match &mut m.down {
                    Some(d) => d,
                    None => continue,
                },
            };
            if !script.file.is_deferred() {
                continue;
            }
            let path = script.file.path().to_owned();
            let rel = path.strip_prefix(&self.dir).unwrap_or(&path).to_owned();
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) => {
                    problems.push(Problem::new(
                        &rel,
                        format!("cannot read the file: {e}; it was there when strata listed the directory"),
                    ));
                    continue;
                }
            };
            let file = match SourceFile::from_bytes(path.clone(), &bytes) {
                Ok(f) => Arc::new(f),
                Err(at) => {
                    problems.push(Problem::new(
                        &rel,
                        format!(
                            "not valid UTF-8 at line {} column {}; re-save the file as UTF-8 (PostgreSQL migrations must be UTF-8 text)",
                            at.line, at.col
                        ),
                    ));
                    continue;
                }
            };
            if part == Part::Up && *file.checksum() != m.checksum {
                problems.push(Problem::new(
                    &rel,
                    "the file changed while strata was running (its checksum differs from the one just checked); run the command again",
                ));
                continue;
            }
            let directives = directives_of(&file, 0..file.text().len(), &rel, &mut problems);
            let script = Script::whole(file, directives);
            match part {
                Part::Up => m.up = script,
                Part::Down => m.down = Some(script),
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(SourceError {
                dir: self.dir.clone(),
                problems,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use strata_model::Checksum;

    /// A run that "starts" a minute from now: every file written by the test counts as
    /// settled (see `cache.rs`, racily clean files).
    fn later() -> i128 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as i128;
        now + 60_000_000_000
    }

    fn load(dir: &Path, cache_dir: &Path) -> MigrationSet {
        let cache = FileCache::open(cache_dir, dir).with_clock(Some(later()));
        load_with_cache(dir, None, cache).unwrap()
    }

    fn ctime_ns(path: &Path) -> i128 {
        use std::os::unix::fs::MetadataExt;
        let m = fs::metadata(path).unwrap();
        i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec())
    }

    /// Waits until the file system's clock has moved past `path`'s ctime, so that the next
    /// change gets a different ctime (kernel timestamps tick coarsely, a few ms).
    fn next_tick(path: &Path) {
        let before = ctime_ns(path);
        let probe = path.with_extension("probe");
        loop {
            fs::write(&probe, b"x").unwrap();
            let now = ctime_ns(&probe);
            fs::remove_file(&probe).unwrap();
            if now > before {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }

    fn setup() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("m");
        let cache = tmp.path().join(".strata/cache");
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join("1_a.up.sql"), "create table a (id int);\n").unwrap();
        fs::write(dir.join("1_a.down.sql"), "drop table a;\n").unwrap();
        fs::write(
            dir.join("2_b.up.sql"),
            "-- strata:no-transaction\nselect 2;\n",
        )
        .unwrap();
        (tmp, dir, cache)
    }

    #[test]
    fn second_run_defers_cached_files_and_never_reads_downs() {
        let (_tmp, dir, cache) = setup();
        let first = load(&dir, &cache);
        assert!(
            !first.migrations[0].up.file.is_deferred(),
            "nothing cached yet"
        );
        assert!(first.migrations[0]
            .down
            .as_ref()
            .unwrap()
            .file
            .is_deferred());
        let second = load(&dir, &cache);
        let a = &second.migrations[0];
        assert!(a.up.file.is_deferred());
        assert_eq!(
            a.checksum,
            Checksum::of_bytes(b"create table a (id int);\n"),
            "the cached checksum is the file's"
        );
        // A file with a directive is never cached: its directives matter for planning.
        assert!(!second.migrations[1].up.file.is_deferred());
        assert_eq!(second.migrations[1].up.directives.len(), 1);
    }

    #[test]
    fn rewriting_the_cache_keeps_the_entries_still_valid() {
        let (_tmp, dir, cache) = setup();
        load(&dir, &cache);
        // A new migration: the cache is rewritten with it and with the hits of this run.
        fs::write(dir.join("3_c.up.sql"), "create table c (id int);\n").unwrap();
        load(&dir, &cache);
        let set = load(&dir, &cache);
        assert!(set.migrations[0].up.file.is_deferred());
        assert!(set.migrations[2].up.file.is_deferred());
        // Entries out of order (a hand-edited file) are still found.
        let file = FileCache::open(&cache, &dir).path().to_owned();
        let text = fs::read_to_string(&file).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines[2..].reverse();
        fs::write(&file, lines.join("\n") + "\n").unwrap();
        let set = load(&dir, &cache);
        assert!(set.migrations[0].up.file.is_deferred());
        assert!(set.migrations[2].up.file.is_deferred());
        assert_eq!(
            set.migrations[2].checksum,
            Checksum::of_bytes(b"create table c (id int);\n")
        );
    }

    #[test]
    fn same_size_edit_with_restored_mtime_is_detected() {
        let (_tmp, dir, cache) = setup();
        let path = dir.join("1_a.up.sql");
        load(&dir, &cache);
        assert!(load(&dir, &cache).migrations[0].up.file.is_deferred());
        let mtime = fs::metadata(&path).unwrap().modified().unwrap();
        next_tick(&path);
        // Same size, and the modification time put back as it was (`touch -d`, `cp -p`,
        // `rsync -t` do this): only ctime tells.
        fs::write(&path, "create table b (id int);\n").unwrap();
        fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), mtime);
        let set = load(&dir, &cache);
        let a = &set.migrations[0];
        assert!(!a.up.file.is_deferred(), "the edited file is read again");
        assert_eq!(
            a.checksum,
            Checksum::of_bytes(b"create table b (id int);\n")
        );
    }

    #[test]
    fn replaced_file_is_detected() {
        let (_tmp, dir, cache) = setup();
        let path = dir.join("1_a.up.sql");
        load(&dir, &cache);
        let mtime = fs::metadata(&path).unwrap().modified().unwrap();
        // An editor's save: a new file renamed over the old one, mtime restored.
        let new = dir.join(".1_a.up.sql.swp");
        fs::write(&new, "create table c (id int);\n").unwrap();
        fs::File::options()
            .write(true)
            .open(&new)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        fs::rename(&new, &path).unwrap();
        let set = load(&dir, &cache);
        assert!(!set.migrations[0].up.file.is_deferred());
        assert_eq!(
            set.migrations[0].checksum,
            Checksum::of_bytes(b"create table c (id int);\n")
        );
    }

    #[test]
    fn files_changed_just_now_are_not_cached() {
        let (_tmp, dir, cache) = setup();
        // The real clock: the files were written within the racy margin.
        for _ in 0..2 {
            let set = load_dir_cached(&dir, None, Some(&cache)).unwrap();
            assert!(!set.migrations[0].up.file.is_deferred());
        }
    }

    #[test]
    fn corrupt_or_foreign_cache_is_ignored() {
        let (_tmp, dir, cache) = setup();
        load(&dir, &cache);
        let file = FileCache::open(&cache, &dir).path().to_owned();
        let text = fs::read_to_string(&file).unwrap();
        // Another directory's cache under this name (a hash collision) is not used.
        fs::write(
            &file,
            text.replacen(&dir.display().to_string(), "/elsewhere", 1),
        )
        .unwrap();
        assert!(!load(&dir, &cache).migrations[0].up.file.is_deferred());
        fs::write(&file, "garbage").unwrap();
        assert!(!load(&dir, &cache).migrations[0].up.file.is_deferred());
        // One damaged line costs that file's entry, not the others'.
        load(&dir, &cache);
        let text = fs::read_to_string(&file).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        assert_eq!(lines.len(), 3, "header, directory, 1_a.up.sql: {text}");
        lines.insert(2, "12 not-a-time 3 4 5 zz 0_x.up.sql".into());
        fs::write(&file, lines.join("\n")).unwrap();
        assert!(load(&dir, &cache).migrations[0].up.file.is_deferred());
    }

    #[test]
    fn load_scripts_reads_and_checks_what_a_plan_runs() {
        let (_tmp, dir, cache) = setup();
        load(&dir, &cache);
        let mut set = load(&dir, &cache);
        set.load_scripts(&[(0, Part::Up), (0, Part::Down)]).unwrap();
        assert_eq!(set.migrations[0].up.sql(), "create table a (id int);\n");
        assert_eq!(
            set.migrations[0].down.as_ref().unwrap().sql(),
            "drop table a;\n"
        );
        assert!(!set.has_deferred());

        // Changed between planning and running: refused, not run.
        let mut set = load(&dir, &cache);
        fs::write(dir.join("1_a.up.sql"), "create table z (id int);\n").unwrap();
        let err = set.load_scripts(&[(0, Part::Up)]).unwrap_err();
        assert!(err.problems[0]
            .message
            .contains("changed while strata was running"));
    }

    #[test]
    fn a_blank_down_is_a_no_op_revert() {
        let (_tmp, dir, cache) = setup();
        fs::write(dir.join("1_a.down.sql"), "-- nothing\n").unwrap();
        let mut set = load(&dir, &cache);
        set.load_scripts(&[(0, Part::Down)]).unwrap();
        assert!(set.migrations[0].down.as_ref().unwrap().is_blank());
        let mut set = load(&dir, &cache);
        set.load_all().unwrap();
        assert!(set.migrations[0].down.as_ref().unwrap().is_blank());
    }

    #[test]
    fn sectioned_layouts_read_everything() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("m");
        fs::create_dir(&dir).unwrap();
        fs::write(
            dir.join("1_a.sql"),
            "-- migrate:up\ncreate table a (id int);\n-- migrate:down\ndrop table a;\n",
        )
        .unwrap();
        let cache = tmp.path().join("cache");
        load(&dir, &cache);
        let set = load(&dir, &cache);
        assert_eq!(set.detection.layout, LayoutKind::Dbmate);
        assert!(!set.has_deferred());
    }

    #[test]
    fn prisma_sets_load_through_the_cache_but_are_never_snapshotted() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("m");
        fs::create_dir_all(dir.join("20240101120000_init")).unwrap();
        fs::write(
            dir.join("migration_lock.toml"),
            "provider = \"postgresql\"\n",
        )
        .unwrap();
        fs::write(
            dir.join("20240101120000_init/migration.sql"),
            "create table a (id int);\n",
        )
        .unwrap();
        let cache = tmp.path().join("cache");
        for _ in 0..3 {
            let (set, writes) = load_cached_at(&dir, None, Some(&cache), Some(later())).unwrap();
            writes.write();
            assert_eq!(set.detection.layout, LayoutKind::Prisma);
            assert!(!set.has_deferred(), "every Prisma script is read");
            assert_eq!(set.migrations[0].up.sql(), "create table a (id int);\n");
        }
        let snapshots = fs::read_dir(&cache)
            .map(|d| {
                d.filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .file_name()
                        .to_string_lossy()
                        .starts_with("set-")
                })
                .count()
            })
            .unwrap_or(0);
        assert_eq!(snapshots, 0, "a Prisma set has no snapshot");
    }
}
