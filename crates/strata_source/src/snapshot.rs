//! A snapshot of a loaded set, so that a run over an unchanged directory neither lists it nor
//! builds the set from file names again.
//!
//! With the file cache (`cache.rs`) a no-op `up` over 10,000 migrations reads no migration,
//! yet listing 20,000 names, matching pairs, detecting the layout and parsing every name still
//! cost most of its time. The set those steps produce depends only on the names in the
//! directories walked and on what the file cache says of each up script; the snapshot stores
//! that set together with what vouches for it, and [`load`] rebuilds the set from it when all
//! of it still holds.
//!
//! # Why a hit is the set a full load would build
//!
//! - **The names.** Adding, removing or renaming an entry changes its directory's mtime and
//!   ctime. Every directory the walk listed is `stat`-ed *before* it is listed, and the
//!   snapshot is written only when each of those directories last changed more than
//!   [`crate::RACY_MARGIN`] before that (the file cache's racily-clean rule), so any later
//!   change of its entries gives the directory a different key. [`load`] `stat`s every one of
//!   them and requires the very same key (size, mtime, ctime, inode, device). A listing that
//!   went through a symbolic link is never snapshotted: the link's target is not covered.
//! - **The contents.** Every up script of a snapshotted set was a file-cache hit (checksum
//!   known, no directive, no section marker, not blank), and its key is stored with it; [`load`]
//!   `stat`s every up script again and requires the same key, exactly as the file cache does
//!   per file, so an edit of an applied migration is still detected on every run. Down scripts
//!   are not read by a full load either (they are read, and checked, when a revert runs them).
//! - **Everything else that shapes the set**: the configured layout and the directory (both
//!   part of the snapshot's header), and the strata version that wrote it (the format and the
//!   loading rules may change between versions).
//!
//! Only the layouts whose scripts are whole files (updown, plain, diesel) are snapshotted,
//! and only sets that loaded without problems. The snapshot is an optimisation like the file
//! cache: missing, damaged or outdated, it is simply not used, and `STRATA_NO_FILE_CACHE=1`
//! turns both off.

use crate::cache::{fnv1a, write_atomically, FileKey};
use crate::layouts::LayoutKind;
use crate::listing::Listing;
use crate::{Detection, MigrationSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use strata_model::{
    Checksum, ChecksumAlgorithm, Migration, MigrationId, MigrationKind, Script, SourceFile, Version,
};

/// The first line; the version makes every other strata release ignore the file.
const HEADER: &str = concat!("strata set snapshot v1 ", env!("CARGO_PKG_VERSION"));

/// Where the snapshot of `dir` lives in `cache_dir`, and the absolute directory it is for.
fn location(cache_dir: &Path, dir: &Path) -> (PathBuf, String) {
    let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
    let abs = abs.to_string_lossy().into_owned();
    let path = cache_dir.join(format!("set-{:016x}.txt", fnv1a(abs.as_bytes())));
    (path, abs)
}

fn layout_name(layout: Option<LayoutKind>) -> &'static str {
    layout.map_or("-", LayoutKind::as_str)
}

/// One migration as the snapshot stores it (borrowing the snapshot's text).
struct Stored<'a> {
    key: FileKey,
    hex: &'a str,
    version: &'a str,
    name: &'a str,
    up: &'a str,
    down: &'a str,
}

