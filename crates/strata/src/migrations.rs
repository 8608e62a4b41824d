//! A migration set held in memory: read once from a directory, or compiled into the binary by
//! [`crate::embed!`]. Either way the engine loads it from memory, so what runs is exactly what
//! was read (a file changed on disk mid-run changes nothing) and an embedded set needs no
//! directory at run time.

use crate::Error;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use strata_source::{LayoutKind, Listing};

/// One migration set: its files, its layout, and the name its history is kept under.
#[derive(Debug, Clone)]
pub struct Migrations {
    pub(crate) name: String,
    pub(crate) named: bool,
    pub(crate) dir: PathBuf,
    pub(crate) listing: Arc<Listing>,
    pub(crate) layout: LayoutKind,
    pub(crate) schema: Option<String>,
    pub(crate) placeholders: BTreeMap<String, String>,
    /// What the build found (embedded sets only).
    embedded: Option<Embedded>,
    /// The embedded check's answer once made (`None` inside: the set is as built), shared by
    /// the clones of this value.
    checked: Arc<OnceLock<Option<String>>>,
}

/// What `embed!` computed at build time, checked when an embedded set loads.
#[derive(Debug, Clone, Copy)]
struct Embedded {
    /// The layout the build detected, by name.
    layout: &'static str,
    /// Each migration's key and checksum.
    checksums: &'static [(&'static str, &'static str)],
}

/// One migration of a set, as [`Migrations::list`] shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MigrationInfo {
    /// The key its history row is recorded under (`20240101120000`, `V2`, `0010_add_index`).
    pub key: String,
    /// Its version as the file spells it; `None` for a repeatable migration.
    pub version: Option<String>,
    /// Its name (the file name's description part).
    pub name: String,
    /// Its up script's file.
    pub path: PathBuf,
    /// The checksum strata records (SHA-256 of the script, line endings normalised), in hex.
    pub checksum: String,
}

