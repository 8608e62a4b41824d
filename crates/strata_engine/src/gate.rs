//! The lint gate in front of `up`: lints what the plans of all sets are about to apply, in
//! the order it will run, asks the database about the tables the findings name (do they exist,
//! how big are they, what are their columns), and decides which findings stop the run (see
//! [`strata_lint::apply_gate`]). Rendering the findings is the front end's.

use crate::error::EngineError;
use crate::load::LoadedSet;
use crate::settings::Settings;
use std::collections::HashMap;
use strata_lint::{GatePolicy, Options, Report, TableName, Unit};
use strata_plan::Step;

type Result<T, E = EngineError> = std::result::Result<T, E>;

/// What the gate decided.
#[derive(Debug)]
pub struct Gate {
    /// The findings that stop the run (empty when nothing does).
    pub blocking: Report,
    /// The findings that do not stop it here, printed as warnings.
    pub passed: Report,
    /// The first set with a blocking finding: the run stops before applying anything.
    pub blocked_set: Option<String>,
}

/// Runs the gate for `sets` about to run `plans`, with the linter options `base` (rule levels
/// and target version from the configuration; each set's timeouts are its own). `None` when
/// nothing is to be applied. Runs under the migration lock, after planning, so it sees exactly
/// what will run, before anything is applied.
pub async fn check(
    settings: &Settings,
    session: &strata_pg::Session,
    sets: &[LoadedSet],
    plans: &[strata_plan::Plan],
    mut base: Options,
) -> Result<Option<Gate>> {
    let units: Vec<Vec<Unit<'_>>> = sets
        .iter()
        .zip(plans)
        .map(|(set, plan)| pending_units(set, &plan.steps))
        .collect();
    if units.iter().all(Vec::is_empty) {
        return Ok(None);
    }
    if settings.lint.target_version.is_none() {
        base.target_version = major_version(session).await?;
    }
    let options: Vec<Options> = sets
        .iter()
        .map(|set| {
            let mut o = base.clone();
            o.lock_timeout_ms = duration_ms(&set.spec.lock_timeout, 5_000);
            o.statement_timeout_ms = duration_ms(&set.spec.statement_timeout, 0);
            o
        })
        .collect();
    let parts: Vec<(&[Unit<'_>], &Options)> = units
        .iter()
        .zip(&options)
        .map(|(u, o)| (u.as_slice(), o))
        .collect();
    // On a worker thread: with glibc, memory a thread frees stays with that thread's arena, and
    // the arena of a finished thread is handed to the next new one, the executor's parsing
    // thread; linted on the main thread, the schema state of a long pending list would stay
    // resident next to what the executor allocates afterwards.
    let first = std::thread::scope(|scope| {
        scope
            .spawn(|| strata_lint::lint_run(&parts))
            .join()
            .map_err(|_| EngineError::LinterPanicked)
    })?;
    let may_block = first
        .iter()
        .zip(&options)
        .any(|(report, o)| report.findings.iter().any(|f| strata_lint::may_block(f, o)));
    let mut policy = GatePolicy {
        min_table_bytes: settings.gate_min_table_bytes,
        sizes: HashMap::new(),
    };
    // Only when something could block: the pending migrations alone do not know the existing
    // tables, their sizes, columns and constraints; the database does.
    let mut reports = first;
    if may_block {
        reports = lint_with_catalog(session, &parts, reports).await?;
        policy.sizes = measure(session, &mut reports).await?;
    }
    let mut blocking = Report::default();
    let mut passed = Report::default();
    let mut blocked_set = None;
    for ((report, o), set) in reports.into_iter().zip(&options).zip(sets) {
        let gated = strata_lint::apply_gate(report.findings, o, &policy);
        if !gated.blocking.is_empty() && blocked_set.is_none() {
            blocked_set = Some(set.spec.name.as_str());
        }
        for (into, findings) in [(&mut blocking, gated.blocking), (&mut passed, gated.passed)] {
            into.findings.extend(findings);
            into.scripts += report.scripts;
            into.statements += report.statements;
        }
    }
    Ok(Some(Gate {
        blocking,
        passed,
        blocked_set: blocked_set.map(str::to_owned),
    }))
}

/// True when some plan applies a migration, which is what the gate lints.
pub fn applies_anything(plans: &[strata_plan::Plan]) -> bool {
    plans
        .iter()
        .any(|plan| !strata_plan::first_applies(&plan.steps).is_empty())
}

/// A set's timeout (as `pg_duration` wrote it) in milliseconds.
pub fn duration_ms(pg: &str, default: u64) -> u64 {
    strata_model::parse_duration_ms(pg).unwrap_or(default)
}

/// Writes into each finding the estimated row count of its table (the refusal shows it).
pub async fn attach_sizes(session: &strata_pg::Session, report: &mut Report) -> Result<()> {
    let tables = report.tables();
    if tables.is_empty() {
        return Ok(());
    }
    let sizes = strata_pg::estimates::table_row_estimates(session, &tables).await?;
    for f in &mut report.findings {
        f.table_rows = f.table_name.as_ref().and_then(|t| sizes.get(t)).copied();
    }
    Ok(())
}

/// Measures the tables the findings name (`None`: the database has no such table) and writes
/// each finding's size into it.
pub async fn measure(
    session: &strata_pg::Session,
    reports: &mut [Report],
) -> Result<HashMap<TableName, Option<u64>>> {
    let mut names: Vec<TableName> = reports.iter().flat_map(Report::tables).collect();
    names.sort();
    names.dedup();
    let found = strata_pg::estimates::relations(session, &names).await?;
    let sizes: HashMap<TableName, Option<u64>> = names
        .into_iter()
        .map(|n| {
            let bytes = found.get(&n).map(|r| r.table_bytes);
            (n, bytes)
        })
        .collect();
    for f in reports.iter_mut().flat_map(|r| r.findings.iter_mut()) {
        f.table_bytes = f
            .table_name
            .as_ref()
            .and_then(|t| sizes.get(t))
            .copied()
            .flatten();
    }
    Ok(sizes)
}

/// Lints again knowing what the database has for the relations the first pass flagged and the
/// tables the reported migrations create (`IF NOT EXISTS` on an existing table creates
/// nothing): whether they exist at all (`DROP INDEX IF EXISTS` of a missing index does
/// nothing), an index's table, and the tables' column types, proven non-null columns and
/// partitioning turn guesses into facts.
pub async fn lint_with_catalog(
    session: &strata_pg::Session,
    parts: &[(&[Unit<'_>], &Options)],
    first: Vec<Report>,
) -> Result<Vec<Report>> {
    let mut names: Vec<TableName> = first
        .iter()
        .flat_map(|r| r.tables().into_iter().chain(r.indexes()))
        .collect();
    for unit in parts
        .iter()
        .flat_map(|(units, _)| units.iter())
        .filter(|u| u.report)
    {
        let effects = strata_sql::objects::effects(&strata_sql::analyze(unit.script.sql()));
        for created in effects.created {
            if let strata_sql::objects::DbObject::Relation { schema, name } = created {
                names.push((schema, name));
            }
        }
    }
    names.sort();
    names.dedup();
    if names.is_empty() {
        return Ok(first);
    }
    let catalog = read_catalog(session, &names).await?;
    let options: Vec<Options> = parts
        .iter()
        .map(|(_, o)| {
            let mut o = (*o).clone();
            o.catalog = catalog.clone();
            o
        })
        .collect();
    let parts: Vec<(&[Unit<'_>], &Options)> = parts
        .iter()
        .zip(&options)
        .map(|((units, _), o)| (*units, o))
        .collect();
    Ok(strata_lint::lint_run(&parts))
}

/// What the database has of the named relations: which are missing, the tables of the
/// indexes, and the facts of the tables.
async fn read_catalog(
    session: &strata_pg::Session,
    names: &[TableName],
) -> Result<strata_lint::Catalog> {
    let found = strata_pg::estimates::relations(session, names).await?;
    let mut catalog = strata_lint::Catalog::default();
    let mut tables = Vec::new();
    for name in names {
        match found.get(name) {
            None => catalog.absent.push(name.clone()),
            Some(rel) if rel.kind == "i" || rel.kind == "I" => {
                catalog.indexes.push(strata_lint::CatalogIndex::new(
                    name.clone(),
                    rel.table.0.clone(),
                    rel.table.1.clone(),
                ));
                tables.push((Some(rel.table.0.clone()), rel.table.1.clone()));
            }
            Some(_) => tables.push(name.clone()),
        }
    }
    tables.sort();
    tables.dedup();
    let facts = strata_pg::estimates::table_facts(session, &tables).await?;
    catalog.tables = facts
        .into_iter()
        .map(|f| {
            let mut t = strata_lint::CatalogTable::new(f.schema, f.name);
            t.partitioned = f.partitioned;
            t.columns = f
                .columns
                .into_iter()
                .map(|(name, typname, typmod, array)| {
                    (
                        name,
                        strata_lint::ColType::from_catalog(&typname, typmod, array),
                    )
                })
                .collect();
            t.validated_not_null = f.proven_not_null;
            t
        })
        .collect();
    Ok(catalog)
}

/// The server's major version (`15` for 15.4), which version-dependent rules read.
pub async fn major_version(session: &strata_pg::Session) -> Result<u32> {
    let num = strata_pg::exec::server_version(session).await?;
    Ok(u32::try_from(num / 10_000).unwrap_or(0))
}

/// The migrations a plan applies from their first statement (a part-way one resumes where it
/// stopped, and its completed statements are not linted again).
fn pending_units<'a>(set: &'a LoadedSet, steps: &[Step]) -> Vec<Unit<'a>> {
    strata_plan::first_applies(steps)
        .into_iter()
        .map(|i| {
            let m = &set.migrations()[i];
            Unit {
                name: m.id.registry_key(),
                script: &m.up,
                pending: true,
                report: true,
            }
        })
        .collect()
}
