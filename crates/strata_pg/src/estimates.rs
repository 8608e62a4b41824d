//! What the linter asks a live database: the server's major version (rules depend on it) and
//! the planner's row estimates of the tables findings name, so a risky statement on a table
//! with millions of rows is listed before the same statement on an empty one.

use std::collections::HashMap;
use tokio_postgres::Client;

/// The server's major version (`15` for 15.4).
pub async fn server_major_version(client: &Client) -> Result<u32, tokio_postgres::Error> {
    let row = client
        .query_one("select current_setting('server_version_num')::int", &[])
        .await?;
    let num: i32 = row.get(0);
    Ok(u32::try_from(num / 10_000).unwrap_or(0))
}

/// Row estimates (`pg_class.reltuples`) of the named tables, resolved through the session's
/// `search_path` when unqualified. Tables that do not exist, or were never analyzed, are left
/// out. `names` are `table` or `schema.table`, as the parser folded them.
pub async fn table_row_estimates(
    client: &Client,
    names: &[String],
) -> Result<HashMap<String, f64>, tokio_postgres::Error> {
    let regclasses: Vec<String> = names
        .iter()
        .map(|n| match n.split_once('.') {
            Some((schema, table)) => format!(
                "{}.{}",
                crate::quote_ident(schema),
                crate::quote_ident(table)
            ),
            None => crate::quote_ident(n),
        })
        .collect();
    let rows = client
        .query(
            "select t.ord, c.reltuples::float8 \
             from unnest($1::text[]) with ordinality as t(name, ord) \
             join pg_catalog.pg_class c on c.oid = pg_catalog.to_regclass(t.name) \
             where c.reltuples >= 0",
            &[&regclasses],
        )
        .await?;
    let mut out = HashMap::new();
    for row in rows {
        let ord: i64 = row.get(0);
        let rows_estimate: f64 = row.get(1);
        if let Some(name) = usize::try_from(ord - 1).ok().and_then(|i| names.get(i)) {
            out.insert(name.clone(), rows_estimate);
        }
    }
    Ok(out)
}
