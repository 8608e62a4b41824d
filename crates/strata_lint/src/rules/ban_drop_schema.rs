//! `DROP SCHEMA` (often with CASCADE) removes every object in it at once.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "ban-drop-schema",
    category: Category::Breaking,
    default: WARNING,
    gate: Gate::Always,
    summary: "DROP SCHEMA",
    docs: docs!("ban-drop-schema"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    let N::DropStmt(d) = cx.node else { return };
    if d.remove_type != ObjectType::ObjectSchema as i32 {
        return;
    }
    let names: Vec<String> = d
        .objects
        .iter()
        .filter_map(|o| match ast::inner(o) {
            Some(N::String(s)) => Some(s.sval.clone()),
            Some(N::List(l)) => Some(ast::dotted(&ast::strings(&l.items))),
            _ => None,
        })
        .filter(|name| !cx.state.schema_is_new(name))
        .collect();
    if names.is_empty() {
        return;
    }
    out.flag(
        cx.start(),
        format!(
            "DROP SCHEMA `{}`{} deletes every table and the data in it",
            names.join("`, `"),
            if d.behavior == pg_query::protobuf::DropBehavior::DropCascade as i32 { " CASCADE" } else { "" }
        ),
        "drop the objects one by one after the application stopped using them, or suppress with a reason",
    );
}
