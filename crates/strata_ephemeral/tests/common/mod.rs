//! Helpers shared by the integration tests (included with `mod common;`).
#![allow(dead_code)]

use std::process::Command;

/// Whether the tests run as root (then servers run as `postgres`).
pub fn running_as_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("run `id -u`");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}
