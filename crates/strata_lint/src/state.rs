//! What the linter knows about the schema at each statement, built by replaying the set.
//!
//! The point is to tell new, empty tables from existing ones: an index, a constraint or a
//! rewrite on a table created in the same migration (or in an earlier migration that is not yet
//! applied) blocks nobody. The state also remembers column types (to tell rewriting type
//! changes from free ones), `NOT VALID` constraints waiting for validation, validated
//! `CHECK (col IS NOT NULL)` constraints, partitioned tables, enum values added in the current
//! transaction and whether the script set its own `lock_timeout`. Callers with a connection seed
//! it with the [`Catalog`] of the tables involved, so an `up` that lints only its pending
//! migrations still knows the existing tables' columns and constraints.
//!
//! A caller with a connection also says which of the names it looked up the database does not
//! have, so `DROP INDEX IF EXISTS` of an index that is not there is known to be a no-op, and
//! which table an existing index belongs to. Within a migration the state follows what the
//! statements do to the data as far as it matters: a table emptied by `DELETE` or `TRUNCATE`
//! earlier in the same transaction has no rows for a new `NOT NULL` column to fail on.
//!
//! Tables are keyed by schema and name. A name written without a schema matches the table of
//! that name created without one, else any table of that name; it counts as new only when
//! every such table is new.

use crate::ast::{self, ColType};
use pg_query::protobuf::{node::Node as N, AlterTableType, ConstrType, ObjectType, RangeVar};
use std::collections::{HashMap, HashSet};

/// A relation name as written: optional schema, name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelName {
    /// Schema, when qualified.
    pub schema: Option<String>,
    /// Name.
    pub name: String,
}

impl RelName {
    /// The name of a parsed relation reference.
    pub fn of(r: &RangeVar) -> RelName {
        RelName {
            schema: (!r.schemaname.is_empty()).then(|| r.schemaname.clone()),
            name: r.relname.clone(),
        }
    }

    /// From a dotted name's parts (`["app", "orders"]`).
    pub fn from_parts(parts: &[String]) -> Option<RelName> {
        let (name, rest) = parts.split_last()?;
        Some(RelName {
            schema: rest.last().cloned(),
            name: name.clone(),
        })
    }
}

impl std::fmt::Display for RelName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.schema {
            Some(schema) => write!(f, "{schema}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Facts about tables that exist on the target database, read from its catalogs.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Catalog {
    /// The tables.
    pub tables: Vec<CatalogTable>,
    /// Existing indexes, with their tables.
    pub indexes: Vec<CatalogIndex>,
    /// Relations (tables or indexes) the caller looked up and the database does not have, as
    /// the migrations write them (schema when written, name).
    pub absent: Vec<(Option<String>, String)>,
}

/// One existing index.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CatalogIndex {
    /// The index's name as the migrations write it (schema when written, name).
    pub name: (Option<String>, String),
    /// Its table's schema.
    pub table_schema: String,
    /// Its table's name.
    pub table: String,
}

impl CatalogIndex {
    /// An index (named as the migrations write it) of a table.
    pub fn new(
        name: (Option<String>, String),
        table_schema: impl Into<String>,
        table: impl Into<String>,
    ) -> CatalogIndex {
        CatalogIndex {
            name,
            table_schema: table_schema.into(),
            table: table.into(),
        }
    }
}

/// One existing table.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CatalogTable {
    /// Its schema.
    pub schema: String,
    /// Its name.
    pub name: String,
    /// `PARTITION BY` table.
    pub partitioned: bool,
    /// Columns and their types.
    pub columns: Vec<(String, ColType)>,
    /// Columns proven non-null by a validated `CHECK (col IS NOT NULL)`.
    pub validated_not_null: Vec<String>,
}

impl CatalogTable {
    /// A table with no known columns.
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> CatalogTable {
        CatalogTable {
            schema: schema.into(),
            name: name.into(),
            partitioned: false,
            columns: Vec::new(),
            validated_not_null: Vec::new(),
        }
    }
}

/// Where something was created: a migration (and whether it is pending), or before the set.
#[derive(Debug, Clone, Copy)]
struct Origin {
    unit: u32,
    fresh: bool,
}

