//! Small readers over libpg_query's parse tree, so rules read like the SQL they look for
//! instead of like protobuf plumbing.

use pg_query::protobuf::{
    self, node::Node as N, AlterTableCmd, AlterTableType, ColumnDef, ConstrType, Constraint,
    RangeVar, TypeName,
};

/// The node inside an optional protobuf wrapper.
pub fn inner(node: &protobuf::Node) -> Option<&N> {
    node.node.as_ref()
}

/// The string values of a list of `String` nodes (qualified names, column lists).
pub fn strings(nodes: &[protobuf::Node]) -> Vec<String> {
    nodes
        .iter()
        .filter_map(|n| match inner(n) {
            Some(N::String(s)) => Some(s.sval.clone()),
            _ => None,
        })
        .collect()
}

/// A dotted name for messages (`app.orders`).
pub fn dotted(parts: &[String]) -> String {
    parts.join(".")
}

/// `schema.table` or `table`, as written.
pub fn rel_display(r: &RangeVar) -> String {
    crate::state::RelName::of(r).to_string()
}

/// Byte location of a node, when the parser recorded one.
pub fn loc(location: i32) -> Option<usize> {
    usize::try_from(location).ok()
}

/// The objects a `DROP` names, as relation names.
pub fn dropped_names(d: &protobuf::DropStmt) -> Vec<crate::state::RelName> {
    d.objects
        .iter()
        .filter_map(|o| match inner(o) {
            Some(N::List(l)) => crate::state::RelName::from_parts(&strings(&l.items)),
            _ => None,
        })
        .collect()
}

/// The commands of an `ALTER TABLE`.
pub fn alter_cmds(stmt: &protobuf::AlterTableStmt) -> impl Iterator<Item = &AlterTableCmd> {
    stmt.cmds.iter().filter_map(|c| match inner(c) {
        Some(N::AlterTableCmd(cmd)) => Some(&**cmd),
        _ => None,
    })
}

/// An `ALTER TABLE` command's kind.
pub fn subtype(cmd: &AlterTableCmd) -> AlterTableType {
    AlterTableType::try_from(cmd.subtype).unwrap_or(AlterTableType::Undefined)
}

/// The column definition of `ADD COLUMN`.
pub fn cmd_column(cmd: &AlterTableCmd) -> Option<&ColumnDef> {
    match cmd.def.as_deref().and_then(inner) {
        Some(N::ColumnDef(c)) => Some(c),
        _ => None,
    }
}

/// The constraint of `ADD CONSTRAINT`.
pub fn cmd_constraint(cmd: &AlterTableCmd) -> Option<&Constraint> {
    match cmd.def.as_deref().and_then(inner) {
        Some(N::Constraint(c)) => Some(c),
        _ => None,
    }
}

/// The constraints attached to a column definition.
pub fn column_constraints(col: &ColumnDef) -> impl Iterator<Item = &Constraint> {
    col.constraints.iter().filter_map(|c| match inner(c) {
        Some(N::Constraint(c)) => Some(&**c),
        _ => None,
    })
}

/// A constraint's kind.
pub fn contype(c: &Constraint) -> ConstrType {
    ConstrType::try_from(c.contype).unwrap_or(ConstrType::Undefined)
}

/// Column definitions and table constraints of a `CREATE TABLE`.
pub fn table_elements(stmt: &protobuf::CreateStmt) -> (Vec<&ColumnDef>, Vec<&Constraint>) {
    let mut columns = Vec::new();
    let mut constraints = Vec::new();
    for e in &stmt.table_elts {
        match inner(e) {
            Some(N::ColumnDef(c)) => columns.push(&**c),
            Some(N::Constraint(c)) => constraints.push(&**c),
            _ => {}
        }
    }
    (columns, constraints)
}

/// A column type as the linter compares them: the base name as PostgreSQL spells it
/// internally (`int4`, `varchar`, `timestamptz`), its modifiers, and whether it is an array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColType {
    /// Internal base name, lowercase.
    pub base: std::borrow::Cow<'static, str>,
    /// Integer modifiers (`varchar(20)` → `[20]`, `numeric(10,2)` → `[10, 2]`).
    pub mods: Box<[i64]>,
    /// `[]` given.
    pub array: bool,
}

/// Type names columns commonly have, shared instead of allocated per column: a long history
/// replayed into the schema state holds one entry per column of every table.
const COMMON_TYPES: &[&str] = &[
    "int2",
    "int4",
    "int8",
    "text",
    "varchar",
    "bpchar",
    "bool",
    "uuid",
    "json",
    "jsonb",
    "timestamp",
    "timestamptz",
    "date",
    "time",
    "timetz",
    "interval",
    "numeric",
    "float4",
    "float8",
    "bytea",
    "inet",
    "cidr",
    "serial",
    "bigserial",
    "smallserial",
    "serial4",
    "serial8",
    "serial2",
    "citext",
    "tsvector",
    "money",
    "oid",
    "char",
    "name",
    "xml",
];

/// A type name, borrowed from [`COMMON_TYPES`] when it is one of them.
fn intern(name: &str) -> std::borrow::Cow<'static, str> {
    match COMMON_TYPES.iter().find(|t| **t == name) {
        Some(t) => std::borrow::Cow::Borrowed(t),
        None => std::borrow::Cow::Owned(name.to_owned()),
    }
}

impl ColType {
    /// A type as the catalogs describe it: `pg_type.typname` and `pg_attribute.atttypmod`.
    pub fn from_catalog(typname: &str, typmod: i32, array: bool) -> ColType {
        let base = intern(typname.trim_start_matches('_'));
        let mods = match base.as_ref() {
            "varchar" | "bpchar" if typmod >= 4 => vec![i64::from(typmod - 4)],
            "numeric" if typmod >= 4 => {
                let packed = typmod - 4;
                vec![
                    i64::from((packed >> 16) & 0xffff),
                    i64::from(packed & 0xffff),
                ]
            }
            _ => Vec::new(),
        };
        ColType {
            base,
            mods: mods.into(),
            array,
        }
    }

