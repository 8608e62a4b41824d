//! `fresh`: the development reset. Drops what the selected sets' migrations created and applies
//! them again. It refuses unless the target is strata's own dev cluster or the user types the
//! database name, and it never touches other sets' schemas or the registry.

use super::{exit, Io};
use crate::app;
use crate::config::Settings;
use anyhow::{bail, Result};
use strata_pg::{quote_ident, Registry};
use strata_plan::Target;

/// Runs `fresh`.
pub async fn run(settings: &Settings, confirm: Option<&str>, io: &mut Io<'_>) -> Result<i32> {
    let sets = app::load_sets(settings)?;
    let err = &mut *io.err;
    let mut say = |m: &str| {
        let _ = writeln!(err, "{m}");
    };
    let db = app::database(settings, &mut say)?;
    let database = db.info.database();
    if !db.is_dev && confirm != Some(database.as_str()) {
        bail!("`strata fresh` drops every object the selected sets created in database `{database}` ({}); it runs without confirmation only on strata's dev cluster. If you mean it, run again with --confirm {database}", db.info.redacted());
    }
    // A set living in `public` shares it with every other schema-less set: resetting one
    // alone would drop the others' objects and leave their history claiming them.
    let selected: Vec<&str> = sets.iter().map(|s| s.spec.name.as_str()).collect();
    if sets.iter().any(|s| s.spec.schema.is_none()) {
        let others: Vec<&String> = settings
            .schemaless_sets
            .iter()
            .filter(|n| !selected.contains(&n.as_str()))
            .collect();
        if !others.is_empty() {
            bail!(
                "`strata fresh` would drop `public`, which set(s) {} share with the selected set; give each set its own `schema` in strata.toml, or run fresh for all sets at once (without --set)",
                others.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
            );
        }
    }
    let session = app::connect(&db).await?;
    let server_version = strata_pg::exec::server_version(&session).await?;
    let mut lock = app::lock(&db, settings, &mut say).await?;
    let registry = Registry::new(&settings.registry_schema);
    registry.ensure(&session.client).await?;
    lock.register(&registry).await?;
    let declared: Vec<String> = settings.declared_schemas.clone();
    for set in &sets {
        let targets: Vec<String> = match &set.spec.schema {
            Some(s) => vec![s.clone()],
            None => {
                session
                    .undeclared_schemas(&settings.registry_schema, &declared)
                    .await?
            }
        };
        let mut sql = String::from("BEGIN;\n");
        for schema in &targets {
            sql.push_str(&format!(
                "DROP SCHEMA IF EXISTS {} CASCADE;\n",
                quote_ident(schema)
            ));
        }
        if set.spec.schema.is_none() {
            // Put back the stock `public` schema, with the ownership and privileges of the
            // server's version (PostgreSQL 15 stopped granting CREATE to everyone).
            sql.push_str(
                "CREATE SCHEMA public;\nCOMMENT ON SCHEMA public IS 'standard public schema';\n",
            );
            if server_version >= 150000 {
                sql.push_str("ALTER SCHEMA public OWNER TO pg_database_owner;\nGRANT USAGE ON SCHEMA public TO PUBLIC;\n");
            } else {
                sql.push_str("GRANT ALL ON SCHEMA public TO PUBLIC;\n");
            }
        }
        let reset = async {
            session.run_script(&sql).await?;
            registry
                .forget_for_fresh(&session.client, &set.spec.name, &targets)
                .await?;
            session.run_script("COMMIT").await
        }
        .await;
        if let Err(e) = reset {
            let _ = session.run_script("ROLLBACK").await;
            return Err(anyhow::Error::new(e).context(format!(
                "cannot reset set `{}`; nothing was dropped",
                set.spec.name
            )));
        }
        writeln!(
            io.out,
            "set {}: dropped {}",
            set.spec.name,
            if targets.is_empty() {
                "nothing".to_string()
            } else {
                targets.join(", ")
            }
        )?;
    }
    lock.release().await?;
    drop(session);
    let code = crate::run::run(
        settings,
        Target::Up {
            to: None,
            steps: None,
        },
        false,
        io,
    )
    .await?;
    Ok(if code == exit::OK { exit::OK } else { code })
}
