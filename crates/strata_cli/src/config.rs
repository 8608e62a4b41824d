//! Settings, stage two: flags, `STRATA_*` variables and `strata.toml`, resolved once.
//!
//! Precedence is flag > environment > file > default (clap applies the first two). The file is
//! found by walking up from the working directory, so strata works from any sub-directory of a
//! project, and unknown keys are errors rather than silently ignored typos.

use crate::cli::GlobalArgs;
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;
use strata_source::LayoutKind;

pub use strata_engine::settings::{
    ByteSize, DbTarget, LintConfig, SetSpec, Settings, DEFAULT_GATE_MIN_TABLE_BYTES, DEFAULT_SET,
};

/// `strata.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Database URL. Prefer DATABASE_URL / STRATA_DATABASE_URL for anything with a password.
    pub database_url: Option<String>,
    /// Schema for strata's registry (default `strata`).
    pub registry_schema: Option<String>,
    /// lock_timeout for migration statements (default `5s`).
    pub lock_timeout: Option<String>,
    /// statement_timeout for migration statements (default `0`, none).
    pub statement_timeout: Option<String>,
    /// How long to wait for the migration lock (default `60s`).
    pub lock_wait: Option<String>,
    /// How often a migration that hit lock_timeout is retried (default 5).
    pub lock_retries: Option<u32>,
    /// First delay between such retries, doubling each time with jitter (default `500ms`).
    pub retry_delay: Option<String>,
    /// Allow out-of-order migrations by default.
    pub allow_out_of_order: Option<bool>,
    /// Placeholder values for every set (`${name}`, `{{ index .Options "name" }}`).
    #[serde(default)]
    pub placeholders: std::collections::BTreeMap<String, String>,
    /// The migration sets.
    #[serde(default, rename = "set")]
    pub sets: Vec<SetConfig>,
    /// `[lint]`: the linter's configuration.
    #[serde(default)]
    pub lint: LintConfig,
}

/// One `[[set]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetConfig {
    /// Name; keys the set's history.
    pub name: String,
    /// Migration directory, relative to strata.toml (exactly one of `dir` and `dirs`).
    pub dir: Option<PathBuf>,
    /// Several Flyway locations, relative to strata.toml, merged in version order as Flyway
    /// merges its `locations` (exactly one of `dir` and `dirs`).
    pub dirs: Option<Vec<PathBuf>>,
    /// The schema the set owns (used by `fresh`).
    pub schema: Option<String>,
    /// Force a layout instead of detecting it.
    pub layout: Option<LayoutKind>,
    /// `layout = "pattern"`: the regular expression file names match, with named groups
    /// `version` (required), `name` and `direction`.
    pub pattern: Option<String>,
    /// `layout = "pattern"`: the `direction` of up scripts (default `up`).
    pub up_direction: Option<String>,
    /// `layout = "pattern"`: the `direction` of down scripts (default `down`).
    pub down_direction: Option<String>,
    /// The set's own placeholder syntax, a template around `{name}` such as `/* {name} */`;
    /// it replaces the default syntaxes.
    pub placeholder_syntax: Option<String>,
    /// lock_timeout for this set.
    pub lock_timeout: Option<String>,
    /// statement_timeout for this set.
    pub statement_timeout: Option<String>,
    /// Sample data (an SQL file, relative to strata.toml) that `verify --with-data` loads.
    pub seed: Option<PathBuf>,
    /// Placeholder values for this set (over the top-level ones).
    #[serde(default)]
    pub placeholders: std::collections::BTreeMap<String, String>,
    /// Load the seed right after this version is applied (default: after the last migration).
    pub seed_after: Option<String>,
}

/// `[lint] gate_min_table_size` in bytes (the default when unset).
fn gate_min_table_bytes(lint: &LintConfig) -> Result<u64> {
    match &lint.gate_min_table_size {
        None => Ok(DEFAULT_GATE_MIN_TABLE_BYTES),
        Some(ByteSize::Bytes(n)) => Ok(*n),
        Some(ByteSize::Text(text)) => strata_model::parse_byte_size(text)
            .map_err(anyhow::Error::msg)
            .context("[lint] gate_min_table_size in strata.toml"),
    }
}

