//! `squash --to V`: replace the migrations up to V with one baseline generated from the schema
//! they produce. The baseline is proven equal (the same catalog snapshot) before anything on
//! disk changes; databases that applied the old migrations keep working (the baseline's
//! `-- strata:squashed-baseline` directive covers them) and new ones apply the baseline. The old
//! files move to an archive folder beside the set's directory.

use super::{exit, Io};
use crate::app::snapshot_of;
use crate::app::{self, LoadedSet};
use crate::config::Settings;
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use strata_engine::scratch::Scratch;
use strata_model::{MigrationKind, Version};
use strata_pg::{Registry, Session};

async fn apply_all(
    session: &mut Session,
    settings: &Settings,
    set: &LoadedSet,
    indices: &[usize],
) -> Result<()> {
    let registry = Registry::new(&settings.registry_schema);
    registry.ensure(&session.client).await?;
    let steps = indices
        .iter()
        .map(|&i| app::apply_step(set.migrations(), i))
        .collect();
    app::run_on_scratch(
        session,
        &registry,
        set.migrations(),
        &set.spec.dir,
        &set.spec.name,
        "0",
        steps,
    )
    .await
    .map_err(anyhow::Error::msg)
}

/// `pg_dump --schema-only` of a scratch database, without the registry, owners or psql
/// meta-commands, as plain SQL strata can run.
fn dump(
    cluster: &strata_ephemeral::TempCluster,
    db: &str,
    registry_schema: &str,
) -> Result<String> {
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
        .context("cannot run pg_dump")?;
    if !out.status.success() {
        bail!("pg_dump failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8(out.stdout).context("pg_dump printed invalid UTF-8")?;
    // Newer pg_dump versions bracket the dump in psql `\restrict` meta-commands.
    Ok(text
        .lines()
        .filter(|l| !l.starts_with('\\'))
        .collect::<Vec<_>>()
        .join("\n"))
}

fn tempfile_dir() -> Result<PathBuf> {
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

/// Runs `squash`.
pub async fn run(settings: &Settings, to: &str, apply: bool, io: &mut Io<'_>) -> Result<i32> {
    let sets = app::load_sets(settings)?;
    let [set] = sets.as_slice() else {
        bail!("squash works on one set; choose it with --set NAME");
    };
    let layout = strata_source::layout_for(set.set.detection.layout);
    // Asked before any work: a layout whose files strata cannot write says so first.
    if let Err(why) = layout.squashed_file("0", "squashed_baseline", "") {
        bail!("set `{}` {why}", set.spec.name);
    }
    if !set.spec.locations.is_empty() {
        bail!("set `{}` is kept in several Flyway locations, and strata would not know which one the baseline and the archive belong to; squash it by hand", set.spec.name);
    }
    let goal = Version::parse_user(to).map_err(|e| anyhow::anyhow!("{e}"))?;
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
        bail!(
            "no migration of set `{}` has a version up to {to}",
            set.spec.name
        )
    };
    let last_m = &set.migrations()[last];
    if !last_m.id.version.as_ref().is_some_and(|v| v.same_as(&goal)) {
        bail!("no migration has version {to}; `strata status` lists the versions");
    }
    let version = last_m.id.version.clone().expect("versioned").to_string();
    // pg_dump runs against our own throwaway cluster.
    let scratch = Scratch::new(None)?;
    let Scratch::Cluster(cluster_ref) = &scratch else {
        unreachable!("Scratch::new(None) starts a cluster")
    };
    // 1. What the migrations produce.
    let old_db = scratch.create_database("squash_old").await?;
    let mut session = Session::connect(&old_db.info).await?;
    apply_all(&mut session, settings, set, &squashed).await?;
    let expected = snapshot_of(&session, settings).await?;
    let baseline_sql = dump(cluster_ref, &old_db.name, &settings.registry_schema)?;
    drop(session);
    // 2. What the dump produces: it must be the same schema. PostgreSQL re-parses some
    // expressions differently after a dump and restore (casts in `IN (...)` lists of varchar
    // columns, for instance); then the dump is not an exact baseline, and the squashed scripts
    // themselves, concatenated, are used instead: the same statements, the same schema.
    let new_db = scratch.create_database("squash_new").await?;
    let session = Session::connect(&new_db.info).await?;
    let dump_applies = session.run_script(&baseline_sql).await.is_ok();
    let _ = session.run_script("RESET search_path").await;
    let from_dump = if dump_applies {
        Some(snapshot_of(&session, settings).await?)
    } else {
        None
    };
    drop(session);
    let (source, baseline_sql) = match from_dump.map(|p| expected.diff(&p)) {
        Some(d) if d.is_empty() => (
            "pg_dump of the schema they produce".to_owned(),
            baseline_sql,
        ),
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
            writeln!(
                io.out,
                "  note: {why}; the baseline is the squashed scripts, concatenated"
            )?;
            let mut text = String::new();
            let mut non_transactional = false;
            for &i in &squashed {
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
            ("the squashed scripts, concatenated".to_owned(), text)
        }
    };
    let first = set.migrations()[squashed[0]].id.to_string();
    let header = format!(
        "-- strata:squashed-baseline\n-- Replaces the {} migration(s) {first} .. {} (archived next to this directory);\n-- generated by `strata squash` from {source}; its schema was checked equal.\n",
        squashed.len(),
        last_m.id
    );
    let body = format!("{header}{baseline_sql}\n");
    let name = "squashed_baseline";
    let strata_source::NewFile { rel, content } = layout
        .squashed_file(&version.to_string(), name, &body)
        .map_err(|why| anyhow::anyhow!("set `{}` {why}", set.spec.name))?;
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
        .context("the baseline does not apply on a new database")?;
    let produced = snapshot_of(&session, settings).await?;
    drop(session);
    let _ = std::fs::remove_dir_all(&probe_dir);
    let differences = expected.diff(&produced);
    if !differences.is_empty() {
        let text: Vec<String> = differences.iter().map(|d| format!("  {d}")).collect();
        bail!(
            "the baseline does not reproduce the schema exactly; nothing was changed:\n{}",
            text.join("\n")
        );
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
    writeln!(io.out, "set {}: {} migration(s) up to {} squash into {} ({} bytes); the schemas are identical ({} objects)", set.spec.name, squashed.len(), last_m.id, rel.display(), content.len(), expected.objects.len())?;
    for m in &moves {
        writeln!(
            io.out,
            "  {} {} -> {}",
            if apply { "archived" } else { "would archive" },
            m.display(),
            archive.display()
        )?;
    }
    if apply {
        std::fs::create_dir_all(&archive)?;
        for m in &moves {
            let target = archive.join(m.file_name().expect("a name"));
            std::fs::rename(m, &target)
                .with_context(|| format!("cannot move {} to {}", m.display(), target.display()))?;
        }
        let path = set.set.dir.join(&rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, content)?;
        writeln!(io.out, "  wrote {}", path.display())?;
    } else {
        writeln!(
            io.out,
            "dry run: nothing was changed; run again with --apply"
        )?;
    }
    let _ = scratch.drop_database(&check_db).await;
    let _ = scratch.drop_database(&old_db).await;
    let _ = scratch.drop_database(&new_db).await;
    Ok(exit::OK)
}
