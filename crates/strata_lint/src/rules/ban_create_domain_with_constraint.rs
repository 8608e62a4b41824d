//! Changing a domain constraint later re-checks every column of every table that uses the
//! domain, under locks; constraints on the columns themselves can be changed table by table.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "ban-create-domain-with-constraint",
    category: Category::Types,
    default: WARNING,
    gate: Gate::Advisory,
    summary: "CREATE DOMAIN with a CHECK or NOT NULL constraint",
    docs: docs!("ban-create-domain-with-constraint"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    let N::CreateDomainStmt(d) = cx.node else {
        return;
    };
    let check = d.constraints.iter().any(|c| {
        matches!(ast::inner(c), Some(N::Constraint(k))
            if matches!(ast::contype(k), ConstrType::ConstrCheck | ConstrType::ConstrNotnull))
    });
    if check {
        out.flag(
            cx.start(),
            format!(
                "domain `{}` has a constraint: changing it later scans every column using the domain",
                ast::dotted(&ast::strings(&d.domainname))
            ),
            "put CHECK constraints on the table columns instead",
        );
    }
}