/// Parses `5s`, `500ms`, `2min`, `1h`, `0` into milliseconds.
pub fn parse_duration(s: &str) -> Result<u64> {
    strata_model::parse_duration_ms(s).map_err(anyhow::Error::msg)
}

fn pg_duration(s: &str) -> Result<String> {
    Ok(format!("{}ms", parse_duration(s)?))
}

/// Placeholder values: the file's, then the set's, then `--var name=value`.
fn merged_placeholders(
    file: &std::collections::BTreeMap<String, String>,
    set: Option<&std::collections::BTreeMap<String, String>>,
    vars: &[String],
) -> Result<std::collections::BTreeMap<String, String>> {
    let mut out = file.clone();
    if let Some(set) = set {
        out.extend(set.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    for var in vars {
        let (k, v) = var
            .split_once('=')
            .with_context(|| format!("--var `{var}`: write it as name=value"))?;
        out.insert(k.trim().to_owned(), v.to_owned());
    }
    Ok(out)
}

/// What a `[[set]]` adds to the plain directory-and-layout case, checked when the file is
/// read (so a bad pattern is reported before anything loads).
struct SetExtras {
    locations: Vec<PathBuf>,
    pattern: Option<strata_source::PatternLayout>,
    placeholder_syntax: Option<strata_source::PlaceholderSyntax>,
}

/// Checks a `[[set]]`'s keys that depend on each other; `base` is strata.toml's directory.
fn check_set(s: &SetConfig, base: &Path) -> Result<SetExtras> {
    let name = &s.name;
    let locations = match (&s.dir, &s.dirs) {
        (Some(_), Some(_)) => bail!("set `{name}`: `dir` and `dirs` exclude each other; use `dir` for one directory, `dirs` for several Flyway locations"),
        (None, None) => bail!("set `{name}`: give its migration directory with `dir` (or several Flyway locations with `dirs`)"),
        (Some(_), None) => Vec::new(),
        (None, Some(dirs)) => {
            if dirs.is_empty() {
                bail!("set `{name}`: `dirs` is empty; list the Flyway locations, e.g. dirs = [\"db/migration\", \"db/other\"]");
            }
            if s.layout.is_some_and(|l| l != LayoutKind::Flyway) {
                bail!("set `{name}`: `dirs` lists Flyway locations; it cannot be read with layout `{}`", s.layout.map_or("", LayoutKind::as_str));
            }
            let normal: Vec<PathBuf> = dirs.iter().map(|d| normalize(&base.join(d))).collect();
            for (i, a) in normal.iter().enumerate() {
                for (j, b) in normal.iter().enumerate() {
                    if i != j && a.starts_with(b) {
                        bail!(
                            "set `{name}`: location `{}` is {} location `{}`; every file must belong to one location",
                            dirs[i].display(),
                            if a == b { "the same as" } else { "inside" },
                            dirs[j].display()
                        );
                    }
                }
            }
            normal
        }
    };
    let pattern_keys =
        s.pattern.is_some() || s.up_direction.is_some() || s.down_direction.is_some();
    let pattern = match (s.layout, &s.pattern) {
        (Some(LayoutKind::Pattern), Some(p)) => Some(
            strata_source::PatternLayout::new(p, s.up_direction.as_deref(), s.down_direction.as_deref())
                .map_err(|e| anyhow::anyhow!("set `{name}`: {e}"))?,
        ),
        (Some(LayoutKind::Pattern), None) => bail!("set `{name}`: layout \"pattern\" needs `pattern`, a regular expression with a named group `version`, e.g. pattern = '^M(?P<version>\\d+)\\.(?P<name>[a-z_]+)\\.sql$'"),
        _ if pattern_keys => bail!("set `{name}`: `pattern`, `up_direction` and `down_direction` belong to layout = \"pattern\""),
        _ => None,
    };
    let placeholder_syntax = s
        .placeholder_syntax
        .as_deref()
        .map(strata_source::PlaceholderSyntax::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("set `{name}`: {e}"))?;
    Ok(SetExtras {
        locations,
        pattern,
        placeholder_syntax,
    })
}

/// `path` with `.` and `..` resolved lexically (locations may not exist yet when compared).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Finds strata.toml by walking up from `start`.
pub fn find_config(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|d| d.join("strata.toml"))
        .find(|p| p.is_file())
}

/// Loads and parses a config file.
pub fn load_file(path: &Path) -> Result<FileConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    toml::from_str(&text).with_context(|| {
        format!(
            "invalid configuration in {}; see the README's strata.toml reference",
            path.display()
        )
    })
}

