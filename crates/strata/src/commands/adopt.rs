//! `adopt`: take over a database another tool manages, without running anything twice.
//!
//! The other tool's history is read (never changed), matched against the files on disk by
//! version, and — with `--apply` — recorded in strata's registry as applied, with an `adopt`
//! event naming the source table and its row count. Anything the tool itself would complain
//! about (a dirty or failed migration, a checksum that no longer matches the file) is reported
//! and not adopted, so the operator decides.

use super::{exit, Io};
use crate::app::{self, LoadedSet};
use crate::config::Settings;
use anyhow::{bail, Result};
use serde_json::json;
use strata_model::{MigrationKind, Version};
use strata_pg::adopt::{self, ForeignHistory, Tool};
use strata_pg::Registry;
use strata_plan::{Plan, Step};

struct Adoption {
    adopt: Vec<usize>,
    problems: Vec<String>,
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

fn matches(tool: Tool, row_version: &str, local: &Version) -> bool {
    match tool {
        // diesel stores the directory's timestamp without its dashes.
        Tool::Diesel => {
            digits(row_version).trim_start_matches('0')
                == digits(local.as_str()).trim_start_matches('0')
        }
        _ => Version::parse_user(row_version).is_ok_and(|v| v.same_as(local)),
    }
}

/// Whether a history row of `tool` records migration `m`. Prisma names a migration by its
/// directory (`20240101120000_init`) and matches nothing else, so neither does strata; the
/// other tools are matched by version.
fn records(tool: Tool, row_version_text: &str, m: &strata_model::Migration) -> bool {
    match tool {
        Tool::Prisma => prisma_dir_name(m) == Some(row_version_text),
        _ => {
            m.id.version
                .as_ref()
                .is_some_and(|v| matches(tool, &row_version(tool, row_version_text), v))
        }
    }
}

/// The directory a Prisma migration's `migration.sql` sits in.
fn prisma_dir_name(m: &strata_model::Migration) -> Option<&str> {
    m.path().parent()?.file_name()?.to_str()
}

fn row_version(tool: Tool, version: &str) -> String {
    match tool {
        // node-pg-migrate and Laravel store file names; the version leads them.
        Tool::NodePgMigrate | Tool::Laravel => strata_source::parse_version_name(version)
            .map(|(v, _)| v.as_str().to_owned())
            .unwrap_or_else(|| version.to_owned()),
        _ => version.to_owned(),
    }
}

fn plan_adoption(
    set: &LoadedSet,
    history: &ForeignHistory,
    already: &[strata_model::AppliedMigration],
    verify_sums: bool,
) -> Adoption {
    let tool = history.tool;
    if tool == Tool::Sqitch {
        return plan_sqitch_adoption(set, history, already, verify_sums);
    }
    let mut adopt = Vec::new();
    let mut problems = Vec::new();
    let local = set.migrations();
    let is_recorded = |m: &strata_model::Migration| {
        already.iter().any(|a| match (&m.id.version, &a.version) {
            (Some(v), Some(av)) => Version::parse(av).is_ok_and(|x| x.same_as(v)),
            (None, None) => a.name == m.id.name,
            _ => false,
        })
    };
    // golang-migrate records only the current version: everything up to it is applied.
    let upto = match tool {
        Tool::GolangMigrate => history
            .rows
            .first()
            .map(|r| (r.version.clone(), r.problem.is_some())),
        _ => history
            .rows
            .iter()
            .filter(|r| r.baseline)
            .map(|r| (r.version.clone(), false))
            .next_back(),
    };
    for (i, m) in local.iter().enumerate() {
        if is_recorded(m) {
            continue;
        }
        let Some(v) = &m.id.version else {
            if !verify_sums {
                continue;
            }
            // Flyway repeatables: adopted when the recorded checksum matches the file.
            if tool == Tool::Flyway {
                let wanted = m.id.name.replace('_', " ");
                if let Some(r) = history.rows.iter().rev().find(|r| {
                    r.version.is_empty() && r.name.as_deref() == Some(wanted.as_str()) && r.applied
                }) {
                    let local_sum = adopt::flyway_checksum(m.up.file.text().as_bytes()).to_string();
                    if r.checksum.as_deref() == Some(local_sum.as_str()) {
                        adopt.push(i);
                    } else {
                        problems.push(format!("repeatable R__{}: checksum in flyway_schema_history {} differs from the file's {local_sum}; it will be re-applied by `strata up`", m.id.name, r.checksum.clone().unwrap_or_default()));
                    }
                }
            }
            continue;
        };
        if let Some((top, dirty)) = &upto {
            let top_v = Version::parse_user(top).ok();
            if let Some(t) = top_v {
                if *v < t || (*v == t && !dirty) {
                    adopt.push(i);
                    continue;
                }
                if *v == t && *dirty {
                    problems.push(format!("{}: {} left it dirty (stopped part-way); it is not adopted: check its effects by hand, then run it with `strata up` or record it with `strata repair {} --mark-applied --reason ...`", m.id, tool.name(), v));
                    continue;
                }
            }
        }
        let Some(row) = history
            .rows
            .iter()
            .rev()
            .find(|r| !r.version.is_empty() && records(tool, &r.version, m))
        else {
            continue;
        };
        if let Some(p) = &row.problem {
            problems.push(format!("{}: {p}; not adopted", m.id));
            continue;
        }
        if !row.applied {
            continue;
        }
        // Only a verifying adoption reads the text: `status` and `up` compare versions on sets
        // whose scripts may not have been read (the file cache vouched for them).
        let checksum_ok = match (tool, &row.checksum) {
            _ if !verify_sums => true,
            (Tool::Flyway, Some(sum)) => {
                let local_sum = adopt::flyway_checksum(m.up.file.text().as_bytes()).to_string();
                if *sum != local_sum {
                    problems.push(format!(
                        "Migration checksum mismatch for migration version {v}\n    -> Applied to database : {sum}\n    -> Resolved locally    : {local_sum}\n    the file changed since Flyway applied it; restore it (or accept the change after adopting with `strata accept`)"
                    ));
                }
                *sum == local_sum
            }
            (Tool::Prisma, Some(sum)) => {
                let bytes = std::fs::read(m.path()).unwrap_or_default();
                let ok = adopt::prisma_checksum_matches(&bytes, sum);
                if !ok {
                    problems.push(format!(
                        "{}: Prisma recorded checksum {sum} in _prisma_migrations, and {} now has {}; the file changed since Prisma applied it; not adopted: restore it (or accept the change after adopting with `strata accept`)",
                        m.id,
                        m.path().display(),
                        adopt::prisma_checksum(&bytes)
                    ));
                }
                ok
            }
            (Tool::Sqlx, Some(sum)) => {
                let local_sum =
                    adopt::sqlx_checksum(std::fs::read(m.path()).unwrap_or_default().as_slice());
                if *sum != local_sum {
                    problems.push(format!("{}: sqlx's SHA-384 checksum differs from the file's; the file changed since sqlx applied it; not adopted", m.id));
                }
                *sum == local_sum
            }
            _ => true,
        };
        if checksum_ok {
            adopt.push(i);
        }
    }
    // Rows with no file here: applied by the other tool, unknown to this directory.
    for r in history
        .rows
        .iter()
        .filter(|r| r.applied && !r.version.is_empty() && !r.baseline)
    {
        if tool == Tool::GolangMigrate {
            continue;
        }
        let known = local.iter().any(|m| records(tool, &r.version, m));
        if !known {
            problems.push(format!(
                "{} recorded version {} as applied, but no migration file has that version here",
                tool.name(),
                r.version
            ));
        }
    }
    adopt.sort_unstable();
    adopt.dedup();
    Adoption { adopt, problems }
}

/// sqitch: the project's deployed changes, in deploy order, are matched to the plan's changes
/// by name: the k-th deployed `name` is the k-th `name` of the plan (sqitch deploys in plan
/// order and reverts from the end, so the deployed changes are a prefix of the plan; a reworked
/// change's two instances are told apart that way). The deploy script's SHA-1 must still be the
/// one sqitch recorded.
fn plan_sqitch_adoption(
    set: &LoadedSet,
    history: &ForeignHistory,
    already: &[strata_model::AppliedMigration],
    verify_sums: bool,
) -> Adoption {
    let mut adopt = Vec::new();
    let mut problems = Vec::new();
    let Some(plan) = &set.set.sqitch else {
        problems.push(format!(
            "set `{}` is not a sqitch project (no sqitch.plan in {}); point `dir` at the directory holding sqitch.plan, or adopt from another tool with --from",
            set.spec.name,
            set.set.dir.display()
        ));
        return Adoption { adopt, problems };
    };
    let rows: Vec<_> = history
        .rows
        .iter()
        .filter(|r| r.name.as_deref() == Some(plan.project.as_str()))
        .collect();
    if rows.is_empty() {
        let mut projects: Vec<&str> = history
            .rows
            .iter()
            .filter_map(|r| r.name.as_deref())
            .collect();
        projects.sort_unstable();
        projects.dedup();
        problems.push(format!(
            "sqitch's registry ({}) has no deployed change of project `{}` (sqitch.plan's %project){}",
            history.table,
            plan.project,
            if projects.is_empty() { String::new() } else { format!("; it has project(s) {}", projects.join(", ")) }
        ));
    }
    let local = set.migrations();
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for r in rows {
        let nth = seen.entry(r.version.as_str()).or_insert(0);
        let change = plan
            .changes
            .iter()
            .enumerate()
            .filter(|(_, c)| c.name == r.version)
            .nth(*nth);
        *nth += 1;
        let Some((i, c)) = change else {
            problems.push(format!(
                "sqitch deployed change `{}` (project {}) {} time(s), but sqitch.plan plans it fewer times; restore the plan from version control, or check that this is the project's directory",
                r.version, plan.project, nth
            ));
            continue;
        };
        let version = (i + 1).to_string();
        let Some(index) = local
            .iter()
            .position(|m| m.id.version.as_ref().is_some_and(|v| v.as_str() == version))
        else {
            continue;
        };
        let m = &local[index];
        if already
            .iter()
            .any(|a| a.version.as_deref() == Some(version.as_str()))
        {
            continue;
        }
        if let Some(hash) = r.checksum.as_ref().filter(|_| verify_sums) {
            let local_hash =
                adopt::sqitch_script_hash(&std::fs::read(m.path()).unwrap_or_default());
            if *hash != local_hash {
                problems.push(format!(
                    "{} (sqitch.plan:{}): {} changed since sqitch deployed it (script_hash {hash}, the file's SHA-1 is {local_hash}); not adopted: restore the file, or rework the change in sqitch",
                    m.id, c.line, m.path().display()
                ));
                continue;
            }
        }
        adopt.push(index);
    }
    adopt.sort_unstable();
    adopt.dedup();
    Adoption { adopt, problems }
}

/// The migrations of `set` that another tool's `history` records as applied, matched by
/// version (checksums are not compared and no script is read).
pub fn applied_by_tool(set: &LoadedSet, history: &ForeignHistory) -> Vec<usize> {
    plan_adoption(set, history, &[], false).adopt
}

/// Another tool's history still present beside strata's, as `status` reports it.
pub struct SharedHistory {
    /// The tool.
    pub tool: Tool,
    /// `schema.table` of its history.
    pub table: String,
    /// Versions the tool applied that strata has not recorded.
    pub only_tool: Vec<String>,
    /// Versions strata recorded that the tool has not applied.
    pub only_strata: Vec<String>,
}

impl SharedHistory {
    /// The warning `status` prints when the histories disagree, or `None` when they agree.
    pub fn warning(&self, set: &str) -> Option<String> {
        if self.only_tool.is_empty() && self.only_strata.is_empty() {
            return None;
        }
        let tool = self.tool.name();
        let mut parts = Vec::new();
        if !self.only_tool.is_empty() {
            parts.push(format!(
                "applied by {tool} but not recorded by strata: {} (run `strata adopt` to record them, or strata will run them again)",
                self.only_tool.join(", ")
            ));
        }
        if !self.only_strata.is_empty() {
            parts.push(format!(
                "applied by strata but unknown to {tool}: {} (running {tool} again would apply them twice)",
                self.only_strata.join(", ")
            ));
        }
        Some(format!(
            "warning: set {set} still shares the database with {tool}'s history ({}), and the two disagree: {}; migrate with one tool only, and drop {} once every environment uses strata",
            self.table,
            parts.join("; "),
            self.table
        ))
    }

