//! An unqualified name lands in whatever schema `search_path` puts first on the day the
//! migration runs; teams that keep one schema per service want every object placed explicitly.

use super::prelude::*;

pub(crate) static RULE: Rule = Rule {
    name: "require-schema-qualified",
    category: Category::Robustness,
    default: OFF,
    gate: Gate::Advisory,
    summary: "objects created, altered or dropped without a schema qualifier (opt-in)",
    docs: docs!("require-schema-qualified"),
    check,
};

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    let relation = match cx.node {
        N::CreateStmt(c) => c.relation.as_ref(),
        N::IndexStmt(i) => i.relation.as_ref(),
        N::ViewStmt(v) => v.view.as_ref(),
        N::CreateSeqStmt(s) => s.sequence.as_ref(),
        N::AlterTableStmt(a) => a.relation.as_ref(),
        N::CreateTableAsStmt(c) => c.into.as_ref().and_then(|i| i.rel.as_ref()),
        N::CreateTrigStmt(t) => t.relation.as_ref(),
        N::CompositeTypeStmt(c) => c.typevar.as_ref(),
        N::AlterSeqStmt(a) => a.sequence.as_ref(),
        _ => None,
    };
    let single = |parts: Vec<String>| (parts.len() == 1).then(|| parts.join("."));
    let unqualified: Option<String> = match (cx.node, relation) {
        (_, Some(rel)) => rel.schemaname.is_empty().then(|| rel.relname.clone()),
        (N::CreateFunctionStmt(f), _) => single(ast::strings(&f.funcname)),
        (N::CreateEnumStmt(e), _) => single(ast::strings(&e.type_name)),
        (N::CreateDomainStmt(d), _) => single(ast::strings(&d.domainname)),
        (N::AlterFunctionStmt(f), _) => f
            .func
            .as_ref()
            .and_then(|o| single(ast::strings(&o.objname))),
        (N::DropStmt(d), _) => d.objects.iter().find_map(|o| match ast::inner(o) {
            Some(N::List(l)) => single(ast::strings(&l.items)),
            Some(N::ObjectWithArgs(f)) => single(ast::strings(&f.objname)),
            Some(N::TypeName(t)) => single(ast::strings(&t.names)),
            _ => None,
        }),
        _ => None,
    };
    if let Some(name) = unqualified {
        out.flag(
            cx.start(),
            format!("`{name}` is not schema-qualified: where it lands depends on search_path"),
            format!("write it as `<schema>.{name}`"),
        );
    }
}
