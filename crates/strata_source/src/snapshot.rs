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

use crate::cache::{fnv1a, CacheWrites, FileKey, Piece};
use crate::layouts::{self, layout_for, LayoutKind};
use crate::listing::Listing;
use crate::{apply_order, claim_the_same_version, Detection, MigrationSet};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use strata_model::{
    Checksum, ChecksumAlgorithm, Migration, MigrationId, MigrationKind, Script, SourceFile, Version,
};

/// The first line; the version makes every other strata release ignore the file.
/// (v3: files not named like a migration are ignored, code migrations are read, empty scripts
/// are no-ops; a v2 snapshot may hold a set those rules read differently.)
const HEADER: &str = concat!("strata set snapshot v3 ", env!("CARGO_PKG_VERSION"));

/// Where the snapshot of `dir` lives in `cache_dir`, and the absolute directory it is for.
fn location(cache_dir: &Path, dir: &Path) -> (PathBuf, String) {
    let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
    let abs = abs.to_string_lossy().into_owned();
    let path = cache_dir.join(format!("set-{:016x}.txt", fnv1a(abs.as_bytes())));
    (path, abs)
}

/// `Some` when the first lines of a snapshot's text say it is this strata's snapshot of
/// directory `abs` loaded with `layout` (the lines are consumed).
fn opens_for<'a>(
    lines: &mut impl Iterator<Item = &'a str>,
    abs: &str,
    layout: Option<LayoutKind>,
) -> Option<()> {
    (lines.next()? == HEADER && lines.next()? == abs && lines.next()? == layout_name(layout))
        .then_some(())
}

fn layout_name(layout: Option<LayoutKind>) -> &'static str {
    layout.map_or("-", LayoutKind::as_str)
}

/// One migration as the snapshot stores it (borrowing the snapshot's text).
struct Stored<'a> {
    /// Where its line starts in the snapshot's text.
    at: usize,
    key: FileKey,
    hex: &'a str,
    version: &'a str,
    name: &'a str,
    up: &'a str,
    down: &'a str,
}

/// What detection counted in the directory: the layout it chose, the evidence for that
/// layout and the number of `.sql` files. Evidence is a count of entries, so these and the
/// entries added since give the detection of the directory as it is now.
#[derive(Debug, Clone, Copy)]
struct Counts {
    layout: LayoutKind,
    evidence: usize,
    sql_files: usize,
}

impl Counts {
    fn of(listing: &Listing, layout: LayoutKind) -> Counts {
        Counts {
            layout,
            evidence: layout_for(layout).evidence(listing),
            sql_files: layouts::sql_files(listing),
        }
    }

    /// The detection a full load makes (with `configured` when given) of the directory the
    /// counts were taken of, plus the entries of `added`, and the counts of that directory;
    /// `None` when the added entries would change the layout.
    fn detect(
        self,
        configured: Option<LayoutKind>,
        added: Option<&Listing>,
    ) -> Option<(Detection, Counts)> {
        let more = |kind: LayoutKind| added.map_or(0, |l| layout_for(kind).evidence(l));
        let counts = Counts {
            layout: self.layout,
            evidence: self.evidence + more(self.layout),
            sql_files: self.sql_files + added.map_or(0, layouts::sql_files),
        };
        let detection = match configured {
            Some(kind) => Detection {
                layout: kind,
                reason: "configured".into(),
            },
            // Every layout tried before the chosen one had no evidence when the snapshot was
            // written.
            None => layouts::detect_from(
                |kind| {
                    if kind == self.layout {
                        counts.evidence
                    } else {
                        more(kind)
                    }
                },
                counts.sql_files,
            ),
        };
        (detection.layout == self.layout).then_some((detection, counts))
    }
}

