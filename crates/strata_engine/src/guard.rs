//! The checks that stand between a plan and running it twice.
//!
//! A migration strata applies is recorded under its set's key. Three ways exist to run an
//! applied migration again, and each is refused here, under the migration lock and before
//! anything runs: an unnamed set whose history names files this directory does not have
//! (another folder sharing the `default` key); a set with no history whose migrations another
//! strata set already records (a folder keyed by its path in an older strata, a second
//! `[[set]]` over the same directory); and migrations another tool's history table records
//! (golang-migrate, Flyway, goose, ...). The one safe automatic answer, an old path-keyed
//! history that holds exactly these files, is moved to the set's key with an event; every
//! other case stops with the command that settles it. A migration that is still the template
//! `strata new` wrote is refused here too: applied, it would be recorded with nothing in it.

use crate::adoption::applied_by_tool;
use crate::error::EngineError;
use crate::load::LoadedSet;
use crate::plan as planning;
use crate::settings::Settings;
use strata_pg::adopt::{self as foreign, Tool};
use strata_pg::{Registry, Session};
use strata_plan::{CodeStop, Identity, OtherHistory, Plan, Target};

type Result<T, E = EngineError> = std::result::Result<T, E>;

/// The options that select `set` again in a suggested command: `--set NAME` for a set of
/// strata.toml, else its directory (and its `--set` name when it was given one).
fn set_flag(settings: &Settings, set: &LoadedSet) -> String {
    if settings.configured_sets.contains(&set.spec.name) {
        return format!(" --set {}", set.spec.name);
    }
    let mut flag = format!(" --dir {}", set.spec.dir.display());
    if set.spec.named {
        flag.push_str(&format!(" --set {}", set.spec.name));
    }
    flag
}

/// What the checks decided for one set.
pub struct Checked {
    /// The plan to run: the one checked, or, when an old history is to be taken over, the
    /// plan made from that history; cut short before the first code migration.
    pub plan: Plan,
    /// The code migration the plan stops before, for the caller to report.
    pub stop: Option<CodeStop>,
    /// An old history (its key and rows) to move to this set's key once every set's checks
    /// and the lint gate have passed, before anything runs (see [`take_over`]).
    pub take_over: Option<(String, u64)>,
}

/// Runs the checks for one set whose `plan` was made from a history of `history_rows` rows.
/// Nothing is written: a history to take over is only named (see [`Checked::take_over`]).
pub async fn check(
    session: &Session,
    registry: &Registry,
    settings: &Settings,
    set: &mut LoadedSet,
    target: &Target,
    plan: Plan,
    history_rows: u64,
) -> Result<Checked> {
    if plan.first_applies().is_empty() {
        return Ok(Checked {
            plan,
            stop: None,
            take_over: None,
        });
    }
    let (mut plan, take_over) = if history_rows > 0 {
        refuse_foreign_rows(set, &plan)?;
        (plan, None)
    } else {
        old_history(session, registry, settings, set, target, plan).await?
    };
    let stop = strata_plan::stop_at_code(&mut plan, set.migrations());
    if !plan.first_applies().is_empty() {
        strata_plan::refuse_templates(&plan, set.migrations()).map_err(|refusal| {
            EngineError::Template {
                set: set.spec.name.clone(),
                refusal,
            }
        })?;
        if !settings.ignore_foreign {
            refuse_other_tools(session, registry, settings, set, &plan).await?;
        }
    }
    Ok(Checked {
        plan,
        stop,
        take_over,
    })
}

/// Moves the old history `from` to `set`'s key (see [`Checked::take_over`]) and says so.
/// Call with the migration lock held, after the lint gate.
pub async fn take_over(
    session: &Session,
    registry: &Registry,
    set: &LoadedSet,
    from: &str,
    say: &mut (dyn FnMut(&str) + Send),
) -> Result<()> {
    let moved = registry
        .move_history(
            session,
            from,
            &set.spec.name,
            "the unnamed set's history was keyed by its directory path; strata now keys it `default`",
        )
        .await?;
    say(&format!(
        "set {}: took over the history recorded as `{from}` ({moved} row(s), every one matching these files; an older strata keyed unnamed sets by their path); nothing runs again",
        set.spec.name
    ));
    Ok(())
}

/// What a dry run says of a history it would take over.
pub fn take_over_preview(set: &LoadedSet, from: &str, rows: u64) -> String {
    format!(
        "set {}: would take over the history recorded as `{from}` ({rows} row(s), every one matching these files; an older strata keyed unnamed sets by their path); nothing would run again",
        set.spec.name
    )
}

