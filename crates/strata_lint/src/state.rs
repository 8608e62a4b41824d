//! What the linter knows about the schema at each statement, built by replaying the set.
//!
//! The point is to tell new, empty tables from existing ones: an index, a constraint or a
//! rewrite on a table created in the same migration (or in an earlier migration that is not yet
//! applied) blocks nobody. The state also remembers column types (to tell rewriting type
//! changes from free ones), `NOT VALID` constraints waiting for validation, validated
//! `CHECK (col IS NOT NULL)` constraints, enum values added in the current transaction and
//! whether the script set its own `lock_timeout`.

use crate::ast::{self, ColType};
use pg_query::protobuf::{node::Node as N, AlterTableType, ObjectType};
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone)]
struct Table {
    created_unit: usize,
    fresh: bool,
    columns: HashMap<String, ColType>,
    validated_not_null: HashSet<String>,
}

#[derive(Debug, Clone)]
struct Index {
    created_unit: usize,
    fresh: bool,
}

/// A constraint added `NOT VALID` and not validated yet.
#[derive(Debug, Clone)]
pub struct NotValid {
    /// Migration that added it.
    pub unit: usize,
    /// Transaction (within that migration) that added it.
    pub tx: usize,
    /// Statement (0-based) that added it.
    pub statement: usize,
    /// For `CHECK (col IS NOT NULL)`: the column.
    pub not_null_column: Option<String>,
}

/// An enum value added by `ALTER TYPE ... ADD VALUE` inside a transaction.
#[derive(Debug, Clone)]
pub struct AddedEnumValue {
    /// The label.
    pub value: String,
    /// The enum type.
    pub type_name: String,
    /// Statement (0-based) that added it.
    pub statement: usize,
    /// Transaction that added it.
    pub tx: usize,
}

/// The replayed schema.
#[derive(Debug, Default)]
pub struct SchemaState {
    unit: usize,
    tables: HashMap<String, Table>,
    indexes: HashMap<String, Index>,
    schemas: HashMap<String, Index>,
    not_valid: HashMap<(String, String), NotValid>,
    enum_values: Vec<AddedEnumValue>,
    lock_timeout_set: bool,
}

/// Facts about the statement being applied to the state.
pub struct Applying<'a> {
    pub node: &'a N,
    pub statement: usize,
    pub in_tx: bool,
    pub tx: usize,
    pub pending: bool,
}

impl SchemaState {
    /// Starts a new migration.
    pub fn begin_unit(&mut self, unit: usize) {
        self.unit = unit;
        self.enum_values.clear();
        self.lock_timeout_set = false;
    }

    fn is_new(&self, created_unit: usize, fresh: bool) -> bool {
        created_unit == self.unit || fresh
    }

    /// True when the table was created in this migration or in a pending earlier one.
    pub fn table_is_new(&self, key: &str) -> bool {
        self.tables
            .get(key)
            .is_some_and(|t| self.is_new(t.created_unit, t.fresh))
    }

    /// True when the index was created in this migration or in a pending earlier one, or
    /// belongs to such a table.
    pub fn index_is_new(&self, name: &str) -> bool {
        self.indexes
            .get(name)
            .is_some_and(|i| self.is_new(i.created_unit, i.fresh))
    }

    /// True when the schema was created in this migration or in a pending earlier one.
    pub fn schema_is_new(&self, name: &str) -> bool {
        self.schemas
            .get(name)
            .is_some_and(|i| self.is_new(i.created_unit, i.fresh))
    }

    /// The column's type as the set declared it, when known.
    pub fn column_type(&self, table: &str, column: &str) -> Option<&ColType> {
        self.tables.get(table)?.columns.get(column)
    }

    /// True when a validated `CHECK (column IS NOT NULL)` exists on the table.
    pub fn has_validated_not_null_check(&self, table: &str, column: &str) -> bool {
        self.tables
            .get(table)
            .is_some_and(|t| t.validated_not_null.contains(column))
    }

