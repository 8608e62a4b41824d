//! `fresh`: the development reset. [`reset`] drops what the selected sets' migrations created
//! and forgets their history; the front end then applies them again as `up` does
//! ([`crate::migrate`]). It refuses unless the target is strata's own dev cluster or the user
//! typed the database name, and it never touches other sets' schemas or the registry.

use crate::ctx::Ctx;
use crate::database;
use crate::error::EngineError;
use crate::load;
use crate::settings::DbTarget;
use serde::Serialize;
use strata_pg::{quote_ident, Registry};

/// One set reset.
#[derive(Debug, Serialize)]
pub struct SetReset {
    /// The set.
    pub set: String,
    /// The schemas dropped (with everything in them).
    pub dropped: Vec<String>,
}

/// The script that drops `schemas` and, for a set without a schema of its own, puts back the
/// stock `public` schema with the ownership and privileges of the server's version
/// (PostgreSQL 15 stopped granting CREATE to everyone). It opens a transaction the caller
/// commits once the registry forgot the set.
fn reset_script(schemas: &[String], recreate_public: bool, server_version: i32) -> String {
    let mut sql = String::from("BEGIN;\n");
    for schema in schemas {
        sql.push_str(&format!(
            "DROP SCHEMA IF EXISTS {} CASCADE;\n",
            quote_ident(schema)
        ));
    }
    if recreate_public {
        sql.push_str(
            "CREATE SCHEMA public;\nCOMMENT ON SCHEMA public IS 'standard public schema';\n",
        );
        if server_version >= 150000 {
            sql.push_str("ALTER SCHEMA public OWNER TO pg_database_owner;\nGRANT USAGE ON SCHEMA public TO PUBLIC;\n");
        } else {
            sql.push_str("GRANT ALL ON SCHEMA public TO PUBLIC;\n");
        }
    }
    sql
}

/// Drops, set by set under the migration lock, every schema the selected sets own (for a set
/// without one: every schema no configured set declares, and `public`, which is put back
/// empty) and forgets their history, each set in one transaction. `confirm` must be the
/// database's name unless it is strata's dev cluster. `on_reset` is told each set as it is
/// reset; `say` receives lines about the run (the dev cluster, waiting for the lock).
pub async fn reset(
    ctx: &Ctx,
    db: &DbTarget,
    confirm: Option<&str>,
    on_reset: &mut impl FnMut(&SetReset),
) -> Result<Vec<SetReset>, EngineError> {
    let settings = &ctx.settings;
    let say: &mut (dyn FnMut(&str) + Send) = &mut ctx.notes();
    let sets = load::load_sets(settings)?;
    let db = database::database(db, settings, say)?;
    let name = db.info.database();
    if !db.is_dev && confirm != Some(name.as_str()) {
        return Err(EngineError::FreshUnconfirmed {
            database: name,
            target: db.info.redacted(),
        });
    }
    // A set living in `public` shares it with every other schema-less set: resetting one
    // alone would drop the others' objects and leave their history claiming them.
    let selected: Vec<&str> = sets.iter().map(|s| s.spec.name.as_str()).collect();
    if sets.iter().any(|s| s.spec.schema.is_none()) {
        let others: Vec<String> = settings
            .schemaless_sets
            .iter()
            .filter(|n| !selected.contains(&n.as_str()))
            .cloned()
            .collect();
        if !others.is_empty() {
            return Err(EngineError::FreshSharedPublic { others });
        }
    }
    let session = database::connect(&db).await?;
    let server_version = strata_pg::exec::server_version(&session).await?;
    let mut lock = database::lock(&db, settings, say).await?;
    let registry = Registry::new(&settings.registry_schema);
    registry.ensure(&session).await?;
    lock.register(&registry).await?;
    let mut resets = Vec::with_capacity(sets.len());
    for set in &sets {
        let targets: Vec<String> = match &set.spec.schema {
            Some(s) => vec![s.clone()],
            None => {
                session
                    .undeclared_schemas(&settings.registry_schema, &settings.declared_schemas)
                    .await?
            }
        };
        let sql = reset_script(&targets, set.spec.schema.is_none(), server_version);
        let reset = async {
            session.run_script(&sql).await?;
            registry
                .forget_for_fresh(&session, &set.spec.name, &targets)
                .await?;
            session.run_script("COMMIT").await
        }
        .await;
        if let Err(source) = reset {
            let _ = session.run_script("ROLLBACK").await;
            return Err(EngineError::FreshFailed {
                set: set.spec.name.clone(),
                source,
            });
        }
        let done = SetReset {
            set: set.spec.name.clone(),
            dropped: targets,
        };
        on_reset(&done);
        resets.push(done);
    }
    lock.release().await?;
    Ok(resets)
}

#[cfg(test)]
mod tests {
    use super::reset_script;

    #[test]
    fn public_comes_back_with_the_servers_own_privileges() {
        let schemas = ["app".to_owned(), "we\"ird".to_owned()];
        let old = reset_script(&schemas, true, 140011);
        assert!(old.starts_with("BEGIN;\nDROP SCHEMA IF EXISTS \"app\" CASCADE;\nDROP SCHEMA IF EXISTS \"we\"\"ird\" CASCADE;\n"), "{old}");
        assert!(
            old.ends_with("GRANT ALL ON SCHEMA public TO PUBLIC;\n"),
            "{old}"
        );
        let new = reset_script(&schemas, true, 150002);
        assert!(new.contains("OWNER TO pg_database_owner"), "{new}");
        assert!(!reset_script(&schemas, false, 150002).contains("CREATE SCHEMA"));
    }
}