    /// The `shared_history` field of `status --json`.
    pub fn json(&self) -> serde_json::Value {
        json!({
            "tool": self.tool.name(),
            "table": self.table,
            "agree": self.only_tool.is_empty() && self.only_strata.is_empty(),
            "only_in_tool": self.only_tool,
            "only_in_strata": self.only_strata,
        })
    }
}

/// Compares another tool's history, if one is still in the database, with strata's `applied`
/// rows of `set`: one catalog query, and the tool's table is read only when it exists.
/// Checksums are not compared (and no script is read): only which versions each applied.
pub async fn shared_history(
    session: &strata_pg::Session,
    set: &LoadedSet,
    applied: &[strata_model::AppliedMigration],
    found: &[(Tool, String)],
) -> Result<Option<SharedHistory>> {
    let client = &session.client;
    let is_sqitch = set.set.sqitch.is_some();
    let Some((tool, schema)) = found
        .iter()
        .find(|(t, _)| (*t == Tool::Sqitch) == is_sqitch)
    else {
        return Ok(None);
    };
    let history = adopt::read(client, *tool, schema).await?;
    let by_tool = applied_by_tool(set, &history);
    let local = set.migrations();
    let tool_versions: Vec<&Version> = by_tool
        .iter()
        .filter_map(|&i| local[i].id.version.as_ref())
        .collect();
    let strata_versions: Vec<Version> = applied
        .iter()
        .filter(|a| a.kind == MigrationKind::Versioned)
        .filter_map(|a| a.version.as_deref().and_then(|v| Version::parse(v).ok()))
        .collect();
    let only_tool = tool_versions
        .iter()
        .filter(|v| !strata_versions.iter().any(|s| s.same_as(v)))
        .map(|v| v.to_string())
        .collect();
    let only_strata = strata_versions
        .iter()
        .filter(|s| !tool_versions.iter().any(|v| v.same_as(s)))
        .map(|v| v.to_string())
        .collect();
    Ok(Some(SharedHistory {
        tool: *tool,
        table: history.table,
        only_tool,
        only_strata,
    }))
}

/// `adopt --from-set OLD`: the history strata recorded under another set key (an older
/// strata's path-derived key, a renamed `[[set]]`) becomes the selected set's, which must have
/// none yet. Nothing runs; the rows move in one transaction with an `adopt` event that names
/// the old key. A dry run unless `apply`.
pub async fn from_set(settings: &Settings, old: &str, apply: bool, io: &mut Io<'_>) -> Result<i32> {
    let sets = app::load_sets(settings)?;
    let [set] = sets.as_slice() else {
        bail!("adopt --from-set moves a history to one set; choose it with --set NAME");
    };
    if set.spec.name == old {
        bail!("set `{old}` is already the selected set; name the other set's key with --from-set");
    }
    let err = &mut *io.err;
    let mut say = |m: &str| {
        let _ = writeln!(err, "{m}");
    };
    let db = app::database(settings, &mut say)?;
    let session = app::connect(&db).await?;
    let registry = Registry::new(&settings.registry_schema);
    let lock = if apply {
        let mut lock = app::lock(&db, settings, &mut say).await?;
        registry.ensure(&session.client).await?;
        lock.register(&registry).await?;
        Some(lock)
    } else {
        None
    };
    let result = async {
        let own = app::read_history(&session, &registry, &set.spec.name).await?;
        if !own.is_empty() {
            bail!(
                "set `{}` already has {} history row(s) in this database; a history can only be moved to a set that has none",
                set.spec.name,
                own.len()
            );
        }
        let rows = app::read_history(&session, &registry, old).await?;
        if rows.is_empty() {
            let others = crate::history_guard::other_histories(&session, &registry, set).await?;
            bail!(
                "there is no history recorded as `{old}` in this database{}",
                if others.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; histories that record these files: {}",
                        crate::history_guard::describe(&others)
                    )
                }
            );
        }
        let matching = crate::history_guard::other_histories(&session, &registry, set)
            .await?
            .into_iter()
            .find(|o| o.set == old)
            .map_or(0, |o| o.matching);
        let moved = if apply {
            registry
                .move_history(
                    &session.client,
                    old,
                    &set.spec.name,
                    "strata adopt --from-set",
                )
                .await?
        } else {
            rows.len() as u64
        };
        Ok((moved, matching))
    }
    .await;
    if let Some(lock) = lock {
        lock.release().await?;
    }
    let (moved, matching) = result?;
    if settings.json {
        writeln!(
            io.out,
            "{}",
            json!({"set": set.spec.name, "from_set": old, "rows": moved, "matching_files": matching, "applied": apply})
        )?;
    } else {
        writeln!(
            io.out,
            "set {}: {} {moved} history row(s) recorded as `{old}` ({matching} of them match these files unchanged)",
            set.spec.name,
            if apply { "took over" } else { "would take over" },
        )?;
        if !apply {
            writeln!(io.out, "dry run: nothing was moved; run again with --apply")?;
        }
    }
    Ok(exit::OK)
}

