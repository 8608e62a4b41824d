//! What a database's schema is, read from the catalogs alone.
//!
//! `verify`, `drift` and `schema diff` all ask one question — are these two schemas the same,
//! and if not, how do they differ? — so they need a description that is deterministic (stable
//! order, no OIDs, no timestamps) and complete enough to notice a forgotten index, function,
//! trigger, sequence or a column dropped in the wrong order. A [`Snapshot`] is a sorted map from
//! an object's identity (`table public.users`, `index public.users_email_idx`) to its
//! definition as PostgreSQL's own `pg_get_*def` functions print it. No `pg_dump` is needed.
//!
//! [`Snapshot::read`] takes a plain `tokio_postgres::Client`, not a `strata_pg::Session`: this
//! is a leaf crate (its catalog queries and its diff need nothing of strata's), and strata_pg
//! depends on it, not the other way round, because strata_pg is the crate that owns the
//! connection. Everything else reads a schema through `strata_pg::Session::snapshot`, which
//! calls this function with the session's client; the client never leaves strata_pg.

mod queries;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tokio_postgres::Client;

/// Introspection failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// A catalog query failed.
    #[error("reading the catalogs failed ({what}): {source}")]
    Query {
        /// Which object kind was being read.
        what: &'static str,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// A saved snapshot could not be read.
    #[error("not a strata schema snapshot: {0}")]
    BadSnapshot(String),
}

/// A deterministic description of a database's user schema.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Object identity (`<kind> <qualified name>`) to definition.
    pub objects: BTreeMap<String, String>,
}

/// One difference between two snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Difference {
    /// Only in the second snapshot.
    Added {
        /// Object identity.
        object: String,
        /// Its definition.
        definition: String,
    },
    /// Only in the first snapshot.
    Removed {
        /// Object identity.
        object: String,
        /// Its definition.
        definition: String,
    },
    /// In both, defined differently.
    Changed {
        /// Object identity.
        object: String,
        /// Definition in the first snapshot.
        before: String,
        /// Definition in the second snapshot.
        after: String,
    },
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Multi-line definitions (function bodies, views) stay readable indented under their line.
        let indent = |text: &str| text.replace('\n', "\n      ");
        match self {
            Difference::Added { object, definition } => {
                write!(f, "+ {object}: {}", indent(definition))
            }
            Difference::Removed { object, definition } => {
                write!(f, "- {object}: {}", indent(definition))
            }
            Difference::Changed {
                object,
                before,
                after,
            } => {
                write!(
                    f,
                    "~ {object}:\n    was: {}\n    now: {}",
                    indent(before),
                    indent(after)
                )
            }
        }
    }
}

impl Snapshot {
    /// Reads the schema of the database `client` is connected to. Schemas in `exclude` (strata's
    /// registry) and objects that belong to extensions are left out.
    pub async fn read(client: &Client, exclude: &[String]) -> Result<Snapshot, SchemaError> {
        let mut objects = BTreeMap::new();
        // With only pg_catalog on the path, every deparsed name comes out schema-qualified, so
        // two sessions with different search paths (or roles: "$user") describe alike.
        client
            .batch_execute("BEGIN; SET LOCAL search_path = pg_catalog")
            .await
            .map_err(|source| SchemaError::Query {
                what: "search_path",
                source,
            })?;
        for (what, sql) in queries::OBJECTS {
            let rows = match client.query(*sql, &[&exclude]).await {
                Ok(rows) => rows,
                Err(source) => {
                    let _ = client.batch_execute("ROLLBACK").await;
                    return Err(SchemaError::Query { what, source });
                }
            };
            for r in rows {
                let identity: String = r.get(0);
                let definition: Option<String> = r.get(1);
                objects.insert(identity, normalize(&definition.unwrap_or_default()));
            }
        }
        client
            .batch_execute("COMMIT")
            .await
            .map_err(|source| SchemaError::Query {
                what: "commit",
                source,
            })?;
        Ok(Snapshot { objects })
    }

