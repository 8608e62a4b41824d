//! Checksums with a documented normalization.
//!
//! Format `sha256-lf`: SHA-256 of the file's bytes after removing one leading UTF-8 byte order
//! mark and replacing every CRLF pair with LF. A file checked out with `core.autocrlf` on Windows
//! therefore has the same checksum as on Linux. The algorithm name is stored beside the hash so
//! that a future normalization can be introduced without misreading old rows.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The checksum algorithms strata knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ChecksumAlgorithm {
    /// SHA-256 after stripping a BOM and CRLF -> LF.
    #[serde(rename = "sha256-lf")]
    Sha256Lf,
    /// `sha256-lf` of a sectioned file (dbmate, goose) without its down section (from the
    /// down marker line to the section's end): the checksum of what `up` ran, so editing only
    /// the down section of an applied migration is not an edit of it.
    #[serde(rename = "sha256-lf-up")]
    Sha256LfUp,
}

impl ChecksumAlgorithm {
    /// The name stored in the registry.
    pub fn as_str(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Sha256Lf => "sha256-lf",
            ChecksumAlgorithm::Sha256LfUp => "sha256-lf-up",
        }
    }

    /// Parses a stored name.
    pub fn from_name(name: &str) -> Option<ChecksumAlgorithm> {
        match name {
            "sha256-lf" => Some(ChecksumAlgorithm::Sha256Lf),
            "sha256-lf-up" => Some(ChecksumAlgorithm::Sha256LfUp),
            _ => None,
        }
    }
}

/// Lowercase hex of `bytes` (digests in the registry and in other tools' histories).
pub fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        hex.push(HEX[usize::from(b >> 4)] as char);
        hex.push(HEX[usize::from(b & 15)] as char);
    }
    hex
}

/// A content hash with its algorithm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checksum {
    /// How `hex` was computed.
    pub algorithm: ChecksumAlgorithm,
    /// Lowercase hex digest.
    pub hex: String,
}

impl Checksum {
    /// Computes the `sha256-lf` checksum of raw file bytes.
    pub fn of_bytes(bytes: &[u8]) -> Checksum {
        Checksum {
            algorithm: ChecksumAlgorithm::Sha256Lf,
            hex: sha256_lf(bytes),
        }
    }

    /// Computes the `sha256-lf-up` checksum of a sectioned file given as the parts of it that
    /// are not its down section, in order (see [`ChecksumAlgorithm::Sha256LfUp`]).
    pub fn of_up_parts(parts: &[&[u8]]) -> Checksum {
        Checksum {
            algorithm: ChecksumAlgorithm::Sha256LfUp,
            hex: sha256_lf(&parts.concat()),
        }
    }

    /// The first 12 hex digits, for tables.
    pub fn short(&self) -> &str {
        &self.hex[..self.hex.len().min(12)]
    }
}

/// Hex SHA-256 of `bytes` after removing a UTF-8 BOM and turning CRLF into LF.
fn sha256_lf(bytes: &[u8]) -> String {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut hasher = Sha256::new();
    let mut start = 0;
    let mut i = 0;
    while i + 1 < body.len() {
        if body[i] == b'\r' && body[i + 1] == b'\n' {
            hasher.update(&body[start..i]);
            start = i + 1;
            i += 2;
        } else {
            i += 1;
        }
    }
    hasher.update(&body[start..]);
    to_hex(&hasher.finalize())
}

impl std::fmt::Display for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.algorithm.as_str(), self.hex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_and_bom_do_not_change_the_checksum() {
        let lf = Checksum::of_bytes(b"create table t (id int);\nselect 1;\n");
        let crlf = Checksum::of_bytes(b"create table t (id int);\r\nselect 1;\r\n");
        let bom = Checksum::of_bytes(b"\xEF\xBB\xBFcreate table t (id int);\r\nselect 1;\n");
        assert_eq!(lf, crlf);
        assert_eq!(lf, bom);
        assert_ne!(
            lf,
            Checksum::of_bytes(b"create table t (id bigint);\nselect 1;\n")
        );
    }

    #[test]
    fn known_digest() {
        // sha256("a\n")
        assert_eq!(
            Checksum::of_bytes(b"a\r\n").hex,
            "87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7"
        );
        // A lone CR is content, not a line ending.
        assert_ne!(Checksum::of_bytes(b"a\r"), Checksum::of_bytes(b"a\n"));
    }

    #[test]
    fn up_parts_hash_like_the_file_without_its_down() {
        let up = Checksum::of_up_parts(&[b"-- migrate:up\r\nselect 1;\r\n", b""]);
        assert_eq!(up.algorithm, ChecksumAlgorithm::Sha256LfUp);
        assert_eq!(
            up.hex,
            Checksum::of_bytes(b"-- migrate:up\nselect 1;\n").hex
        );
        assert_eq!(
            ChecksumAlgorithm::from_name(up.algorithm.as_str()),
            Some(ChecksumAlgorithm::Sha256LfUp)
        );
    }
}