/// Runs `adopt`.
pub async fn run(
    settings: &Settings,
    from: Option<&str>,
    apply: bool,
    io: &mut Io<'_>,
) -> Result<i32> {
    let sets = app::load_sets(settings)?;
    let wanted = match from {
        Some(name) => Some(Tool::from_name(name).ok_or_else(|| {
            anyhow::anyhow!(
                "unknown tool `{name}`; strata adopts from {}",
                Tool::ALL
                    .iter()
                    .map(|t| t.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?),
        None => None,
    };
    let err = &mut *io.err;
    let mut say = |m: &str| {
        let _ = writeln!(err, "{m}");
    };
    let db = app::database(settings, &mut say)?;
    let mut session = app::connect(&db).await?;
    let registry = Registry::new(&settings.registry_schema);
    let mut lock = if apply {
        Some(app::lock(&db, settings, &mut say).await?)
    } else {
        None
    };
    if apply {
        registry.ensure(&session.client).await?;
        if let Some(l) = lock.as_mut() {
            l.register(&registry).await?;
        }
    }
    let mut docs = Vec::new();
    let mut any_problem = false;
    for set in &sets {
        let found = adopt::detect(&session.client, set.spec.schema.as_deref(), &registry).await?;
        // sqitch's registry serves sqitch projects; other sets look for the other tools.
        let is_sqitch = set.set.sqitch.is_some();
        let chosen = found.iter().find(|(t, _)| match wanted {
            Some(w) => w == *t,
            None => (*t == Tool::Sqitch) == is_sqitch,
        });
        let Some((tool, schema)) = chosen else {
            bail!(
                "set `{}`: no {} history table found in the database; for a database without any tracking, `strata adopt --infer` proposes a baseline from the objects that exist (or use `strata baseline V`)",
                set.spec.name,
                wanted.map_or("known tool's".to_owned(), |t| t.name().to_owned())
            );
        };
        let history = adopt::read(&session.client, *tool, schema).await?;
        let already = registry.read(&session.client, &set.spec.name).await?;
        let adoption = plan_adoption(set, &history, &already, true);
        any_problem |= !adoption.problems.is_empty();
        let names: Vec<String> = adoption
            .adopt
            .iter()
            .map(|&i| set.migrations()[i].id.to_string())
            .collect();
        if !settings.json {
            writeln!(
                io.out,
                "set {}: {} history in {} ({} row(s))",
                set.spec.name,
                tool.name(),
                history.table,
                history.row_count
            )?;
            for n in &names {
                writeln!(
                    io.out,
                    "  {} {n}",
                    if apply { "adopted" } else { "would adopt" }
                )?;
            }
            for p in &adoption.problems {
                writeln!(io.out, "  problem: {p}")?;
            }
            let pending = set
                .migrations()
                .iter()
                .enumerate()
                .filter(|(i, m)| m.kind == MigrationKind::Versioned && !adoption.adopt.contains(i))
                .count();
            writeln!(
                io.out,
                "  {} migration(s) stay pending for `strata up`",
                pending
            )?;
        }
        if apply && !adoption.adopt.is_empty() {
            let steps = adoption
                .adopt
                .iter()
                .map(|&i| Step::Baseline {
                    index: i,
                    key: set.migrations()[i].id.registry_key(),
                })
                .collect();
            let plan = Plan {
                entries: Vec::new(),
                steps,
                findings: Vec::new(),
            };
            let opts = strata_pg::ExecOptions {
                set_name: set.spec.name.clone(),
                lock_timeout: set.spec.lock_timeout.clone(),
                statement_timeout: set.spec.statement_timeout.clone(),
                baseline_event: Some((
                    "adopt".into(),
                    json!({"tool": tool.name(), "source_table": history.table, "source_rows": history.row_count}),
                )),
                set_dir: set.spec.dir.clone(),
                ..Default::default()
            };
            strata_pg::execute(
                &mut session,
                &registry,
                set.migrations(),
                &plan,
                &opts,
                lock.as_ref().and_then(|l| l.client()),
                &mut strata_pg::Silent,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{}", crate::render::exec_error_text(&e)))?;
        }
        docs.push(json!({"name": set.spec.name, "tool": tool.name(), "source_table": history.table, "source_rows": history.row_count, "adopted": names, "problems": adoption.problems, "applied": apply}));
    }
    if let Some(l) = lock {
        l.release().await?;
    }
    if settings.json {
        writeln!(io.out, "{}", json!({"sets": docs}))?;
    } else if !apply {
        writeln!(
            io.out,
            "dry run: nothing was recorded; run again with --apply"
        )?;
    }
    Ok(if any_problem {
        exit::FINDINGS
    } else {
        exit::OK
    })
}

/// The objects that witness each versioned migration: what it creates that neither it nor a
/// later migration drops again (a later drop makes absence meaningless).
fn witnesses(migrations: &[&strata_model::Migration]) -> Vec<Vec<strata_sql::objects::DbObject>> {
    let effects: Vec<strata_sql::objects::Effects> = migrations
        .iter()
        .map(|m| strata_sql::objects::effects(&strata_sql::analyze(m.up.sql())))
        .collect();
    effects
        .iter()
        .enumerate()
        .map(|(k, e)| {
            let mut objects: Vec<_> = e
                .created
                .iter()
                .filter(|o| !effects[k..].iter().any(|later| later.dropped.contains(o)))
                .cloned()
                .collect();
            objects.sort();
            objects.dedup();
            objects
        })
        .collect()
}

/// `adopt --infer`: propose a baseline for a database migrated without any history (a psql
/// loop), from which of each migration's objects exist; `--apply` records it with `baseline`.
pub async fn infer(settings: &Settings, apply: bool, io: &mut Io<'_>) -> Result<i32> {
    let mut sets = app::load_sets(settings)?;
    for set in &mut sets {
        set.set.load_all()?;
    }
    let err = &mut *io.err;
    let mut say = |m: &str| {
        let _ = writeln!(err, "{m}");
    };
    let db = app::database(settings, &mut say)?;
    let session = app::connect(&db).await?;
    let registry = Registry::new(&settings.registry_schema);
    let mut docs = Vec::new();
    let mut proposals = Vec::new();
    let mut contradicted = false;
    for set in &sets {
        if !registry
            .read(&session.client, &set.spec.name)
            .await?
            .is_empty()
        {
            bail!(
                "set `{}` already has a strata history; `strata status` shows it (adopt --infer is for databases no tool tracked)",
                set.spec.name
            );
        }
        let versioned: Vec<&strata_model::Migration> = set
            .migrations()
            .iter()
            .filter(|m| m.kind == MigrationKind::Versioned)
            .collect();
        let witnesses = witnesses(&versioned);
        let mut unique: Vec<strata_sql::objects::DbObject> =
            witnesses.iter().flatten().cloned().collect();
        unique.sort();
        unique.dedup();
        let exists = adopt::objects_exist(&session.client, &unique).await?;
        let present = |o: &strata_sql::objects::DbObject| {
            unique.binary_search(o).ok().is_some_and(|i| exists[i])
        };
        let evidence: Vec<strata_plan::Evidence> = witnesses
            .iter()
            .map(|objects| {
                let here = objects.iter().filter(|o| present(o)).count();
                strata_plan::Evidence {
                    present: here,
                    absent: objects.len() - here,
                }
            })
            .collect();
        let inference = strata_plan::infer_baseline(&evidence);
        contradicted |= !inference.conflicts.is_empty();
        let baseline = inference.baseline.and_then(|i| {
            versioned[i]
                .id
                .version
                .as_ref()
                .map(|v| v.as_str().to_owned())
        });
        let rows: Vec<serde_json::Value> = versioned
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let missing: Vec<String> = witnesses[i]
                    .iter()
                    .filter(|o| !present(o))
                    .map(ToString::to_string)
                    .collect();
                json!({
                    "migration": m.id.to_string(),
                    "verdict": inference.verdicts[i],
                    "present": evidence[i].present,
                    "absent": evidence[i].absent,
                    "missing": missing,
                    "conflict": inference.conflicts.contains(&i),
                    "undecided": inference.undecided.contains(&i),
                })
            })
            .collect();
        if !settings.json {
            writeln!(
                io.out,
                "set {}: what the database shows of each migration",
                set.spec.name
            )?;
            for (i, row) in rows.iter().enumerate() {
                let e = evidence[i];
                let verdict = match inference.verdicts[i] {
                    strata_plan::Verdict::Applied => format!(
                        "applied ({}/{} objects exist)",
                        e.present,
                        e.present + e.absent
                    ),
                    strata_plan::Verdict::NotApplied => {
                        format!("not applied (none of its {} objects exists)", e.absent)
                    }
                    strata_plan::Verdict::Partial => format!(
                        "PARTIAL ({}/{} objects exist)",
                        e.present,
                        e.present + e.absent
                    ),
                    strata_plan::Verdict::NoEvidence => {
                        "no evidence (it creates nothing that can be checked)".to_owned()
                    }
                };
                let flag = if inference.conflicts.contains(&i) {
                    "  <- contradicts the others"
                } else {
                    ""
                };
                writeln!(
                    io.out,
                    "  {:<40} {verdict}{flag}",
                    versioned[i].id.to_string()
                )?;
                if inference.conflicts.contains(&i) {
                    for m in row["missing"].as_array().into_iter().flatten() {
                        writeln!(io.out, "      missing: {}", m.as_str().unwrap_or_default())?;
                    }
                }
            }
            match &baseline {
                Some(v) => writeln!(io.out, "  proposed baseline: {v} (record it with `strata adopt --infer --apply` or `strata baseline {v}`)")?,
                None => writeln!(io.out, "  proposed baseline: none: no migration's objects exist; `strata up` applies everything")?,
            }
            if !inference.undecided.is_empty() {
                let names: Vec<String> = inference
                    .undecided
                    .iter()
                    .map(|&i| versioned[i].id.to_string())
                    .collect();
                writeln!(io.out, "  cannot tell whether {} ran (no objects to check); if they did, baseline the last of them instead", names.join(", "))?;
            }
            if !inference.conflicts.is_empty() {
                writeln!(io.out, "  the evidence is contradictory: check the migrations marked above by hand before recording any baseline")?;
            }
        }
        docs.push(json!({"name": set.spec.name, "migrations": rows, "baseline": baseline, "conflicts": !inference.conflicts.is_empty()}));
        proposals.push((set.spec.clone(), baseline));
    }
    if settings.json {
        writeln!(
            io.out,
            "{}",
            json!({"sets": docs, "applied": apply && !contradicted})
        )?;
    }
    if contradicted {
        if apply {
            writeln!(io.err, "strata: not recording a baseline: the evidence is contradictory (see above); decide by hand and run `strata baseline V`")?;
        }
        return Ok(exit::FINDINGS);
    }
    if !apply {
        return Ok(exit::OK);
    }
    drop(session);
    for (spec, baseline) in proposals {
        let Some(version) = baseline else { continue };
        let mut one = settings.clone();
        one.sets = vec![spec];
        let code =
            super::migrate::run(&one, strata_plan::Target::Baseline(version), false, io).await?;
        if code != exit::OK {
            return Ok(code);
        }
    }
    Ok(exit::OK)
}