/// The set of `dir` as a full load with `layout` would build it, when the snapshot in
/// `cache_dir` still holds (see the module docs), or when the only change since is files
/// added to a flat directory; `None` otherwise. `clock` stands for the clock reading that
/// decides what is settled (tests).
///
/// Adding a migration changes the directory, so the next `up` would otherwise list and load
/// the whole directory again just to run one migration. Instead, when the set's own directory
/// is the only one that changed and its layout is [`flat`], the directory's names are listed
/// (no file is `stat`-ed or read for that) and compared with the snapshot's: if every stored
/// name is still there, the added ones are loaded alone, with the same layout code a full
/// load runs, and merged into the stored set. Whatever could make the result differ from a
/// full load's declines: a removed name, a sub-directory, a symbolic link, a name that is not
/// UTF-8, any problem among the added files (a down script without its up script among them
/// is one, so a down added to a stored migration declines too), a duplicate version, and
/// added entries that would change the detected layout. The stored up scripts are checked as
/// on every hit. The snapshot is then rewritten for the directory as it is now, when the
/// directory and every added up script are settled.
pub(crate) fn load(
    cache_dir: &Path,
    dir: &Path,
    layout: Option<LayoutKind>,
    clock: Option<i128>,
) -> Option<(MigrationSet, CacheWrites)> {
    // Before any directory is stat-ed: what a changed directory's key is settled against.
    let started_ns = clock.unwrap_or_else(crate::cache::now_ns);
    let (path, abs) = location(cache_dir, dir);
    let text = std::fs::read_to_string(&path).ok()?;
    // Building the stored migrations allocates about four times the snapshot's size.
    reserve_heap(text.len() * 4);
    let mut lines = text.split('\n');
    opens_for(&mut lines, &abs, layout)?;
    let mut detected = lines.next()?.split('\t');
    let counts = Counts {
        layout: LayoutKind::from_name(detected.next()?)?,
        evidence: detected.next()?.parse().ok()?,
        sql_files: detected.next()?.parse().ok()?,
    };
    let mut ignored = Vec::new();
    let mut stored = Vec::with_capacity(text.len() / 160);
    let mut dirs = 0;
    let mut changed = None;
    let mut end = None;
    let mut records_end = 0;
    for line in lines {
        let mut f = line.split('\t');
        match (f.next()?, end) {
            ("D", None) => {
                let key = FileKey::read_from(&mut f.next()?.split(' '))?;
                let rel = f.next()?;
                // The set's own directory comes first, and the directories before any
                // migration: a changed one ends the load before anything else is looked at.
                if (dirs == 0) != rel.is_empty() {
                    return None;
                }
                let now = FileKey::of(&std::fs::metadata(dir.join(rel)).ok()?);
                if now != key {
                    if dirs > 0 || !layout_for(counts.layout).flat() {
                        return None;
                    }
                    changed = Some(now);
                }
                dirs += 1;
            }
            ("I", None) => ignored.push(PathBuf::from(f.next()?)),
            ("M", None) => stored.push(Stored {
                at: offset_in(&text, line),
                key: FileKey::read_from(&mut f.next()?.split(' '))?,
                hex: f.next()?,
                version: f.next()?,
                name: f.next()?,
                up: f.next()?,
                down: f.next()?,
            }),
            // The counts at the end tell a whole file from one cut short at a line's end.
            ("E", None) => {
                records_end = offset_in(&text, line);
                end = Some(f.next()?);
            }
            ("", Some(_)) => {}
            _ => return None,
        }
    }
    if end? != format!("{dirs} {} {}", ignored.len(), stored.len())
        || (changed.is_some() && dirs != 1)
    {
        return None;
    }
    let dirfd = rustix::fs::open(
        dir,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .ok()?;
    let (migrations, added) = std::thread::scope(|scope| {
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
        // Listing what was added (a directory read and a set of 20,000 names at 10,000
        // migrations) and building the stored migrations are independent: side by side.
        let listing = changed.map(|_| {
            let (dirfd, stored, ignored) = (&dirfd, &stored, &ignored);
            scope.spawn(move || added_files(dir, dirfd, stored, ignored, started_ns))
        });
        let migrations = build(dir, &stored);
        let added = match listing {
            Some(thread) => thread
                .join()
                .expect("a snapshot-listing thread panicked")
                .map(Some),
            None => Some(None),
        };
        let unchanged = checks
            .into_iter()
            .all(|c| c.join().expect("a snapshot-checking thread panicked"));
        Some((migrations.filter(|_| unchanged)?, added?))
    })?;
    let Some(added) = added else {
        let (detection, _) = counts.detect(layout, None)?;
        let set = MigrationSet {
            dir: dir.to_owned(),
            detection,
            migrations,
            ignored,
            warnings: Vec::new(),
            sqitch: None,
        };
        return Some((set, CacheWrites::default()));
    };
    let (detection, counts) = counts.detect(layout, Some(&added))?;
    let loaded = layout_for(counts.layout).load(&added);
    if !loaded.problems.is_empty() || !loaded.warnings.is_empty() || loaded.sqitch.is_some() {
        return None;
    }
    let mut new = loaded.migrations;
    new.sort_by(apply_order);
    // Where `merge` puts each added migration: before the first stored one it precedes.
    let places: Vec<usize> = new
        .iter()
        .map(|n| migrations.partition_point(|m| !apply_order(n, m).is_lt()))
        .collect();
    let vouchers = Vouchers {
        dir,
        started_ns,
        dir_keys: &[(PathBuf::new(), changed?)],
        up_keys: added
            .hit_keys
            .iter()
            .map(|&(i, key)| (added.entries()[i].name.as_str(), key))
            .collect(),
        counts,
    };
    let new_lines: Option<Vec<String>> = new
        .iter()
        .map(|m| {
            let mut line = String::new();
            render_migration(&mut line, m, &vouchers)?;
            Some(line)
        })
        .collect();
    let migrations = merge(migrations, new, &places)?;
    ignored.extend(loaded.ignored);
    ignored.sort_unstable();
    let set = MigrationSet {
        dir: dir.to_owned(),
        detection,
        migrations,
        ignored,
        warnings: Vec::new(),
        sqitch: None,
    };
    // The new snapshot is the old one with the added records spliced in (a stored migration's
    // line would be rendered exactly as it was stored: same key, checksum, names), so it is
    // assembled from the old text after the set is handed over instead of rendered from the
    // set before.
    let mut head = String::new();
    let spliced = new_lines.filter(|_| {
        snapshotted(&vouchers, &set) && render_head(&mut head, &vouchers, &set).is_some()
    });
    let Some(new_lines) = spliced else {
        return Some((set, CacheWrites::default()));
    };
    let line_start = |place: usize| stored.get(place).map_or(records_end, |m| m.at);
    let mut pieces = vec![Piece::Kept(0..header_len(&text)?), Piece::New(head)];
    let mut kept_from = line_start(0);
    for (place, line) in places.into_iter().zip(new_lines) {
        pieces.push(Piece::Kept(kept_from..line_start(place)));
        pieces.push(Piece::New(line));
        kept_from = line_start(place);
    }
    pieces.push(Piece::Kept(kept_from..records_end));
    let mut end = String::new();
    render_end(&mut end, &vouchers, &set);
    pieces.push(Piece::New(end));
    Some((set, CacheWrites::splice(path, text, pieces)))
}

/// Where `part`, a slice of `text`, starts in it.
fn offset_in(text: &str, part: &str) -> usize {
    let at = (part.as_ptr() as usize).wrapping_sub(text.as_ptr() as usize);
    debug_assert!(at <= text.len(), "a slice of the text");
    at
}

/// The length of a snapshot's first three lines (header, directory, configured layout), the
/// part that stays the same while the snapshot of a directory is rewritten.
fn header_len(text: &str) -> Option<usize> {
    let mut at = 0;
    for _ in 0..3 {
        at += text[at..].find('\n')? + 1;
    }
    Some(at)
}

/// Makes room for about `bytes` of small allocations on this thread before they are made.
///
/// glibc gives each thread (but the first) a heap of its own, grown by exactly what the
/// allocation at hand lacks, one page at a time for small objects, with an `mprotect` call
/// (and a split of the mapping) each time: 1,547 calls in a no-op `up` at 10,000 applied. A
/// heap that has grown keeps its access rights when it shrinks, so growing it in 64 KiB blocks
/// (below the size that is mapped on its own) and freeing them leaves it ready: 142 calls in
/// the same run. With another allocator this is a few allocations freed at once.
fn reserve_heap(bytes: usize) {
    const BLOCK: usize = 64 << 10;
    let blocks: Vec<Vec<u8>> = (0..bytes / BLOCK)
        .map(|_| Vec::with_capacity(BLOCK))
        .collect();
    drop(std::hint::black_box(blocks));
}

/// The files the set's directory holds beyond the snapshot's names, listed and filled (see
/// [`Listing::of_added`]); `None` when a stored name is gone or the directory holds something
/// only a full walk handles.
fn added_files(
    dir: &Path,
    dirfd: &rustix::fd::OwnedFd,
    stored: &[Stored],
    ignored: &[PathBuf],
    started_ns: i128,
) -> Option<Listing> {
    let mut known: HashSet<&str, NameHashing> =
        HashSet::with_capacity_and_hasher(stored.len() * 2 + ignored.len(), NameHashing);
    for m in stored {
        known.insert(m.up);
        if !m.down.is_empty() {
            known.insert(m.down);
        }
    }
    for rel in ignored {
        known.insert(rel.to_str()?);
    }
    let mut still_there = 0;
    let mut added = Vec::new();
    for entry in rustix::fs::Dir::read_from(dirfd).ok()? {
        let entry = entry.ok()?;
        // A name that is not UTF-8 is a problem the full load reports.
        let name = entry.file_name().to_str().ok()?;
        match entry.file_type() {
            rustix::fs::FileType::RegularFile => {}
            // Hidden directories are not walked, nor are `.` and `..`.
            rustix::fs::FileType::Directory if name.starts_with('.') => continue,
            // A sub-directory, a symbolic link (its target is not covered by any key), or a
            // type the file system did not say.
            _ => return None,
        }
        if known.contains(name) {
            still_there += 1;
        } else {
            added.push(name.to_owned());
        }
    }
    if still_there != known.len() {
        return None;
    }
    added.sort_unstable();
    Listing::of_added(dir, dirfd, added, started_ns).ok()
}

/// The hashing of [`added_files`]' set of names: 20,000 file names at 10,000 migrations,
/// hashed once going in and once looking up. The standard SipHash is made to resist chosen
/// keys; these names are the repository's own, so a fast multiply-and-fold over eight bytes
/// at a time is enough (20,000 inserts and lookups: 2.1–3.3 → 1.8–2.1 ms). Equality is
/// still decided by comparing the names.
#[derive(Clone, Copy, Default)]
struct NameHashing;

impl std::hash::BuildHasher for NameHashing {
    type Hasher = NameHasher;
    fn build_hasher(&self) -> NameHasher {
        NameHasher(0x243f_6a88_85a3_08d3)
    }
}

/// See [`NameHashing`].
struct NameHasher(u64);

impl NameHasher {
    /// One 64-bit multiply of `word` with the state, folded (high half xor low half): every
    /// input bit reaches every output bit, low bits included (the table picks buckets by them).
    fn mix(&mut self, word: u64) {
        let product = u128::from(self.0 ^ word) * 0x9e37_79b9_7f4a_7c15_u128;
        self.0 = (product as u64) ^ ((product >> 64) as u64);
    }
}

impl std::hash::Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            self.mix(u64::from_le_bytes(word.try_into().expect("eight bytes")));
        }
        let rest = words.remainder();
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        // The length goes in with the tail, so `ab` and `ab\0` differ.
        self.mix(u64::from_le_bytes(last) ^ ((bytes.len() as u64) << 56));
    }
    fn write_u8(&mut self, byte: u8) {
        self.mix(u64::from(byte));
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// What a directory's snapshot says before the set is loaded: enough to guess whether a run
/// will have work, so that a caller can start preparing for it (taking the migration lock)
/// while the set loads. Only a guess: the load decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotHint {
    /// Migrations in the snapshot.
    pub migrations: usize,
    /// True when the directory itself changed since the snapshot (a file was added, removed
    /// or renamed).
    pub dir_changed: bool,
}

