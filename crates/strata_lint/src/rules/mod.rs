//! The rule registry and what a rule sees.
//!
//! Each rule is one file with one `RULE` static: its name, category, default level, one-line
//! summary and embedded documentation page, and a `check` function that looks at one statement
//! in its context ([`Ctx`]) and reports through a [`Sink`]. [`RULES`] is the only list of
//! rules; configuration, suppressions, `--list-rules`, SARIF rule metadata and the docs index
//! are all derived from it.

use crate::state::{RelName, SchemaState};
use crate::{ast, Options, Rule, Severity};
use pg_query::protobuf::{
    node::Node as N, AlterTableType, ColumnDef, Constraint, RangeVar, TypeName,
};
use strata_sql::Statement;

/// A rule's check.
pub(crate) type Check = fn(&Ctx<'_>, &mut Sink);

/// Embeds a rule's documentation page from `docs/rules/`.
macro_rules! docs {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/rules/",
            $name,
            ".md"
        ))
    };
}

/// What most rule files need.
mod prelude {
    pub(crate) use super::{Ctx, Sink};
    pub(crate) use crate::ast;
    pub(crate) use crate::{Category, Gate, Level, Rule, Severity};
    pub(crate) use pg_query::protobuf::{node::Node as N, AlterTableType, ConstrType, ObjectType};

    /// Default level of most rules.
    pub(crate) const ERROR: Level = Level::On(Severity::Error);
    /// Default level of advisory rules.
    pub(crate) const WARNING: Level = Level::On(Severity::Warning);
    /// Opt-in rules.
    pub(crate) const OFF: Level = Level::Off;
}

mod adding_check_constraint;
mod adding_field_with_default;
mod adding_foreign_key_constraint;
mod adding_primary_key_constraint;
mod adding_required_field;
mod ban_alter_domain_with_add_constraint;
mod ban_char_field;
mod ban_create_domain_with_constraint;
mod ban_drop_column;
mod ban_drop_database;
mod ban_drop_not_null;
mod ban_drop_schema;
mod ban_drop_table;
mod ban_truncate_cascade;
mod changing_column_type;
mod concurrently_in_transaction;
mod disallowed_unique_constraint;
mod enum_add_value;
mod fk_naming;
mod identifier_too_long;
mod index_naming;
mod meta;
mod non_transactional_mixed;
mod prefer_bigint_keys;
mod prefer_identity;
mod prefer_jsonb;
mod prefer_robust_stmts;
mod prefer_text_field;
mod prefer_timestamptz;
mod renaming_column;
mod renaming_table;
mod require_concurrent_detach_partition;
mod require_concurrent_index_creation;
mod require_concurrent_index_deletion;
mod require_concurrent_reindex;
mod require_enum_value_ordering;
mod require_lock_timeout;
mod require_schema_qualified;
mod require_statement_timeout;
mod require_timestamps;
mod set_not_null;
mod transaction_nesting;
mod uncommitted_transaction;
mod uuid_primary_key;
mod vacuum_full_or_cluster;
mod validate_in_same_transaction;

