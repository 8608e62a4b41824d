//! A file-hash cache, so that a run with nothing to do does not read and hash every migration.
//!
//! `up` and `status` must compare every applied migration's checksum with its file, and at
//! 10,000 migrations reading and hashing the files is most of a no-op run. The cache remembers,
//! per file, the `sha256-lf` checksum together with what `stat` said about the file when it was
//! hashed; a later run that finds the very same `stat` answer uses the remembered checksum
//! instead of reading the file.
//!
//! # Why a hit is safe
//!
//! An entry is keyed by the path (relative to the set's directory) and the file's size,
//! modification time, status-change time (`ctime`, nanoseconds), inode and device. It is used
//! only when all of them match, and dropped otherwise. The argument that an unchanged key means
//! unchanged content:
//!
//! - Every way of changing a file's content updates its `ctime` to the current time: `write`,
//!   `truncate`, `mmap` writes, and also `utimensat` (so `touch -d`, `cp -p`, `rsync -t` or
//!   `git checkout` restoring an old mtime still move `ctime`). User space cannot set `ctime`.
//! - Replacing the file (editors that write a new file and rename it over the old one, `git
//!   checkout`, `cp` to a new path) gives a new inode, or, if the inode number is reused, a new
//!   `ctime` anyway.
//! - The remaining gap is timestamp granularity: a change within the same timestamp tick as the
//!   change the cache saw would leave `ctime` equal. The cache therefore never records a file
//!   whose `ctime` or mtime is less than [`RACY_MARGIN`] before the clock reading taken *before*
//!   the file was read (git calls such entries "racily clean"). Any later change then gets a
//!   `ctime` at least that clock reading minus one tick, so strictly newer than the recorded
//!   one. The margin covers coarse kernel clocks (a few ms) and 2-second filesystems (FAT).
//!
//! What this does not cover, deliberately: a system clock stepped back by more than the margin
//! between two edits, files on a network filesystem whose server clock runs behind this
//! machine's by more than the margin *and* that are edited twice within one server tick while
//! strata reads them, and writes that bypass the filesystem (a raw block device). `strata
//! validate` and every verb other than `up`/`down`/`status` never use the cache, and
//! `STRATA_NO_FILE_CACHE=1` turns it off.
//!
//! The cache is only an optimisation: a missing, unreadable, corrupt or unwritable cache file
//! means every file is read, as without it. It is written atomically (a temporary file renamed
//! into place), so concurrent runs at worst overwrite each other's equally valid entries.
//! Only files that are valid UTF-8, not blank, and contain no `strata:` directive and no dbmate
//! or goose section marker are recorded, so the loader may treat a hit as a file with no
//! directives that the layout reads as one whole script.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use strata_model::{Checksum, ChecksumAlgorithm};

/// How long before the pre-read clock reading a file must have last changed to be recorded.
pub const RACY_MARGIN: Duration = Duration::from_secs(3);

const HEADER: &str = "strata file-hash cache v1";

/// What `stat` says about a file: the cache key besides its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileKey {
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    ino: u64,
    dev: u64,
}

impl FileKey {
    /// The key of a file from its metadata (of the file itself, symbolic links followed).
    pub fn of(meta: &std::fs::Metadata) -> FileKey {
        FileKey {
            size: meta.size(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
            ino: meta.ino(),
            dev: meta.dev(),
        }
    }

    /// The key of a file from `stat` relative to a directory (what [`FileKey::of`] says of
    /// the same file).
    pub(crate) fn of_stat(stat: &rustix::fs::Stat) -> FileKey {
        // The field types differ between architectures; the values fit on every one.
        #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
        let ns = |secs: i64, nsec: i64| i128::from(secs) * 1_000_000_000 + i128::from(nsec);
        #[allow(clippy::unnecessary_cast)]
        FileKey {
            size: stat.st_size as u64,
            mtime_ns: ns(stat.st_mtime as i64, stat.st_mtime_nsec as i64),
            ctime_ns: ns(stat.st_ctime as i64, stat.st_ctime_nsec as i64),
            ino: stat.st_ino as u64,
            dev: stat.st_dev as u64,
        }
    }

    /// True when the file last changed (content or inode) more than [`RACY_MARGIN`] before
    /// `started_ns`, a clock reading taken before the file was looked at: any later change
    /// then gives it a different key (see the module docs).
    pub(crate) fn settled(&self, started_ns: i128) -> bool {
        let margin = RACY_MARGIN.as_nanos() as i128;
        self.ctime_ns < started_ns - margin && self.mtime_ns < started_ns - margin
    }

    /// Appends the key as the five space-separated numbers of a cache line.
    pub(crate) fn write_to(&self, out: &mut String) {
        // Written digit by digit: `write!` with two 128-bit numbers was most of the cost of
        // rendering a snapshot of 10,000 migrations (a 128-bit division per digit).
        push_decimal(out, i128::from(self.size));
        for n in [
            self.mtime_ns,
            self.ctime_ns,
            i128::from(self.ino),
            i128::from(self.dev),
        ] {
            out.push(' ');
            push_decimal(out, n);
        }
    }

    /// Reads the five numbers [`FileKey::write_to`] wrote from `fields`.
    pub(crate) fn read_from<'a>(fields: &mut impl Iterator<Item = &'a str>) -> Option<FileKey> {
        // A time in nanoseconds fits an i64 until 2262; others take the slower parse.
        let nanos = |field: &str| {
            field
                .parse::<i64>()
                .map(i128::from)
                .or_else(|_| field.parse::<i128>())
                .ok()
        };
        Some(FileKey {
            size: fields.next()?.parse().ok()?,
            mtime_ns: nanos(fields.next()?)?,
            ctime_ns: nanos(fields.next()?)?,
            ino: fields.next()?.parse().ok()?,
            dev: fields.next()?.parse().ok()?,
        })
    }
}

