//! Matching another tool's history against a set's files: which migrations golang-migrate,
//! Flyway, goose, sqitch, Prisma, ... record as applied, by each tool's own rules (versions,
//! directory names, plan positions, checksums). `adopt` records them; `up` refuses to run
//! them again (see [`crate::guard`]).

use crate::load::LoadedSet;
use strata_model::{MigrationKind, Version};
use strata_pg::adopt::{self, ForeignHistory, Tool};

/// What adopting another tool's history would record.
pub struct Adoption {
    /// The migrations (indices into the set) the tool's history records as applied.
    pub adopt: Vec<usize>,
    /// What stops a migration from being adopted (a dirty run, a changed file), one line each.
    pub problems: Vec<String>,
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

/// Matches another tool's `history` against `set`: which migrations it records as applied
/// that strata has not recorded (`already`), and what stops the others. With `verify_sums`
/// the tools' own checksums are compared with the files (reading them).
pub fn plan_adoption(
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
}

/// Compares another tool's history, if one is still in the database, with strata's `applied`
/// rows of `set`: one catalog query, and the tool's table is read only when it exists.
/// Checksums are not compared (and no script is read): only which versions each applied.
pub async fn shared_history(
    session: &strata_pg::Session,
    set: &LoadedSet,
    applied: &[strata_model::AppliedMigration],
    found: &[(Tool, String)],
) -> Result<Option<SharedHistory>, crate::EngineError> {
    let is_sqitch = set.set.sqitch.is_some();
    let Some((tool, schema)) = found
        .iter()
        .find(|(t, _)| (*t == Tool::Sqitch) == is_sqitch)
    else {
        return Ok(None);
    };
    let history = adopt::read(session, *tool, schema).await?;
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
