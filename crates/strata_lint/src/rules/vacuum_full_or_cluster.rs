//! `VACUUM FULL` and `CLUSTER` rewrite the whole table under an ACCESS EXCLUSIVE lock: no reads,
//! no writes until they finish.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "vacuum-full-or-cluster",
    category: Category::Locking,
    default: ERROR,
    gate: Gate::TableSize,
    summary: "VACUUM FULL or CLUSTER (full rewrite under ACCESS EXCLUSIVE)",
    docs: docs!("vacuum-full-or-cluster"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    let (what, table) = match cx.node {
        N::VacuumStmt(v)
            if v.is_vacuumcmd
                && v.options.iter().any(|o| {
                    matches!(ast::inner(o), Some(N::DefElem(d)) if d.defname.eq_ignore_ascii_case("full") && option_on(d))
                }) =>
        {
            let tables: Vec<_> = v
                .rels
                .iter()
                .filter_map(|r| match ast::inner(r) {
                    Some(N::VacuumRelation(vr)) => vr.relation.as_ref(),
                    _ => None,
                })
                .collect();
            if !tables.is_empty() && tables.iter().all(|t| cx.is_new(t)) {
                return;
            }
            // Several tables are rewritten one after another; the first existing one stands
            // for them when the finding is measured. None named: every table of the database.
            ("VACUUM FULL", tables.into_iter().find(|t| !cx.is_new(t)))
        }
        N::ClusterStmt(c) => {
            if c.relation.as_ref().is_some_and(|r| cx.is_new(r)) {
                return;
            }
            ("CLUSTER", c.relation.as_ref())
        }
        _ => return,
    };
    let message = format!("{what} rewrites the table under an ACCESS EXCLUSIVE lock: reads and writes wait until it finishes");
    let help = "use pg_repack or pg_squeeze outside migrations, or plain VACUUM; schedule a rewrite for a maintenance window";
    match table {
        Some(t) => out.flag_table(cx.start(), t, message, help),
        None => out.flag(cx.start(), message, help),
    }
}

/// `FULL`, `FULL true`, `FULL on`, `FULL 1` are on; `FULL false`/`off`/`0` are not.
fn option_on(d: &pg_query::protobuf::DefElem) -> bool {
    use pg_query::protobuf::a_const::Val;
    match d.arg.as_deref().and_then(ast::inner) {
        None => true,
        Some(N::Boolean(b)) => b.boolval,
        Some(N::String(s)) => !matches!(
            s.sval.to_ascii_lowercase().as_str(),
            "false" | "off" | "0" | "no"
        ),
        Some(N::Integer(i)) => i.ival != 0,
        Some(N::AConst(c)) => match &c.val {
            Some(Val::Boolval(b)) => b.boolval,
            Some(Val::Ival(i)) => i.ival != 0,
            Some(Val::Sval(s)) => !matches!(
                s.sval.to_ascii_lowercase().as_str(),
                "false" | "off" | "0" | "no"
            ),
            _ => true,
        },
        _ => true,
    }
}
