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
    /// Name of the sub-directory holding the file, if any.
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
    /// Reads the top level of `dir` and its immediate sub-directories.
    pub fn read(dir: &Path) -> std::io::Result<Listing> {
        let mut entries = Vec::new();
        let mut unreadable_names = Vec::new();
        let mut top: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
        top.sort_by_key(|e| e.file_name());
        for entry in top {
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                unreadable_names.push(PathBuf::from(entry.file_name()));
                continue;
            };
            let ty = entry.file_type()?;
            if ty.is_dir() {
                if name.starts_with('.') {
                    continue;
                }
                let mut inner: Vec<_> =
                    std::fs::read_dir(entry.path())?.collect::<Result<_, _>>()?;
                inner.sort_by_key(|e| e.file_name());
                for sub in inner {
                    let Some(sub_name) = sub.file_name().to_str().map(str::to_owned) else {
                        unreadable_names.push(Path::new(&name).join(sub.file_name()));
                        continue;
                    };
                    if sub.file_type()?.is_file() {
                        entries.push(Entry {
                            rel: Path::new(&name).join(&sub_name),
                            name: sub_name,
                            parent: Some(name.clone()),
                            bytes: std::fs::read(sub.path())?,
                        });
                    }
                }
            } else {
                let bytes = std::fs::read(entry.path())?;
                entries.push(Entry {
                    rel: PathBuf::from(&name),
                    name,
                    parent: None,
                    bytes,
                });
            }
        }
        Ok(Listing {
            dir: dir.to_owned(),
            entries,
            unreadable_names,
        })
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
