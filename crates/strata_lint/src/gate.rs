//! The policy of the lint gate in front of `strata up`: which errors stop a run.
//!
//! `strata lint` reports every finding at its level, for review and CI. The gate runs on every
//! deploy, against the database it is about to change, and a refusal there is expensive: it
//! must stop only what is dangerous *there*. A lock or a rewrite is dangerous in proportion to
//! the table it holds, so those findings block only on a table that existed before the run and
//! is large (measured by the caller; this module stays pure); naming and style findings never
//! block unless the user raised them explicitly. Each rule says which kind it is
//! ([`crate::Gate`]).

use crate::{find_rule, Finding, Gate, Level, Options, Severity};
use std::collections::HashMap;

/// A table as a finding names it: schema when written, name.
pub type TableName = (Option<String>, String);

/// What the caller measured on the target database.
#[derive(Debug, Clone, Default)]
pub struct GatePolicy {
    /// Tables smaller than this many bytes do not stop `up` for a lock or a rewrite.
    pub min_table_bytes: u64,
    /// The tables looked up: `Some(bytes)` for one the database has, `None` for one it does
    /// not have (so nothing there can be held up).
    pub sizes: HashMap<TableName, Option<u64>>,
}

/// The gate's decision on a report.
#[derive(Debug, Clone, Default)]
pub struct Gated {
    /// Findings that stop `up`.
    pub blocking: Vec<Finding>,
    /// Errors of `strata lint` that do not stop `up` here, turned into warnings with a note
    /// saying why.
    pub passed: Vec<Finding>,
}

/// The gate's question before anything is measured: could this finding stop `up`? Cheap, so
/// the caller reads the catalog only when the answer is yes for some finding.
pub fn may_block(finding: &Finding, options: &Options) -> bool {
    let Some(rule) = find_rule(finding.rule) else {
        return false;
    };
    finding.severity == Severity::Error
        && match rule.gate {
            Gate::Executor => false,
            Gate::Advisory => explicit_error(rule, options),
            Gate::TableSize | Gate::Always => true,
        }
}

fn explicit_error(rule: &crate::Rule, options: &Options) -> bool {
    options.explicit_level(rule) == Some(Level::On(Severity::Error))
}

/// Sorts `findings` into those that stop `up` and errors that do not stop it here. Warnings
/// and findings the executor handles itself are dropped: the gate stays quiet about what never
/// stopped a run.
pub fn apply_gate(findings: Vec<Finding>, options: &Options, policy: &GatePolicy) -> Gated {
    let threshold = strata_model::format_byte_size(policy.min_table_bytes);
    let mut out = Gated::default();
    for mut f in findings {
        let Some(rule) = find_rule(f.rule) else {
            continue;
        };
        if f.severity != Severity::Error || rule.gate == Gate::Executor {
            continue;
        }
        match rule.gate {
            Gate::Advisory if !explicit_error(rule, options) => {
                f.severity = Severity::Warning;
                f.notes.push(format!(
                    "`strata up` does not stop for `{}` unless `[lint.rules]` in strata.toml sets it to \"error\"",
                    rule.name
                ));
                out.passed.push(f);
            }
            Gate::TableSize => {
                let measured = f
                    .table_name
                    .as_ref()
                    .and_then(|t| policy.sizes.get(t))
                    .copied();
                let shown = f.table.clone().unwrap_or_default();
                match measured {
                    // Nothing to measure (a statement on no table in particular), or not
                    // measured: the gate cannot tell it is harmless.
                    None => out.blocking.push(f),
                    Some(None) => {
                        f.severity = Severity::Warning;
                        f.notes.push(format!(
                            "the database has no table `{shown}` before this run: nothing there can be held up"
                        ));
                        out.passed.push(f);
                    }
                    Some(Some(bytes)) => {
                        f.table_bytes = Some(bytes);
                        let size = strata_model::format_byte_size(bytes);
                        if bytes >= policy.min_table_bytes {
                            f.notes.push(format!(
                                "`{shown}` is {size} on the target database ([lint] gate_min_table_size is {threshold})"
                            ));
                            out.blocking.push(f);
                        } else {
                            f.severity = Severity::Warning;
                            f.notes.push(format!(
                                "`{shown}` is {size} on the target database, below [lint] gate_min_table_size ({threshold}): `strata up` goes ahead"
                            ));
                            out.passed.push(f);
                        }
                    }
                }
            }
            _ => out.blocking.push(f),
        }
    }
    out
}
