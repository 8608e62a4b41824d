//! `squash --to V`: replace the migrations up to V with one baseline generated from the schema
//! they produce.
//!
//! The baseline is proven equal (the same catalog snapshot) before anything on disk changes:
//! [`prepare`] builds and proves it on throwaway databases and changes nothing; [`apply`]
//! archives the old files and writes the baseline. Databases that applied the old migrations
//! keep working (the baseline's `-- strata:squashed-baseline` directive covers them) and new
//! ones apply the baseline. The old files move to an archive folder beside the set's directory.

use crate::ctx::Ctx;
use crate::error::EngineError;
use crate::load::{self, LoadedSet};
use crate::plan::apply_step;
use crate::schema::snapshot_of;
use crate::scratch::{self, Scratch};
use crate::settings::Settings;
use crate::verify::replay_set;
use std::path::PathBuf;
use strata_model::{MigrationId, MigrationKind, Version};
use strata_pg::{Registry, Session};

/// A baseline proven to produce the schema of the migrations it replaces, and what writing it
/// changes on disk.
#[derive(Debug)]
pub struct Squash {
    /// The set.
    pub set: String,
    /// How many migrations it replaces.
    pub replaces: usize,
    /// The last of them (version V).
    pub last: MigrationId,
    /// The baseline file, relative to the set's directory.
    pub file: PathBuf,
    /// Its content.
    pub content: String,
    /// How many objects the schema has.
    pub objects: usize,
    /// The files and directories (directly in the set's directory) that move to the archive.
    pub moves: Vec<PathBuf>,
    /// The archive folder, beside the set's directory.
    pub archive: PathBuf,
    /// The set's directory.
    pub dir: PathBuf,
}

/// Runs `indices` of `set` on a new database behind `session`.
async fn apply_all(
    session: &mut Session,
    settings: &Settings,
    set: &LoadedSet,
    indices: &[usize],
) -> Result<(), EngineError> {
    let registry = Registry::new(&settings.registry_schema);
    registry.ensure(session).await?;
    let steps = indices
        .iter()
        .map(|&i| apply_step(set.migrations(), i))
        .collect();
    let replayed = scratch::ReplaySet {
        statement_timeout: "0",
        ..replay_set(set)
    };
    scratch::replay(session, &registry, replayed, steps)
        .await
        .map_err(|source| EngineError::Replay {
            set: set.spec.name.clone(),
            source,
        })
}

