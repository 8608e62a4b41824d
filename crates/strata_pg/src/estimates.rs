//! What the linter asks a live database besides its version ([`crate::exec::server_version`]):
//! the facts about existing tables that decide whether a statement is safe (column types,
//! proven non-null columns, partitioning), which of the relations the migrations name exist
//! (and an index's table), the tables' sizes, which decide whether the gate of `up` stops for a
//! lock or a rewrite, and the planner's row estimates, so a risky statement on a table with
//! millions of rows is listed before the same statement on an empty one.
//!
//! Sizes come from `pg_relation_size`, which is exact and needs no `ANALYZE`: `reltuples` is -1
//! on a table never analysed (PostgreSQL 14+) and 0 before, so a freshly filled table would
//! look empty.

use crate::session::Session;
use std::collections::HashMap;

/// A table named as in a migration: schema when written, name.
pub type TableName = (Option<String>, String);

/// The names as `to_regclass` input, quoted so they resolve exactly (through `search_path`
/// when unqualified).
fn regclass_inputs(names: &[TableName]) -> Vec<String> {
    names
        .iter()
        .map(|(schema, table)| match schema {
            Some(s) => format!("{}.{}", crate::quote_ident(s), crate::quote_ident(table)),
            None => crate::quote_ident(table),
        })
        .collect()
}

/// Row estimates (`pg_class.reltuples`) of the named tables. Tables that do not exist, or were
/// never analyzed, are left out.
pub async fn table_row_estimates(
    session: &Session,
    names: &[TableName],
) -> Result<HashMap<TableName, f64>, tokio_postgres::Error> {
    let client = &session.client;
    let rows = client
        .query(
            "select t.ord, c.reltuples::float8 \
             from unnest($1::text[]) with ordinality as t(name, ord) \
             join pg_catalog.pg_class c on c.oid = pg_catalog.to_regclass(t.name) \
             where c.reltuples >= 0",
            &[&regclass_inputs(names)],
        )
        .await?;
    let mut out = HashMap::new();
    for row in rows {
        let ord: i64 = row.get(0);
        let estimate: f64 = row.get(1);
        if let Some(name) = usize::try_from(ord - 1).ok().and_then(|i| names.get(i)) {
            out.insert(name.clone(), estimate);
        }
    }
    Ok(out)
}

/// A relation a migration names, as the database has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// `pg_class.relkind`: `r` table, `p` partitioned table, `i` index, ...
    pub kind: String,
    /// The table: the relation itself, or the table of an index (schema, name).
    pub table: (String, String),
    /// The table's size in bytes (`pg_relation_size` of its main fork; for a partitioned table,
    /// the sum over its partitions, which is what an index build or a scan reads).
    pub table_bytes: u64,
}

/// The named relations (tables, indexes, ...) that exist, one query; a name left out of the
/// answer is one the database does not have (as `search_path` resolves it now).
pub async fn relations(
    session: &Session,
    names: &[TableName],
) -> Result<HashMap<TableName, Relation>, tokio_postgres::Error> {
    let client = &session.client;
    if names.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = client
        .query(
            "with recursive rel as ( \
               select t.ord, c.relkind::text as kind, coalesce(x.indrelid, c.oid) as table_oid \
               from unnest($1::text[]) with ordinality as t(name, ord) \
               join pg_catalog.pg_class c on c.oid = pg_catalog.to_regclass(t.name) \
               left join pg_catalog.pg_index x on x.indexrelid = c.oid), \
             tree as ( \
               select r.ord, r.table_oid as oid from rel r \
               union all \
               select t.ord, h.inhrelid from tree t \
               join pg_catalog.pg_class p on p.oid = t.oid and p.relkind = 'p' \
               join pg_catalog.pg_inherits h on h.inhparent = t.oid) \
             select r.ord, r.kind, n.nspname::text, c.relname::text, \
                    (select coalesce(sum(pg_catalog.pg_relation_size(t.oid)), 0) \
                     from tree t where t.ord = r.ord)::int8 \
             from rel r \
             join pg_catalog.pg_class c on c.oid = r.table_oid \
             join pg_catalog.pg_namespace n on n.oid = c.relnamespace",
            &[&regclass_inputs(names)],
        )
        .await?;
    let mut out = HashMap::new();
    for row in rows {
        let ord: i64 = row.get(0);
        let bytes: i64 = row.get(4);
        if let Some(name) = usize::try_from(ord - 1).ok().and_then(|i| names.get(i)) {
            out.insert(
                name.clone(),
                Relation {
                    kind: row.get(1),
                    table: (row.get(2), row.get(3)),
                    table_bytes: u64::try_from(bytes).unwrap_or(0),
                },
            );
        }
    }
    Ok(out)
}

