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
                let analysis = strata_sql::analyze(script.sql());
                if let Some(open) = strata_sql::unclosed_transaction(&analysis) {
                    let at = script.locate(analysis.statements[open].range.start);
                    findings.push(json!({
                        "set": set.spec.name, "migration": e.key, "state": "unclosed_transaction",
                        "message": format!("{what} script {}:{}:{}: BEGIN without COMMIT; psql would roll it back at the end of the file", script.file.path().display(), at.line, at.col)
                    }));
                }
                if let Some((i, message)) = strata_sql::unsupported_meta(&analysis) {
                    let at = script.locate(analysis.statements[i].range.start);
                    findings.push(json!({
                        "set": set.spec.name, "migration": e.key, "state": "unsupported_meta_command",
                        "message": format!("{what} script {}:{}:{}: {message}", script.file.path().display(), at.line, at.col)
                    }));
                }
                if let Some(msg) = analysis.syntax_error {
                    findings.push(json!({
                        "set": set.spec.name, "migration": e.key, "state": "syntax",
                        "message": format!("{} script {}: {msg}", what, script.file.path().display())
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
