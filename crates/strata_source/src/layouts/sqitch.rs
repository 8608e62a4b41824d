//! sqitch: a `sqitch.plan` naming the changes in order, with `deploy/<change>.sql`,
//! `revert/<change>.sql` and `verify/<change>.sql` beside it (see [`crate::sqitch`] for the
//! plan and how changes get their strata versions).
//!
//! Only sqitch's default directories are read (`top_dir` is the set's directory); a
//! `sqitch.conf` that moves them is not interpreted: point the set's `dir` at the directory
//! holding `sqitch.plan` and keep the default `deploy/`, `revert/` and `verify/`.

use super::{common_checks, directives_of, source_file, versioned, Layout, LayoutKind, Loaded};
use crate::listing::{Entry, Listing};
use crate::new_file::NewFile;
use crate::sqitch::parse_plan;
use crate::Problem;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use strata_model::{MigrationId, Script, Version};

/// The plan file's name.
pub const PLAN_FILE: &str = "sqitch.plan";

/// The sqitch layout.
pub struct Sqitch;

fn rel_key(rel: &Path) -> String {
    rel.to_string_lossy().replace('\\', "/")
}

impl Layout for Sqitch {
    fn kind(&self) -> LayoutKind {
        LayoutKind::Sqitch
    }
    fn name(&self) -> &'static str {
        "sqitch"
    }
    fn pattern(&self) -> &'static str {
        "`sqitch.plan` naming changes whose scripts are `deploy/<change>.sql`, `revert/<change>.sql` and `verify/<change>.sql`"
    }
    fn new_files(&self, _: &str, name: &str) -> Result<Vec<NewFile>, String> {
        Err(format!("a sqitch project's changes are planned in sqitch.plan, with the planner's name and email; add one with `sqitch add {name}` (strata reads the plan, it does not write it)"))
    }
    fn squashed_file(&self, _: &str, _: &str, _: &str) -> Result<NewFile, String> {
        Err("is a sqitch project, whose order is its sqitch.plan: strata does not rewrite the plan; squash it with sqitch's own tools".into())
    }
    fn renumbers(&self) -> Result<(), String> {
        Err("is a sqitch project: its versions are positions in sqitch.plan, so there is nothing to renumber; reorder changes with sqitch's own tools".into())
    }

    fn evidence(&self, listing: &Listing) -> usize {
        listing
            .entries()
            .iter()
            .filter(|e| e.parent.is_none() && e.name == PLAN_FILE)
            .count()
    }

    fn load(&self, listing: &Listing) -> Loaded {
        let mut loaded = Loaded::default();
        common_checks(listing, &mut loaded);
        let by_rel: HashMap<String, &Entry> = listing
            .entries()
            .iter()
            .map(|e| (rel_key(&e.rel), e))
            .collect();
        let Some(plan_entry) = by_rel.get(PLAN_FILE).copied() else {
            loaded.problems.push(Problem::new(
                PLAN_FILE,
                "the sqitch layout needs a sqitch.plan in the set's directory; point `dir` at the sqitch project's top directory, or choose another layout",
            ));
            return loaded;
        };
        let mut claimed: HashSet<String> = HashSet::new();
        claimed.insert(PLAN_FILE.to_owned());
        let Some(plan_file) = source_file(listing, plan_entry, &mut loaded.problems) else {
            return loaded;
        };
        let plan = match parse_plan(plan_file.text()) {
            Ok(p) => p,
            Err(problems) => {
                for p in problems {
                    loaded
                        .problems
                        .push(Problem::new(format!("{PLAN_FILE}:{}", p.line), p.message));
                }
                return loaded;
            }
        };
        let script = |dir: &str, stem: &str, claimed: &mut HashSet<String>| {
            let rel = format!("{dir}/{stem}.sql");
            let entry = by_rel.get(&rel).copied();
            if entry.is_some() {
                claimed.insert(rel.clone());
            }
            (rel, entry)
        };
        for (i, change) in plan.changes.iter().enumerate() {
            // A reworked instance's scripts carry a tag: the first of its rework tags whose
            // deploy file exists, else the first (reported missing below), as sqitch does.
            let tag = (!change.rework_tags.is_empty()).then(|| {
                change
                    .rework_tags
                    .iter()
                    .find(|t| by_rel.contains_key(&format!("deploy/{}@{t}.sql", change.name)))
                    .unwrap_or(&change.rework_tags[0])
                    .clone()
            });
            let stem = change.qualified_name(tag.as_deref());
            let at = format!("{PLAN_FILE}:{}", change.line);
            let (deploy_rel, deploy) = script("deploy", &stem, &mut claimed);
            let (_, revert) = script("revert", &stem, &mut claimed);
            let (_, verify) = script("verify", &stem, &mut claimed);
            let Some(deploy) = deploy else {
                loaded.problems.push(Problem::new(
                    at,
                    format!(
                        "change `{stem}` has no deploy script {deploy_rel}; create it (`sqitch add {}` writes all three scripts) or remove the line from the plan",
                        change.name
                    ),
                ));
                continue;
            };
            let read = |entry: &Entry, problems: &mut Vec<Problem>| {
                let file = source_file(listing, entry, problems)?;
                let directives = directives_of(&file, 0..file.text().len(), &entry.rel, problems);
                Some((file, directives))
            };
            let Some((deploy_file, directives)) = read(deploy, &mut loaded.problems) else {
                continue;
            };
            let checksum = deploy_file.checksum().clone();
            let up = Script::whole(deploy_file, directives);
            let down = revert
                .and_then(|e| read(e, &mut loaded.problems))
                .map(|(f, d)| Script::whole(f, d));
            let verify = verify
                .and_then(|e| read(e, &mut loaded.problems))
                .map(|(f, d)| Script::whole(f, d))
                .filter(|v| !v.is_blank());
            let id = MigrationId {
                version: Some(
                    Version::parse(&(i + 1).to_string()).expect("a position is a version"),
                ),
                name: stem,
                shared_version: false,
            };
            let mut m = versioned(id, up, down, checksum);
            m.verify = verify;
            loaded.migrations.push(m);
        }
        for entry in listing.entries() {
            let rel = rel_key(&entry.rel);
            if claimed.contains(&rel) {
                continue;
            }
            // sqitch runs only the scripts its plan names; everything else in the project
            // (query and test scripts, docs, other directories) is not read.
            let in_script_dir = ["deploy/", "revert/", "verify/"]
                .iter()
                .any(|d| rel.starts_with(d));
            if in_script_dir && entry.name.ends_with(".sql") {
                loaded.warnings.push(Problem::new(
                    &entry.rel,
                    format!("this script belongs to no change of {PLAN_FILE}, so neither sqitch nor strata runs it; add its change to the plan (`sqitch add`) or delete it"),
                ));
            }
            loaded.ignored.push(PathBuf::from(&entry.rel));
        }
        loaded.sqitch = Some(plan);
        loaded
    }
}