/// One remembered file: where its path and checksum are in the cache text, and its key.
#[derive(Debug, Clone)]
struct Cached {
    rel: std::ops::Range<usize>,
    hex: std::ops::Range<usize>,
    key: FileKey,
}

/// A file the loader read and found worth remembering.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    rel: String,
    key: FileKey,
    hex: String,
}

/// The cache of one migration directory.
#[derive(Debug)]
pub struct FileCache {
    path: PathBuf,
    dir: String,
    /// The cache file as read; `entries` point into it. Parsing into one buffer (no
    /// allocation per entry, no hashing) keeps opening the cache cheap at 10,000 files.
    text: String,
    /// Sorted by path, as the file is written.
    entries: Vec<Cached>,
    /// Nanoseconds since the epoch, read before any file is read (see the module docs).
    read_started_ns: i128,
    /// False for [`FileCache::disabled`].
    enabled: bool,
}

impl FileCache {
    /// Opens the cache of directory `dir` stored in `cache_dir` (typically `.strata/cache` of
    /// the project). A missing or unreadable cache is an empty one.
    pub fn open(cache_dir: &Path, dir: &Path) -> FileCache {
        let dir_abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
        let dir = dir_abs.to_string_lossy().into_owned();
        let path = cache_dir.join(format!("files-{:016x}.txt", fnv1a(dir.as_bytes())));
        let read_started_ns = now_ns();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let entries = parse(&text, &dir).unwrap_or_default();
        FileCache {
            path,
            dir,
            text,
            entries,
            read_started_ns,
            enabled: true,
        }
    }

    /// A cache that never hits and is never written (`STRATA_NO_FILE_CACHE=1`).
    pub fn disabled() -> FileCache {
        FileCache {
            path: PathBuf::new(),
            dir: String::new(),
            text: String::new(),
            entries: Vec::new(),
            read_started_ns: 0,
            enabled: false,
        }
    }

    /// Pretends this run started at `clock` (nanoseconds since the epoch) when given, so
    /// tests can have files they just wrote count as settled.
    pub(crate) fn with_clock(mut self, clock: Option<i128>) -> FileCache {
        if let Some(ns) = clock {
            self.read_started_ns = ns;
        }
        self
    }

    /// The checksum remembered for `rel` if the file still has exactly `key`. Files are asked
    /// in path order: `cursor` (start at 0) remembers where the previous one was, so the next
    /// is usually found without a search.
    pub fn lookup_near(&self, rel: &str, key: &FileKey, cursor: &mut usize) -> Option<Checksum> {
        let i = self.position(rel, *cursor)?;
        *cursor = i + 1;
        let hit = &self.entries[i];
        (hit.key == *key).then(|| Checksum {
            algorithm: ChecksumAlgorithm::Sha256Lf,
            hex: self.text[hit.hex.clone()].to_owned(),
        })
    }

    fn position(&self, rel: &str, guess: usize) -> Option<usize> {
        let path = |c: &Cached| &self.text[c.rel.clone()];
        if self.entries.get(guess).is_some_and(|c| path(c) == rel) {
            return Some(guess);
        }
        self.entries.binary_search_by(|c| path(c).cmp(rel)).ok()
    }

    fn find(&self, rel: &str) -> Option<&Cached> {
        self.position(rel, 0).map(|i| &self.entries[i])
    }

