//! Migration versions, ordered by numeric components.
//!
//! Tools that compare versions as strings put `10` before `9`; strata never does. A version is a
//! list of unsigned integers of any length (timestamps do not fit in a `u64` forever, and
//! `000001` must equal `1`), compared component by component.

use serde::Serialize;
use std::cmp::Ordering;

/// A migration version such as `000001`, `20250101120000`, `2025_11_14_000001` or `1.2.3`.
///
/// Only the text is stored: the components are read from it when compared, which costs less
/// than the two extra allocations per version that storing them took (a set of 10,000
/// migrations builds 10,000 versions on every run).
#[derive(Debug, Clone, Serialize)]
#[serde(into = "String")]
pub struct Version {
    /// As written; [`Version::parse`] checked it is digit groups separated by `.`, `_` or `-`.
    raw: String,
}

/// A version string that is not a dot/underscore/dash separated list of digit groups.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a version: expected digit groups separated by `.`, `_` or `-` (like `7`, `000007`, `1_2`, `1.2.3`, `20250101120000`)")]
pub struct VersionParseError {
    /// The rejected text.
    pub input: String,
}

impl Version {
    /// Parses a version as written in a file name (without any `V` prefix).
    pub fn parse(raw: &str) -> Result<Version, VersionParseError> {
        let well_formed = !raw.is_empty()
            && raw
                .split(['.', '_', '-'])
                .all(|group| !group.is_empty() && group.bytes().all(|b| b.is_ascii_digit()));
        if !well_formed {
            return Err(VersionParseError {
                input: raw.to_owned(),
            });
        }
        Ok(Version {
            raw: raw.to_owned(),
        })
    }

    /// Parses a version given by a user on the command line: `005`, `5` and `V5` name the same
    /// migration.
    pub fn parse_user(input: &str) -> Result<Version, VersionParseError> {
        let stripped = input.strip_prefix(['V', 'v']).unwrap_or(input);
        Version::parse(stripped).map_err(|_| VersionParseError {
            input: input.to_owned(),
        })
    }

    /// The version exactly as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Numeric components, leading zeros removed (`"0"` for a zero component).
    pub fn parts(&self) -> impl Iterator<Item = &str> + Clone + '_ {
        self.raw.split(['.', '_', '-']).map(|group| {
            let trimmed = group.trim_start_matches('0');
            if trimmed.is_empty() {
                "0"
            } else {
                trimmed
            }
        })
    }

    /// A string that is equal for exactly the versions that are [`Version::same_as`] each
    /// other (`005`, `5` and `5.0` all give `5`): a hash-map key for matching history rows.
    pub fn canonical_key(&self) -> String {
        let parts: Vec<&str> = self.parts().collect();
        let keep = parts.iter().rposition(|p| *p != "0").map_or(1, |i| i + 1);
        parts[..keep].join(".")
    }

    /// Same migration version numerically (`005` == `5`, `1.2` == `1_2`).
    pub fn same_as(&self, other: &Version) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

fn cmp_digits(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        // Spelled the same (the usual case when matching a file with its history row).
        if self.raw == other.raw {
            return Ordering::Equal;
        }
        let (mut mine, mut theirs) = (self.parts(), other.parts());
        loop {
            match (mine.next(), theirs.next()) {
                (Some(a), Some(b)) => match cmp_digits(a, b) {
                    Ordering::Equal => continue,
                    unequal => return unequal,
                },
                // `1.2` sorts after `1` ... but `1.0` equals `1`: trailing zero components are
                // noise.
                (Some(a), None) => {
                    return if a == "0" && mine.all(|p| p == "0") {
                        Ordering::Equal
                    } else {
                        Ordering::Greater
                    };
                }
                (None, Some(b)) => {
                    return if b == "0" && theirs.all(|p| p == "0") {
                        Ordering::Equal
                    } else {
                        Ordering::Less
                    };
                }
                (None, None) => return Ordering::Equal,
            }
        }
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.raw)
    }
}

impl From<Version> for String {
    fn from(v: Version) -> String {
        v.raw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn orders_numerically_not_lexically() {
        assert!(v("9") < v("10"));
        assert!(v("1_9") < v("1_10"));
        assert!(v("1.2.3") < v("1.10"));
        assert!(v("000009") < v("10"));
        assert!(v("2025_11_14_000001") < v("2025_11_14_000002"));
        assert!(v("20250101120000") < v("20250101120001"));
        assert!(v("99999999999999999999999") < v("100000000000000000000000"));
    }

    #[test]
    fn equal_spellings_are_equal() {
        assert_eq!(v("005"), v("5"));
        assert_eq!(v("1.2"), v("1_2"));
        assert_eq!(v("1"), v("1.0"));
        assert!(v("1") < v("1.1"));
        assert_eq!(Version::parse_user("V5").unwrap(), v("005"));
        assert_eq!(v("005").canonical_key(), v("5.0").canonical_key());
        assert_eq!(v("0").canonical_key(), v("000").canonical_key());
        assert_ne!(v("1.2").canonical_key(), v("12").canonical_key());
        assert_eq!(v("1.0.0"), v("001"));
        assert!(v("1.0.1") > v("1"));
        assert!(v("1") < v("1.0.1"));
        assert_eq!(v("007.000-0").parts().collect::<Vec<_>>(), ["7", "0", "0"]);
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "a", "1a", "1__2", "_1", "1.", "V1"] {
            assert!(Version::parse(bad).is_err(), "{bad}");
        }
    }
}
