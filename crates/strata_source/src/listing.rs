//! The directory as the layouts see it: read once, sorted, relative paths.
//!
//! Layouts work on this in-memory listing rather than on the file system, so they can be tested
//! on hand-built listings and so that a directory is read exactly once per run.

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
    /// Raw bytes.
    pub bytes: Vec<u8>,
}

/// All files of a migration directory.
#[derive(Debug, Clone)]
pub struct Listing {
    dir: PathBuf,
    entries: Vec<Entry>,
    /// Names that are not valid UTF-8, reported by the layouts as problems.
    pub(crate) unreadable_names: Vec<PathBuf>,
}

impl Listing {
    /// Reads `dir` and everything below it (hidden directories excepted), so that a `.sql`
    /// file in a sub-directory is either read by the layout or reported, never missed.
    pub fn read(dir: &Path) -> std::io::Result<Listing> {
        let mut listing = Listing {
            dir: dir.to_owned(),
            entries: Vec::new(),
            unreadable_names: Vec::new(),
        };
        listing.walk(dir, Path::new(""))?;
        listing.read_contents()?;
        Ok(listing)
    }

    /// Reads every file's bytes. Opening and reading thousands of small files is most of the
    /// cost of a no-op run, and it is system-call bound, so the files are read by a few threads.
    fn read_contents(&mut self) -> std::io::Result<()> {
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 4);
        let chunk = self.entries.len().div_ceil(threads).max(64);
        let dir = &self.dir;
        std::thread::scope(|scope| {
            let workers: Vec<_> = self
                .entries
                .chunks_mut(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        for entry in part {
                            entry.bytes = std::fs::read(dir.join(&entry.rel))?;
                        }
                        Ok::<(), std::io::Error>(())
                    })
                })
                .collect();
            workers
                .into_iter()
                .try_for_each(|w| w.join().expect("a file-reading thread panicked"))
        })
    }

    fn walk(&mut self, abs: &Path, rel: &Path) -> std::io::Result<()> {
        let mut children: Vec<_> = std::fs::read_dir(abs)?.collect::<Result<_, _>>()?;
        children.sort_by_key(|e| e.file_name());
        for child in children {
            let Some(name) = child.file_name().to_str().map(str::to_owned) else {
                self.unreadable_names.push(rel.join(child.file_name()));
                continue;
            };
            let child_rel = rel.join(&name);
            // The directory entry's own type avoids a stat per file; symlinks are followed.
            let mut ty = child.file_type()?;
            if ty.is_symlink() {
                ty = std::fs::metadata(child.path())?.file_type();
            }
            if ty.is_dir() {
                if !name.starts_with('.') {
                    self.walk(&child.path(), &child_rel)?;
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
                });
            }
        }
        Ok(())
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
                }
            })
            .collect();
        Listing {
            dir: dir.into(),
            entries,
            unreadable_names: Vec::new(),
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
