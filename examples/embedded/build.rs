//! Rebuilds the application when a migration is added or removed: `strata::embed!` includes
//! each file it found (so an edit rebuilds), but a procedural macro cannot watch a directory.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