/// The [`SnapshotHint`] of `dir`, reading only the head and the tail of its snapshot (a few
/// kB, whatever the set's size) and `stat`-ing the directory; `None` without a usable
/// snapshot.
pub fn hint(cache_dir: &Path, dir: &Path, layout: Option<LayoutKind>) -> Option<SnapshotHint> {
    use std::io::{Read, Seek, SeekFrom};
    let (path, abs) = location(cache_dir, dir);
    let mut file = std::fs::File::open(&path).ok()?;
    let mut head = vec![0; 4096];
    let read = file.read(&mut head).ok()?;
    head.truncate(read);
    let head = String::from_utf8_lossy(&head);
    let mut lines = head.split('\n');
    opens_for(&mut lines, &abs, layout)?;
    lines.next()?;
    let mut first_dir = lines.next()?.split('\t');
    let key = match (first_dir.next()?, first_dir.next(), first_dir.next()) {
        ("D", Some(key), Some("")) => FileKey::read_from(&mut key.split(' '))?,
        _ => return None,
    };
    let len = file.seek(SeekFrom::End(0)).ok()?;
    file.seek(SeekFrom::Start(len.saturating_sub(128))).ok()?;
    let mut tail = String::new();
    file.read_to_string(&mut tail).ok()?;
    let end = tail.strip_suffix('\n')?.rsplit('\n').next()?;
    let migrations = end.strip_prefix("E\t")?.split(' ').nth(2)?.parse().ok()?;
    let now = FileKey::of(&std::fs::metadata(dir).ok()?);
    Some(SnapshotHint {
        migrations,
        dir_changed: now != key,
    })
}