/// Every rule, grouped by category. The order is the order of `--list-rules` and the docs
/// index.
pub static RULES: &[&Rule] = &[
    &require_concurrent_index_creation::RULE,
    &require_concurrent_index_deletion::RULE,
    &require_concurrent_reindex::RULE,
    &require_concurrent_detach_partition::RULE,
    &adding_foreign_key_constraint::RULE,
    &adding_check_constraint::RULE,
    &validate_in_same_transaction::RULE,
    &disallowed_unique_constraint::RULE,
    &adding_primary_key_constraint::RULE,
    &set_not_null::RULE,
    &adding_field_with_default::RULE,
    &changing_column_type::RULE,
    &vacuum_full_or_cluster::RULE,
    &require_lock_timeout::RULE,
    &require_statement_timeout::RULE,
    &concurrently_in_transaction::RULE,
    &uncommitted_transaction::RULE,
    &transaction_nesting::RULE,
    &non_transactional_mixed::RULE,
    &enum_add_value::RULE,
    &require_enum_value_ordering::RULE,
    &ban_drop_table::RULE,
    &ban_drop_column::RULE,
    &ban_drop_schema::RULE,
    &ban_drop_database::RULE,
    &renaming_table::RULE,
    &renaming_column::RULE,
    &ban_drop_not_null::RULE,
    &ban_truncate_cascade::RULE,
    &adding_required_field::RULE,
    &prefer_timestamptz::RULE,
    &prefer_jsonb::RULE,
    &ban_char_field::RULE,
    &prefer_text_field::RULE,
    &prefer_identity::RULE,
    &prefer_bigint_keys::RULE,
    &ban_create_domain_with_constraint::RULE,
    &ban_alter_domain_with_add_constraint::RULE,
    &identifier_too_long::RULE,
    &prefer_robust_stmts::RULE,
    &require_schema_qualified::RULE,
    &index_naming::RULE,
    &fk_naming::RULE,
    &uuid_primary_key::RULE,
    &require_timestamps::RULE,
    &meta::SYNTAX_ERROR,
    &meta::UNSUPPORTED_META_COMMAND,
    &meta::UNUSED_SUPPRESSION,
    &meta::INVALID_SUPPRESSION,
];

/// The rule of that name.
pub fn find_rule(name: &str) -> Option<&'static Rule> {
    RULES.iter().copied().find(|r| r.name == name)
}

/// One statement in its context: the parse tree, how strata will run it, and the schema as the
/// statements before it left it.
pub(crate) struct Ctx<'a> {
    /// The statement's parse tree.
    pub node: &'a N,
    /// The statement as the splitter saw it (range, summary, transaction flags).
    pub statement: &'a Statement,
    /// 0-based index in the script.
    pub index: usize,
    /// The whole script's text.
    pub sql: &'a str,
    /// Added to node locations to get script offsets.
    pub base: usize,
    /// True when the statement runs inside a transaction (strata's or the script's own).
    pub in_tx: bool,
    /// Identifies the transaction within the run, for "same transaction" rules.
    pub tx: usize,
    /// Why it runs that way.
    pub mode_reason: &'a str,
    /// A transaction-control problem at this statement.
    pub nesting: Option<&'static str>,
    /// This statement is a `BEGIN` the script never closes.
    pub unclosed_begin: bool,
    /// This statement is the first ordinary statement of a migration that runs outside a
    /// transaction because of another statement.
    pub first_mixed_statement: bool,
    /// Some `lock_timeout` applies to this statement (strata's, the directive's or the
    /// script's own `SET`).
    pub lock_timeout: bool,
    /// Some `statement_timeout` applies to this statement, likewise.
    pub statement_timeout: bool,
    /// The schema before this statement.
    pub state: &'a SchemaState,
    /// Target version and configuration.
    pub options: &'a Options,
}

