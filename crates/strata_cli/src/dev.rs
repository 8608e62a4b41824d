//! `strata dev`: the embedded dev cluster's verbs. The cluster itself (where it lives, how it
//! starts) is the engine's (`strata_engine::dev`), which `up` and every other verb use when no
//! database is configured.

use anyhow::{Context, Result};
use std::path::Path;
use strata_engine::dev::{dev_root, ensure_running, open, DEV_DATABASE};

/// `strata dev <action>`.
pub fn run(
    project_root: &Path,
    action: crate::cli::DevAction,
    out: &mut dyn std::io::Write,
) -> Result<i32> {
    use crate::cli::DevAction::*;
    let root = dev_root(project_root);
    match action {
        Start => {
            let url = ensure_running(project_root)?;
            writeln!(out, "dev cluster running in {}\nurl: {url}", root.display())?;
        }
        Stop => {
            if root.join("data").join("PG_VERSION").exists() {
                open(project_root)?.stop()?;
            }
            writeln!(out, "dev cluster stopped")?;
        }
        Status => {
            let initialised = root.join("data").join("PG_VERSION").exists();
            if !initialised {
                writeln!(
                    out,
                    "no dev cluster in {} (`strata dev start` creates one)",
                    root.display()
                )?;
            } else {
                let cluster = open(project_root)?;
                let running = cluster.is_running();
                writeln!(
                    out,
                    "dev cluster in {}: {}",
                    root.display(),
                    if running { "running" } else { "stopped" }
                )?;
                writeln!(out, "url: {}", cluster.url(DEV_DATABASE))?;
            }
        }
        Url => {
            let url = ensure_running(project_root)?;
            writeln!(out, "{url}")?;
        }
        Psql => {
            let url = ensure_running(project_root)?;
            let cluster = open(project_root)?;
            let status = std::process::Command::new(cluster.binaries().tool("psql"))
                .arg(url)
                .status()
                .context("cannot run psql")?;
            return Ok(if status.success() { 0 } else { 2 });
        }
        Reset => {
            if root.join("data").join("PG_VERSION").exists() {
                open(project_root)?.destroy()?;
            } else if root.exists() {
                std::fs::remove_dir_all(&root)?;
            }
            let url = ensure_running(project_root)?;
            writeln!(
                out,
                "dev cluster recreated in {}\nurl: {url}",
                root.display()
            )?;
        }
    }
    Ok(0)
}
