//! `strata new`: the next migration's file names and templates, in the set's own layout and
//! version spelling (so a Laravel-timestamped set gets a Laravel timestamp, a `000007` set gets
//! `000008`).

use crate::MigrationSet;
use std::path::PathBuf;

/// A wall-clock time in UTC, passed in so this module stays pure.
#[derive(Debug, Clone, Copy)]
pub struct Timestamp {
    /// Year.
    pub year: u32,
    /// Month 1-12.
    pub month: u32,
    /// Day 1-31.
    pub day: u32,
    /// Hour 0-23.
    pub hour: u32,
    /// Minute.
    pub minute: u32,
    /// Second.
    pub second: u32,
}

impl Timestamp {
    /// The UTC wall-clock time `secs` seconds after 1970-01-01T00:00:00Z (the caller reads the
    /// clock, so this stays pure).
    pub fn from_unix_seconds(secs: i64) -> Timestamp {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (year, month, day) = strata_model::civil_from_days(days);
        Timestamp {
            year: year as u32,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: (rem % 3600 / 60) as u32,
            second: (rem % 60) as u32,
        }
    }

    /// `YYYYMMDDHHMMSS`, the timestamp versions of dbmate, goose and Prisma.
    pub fn compact(&self) -> String {
        format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// `YYYY<sep>MM<sep>DD<sep>HHMMSS` (diesel's `-`, Laravel's `_`).
    pub fn separated(&self, sep: char) -> String {
        format!(
            "{:04}{sep}{:02}{sep}{:02}{sep}{:02}{:02}{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// A file `strata new` will create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFile {
    /// Path relative to the set's directory.
    pub rel: PathBuf,
    /// Initial content.
    pub content: String,
}

enum Style {
    Compact,
    Separated(char),
    Number { width: usize },
}

fn style_of(raw: &str) -> Style {
    let b = raw.as_bytes();
    if b.len() == 17 && (b[4] == b'_' || b[4] == b'-') {
        Style::Separated(b[4] as char)
    } else if b.len() == 14 && b.iter().all(u8::is_ascii_digit) && raw.starts_with("20") {
        Style::Compact
    } else {
        Style::Number {
            width: raw.split(['.', '_', '-']).next().unwrap_or(raw).len(),
        }
    }
}

/// Turns a free-form name into `snake_case` file-name material.
pub fn sanitize_name(name: &str) -> String {
    let mut out = String::new();
    for ch in name.trim().chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_owned()
}

impl NewFile {
    /// A file at `rel` holding `content`.
    pub fn new(rel: impl Into<PathBuf>, content: impl Into<String>) -> NewFile {
        NewFile {
            rel: rel.into(),
            content: content.into(),
        }
    }
}

/// What `strata new` writes into a down script.
pub(crate) const DOWN_TEMPLATE: &str = "-- Write the statements that undo the up migration here.\n";

/// The up script `strata new` writes: a marker `up` refuses to apply until it is deleted, so a
/// migration created and forgotten is never recorded as applied with nothing in it.
pub const UP_TEMPLATE: &str =
    "-- strata:template\n-- Write the forward migration here, then delete the line above.\n";

/// Whole files as earlier strata releases wrote them from `strata new`, before the marker:
/// a blank up script whose file is exactly one of these is a template too.
pub(crate) const LEGACY_TEMPLATES: &[&str] = &[
    "-- Write the forward migration here.\n",
    "-- migrate:up\n\n-- migrate:down\n\n",
    "-- +goose Up\n\n-- +goose Down\n\n",
];

/// The files for a new migration called `name` in `set`.
pub fn new_migration_files(
    set: &MigrationSet,
    name: &str,
    now: Timestamp,
) -> Result<Vec<NewFile>, String> {
    let name = sanitize_name(name);
    if name.is_empty() {
        return Err(
            "the migration name must contain letters or digits, e.g. `strata new add_users_table`"
                .into(),
        );
    }
    let layout = crate::layout_for(set.detection.layout);
    // Asked first, so a layout whose files are not strata's to write says so before anything
    // about versions.
    layout.new_files("0", &name)?;
    let last = set.versioned().filter_map(|m| m.id.version.clone()).max();
    let version = match &last {
        Some(v) => match style_of(v.as_str()) {
            Style::Compact => now.compact(),
            Style::Separated(c) => now.separated(c),
            Style::Number { width } => {
                let next = v
                    .parts()
                    .next()
                    .unwrap_or("0")
                    .parse::<u128>()
                    .map_err(|_| format!("version {v} is too large to increment"))?
                    + 1;
                format!("{next:0width$}")
            }
        },
        None => layout.first_version(&now),
    };
    if let Some(last) = &last {
        let candidate = strata_model::Version::parse(&version).map_err(|e| e.to_string())?;
        if candidate <= *last {
            return Err(format!("the next version {version} would not sort after the last one ({last}); check the system clock"));
        }
    }
    layout.new_files(&version, &name)
}

#[cfg(test)]
mod tests {
    use super::Timestamp;

    #[test]
    fn timestamps_from_unix_seconds_golden() {
        let t = |secs| {
            let t = Timestamp::from_unix_seconds(secs);
            (t.compact(), t.separated('_'))
        };
        assert_eq!(t(0), ("19700101000000".into(), "1970_01_01_000000".into()));
        // 2026-11-22T02:53:55Z
        assert_eq!(
            t(1_795_316_035),
            ("20261122025355".into(), "2026_11_22_025355".into())
        );
        assert_eq!(
            t(951_782_400),
            ("20000229000000".into(), "2000_02_29_000000".into())
        );
        assert_eq!(
            t(253_402_300_799),
            ("99991231235959".into(), "9999_12_31_235959".into())
        );
    }
}