    /// The snapshot as reviewable text: one `-- identity` header and definition per object, in
    /// identity order. Two equal schemas give byte-identical text.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (identity, definition) in &self.objects {
            out.push_str("-- ");
            out.push_str(identity);
            out.push('\n');
            if !definition.is_empty() {
                out.push_str(definition);
                out.push('\n');
            }
        }
        out
    }

    /// The snapshot as JSON (stable key order).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a map of strings serializes")
    }

    /// Reads a snapshot saved with [`Snapshot::to_json`].
    pub fn from_json(text: &str) -> Result<Snapshot, SchemaError> {
        serde_json::from_str(text).map_err(|e| SchemaError::BadSnapshot(e.to_string()))
    }

    /// What changed from `self` to `other`, in identity order.
    pub fn diff(&self, other: &Snapshot) -> Vec<Difference> {
        let mut out = Vec::new();
        for (object, definition) in &self.objects {
            match other.objects.get(object) {
                None => out.push(Difference::Removed {
                    object: object.clone(),
                    definition: definition.clone(),
                }),
                Some(after) if after != definition => out.push(Difference::Changed {
                    object: object.clone(),
                    before: definition.clone(),
                    after: after.clone(),
                }),
                Some(_) => {}
            }
        }
        for (object, definition) in &other.objects {
            if !self.objects.contains_key(object) {
                out.push(Difference::Added {
                    object: object.clone(),
                    definition: definition.clone(),
                });
            }
        }
        out.sort_by(|a, b| identity_of(a).cmp(identity_of(b)));
        out
    }

    /// Counts of user objects by kind.
    pub fn stats(&self) -> Stats {
        let mut s = Stats::default();
        for (identity, definition) in &self.objects {
            let kind = identity.split(' ').next().unwrap_or("");
            match kind {
                // initdb creates `public`; counting it would make a set that creates 14
                // schemas report 15.
                "schema" if identity == "schema public" => s.public_schema = true,
                "schema" => s.schemas += 1,
                "extension" => s.extensions += 1,
                "table" => s.tables += 1,
                "partition" => {
                    s.tables += 1;
                    s.partitions += 1
                }
                "view" => s.views += 1,
                "materialized_view" => s.materialized_views += 1,
                "sequence" => s.sequences += 1,
                "function" => s.functions += 1,
                "procedure" => s.procedures += 1,
                "trigger" => s.triggers += 1,
                "type" => s.types += 1,
                "policy" => s.policies += 1,
                "index" => {
                    s.indexes += 1;
                    if !definition.contains("-- backs constraint") {
                        s.explicit_indexes += 1;
                    }
                }
                "constraint" => {
                    let ty = definition.split_whitespace().next().unwrap_or("");
                    match ty {
                        "PRIMARY" => s.constraints.primary_key += 1,
                        "FOREIGN" => s.constraints.foreign_key += 1,
                        "UNIQUE" => s.constraints.unique += 1,
                        "CHECK" => s.constraints.check += 1,
                        "EXCLUDE" => s.constraints.exclusion += 1,
                        _ => s.constraints.other += 1,
                    }
                }
                _ => {}
            }
        }
        s
    }
}

fn identity_of(d: &Difference) -> &str {
    match d {
        Difference::Added { object, .. }
        | Difference::Removed { object, .. }
        | Difference::Changed { object, .. } => object,
    }
}

/// Trailing whitespace on lines is noise (function bodies keep their own text otherwise).
fn normalize(definition: &str) -> String {
    definition
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned()
}

/// Counts of user objects (extension members excluded).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Schemas, `public` excluded.
    pub schemas: usize,
    /// Whether the `public` schema exists (initdb creates it; migrations may drop it).
    pub public_schema: bool,
    /// Extensions.
    pub extensions: usize,
    /// Tables, partitions included.
    pub tables: usize,
    /// Partitions.
    pub partitions: usize,
    /// Constraints by type.
    pub constraints: ConstraintStats,
    /// Indexes, all.
    pub indexes: usize,
    /// Indexes created explicitly (not backing a primary key, unique or exclusion constraint).
    pub explicit_indexes: usize,
    /// Sequences.
    pub sequences: usize,
    /// Functions.
    pub functions: usize,
    /// Procedures.
    pub procedures: usize,
    /// Triggers.
    pub triggers: usize,
    /// Views.
    pub views: usize,
    /// Materialized views.
    pub materialized_views: usize,
    /// Enum, domain, composite and range types.
    pub types: usize,
    /// Row-level security policies.
    pub policies: usize,
}

/// Constraint counts by type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ConstraintStats {
    /// PRIMARY KEY.
    pub primary_key: usize,
    /// FOREIGN KEY.
    pub foreign_key: usize,
    /// UNIQUE.
    pub unique: usize,
    /// CHECK (NOT NULL is a column property, not counted).
    pub check: usize,
    /// EXCLUDE.
    pub exclusion: usize,
    /// Anything else (constraint triggers).
    pub other: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(pairs: &[(&str, &str)]) -> Snapshot {
        Snapshot {
            objects: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn diff_is_ordered_and_complete() {
        let a = snap(&[
            (
                "index public.a_x",
                "CREATE INDEX a_x ON public.a USING btree (x)",
            ),
            ("table public.a", ""),
        ]);
        let b = snap(&[
            ("table public.a", ""),
            ("table public.b", ""),
            (
                "index public.a_x",
                "CREATE INDEX a_x ON public.a USING btree (y)",
            ),
        ]);
        let d = a.diff(&b);
        assert_eq!(d.len(), 2);
        assert!(
            matches!(&d[0], Difference::Changed { object, .. } if object == "index public.a_x")
        );
        assert!(matches!(&d[1], Difference::Added { object, .. } if object == "table public.b"));
        assert!(a.diff(&a).is_empty());
        assert_eq!(Snapshot::from_json(&a.to_json()).unwrap(), a);
    }

    #[test]
    fn public_is_counted_apart() {
        let mut pairs = vec![("schema public", "")];
        let names: Vec<String> = (1..=14).map(|i| format!("schema s{i}")).collect();
        pairs.extend(names.iter().map(|n| (n.as_str(), "")));
        pairs.push(("schema \"Public\"", ""));
        let stats = snap(&pairs).stats();
        assert_eq!(
            stats.schemas, 15,
            "a quoted \"Public\" is a schema of the set"
        );
        assert!(stats.public_schema);
        let json = serde_json::to_value(&stats).unwrap();
        assert_eq!(json["schemas"], 15);
        assert_eq!(json["public_schema"], true);
        let stats = snap(&[("schema app", "")]).stats();
        assert_eq!((stats.schemas, stats.public_schema), (1, false));
    }
}
