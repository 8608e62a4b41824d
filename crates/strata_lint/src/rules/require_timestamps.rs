//! Audit columns `created_at` / `updated_at` on every table are a convention several reference
//! teams enforce by review; this makes the review automatic.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "require-timestamps",
    category: Category::Conventions,
    default: OFF,
    gate: Gate::Advisory,
    summary: "CREATE TABLE without created_at and updated_at columns (opt-in)",
    docs: docs!("require-timestamps"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    let N::CreateStmt(c) = cx.node else { return };
    let Some(rel) = &c.relation else { return };
    if c.partbound.is_some() || c.of_typename.is_some() || rel.relpersistence == "t" {
        return;
    }
    let (columns, _) = ast::table_elements(c);
    let missing: Vec<&str> = ["created_at", "updated_at"]
        .into_iter()
        .filter(|name| !columns.iter().any(|col| col.colname == *name))
        .collect();
    if !missing.is_empty() {
        out.flag(
            cx.start(),
            format!("table `{}` has no {} column", ast::rel_display(rel), missing.join(" or ")),
            "add created_at timestamptz NOT NULL DEFAULT now() and updated_at timestamptz NOT NULL DEFAULT now()",
        );
    }
}