/// The set of `dir` as a full load with `layout` would build it, when the snapshot in
/// `cache_dir` still holds (see the module docs); `None` otherwise.
pub(crate) fn load(
    cache_dir: &Path,
    dir: &Path,
    layout: Option<LayoutKind>,
) -> Option<MigrationSet> {
    let (path, abs) = location(cache_dir, dir);
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.split('\n');
    if lines.next()? != HEADER || lines.next()? != abs || lines.next()? != layout_name(layout) {
        return None;
    }
    let (detected, reason) = lines.next()?.split_once('\t')?;
    let detection = Detection {
        layout: LayoutKind::from_name(detected)?,
        reason: reason.to_owned(),
    };
    let mut ignored = Vec::new();
    let mut stored = Vec::with_capacity(text.len() / 160);
    let mut dirs = 0;
    let mut end = None;
    for line in lines {
        let mut f = line.split('\t');
        match (f.next()?, end) {
            ("D", None) => {
                let key = FileKey::read_from(&mut f.next()?.split(' '))?;
                let rel = f.next()?;
                // The set's own directory comes first, and the directories before any
                // migration: a changed one ends the load before anything else is looked at.
                if (dirs == 0) != rel.is_empty()
                    || FileKey::of(&std::fs::metadata(dir.join(rel)).ok()?) != key
                {
                    return None;
                }
                dirs += 1;
            }
            ("I", None) => ignored.push(PathBuf::from(f.next()?)),
            ("M", None) => stored.push(Stored {
                key: FileKey::read_from(&mut f.next()?.split(' '))?,
                hex: f.next()?,
                version: f.next()?,
                name: f.next()?,
                up: f.next()?,
                down: f.next()?,
            }),
            // The counts at the end tell a whole file from one cut short at a line's end.
            ("E", None) => end = Some(f.next()?),
            ("", Some(_)) => {}
            _ => return None,
        }
    }
    if end? != format!("{dirs} {} {}", ignored.len(), stored.len()) {
        return None;
    }
    let dirfd = rustix::fs::open(
        dir,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .ok()?;
    let migrations = std::thread::scope(|scope| {
        // The up scripts are `stat`-ed on helper threads (system-call bound) while this one
        // builds the migrations.
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 4);
        let chunk = stored.len().div_ceil(threads).max(512);
        let checks: Vec<_> = stored
            .chunks(chunk)
            .map(|part| {
                let dirfd = &dirfd;
                scope.spawn(move || {
                    // Relative to the open directory: no path to build, and the kernel looks
                    // up one name instead of walking the whole path for each file.
                    part.iter().all(|m| {
                        rustix::fs::statat(dirfd, m.up, rustix::fs::AtFlags::empty())
                            .is_ok_and(|stat| FileKey::of_stat(&stat) == m.key)
                    })
                })
            })
            .collect();
        let migrations = build(dir, &stored);
        let unchanged = checks
            .into_iter()
            .all(|c| c.join().expect("a snapshot-checking thread panicked"));
        migrations.filter(|_| unchanged)
    })?;
    Some(MigrationSet {
        dir: dir.to_owned(),
        detection,
        migrations,
        ignored,
        sqitch: None,
    })
}

/// The migrations of a snapshot, as the layouts build them from a listing whose up scripts
/// are all file-cache hits.
fn build(dir: &Path, stored: &[Stored]) -> Option<Vec<Migration>> {
    let deferred = |rel: &str, checksum: Option<Checksum>| {
        Script::deferred(Arc::new(SourceFile::deferred(dir.join(rel), checksum)))
    };
    let mut migrations = Vec::with_capacity(stored.len());
    for m in stored {
        let checksum = Checksum {
            algorithm: ChecksumAlgorithm::Sha256Lf,
            hex: m.hex.to_owned(),
        };
        migrations.push(Migration {
            id: MigrationId {
                version: Some(Version::parse(m.version).ok()?),
                name: m.name.to_owned(),
            },
            kind: MigrationKind::Versioned,
            up: deferred(m.up, Some(checksum.clone())),
            down: (!m.down.is_empty()).then(|| deferred(m.down, None)),
            verify: None,
            checksum,
        });
    }
    Some(migrations)
}

/// Writes the snapshot of `set`, just loaded from `listing` with `layout`, when it qualifies
/// (see the module docs) and differs from the one stored. Failures are ignored: the snapshot
/// is an optimisation.
pub(crate) fn save(
    cache_dir: &Path,
    listing: &Listing,
    layout: Option<LayoutKind>,
    set: &MigrationSet,
) {
    let Some(text) = render(cache_dir, listing, layout, set) else {
        return;
    };
    // Only a load that did not use the snapshot saves one, so the stored one is missing or
    // outdated: no need to read it to compare.
    let (path, _) = location(cache_dir, listing.dir());
    let _ =
        std::fs::create_dir_all(cache_dir).and_then(|()| write_atomically(&path, text.as_bytes()));
}

