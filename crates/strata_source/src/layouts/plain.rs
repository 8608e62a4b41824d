//! Plain numbered files, as psql loops run them: `<version>_<name>.sql` with an optional
//! `<version>_<name>.down.sql`. The fallback when no tool-specific name or marker is found.

use super::{pairs::load_pairs, Layout, LayoutKind, Loaded};
use crate::listing::Listing;
use crate::new_file::{NewFile, Timestamp, DOWN_TEMPLATE, UP_TEMPLATE};

/// The plain layout.
pub struct Plain;

impl Layout for Plain {
    fn kind(&self) -> LayoutKind {
        LayoutKind::Plain
    }
    fn name(&self) -> &'static str {
        "plain"
    }
    fn pattern(&self) -> &'static str {
        "`<version>_<name>.sql` with an optional `<version>_<name>.down.sql`"
    }
    fn evidence(&self, listing: &Listing) -> usize {
        listing
            .entries()
            .iter()
            .filter(|e| e.parent.is_none() && e.name.ends_with(".sql"))
            .count()
    }
    fn load(&self, listing: &Listing) -> Loaded {
        load_pairs(listing, LayoutKind::Plain, ".sql")
    }
    /// node-pg-migrate projects keep JavaScript/TypeScript migrations beside the SQL ones
    /// strata reads as plain files.
    fn code_languages(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("js", "JavaScript"),
            ("cjs", "JavaScript"),
            ("mjs", "JavaScript"),
            ("ts", "TypeScript"),
        ]
    }
    fn whole_file_scripts(&self) -> bool {
        true
    }
    fn flat(&self) -> bool {
        true
    }
    fn shares_versions(&self) -> bool {
        true
    }
    fn first_version(&self, _: &Timestamp) -> String {
        "001".into()
    }
    fn new_files(&self, version: &str, name: &str) -> Result<Vec<NewFile>, String> {
        Ok(vec![
            NewFile::new(format!("{version}_{name}.sql"), UP_TEMPLATE),
            NewFile::new(format!("{version}_{name}.down.sql"), DOWN_TEMPLATE),
        ])
    }
    fn squashed_file(&self, version: &str, name: &str, body: &str) -> Result<NewFile, String> {
        Ok(NewFile::new(format!("{version}_{name}.sql"), body))
    }
}