    /// Reads a parsed type name.
    pub fn of(t: &TypeName) -> ColType {
        let base = match t.names.last().and_then(inner) {
            Some(N::String(s)) => intern(&s.sval.to_ascii_lowercase()),
            _ => std::borrow::Cow::Borrowed(""),
        };
        let mods = t
            .typmods
            .iter()
            .filter_map(|m| match inner(m) {
                Some(N::AConst(c)) => match &c.val {
                    Some(protobuf::a_const::Val::Ival(i)) => Some(i64::from(i.ival)),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        ColType {
            base,
            mods,
            array: !t.array_bounds.is_empty(),
        }
    }

    /// The type as a person writes it (`integer`, `varchar(20)`, `timestamp[]`).
    pub fn display(&self) -> String {
        let name = match self.base.as_ref() {
            "int2" => "smallint",
            "int4" => "integer",
            "int8" => "bigint",
            "bpchar" => "char",
            "float8" => "double precision",
            "float4" => "real",
            "bool" => "boolean",
            "timestamp" => "timestamp",
            "timestamptz" => "timestamptz",
            other => other,
        };
        let mods = if self.mods.is_empty() {
            String::new()
        } else {
            format!(
                "({})",
                self.mods
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            )
        };
        format!("{name}{mods}{}", if self.array { "[]" } else { "" })
    }

    /// True for the serial pseudo-types.
    pub fn is_serial(&self) -> bool {
        matches!(
            self.base.as_ref(),
            "serial" | "serial4" | "bigserial" | "serial8" | "smallserial" | "serial2"
        )
    }

    /// True for 16- and 32-bit integers (and their serials).
    pub fn is_small_int(&self) -> bool {
        matches!(
            self.base.as_ref(),
            "int2"
                | "int4"
                | "int"
                | "integer"
                | "smallint"
                | "serial"
                | "serial4"
                | "smallserial"
                | "serial2"
        )
    }
}

/// Visits every node below `node` (itself included) through its serialized form. libpg_query
/// has hundreds of node types; walking their JSON reaches all of them without a hand-written
/// visitor that silently misses new fields. `f` receives the node's type name and its fields.
pub fn visit(node: &N, f: &mut dyn FnMut(&str, &serde_json::Map<String, serde_json::Value>)) {
    if let Ok(value) = serde_json::to_value(node) {
        visit_value(&value, f);
    }
}

fn visit_value(
    value: &serde_json::Value,
    f: &mut dyn FnMut(&str, &serde_json::Map<String, serde_json::Value>),
) {
    match value {
        serde_json::Value::Object(map) => {
            if map.len() == 1 {
                if let Some((kind, serde_json::Value::Object(fields))) = map.iter().next() {
                    if kind.chars().next().is_some_and(char::is_uppercase) {
                        f(kind, fields);
                    }
                }
            }
            for v in map.values() {
                visit_value(v, f);
            }
        }
        serde_json::Value::Array(items) => {
            for v in items {
                visit_value(v, f);
            }
        }
        _ => {}
    }
}

/// The names of the functions called anywhere in `node`, with their locations.
pub fn function_calls(node: &N) -> Vec<(String, Option<usize>)> {
    let mut calls = Vec::new();
    visit(node, &mut |kind, fields| {
        if kind == "FuncCall" {
            let name = fields
                .get("funcname")
                .and_then(|v| v.as_array())
                .and_then(|parts| parts.last())
                .and_then(|p| p.pointer("/node/String/sval"))
                .and_then(|s| s.as_str())
                .unwrap_or_default()
                .to_ascii_lowercase();
            let at = fields
                .get("location")
                .and_then(serde_json::Value::as_i64)
                .and_then(|l| usize::try_from(l).ok());
            calls.push((name, at));
        }
    });
    calls
}

/// Every string constant in `node`, with its location.
pub fn string_constants(node: &N) -> Vec<(String, Option<usize>)> {
    let mut found = Vec::new();
    visit(node, &mut |kind, fields| {
        if kind == "AConst" {
            if let Some(s) = fields
                .get("val")
                .and_then(|v| v.pointer("/Sval/sval"))
                .and_then(|s| s.as_str())
            {
                let at = fields
                    .get("location")
                    .and_then(serde_json::Value::as_i64)
                    .and_then(|l| usize::try_from(l).ok());
                found.push((s.to_owned(), at));
            }
        }
    });
    found
}

/// For `CHECK (col IS NOT NULL)`: the column.
pub fn not_null_check_column(c: &Constraint) -> Option<String> {
    if contype(c) != ConstrType::ConstrCheck {
        return None;
    }
    match c.raw_expr.as_deref().and_then(inner) {
        Some(N::NullTest(t)) if t.nulltesttype == protobuf::NullTestType::IsNotNull as i32 => {
            match t.arg.as_deref().and_then(inner) {
                Some(N::ColumnRef(r)) => strings(&r.fields).last().cloned(),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Functions whose result changes per row: a column default calling one forces a table
/// rewrite when the column is added (PostgreSQL 11+ stores non-volatile defaults in the
/// catalog instead).
pub const VOLATILE_FUNCTIONS: &[&str] = &[
    "random",
    "gen_random_uuid",
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v4",
    "uuidv4",
    "uuidv7",
    "clock_timestamp",
    "timeofday",
    "nextval",
    "setseed",
    "gen_random_bytes",
];