/// The stored migrations (in apply order) with the added ones (in apply order) merged in, as
/// a full load orders them, where `places` says (for each added one, the index of the first
/// stored one it precedes); `None` on a duplicate version (a problem the full load reports).
fn merge(
    mut stored: Vec<Migration>,
    added: Vec<Migration>,
    places: &[usize],
) -> Option<Vec<Migration>> {
    let duplicate = |pair: &[Migration]| claim_the_same_version(&pair[0], &pair[1]);
    // The usual case, new migrations after all the others: appended in place (the stored
    // ones loaded without problems, so only the pairs from the last stored one on can be
    // duplicates). Moving 10,000 migrations into a new vector cost more than the rest of
    // the merge.
    if places.iter().all(|&p| p == stored.len()) {
        let from = stored.len().saturating_sub(1);
        stored.extend(added);
        return (!stored[from..].windows(2).any(duplicate)).then_some(stored);
    }
    let mut merged = Vec::with_capacity(stored.len() + added.len());
    let mut added = added.into_iter().zip(places).peekable();
    for (i, m) in stored.into_iter().enumerate() {
        while let Some((new, _)) = added.next_if(|(_, &place)| place <= i) {
            merged.push(new);
        }
        merged.push(m);
    }
    merged.extend(added.map(|(new, _)| new));
    (!merged.windows(2).any(duplicate)).then_some(merged)
}