impl Migrations {
    /// Reads the migration set in `dir` into memory and checks it: the layout is detected as
    /// the `strata` command detects it, and every problem of every file is reported at once
    /// (an error naming the files). The history is kept under the name `default`, as the
    /// command keeps a directory's; [`Migrations::named`] gives it another.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// std::fs::write(dir.path().join("001_users.up.sql"), "CREATE TABLE users (id int);")?;
    /// std::fs::write(dir.path().join("001_users.down.sql"), "DROP TABLE users;")?;
    /// let migrations = strata::Migrations::from_dir(dir.path())?;
    /// assert_eq!(migrations.layout(), "updown");
    /// assert_eq!(migrations.list()?[0].name, "users");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Migrations, Error> {
        let dir = dir.as_ref();
        let read = |e| Error::ReadDir {
            dir: dir.to_owned(),
            source: e,
        };
        let mut listing = Listing::read(dir).map_err(read)?;
        listing.read_deferred().map_err(read)?;
        let set = strata_source::load_listing(&listing, None)?;
        Ok(Migrations {
            name: strata_engine::settings::DEFAULT_SET.to_owned(),
            named: false,
            dir: dir.to_owned(),
            listing: Arc::new(listing),
            layout: set.detection.layout,
            schema: None,
            placeholders: BTreeMap::new(),
            embedded: None,
            checked: Arc::default(),
        })
    }

    /// What [`crate::embed!`] expands to; not for direct use.
    #[doc(hidden)]
    pub fn __embedded(
        dir: &'static str,
        layout: &'static str,
        files: &'static [(&'static str, &'static [u8])],
        checksums: &'static [(&'static str, &'static str)],
    ) -> Migrations {
        Migrations {
            name: strata_engine::settings::DEFAULT_SET.to_owned(),
            named: false,
            dir: PathBuf::from(dir),
            listing: Arc::new(Listing::from_memory(dir, files)),
            // An unknown name can only come from another version of the macro: the check
            // against what the build found reports it before anything runs.
            layout: LayoutKind::from_name(layout).unwrap_or(LayoutKind::Plain),
            schema: None,
            placeholders: BTreeMap::new(),
            embedded: Some(Embedded { layout, checksums }),
            checked: Arc::default(),
        }
    }

    /// The name the set's history is kept under (the `strata` command's `--set`, or a
    /// `[[set]] name` in strata.toml). Give each set of one database its own name.
    ///
    /// ```
    /// let migrations = strata::embed!("../../examples/embedded/migrations").named("orders");
    /// assert_eq!(migrations.name(), "orders");
    /// ```
    pub fn named(mut self, name: impl Into<String>) -> Migrations {
        self.name = name.into();
        self.named = true;
        self
    }

    /// The schema the set owns (`[[set]] schema`): the history of sets sharing a database is
    /// told apart by set name; the schema tells strata which objects are this set's.
    ///
    /// ```
    /// let migrations = strata::embed!("../../examples/embedded/migrations").in_schema("orders");
    /// assert_eq!(migrations.schema(), Some("orders"));
    /// ```
    pub fn in_schema(mut self, schema: impl Into<String>) -> Migrations {
        self.schema = Some(schema.into());
        self
    }

    /// A placeholder value (`${name}` in Flyway scripts, `{{ .name }}` in templates), as
    /// `strata --var name=value` gives one.
    ///
    /// ```
    /// let migrations = strata::embed!("../../examples/embedded/migrations")
    ///     .with_placeholder("owner", "app");
    /// # drop(migrations);
    /// ```
    pub fn with_placeholder(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.placeholders.insert(name.into(), value.into());
        self
    }

    /// The set's name (see [`Migrations::named`]).
    ///
    /// ```
    /// assert_eq!(strata::embed!("../../examples/embedded/migrations").name(), "default");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The schema the set owns, if one was given (see [`Migrations::in_schema`]).
    ///
    /// ```
    /// assert_eq!(strata::embed!("../../examples/embedded/migrations").schema(), None);
    /// ```
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// The layout the files were read in (`updown`, `flyway`, `dbmate`, `goose`, `sqitch`,
    /// `diesel`, `prisma`, `plain`).
    ///
    /// ```
    /// assert_eq!(strata::embed!("../../examples/embedded/migrations").layout(), "updown");
    /// ```
    pub fn layout(&self) -> &'static str {
        self.layout.as_str()
    }

    /// The migrations, in the order `migrate` applies them.
    ///
    /// ```
    /// let list = strata::embed!("../../examples/embedded/migrations").list()?;
    /// assert_eq!(list[0].key, "001");
    /// assert_eq!(list[1].name, "orders");
    /// # Ok::<(), strata::Error>(())
    /// ```
    pub fn list(&self) -> Result<Vec<MigrationInfo>, Error> {
        let set = self.load()?;
        Ok(set
            .migrations
            .iter()
            .map(|m| MigrationInfo {
                key: m.id.registry_key(),
                version: m.id.version.as_ref().map(|v| v.as_str().to_owned()),
                name: m.id.name.clone(),
                path: m.path().to_owned(),
                checksum: m.checksum.hex.clone(),
            })
            .collect())
    }

    /// Loads the set from memory; an embedded one must load as it did at build time.
    pub(crate) fn load(&self) -> Result<strata_source::MigrationSet, Error> {
        let set = strata_source::load_listing(&self.listing, Some(self.layout))?;
        if let Some(embedded) = self.embedded {
            self.remember_check(|| self.differences(&set, embedded))?;
        }
        Ok(set)
    }

    /// Makes sure, once per set, that it loads as the build found it: a set read by
    /// [`Migrations::from_dir`] was checked when read; an embedded one is loaded and compared
    /// with its build's checksums the first time a call needs it, and the answer kept, so a
    /// migrator called at every start-up or health check does not load its sets twice a call.
    pub(crate) fn check(&self) -> Result<(), Error> {
        let Some(embedded) = self.embedded else {
            return Ok(());
        };
        self.remember_check(|| {
            match strata_source::load_listing(&self.listing, Some(self.layout)) {
                Ok(set) => self.differences(&set, embedded),
                Err(e) => Some(e.to_string()),
            }
        })
    }

    /// The outcome of the embedded check, computed by `compare` the first time.
    fn remember_check(&self, compare: impl FnOnce() -> Option<String>) -> Result<(), Error> {
        match self.checked.get_or_init(compare) {
            None => Ok(()),
            Some(message) => Err(Error::Embedded {
                dir: self.dir.display().to_string(),
                message: message.clone(),
            }),
        }
    }

    /// How `set` differs from what the build found (layout, migrations, keys, checksums).
    fn differences(&self, set: &strata_source::MigrationSet, embedded: Embedded) -> Option<String> {
        if self.layout.as_str() != embedded.layout {
            return Some(format!(
                "the build read the files in layout `{}`, which this library does not know",
                embedded.layout
            ));
        }
        let expected = embedded.checksums;
        if set.migrations.len() != expected.len() {
            return Some(format!(
                "the build found {} migration(s), this library finds {}",
                expected.len(),
                set.migrations.len()
            ));
        }
        set.migrations
            .iter()
            .zip(expected)
            .find_map(|(m, (key, checksum))| {
                let found = m.id.registry_key();
                (found != *key || m.checksum.hex != *checksum).then(|| {
                    format!(
                        "migration {found} (checksum {}) was {key} (checksum {checksum}) when compiled",
                        m.checksum.hex
                    )
                })
            })
    }

    /// The engine's description of the set.
    pub(crate) fn spec(&self, timeouts: &crate::migrator::Timeouts) -> strata_engine::SetSpec {
        strata_engine::SetSpec {
            name: self.name.clone(),
            named: self.named,
            dir: self.dir.clone(),
            locations: Vec::new(),
            schema: self.schema.clone(),
            layout: Some(self.layout),
            pattern: None,
            placeholder_syntax: None,
            lock_timeout: format!("{}ms", timeouts.lock_timeout.as_millis()),
            statement_timeout: format!("{}ms", timeouts.statement_timeout.as_millis()),
            seed: None,
            seed_after: None,
            placeholders: self.placeholders.clone(),
            listing: Some(self.listing.clone()),
        }
    }
}
