//! `ALTER DOMAIN ... ADD CONSTRAINT` validates every column of every table using the domain,
//! holding locks on all of them.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "ban-alter-domain-with-add-constraint",
    category: Category::Types,
    default: WARNING,
    gate: Gate::TableSize,
    summary: "ALTER DOMAIN ... ADD CONSTRAINT",
    docs: docs!("ban-alter-domain-with-add-constraint"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    let N::AlterDomainStmt(d) = cx.node else {
        return;
    };
    let is_check = matches!(d.def.as_deref().and_then(ast::inner),
        Some(N::Constraint(c)) if ast::contype(c) == ConstrType::ConstrCheck);
    if d.subtype != "C" || !is_check {
        return;
    }
    let not_valid = matches!(d.def.as_deref().and_then(ast::inner), Some(N::Constraint(c)) if c.skip_validation);
    out.flag(
        cx.start(),
        format!(
            "adding a constraint to domain `{}` locks every table with a column of that type (SHARE){}",
            ast::dotted(&ast::strings(&d.type_name)),
            if not_valid {
                "; NOT VALID only postpones the scan: VALIDATE CONSTRAINT takes the same locks"
            } else {
                " and scans all of them"
            }
        ),
        "put the CHECK constraint on the table columns instead, where NOT VALID + VALIDATE works table by table",
    );
}