/// `pg_dump --schema-only` of a scratch database, without the registry, owners or psql
/// meta-commands, as plain SQL strata can run.
fn dump(
    cluster: &strata_ephemeral::TempCluster,
    db: &str,
    registry_schema: &str,
) -> Result<String, EngineError> {
    let out = std::process::Command::new(cluster.binaries().tool("pg_dump"))
        .args([
            "--schema-only",
            "--no-owner",
            "--no-comments",
            "--exclude-schema",
            registry_schema,
            "-d",
            &cluster.url(db),
        ])
        .output()
        .map_err(|source| EngineError::PgDumpNotRun { source })?;
    if !out.status.success() {
        return Err(EngineError::PgDumpFailed {
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    let text =
        String::from_utf8(out.stdout).map_err(|source| EngineError::PgDumpNotUtf8 { source })?;
    // Newer pg_dump versions bracket the dump in psql `\restrict` meta-commands.
    Ok(text
        .lines()
        .filter(|l| !l.starts_with('\\'))
        .collect::<Vec<_>>()
        .join("\n"))
}

/// A new temporary directory for the probe of the baseline file.
fn tempfile_dir() -> Result<PathBuf, EngineError> {
    let dir = std::env::temp_dir().join(format!(
        "strata-squash-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The squashed scripts, concatenated (without their `strata:` directives, with one
/// `no-transaction` directive if any of them had one): the same statements give the same
/// schema, where a dump may not.
fn concatenated(set: &LoadedSet, squashed: &[usize]) -> String {
    let mut text = String::new();
    let mut non_transactional = false;
    for &i in squashed {
        let m = &set.migrations()[i];
        non_transactional |=
            m.up.directives
                .iter()
                .any(|d| d.kind == strata_model::DirectiveKind::NoTransaction);
        text.push_str(&format!(
            "\n-- from {}\n",
            m.path()
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ));
        for line in m.up.sql().lines() {
            if !line.trim_start().starts_with("-- strata:") {
                text.push_str(line.trim_end_matches('\r'));
                text.push('\n');
            }
        }
    }
    if non_transactional {
        text.insert_str(0, "-- strata:no-transaction\n");
    }
    text
}

/// Builds the baseline replacing the selected set's migrations up to version `to`, and proves
/// it on throwaway databases: the migrations' schema, then the baseline file exactly as it will
/// be written, loaded and run the way `strata up` runs it on a new database. Nothing on disk
/// changes. The baseline is `pg_dump`'s output when that restores the same schema; otherwise
/// the squashed scripts, concatenated, and `fallback` is told why.
pub async fn prepare(
    ctx: &Ctx,
    to: &str,
    fallback: &mut impl FnMut(&str),
) -> Result<Squash, EngineError> {
    let settings = &ctx.settings;
    let sets = load::load_sets(settings)?;
    let [set] = sets.as_slice() else {
        return Err(EngineError::OneSet {
            what: "squash works on one set",
        });
    };
    let layout = strata_source::layout_for(set.set.detection.layout);
    // Asked before any work: a layout whose files strata cannot write says so first.
    if let Err(why) = layout.squashed_file("0", "squashed_baseline", "") {
        return Err(EngineError::LayoutCannotWrite {
            set: set.spec.name.clone(),
            why,
        });
    }
    if !set.spec.locations.is_empty() {
        return Err(EngineError::SquashLocations {
            set: set.spec.name.clone(),
        });
    }
    let goal = Version::parse_user(to)?;
    let squashed: Vec<usize> = set
        .migrations()
        .iter()
        .enumerate()
        .filter(|(_, m)| {
            m.kind == MigrationKind::Versioned && m.id.version.as_ref().is_some_and(|v| *v <= goal)
        })
        .map(|(i, _)| i)
        .collect();
    let Some(&last) = squashed.last() else {
        return Err(EngineError::SquashNothing {
            set: set.spec.name.clone(),
            to: to.to_owned(),
        });
    };
    let last_m = &set.migrations()[last];
    if !last_m.id.version.as_ref().is_some_and(|v| v.same_as(&goal)) {
        return Err(EngineError::SquashNoSuchVersion { to: to.to_owned() });
    }
    let version = last_m.id.version.clone().expect("versioned").to_string();
    // pg_dump runs against our own throwaway cluster.
    let scratch = Scratch::new(None)?;
    let Scratch::Cluster(cluster) = &scratch else {
        unreachable!("Scratch::new(None) starts a cluster")
    };
    // 1. What the migrations produce.
    let old_db = scratch.create_database("squash_old").await?;
    let mut session = Session::connect(&old_db.info).await?;
    apply_all(&mut session, settings, set, &squashed).await?;
    let expected = snapshot_of(&session, settings).await?;
    let dumped = dump(cluster, &old_db.name, &settings.registry_schema)?;
    drop(session);
    // 2. What the dump produces: it must be the same schema. PostgreSQL re-parses some
    // expressions differently after a dump and restore (casts in `IN (...)` lists of varchar
    // columns, for instance); then the dump is not an exact baseline, and the squashed scripts
    // themselves, concatenated, are used instead: the same statements, the same schema.
    let new_db = scratch.create_database("squash_new").await?;
    let session = Session::connect(&new_db.info).await?;
    let dump_applies = session.run_script(&dumped).await.is_ok();
    let _ = session.run_script("RESET search_path").await;
    let from_dump = if dump_applies {
        Some(snapshot_of(&session, settings).await?)
    } else {
        None
    };
    drop(session);
    let (source, baseline_sql) = match from_dump.map(|p| expected.diff(&p)) {
        Some(d) if d.is_empty() => ("pg_dump of the schema they produce", dumped),
        other => {
            let why = match other {
                Some(d) => format!(
                    "pg_dump's output restores {} object(s) differently ({})",
                    d.len(),
                    d.first()
                        .map(|x| x.to_string().lines().next().unwrap_or("").to_owned())
                        .unwrap_or_default()
                ),
                None => "pg_dump's output does not apply".to_owned(),
            };
            fallback(&why);
            (
                "the squashed scripts, concatenated",
                concatenated(set, &squashed),
            )
        }
    };
    let first = set.migrations()[squashed[0]].id.to_string();
    let header = format!(
        "-- strata:squashed-baseline\n-- Replaces the {} migration(s) {first} .. {} (archived next to this directory);\n-- generated by `strata squash` from {source}; its schema was checked equal.\n",
        squashed.len(),
        last_m.id
    );
    let body = format!("{header}{baseline_sql}\n");
    let strata_source::NewFile { rel, content } = layout
        .squashed_file(&version, "squashed_baseline", &body)
        .map_err(|why| EngineError::LayoutCannotWrite {
            set: set.spec.name.clone(),
            why,
        })?;
    // 3. The baseline file exactly as it will be written, loaded and run the way `strata up`
    // will run it on a new database, must produce the same schema.
    let probe_dir = tempfile_dir()?;
    let probe_path = probe_dir.join(&rel);
    std::fs::create_dir_all(probe_path.parent().expect("a parent"))?;
    std::fs::write(&probe_path, &content)?;
    let probe_set = strata_source::load_dir(&probe_dir, Some(set.set.detection.layout))?;
    let probe = LoadedSet {
        spec: set.spec.clone(),
        set: probe_set,
    };
    let check_db = scratch.create_database("squash_check").await?;
    let mut session = Session::connect(&check_db.info).await?;
    apply_all(&mut session, settings, &probe, &[0])
        .await
        .map_err(|e| EngineError::BaselineDoesNotApply {
            source: Box::new(e),
        })?;
    let produced = snapshot_of(&session, settings).await?;
    drop(session);
    let _ = std::fs::remove_dir_all(&probe_dir);
    let differences = expected.diff(&produced);
    if !differences.is_empty() {
        return Err(EngineError::BaselineDiffers { differences });
    }
    let archive = set.set.dir.with_file_name(format!(
        "{}.squashed-{version}",
        set.set
            .dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "migrations".into())
    ));
    let mut moves: Vec<PathBuf> = Vec::new();
    for &i in &squashed {
        let m = &set.migrations()[i];
        for path in std::iter::once(m.up.file.path()).chain(m.down.as_ref().map(|d| d.file.path()))
        {
            let rel_path = path.strip_prefix(&set.set.dir).unwrap_or(path);
            let top = set.set.dir.join(
                rel_path
                    .components()
                    .next()
                    .expect("a file has a name")
                    .as_os_str(),
            );
            if !moves.contains(&top) {
                moves.push(top);
            }
        }
    }
    // Best effort: the cluster, and with it every database, goes when `scratch` is dropped.
    for db in [&check_db, &old_db, &new_db] {
        let _ = scratch.drop_database(db).await;
    }
    Ok(Squash {
        set: set.spec.name.clone(),
        replaces: squashed.len(),
        last: last_m.id.clone(),
        file: rel,
        content,
        objects: expected.objects.len(),
        moves,
        archive,
        dir: set.set.dir.clone(),
    })
}

/// Writes a [`prepare`]d squash: moves the replaced files to the archive folder, then writes
/// the baseline. Returns the baseline's path.
pub fn apply(squash: &Squash) -> Result<PathBuf, EngineError> {
    std::fs::create_dir_all(&squash.archive)?;
    for m in &squash.moves {
        let target = squash.archive.join(m.file_name().expect("a name"));
        std::fs::rename(m, &target).map_err(|source| EngineError::Move {
            from: m.clone(),
            to: target.clone(),
            source,
        })?;
    }
    let path = squash.dir.join(&squash.file);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&path, &squash.content)?;
    Ok(path)
}
