//! The directory as the layouts see it: read once, sorted, relative paths.
//!
//! Layouts work on this in-memory listing rather than on the file system, so they can be tested
//! on hand-built listings and so that a directory is read exactly once per run.

use crate::cache::FileKey;
use std::path::{Path, PathBuf};

/// One file of a migration directory (top level, or one directory deep for diesel).
#[derive(Debug, Clone)]
pub struct Entry {
    /// Path relative to the set's directory.
    pub rel: PathBuf,
    /// The file name.
    pub name: String,
    /// Path of the sub-directory holding the file, relative to the set's directory (`None` at
    /// the top level).
    pub parent: Option<String>,
    /// Raw bytes (empty while `deferred` is set).
    pub bytes: Vec<u8>,
    /// Set when the file was deliberately not read (see [`crate::load_dir_cached`]).
    pub deferred: Option<Deferred>,
}

/// Why an entry's bytes were not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deferred {
    /// The file cache vouches for this checksum, and for the file being non-blank UTF-8 with
    /// no directives and no section markers (see `cache.rs`).
    Cached(strata_model::Checksum),
    /// Not read at all: a down script, read when a revert needs it.
    Unread,
}

/// All files of a migration directory.
#[derive(Debug, Clone)]
pub struct Listing {
    dir: PathBuf,
    entries: Vec<Entry>,
    /// Names that are not valid UTF-8, reported by the layouts as problems.
    pub(crate) unreadable_names: Vec<PathBuf>,
    /// What the walk saw of the directories themselves, for the set snapshot (see
    /// `snapshot.rs`); `None` when the walk did not look (no cache).
    pub(crate) dirs: Option<WalkedDirs>,
    /// Each file-cache hit (an index into the entries) with the `stat` key the cache vouched
    /// for, for the set snapshot (for a listing of added files, each up script the cache
    /// would take on trust, see [`Listing::of_added`]). (Kept here rather than in every entry: a field per entry
    /// raised the peak memory of loading 10,000 migrations by megabytes.)
    pub(crate) hit_keys: Vec<(usize, FileKey)>,
}

/// The directories of a walk as `stat` saw them just before each was listed.
#[derive(Debug, Clone, Default)]
pub(crate) struct WalkedDirs {
    /// Nanoseconds since the epoch, read before the first directory was `stat`-ed.
    pub(crate) started_ns: i128,
    /// Each directory listed (relative path, empty for the set's own) with its key.
    pub(crate) keys: Vec<(PathBuf, FileKey)>,
    /// True when some entry was a symbolic link (whose target the directory keys do not cover).
    pub(crate) symlinks: bool,
}

impl Listing {
    /// Reads `dir` and everything below it (hidden directories excepted), so that a `.sql`
    /// file in a sub-directory is either read by the layout or reported, never missed.
    pub fn read(dir: &Path) -> std::io::Result<Listing> {
        let Walked { mut listing, found } = Listing::walk_dir(dir, false)?;
        listing.fill(found, None)?;
        Ok(listing)
    }

    /// Reads several directories (Flyway `locations`) into one listing rooted at `root`: each
    /// entry's relative path starts with its location's path relative to `root` (or the
    /// location as given, when it is not below `root`), so every file has one unambiguous
    /// name. A location that cannot be read is returned with the error.
    pub fn read_locations(
        root: &Path,
        locations: &[PathBuf],
    ) -> Result<Listing, (PathBuf, std::io::Error)> {
        let mut listing = Listing {
            dir: root.to_owned(),
            entries: Vec::new(),
            unreadable_names: Vec::new(),
            hit_keys: Vec::new(),
            dirs: None,
        };
        let mut found = Vec::new();
        for location in locations {
            let rel = listing.relative(location);
            let abs = root.join(&rel);
            listing
                .walk(&abs, &rel, &mut found)
                .map_err(|e| (rel.clone(), e))?;
        }
        listing
            .fill(found, None)
            .map_err(|e| (root.to_owned(), e))?;
        Ok(listing)
    }

    /// Finishes a walked directory like [`Listing::read`], but reads only what planning
    /// needs: a `.sql` file whose `stat` matches `cache` is not read (its entry is
    /// [`Deferred::Cached`]), and down scripts (`*.down.sql`, `down.sql`) are not read at all
    /// ([`Deferred::Unread`]). Files read here that qualify are added to the cache, which is
    /// rewritten when it changed. (The walk is separate so it can run while the cache opens.)
    pub(crate) fn fill_cached(
        walked: Walked,
        cache: &mut crate::cache::FileCache,
    ) -> std::io::Result<Listing> {
        let Walked { mut listing, found } = walked;
        listing.fill(found, Some(cache))?;
        Ok(listing)
    }

    /// Reads the bytes of every deferred entry (for layouts and verbs that need all texts).
    pub fn read_deferred(&mut self) -> std::io::Result<()> {
        for entry in &mut self.entries {
            if entry.deferred.take().is_some() {
                entry.bytes = std::fs::read(self.dir.join(&entry.rel))?;
            }
        }
        Ok(())
    }