/// The snapshot's text, or `None` when `set` may not be snapshotted.
fn render(
    cache_dir: &Path,
    listing: &Listing,
    layout: Option<LayoutKind>,
    set: &MigrationSet,
) -> Option<String> {
    let dirs = listing.dirs.as_ref()?;
    let whole_files = matches!(
        set.detection.layout,
        LayoutKind::Updown | LayoutKind::Plain | LayoutKind::Diesel
    );
    if !whole_files
        || set.sqitch.is_some()
        || dirs.symlinks
        || !listing.unreadable_names.is_empty()
        || !dirs
            .keys
            .iter()
            .all(|(_, key)| key.settled(dirs.started_ns))
    {
        return None;
    }
    let (_, abs) = location(cache_dir, listing.dir());
    // Tabs separate the fields and lines the records; a name holding either is not stored.
    let plain = |s: &str| !s.contains(['\t', '\n', '\r']);
    fn rel_of<'p>(path: &'p Path, dir: &Path) -> Option<&'p str> {
        path.strip_prefix(dir)
            .ok()
            .and_then(Path::to_str)
            .filter(|r| !r.contains(['\t', '\n', '\r']))
    }
    let keys: std::collections::HashMap<&Path, FileKey> = listing
        .hit_keys
        .iter()
        .map(|&(i, key)| (listing.entries()[i].rel.as_path(), key))
        .collect();
    let mut text = String::with_capacity(256 + set.migrations.len() * 180);
    for line in [HEADER, &abs, layout_name(layout)] {
        text.push_str(line);
        text.push('\n');
    }
    if !plain(&abs) || !plain(&set.detection.reason) {
        return None;
    }
    text.push_str(set.detection.layout.as_str());
    text.push('\t');
    text.push_str(&set.detection.reason);
    text.push('\n');
    for (rel, key) in &dirs.keys {
        text.push_str("D\t");
        key.write_to(&mut text);
        text.push('\t');
        text.push_str(rel.to_str().filter(|r| plain(r))?);
        text.push('\n');
    }
    for rel in &set.ignored {
        text.push_str("I\t");
        text.push_str(rel.to_str().filter(|r| plain(r))?);
        text.push('\n');
    }
    for m in &set.migrations {
        let cached = m.kind == MigrationKind::Versioned
            && m.verify.is_none()
            && m.up.file.is_deferred()
            && m.up.directives.is_empty()
            && m.checksum.algorithm == ChecksumAlgorithm::Sha256Lf
            && m.down.as_ref().is_none_or(|d| d.file.is_deferred());
        let version = m.id.version.as_ref()?.as_str();
        if !cached || !plain(version) || !plain(&m.id.name) {
            return None;
        }
        let up = rel_of(m.path(), listing.dir())?;
        let down = match &m.down {
            Some(d) => rel_of(d.file.path(), listing.dir())?,
            None => "",
        };
        let key = keys.get(Path::new(up))?;
        text.push_str("M\t");
        key.write_to(&mut text);
        for field in [m.checksum.hex.as_str(), version, &m.id.name, up, down] {
            text.push('\t');
            text.push_str(field);
        }
        text.push('\n');
    }
    text.push_str(&format!(
        "E\t{} {} {}\n",
        dirs.keys.len(),
        set.ignored.len(),
        set.migrations.len()
    ));
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// A clock a minute ahead: everything the test wrote counts as settled.
    fn later() -> i128 {
        crate::cache::now_ns() + 60_000_000_000
    }

    struct Project {
        _tmp: tempfile::TempDir,
        dir: PathBuf,
        cache: PathBuf,
    }

    impl Project {
        fn new(files: &[(&str, &str)]) -> Project {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("m");
            let cache = tmp.path().join(".strata/cache");
            fs::create_dir(&dir).unwrap();
            let p = Project {
                _tmp: tmp,
                dir,
                cache,
            };
            for (rel, text) in files {
                p.write(rel, text);
            }
            p
        }

        fn write(&self, rel: &str, text: &str) {
            let path = self.dir.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }

        /// A load as `up` does it, with every file settled.
        fn load(&self, layout: Option<LayoutKind>) -> MigrationSet {
            crate::deferred::load_cached_at(&self.dir, layout, Some(&self.cache), Some(later()))
                .unwrap()
        }

        fn snapshot(&self, layout: Option<LayoutKind>) -> Option<MigrationSet> {
            load(&self.cache, &self.dir, layout)
        }

        /// Loads until the snapshot is written (the first load only fills the file cache),
        /// and returns what a full load builds, for comparison.
        fn settle(&self, layout: Option<LayoutKind>) -> String {
            self.load(layout);
            self.load(layout);
            let (path, _) = location(&self.cache, &self.dir);
            let saved = fs::read(&path).expect("a snapshot was written");
            fs::remove_file(&path).unwrap();
            let full = format!("{:?}", self.load(layout));
            assert_eq!(fs::read(&path).unwrap(), saved, "the same snapshot again");
            full
        }
    }

    type Files = &'static [(&'static str, &'static str)];

    const UPDOWN: Files = &[
        ("001_users.up.sql", "create table users (id int);\r\n"),
        ("001_users.down.sql", "drop table users;\n"),
        ("002_orders.up.sql", "create table orders (id int);\n"),
        ("10_items.up.sql", "create table items (id int);\n"),
        ("10_items.down.sql", "drop table items;\n"),
        ("README.md", "not a migration\n"),
    ];

    #[test]
    fn a_hit_is_the_set_a_full_load_builds() {
        let cases: [(Files, Option<LayoutKind>, LayoutKind); 4] = [
            (UPDOWN, None, LayoutKind::Updown),
            (UPDOWN, Some(LayoutKind::Updown), LayoutKind::Updown),
            (
                &[
                    ("001_init.sql", "create table a (id int);\n"),
                    ("001_init.down.sql", "drop table a;\n"),
                    ("002_more.sql", "create table b (id int);\n"),
                ],
                None,
                LayoutKind::Plain,
            ),
            (
                &[
                    ("2025-01-01-000001_a/up.sql", "create table a (id int);\n"),
                    ("2025-01-01-000001_a/down.sql", "drop table a;\n"),
                    ("2025-01-02-000001_b/up.sql", "create table b (id int);\n"),
                    ("2025-01-02-000001_b/down.sql", "drop table b;\n"),
                ],
                None,
                LayoutKind::Diesel,
            ),
        ];
        for (files, layout, expected) in cases {
            let p = Project::new(files);
            let full = p.settle(layout);
            let hit = p.snapshot(layout).expect("the snapshot holds");
            assert_eq!(hit.detection.layout, expected);
            assert_eq!(format!("{hit:?}"), full, "{expected}");
            // And through the public entry point.
            assert_eq!(format!("{:?}", p.load(layout)), full);
        }
    }

    #[test]
    fn adding_removing_or_renaming_a_file_misses() {
        let p = Project::new(UPDOWN);
        p.settle(None);
        p.write("003_new.up.sql", "create table n (id int);\n");
        assert!(p.snapshot(None).is_none(), "added");
        assert_eq!(p.load(None).migrations.len(), 4);
        p.settle(None);
        fs::remove_file(p.dir.join("003_new.up.sql")).unwrap();
        assert!(p.snapshot(None).is_none(), "removed");
        assert_eq!(p.load(None).migrations.len(), 3);
        p.settle(None);
        fs::rename(p.dir.join("README.md"), p.dir.join("NOTES.md")).unwrap();
        assert!(p.snapshot(None).is_none(), "renamed");
        assert_eq!(p.load(None).ignored, vec![PathBuf::from("NOTES.md")]);
    }

    #[test]
    fn a_change_in_a_sub_directory_misses() {
        let p = Project::new(&[
            ("2025-01-01-000001_a/up.sql", "create table a (id int);\n"),
            ("2025-01-01-000001_a/down.sql", "drop table a;\n"),
        ]);
        p.settle(None);
        assert!(p.snapshot(None).is_some());
        p.write("2025-01-01-000001_a/notes.txt", "x\n");
        assert!(p.snapshot(None).is_none());
        assert_eq!(p.load(None).ignored.len(), 1);
    }

    #[test]
    fn an_edited_up_script_misses_even_with_its_old_mtime() {
        use std::os::unix::fs::MetadataExt;
        let p = Project::new(UPDOWN);
        let path = p.dir.join("002_orders.up.sql");
        let ctime = |path: &Path| {
            let m = fs::metadata(path).unwrap();
            (m.ctime(), m.ctime_nsec())
        };
        // Wait until the file system's clock has moved past the file's ctime, so that the
        // edit gets a different one (kernel timestamps tick coarsely).
        let probe = p.cache.with_extension("probe");
        fs::create_dir_all(probe.parent().unwrap()).unwrap();
        while {
            fs::write(&probe, "x").unwrap();
            ctime(&probe) <= ctime(&path)
        } {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        p.settle(None);
        let mtime = fs::metadata(&path).unwrap().modified().unwrap();
        p.write("002_orders.up.sql", "create table orderz(id int);\n");
        fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        assert!(p.snapshot(None).is_none());
        let set = p.load(None);
        assert_eq!(
            set.migrations[1].checksum,
            Checksum::of_bytes(b"create table orderz(id int);\n")
        );
    }

    #[test]
    fn what_is_not_snapshotted() {
        // Directories that changed just now (the real clock): not written.
        let p = Project::new(UPDOWN);
        for _ in 0..2 {
            crate::load_dir_cached(&p.dir, None, Some(&p.cache)).unwrap();
        }
        assert!(!location(&p.cache, &p.dir).0.exists());

        // A directive, a symbolic link, a sectioned layout.
        let cases: [Files; 2] = [
            &[("001_a.up.sql", "-- strata:no-transaction\nselect 1;\n")],
            &[("001_a.sql", "-- migrate:up\nselect 1;\n")],
        ];
        for files in cases {
            let p = Project::new(files);
            p.load(None);
            p.load(None);
            assert!(!location(&p.cache, &p.dir).0.exists(), "{files:?}");
        }
        let p = Project::new(UPDOWN);
        std::os::unix::fs::symlink(p.dir.join("002_orders.up.sql"), p.dir.join("003_x.up.sql"))
            .unwrap();
        p.load(None);
        p.load(None);
        assert!(!location(&p.cache, &p.dir).0.exists(), "symlink");
    }

    #[test]
    fn the_configured_layout_and_the_file_itself_must_match() {
        let p = Project::new(UPDOWN);
        p.settle(None);
        assert!(p.snapshot(Some(LayoutKind::Updown)).is_none());
        assert!(p.snapshot(Some(LayoutKind::Plain)).is_none());
        let (path, _) = location(&p.cache, &p.dir);
        assert!(p.snapshot(None).is_some());
        let text = fs::read_to_string(&path).unwrap();
        let last_migration = text[..text.find("\nE\t").unwrap()].rfind("\nM\t").unwrap();
        let dir_line = text.find("\nD\t").unwrap();
        let damaged = [
            text.replacen(HEADER, "strata set snapshot v0", 1),
            text.replacen("\nM\t", "\nX\t", 1),
            text.replacen("\tusers\t", "\t", 1),
            // Cut short at the end of a line, or without the set's own directory.
            text[..last_migration + 1].to_owned(),
            format!(
                "{}{}",
                &text[..dir_line],
                &text[text[dir_line + 1..].find('\n').unwrap() + dir_line + 1..]
            ),
            text.clone() + "M\textra\n",
            String::new(),
        ];
        for damaged in damaged {
            fs::write(&path, &damaged).unwrap();
            assert!(p.snapshot(None).is_none(), "{damaged}");
        }
        assert_eq!(p.load(None).migrations.len(), 3);
        assert!(p.snapshot(None).is_some(), "written again");
    }

    #[test]
    fn keys_from_stat_at_equal_keys_from_metadata() {
        let p = Project::new(UPDOWN);
        let dirfd = rustix::fs::open(
            &p.dir,
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY,
            rustix::fs::Mode::empty(),
        )
        .unwrap();
        let stat =
            rustix::fs::statat(&dirfd, "001_users.up.sql", rustix::fs::AtFlags::empty()).unwrap();
        let meta = fs::metadata(p.dir.join("001_users.up.sql")).unwrap();
        assert_eq!(FileKey::of_stat(&stat), FileKey::of(&meta));
    }
}
