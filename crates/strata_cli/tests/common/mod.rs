//! Shared helpers for the end-to-end tests: a real `strata` binary, a real PostgreSQL database
//! per test (from the shared throwaway cluster), and temp directories.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
pub use strata_ephemeral::TestDatabase;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The result of one strata run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Captures a finished process.
    pub fn from_output(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "strata failed\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// A `strata` command with a clean environment, run in `cwd`.
pub fn strata_cmd(cwd: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_strata"));
    c.current_dir(cwd);
    for v in [
        "DATABASE_URL",
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "PGPASSWORD",
        "PGSSLMODE",
        "PGSERVICE",
    ] {
        c.env_remove(v);
    }
    for (k, _) in std::env::vars() {
        if k.starts_with("STRATA_") {
            c.env_remove(k);
        }
    }
    c
}

/// Runs strata against `db` with `args`.
pub fn strata(cwd: &Path, db: &TestDatabase, args: &[&str]) -> Run {
    let out = strata_cmd(cwd)
        .arg("--database-url")
        .arg(db.url())
        .args(args)
        .output()
        .expect("run strata");
    Run::from_output(out)
}

/// Runs strata with no database flag.
pub fn strata_raw(cwd: &Path, args: &[&str]) -> Run {
    Run::from_output(strata_cmd(cwd).args(args).output().expect("run strata"))
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// Every user-visible object of a database, one per line, sorted: the assertion that a set of
/// downs restored the starting schema. strata's own registry schema is excluded.
pub fn snapshot(db: &TestDatabase) -> String {
    const USER_NS: &str =
        "n.nspname NOT LIKE 'pg\\_%' AND n.nspname NOT IN ('information_schema', 'strata')";
    let sql = format!(
        "SELECT coalesce(string_agg(x, E'\\n' ORDER BY x), '') FROM (\
           SELECT 'schema ' || n.nspname AS x FROM pg_namespace n WHERE {USER_NS} \
           UNION ALL SELECT 'rel ' || n.nspname || '.' || c.relname || ' ' || c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {USER_NS} \
           UNION ALL SELECT 'col ' || n.nspname || '.' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {USER_NS} AND a.attnum > 0 AND NOT a.attisdropped \
           UNION ALL SELECT 'func ' || n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {USER_NS} \
           UNION ALL SELECT 'type ' || n.nspname || '.' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE {USER_NS} AND t.typtype IN ('e', 'd') \
           UNION ALL SELECT 'con ' || n.nspname || '.' || co.conname FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace WHERE {USER_NS} \
           UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger WHERE NOT tgisinternal \
           UNION ALL SELECT 'ext ' || extname FROM pg_extension WHERE extname <> 'plpgsql' \
         ) s"
    );
    db.psql(&sql).unwrap()
}

/// Loads a migration set from disk the way the binary does.
pub fn load(dir: &Path) -> strata_source::MigrationSet {
    strata_source::load_dir(dir, None).unwrap_or_else(|e| panic!("{e}"))
}

/// Writes a file under `dir`, creating the directories it needs.
pub fn write(dir: &Path, name: &str, content: &(impl AsRef<[u8]> + ?Sized)) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content.as_ref()).unwrap();
}

/// Polls `sql` (a count) until it is not `0`, for up to 20 seconds.
pub fn wait_for(db: &TestDatabase, what: &str, sql: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while db.psql(sql).unwrap().trim() == "0" {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