/// The migrations of a snapshot, as the layouts build them from a listing whose up scripts
/// are all file-cache hits.
fn build(dir: &Path, stored: &[Stored]) -> Option<Vec<Migration>> {
    let deferred = |rel: &str, checksum: Option<Checksum>| {
        // `dir.join(rel)` with the room allocated once (`join` copies the directory, then
        // grows the copy to append).
        let mut path = PathBuf::with_capacity(dir.as_os_str().len() + 1 + rel.len());
        path.push(dir);
        path.push(rel);
        Script::deferred(Arc::new(SourceFile::deferred(path, checksum)))
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
                shared_version: false,
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

/// What vouches for a set about to be snapshotted.
struct Vouchers<'a> {
    /// The set's directory.
    dir: &'a Path,
    /// A clock reading from before the first directory was `stat`-ed.
    started_ns: i128,
    /// Every directory listed (relative path, empty for the set's own) with its key, taken
    /// before it was listed.
    dir_keys: &'a [(PathBuf, FileKey)],
    /// The key of each up script (by relative path) whose checksum the key vouches for: a
    /// file-cache hit, or a settled file read by this load whose content the file cache would
    /// take on trust.
    up_keys: HashMap<&'a str, FileKey>,
    /// What detection counted.
    counts: Counts,
}

/// Writes the snapshot of `set`, just loaded from `listing` with `layout`, when it qualifies
/// (see the module docs) and differs from the one stored. Failures are ignored: the snapshot
/// is an optimisation.
pub(crate) fn save(
    cache_dir: &Path,
    listing: &Listing,
    layout: Option<LayoutKind>,
    set: &MigrationSet,
) -> CacheWrites {
    let Some(dirs) = listing.dirs.as_ref() else {
        return CacheWrites::default();
    };
    // A set with warnings is rebuilt on every run, so the warnings are shown on every run.
    if dirs.symlinks || !listing.unreadable_names.is_empty() || !set.warnings.is_empty() {
        return CacheWrites::default();
    }
    let vouchers = Vouchers {
        dir: listing.dir(),
        started_ns: dirs.started_ns,
        dir_keys: &dirs.keys,
        up_keys: listing
            .hit_keys
            .iter()
            .filter_map(|&(i, key)| Some((listing.entries()[i].rel.to_str()?, key)))
            .collect(),
        counts: Counts::of(listing, set.detection.layout),
    };
    let Some(text) = render(cache_dir, &vouchers, layout, set) else {
        return CacheWrites::default();
    };
    // Only a load that did not use the snapshot saves one, so the stored one is missing or
    // outdated: no need to read it to compare.
    let (path, _) = location(cache_dir, listing.dir());
    CacheWrites::replace(path, text)
}

/// `path` relative to `dir`, when it is inside it and storable (no tab or line break).
fn rel_of<'p>(path: &'p Path, dir: &Path) -> Option<&'p str> {
    // The set's paths are `dir.join(rel)`: cutting the directory's bytes and one
    // separator is the same remainder as comparing components, at a fraction of the
    // cost (twice per migration). Anything else (a remainder starting at a separator or
    // at `.`) takes the component-wise way.
    use std::os::unix::ffi::OsStrExt;
    let by_bytes = path
        .as_os_str()
        .as_bytes()
        .strip_prefix(dir.as_os_str().as_bytes())
        .and_then(|rest| rest.strip_prefix(b"/"))
        .filter(|rest| !rest.is_empty() && !rest.starts_with(b"/") && !rest.starts_with(b"."))
        .map(|rest| Path::new(std::ffi::OsStr::from_bytes(rest)));
    by_bytes
        .or_else(|| path.strip_prefix(dir).ok())
        .and_then(Path::to_str)
        .filter(|r| !r.contains(['\t', '\n', '\r']))
}

/// The snapshot's text, or `None` when `set` may not be snapshotted.
fn render(
    cache_dir: &Path,
    vouchers: &Vouchers,
    layout: Option<LayoutKind>,
    set: &MigrationSet,
) -> Option<String> {
    if !snapshotted(vouchers, set) {
        return None;
    }
    let (_, abs) = location(cache_dir, vouchers.dir);
    if !plain(&abs) {
        return None;
    }
    let mut text = String::with_capacity(256 + set.migrations.len() * 180);
    for line in [HEADER, &abs, layout_name(layout)] {
        text.push_str(line);
        text.push('\n');
    }
    render_head(&mut text, vouchers, set)?;
    for m in &set.migrations {
        render_migration(&mut text, m, vouchers)?;
    }
    render_end(&mut text, vouchers, set);
    Some(text)
}

/// True when the text holds neither of the separators of a snapshot's fields and records
/// (a name holding one is not stored).
fn plain(field: &str) -> bool {
    !field.contains(['\t', '\n', '\r'])
}

/// True when `set` is of a kind that is snapshotted and every directory it was listed from
/// is settled.
fn snapshotted(vouchers: &Vouchers, set: &MigrationSet) -> bool {
    let whole_files = layout_for(set.detection.layout).whole_file_scripts();
    whole_files
        && set.sqitch.is_none()
        && vouchers
            .dir_keys
            .iter()
            .all(|(_, key)| key.settled(vouchers.started_ns))
}

