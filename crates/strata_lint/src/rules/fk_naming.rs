//! Foreign keys named `fk_<table>_<column>` say in an error message which relation failed.

use super::prelude::*;
use pg_query::protobuf::{Constraint, RangeVar};

pub(crate) static RULE: Rule = Rule {
    name: "fk-naming",
    category: Category::Conventions,
    default: OFF,
    gate: Gate::Advisory,
    summary: "foreign-key constraint names not of the form fk_<table>_<column> (opt-in)",
    docs: docs!("fk-naming"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    let mut found: Vec<(&RangeVar, Vec<String>, &Constraint)> = Vec::new();
    match cx.node {
        N::CreateStmt(c) => {
            let Some(rel) = &c.relation else { return };
            let (columns, constraints) = ast::table_elements(c);
            for col in columns {
                for k in ast::column_constraints(col) {
                    found.push((rel, vec![col.colname.clone()], k));
                }
            }
            for k in constraints {
                found.push((rel, ast::strings(&k.fk_attrs), k));
            }
        }
        N::AlterTableStmt(a) => {
            let Some(rel) = &a.relation else { return };
            for cmd in ast::alter_cmds(a) {
                if let Some(k) = ast::cmd_constraint(cmd) {
                    found.push((rel, ast::strings(&k.fk_attrs), k));
                }
                if let Some(col) = ast::cmd_column(cmd) {
                    for k in ast::column_constraints(col) {
                        found.push((rel, vec![col.colname.clone()], k));
                    }
                }
            }
        }
        _ => return,
    }
    for (rel, columns, k) in found {
        if ast::contype(k) != ConstrType::ConstrForeign {
            continue;
        }
        let expected = format!("fk_{}_{}", rel.relname, columns.join("_"));
        if k.conname == expected {
            continue;
        }
        out.flag(
            cx.at(k.location),
            if k.conname.is_empty() {
                format!("foreign key on `{}` has no name", ast::rel_display(rel))
            } else {
                format!(
                    "foreign key `{}` does not follow the naming convention",
                    k.conname
                )
            },
            format!("name it `{expected}` (CONSTRAINT {expected} FOREIGN KEY ...)"),
        );
    }
}