    /// The pending `NOT VALID` constraint of that name on that table.
    pub fn not_valid(&self, table: &str, constraint: &str) -> Option<&NotValid> {
        self.not_valid
            .get(&(table.to_owned(), constraint.to_owned()))
    }

    /// Enum values added earlier in the current migration inside a transaction.
    pub fn enum_values_added(&self) -> &[AddedEnumValue] {
        &self.enum_values
    }

    /// True when the script ran `SET lock_timeout` to a non-zero value earlier in this
    /// migration.
    pub fn lock_timeout_set(&self) -> bool {
        self.lock_timeout_set
    }

    /// The current migration's index.
    pub fn unit(&self) -> usize {
        self.unit
    }

    fn add_table(&mut self, key: String, pending: bool) -> &mut Table {
        let unit = self.unit;
        self.tables.entry(key).or_insert(Table {
            created_unit: unit,
            fresh: pending,
            columns: HashMap::new(),
            validated_not_null: HashSet::new(),
        })
    }

    /// The table's entry, created as a pre-existing table when the set never created it (its
    /// columns and constraints are still worth remembering).
    fn table_mut(&mut self, key: &str) -> &mut Table {
        self.tables.entry(key.to_owned()).or_insert(Table {
            created_unit: usize::MAX,
            fresh: false,
            columns: HashMap::new(),
            validated_not_null: HashSet::new(),
        })
    }

    /// Records the effect of a statement (after the rules looked at it).
    pub fn apply(&mut self, s: &Applying<'_>) {
        match s.node {
            N::CreateStmt(c) => {
                let Some(rel) = &c.relation else { return };
                let (columns, constraints) = ast::table_elements(c);
                let table = self.add_table(ast::rel_key(rel), s.pending);
                for col in columns {
                    if let Some(t) = &col.type_name {
                        table.columns.insert(col.colname.clone(), ColType::of(t));
                    }
                }
                for con in constraints {
                    if let Some(column) = ast::not_null_check_column(con) {
                        if !con.skip_validation {
                            table.validated_not_null.insert(column);
                        }
                    }
                }
            }
            N::CreateTableAsStmt(c) => {
                if let Some(rel) = c.into.as_ref().and_then(|i| i.rel.as_ref()) {
                    self.add_table(ast::rel_key(rel), s.pending);
                }
            }
            N::IndexStmt(i) if !i.idxname.is_empty() => {
                self.indexes.insert(
                    i.idxname.clone(),
                    Index {
                        created_unit: self.unit,
                        fresh: s.pending,
                    },
                );
            }
            N::CreateSchemaStmt(c) if !c.schemaname.is_empty() => {
                self.schemas.insert(
                    c.schemaname.clone(),
                    Index {
                        created_unit: self.unit,
                        fresh: s.pending,
                    },
                );
            }
            N::AlterTableStmt(a) => self.apply_alter(a, s),
            N::RenameStmt(r) => {
                let kind = ObjectType::try_from(r.rename_type).unwrap_or(ObjectType::Undefined);
                match (kind, &r.relation) {
                    (ObjectType::ObjectTable, Some(rel)) => {
                        if let Some(t) = self.tables.remove(&ast::rel_key(rel)) {
                            self.tables.insert(r.newname.clone(), t);
                        }
                    }
                    (ObjectType::ObjectColumn, Some(rel)) => {
                        if let Some(t) = self.tables.get_mut(&ast::rel_key(rel)) {
                            if let Some(ty) = t.columns.remove(&r.subname) {
                                t.columns.insert(r.newname.clone(), ty);
                            }
                        }
                    }
                    (ObjectType::ObjectIndex, Some(rel)) => {
                        if let Some(i) = self.indexes.remove(&rel.relname) {
                            self.indexes.insert(r.newname.clone(), i);
                        }
                    }
                    _ => {}
                }
            }
            N::DropStmt(d) => {
                let kind = ObjectType::try_from(d.remove_type).unwrap_or(ObjectType::Undefined);
                for object in &d.objects {
                    let name = match ast::inner(object) {
                        Some(N::List(l)) => ast::strings(&l.items).last().cloned(),
                        _ => None,
                    };
                    let Some(name) = name else { continue };
                    match kind {
                        ObjectType::ObjectTable => {
                            self.tables.remove(&name);
                        }
                        ObjectType::ObjectIndex => {
                            self.indexes.remove(&name);
                        }
                        _ => {}
                    }
                }
            }
            N::AlterEnumStmt(e) if s.in_tx && !e.new_val.is_empty() => {
                self.enum_values.push(AddedEnumValue {
                    value: e.new_val.clone(),
                    type_name: ast::dotted(&ast::strings(&e.type_name)),
                    statement: s.statement,
                    tx: s.tx,
                });
            }
            N::VariableSetStmt(v) if v.name.eq_ignore_ascii_case("lock_timeout") => {
                let zero = v.args.iter().all(|a| match ast::inner(a) {
                    Some(N::AConst(c)) => match &c.val {
                        Some(pg_query::protobuf::a_const::Val::Ival(i)) => i.ival == 0,
                        Some(pg_query::protobuf::a_const::Val::Sval(s)) => {
                            let digits: String = s
                                .sval
                                .trim()
                                .chars()
                                .take_while(char::is_ascii_digit)
                                .collect();
                            !digits.is_empty() && digits.chars().all(|c| c == '0')
                        }
                        _ => false,
                    },
                    _ => false,
                });
                // `RESET lock_timeout` and `SET lock_timeout TO DEFAULT` have no arguments.
                self.lock_timeout_set = !v.args.is_empty() && !zero;
            }
            _ => {}
        }
    }