/// The lines between the header and the migrations: what detection counted, the directories
/// with their keys, the ignored files.
fn render_head(text: &mut String, vouchers: &Vouchers, set: &MigrationSet) -> Option<()> {
    let counts = vouchers.counts;
    text.push_str(&format!(
        "{}\t{}\t{}\n",
        counts.layout.as_str(),
        counts.evidence,
        counts.sql_files
    ));
    for (rel, key) in vouchers.dir_keys {
        text.push_str("D\t");
        key.write_to(text);
        text.push('\t');
        text.push_str(rel.to_str().filter(|r| plain(r))?);
        text.push('\n');
    }
    for rel in &set.ignored {
        text.push_str("I\t");
        text.push_str(rel.to_str().filter(|r| plain(r))?);
        text.push('\n');
    }
    Some(())
}

/// The record of `m`; `None` when it may not be stored.
fn render_migration(text: &mut String, m: &Migration, vouchers: &Vouchers) -> Option<()> {
    // An up script read by this load qualifies only through its vouched key (below).
    let cached = m.kind == MigrationKind::Versioned
        && m.verify.is_none()
        && m.up.directives.is_empty()
        && m.checksum.algorithm == ChecksumAlgorithm::Sha256Lf
        && m.down.as_ref().is_none_or(|d| d.file.is_deferred());
    let version = m.id.version.as_ref()?.as_str();
    if !cached || !plain(version) || !plain(&m.id.name) {
        return None;
    }
    let up = rel_of(m.path(), vouchers.dir)?;
    let down = match &m.down {
        Some(d) => rel_of(d.file.path(), vouchers.dir)?,
        None => "",
    };
    let key = vouchers.up_keys.get(up)?;
    text.push_str("M\t");
    key.write_to(text);
    for field in [m.checksum.hex.as_str(), version, &m.id.name, up, down] {
        text.push('\t');
        text.push_str(field);
    }
    text.push('\n');
    Some(())
}