/// One existing table as the catalogs describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableFacts {
    /// Schema.
    pub schema: String,
    /// Name.
    pub name: String,
    /// `relkind = 'p'`.
    pub partitioned: bool,
    /// Columns: name, `pg_type.typname` (of the element for arrays), `atttypmod`, is an array.
    pub columns: Vec<(String, String, i32, bool)>,
    /// Columns already `NOT NULL`, or proven so by a validated `CHECK (col IS NOT NULL)`:
    /// `SET NOT NULL` on them scans nothing.
    pub proven_not_null: Vec<String>,
}

/// Facts about the named tables that exist (one query).
pub async fn table_facts(
    session: &Session,
    names: &[TableName],
) -> Result<Vec<TableFacts>, tokio_postgres::Error> {
    let client = &session.client;
    let rows = client
        .query(
            "with rels as ( \
               select distinct c.oid, n.nspname, c.relname, c.relkind = 'p' as partitioned \
               from unnest($1::text[]) as t(reg) \
               join pg_catalog.pg_class c on c.oid = pg_catalog.to_regclass(t.reg) \
               join pg_catalog.pg_namespace n on n.oid = c.relnamespace) \
             select r.oid::int8, r.nspname::text, r.relname::text, r.partitioned, a.attname::text, \
                    coalesce(et.typname, ty.typname)::text, a.atttypmod, et.oid is not null, \
                    a.attnotnull or exists (select 1 from pg_catalog.pg_constraint k \
                      where k.conrelid = r.oid and k.contype = 'c' and k.convalidated \
                        and k.conkey = array[a.attnum] \
                        and pg_catalog.pg_get_constraintdef(k.oid) = \
                            'CHECK ((' || pg_catalog.quote_ident(a.attname) || ' IS NOT NULL))') \
             from rels r \
             left join pg_catalog.pg_attribute a \
               on a.attrelid = r.oid and a.attnum > 0 and not a.attisdropped \
             left join pg_catalog.pg_type ty on ty.oid = a.atttypid \
             left join pg_catalog.pg_type et on et.oid = ty.typelem and ty.typcategory = 'A' \
             order by r.oid, a.attnum",
            &[&regclass_inputs(names)],
        )
        .await?;
    let mut out: Vec<(i64, TableFacts)> = Vec::new();
    for row in rows {
        let oid: i64 = row.get(0);
        if out.last().is_none_or(|(o, _)| *o != oid) {
            out.push((
                oid,
                TableFacts {
                    schema: row.get(1),
                    name: row.get(2),
                    partitioned: row.get(3),
                    columns: Vec::new(),
                    proven_not_null: Vec::new(),
                },
            ));
        }
        let Some(column) = row.get::<_, Option<String>>(4) else {
            continue;
        };
        let facts = &mut out.last_mut().expect("pushed above").1;
        let typname: Option<String> = row.get(5);
        let typmod: Option<i32> = row.get(6);
        let array: Option<bool> = row.get(7);
        if row.get::<_, Option<bool>>(8) == Some(true) {
            facts.proven_not_null.push(column.clone());
        }
        facts.columns.push((
            column,
            typname.unwrap_or_default(),
            typmod.unwrap_or(-1),
            array.unwrap_or(false),
        ));
    }
    Ok(out.into_iter().map(|(_, f)| f).collect())
}
