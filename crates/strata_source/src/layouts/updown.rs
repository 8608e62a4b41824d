//! golang-migrate and sqlx reversible migrations: `<version>_<name>.up.sql` with
//! `<version>_<name>.down.sql`.

use super::{pairs::load_pairs, Layout, LayoutKind, Loaded};
use crate::listing::Listing;
use crate::new_file::{NewFile, Timestamp, DOWN_TEMPLATE, UP_TEMPLATE};

/// The updown layout.
pub struct Updown;

impl Layout for Updown {
    fn kind(&self) -> LayoutKind {
        LayoutKind::Updown
    }
    fn name(&self) -> &'static str {
        "updown"
    }
    fn pattern(&self) -> &'static str {
        "`<version>_<name>.up.sql` with `<version>_<name>.down.sql`"
    }
    fn evidence(&self, listing: &Listing) -> usize {
        listing
            .entries()
            .iter()
            .filter(|e| e.parent.is_none() && e.name.ends_with(".up.sql"))
            .count()
    }
    fn load(&self, listing: &Listing) -> Loaded {
        load_pairs(listing, LayoutKind::Updown, ".up.sql")
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
        "000001".into()
    }
    fn new_files(&self, version: &str, name: &str) -> Result<Vec<NewFile>, String> {
        Ok(vec![
            NewFile::new(format!("{version}_{name}.up.sql"), UP_TEMPLATE),
            NewFile::new(format!("{version}_{name}.down.sql"), DOWN_TEMPLATE),
        ])
    }
    fn squashed_file(&self, version: &str, name: &str, body: &str) -> Result<NewFile, String> {
        Ok(NewFile::new(format!("{version}_{name}.up.sql"), body))
    }
}
