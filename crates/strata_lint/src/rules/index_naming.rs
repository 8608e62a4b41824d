//! Predictable index names (`idx_<table>_<columns>`) make plans, lock reports and later
//! migrations readable; several reference teams mandate them.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "index-naming",
    category: Category::Conventions,
    default: OFF,
    gate: Gate::Advisory,
    summary: "index names not of the form idx_<table>_<column>[_<column>...] (opt-in)",
    docs: docs!("index-naming"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    let N::IndexStmt(i) = cx.node else { return };
    let Some(rel) = &i.relation else { return };
    let columns: Vec<Option<String>> = i
        .index_params
        .iter()
        .map(|p| match ast::inner(p) {
            Some(N::IndexElem(e)) if !e.name.is_empty() => Some(e.name.clone()),
            _ => None,
        })
        .collect();
    let prefix = format!("idx_{}_", rel.relname);
    let expected = if columns.iter().all(Option::is_some) {
        Some(format!(
            "{prefix}{}",
            columns.into_iter().flatten().collect::<Vec<_>>().join("_")
        ))
    } else {
        None
    };
    let ok = match &expected {
        Some(e) => i.idxname == *e,
        None => i.idxname.starts_with(&prefix),
    };
    if ok {
        return;
    }
    let shown = expected.unwrap_or_else(|| format!("{prefix}<what it indexes>"));
    out.flag(
        cx.start(),
        if i.idxname.is_empty() {
            format!("index on `{}` has no name", ast::rel_display(rel))
        } else {
            format!(
                "index `{}` does not follow the naming convention",
                i.idxname
            )
        },
        format!("name it `{shown}`"),
    );
}