    fn apply_alter(&mut self, a: &pg_query::protobuf::AlterTableStmt, s: &Applying<'_>) {
        let Some(rel) = &a.relation else { return };
        let key = ast::rel_key(rel);
        let unit = self.unit;
        for cmd in ast::alter_cmds(a) {
            match ast::subtype(cmd) {
                AlterTableType::AtAddColumn => {
                    if let Some(col) = ast::cmd_column(cmd) {
                        if let Some(ty) = &col.type_name {
                            let ty = ColType::of(ty);
                            self.table_mut(&key).columns.insert(col.colname.clone(), ty);
                        }
                    }
                }
                AlterTableType::AtAlterColumnType => {
                    if let Some(col) = ast::cmd_column(cmd) {
                        if let Some(ty) = &col.type_name {
                            let ty = ColType::of(ty);
                            self.table_mut(&key).columns.insert(cmd.name.clone(), ty);
                        }
                    }
                }
                AlterTableType::AtDropColumn => {
                    if let Some(t) = self.tables.get_mut(&key) {
                        t.columns.remove(&cmd.name);
                        t.validated_not_null.remove(&cmd.name);
                    }
                }
                AlterTableType::AtAddConstraint => {
                    let Some(con) = ast::cmd_constraint(cmd) else {
                        continue;
                    };
                    let column = ast::not_null_check_column(con);
                    if con.skip_validation {
                        if !con.conname.is_empty() {
                            self.not_valid.insert(
                                (key.clone(), con.conname.clone()),
                                NotValid {
                                    unit,
                                    tx: s.tx,
                                    statement: s.statement,
                                    not_null_column: column,
                                },
                            );
                        }
                    } else if let Some(column) = column {
                        self.table_mut(&key).validated_not_null.insert(column);
                    }
                }
                AlterTableType::AtValidateConstraint => {
                    if let Some(nv) = self.not_valid.remove(&(key.clone(), cmd.name.clone())) {
                        if let Some(column) = nv.not_null_column {
                            self.table_mut(&key).validated_not_null.insert(column);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}
