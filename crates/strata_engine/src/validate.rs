//! `validate`: the pre-deploy check. Files against history — edited, missing, out-of-order and
//! part-way migrations — plus every pending script checked as `strata_sql::script_problems`
//! checks it (PostgreSQL's grammar, unclosed transactions, meta-commands strata cannot run),
//! without applying anything.

use crate::ctx::Ctx;
use crate::error::EngineError;
use crate::settings::DbTarget;
use crate::{database, load, plan};
use serde::Serialize;
use strata_pg::Registry;
use strata_plan::{State, Target};
use strata_sql::ScriptProblemKind;

/// One problem `validate` reports.
#[derive(Debug, Clone, Serialize)]
pub struct ValidationFinding {
    /// The set.
    pub set: String,
    /// The migration's key.
    pub migration: String,
    /// What kind of problem: a plan state (`modified`, `missing`, ...) or `syntax`,
    /// `unclosed_transaction`, `unsupported_meta_command`.
    pub state: &'static str,
    /// What is wrong, with the file (and `line:col` where the check knows it).
    pub message: String,
}

/// What `validate` found.
#[derive(Debug)]
pub enum Validated {
    /// The files cannot be loaded: nothing was checked against the database.
    Unreadable(EngineError),
    /// The sets were checked.
    Checked {
        /// How many sets.
        sets: usize,
        /// Everything found, set by set.
        findings: Vec<ValidationFinding>,
    },
}

/// `validate --json`.
#[derive(Debug, Serialize)]
pub struct ValidateDocument {
    /// True when nothing was found.
    pub valid: bool,
    /// Why the files could not be loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<String>>,
    /// What was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub findings: Option<Vec<ValidationFinding>>,
}

impl From<&Validated> for ValidateDocument {
    fn from(validated: &Validated) -> ValidateDocument {
        match validated {
            Validated::Unreadable(e) => ValidateDocument {
                valid: false,
                errors: Some(vec![e.to_string()]),
                findings: None,
            },
            Validated::Checked { findings, .. } => ValidateDocument {
                valid: findings.is_empty(),
                errors: None,
                findings: Some(findings.clone()),
            },
        }
    }
}

/// Validates every selected set against its history in the database. `say` receives lines
/// about the run (the dev cluster).
pub async fn validate(ctx: &Ctx, db: &DbTarget) -> Result<Validated, EngineError> {
    let settings = &ctx.settings;
    let say: &mut (dyn FnMut(&str) + Send) = &mut ctx.notes();
    let mut sets = match load::load_sets(settings) {
        Ok(sets) => sets,
        Err(e) => return Ok(Validated::Unreadable(e)),
    };
    let db = database::database(db, settings, say)?;
    let session = database::connect(&db).await?;
    let registry = Registry::new(&settings.registry_schema);
    let mut findings = Vec::new();
    for set in &mut sets {
        let (_, plan) = plan::plan_set(&session, &registry, set, &Target::Status, settings).await?;
        for f in &plan.findings {
            findings.push(ValidationFinding {
                set: set.spec.name.clone(),
                migration: f.key.clone(),
                state: f.state.as_str(),
                message: f.message.clone(),
            });
        }
        for e in plan
            .entries
            .iter()
            .filter(|e| matches!(e.state, State::Pending | State::OutOfOrder))
        {
            let Some(i) = e.local else { continue };
            let m = &set.migrations()[i];
            // Code (goose `.go`, Flyway `.java`) is not parsed as SQL: `up` stops before it.
            if m.code_language().is_some() {
                continue;
            }
            for (what, script) in [("up", Some(&m.up)), ("down", m.down.as_ref())] {
                let Some(script) = script else { continue };
                for problem in strata_sql::script_problems(script.sql()) {
                    let path = script.file.path().display();
                    let (state, message) = match problem.kind {
                        // Without a location: the grammar does not say where.
                        ScriptProblemKind::Syntax => (
                            "syntax",
                            format!("{what} script {path}: {}", problem.message),
                        ),
                        kind => {
                            let at = script.locate(problem.offset.unwrap_or(0));
                            let state = if kind == ScriptProblemKind::UnclosedTransaction {
                                "unclosed_transaction"
                            } else {
                                "unsupported_meta_command"
                            };
                            (
                                state,
                                format!(
                                    "{what} script {path}:{}:{}: {}",
                                    at.line, at.col, problem.message
                                ),
                            )
                        }
                    };
                    findings.push(ValidationFinding {
                        set: set.spec.name.clone(),
                        migration: e.key.clone(),
                        state,
                        message,
                    });
                }
            }
        }
    }
    Ok(Validated::Checked {
        sets: sets.len(),
        findings,
    })
}
