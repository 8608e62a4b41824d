//! Since PostgreSQL 11, `ADD COLUMN ... DEFAULT <constant or stable expression>` only updates
//! the catalog. A volatile default (one value per row), a serial, an identity or a stored
//! generated column still rewrites the whole table under an ACCESS EXCLUSIVE lock.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "adding-field-with-default",
    category: Category::Locking,
    default: ERROR,
    gate: Gate::TableSize,
    summary: "ADD COLUMN that rewrites an existing table (volatile default, serial, identity, stored generated; any default before PostgreSQL 11)",
    docs: docs!("adding-field-with-default"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    let Some((rel, columns)) = cx.added_columns() else {
        return;
    };
    for col in columns {
        let mut why = None;
        if col
            .type_name
            .as_ref()
            .is_some_and(|t| ast::ColType::of(t).is_serial())
        {
            why = Some("a serial column fills every row from a sequence".to_owned());
        }
        for con in ast::column_constraints(col) {
            match ast::contype(con) {
                ConstrType::ConstrDefault => {
                    let Some(expr) = con.raw_expr.as_deref().and_then(ast::inner) else {
                        continue;
                    };
                    let volatile = ast::function_calls(expr)
                        .into_iter()
                        .find(|(name, _)| ast::VOLATILE_FUNCTIONS.contains(&name.as_str()));
                    if let Some((name, _)) = volatile {
                        why = Some(format!("the default calls volatile `{name}()`, so every row gets its own value"));
                    } else if cx.options.target_version < 11 && !is_null(expr) {
                        why = Some(format!(
                            "before PostgreSQL 11 (target is {}) any default is written into every row",
                            cx.options.target_version
                        ));
                    }
                }
                ConstrType::ConstrIdentity => {
                    why = Some("an identity column fills every row from a sequence".to_owned())
                }
                ConstrType::ConstrGenerated => {
                    why = Some("a stored generated column is computed for every row".to_owned())
                }
                _ => {}
            }
        }
        if let Some(why) = why {
            out.flag_table(
                cx.at(col.location),
                rel,
                format!(
                    "adding column `{}` rewrites the whole table `{}` under an ACCESS EXCLUSIVE lock: {why}",
                    col.colname,
                    ast::rel_display(rel)
                ),
                "add the column without the default (or with a constant one), backfill in batches, then SET DEFAULT",
            );
        }
    }
}

fn is_null(expr: &N) -> bool {
    matches!(expr, N::AConst(c) if c.isnull)
}