impl Ctx<'_> {
    /// Script offset of the statement's first token.
    pub fn start(&self) -> usize {
        self.statement.range.start
    }

    /// Script offset of a node location, or the statement start when there is none.
    pub fn at(&self, location: i32) -> usize {
        ast::loc(location).map_or(self.start(), |l| self.base + l)
    }

    /// True when the table is new (created in this migration or in a pending earlier one).
    pub fn is_new(&self, rel: &RangeVar) -> bool {
        self.state.table_is_new(&RelName::of(rel))
    }

    /// The relation of an `ALTER TABLE` on an existing table.
    pub fn altered_existing_table(
        &self,
    ) -> Option<(&pg_query::protobuf::AlterTableStmt, &RangeVar)> {
        match self.node {
            N::AlterTableStmt(a) => {
                let rel = a.relation.as_ref()?;
                (!self.is_new(rel)).then_some((a, rel))
            }
            _ => None,
        }
    }

    /// The constraints an `ALTER TABLE` on an existing table adds: `ADD CONSTRAINT`, and the
    /// column constraints of `ADD COLUMN` (marked `true`: those cannot be `NOT VALID`).
    pub fn added_constraints(&self) -> Option<(&RangeVar, Vec<(&Constraint, bool)>)> {
        let (a, rel) = self.altered_existing_table()?;
        let mut out = Vec::new();
        for cmd in ast::alter_cmds(a) {
            match ast::subtype(cmd) {
                AlterTableType::AtAddConstraint => {
                    out.extend(ast::cmd_constraint(cmd).map(|c| (c, false)));
                }
                AlterTableType::AtAddColumn => {
                    if let Some(col) = ast::cmd_column(cmd) {
                        out.extend(ast::column_constraints(col).map(|c| (c, true)));
                    }
                }
                _ => {}
            }
        }
        Some((rel, out))
    }

    /// The columns an `ALTER TABLE ... ADD COLUMN` on an existing table adds.
    pub fn added_columns(&self) -> Option<(&RangeVar, Vec<&ColumnDef>)> {
        let (a, rel) = self.altered_existing_table()?;
        let columns = ast::alter_cmds(a)
            .filter(|cmd| ast::subtype(cmd) == AlterTableType::AtAddColumn)
            .filter_map(ast::cmd_column)
            .collect();
        Some((rel, columns))
    }

    /// Columns this statement declares, with their table: `CREATE TABLE` columns, `ADD
    /// COLUMN`s, and the new types of `ALTER COLUMN ... TYPE`.
    pub fn declared_columns(&self) -> Vec<DeclaredColumn<'_>> {
        let mut out = Vec::new();
        match self.node {
            N::CreateStmt(c) => {
                let Some(rel) = &c.relation else { return out };
                let (columns, constraints) = ast::table_elements(c);
                let pk: Vec<String> = constraints
                    .iter()
                    .filter(|k| ast::contype(k) == pg_query::protobuf::ConstrType::ConstrPrimary)
                    .flat_map(|k| ast::strings(&k.keys))
                    .collect();
                for col in columns {
                    if let Some(t) = &col.type_name {
                        out.push(DeclaredColumn {
                            table: rel,
                            name: &col.colname,
                            type_name: t,
                            def: Some(col),
                            location: self.at(col.location),
                            key: is_key(col) || pk.contains(&col.colname),
                        });
                    }
                }
            }
            N::AlterTableStmt(a) => {
                let Some(rel) = &a.relation else { return out };
                for cmd in ast::alter_cmds(a) {
                    let kind = ast::subtype(cmd);
                    let Some(col) = ast::cmd_column(cmd) else {
                        continue;
                    };
                    let Some(t) = &col.type_name else { continue };
                    match kind {
                        pg_query::protobuf::AlterTableType::AtAddColumn => {
                            out.push(DeclaredColumn {
                                table: rel,
                                name: &col.colname,
                                type_name: t,
                                def: Some(col),
                                location: self.at(col.location),
                                key: is_key(col),
                            })
                        }
                        pg_query::protobuf::AlterTableType::AtAlterColumnType => {
                            out.push(DeclaredColumn {
                                table: rel,
                                name: &cmd.name,
                                type_name: t,
                                def: None,
                                location: self.at(t.location),
                                key: false,
                            })
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        out
    }
}

impl Ctx<'_> {
    /// Columns that `ALTER TABLE ... ADD PRIMARY KEY (...)` makes the key of an existing
    /// column list, with their types when the state knows them.
    pub fn added_primary_key_columns(
        &self,
    ) -> Vec<(&RangeVar, String, Option<crate::ColType>, usize)> {
        let N::AlterTableStmt(a) = self.node else {
            return Vec::new();
        };
        let Some(rel) = &a.relation else {
            return Vec::new();
        };
        let name = RelName::of(rel);
        ast::alter_cmds(a)
            .filter(|cmd| ast::subtype(cmd) == pg_query::protobuf::AlterTableType::AtAddConstraint)
            .filter_map(ast::cmd_constraint)
            .filter(|k| ast::contype(k) == pg_query::protobuf::ConstrType::ConstrPrimary)
            .flat_map(|k| {
                let at = self.at(k.location);
                ast::strings(&k.keys).into_iter().map(move |col| (col, at))
            })
            .map(|(col, at)| {
                let ty = self.state.column_type(&name, &col).cloned();
                (rel, col, ty, at)
            })
            .collect()
    }
}

fn is_key(col: &ColumnDef) -> bool {
    ast::column_constraints(col).any(|c| {
        matches!(
            ast::contype(c),
            pg_query::protobuf::ConstrType::ConstrPrimary
                | pg_query::protobuf::ConstrType::ConstrIdentity
        )
    })
}

/// A column declared by a statement.
pub(crate) struct DeclaredColumn<'a> {
    /// Its table.
    pub table: &'a RangeVar,
    /// Its name.
    pub name: &'a str,
    /// Its (new) type.
    pub type_name: &'a TypeName,
    /// The full definition, except for `ALTER COLUMN ... TYPE`.
    pub def: Option<&'a ColumnDef>,
    /// Script offset of the column.
    pub location: usize,
    /// Primary key or identity column.
    pub key: bool,
}

/// A finding before suppression and positioning.
pub(crate) struct Raw {
    /// The rule.
    pub rule: &'static Rule,
    /// Its configured severity.
    pub severity: Severity,
    /// 0-based statement, when about one.
    pub statement: Option<usize>,
    /// Script offset of the start.
    pub at: usize,
    /// Script offset of the end (default: the end of the line or statement).
    pub end: Option<usize>,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub help: String,
    /// The table concerned.
    pub table: Option<RangeVarName>,
    /// The index concerned, when its table is not known.
    pub index: Option<(Option<String>, String)>,
}

/// A table named by a finding: as displayed, and as (schema, name).
#[derive(Debug, Clone)]
pub(crate) struct RangeVarName {
    /// `schema.table` or `table`, as written.
    pub display: String,
    /// (schema when written, name).
    pub name: (Option<String>, String),
}

/// Where a rule reports.
pub(crate) struct Sink {
    rule: &'static Rule,
    severity: Severity,
    statement: usize,
    raws: Vec<Raw>,
}

impl Sink {
    /// A sink for one rule's findings on one statement.
    pub(crate) fn new(rule: &'static Rule, severity: Severity, statement: usize) -> Sink {
        Sink {
            rule,
            severity,
            statement,
            raws: Vec::new(),
        }
    }

    /// The findings reported.
    pub(crate) fn into_raws(self) -> Vec<Raw> {
        self.raws
    }

    /// Reports a problem at script offset `at`.
    pub fn flag(&mut self, at: usize, message: impl Into<String>, help: impl Into<String>) {
        self.raws.push(Raw {
            rule: self.rule,
            severity: self.severity,
            statement: Some(self.statement),
            at,
            end: None,
            message: message.into(),
            help: help.into(),
            table: None,
            index: None,
        });
    }

    /// Reports a problem concerning a table, so callers with a connection can rank it by the
    /// table's size.
    pub fn flag_table(
        &mut self,
        at: usize,
        table: &RangeVar,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.flag_rel(at, &RelName::of(table), message, help);
    }

    /// Reports a problem concerning a table known by name.
    pub fn flag_rel(
        &mut self,
        at: usize,
        table: &RelName,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.flag(at, message, help);
        if let Some(last) = self.raws.last_mut() {
            last.table = Some(RangeVarName {
                display: table.to_string(),
                name: (table.schema.clone(), table.name.clone()),
            });
        }
    }

    /// Reports a problem concerning an index: on its table when the state knows it, else
    /// naming the index so callers with a connection can find the table.
    pub fn flag_index(
        &mut self,
        at: usize,
        state: &SchemaState,
        index: &RelName,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        match state.index_table(index) {
            Some(table) => self.flag_rel(at, table, message, help),
            None => {
                self.flag(at, message, help);
                if let Some(last) = self.raws.last_mut() {
                    last.index = Some((index.schema.clone(), index.name.clone()));
                }
            }
        }
    }
}