/// What `up` says when it stopped before a code migration: which one, and the way on.
pub fn code_stop_message(
    settings: &Settings,
    set: &LoadedSet,
    stop: &CodeStop,
    dry_run: bool,
) -> String {
    let flag = set_flag(settings, set);
    format!(
        "set `{name}`: {stopped} before migration {key} ({path}), a {language} migration, which only its own code can run ({done} migration(s) before it {applied}). Run that migration's code yourself (with goose or Flyway only once their own history records every earlier version, or they run those again), then record it with `strata{flag} baseline {version}` (or `strata{flag} adopt --apply` when the tool's history records it); the next `strata{flag} up` goes on after it.",
        name = set.spec.name,
        stopped = if dry_run { "up would stop" } else { "stopped" },
        key = stop.key,
        path = stop.path.display(),
        language = stop.language,
        done = stop.applied_before,
        applied = if dry_run { "would be applied" } else { "were applied" },
        version = stop.version,
    )
}

/// An unnamed set whose history records migrations this directory does not have: that is
/// another folder's history (two unnamed sets share the `default` key), and applying these
/// files would merge them into it.
fn refuse_foreign_rows(set: &LoadedSet, plan: &Plan) -> Result<()> {
    if set.spec.named {
        return Ok(());
    }
    let disagreement = strata_plan::disagreement(plan);
    if disagreement.missing.is_empty() {
        return Ok(());
    }
    let edited = if disagreement.modified.is_empty() {
        String::new()
    } else {
        format!(
            ", and {} have a file with other contents ({})",
            disagreement.modified.len(),
            shortened(&disagreement.modified)
        )
    };
    Err(EngineError::HistoryRefused {
            set: set.spec.name.clone(),
            message: format!(
        "set `{name}` (the unnamed set) has a history in this database that does not match {dir}: {n} applied migration(s) have no file there ({keys}){edited}, so it looks like the history of another folder of migrations. Nothing was applied.\n\
         If {dir} is a second set of migrations in this database, give it a name of its own: `strata --dir {dir} --set NAME up`, or a `[[set]]` with `name` in strata.toml. If it is the same set on another branch or checkout, restore the missing files first.",
        name = set.spec.name,
        dir = set.spec.dir.display(),
        n = disagreement.missing.len(),
        keys = shortened(&disagreement.missing),
    ),
        })
}

/// Planning's `result` for `set` and `target`. When planning for `up` or `goto` failed (an applied migration's file changed)
/// for an unnamed set whose history also names files this directory lacks, the files are most
/// likely another folder's, and the error says that instead.
pub async fn explain<T>(
    result: Result<T>,
    session: &Session,
    registry: &Registry,
    settings: &Settings,
    set: &mut LoadedSet,
    target: &Target,
) -> Result<T> {
    let Err(error) = result else {
        return result;
    };
    // Only verbs that apply: a revert's own error (its file is missing) says it better.
    if set.spec.named || !matches!(target, Target::Up { .. } | Target::Goto(_)) {
        return Err(error);
    }
    match planning::plan_set(session, registry, set, &Target::Status, settings).await {
        Ok((_, plan)) => refuse_foreign_rows(set, &plan).and(Err(error)),
        Err(_) => Err(error),
    }
}

/// The first few of `items`, and how many more there are.
fn shortened(items: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        text.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    text
}

/// The registry's other histories that record some of `set`'s migrations.
pub async fn other_histories(
    session: &Session,
    registry: &Registry,
    set: &LoadedSet,
) -> Result<Vec<OtherHistory>> {
    let migrations = set.migrations();
    let keys: Vec<String> = migrations.iter().map(|m| m.id.registry_key()).collect();
    let checksums: Vec<String> = migrations.iter().map(|m| m.checksum.hex.clone()).collect();
    // A dbmate/goose file was recorded by an older strata with its whole file's checksum.
    let earlier: Vec<String> = migrations
        .iter()
        .map(|m| match m.checksum.algorithm {
            strata_model::ChecksumAlgorithm::Sha256LfUp if !m.up.file.is_deferred() => {
                m.up.file.checksum().hex.clone()
            }
            _ => m.checksum.hex.clone(),
        })
        .collect();
    Ok(registry
        .other_histories(session, &set.spec.name, &keys, &checksums, &earlier)
        .await?)
}