    /// A record for a file just read, if it may be cached: its content qualifies (see the
    /// module docs) and it did not change within [`RACY_MARGIN`] of this run's start.
    pub(crate) fn consider(&self, rel: &str, key: FileKey, bytes: &[u8]) -> Option<Record> {
        if !self.enabled {
            return None;
        }
        if !key.settled(self.read_started_ns) || rel.contains(['\n', '\r']) {
            return None;
        }
        if !plain_content(bytes) {
            return None;
        }
        Some(Record {
            rel: rel.to_owned(),
            key,
            hex: Checksum::of_bytes(bytes).hex,
        })
    }

    /// Rewrites the cache when it changed: `hits` are the paths found valid in this run,
    /// `records` the new entries. Entries of files that were not hit are dropped (edited,
    /// removed). Failures are ignored: the cache is an optimisation. This value keeps what
    /// it read (a run opens the cache once and updates it once, at the end of listing).
    pub(crate) fn update(&self, hits: &[&str], records: Vec<Record>) {
        if !self.enabled || (records.is_empty() && hits.len() == self.entries.len()) {
            return;
        }
        let mut rows: Vec<(&str, FileKey, &str)> = Vec::with_capacity(hits.len() + records.len());
        for rel in hits {
            if let Some(c) = self.find(rel) {
                rows.push((&self.text[c.rel.clone()], c.key, &self.text[c.hex.clone()]));
            }
        }
        for r in &records {
            rows.push((&r.rel, r.key, &r.hex));
        }
        rows.sort_unstable_by(|a, b| a.0.cmp(b.0));
        rows.dedup_by(|a, b| a.0 == b.0);
        let _ = self.save(&rows);
    }

    fn save(&self, rows: &[(&str, FileKey, &str)]) -> std::io::Result<()> {
        let parent = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent)?;
        let mut text = String::with_capacity(64 + rows.len() * 160);
        text.push_str(HEADER);
        text.push('\n');
        text.push_str(&self.dir);
        text.push('\n');
        for (rel, k, hex) in rows {
            k.write_to(&mut text);
            text.push(' ');
            text.push_str(hex);
            text.push(' ');
            text.push_str(rel);
            text.push('\n');
        }
        write_atomically(&self.path, text.as_bytes())
    }

    /// Where the cache lives.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Appends `n` in decimal, as `Display` writes it; through `u64` when it fits (every key until
/// the year 2262).
fn push_decimal(out: &mut String, n: i128) {
    if n < 0 {
        out.push('-');
    }
    let magnitude = n.unsigned_abs();
    let Ok(mut rest) = u64::try_from(magnitude) else {
        use std::fmt::Write as _;
        let _ = write!(out, "{magnitude}");
        return;
    };
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&digits[start..]).expect("ASCII digits"));
}

/// Cache files a load produced and has not written yet. Writing the snapshot of 10,000
/// migrations (a few MB) took a tenth of an `up` that followed a change in the directory; a
/// caller that writes these after handing the set over (on the loading thread, while the
/// database is queried) takes that off the way to the first query. Dropped unwritten, the
/// cache simply stays as it was: the next load builds and offers the same files again.
#[derive(Debug, Default)]
#[must_use = "the cache is only updated by `write`"]
pub struct CacheWrites {
    files: Vec<(PathBuf, Contents)>,
}

/// What a cache file is to hold.
#[derive(Debug)]
enum Contents {
    Whole(String),
    /// The pieces put together, [`Piece::Kept`] ones taken from `source`.
    Spliced {
        source: String,
        pieces: Vec<Piece>,
    },
}

/// A piece of a spliced cache file: a range of its source text, or new text.
#[derive(Debug)]
pub(crate) enum Piece {
    Kept(std::ops::Range<usize>),
    New(String),
}

impl CacheWrites {
    /// One file to replace with `text` (its directory is created).
    pub(crate) fn replace(path: PathBuf, text: String) -> CacheWrites {
        CacheWrites {
            files: vec![(path, Contents::Whole(text))],
        }
    }

    /// One file to replace with `pieces` put together, the kept ranges taken from `source`:
    /// an old file with a few lines spliced in then costs one copy when it is written, not a
    /// rendering of the whole before.
    pub(crate) fn splice(path: PathBuf, source: String, pieces: Vec<Piece>) -> CacheWrites {
        CacheWrites {
            files: vec![(path, Contents::Spliced { source, pieces })],
        }
    }