/// The last line: the number of directories, ignored files and migrations, which tells a
/// whole snapshot from one cut short.
fn render_end(text: &mut String, vouchers: &Vouchers, set: &MigrationSet) {
    text.push_str(&format!(
        "E\t{} {} {}\n",
        vouchers.dir_keys.len(),
        set.ignored.len(),
        set.migrations.len()
    ));
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
            let (set, writes) = crate::deferred::load_cached_at(
                &self.dir,
                layout,
                Some(&self.cache),
                Some(later()),
            )
            .unwrap();
            writes.write();
            set
        }

        fn snapshot(&self, layout: Option<LayoutKind>) -> Option<MigrationSet> {
            load(&self.cache, &self.dir, layout, Some(later())).map(|(set, writes)| {
                writes.write();
                set
            })
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
    fn removing_or_renaming_a_file_misses() {
        let p = Project::new(UPDOWN);
        p.write("003_new.up.sql", "create table n (id int);\n");
        p.settle(None);
        fs::remove_file(p.dir.join("003_new.up.sql")).unwrap();
        assert!(p.snapshot(None).is_none(), "removed");
        assert_eq!(p.load(None).migrations.len(), 3);
        p.settle(None);
        fs::rename(p.dir.join("README.md"), p.dir.join("NOTES.md")).unwrap();
        assert!(p.snapshot(None).is_none(), "renamed");
        assert_eq!(p.load(None).ignored, vec![PathBuf::from("NOTES.md")]);
        p.settle(None);
        // One removed and one added: the same number of names, but not the same names.
        fs::remove_file(p.dir.join("10_items.down.sql")).unwrap();
        p.write("11_more.up.sql", "create table more (id int);\n");
        assert!(p.snapshot(None).is_none(), "removed and added");
        assert_eq!(p.load(None).migrations.len(), 4);
    }

    impl Project {
        /// What a load that does not use the snapshot builds (the file cache still in use).
        fn full(&self, layout: Option<LayoutKind>) -> Result<MigrationSet, crate::SourceError> {
            let _ = fs::remove_file(location(&self.cache, &self.dir).0);
            crate::deferred::load_cached_at(&self.dir, layout, Some(&self.cache), Some(later()))
                .map(|(set, writes)| {
                    writes.write();
                    set
                })
        }

        fn stored(&self) -> Option<Vec<u8>> {
            fs::read(location(&self.cache, &self.dir).0).ok()
        }
    }

    const PLAIN: Files = &[
        ("001_init.sql", "create table a (id int);\n"),
        ("001_init.down.sql", "drop table a;\n"),
        ("002_more.sql", "create table b (id int);\n"),
    ];

    #[test]
    fn files_added_to_a_flat_directory_are_merged_as_a_full_load_builds_them() {
        let cases: [(Files, Option<LayoutKind>, Files); 7] = [
            (
                UPDOWN,
                None,
                &[
                    ("011_new.up.sql", "create table n (id int);\n"),
                    ("011_new.down.sql", "drop table n;\n"),
                ],
            ),
            // Between stored versions, with two at once and a file that is not a migration.
            (
                UPDOWN,
                None,
                &[
                    ("005_mid.up.sql", "create table mid (id int);\n"),
                    ("003_low.up.sql", "create table low (id int);\r\n"),
                    ("NOTES.txt", "notes\n"),
                ],
            ),
            (UPDOWN, None, &[(".gitkeep", "")]),
            (
                UPDOWN,
                Some(LayoutKind::Updown),
                &[("011_new.up.sql", "create table n (id int);\n")],
            ),
            (PLAIN, None, &[("003_c.sql", "create table c (id int);\n")]),
            (
                PLAIN,
                Some(LayoutKind::Plain),
                &[
                    ("003_c.sql", "create table c (id int);\n"),
                    ("003_c.down.sql", "drop table c;\n"),
                ],
            ),
            // A directive: merged, but not vouched for, so not stored.
            (
                UPDOWN,
                None,
                &[(
                    "011_c.up.sql",
                    "-- strata:no-transaction\ncreate index concurrently i on users (id);\n",
                )],
            ),
        ];
        for (files, layout, added) in cases {
            let p = Project::new(files);
            p.settle(layout);
            let before = p.stored().unwrap();
            for (rel, text) in added {
                p.write(rel, text);
            }
            let merged = p
                .snapshot(layout)
                .expect("the snapshot and the added files");
            let after = p.stored().unwrap();
            let full = p.full(layout).unwrap();
            assert_eq!(format!("{merged:?}"), format!("{full:?}"), "{added:?}");
            assert_eq!(merged.migrations.len(), full.migrations.len());
            if added[0].1.contains("strata:") {
                assert_eq!(after, before, "{added:?}: not rewritten");
                continue;
            }
            // The snapshot written for the merged set is the one full loads write (the first
            // full load above only filled the file cache with the added files).
            assert_ne!(after, before);
            p.full(layout).unwrap();
            assert_eq!(p.stored().unwrap(), after, "{added:?}");
            // And it is used as it is.
            let hit = p.snapshot(layout).expect("the rewritten snapshot holds");
            assert_eq!(hit.migrations.len(), full.migrations.len());
        }
    }

    #[test]
    fn a_directory_changed_without_new_names_is_snapshotted_again() {
        let p = Project::new(UPDOWN);
        p.settle(None);
        let before = p.stored().unwrap();
        p.write("x.tmp", "");
        fs::remove_file(p.dir.join("x.tmp")).unwrap();
        let set = p.snapshot(None).expect("the same names");
        assert_eq!(format!("{set:?}"), format!("{:?}", p.full(None).unwrap()));
        // Only the directory's key differs (a later load rewrote it as well: compare with
        // what the merge wrote by loading through the snapshot again).
        assert_ne!(p.stored().unwrap(), before);
    }

    #[test]
    fn what_added_files_could_change_is_loaded_in_full() {
        let cases: [(Files, &str, Files); 5] = [
            // A down script for a stored migration: paired by the full load.
            (
                UPDOWN,
                "down",
                &[("002_orders.down.sql", "drop table orders;\n")],
            ),
            // A version that a stored migration already claims: an error.
            (
                UPDOWN,
                "duplicate",
                &[("02_orders.up.sql", "create table o (id int);\n")],
            ),
            // Names that make the directory look like another layout: a first `.up.sql` in a
            // plain set makes it an updown set whose plain files are ups without downs.
            (
                PLAIN,
                "mixed",
                &[("003_x.up.sql", "create table x (id int);\n")],
            ),
            (
                UPDOWN,
                "detection",
                &[("V3__x.sql", "create table x (id int);\n")],
            ),
            // A file the layout reads with a warning (warnings are shown on every run).
            (
                UPDOWN,
                "warned",
                &[("003_x.sql", "create table x (id int);\n")],
            ),
        ];
        for (files, what, added) in cases {
            let p = Project::new(files);
            p.settle(None);
            for (rel, text) in added {
                p.write(rel, text);
            }
            assert!(p.snapshot(None).is_none(), "{what}: {added:?}");
            match p.full(None) {
                Ok(full) if what == "down" => assert!(full.migrations[1].down.is_some()),
                Ok(full) if what == "detection" => {
                    assert_ne!(full.detection.layout, LayoutKind::Updown)
                }
                Ok(full) if what == "warned" => assert_eq!(full.warnings.len(), 1),
                Ok(full) if what == "mixed" => {
                    assert_eq!(full.detection.layout, LayoutKind::Updown);
                    assert_eq!(full.migrations.len(), 3);
                    assert_eq!(full.warnings.len(), 1);
                }
                Ok(full) => panic!("{what}: loaded {full:?}"),
                Err(e) => assert_ne!(what, "down", "{e}"),
            }
        }

        // A blank up, a no-op migration, is loaded as the full load reads it (the file cache
        // never vouches for a blank file, so the snapshot is not rewritten with it).
        let p = Project::new(UPDOWN);
        p.settle(None);
        p.write("011_blank.up.sql", "\n");
        let full = p.full(None).unwrap();
        assert!(full.migrations.last().unwrap().up.is_blank());
        if let Some(merged) = p.snapshot(None) {
            assert_eq!(format!("{merged:?}"), format!("{full:?}"));
        }

        // A sub-directory, a symbolic link, an edited stored migration.
        let p = Project::new(UPDOWN);
        p.settle(None);
        p.write("sub/003_x.up.sql", "create table x (id int);\n");
        assert!(p.snapshot(None).is_none(), "sub-directory");
        fs::remove_dir_all(p.dir.join("sub")).unwrap();
        p.settle(None);
        std::os::unix::fs::symlink(p.dir.join("002_orders.up.sql"), p.dir.join("003_x.up.sql"))
            .unwrap();
        assert!(p.snapshot(None).is_none(), "symbolic link");
        fs::remove_file(p.dir.join("003_x.up.sql")).unwrap();
        p.settle(None);
        fs::remove_file(p.dir.join("002_orders.up.sql")).unwrap();
        p.write("002_orders.up.sql", "create table orderz (id int);\n");
        p.write("011_new.up.sql", "create table n (id int);\n");
        assert!(p.snapshot(None).is_none(), "edited and added");
        assert_eq!(
            p.full(None).unwrap().migrations[1].checksum,
            Checksum::of_bytes(b"create table orderz (id int);\n")
        );
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
    fn the_hint_counts_the_snapshot_and_sees_the_directory_change() {
        let p = Project::new(UPDOWN);
        assert_eq!(hint(&p.cache, &p.dir, None), None, "no snapshot yet");
        p.settle(None);
        let stored = p.snapshot(None).unwrap().migrations.len();
        assert_eq!(
            hint(&p.cache, &p.dir, None),
            Some(SnapshotHint {
                migrations: stored,
                dir_changed: false
            })
        );
        assert_eq!(
            hint(&p.cache, &p.dir, Some(LayoutKind::Plain)),
            None,
            "other layout"
        );
        // Past the file system's timestamp granularity, so the directory's key changes.
        std::thread::sleep(std::time::Duration::from_millis(50));
        p.write("NOTES.md", "new");
        assert_eq!(
            hint(&p.cache, &p.dir, None),
            Some(SnapshotHint {
                migrations: stored,
                dir_changed: true
            })
        );
    }

    #[test]
    fn the_name_hash_tells_apart_names_that_differ_anywhere() {
        use std::hash::BuildHasher;
        let hash = |name: &str| NameHashing.hash_one(name);
        // The tail past the last whole eight bytes, the length, and each byte count.
        assert_ne!(hash("ab"), hash("ab\0"));
        assert_ne!(hash("000001_a.up.sql"), hash("000001_a.up.sqm"));
        assert_ne!(hash("12345678"), hash("12345679"));
        assert_ne!(hash(""), hash("\0"));
        // A directory's worth of names, as the set sees them: no two share a hash, and the
        // buckets they pick (low bits) spread.
        let names: Vec<String> = (1..=10_000)
            .flat_map(|i| {
                [
                    format!("{i:06}_create_t_{i:06}.up.sql"),
                    format!("{i:06}_create_t_{i:06}.down.sql"),
                ]
            })
            .collect();
        let hashes: HashSet<u64> = names.iter().map(|n| hash(n)).collect();
        assert_eq!(hashes.len(), names.len());
        let buckets: HashSet<u64> = hashes.iter().map(|h| h & 0x7fff).collect();
        assert!(
            buckets.len() > 14_000,
            "{} of 32,768 buckets",
            buckets.len()
        );
        let mut known: HashSet<&str, NameHashing> = HashSet::with_hasher(NameHashing);
        known.extend(names.iter().map(String::as_str));
        assert!(names.iter().all(|n| known.contains(n.as_str())));
        assert!(!known.contains("010001_create_t_010001.up.sql"));
    }

    #[test]
    fn rel_of_cuts_the_directory_as_path_components_do() {
        for (path, dir) in [
            ("set/000001_a.up.sql", "set"),
            ("/abs/set/000001_a.up.sql", "/abs/set"),
            ("set/sub/000001_a.up.sql", "set"),
            ("./set/000001_a.up.sql", "./set"),
            ("set//000001_a.up.sql", "set"),
            ("set/./000001_a.up.sql", "set"),
            ("set/.hidden.sql", "set"),
            ("set/000001_a.up.sql", "set/"),
            ("a/./b/x.sql", "a/./b"),
            ("a/./b/x.sql", "a/b"),
            ("setx/000001_a.up.sql", "set"),
            ("other/000001_a.up.sql", "set"),
            ("set", "set"),
        ] {
            let (path, dir) = (Path::new(path), Path::new(dir));
            let by_components = path
                .strip_prefix(dir)
                .ok()
                .and_then(Path::to_str)
                .filter(|r| !r.is_empty());
            assert_eq!(
                rel_of(path, dir).filter(|r| !r.is_empty()),
                by_components,
                "{path:?} in {dir:?}"
            );
        }
        assert_eq!(rel_of(Path::new("set/a\tb.sql"), Path::new("set")), None);
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
