//! `validate`: the pre-deploy check. Files against history — edited, missing, out-of-order and
//! part-way migrations — plus every pending script parsed with PostgreSQL's grammar, without
//! applying anything.

use super::{exit, Io};
use crate::app;
use crate::config::Settings;
use anyhow::Result;
use serde_json::json;
use strata_pg::Registry;
use strata_plan::{State, Target};

/// Runs `validate`.
pub async fn run(settings: &Settings, io: &mut Io<'_>) -> Result<i32> {
    let mut sets = match app::load_sets(settings) {
        Ok(s) => s,
        Err(e) => {
            if settings.json {
                writeln!(
                    io.out,
                    "{}",
                    json!({"valid": false, "errors": [e.to_string()]})
                )?;
            }
            writeln!(io.err, "invalid: {e}")?;
            return Ok(exit::FINDINGS);
        }
    };
    let err = &mut *io.err;
    let mut say = |m: &str| {
        let _ = writeln!(err, "{m}");
    };
    let db = app::database(settings, &mut say)?;
    let session = app::connect(&db).await?;
    let registry = Registry::new(&settings.registry_schema);
    let mut findings = Vec::new();
    for set in &mut sets {
        let (_, plan) = app::plan_set(&session, &registry, set, &Target::Status, settings).await?;
        for f in &plan.findings {
            findings.push(json!({"set": set.spec.name, "migration": f.key, "state": f.state.as_str(), "message": f.message}));
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
                        strata_sql::ScriptProblemKind::Syntax => (
                            "syntax",
                            format!("{what} script {path}: {}", problem.message),
                        ),
                        kind => {
                            let at = script.locate(problem.offset.unwrap_or(0));
                            let state =
                                if kind == strata_sql::ScriptProblemKind::UnclosedTransaction {
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
                    findings.push(json!({
                        "set": set.spec.name, "migration": e.key, "state": state, "message": message
                    }));
                }
            }
        }
    }
    if settings.json {
        writeln!(
            io.out,
            "{}",
            json!({"valid": findings.is_empty(), "findings": findings})
        )?;
    } else if findings.is_empty() {
        writeln!(
            io.out,
            "valid: {} set(s) match their history; pending scripts parse",
            sets.len()
        )?;
    } else {
        for f in &findings {
            writeln!(
                io.out,
                "{} {} [{}]: {}",
                f["set"].as_str().unwrap_or(""),
                f["migration"].as_str().unwrap_or(""),
                f["state"].as_str().unwrap_or(""),
                f["message"].as_str().unwrap_or("")
            )?;
        }
        writeln!(io.out, "{} finding(s)", findings.len())?;
    }
    Ok(if findings.is_empty() {
        exit::OK
    } else {
        exit::FINDINGS
    })
}
