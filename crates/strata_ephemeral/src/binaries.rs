//! Finding the PostgreSQL installation to run.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::EphemeralError;

/// Environment variable that pins the PostgreSQL bin directory.
pub const PG_BIN_ENV: &str = "STRATA_PG_BIN";

/// Tools that must all be present for a directory to count as a server
/// installation.
const SERVER_TOOLS: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

/// A directory holding the PostgreSQL binaries (`initdb`, `pg_ctl`,
/// `postgres`, `psql`, `createdb`, `dropdb`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgBinaries {
    bin_dir: PathBuf,
}

impl PgBinaries {
    /// Finds the PostgreSQL binaries, in this order:
    ///
    /// 1. the `STRATA_PG_BIN` environment variable (an error if it is set but
    ///    wrong, rather than silently falling through);
    /// 2. `pg_config --bindir`, if that directory has the server tools;
    /// 3. the highest-numbered `/usr/lib/postgresql/<N>/bin` (Debian/Ubuntu);
    /// 4. the first `initdb` on `PATH` (symlinks resolved, so that the sibling
    ///    tools of the real installation are used).
    pub fn discover() -> Result<PgBinaries, EphemeralError> {
        if let Some(value) = env::var_os(PG_BIN_ENV).filter(|v| !v.is_empty()) {
            let path = PathBuf::from(value);
            return if has_server_tools(&path) {
                Ok(PgBinaries::at(path))
            } else {
                Err(EphemeralError::InvalidPgBinEnv { path })
            };
        }

        let mut searched = Vec::new();

        match pg_config_bindir() {
            Some(dir) if has_server_tools(&dir) => return Ok(PgBinaries::at(dir)),
            Some(dir) => searched.push(format!("{} (from pg_config --bindir)", dir.display())),
            None => searched.push("`pg_config --bindir` (not available)".to_string()),
        }

        let debian_root = Path::new("/usr/lib/postgresql");
        for dir in debian_versioned_dirs(debian_root) {
            if has_server_tools(&dir) {
                return Ok(PgBinaries::at(dir));
            }
        }
        searched.push(format!("{}/<version>/bin", debian_root.display()));

        if let Some(path_var) = env::var_os("PATH") {
            for dir in env::split_paths(&path_var) {
                let initdb = dir.join("initdb");
                if !initdb.is_file() {
                    continue;
                }
                let real_dir = fs::canonicalize(&initdb)
                    .ok()
                    .and_then(|p| p.parent().map(Path::to_path_buf))
                    .unwrap_or(dir);
                if has_server_tools(&real_dir) {
                    return Ok(PgBinaries::at(real_dir));
                }
            }
        }
        searched.push("PATH".to_string());

        Err(EphemeralError::BinariesNotFound { searched })
    }

    /// Uses the given directory as-is, without checking it.
    pub fn at(bin_dir: impl Into<PathBuf>) -> PgBinaries {
        PgBinaries {
            bin_dir: bin_dir.into(),
        }
    }

    /// The bin directory.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The full path of a tool in the bin directory, e.g. `tool("psql")`.
    pub fn tool(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    /// The server's major version (e.g. `15`), from `postgres --version`.
    pub fn major_version(&self) -> Result<u32, EphemeralError> {
        let program = self.tool("postgres");
        let output = Command::new(&program)
            .arg("--version")
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .output()
            .map_err(|source| EphemeralError::Spawn {
                program: program.clone(),
                source,
            })?;
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        match parse_major_version(&text) {
            Some(v) if output.status.success() => Ok(v),
            _ => Err(EphemeralError::VersionUnparseable {
                program,
                output: format!("{}{}", text, String::from_utf8_lossy(&output.stderr)),
            }),
        }
    }
}

/// Extracts the major version from `postgres --version` output such as
/// `postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)` or
/// `postgres (PostgreSQL) 17devel`.
pub(crate) fn parse_major_version(text: &str) -> Option<u32> {
    let token = text
        .split_whitespace()
        .find(|t| t.starts_with(|c: char| c.is_ascii_digit()))?;
    let digits: String = token.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn has_server_tools(dir: &Path) -> bool {
    SERVER_TOOLS.iter().all(|tool| dir.join(tool).is_file())
}

fn pg_config_bindir() -> Option<PathBuf> {
    let output = Command::new("pg_config")
        .arg("--bindir")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let dir = String::from_utf8(output.stdout).ok()?;
    let dir = dir.trim();
    (!dir.is_empty()).then(|| PathBuf::from(dir))
}

/// `<root>/<N>/bin` for every numeric `N`, highest version first.
fn debian_versioned_dirs(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(root) else {
        return Vec::new();
    };
    let mut versions: Vec<(u32, PathBuf)> = entries
        .flatten()
        .filter_map(|entry| {
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
    versions.into_iter().map(|(_, dir)| dir).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        assert_eq!(
            parse_major_version("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n"),
            Some(15)
        );
        assert_eq!(parse_major_version("postgres (PostgreSQL) 9.6.24"), Some(9));
        assert_eq!(
            parse_major_version("postgres (PostgreSQL) 17devel"),
            Some(17)
        );
        assert_eq!(parse_major_version("garbage"), None);
    }

    #[test]
    fn versioned_dirs_sort_numerically() {
        let tmp = tempfile::tempdir().unwrap();
        for v in ["9", "15", "16", "not-a-version"] {
            fs::create_dir_all(tmp.path().join(v).join("bin")).unwrap();
        }
        let dirs = debian_versioned_dirs(tmp.path());
        let names: Vec<_> = dirs
            .iter()
            .map(|d| d.parent().unwrap().file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, ["16", "15", "9"]);
    }
}