    /// Lists `dir` and below (names and types only; no file is read or `stat`-ed yet). With
    /// `record_dirs`, each directory is `stat`-ed before it is listed (see [`WalkedDirs`]).
    pub(crate) fn walk_dir(dir: &Path, record_dirs: bool) -> std::io::Result<Walked> {
        let mut listing = Listing {
            dir: dir.to_owned(),
            entries: Vec::new(),
            unreadable_names: Vec::new(),
            hit_keys: Vec::new(),
            dirs: record_dirs.then(|| WalkedDirs {
                started_ns: crate::cache::now_ns(),
                ..WalkedDirs::default()
            }),
        };
        let mut found = Vec::new();
        listing.walk(dir, Path::new(""), &mut found)?;
        Ok(Walked { listing, found })
    }

    /// Reads (or, with a cache, checks) every file. Opening, reading and `stat`-ing thousands
    /// of small files is most of the cost of a no-op run, and it is system-call bound, so the
    /// files are handled by a few threads.
    fn fill(
        &mut self,
        found: Vec<Found>,
        cache: Option<&mut crate::cache::FileCache>,
    ) -> std::io::Result<()> {
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 4);
        let chunk = self.entries.len().div_ceil(threads).max(256);
        let dir = &self.dir;
        let shared = cache.as_deref();
        let mut hits: Vec<(usize, FileKey)> = Vec::new();
        let mut records = Vec::new();
        std::thread::scope(|scope| {
            let workers: Vec<_> = self
                .entries
                .chunks_mut(chunk)
                .zip(found.chunks(chunk))
                .enumerate()
                .map(|(n, (part, found))| {
                    scope.spawn(move || fill_part(dir, n * chunk, part, found, shared))
                })
                .collect();
            for w in workers {
                let (h, r) = w.join().expect("a file-reading thread panicked")?;
                hits.extend(h);
                records.extend(r);
            }
            Ok::<(), std::io::Error>(())
        })?;
        if let Some(cache) = cache {
            let rels: Vec<&str> = hits
                .iter()
                .map(|&(i, _)| self.entries[i].rel_str())
                .collect();
            cache.update(&rels, records);
        }
        if self.dirs.is_some() {
            self.hit_keys = hits;
        }
        Ok(())
    }

    fn walk(&mut self, abs: &Path, rel: &Path, found: &mut Vec<Found>) -> std::io::Result<()> {
        if let Some(dirs) = &mut self.dirs {
            // Before listing: a change made while (or after) the directory is read gets a
            // newer ctime than this key, so a snapshot keyed by it is never wrongly reused.
            let key = FileKey::of(&std::fs::metadata(abs)?);
            dirs.keys.push((rel.to_owned(), key));
        }
        let mut children: Vec<(std::ffi::OsString, std::fs::DirEntry)> = std::fs::read_dir(abs)?
            .map(|e| e.map(|e| (e.file_name(), e)))
            .collect::<Result<_, _>>()?;
        // Sort on names taken once: `DirEntry::file_name` allocates on every call.
        children.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (os_name, child) in children {
            let Some(name) = os_name.to_str().map(str::to_owned) else {
                self.unreadable_names.push(rel.join(&os_name));
                continue;
            };
            let child_rel = rel.join(&name);
            // The directory entry's own type avoids a stat per file; symlinks are followed.
            let mut ty = child.file_type()?;
            let symlink = ty.is_symlink();
            if symlink {
                ty = std::fs::metadata(child.path())?.file_type();
                if let Some(dirs) = &mut self.dirs {
                    dirs.symlinks = true;
                }
            }
            if ty.is_dir() {
                if !name.starts_with('.') {
                    self.walk(&child.path(), &child_rel, found)?;
                }
            } else if ty.is_file() {
                let parent = child_rel
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .map(|p| p.to_string_lossy().into_owned());
                self.entries.push(Entry {
                    rel: child_rel,
                    name,
                    parent,
                    bytes: Vec::new(),
                    deferred: None,
                });
                found.push(Found {
                    entry: child,
                    symlink,
                });
            }
        }
        Ok(())
    }

    /// The listing of `names`, top-level files of `dir` (open as `dirfd`) added since the
    /// set snapshot was taken, filled as [`Listing::fill_cached`] fills entries the file cache
    /// does not know: down scripts are not read, every other file is. An up script whose
    /// content the cache could take on trust and whose key is settled by `started_ns` (a clock
    /// reading from before the directory was `stat`-ed) gets its key in `hit_keys`, so that
    /// the snapshot may store it.
    pub(crate) fn of_added(
        dir: &Path,
        dirfd: &rustix::fd::OwnedFd,
        names: Vec<String>,
        started_ns: i128,
    ) -> std::io::Result<Listing> {
        let mut listing = Listing {
            dir: dir.to_owned(),
            entries: Vec::with_capacity(names.len()),
            unreadable_names: Vec::new(),
            dirs: None,
            hit_keys: Vec::new(),
        };
        for name in names {
            let mut entry = Entry {
                rel: PathBuf::from(&name),
                name,
                parent: None,
                bytes: Vec::new(),
                deferred: None,
            };
            let sql = entry.name.ends_with(".sql");
            if sql && entry.is_down_script() {
                entry.deferred = Some(Deferred::Unread);
            } else {
                // Stat-ed before it is read: a change while reading gets a newer key.
                let key = FileKey::of_stat(&rustix::fs::statat(
                    dirfd,
                    entry.name.as_str(),
                    rustix::fs::AtFlags::empty(),
                )?);
                entry.bytes = std::fs::read(dir.join(&entry.rel))?;
                if sql && key.settled(started_ns) && crate::cache::plain_content(&entry.bytes) {
                    listing.hit_keys.push((listing.entries.len(), key));
                }
            }
            listing.entries.push(entry);
        }
        Ok(listing)
    }

    /// Builds a listing from `(relative path, content)` pairs.
    pub fn from_memory(dir: impl Into<PathBuf>, files: &[(&str, &[u8])]) -> Listing {
        let entries = files
            .iter()
            .map(|(rel, bytes)| {
                let rel = PathBuf::from(rel);
                let name = rel
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                let parent = rel
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .map(|p| p.to_string_lossy().into_owned());
                Entry {
                    rel,
                    name,
                    parent,
                    bytes: bytes.to_vec(),
                    deferred: None,
                }
            })
            .collect();
        Listing {
            dir: dir.into(),
            entries,
            unreadable_names: Vec::new(),
            dirs: None,
            hit_keys: Vec::new(),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every file.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Full path of an entry.
    pub fn path_of(&self, entry: &Entry) -> PathBuf {
        self.dir.join(&entry.rel)
    }

    /// A path made relative to the directory, for messages.
    pub fn relative(&self, path: &Path) -> PathBuf {
        path.strip_prefix(&self.dir)
            .map(Path::to_owned)
            .unwrap_or_else(|_| path.to_owned())
    }
}

impl Entry {
    /// The relative path as UTF-8 (names are UTF-8; the parent directories were too).
    fn rel_str(&self) -> &str {
        self.rel.to_str().unwrap_or_default()
    }

    /// A down script by name: read only when a revert needs it.
    fn is_down_script(&self) -> bool {
        self.name.ends_with(".down.sql") || self.name == "down.sql"
    }
}

/// A directory listed but not yet read: entries without content, and the directory entries
/// to `stat` or read them through.
pub(crate) struct Walked {
    listing: Listing,
    found: Vec<Found>,
}

impl Walked {
    /// Pretends the walk started at `clock` when given (see [`crate::FileCache`]'s clock).
    pub(crate) fn with_clock(mut self, clock: Option<i128>) -> Walked {
        if let (Some(ns), Some(dirs)) = (clock, &mut self.listing.dirs) {
            dirs.started_ns = ns;
        }
        self
    }
}

/// The directory entry behind a listing entry, for `stat` relative to its directory.
struct Found {
    entry: std::fs::DirEntry,
    symlink: bool,
}

/// What filling one chunk of entries yields: the indices (into the whole listing) of cache hits
/// with their keys, and the new cache records.
type FilledPart = (Vec<(usize, FileKey)>, Vec<crate::cache::Record>);

/// Fills one chunk of entries: reads them, or with a cache, defers what it can.
fn fill_part(
    dir: &Path,
    first: usize,
    part: &mut [Entry],
    found: &[Found],
    cache: Option<&crate::cache::FileCache>,
) -> std::io::Result<FilledPart> {
    let mut hits = Vec::new();
    let mut records = Vec::new();
    // Top-level entries come in path order, as the cache is stored (a walk into
    // sub-directories may not: the cursor then misses and the lookup searches).
    let mut cursor = 0;
    for (i, (entry, f)) in part.iter_mut().zip(found).enumerate() {
        let Some(cache) = cache.filter(|_| entry.name.ends_with(".sql")) else {
            entry.bytes = std::fs::read(dir.join(&entry.rel))?;
            continue;
        };
        if entry.is_down_script() {
            entry.deferred = Some(Deferred::Unread);
            continue;
        }
        // `DirEntry::metadata` is an `fstatat` relative to the open directory (cheaper than a
        // path lookup from the root); a symbolic link is followed to the file it names.
        let meta = if f.symlink {
            std::fs::metadata(f.entry.path())?
        } else {
            f.entry.metadata()?
        };
        let key = FileKey::of(&meta);
        if let Some(checksum) = cache.lookup_near(entry.rel_str(), &key, &mut cursor) {
            entry.deferred = Some(Deferred::Cached(checksum));
            hits.push((first + i, key));
            continue;
        }
        entry.bytes = std::fs::read(dir.join(&entry.rel))?;
        records.extend(cache.consider(entry.rel_str(), key, &entry.bytes));
    }
    Ok((hits, records))
}
