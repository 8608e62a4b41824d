//! dbmate: one `<version>_<name>.sql` file per migration, its forward SQL after a
//! `-- migrate:up` line and its rollback after `-- migrate:down`.

use super::sectioned::{evidence, load_sectioned, Marker, MarkerFn};
use super::{Layout, LayoutKind, Loaded};
use crate::listing::Listing;
use crate::new_file::{NewFile, UP_TEMPLATE};

/// The dbmate layout.
pub struct Dbmate;

const MARKER: MarkerFn = dbmate_marker;

impl Layout for Dbmate {
    fn kind(&self) -> LayoutKind {
        LayoutKind::Dbmate
    }
    fn name(&self) -> &'static str {
        "dbmate"
    }
    fn pattern(&self) -> &'static str {
        "`<version>_<name>.sql` containing `-- migrate:up` (and optionally `-- migrate:down`)"
    }
    fn evidence(&self, listing: &Listing) -> usize {
        evidence(listing, MARKER)
    }
    fn load(&self, listing: &Listing) -> Loaded {
        // dbmate refuses to roll back a migration without a down section.
        load_sectioned(
            listing,
            LayoutKind::Dbmate,
            MARKER,
            ("-- migrate:up", "-- migrate:down"),
            false,
        )
    }
    fn new_files(&self, version: &str, name: &str) -> Result<Vec<NewFile>, String> {
        Ok(vec![NewFile::new(
            format!("{version}_{name}.sql"),
            format!("-- migrate:up\n{UP_TEMPLATE}\n-- migrate:down\n\n"),
        )])
    }
    fn squashed_file(&self, version: &str, name: &str, body: &str) -> Result<NewFile, String> {
        Ok(NewFile::new(
            format!("{version}_{name}.sql"),
            format!("-- migrate:up\n{body}\n-- migrate:down\n"),
        ))
    }
}

/// dbmate's reading of a line: a section marker with its options, or an error for a marker
/// dbmate would not understand.
fn dbmate_marker(line: &str) -> Option<Result<Marker, String>> {
    let rest = line.trim().strip_prefix("--")?.trim_start();
    let rest = rest.strip_prefix("migrate:")?;
    let mut words = rest.split_whitespace();
    let section = words.next().unwrap_or("");
    let mut no_transaction = false;
    for option in words {
        match option {
            "transaction:false" => no_transaction = true,
            "transaction:true" => no_transaction = false,
            other => {
                return Some(Err(format!(
                    "unknown dbmate option `{other}` (dbmate knows `transaction:false`)"
                )))
            }
        }
    }
    Some(match section {
        "up" => Ok(Marker::Up { no_transaction }),
        "down" => Ok(Marker::Down { no_transaction }),
        other => Err(format!(
            "unknown dbmate section `migrate:{other}`; use `-- migrate:up` or `-- migrate:down`"
        )),
    })
}
