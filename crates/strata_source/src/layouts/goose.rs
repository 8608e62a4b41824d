//! goose: one `<version>_<name>.sql` file per migration, annotated `-- +goose Up` and
//! `-- +goose Down` (with `StatementBegin`/`StatementEnd` blocks and `NO TRANSACTION`), and Go
//! migrations beside them, which take their place in the order.

use super::sectioned::{evidence, load_sectioned, Marker, MarkerFn};
use super::{Layout, LayoutKind, Loaded};
use crate::listing::Listing;
use crate::new_file::{NewFile, UP_TEMPLATE};

/// The goose layout.
pub struct Goose;

const MARKER: MarkerFn = goose_marker;

impl Layout for Goose {
    fn kind(&self) -> LayoutKind {
        LayoutKind::Goose
    }
    fn name(&self) -> &'static str {
        "goose"
    }
    fn pattern(&self) -> &'static str {
        "`<version>_<name>.sql` containing `-- +goose Up` (and optionally `-- +goose Down`)"
    }
    fn evidence(&self, listing: &Listing) -> usize {
        evidence(listing, MARKER)
    }
    fn load(&self, listing: &Listing) -> Loaded {
        // goose reads a file without a `-- +goose Down` section as one whose down does
        // nothing (`goose down` only removes its version).
        load_sectioned(
            listing,
            LayoutKind::Goose,
            MARKER,
            ("-- +goose Up", "-- +goose Down"),
            true,
        )
    }
    fn code_languages(&self) -> &'static [(&'static str, &'static str)] {
        &[("go", "Go")]
    }
    fn new_files(&self, version: &str, name: &str) -> Result<Vec<NewFile>, String> {
        Ok(vec![NewFile::new(
            format!("{version}_{name}.sql"),
            format!("-- +goose Up\n{UP_TEMPLATE}\n-- +goose Down\n\n"),
        )])
    }
    fn squashed_file(&self, version: &str, name: &str, body: &str) -> Result<NewFile, String> {
        Ok(NewFile::new(
            format!("{version}_{name}.sql"),
            format!("-- +goose Up\n{body}"),
        ))
    }
}

/// goose's reading of a line: an annotation, or an error for one goose would not understand.
fn goose_marker(line: &str) -> Option<Result<Marker, String>> {
    let rest = line.trim().strip_prefix("--")?.trim_start();
    let rest = rest.strip_prefix("+goose")?.trim();
    let lower = rest.to_ascii_lowercase();
    Some(match lower.as_str() {
        "up" => Ok(Marker::Up {
            no_transaction: false,
        }),
        "down" => Ok(Marker::Down {
            no_transaction: false,
        }),
        "no transaction" => Ok(Marker::NoTransaction),
        "statementbegin" => Ok(Marker::StatementBegin),
        "statementend" => Ok(Marker::StatementEnd),
        "envsub on" | "envsub off" => Ok(Marker::Other),
        _ => Err(format!("unknown goose annotation `-- +goose {rest}`")),
    })
}