impl Origin {
    const EXISTING: Origin = Origin {
        unit: u32::MAX,
        fresh: false,
    };
}

/// A table's columns: a few per table, and a replayed history holds every table, so a plain
/// vector (no hash table per table) keeps the state small.
#[derive(Debug, Clone, Default)]
struct Columns(Vec<(Box<str>, Option<ColType>, Origin)>);

impl Columns {
    fn position(&self, name: &str) -> Option<usize> {
        self.0.iter().position(|(n, _, _)| &**n == name)
    }

    fn get(&self, name: &str) -> Option<(&Option<ColType>, Origin)> {
        self.position(name).map(|i| (&self.0[i].1, self.0[i].2))
    }

    fn insert(&mut self, name: &str, ty: Option<ColType>, origin: Origin) {
        match self.position(name) {
            Some(i) => self.0[i] = (name.into(), ty, origin),
            None => self.0.push((name.into(), ty, origin)),
        }
    }

    fn remove(&mut self, name: &str) -> Option<(Option<ColType>, Origin)> {
        self.position(name).map(|i| {
            let (_, ty, origin) = self.0.swap_remove(i);
            (ty, origin)
        })
    }

    fn iter(&self) -> impl Iterator<Item = (&str, &Option<ColType>)> {
        self.0.iter().map(|(n, ty, _)| (&**n, ty))
    }
}

#[derive(Debug, Clone)]
struct Table {
    origin: Origin,
    partitioned: bool,
    columns: Columns,
    /// Few per table, usually none: a vector, not a hash set per table.
    validated_not_null: Vec<Box<str>>,
}

impl Table {
    fn prove_not_null(&mut self, column: &str) {
        if !self.validated_not_null.iter().any(|c| &**c == column) {
            self.validated_not_null.push(column.into());
        }
    }