/// How other histories are listed in messages.
pub fn describe(candidates: &[OtherHistory]) -> String {
    candidates
        .iter()
        .map(|c| {
            format!(
                "`{}` ({} of its {} row(s) match these files)",
                c.set, c.matching, c.rows
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A set with no history: first make sure no other set's history already records these
/// files. Returns the plan to run and, when an old history is this set's, its key and rows
/// (the plan is then made from that history, so nothing it records runs again).
async fn old_history(
    session: &Session,
    registry: &Registry,
    settings: &Settings,
    set: &mut LoadedSet,
    target: &Target,
    plan: Plan,
) -> Result<(Plan, Option<(String, u64)>)> {
    let others = other_histories(session, registry, set).await?;
    match strata_plan::identity_of(set.spec.named, &settings.configured_sets, &others) {
        Identity::Fresh => Ok((plan, None)),
        Identity::Move { from, rows } => {
            let applied = planning::read_history(session, registry, &from).await?;
            let plan = planning::plan_with_rows(session, registry, set, target, settings, &applied)
                .await?;
            Ok((plan, Some((from, rows))))
        }
        Identity::Refuse { .. } if settings.ignore_foreign => Ok((plan, None)),
        Identity::Refuse { candidates } => {
            let flag = set_flag(settings, set);
            Err(EngineError::HistoryRefused {
            set: set.spec.name.clone(),
            message: format!(
                "set `{name}` has no history in this database, but {n} other strata histor{ies} already {verb} these migrations with the same checksums: {list}. Applying them now would run them a second time. Nothing was applied.\n\
                 If one of them is this set's history under an older name, move it: `strata{flag} adopt --from-set {first} --apply` (without --apply it shows what would move). If this set really is separate and only shares the files (another schema), run again with `--ignore-foreign`.",
                name = set.spec.name,
                n = candidates.len(),
                ies = if candidates.len() == 1 { "y" } else { "ies" },
                verb = if candidates.len() == 1 { "records" } else { "record" },
                list = describe(&candidates),
                first = candidates[0].set,
            ),
        })
        }
    }
}

/// Migrations this run would apply that another tool's history already records.
async fn refuse_other_tools(
    session: &Session,
    registry: &Registry,
    settings: &Settings,
    set: &LoadedSet,
    plan: &Plan,
) -> Result<()> {
    // What this run applies that strata has no record of (a `redo` applies a migration
    // strata recorded; that one ran under strata, whatever another table says).
    let recorded: std::collections::HashSet<usize> = plan
        .entries
        .iter()
        .filter(|e| e.applied.is_some())
        .filter_map(|e| e.local)
        .collect();
    let applying: Vec<usize> = plan
        .first_applies()
        .into_iter()
        .filter(|i| !recorded.contains(i))
        .collect();
    if applying.is_empty() {
        return Ok(());
    }
    let found = foreign::detect(session, set.spec.schema.as_deref(), registry).await?;
    if found.is_empty() {
        return Ok(());
    }
    let adopted = registry.adopted_tables(session, &set.spec.name).await?;
    let is_sqitch = set.set.sqitch.is_some();
    for (tool, schema) in found
        .iter()
        .filter(|(tool, _)| (*tool == Tool::Sqitch) == is_sqitch)
    {
        // A table of that name the project made for itself may not have the tool's columns;
        // it is no history, so it does not stop anything.
        let Ok(history) = foreign::read(session, *tool, schema).await else {
            continue;
        };
        if adopted.contains(&history.table) {
            continue;
        }
        let recorded: Vec<String> = applied_by_tool(set, &history)
            .into_iter()
            .filter(|i| applying.contains(i))
            .map(|i| set.migrations()[i].id.to_string())
            .collect();
        if recorded.is_empty() {
            continue;
        }
        let flag = set_flag(settings, set);
        return Err(EngineError::HistoryRefused {
            set: set.spec.name.clone(),
            message: format!(
            "set `{name}`: {tool}'s history in {table} records {n} migration(s) this run would apply ({list}), and strata has no record of them: they ran already, under {tool}. Applying them again would run them twice. Nothing was applied.\n\
             Take over that history first: `strata{flag} adopt --from {tool} --apply` (without --apply it shows what it would record), then `strata{flag} up`. If that table is not this set's history, run again with `--ignore-foreign`.",
            name = set.spec.name,
            tool = tool.name(),
            table = history.table,
            n = recorded.len(),
            list = shortened(&recorded),
        ),
        });
    }
    Ok(())
}