    /// Adds `other`'s files.
    pub fn extend(&mut self, other: CacheWrites) {
        self.files.extend(other.files);
    }

    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Writes every file, each atomically. Failures are ignored: the cache is an optimisation,
    /// and an unwritable one only makes the next load read more.
    pub fn write(self) {
        for (path, contents) in self.files {
            let text = match contents {
                Contents::Whole(text) => text,
                Contents::Spliced { source, pieces } => {
                    let mut text = String::with_capacity(source.len() + 4096);
                    for piece in &pieces {
                        match piece {
                            Piece::Kept(range) => text.push_str(&source[range.clone()]),
                            Piece::New(new) => text.push_str(new),
                        }
                    }
                    text
                }
            };
            let parent = path.parent().unwrap_or(Path::new("."));
            let _ = std::fs::create_dir_all(parent)
                .and_then(|()| write_atomically(&path, text.as_bytes()));
        }
    }
}

/// Replaces `path` with `bytes` through a temporary file renamed into place, so a reader sees
/// the old file or the new one, never part of one.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    let tmp = parent.join(format!(
        ".{}.{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let result = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes))
        .and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The clock, in nanoseconds since the epoch (0 before it).
pub(crate) fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

/// Content the loader can take on trust from the cache: UTF-8, not blank, no `strata:`
/// directive and no dbmate/goose marker (a conservative substring test: a file that merely
/// mentions one of them is read every time, which is only slower).
pub(crate) fn plain_content(bytes: &[u8]) -> bool {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let Ok(text) = std::str::from_utf8(body) else {
        return false;
    };
    !strata_model::sql_is_blank(text)
        && !text.contains("strata:")
        && !text.contains("migrate:")
        && !text.to_ascii_lowercase().contains("+goose")
}

/// The entries of a cache file written for `dir`, sorted by path; `None` when the file is
/// not one (another directory's, another format, damaged).
fn parse(text: &str, dir: &str) -> Option<Vec<Cached>> {
    let mut lines = text.split_inclusive('\n');
    if lines.next()?.strip_suffix('\n')? != HEADER || lines.next()?.strip_suffix('\n')? != dir {
        return None;
    }
    let mut entries = Vec::with_capacity(text.len() / 140);
    // A line that does not parse (a hand edit) is only a file that will be hashed again.
    entries.extend(lines.filter_map(|line| parse_line(text, line)));
    let path = |c: &Cached| &text[c.rel.clone()];
    if !entries.windows(2).all(|w| path(&w[0]) < path(&w[1])) {
        entries.sort_by(|a, b| path(a).cmp(path(b)));
        entries.dedup_by(|a, b| path(a) == path(b));
    }
    Some(entries)
}

/// One cache line (`size mtime ctime ino dev hex path`) of `text`.
fn parse_line(text: &str, line: &str) -> Option<Cached> {
    let base = |part: &str| part.as_ptr() as usize - text.as_ptr() as usize;
    let line = line.strip_suffix('\n').unwrap_or(line);
    let mut f = line.splitn(7, ' ');
    let key = FileKey::read_from(&mut f)?;
    let hex = f.next()?;
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let rel = f.next()?;
    if rel.is_empty() || rel.contains('\r') {
        return None;
    }
    Some(Cached {
        rel: base(rel)..base(rel) + rel.len(),
        hex: base(hex)..base(hex) + hex.len(),
        key,
    })
}

/// The 64-bit FNV-1a of `bytes`, which names the cache files of a directory or set.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    use std::hash::Hasher;
    // `write` of the raw bytes, never `Hash::hash` of a string (which appends a 0xFF byte).
    let mut h = fnv::FnvHasher::default();
    h.write(bytes);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_golden_values() {
        // Cache files are named after these hashes; a change would orphan every cache.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(fnv1a(b"/home/alice/shop"), 0x4ba7_a69d_2de7_61a3);
    }

    #[test]
    fn push_decimal_writes_what_display_writes() {
        for n in [
            0,
            7,
            10,
            1_796_634_697_599_990_536,
            i128::from(u64::MAX),
            i128::from(u64::MAX) + 1,
            -1,
            -1_000_000_000,
            i128::MAX,
            i128::MIN,
        ] {
            let mut out = String::from("x");
            push_decimal(&mut out, n);
            assert_eq!(out, format!("x{n}"));
        }
    }

    #[test]
    fn a_key_reads_back_as_written() {
        let key = FileKey {
            size: 444,
            mtime_ns: 1_796_634_697_599_990_536,
            ctime_ns: -5,
            ino: u64::MAX,
            dev: 65024,
        };
        let mut text = String::new();
        key.write_to(&mut text);
        assert_eq!(
            text,
            format!("444 1796634697599990536 -5 {} 65024", u64::MAX)
        );
        assert_eq!(FileKey::read_from(&mut text.split(' ')), Some(key));
    }
}