    fn new(origin: Origin) -> Table {
        Table {
            origin,
            partitioned: false,
            columns: Columns::default(),
            validated_not_null: Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
struct Index {
    origin: Origin,
    table: Option<RelName>,
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
    /// A foreign key (SHARE ROW EXCLUSIVE) rather than a CHECK (ACCESS EXCLUSIVE).
    pub foreign_key: bool,
}

/// An enum value added by `ALTER TYPE ... ADD VALUE` inside a transaction.
#[derive(Debug, Clone)]
pub struct AddedEnumValue {
    /// The label.
    pub value: String,
    /// The enum type's name (without schema).
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
    tables: HashMap<RelName, Table>,
    /// Schemas under which each table name is known, to resolve unqualified names.
    by_name: HashMap<String, Vec<Option<String>>>,
    indexes: HashMap<String, Index>,
    schemas: HashMap<String, Origin>,
    databases: HashMap<String, Origin>,
    not_valid: HashMap<(RelName, String), NotValid>,
    enum_values: Vec<AddedEnumValue>,
    /// The script's own `SET lock_timeout`: `Some(true)` for a non-zero value.
    script_lock_timeout: Option<bool>,
    /// The script's own `SET statement_timeout`, likewise.
    script_statement_timeout: Option<bool>,
    /// Names the database does not have (from the [`Catalog`]).
    absent: HashSet<RelName>,
    /// Tables dropped by the set and not created again: the schemas (as written and as
    /// resolved) under each name, so a lookup by name stays cheap on a long history.
    dropped_tables: HashMap<String, Vec<Option<String>>>,
    /// Indexes dropped by the set and not created again.
    dropped_indexes: HashSet<String>,
    /// The current migration set `search_path`: an unqualified name may now mean another
    /// table than the one the caller looked up.
    search_path_set: bool,
    /// Tables emptied by `DELETE` (without `WHERE`) or `TRUNCATE` in the current migration,
    /// with the transaction that emptied them; a later write into one removes it.
    emptied: Vec<(RelName, usize)>,
}

/// Facts about the statement being applied to the state.
pub struct Applying<'a> {
    /// The statement.
    pub node: &'a N,
    /// Its 0-based index.
    pub statement: usize,
    /// It runs inside a transaction.
    pub in_tx: bool,
    /// Its transaction.
    pub tx: usize,
    /// Its migration is pending.
    pub pending: bool,
}

impl SchemaState {
    /// A state that starts from what the database already has.
    pub fn with_catalog(catalog: &Catalog) -> SchemaState {
        let mut state = SchemaState::default();
        for t in &catalog.tables {
            let key = RelName {
                schema: Some(t.schema.clone()),
                name: t.name.clone(),
            };
            let mut table = Table::new(Origin::EXISTING);
            table.partitioned = t.partitioned;
            for (column, ty) in &t.columns {
                table
                    .columns
                    .insert(column, Some(ty.clone()), Origin::EXISTING);
            }
            for column in &t.validated_not_null {
                table.prove_not_null(column);
            }
            state.insert_table(key, table);
        }
        for i in &catalog.indexes {
            state.indexes.insert(
                i.name.1.clone(),
                Index {
                    origin: Origin::EXISTING,
                    table: Some(RelName {
                        schema: Some(i.table_schema.clone()),
                        name: i.table.clone(),
                    }),
                },
            );
        }
        state.absent = catalog
            .absent
            .iter()
            .map(|(schema, name)| RelName {
                schema: schema.clone(),
                name: name.clone(),
            })
            .collect();
        state
    }

    /// Starts a new migration.
    pub fn begin_unit(&mut self, unit: usize) {
        self.unit = unit;
        self.enum_values.clear();
        self.script_lock_timeout = None;
        self.script_statement_timeout = None;
        self.search_path_set = false;
        self.emptied.clear();
    }

    fn is_new(&self, origin: Origin) -> bool {
        origin.unit == self.unit_id() || origin.fresh
    }

    /// The current migration as stored in an [`Origin`] (sets beyond 4 billion migrations
    /// share the last id, which only makes the state more conservative).
    fn unit_id(&self) -> u32 {
        u32::try_from(self.unit).unwrap_or(u32::MAX - 1)
    }

    fn insert_table(&mut self, key: RelName, table: Table) {
        self.dropped_tables.remove(&key.name);
        let schemas = self.by_name.entry(key.name.clone()).or_default();
        if !schemas.contains(&key.schema) {
            schemas.push(key.schema.clone());
        }
        self.tables.insert(key, table);
    }

    fn remove_table(&mut self, key: &RelName) -> Option<Table> {
        let table = self.tables.remove(key)?;
        if let Some(schemas) = self.by_name.get_mut(&key.name) {
            schemas.retain(|s| *s != key.schema);
        }
        Some(table)
    }

    /// The keys a reference may mean.
    fn candidates(&self, rel: &RelName) -> Vec<RelName> {
        if self.tables.contains_key(rel) {
            return vec![rel.clone()];
        }
        let unqualified = RelName {
            schema: None,
            name: rel.name.clone(),
        };
        match &rel.schema {
            Some(_) if self.tables.contains_key(&unqualified) => vec![unqualified],
            Some(_) => Vec::new(),
            None => self
                .by_name
                .get(&rel.name)
                .into_iter()
                .flatten()
                .map(|schema| RelName {
                    schema: schema.clone(),
                    name: rel.name.clone(),
                })
                .collect(),
        }
    }

    /// The table a reference means, when it is unambiguous.
    fn table(&self, rel: &RelName) -> Option<&Table> {
        match self.candidates(rel).as_slice() {
            [one] => self.tables.get(one),
            _ => None,
        }
    }

    /// The table a reference means for recording a change: the known one, else a new entry
    /// for a table that existed before the set.
    fn table_mut(&mut self, rel: &RelName) -> &mut Table {
        let key = match self.candidates(rel).as_slice() {
            [one] => one.clone(),
            _ => {
                self.insert_table(rel.clone(), Table::new(Origin::EXISTING));
                rel.clone()
            }
        };
        self.tables.get_mut(&key).expect("just resolved")
    }

    /// True when the name means no table that predates the migrations being applied: the
    /// table was created in this migration or in a pending earlier one (every table the name
    /// may mean, for an unqualified name), or the set dropped it, or the database does not
    /// have it. Nothing that was there before can be locked or rewritten through it.
    pub fn table_is_new(&self, rel: &RelName) -> bool {
        let candidates = self.candidates(rel);
        if candidates.is_empty() {
            return self.known_absent(rel) || self.was_dropped(rel);
        }
        candidates
            .iter()
            .all(|k| self.tables.get(k).is_some_and(|t| self.is_new(t.origin)))
    }

    /// True when the caller looked the name up and the database does not have it, and the
    /// name still means what it meant then (an unqualified name after the migration set its
    /// own `search_path` may not).
    fn known_absent(&self, rel: &RelName) -> bool {
        (rel.schema.is_some() || !self.search_path_set) && self.absent.contains(rel)
    }

    fn was_dropped(&self, rel: &RelName) -> bool {
        self.dropped_tables.get(&rel.name).is_some_and(|schemas| {
            schemas
                .iter()
                .any(|s| rel.schema.is_none() || s.is_none() || *s == rel.schema)
        })
    }

    /// True when the table is known to be partitioned (`PARTITION BY`).
    pub fn is_partitioned(&self, rel: &RelName) -> bool {
        self.table(rel).is_some_and(|t| t.partitioned)
    }

    /// True when the index was created in this migration or in a pending earlier one, or is
    /// on a table that was, or the set dropped it, or the database does not have it: dropping
    /// or rebuilding it holds up nothing that was there before.
    pub fn index_is_new(&self, rel: &RelName) -> bool {
        match self.indexes.get(&rel.name) {
            Some(i) => {
                self.is_new(i.origin) || i.table.as_ref().is_some_and(|t| self.table_is_new(t))
            }
            None => self.known_absent(rel) || self.dropped_indexes.contains(&rel.name),
        }
    }

    /// The table of an index, when the set created the index or the catalog told.
    pub fn index_table(&self, rel: &RelName) -> Option<&RelName> {
        self.indexes.get(&rel.name)?.table.as_ref()
    }

    /// True when a `DELETE` without `WHERE` or a `TRUNCATE` emptied the table earlier in this
    /// migration, in transaction `tx`, and nothing wrote into it since.
    pub fn emptied_in(&self, rel: &RelName, tx: usize) -> bool {
        self.emptied
            .iter()
            .any(|(t, in_tx)| *in_tx == tx && same_table(t, rel))
    }

    /// True when the schema was created in this migration or in a pending earlier one.
    pub fn schema_is_new(&self, name: &str) -> bool {
        self.schemas.get(name).is_some_and(|o| self.is_new(*o))
    }

    /// True when the database was created in this migration or in a pending earlier one.
    pub fn database_is_new(&self, name: &str) -> bool {
        self.databases.get(name).is_some_and(|o| self.is_new(*o))
    }

    /// The column's type, when the set declared it or the catalog told.
    pub fn column_type(&self, rel: &RelName, column: &str) -> Option<&ColType> {
        self.table(rel)?.columns.get(column)?.0.as_ref()
    }

    /// True when the column was added in this migration or a pending earlier one (or its table
    /// is new).
    pub fn column_is_new(&self, rel: &RelName, column: &str) -> bool {
        self.table_is_new(rel)
            || self
                .table(rel)
                .and_then(|t| t.columns.get(column))
                .is_some_and(|(_, origin)| self.is_new(origin))
    }

    /// Columns of that type, in every known table (for enum values).
    pub fn columns_of_type(&self, type_name: &str) -> HashSet<&str> {
        self.tables
            .values()
            .flat_map(|t| t.columns.iter())
            .filter(|(_, ty)| ty.as_ref().is_some_and(|t| t.base == type_name))
            .map(|(name, _)| name)
            .collect()
    }

    /// True when a validated `CHECK (column IS NOT NULL)` exists on the table.
    pub fn has_validated_not_null_check(&self, rel: &RelName, column: &str) -> bool {
        self.table(rel)
            .is_some_and(|t| t.validated_not_null.iter().any(|c| &**c == column))
    }

    /// The pending `NOT VALID` constraint of that name on that table.
    pub fn not_valid(&self, rel: &RelName, constraint: &str) -> Option<&NotValid> {
        self.candidates(rel)
            .into_iter()
            .find_map(|k| self.not_valid.get(&(k, constraint.to_owned())))
    }

    /// Enum values added earlier in the current migration inside a transaction.
    pub fn enum_values_added(&self) -> &[AddedEnumValue] {
        &self.enum_values
    }

    /// The script's own `SET lock_timeout` earlier in this migration: `Some(true)` when it set
    /// a non-zero value, `Some(false)` when it turned the timeout off.
    pub fn script_lock_timeout(&self) -> Option<bool> {
        self.script_lock_timeout
    }

    /// The script's own `SET statement_timeout`, like [`SchemaState::script_lock_timeout`].
    pub fn script_statement_timeout(&self) -> Option<bool> {
        self.script_statement_timeout
    }

    /// The current migration's index.
    pub fn unit(&self) -> usize {
        self.unit
    }

    fn here(&self, pending: bool) -> Origin {
        Origin {
            unit: self.unit_id(),
            fresh: pending,
        }
    }

    /// Records the effect of a statement (after the rules looked at it).
    pub fn apply(&mut self, s: &Applying<'_>) {
        let here = self.here(s.pending);
        match s.node {
            N::CreateStmt(c) => {
                let Some(rel) = &c.relation else { return };
                let key = RelName::of(rel);
                // `IF NOT EXISTS` on a table the database already has creates nothing.
                if c.if_not_exists && self.table(&key).is_some_and(|t| !self.is_new(t.origin)) {
                    return;
                }
                let (columns, constraints) = ast::table_elements(c);
                let mut table = Table::new(here);
                table.partitioned = c.partspec.is_some();
                table.columns.0.reserve_exact(columns.len());
                for col in columns {
                    let ty = col.type_name.as_ref().map(ColType::of);
                    table.columns.insert(&col.colname, ty, here);
                }
                for con in constraints {
                    if let Some(column) = ast::not_null_check_column(con) {
                        if !con.skip_validation {
                            table.prove_not_null(&column);
                        }
                    }
                }
                self.insert_table(key, table);
            }
            N::CreateTableAsStmt(c) => {
                if let Some(rel) = c.into.as_ref().and_then(|i| i.rel.as_ref()) {
                    self.insert_table(RelName::of(rel), Table::new(here));
                }
            }
            N::IndexStmt(i) => {
                let table = i.relation.as_ref().map(RelName::of);
                let name = if i.idxname.is_empty() {
                    default_index_name(i)
                } else {
                    Some(i.idxname.clone())
                };
                if let Some(name) = name {
                    self.dropped_indexes.remove(&name);
                    self.indexes.insert(
                        name,
                        Index {
                            origin: here,
                            table,
                        },
                    );
                }
            }
            N::CreateSchemaStmt(c) if !c.schemaname.is_empty() => {
                self.schemas.insert(c.schemaname.clone(), here);
            }
            N::CreatedbStmt(c) => {
                self.databases.insert(c.dbname.clone(), here);
            }
            N::AlterTableStmt(a) => self.apply_alter(a, s),
            N::RenameStmt(r) => self.apply_rename(r),
            N::DropStmt(d) => {
                let kind = ObjectType::try_from(d.remove_type).unwrap_or(ObjectType::Undefined);
                for object in &d.objects {
                    let parts = match ast::inner(object) {
                        Some(N::List(l)) => ast::strings(&l.items),
                        _ => continue,
                    };
                    let Some(name) = RelName::from_parts(&parts) else {
                        continue;
                    };
                    match kind {
                        ObjectType::ObjectTable => {
                            let keys = self.candidates(&name);
                            for key in &keys {
                                self.remove_table(key);
                            }
                            let schemas = self.dropped_tables.entry(name.name).or_default();
                            for schema in keys.into_iter().map(|k| k.schema).chain([name.schema]) {
                                if !schemas.contains(&schema) {
                                    schemas.push(schema);
                                }
                            }
                        }
                        ObjectType::ObjectIndex => {
                            self.indexes.remove(&name.name);
                            self.dropped_indexes.insert(name.name);
                        }
                        _ => {}
                    }
                }
            }
            N::AlterEnumStmt(e) if s.in_tx && !e.new_val.is_empty() && e.old_val.is_empty() => {
                self.enum_values.push(AddedEnumValue {
                    value: e.new_val.clone(),
                    type_name: ast::strings(&e.type_name)
                        .last()
                        .cloned()
                        .unwrap_or_default(),
                    statement: s.statement,
                    tx: s.tx,
                });
            }
            N::VariableSetStmt(v)
                if v.kind == pg_query::protobuf::VariableSetKind::VarResetAll as i32 =>
            {
                self.script_lock_timeout = None;
                self.script_statement_timeout = None;
                self.search_path_set = false;
            }
            N::VariableSetStmt(v) if v.name.eq_ignore_ascii_case("search_path") => {
                self.search_path_set = !v.args.is_empty();
            }
            N::DeleteStmt(d) if s.in_tx && d.where_clause.is_none() => {
                if let Some(rel) = &d.relation {
                    self.emptied.push((RelName::of(rel), s.tx));
                }
            }
            N::TruncateStmt(t) if s.in_tx => {
                for r in &t.relations {
                    if let Some(N::RangeVar(rel)) = ast::inner(r) {
                        self.emptied.push((RelName::of(rel), s.tx));
                    }
                }
            }
            N::InsertStmt(i) => self.written(i.relation.as_ref()),
            N::CopyStmt(c) if c.is_from => self.written(c.relation.as_ref()),
            N::MergeStmt(m) => self.written(m.relation.as_ref()),
            N::VariableSetStmt(v)
                if v.name.eq_ignore_ascii_case("lock_timeout")
                    || v.name.eq_ignore_ascii_case("statement_timeout") =>
            {
                // `RESET x` and `SET x TO DEFAULT` have no arguments and bring back the
                // session's value, which is strata's.
                let value = if v.args.is_empty() {
                    None
                } else {
                    Some(!v.args.iter().all(is_zero_setting))
                };
                if v.name.eq_ignore_ascii_case("lock_timeout") {
                    self.script_lock_timeout = value;
                } else {
                    self.script_statement_timeout = value;
                }
            }
            _ => {}
        }
    }

    /// A statement wrote rows into the table: it is no longer known to be empty.
    fn written(&mut self, rel: Option<&RangeVar>) {
        if let Some(rel) = rel {
            let rel = RelName::of(rel);
            self.emptied.retain(|(t, _)| !same_table(t, &rel));
        }
    }

    fn apply_rename(&mut self, r: &pg_query::protobuf::RenameStmt) {
        let kind = ObjectType::try_from(r.rename_type).unwrap_or(ObjectType::Undefined);
        let Some(rel) = &r.relation else { return };
        let old = RelName::of(rel);
        match kind {
            ObjectType::ObjectTable => {
                let Some(key) = self.candidates(&old).into_iter().next() else {
                    return;
                };
                let Some(table) = self.remove_table(&key) else {
                    return;
                };
                let new = RelName {
                    schema: key.schema.clone(),
                    name: r.newname.clone(),
                };
                let moved: Vec<_> = self
                    .not_valid
                    .keys()
                    .filter(|(t, _)| *t == key)
                    .cloned()
                    .collect();
                for k in moved {
                    if let Some(v) = self.not_valid.remove(&k) {
                        self.not_valid.insert((new.clone(), k.1), v);
                    }
                }
                for index in self.indexes.values_mut() {
                    if index.table.as_ref() == Some(&key) {
                        index.table = Some(new.clone());
                    }
                }
                self.insert_table(new, table);
            }
            ObjectType::ObjectColumn => {
                let t = self.table_mut(&old);
                if let Some((ty, origin)) = t.columns.remove(&r.subname) {
                    t.columns.insert(&r.newname, ty, origin);
                }
                if let Some(c) = t.validated_not_null.iter_mut().find(|c| ***c == *r.subname) {
                    *c = r.newname.as_str().into();
                }
            }
            ObjectType::ObjectIndex => {
                if let Some(i) = self.indexes.remove(&rel.relname) {
                    self.indexes.insert(r.newname.clone(), i);
                }
            }
            _ => {}
        }
    }

    fn apply_alter(&mut self, a: &pg_query::protobuf::AlterTableStmt, s: &Applying<'_>) {
        let Some(rel) = &a.relation else { return };
        let key = RelName::of(rel);
        let here = self.here(s.pending);
        for cmd in ast::alter_cmds(a) {
            match ast::subtype(cmd) {
                AlterTableType::AtAddColumn => {
                    if let Some(col) = ast::cmd_column(cmd) {
                        let ty = col.type_name.as_ref().map(ColType::of);
                        self.table_mut(&key).columns.insert(&col.colname, ty, here);
                    }
                }
                AlterTableType::AtAlterColumnType => {
                    if let Some(ty) = ast::cmd_column(cmd).and_then(|c| c.type_name.as_ref()) {
                        let ty = ColType::of(ty);
                        let t = self.table_mut(&key);
                        let origin = t.columns.get(&cmd.name).map_or(Origin::EXISTING, |c| c.1);
                        t.columns.insert(&cmd.name, Some(ty), origin);
                    }
                }
                AlterTableType::AtDropColumn => {
                    let t = self.table_mut(&key);
                    t.columns.remove(&cmd.name);
                    t.validated_not_null.retain(|c| **c != *cmd.name);
                }
                AlterTableType::AtAddConstraint => {
                    let Some(con) = ast::cmd_constraint(cmd) else {
                        continue;
                    };
                    let column = ast::not_null_check_column(con);
                    if con.skip_validation {
                        if !con.conname.is_empty() {
                            // Registers a table the set never created, so the key resolves.
                            self.table_mut(&key);
                            let table = self
                                .candidates(&key)
                                .into_iter()
                                .next()
                                .unwrap_or(key.clone());
                            self.not_valid.insert(
                                (table, con.conname.clone()),
                                NotValid {
                                    unit: self.unit,
                                    tx: s.tx,
                                    statement: s.statement,
                                    not_null_column: column,
                                    foreign_key: ast::contype(con) == ConstrType::ConstrForeign,
                                },
                            );
                        }
                    } else if let Some(column) = column {
                        self.table_mut(&key).prove_not_null(&column);
                    }
                }
                AlterTableType::AtValidateConstraint => {
                    let found = self
                        .candidates(&key)
                        .into_iter()
                        .find_map(|k| self.not_valid.remove(&(k, cmd.name.clone())));
                    if let Some(column) = found.and_then(|nv| nv.not_null_column) {
                        self.table_mut(&key).prove_not_null(&column);
                    }
                }
                _ => {}
            }
        }
    }
}

/// True when two references may mean the same table: the same name, and the same schema
/// where both write one.
fn same_table(a: &RelName, b: &RelName) -> bool {
    a.name == b.name && (a.schema.is_none() || b.schema.is_none() || a.schema == b.schema)
}

/// The name PostgreSQL gives an unnamed index on plain columns (`<table>_<col>_..._idx`), so a
/// later `DROP INDEX` of it can be matched; `None` for expression indexes.
fn default_index_name(i: &pg_query::protobuf::IndexStmt) -> Option<String> {
    let table = &i.relation.as_ref()?.relname;
    let mut columns = Vec::new();
    for p in &i.index_params {
        match ast::inner(p) {
            Some(N::IndexElem(e)) if !e.name.is_empty() => columns.push(e.name.clone()),
            _ => return None,
        }
    }
    let name = format!("{table}_{}_idx", columns.join("_"));
    (name.len() <= 63).then_some(name)
}

/// True for a `lock_timeout` value of zero (`0`, `'0'`, `'0s'`); `'0.5s'` is not zero.
fn is_zero_setting(arg: &pg_query::protobuf::Node) -> bool {
    use pg_query::protobuf::a_const::Val;
    match ast::inner(arg) {
        Some(N::AConst(c)) => match &c.val {
            Some(Val::Ival(i)) => i.ival == 0,
            Some(Val::Fval(f)) => f.fval.chars().all(|c| !c.is_ascii_digit() || c == '0'),
            Some(Val::Sval(s)) => {
                let digits: Vec<char> = s.sval.chars().filter(char::is_ascii_digit).collect();
                !digits.is_empty() && digits.iter().all(|c| *c == '0')
            }
            _ => false,
        },
        _ => false,
    }
}
