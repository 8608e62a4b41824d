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
        let parts: Vec<String> = self
            .components()
            .take(self.significant_parts().max(1))
            .map(|c| c.digits().map(char::from).collect())
            .collect();
        parts.join(".")
    }

    /// True when the version starts with a date and time written in groups
    /// (`2025-11-14-000001`, Laravel's `2025_11_14_000001`), which read as the one number
    /// `20251114000001`: diesel and Laravel sets mix both spellings, and the tools order them
    /// by that number.
    fn dated(&self) -> bool {
        let b = self.raw.as_bytes();
        let digits = |from: usize, n: usize| {
            b.len() >= from + n && b[from..from + n].iter().all(u8::is_ascii_digit)
        };
        let sep = |at: usize| matches!(b.get(at), Some(b'_' | b'-'));
        b.first().is_some_and(|d| *d != b'0')
            && digits(0, 4)
            && sep(4)
            && digits(5, 2)
            && sep(7)
            && digits(8, 2)
            && sep(10)
            && digits(11, 6)
            && (b.len() == 17 || matches!(b[17], b'.' | b'_' | b'-'))
    }

    /// The components compared: [`Version::parts`], except that a dated version's first four
    /// groups are one component (see [`Version::dated`]).
    fn components(&self) -> impl Iterator<Item = Component<'_>> + '_ {
        let dated = self.dated();
        let (head, rest) = if dated {
            (
                Some(Component::Dated(&self.raw[..17])),
                self.raw.get(18..).unwrap_or(""),
            )
        } else {
            (None, self.raw.as_str())
        };
        let rest = (!rest.is_empty()).then_some(rest);
        head.into_iter()
            .chain(
                rest.into_iter()
                    .flat_map(|r| r.split(['.', '_', '-']))
                    .map(|group| {
                        let trimmed = group.trim_start_matches('0');
                        Component::Plain(if trimmed.is_empty() { "0" } else { trimmed })
                    }),
            )
    }

    /// How many leading components carry the version: trailing zero components are noise
    /// (`1.0` is `1`, the Flyway and `_` spellings) unless written after a `-`. diesel's
    /// `2025-09-19-132648-0000_name` is its own version (diesel records
    /// `202509191326480000`), sorted right after `2025-09-19-132648`, not equal to it.
    fn significant_parts(&self) -> usize {
        // One pass, no allocation: this runs on every comparison of two spellings. Counted
        // in components (a dated version's date and time are one).
        let bytes = self.raw.as_bytes();
        let dated = self.dated();
        let (mut significant, mut offset, mut after_dash) = (0, 0, false);
        let mut component = 0;
        for (i, group) in self.raw.split(['.', '_', '-']).enumerate() {
            // The date and time groups of a dated version: one non-zero component.
            if dated && i < 4 {
                offset += group.len() + 1;
                if i == 3 {
                    significant = 1;
                    component = 1;
                    after_dash = bytes.get(offset - 1) == Some(&b'-');
                }
                continue;
            }
            component += 1;
            if after_dash || group.bytes().any(|b| b != b'0') {
                significant = component;
            }
            offset += group.len();
            after_dash = bytes.get(offset) == Some(&b'-');
            offset += 1;
        }
        significant
    }

    /// Same migration version numerically (`005` == `5`, `1.2` == `1_2`).
    pub fn same_as(&self, other: &Version) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

/// One compared component: a group of digits without leading zeros, or the date and time of
/// a dated version read as one 14-digit number.
#[derive(Debug, Clone, Copy)]
enum Component<'a> {
    /// Digits, leading zeros removed (`"0"` for zero).
    Plain(&'a str),
    /// `YYYY?MM?DD?HHMMSS` (the first digit not a zero), read without its separators.
    Dated(&'a str),
}

impl Component<'_> {
    fn digits(&self) -> impl Iterator<Item = u8> + '_ {
        let text = match self {
            Component::Plain(t) | Component::Dated(t) => *t,
        };
        text.bytes().filter(u8::is_ascii_digit)
    }

    fn len(&self) -> usize {
        match self {
            Component::Plain(t) => t.len(),
            Component::Dated(_) => 14,
        }
    }

    /// Numeric order: more digits is larger (no leading zeros), then digit by digit.
    fn cmp_number(&self, other: &Self) -> Ordering {
        self.len()
            .cmp(&other.len())
            .then_with(|| self.digits().cmp(other.digits()))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        // Spelled the same (the usual case when matching a file with its history row).
        if self.raw == other.raw {
            return Ordering::Equal;
        }
        // Component by component over the significant ones; a version that is a prefix of
        // another sorts first (`1.2` after `1`; `1.0` equals `1`).
        let (mine, theirs) = (self.significant_parts(), other.significant_parts());
        for (a, b) in self
            .components()
            .take(mine)
            .zip(other.components().take(theirs))
        {
            match a.cmp_number(&b) {
                Ordering::Equal => continue,
                unequal => return unequal,
            }
        }
        mine.cmp(&theirs)
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
    fn a_zero_group_after_a_dash_is_part_of_the_version() {
        // diesel: `<timestamp>` and `<timestamp>-0000` are two migrations, in that order.
        let plain = v("2026-05-27-120000");
        let suffixed = v("2026-05-27-120000-0000");
        assert!(plain < suffixed && suffixed < v("2026-05-27-120001"));
        assert_ne!(plain.canonical_key(), suffixed.canonical_key());
        assert_eq!(suffixed, v("2026-05-27-120000-0"));
        assert_eq!(
            suffixed.canonical_key(),
            v("2026-05-27-120000-0").canonical_key()
        );
        // The dotted and underscored spellings keep Flyway's `1.0` == `1`.
        assert_eq!(v("1.2.0"), v("1.2"));
        assert_eq!(v("1_2_0"), v("1_2"));
        assert!(v("1-0") > v("1.0") && v("1.0") == v("1"));
        assert_ne!(v("1-0").canonical_key(), v("1.0").canonical_key());
        assert_eq!(v("1-0-1"), v("1.0.1"), "a zero inside a version is a zero");
    }

    #[test]
    fn dated_and_compact_timestamps_order_as_one_number() {
        // diesel and Laravel sets mix `20140924113530_x` and `2017-08-31-230457_y`.
        assert!(v("20140924113530") < v("2017-08-31-230457"));
        assert!(v("2017-08-31-230457") < v("20180101000000"));
        assert_eq!(v("2017-08-31-230457"), v("20170831230457"));
        assert_eq!(v("2017_08_31_230457"), v("2017-08-31-230457"));
        assert_eq!(
            v("2017-08-31-230457").canonical_key(),
            v("20170831230457").canonical_key()
        );
        // A suffix after the time is a component of its own.
        assert!(v("2026-05-27-120000") < v("2026-05-27-120000-0000"));
        assert!(v("2026-05-27-120000-0000") < v("20260601000000"));
        assert!(v("1") < v("2017-08-31-230457"));
        // Not dated: a leading zero, or a seventh digit in the time.
        assert!(v("0017-08-31-230457") < v("18"));
        assert!(!v("2025-11-14-0000011").dated() && v("2025-11-14-000002").dated());
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "a", "1a", "1__2", "_1", "1.", "V1"] {
            assert!(Version::parse(bad).is_err(), "{bad}");
        }
    }
}
