//! The database objects a script creates and drops, read from its parse tree.
//!
//! A database that a psql loop migrated has no history table; the only record of which
//! migrations ran is the schema itself. `strata adopt --infer` asks, migration by migration,
//! whether the objects it creates exist; this module says which objects those are. Only
//! named, catalog-visible objects count (tables, views, indexes, sequences, columns,
//! constraints, functions, types, schemas, extensions, triggers); data changes leave no
//! evidence.

use crate::Analysis;
use pg_query::protobuf::{self, node::Node as N, AlterTableType, ObjectType};

/// A named object that can be looked up in the catalogs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DbObject {
    /// A schema.
    Schema(String),
    /// An extension.
    Extension(String),
    /// A table, view, materialized view, sequence or index (`pg_class`).
    Relation {
        /// Schema, when qualified.
        schema: Option<String>,
        /// Name.
        name: String,
    },
    /// A column of a relation.
    Column {
        /// Schema of the table, when qualified.
        schema: Option<String>,
        /// Table.
        table: String,
        /// Column.
        column: String,
    },
    /// A named table constraint.
    Constraint {
        /// Schema of the table, when qualified.
        schema: Option<String>,
        /// Table.
        table: String,
        /// Constraint name.
        name: String,
    },
    /// A trigger on a table.
    Trigger {
        /// Schema of the table, when qualified.
        schema: Option<String>,
        /// Table.
        table: String,
        /// Trigger name.
        name: String,
    },
    /// A function or procedure (any overload).
    Function {
        /// Schema, when qualified.
        schema: Option<String>,
        /// Name.
        name: String,
    },
    /// A type (enum, composite, domain, range).
    Type {
        /// Schema, when qualified.
        schema: Option<String>,
        /// Name.
        name: String,
    },
}

impl std::fmt::Display for DbObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let q = |schema: &Option<String>, name: &str| match schema {
            Some(s) => format!("{s}.{name}"),
            None => name.to_owned(),
        };
        match self {
            DbObject::Schema(n) => write!(f, "schema {n}"),
            DbObject::Extension(n) => write!(f, "extension {n}"),
            DbObject::Relation { schema, name } => write!(f, "relation {}", q(schema, name)),
            DbObject::Column {
                schema,
                table,
                column,
            } => write!(f, "column {}.{column}", q(schema, table)),
            DbObject::Constraint {
                schema,
                table,
                name,
            } => write!(f, "constraint {name} on {}", q(schema, table)),
            DbObject::Trigger {
                schema,
                table,
                name,
            } => write!(f, "trigger {name} on {}", q(schema, table)),
            DbObject::Function { schema, name } => write!(f, "function {}", q(schema, name)),
            DbObject::Type { schema, name } => write!(f, "type {}", q(schema, name)),
        }
    }
}

impl DbObject {
    /// True when dropping `dropped` removes this object too: the object itself, a column,
    /// constraint or trigger of a dropped table, or anything in a dropped schema (`DROP
    /// SCHEMA ... CASCADE`; without CASCADE the drop fails unless the schema is empty).
    pub fn goes_with(&self, dropped: &DbObject) -> bool {
        if self == dropped {
            return true;
        }
        match (self, dropped) {
            (
                DbObject::Column { schema, table, .. }
                | DbObject::Constraint { schema, table, .. }
                | DbObject::Trigger { schema, table, .. },
                DbObject::Relation {
                    schema: dropped_schema,
                    name,
                },
            ) => table == name && schema == dropped_schema,
            (_, DbObject::Schema(dropped_schema)) => self.schema() == Some(dropped_schema),
            _ => false,
        }
    }

    /// The schema the object is qualified with, if any (a schema is not in one).
    fn schema(&self) -> Option<&String> {
        match self {
            DbObject::Schema(_) | DbObject::Extension(_) => None,
            DbObject::Relation { schema, .. }
            | DbObject::Column { schema, .. }
            | DbObject::Constraint { schema, .. }
            | DbObject::Trigger { schema, .. }
            | DbObject::Function { schema, .. }
            | DbObject::Type { schema, .. } => schema.as_ref(),
        }
    }
}

/// What a script does to named objects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects {
    /// Objects created (or renamed into existence), in statement order.
    pub created: Vec<DbObject>,
    /// Objects dropped (or renamed away).
    pub dropped: Vec<DbObject>,
}