/// The nearest ancestor holding `.git` or `strata.toml`.
fn project_root_for(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|d| d.join(".git").exists() || d.join("strata.toml").is_file())
        .map(Path::to_owned)
}

/// What the flags, the environment and strata.toml resolve to: the settings of the run, and
/// the database, which the engine takes as a parameter of each call rather than a setting.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The run's settings.
    pub settings: Settings,
    /// The database.
    pub db: DbTarget,
}

impl std::ops::Deref for Resolved {
    type Target = Settings;
    fn deref(&self) -> &Settings {
        &self.settings
    }
}

/// Resolves settings. `env` looks up environment variables (injectable for tests).
pub fn resolve(
    args: &GlobalArgs,
    cwd: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Resolved> {
    resolve_sets(args, cwd, env, true)
}

/// Like [`resolve`]; with `require_sets` false, no configured set is not an error (for
/// `strata lint <paths>`, which names its own).
pub fn resolve_sets(
    args: &GlobalArgs,
    cwd: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    require_sets: bool,
) -> Result<Resolved> {
    let config_path = match &args.config {
        Some(p) => Some(if p.is_absolute() {
            p.clone()
        } else {
            cwd.join(p)
        }),
        None => find_config(cwd),
    };
    let file = match &config_path {
        Some(p) => load_file(p)?,
        None => FileConfig::default(),
    };
    let base = config_path
        .as_ref()
        .and_then(|p| p.parent().map(Path::to_owned))
        .unwrap_or_else(|| cwd.to_owned());
    let marker_root = if config_path.is_some() {
        Some(base.clone())
    } else {
        project_root_for(cwd)
    };
    let project_root = marker_root.clone().unwrap_or_else(|| cwd.to_owned());

    let lock_timeout = args
        .lock_timeout
        .clone()
        .or(file.lock_timeout.clone())
        .unwrap_or_else(|| "5s".into());
    let statement_timeout = args
        .statement_timeout
        .clone()
        .or(file.statement_timeout.clone())
        .unwrap_or_else(|| "0".into());
    let forced_layout = match &args.layout {
        Some(l) => Some(LayoutKind::from_name(l).with_context(|| {
            let names: Vec<&str> = LayoutKind::names().collect();
            format!("unknown layout `{l}`; use one of {}", names.join(", "))
        })?),
        None => None,
    };
    let extras = file
        .sets
        .iter()
        .map(|s| check_set(s, &base))
        .collect::<Result<Vec<_>>>()?;
    let extras_of = |s: &SetConfig| {
        let i = file
            .sets
            .iter()
            .position(|x| std::ptr::eq(x, s))
            .expect("a set of the file");
        &extras[i]
    };

    // A `[[set]]` from the file (flags still win over its timeouts and layout).
    let configured_spec = |s: &SetConfig, dir: PathBuf| -> Result<SetSpec> {
        let extra = extras_of(s);
        let layout = forced_layout.or(s.layout);
        if !extra.locations.is_empty() && layout.is_some_and(|l| l != LayoutKind::Flyway) {
            bail!(
                "set `{}` lists Flyway locations (`dirs`); --layout cannot read it another way",
                s.name
            );
        }
        Ok(SetSpec {
            name: s.name.clone(),
            named: true,
            dir,
            locations: extra.locations.clone(),
            schema: s.schema.clone(),
            // A forced layout other than the set's own pattern drops the pattern.
            pattern: extra
                .pattern
                .clone()
                .filter(|_| layout == Some(LayoutKind::Pattern)),
            placeholder_syntax: extra.placeholder_syntax.clone(),
            layout,
            lock_timeout: pg_duration(
                args.lock_timeout
                    .as_deref()
                    .or(s.lock_timeout.as_deref())
                    .unwrap_or(&lock_timeout),
            )?,
            statement_timeout: pg_duration(
                args.statement_timeout
                    .as_deref()
                    .or(s.statement_timeout.as_deref())
                    .unwrap_or(&statement_timeout),
            )?,
            seed: s.seed.as_ref().map(|p| base.join(p)),
            seed_after: s.seed_after.clone(),
            placeholders: merged_placeholders(
                &file.placeholders,
                Some(&s.placeholders),
                &args.vars,
            )?,
            listing: None,
        })
    };
    // A directory no `[[set]]` describes: named by --set, else the fixed default key.
    let unconfigured_spec = |dir: PathBuf| -> Result<SetSpec> {
        Ok(SetSpec {
            name: args.set.clone().unwrap_or_else(|| DEFAULT_SET.to_owned()),
            named: args.set.is_some(),
            dir,
            locations: Vec::new(),
            schema: None,
            pattern: None,
            placeholder_syntax: None,
            layout: forced_layout,
            lock_timeout: pg_duration(&lock_timeout)?,
            statement_timeout: pg_duration(&statement_timeout)?,
            seed: None,
            seed_after: None,
            placeholders: merged_placeholders(&file.placeholders, None, &args.vars)?,
            listing: None,
        })
    };
    let sets = if let Some(dir) = &args.dir {
        let dir = if dir.is_absolute() {
            dir.clone()
        } else {
            cwd.join(dir)
        };
        let canonical = std::fs::canonicalize(&dir).ok();
        // One location of a set kept in several would be a different set of migrations under
        // the same history: refused, naming the set to use instead.
        if let Some(s) = file.sets.iter().find(|s| {
            canonical.is_some()
                && extras_of(s)
                    .locations
                    .iter()
                    .any(|l| std::fs::canonicalize(l).ok() == canonical)
        }) {
            bail!(
                "--dir {} is one of the Flyway locations of set `{}`; the set is all its locations together: use --set {} instead",
                dir.display(),
                s.name,
                s.name
            );
        }
        // `--dir` naming a configured set's directory is that set: same name, same history.
        let configured = file.sets.iter().find(|s| {
            canonical.is_some()
                && s.dir
                    .as_ref()
                    .is_some_and(|d| std::fs::canonicalize(base.join(d)).ok() == canonical)
                && args.set.as_ref().is_none_or(|n| *n == s.name)
        });
        match configured {
            Some(s) => vec![configured_spec(s, dir)?],
            None => vec![unconfigured_spec(dir)?],
        }
    } else if !file.sets.is_empty() {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for s in &file.sets {
            if s.name == DEFAULT_SET {
                bail!("set name `{DEFAULT_SET}` in {} is the key of the unnamed set (a --dir or migrations/ without a name); choose another name so the two never share a history", config_path.as_ref().map(|p| p.display().to_string()).unwrap_or_default());
            }
            if !seen.insert(s.name.clone()) {
                bail!("set `{}` is defined twice in {}; set names key their history and must be unique", s.name, config_path.as_ref().map(|p| p.display().to_string()).unwrap_or_default());
            }
            if args.set.as_ref().is_some_and(|want| want != &s.name) {
                continue;
            }
            // A set of several locations reads them relative to strata.toml's directory.
            let dir = s
                .dir
                .as_ref()
                .map_or_else(|| base.clone(), |d| base.join(d));
            out.push(configured_spec(s, dir)?);
        }
        if out.is_empty() {
            let names: Vec<&str> = file.sets.iter().map(|s| s.name.as_str()).collect();
            bail!(
                "no set named `{}`; configured sets: {}",
                args.set.clone().unwrap_or_default(),
                names.join(", ")
            );
        }
        out
    } else if cwd.join("migrations").is_dir() {
        vec![unconfigured_spec(cwd.join("migrations"))?]
    } else if !require_sets {
        Vec::new()
    } else {
        bail!("no migration set configured: pass --dir <DIR>, create a strata.toml with a [[set]] entry, or run strata where a `migrations/` directory exists");
    };

    // Flag or STRATA_DATABASE_URL, then DATABASE_URL, then the libpq variables, then the file:
    // the environment outranks strata.toml.
    let libpq_env = ["PGHOST", "PGHOSTADDR", "PGDATABASE", "PGSERVICE", "PGPORT"]
        .iter()
        .any(|v| env(v).is_some());
    let db = match (
        args.database_url.clone().or_else(|| env("DATABASE_URL")),
        libpq_env,
        file.database_url.clone(),
    ) {
        (Some(url), _, _) => DbTarget::Url(url),
        (None, true, _) => DbTarget::LibpqEnv,
        (None, false, Some(url)) => DbTarget::Url(url),
        (None, false, None) => DbTarget::Dev,
    };
    let registry_schema = args
        .registry_schema
        .clone()
        .or(file.registry_schema.clone())
        .unwrap_or_else(|| "strata".into());
    if registry_schema.is_empty() || registry_schema == "public" {
        bail!("registry_schema `{registry_schema}` is not allowed: strata keeps its history out of `public`, which migration sets drop and recreate");
    }
    let lock_wait = Duration::from_millis(parse_duration(
        args.lock_wait
            .as_deref()
            .or(file.lock_wait.as_deref())
            .unwrap_or("60s"),
    )?);
    let lock_retries = args.lock_retries.or(file.lock_retries).unwrap_or(5);
    let retry_delay = Duration::from_millis(parse_duration(
        args.retry_delay
            .as_deref()
            .or(file.retry_delay.as_deref())
            .unwrap_or("500ms"),
    )?);
    let settings = Settings {
        gate_min_table_bytes: gate_min_table_bytes(&file.lint)?,
        placeholders: merged_placeholders(&file.placeholders, None, &args.vars)?,
        lint: file.lint.clone(),
        lock_retries,
        retry_delay,
        sets,
        registry_schema,
        lock_wait,
        json: args.json,
        quiet: args.quiet,
        allow_out_of_order: args.allow_out_of_order || file.allow_out_of_order.unwrap_or(false),
        declared_schemas: file.sets.iter().filter_map(|s| s.schema.clone()).collect(),
        schemaless_sets: file
            .sets
            .iter()
            .filter(|s| s.schema.is_none())
            .map(|s| s.name.clone())
            .collect(),
        project_root,
        configured_sets: file.sets.iter().map(|s| s.name.clone()).collect(),
        ignore_foreign: false,
        file_cache: true,
    };
    Ok(Resolved { settings, db })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn dir_of_a_configured_set_is_that_set() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("svc/auth/db")).unwrap();
        std::fs::write(
            tmp.path().join("strata.toml"),
            "registry_schema = \"history\"\nlock_timeout = \"2s\"\n[[set]]\nname = \"auth\"\ndir = \"svc/auth/db\"\nschema = \"auth_schema\"\n",
        )
        .unwrap();
        let args = GlobalArgs {
            dir: Some("svc/auth/db".into()),
            ..Default::default()
        };
        let settings = resolve(&args, tmp.path(), &no_env).unwrap();
        assert_eq!(settings.sets[0].name, "auth");
        assert_eq!(settings.sets[0].schema.as_deref(), Some("auth_schema"));
        assert_eq!(settings.sets[0].lock_timeout, "2000ms");
        assert_eq!(
            settings.registry_schema, "history",
            "file settings apply with --dir too"
        );
        let args = GlobalArgs {
            dir: Some("svc".into()),
            ..Default::default()
        };
        let unconfigured = resolve(&args, tmp.path(), &no_env).unwrap();
        assert_eq!(unconfigured.sets[0].name, DEFAULT_SET);
        assert!(!unconfigured.sets[0].named);
        assert_eq!(unconfigured.configured_sets, vec!["auth".to_owned()]);
    }

    #[test]
    fn environment_outranks_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("m")).unwrap();
        std::fs::write(
            tmp.path().join("strata.toml"),
            "database_url = \"postgres://file/db\"\n[[set]]\nname = \"m\"\ndir = \"m\"\n",
        )
        .unwrap();
        let with_pghost = |k: &str| (k == "PGHOST").then(|| "envhost".to_owned());
        let s = resolve(&GlobalArgs::default(), tmp.path(), &with_pghost).unwrap();
        assert!(matches!(s.db, DbTarget::LibpqEnv));
        let s = resolve(&GlobalArgs::default(), tmp.path(), &no_env).unwrap();
        assert!(matches!(s.db, DbTarget::Url(ref u) if u == "postgres://file/db"));
        let args = GlobalArgs {
            database_url: Some("postgres://flag/db".into()),
            ..Default::default()
        };
        assert!(
            matches!(resolve(&args, tmp.path(), &with_pghost).unwrap().db, DbTarget::Url(ref u) if u == "postgres://flag/db")
        );
    }

    #[test]
    fn unnamed_sets_have_one_key_wherever_the_files_are() {
        let tmp = tempfile::tempdir().unwrap();
        for (root, dir) in [
            (tmp.path().join("repo"), "app/migrations"),
            (tmp.path().join("elsewhere/copy"), "migrations"),
            (tmp.path().join("x"), "db/sql"),
        ] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
            let args = GlobalArgs {
                dir: Some(dir.into()),
                ..Default::default()
            };
            let s = resolve(&args, &root, &no_env).unwrap();
            assert_eq!(
                (s.sets[0].name.as_str(), s.sets[0].named),
                (DEFAULT_SET, false)
            );
        }
        // The `migrations/` directory found without --dir is the same unnamed set.
        let root = tmp.path().join("elsewhere/copy");
        let s = resolve(&GlobalArgs::default(), &root, &no_env).unwrap();
        assert_eq!(s.sets[0].name, DEFAULT_SET);
        // --set names it.
        let args = GlobalArgs {
            set: Some("billing".into()),
            ..Default::default()
        };
        let s = resolve(&args, &root, &no_env).unwrap();
        assert_eq!(
            (s.sets[0].name.as_str(), s.sets[0].named),
            ("billing", true)
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s").unwrap(), 5000);
        assert_eq!(parse_duration("500ms").unwrap(), 500);
        assert_eq!(parse_duration("2min").unwrap(), 120_000);
        assert_eq!(parse_duration("0").unwrap(), 0);
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("5").is_err());
    }

    #[test]
    fn gate_min_table_size_takes_units_or_bytes() {
        let parse = |text: &str| -> Result<u64> {
            let file: FileConfig = toml::from_str(text)?;
            gate_min_table_bytes(&file.lint)
        };
        assert_eq!(parse("").unwrap(), 10 << 20);
        assert_eq!(
            parse("[lint]\ngate_min_table_size = \"500kB\"\n").unwrap(),
            500 << 10
        );
        assert_eq!(
            parse("[lint]\ngate_min_table_size = \"1GB\"\n").unwrap(),
            1 << 30
        );
        assert_eq!(parse("[lint]\ngate_min_table_size = 4096\n").unwrap(), 4096);
        let bad = parse("[lint]\ngate_min_table_size = \"10 parsecs\"\n").unwrap_err();
        assert!(
            format!("{bad:#}").contains("gate_min_table_size"),
            "{bad:#}"
        );
    }

    #[test]
    fn reference_config_parses_and_rejects_unknown_keys() {
        for example in [
            "coupons-flyway",
            "echo-backend",
            "audit-psql",
            "marketplace",
            "laravel-cmis",
        ] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../examples")
                .join(example)
                .join("strata.toml");
            let parsed = load_file(&path).unwrap();
            assert!(!parsed.sets.is_empty(), "{example}");
        }
        let bad: Result<FileConfig, _> = toml::from_str("lock_timeot = \"5s\"\n");
        assert!(bad.unwrap_err().to_string().contains("unknown field"));
    }

    #[test]
    fn sets_of_locations_patterns_and_placeholder_syntaxes_are_checked_on_load() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("db/migration")).unwrap();
        std::fs::create_dir_all(tmp.path().join("db/other")).unwrap();
        let resolve_with = |toml: &str, args: &GlobalArgs| {
            std::fs::write(tmp.path().join("strata.toml"), toml).unwrap();
            resolve(args, tmp.path(), &no_env)
        };
        let error = |toml: &str| {
            format!(
                "{:#}",
                resolve_with(toml, &GlobalArgs::default()).unwrap_err()
            )
        };
        let s = resolve_with(
            "[[set]]\nname = \"app\"\ndirs = [\"db/migration\", \"./db/other\"]\n",
            &GlobalArgs::default(),
        )
        .unwrap();
        assert_eq!(s.sets[0].dir, tmp.path());
        assert_eq!(
            s.sets[0].locations,
            [tmp.path().join("db/migration"), tmp.path().join("db/other")]
        );
        // --dir naming one location is refused: the set is all of them.
        let one = GlobalArgs {
            dir: Some("db/other".into()),
            ..Default::default()
        };
        let err = resolve_with(
            "[[set]]\nname = \"app\"\ndirs = [\"db/migration\", \"db/other\"]\n",
            &one,
        )
        .unwrap_err();
        assert!(err.to_string().contains("use --set app"), "{err}");
        for (toml, phrase) in [
            ("[[set]]\nname = \"a\"\ndir = \"db\"\ndirs = [\"db/other\"]\n", "exclude each other"),
            ("[[set]]\nname = \"a\"\n", "give its migration directory"),
            ("[[set]]\nname = \"a\"\ndirs = []\n", "`dirs` is empty"),
            ("[[set]]\nname = \"a\"\ndirs = [\"db\", \"db/other\"]\n", "location `db/other` is inside location `db`"),
            ("[[set]]\nname = \"a\"\ndirs = [\"db/other\"]\nlayout = \"updown\"\n", "cannot be read with layout `updown`"),
            ("[[set]]\nname = \"a\"\ndir = \"db\"\nlayout = \"pattern\"\n", "needs `pattern`"),
            ("[[set]]\nname = \"a\"\ndir = \"db\"\nlayout = \"pattern\"\npattern = '^(?P<name>\\w+)\\.sql$'\n", "set `a`: `pattern` has no group named `version`"),
            ("[[set]]\nname = \"a\"\ndir = \"db\"\nlayout = \"pattern\"\npattern = '^(?P<version>\\d+'\n", "not a valid regular expression"),
            ("[[set]]\nname = \"a\"\ndir = \"db\"\npattern = '^(?P<version>\\d+)\\.sql$'\n", "belong to layout = \"pattern\""),
            ("[[set]]\nname = \"a\"\ndir = \"db\"\nplaceholder_syntax = \"/* name */\"\n", "set `a`: placeholder_syntax `/* name */` has no `{name}`"),
        ] {
            let err = error(toml);
            assert!(err.contains(phrase), "{toml}: {err}");
        }
        let s = resolve_with(
            "[[set]]\nname = \"a\"\ndir = \"db/migration\"\nlayout = \"pattern\"\npattern = '^M(?P<version>\\d+)\\.(?P<name>[a-z_]+)\\.(?P<direction>forward|backward)\\.sql$'\nup_direction = \"forward\"\ndown_direction = \"backward\"\nplaceholder_syntax = \"/* {name} */\"\n",
            &GlobalArgs::default(),
        )
        .unwrap();
        assert!(s.sets[0].pattern.is_some() && s.sets[0].placeholder_syntax.is_some());
    }
}