fn schema_of(r: &protobuf::RangeVar) -> Option<String> {
    (!r.schemaname.is_empty()).then(|| r.schemaname.clone())
}

fn qualified(nodes: &[protobuf::Node]) -> (Option<String>, String) {
    let mut parts: Vec<String> = nodes
        .iter()
        .filter_map(|n| match &n.node {
            Some(N::String(s)) => Some(s.sval.clone()),
            _ => None,
        })
        .collect();
    let name = parts.pop().unwrap_or_default();
    (parts.pop(), name)
}

fn relation(r: &protobuf::RangeVar) -> DbObject {
    DbObject::Relation {
        schema: schema_of(r),
        name: r.relname.clone(),
    }
}

/// The objects a parsed script creates and drops. Statements the parser could not build a
/// tree for contribute nothing.
pub fn effects(analysis: &Analysis) -> Effects {
    let mut out = Effects::default();
    for s in &analysis.statements {
        if let Some(node) = &s.node {
            statement_effects(node, &mut out);
        }
    }
    out
}

fn statement_effects(node: &N, out: &mut Effects) {
    match node {
        N::CreateStmt(c) => {
            let Some(rel) = &c.relation else { return };
            out.created.push(relation(rel));
            for e in &c.table_elts {
                match &e.node {
                    Some(N::ColumnDef(col)) => out.created.push(DbObject::Column {
                        schema: schema_of(rel),
                        table: rel.relname.clone(),
                        column: col.colname.clone(),
                    }),
                    Some(N::Constraint(k)) if !k.conname.is_empty() => {
                        out.created.push(DbObject::Constraint {
                            schema: schema_of(rel),
                            table: rel.relname.clone(),
                            name: k.conname.clone(),
                        })
                    }
                    _ => {}
                }
            }
        }
        N::CreateTableAsStmt(c) => {
            if let Some(rel) = c.into.as_ref().and_then(|i| i.rel.as_ref()) {
                out.created.push(relation(rel));
            }
        }
        N::ViewStmt(v) => {
            if let Some(rel) = &v.view {
                out.created.push(relation(rel));
            }
        }
        N::CreateSeqStmt(s) => {
            if let Some(rel) = &s.sequence {
                out.created.push(relation(rel));
            }
        }
        N::IndexStmt(i) if !i.idxname.is_empty() => {
            out.created.push(DbObject::Relation {
                schema: i.relation.as_ref().and_then(schema_of),
                name: i.idxname.clone(),
            });
        }
        N::CreateSchemaStmt(s) if !s.schemaname.is_empty() => {
            out.created.push(DbObject::Schema(s.schemaname.clone()));
            for e in &s.schema_elts {
                if let Some(n) = &e.node {
                    statement_effects(n, out);
                }
            }
        }
        N::CreateExtensionStmt(e) => out.created.push(DbObject::Extension(e.extname.clone())),
        N::CreateFunctionStmt(f) => {
            let (schema, name) = qualified(&f.funcname);
            out.created.push(DbObject::Function { schema, name });
        }
        N::CreateEnumStmt(e) => {
            let (schema, name) = qualified(&e.type_name);
            out.created.push(DbObject::Type { schema, name });
        }
        N::CreateDomainStmt(d) => {
            let (schema, name) = qualified(&d.domainname);
            out.created.push(DbObject::Type { schema, name });
        }
        N::CompositeTypeStmt(c) => {
            if let Some(rel) = &c.typevar {
                out.created.push(DbObject::Type {
                    schema: schema_of(rel),
                    name: rel.relname.clone(),
                });
            }
        }
        N::CreateRangeStmt(r) => {
            let (schema, name) = qualified(&r.type_name);
            out.created.push(DbObject::Type { schema, name });
        }
        N::CreateTrigStmt(t) => {
            if let Some(rel) = &t.relation {
                out.created.push(DbObject::Trigger {
                    schema: schema_of(rel),
                    table: rel.relname.clone(),
                    name: t.trigname.clone(),
                });
            }
        }
        N::AlterTableStmt(a) => {
            let Some(rel) = &a.relation else { return };
            for cmd in &a.cmds {
                let Some(N::AlterTableCmd(cmd)) = &cmd.node else {
                    continue;
                };
                let kind =
                    AlterTableType::try_from(cmd.subtype).unwrap_or(AlterTableType::Undefined);
                let def = cmd.def.as_deref().and_then(|d| d.node.as_ref());
                match (kind, def) {
                    (AlterTableType::AtAddColumn, Some(N::ColumnDef(col))) => {
                        out.created.push(DbObject::Column {
                            schema: schema_of(rel),
                            table: rel.relname.clone(),
                            column: col.colname.clone(),
                        })
                    }
                    (AlterTableType::AtDropColumn, _) => out.dropped.push(DbObject::Column {
                        schema: schema_of(rel),
                        table: rel.relname.clone(),
                        column: cmd.name.clone(),
                    }),
                    (AlterTableType::AtAddConstraint, Some(N::Constraint(k)))
                        if !k.conname.is_empty() =>
                    {
                        out.created.push(DbObject::Constraint {
                            schema: schema_of(rel),
                            table: rel.relname.clone(),
                            name: k.conname.clone(),
                        })
                    }
                    (AlterTableType::AtDropConstraint, _) => {
                        out.dropped.push(DbObject::Constraint {
                            schema: schema_of(rel),
                            table: rel.relname.clone(),
                            name: cmd.name.clone(),
                        })
                    }
                    _ => {}
                }
            }
        }
        N::RenameStmt(r) => {
            let kind = ObjectType::try_from(r.rename_type).unwrap_or(ObjectType::Undefined);
            let Some(rel) = &r.relation else { return };
            match kind {
                ObjectType::ObjectTable
                | ObjectType::ObjectView
                | ObjectType::ObjectMatview
                | ObjectType::ObjectIndex
                | ObjectType::ObjectSequence => {
                    out.dropped.push(relation(rel));
                    out.created.push(DbObject::Relation {
                        schema: schema_of(rel),
                        name: r.newname.clone(),
                    });
                }
                ObjectType::ObjectColumn => {
                    out.dropped.push(DbObject::Column {
                        schema: schema_of(rel),
                        table: rel.relname.clone(),
                        column: r.subname.clone(),
                    });
                    out.created.push(DbObject::Column {
                        schema: schema_of(rel),
                        table: rel.relname.clone(),
                        column: r.newname.clone(),
                    });
                }
                _ => {}
            }
        }
        N::DropStmt(d) => {
            let kind = ObjectType::try_from(d.remove_type).unwrap_or(ObjectType::Undefined);
            for object in &d.objects {
                let names = match &object.node {
                    Some(N::List(l)) => qualified(&l.items),
                    Some(N::String(s)) => (None, s.sval.clone()),
                    Some(N::ObjectWithArgs(o)) => qualified(&o.objname),
                    Some(N::TypeName(t)) => qualified(&t.names),
                    _ => continue,
                };
                let (schema, name) = names;
                let dropped = match kind {
                    ObjectType::ObjectTable
                    | ObjectType::ObjectView
                    | ObjectType::ObjectMatview
                    | ObjectType::ObjectIndex
                    | ObjectType::ObjectSequence => DbObject::Relation { schema, name },
                    ObjectType::ObjectSchema => DbObject::Schema(name),
                    ObjectType::ObjectExtension => DbObject::Extension(name),
                    ObjectType::ObjectFunction | ObjectType::ObjectProcedure => {
                        DbObject::Function { schema, name }
                    }
                    ObjectType::ObjectType | ObjectType::ObjectDomain => {
                        DbObject::Type { schema, name }
                    }
                    _ => continue,
                };
                out.dropped.push(dropped);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(sql: &str) -> Effects {
        effects(&crate::analyze(sql))
    }

    #[test]
    fn creations_drops_and_renames_are_found() {
        let e = run("create schema app; create table app.t (id int, constraint t_pk primary key (id)); \
                     create index t_i on app.t (id); alter table app.t add column x int, drop column y; \
                     create function f() returns int language sql as $$ select 1 $$; \
                     create type mood as enum ('a'); create view v as select 1; \
                     alter table app.t rename to u; drop table old_t; drop function g(int);");
        let created: Vec<String> = e.created.iter().map(ToString::to_string).collect();
        assert_eq!(
            created,
            [
                "schema app",
                "relation app.t",
                "column app.t.id",
                "constraint t_pk on app.t",
                "relation app.t_i",
                "column app.t.x",
                "function f",
                "type mood",
                "relation v",
                "relation app.u",
            ]
        );
        let dropped: Vec<String> = e.dropped.iter().map(ToString::to_string).collect();
        assert_eq!(
            dropped,
            [
                "column app.t.y",
                "relation app.t",
                "relation old_t",
                "function g"
            ]
        );
    }
}
