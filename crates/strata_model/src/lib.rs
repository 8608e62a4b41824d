//! The vocabulary every other strata crate speaks.
//!
//! These types are deliberately free of I/O, PostgreSQL clients and CLI concerns so that the
//! planner, the layouts and the linter can be tested in milliseconds. Separate states get
//! separate types: a [`Migration`] is what lives on disk, an [`AppliedMigration`] is a history
//! row; neither is an `Option`-riddled union of the two.

mod checksum;
mod source;
mod version;

pub use checksum::{to_hex, Checksum, ChecksumAlgorithm};
pub use source::{char_pos_to_byte, LineCol, SourceFile};
pub use version::{Version, VersionParseError};

use serde::Serialize;
use std::sync::Arc;

/// Whether a migration runs inside one transaction together with its history row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransactionMode {
    /// The whole script and its history row commit or roll back together.
    Transactional,
    /// Statements run one by one in autocommit mode; needed for `CREATE INDEX CONCURRENTLY` and
    /// friends, which PostgreSQL refuses inside a transaction block.
    NonTransactional,
    /// The script contains its own `BEGIN`/`COMMIT` and runs statement by statement, as psql
    /// would run it.
    ScriptManaged,
}

/// Why a script runs in the [`TransactionMode`] it runs in; shown by `--dry-run` and `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransactionDecision {
    /// The chosen mode.
    pub mode: TransactionMode,
    /// A human sentence: "directive `-- +goose NO TRANSACTION` at line 1", "statement 2 (CREATE
    /// INDEX CONCURRENTLY) cannot run inside a transaction", ...
    pub reason: String,
}

/// Whether a migration is applied once (versioned) or re-applied whenever it changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrationKind {
    /// Applied once, in version order.
    Versioned,
    /// Flyway `R__` style: re-applied after all versioned migrations whenever its checksum changes.
    Repeatable,
}

impl MigrationKind {
    /// The name stored in the registry.
    pub fn as_str(self) -> &'static str {
        match self {
            MigrationKind::Versioned => "versioned",
            MigrationKind::Repeatable => "repeatable",
        }
    }
}

/// A contiguous piece of a source file that is run as one unit (an up or a down script).
///
/// Sectioned layouts (dbmate, goose) keep both scripts in one file, so a script is a byte range
/// of a [`SourceFile`]; error positions reported by the server are mapped back through it.
#[derive(Debug, Clone)]
pub struct Script {
    /// The file the script lives in.
    pub file: Arc<SourceFile>,
    /// Byte range of the script inside `file.text()`.
    pub range: std::ops::Range<usize>,
    /// Directives found in the script (or, for sectioned files, on its section marker).
    pub directives: Vec<Directive>,
}

impl Script {
    /// A script that is a whole file.
    pub fn whole(file: Arc<SourceFile>, directives: Vec<Directive>) -> Script {
        let len = file.text().len();
        Script {
            file,
            range: 0..len,
            directives,
        }
    }

    /// The SQL text of the script, exactly as it appears in the file (BOM removed).
    pub fn sql(&self) -> &str {
        &self.file.text()[self.range.clone()]
    }

    /// Position in the file of a byte offset relative to the start of this script.
    pub fn locate(&self, byte_in_script: usize) -> LineCol {
        self.file.line_col(self.range.start + byte_in_script)
    }

    /// True when the script contains nothing but whitespace and comments. A script whose file
    /// is deferred (not read yet) is not blank here: the loader defers only files it knows to
    /// be non-blank, or down scripts, whose blankness it checks when it reads them.
    pub fn is_blank(&self) -> bool {
        !self.file.is_deferred() && sql_is_blank(self.sql())
    }

    /// A script standing for a whole file that has not been read yet (see
    /// [`SourceFile::deferred`]); it is replaced by [`Script::whole`] once read.
    pub fn deferred(file: Arc<SourceFile>) -> Script {
        Script {
            file,
            range: 0..0,
            directives: Vec::new(),
        }
    }
}

/// Quotes an SQL identifier the way PostgreSQL's `quote_ident()` does, unconditionally. The one
/// place identifiers are quoted: values always travel as bind parameters, identifiers (schema,
/// database and index names) cannot, so they go through here and nowhere else.
pub fn quote_ident(ident: &str) -> String {
    let mut out = String::with_capacity(ident.len() + 2);
    out.push('"');
    for ch in ident.chars() {
        if ch == '"' {
            out.push('"');
        }
        out.push(ch);
    }
    out.push('"');
    out
}

/// True when `sql` holds only whitespace, `--` line comments and `/* */` block comments.
pub fn sql_is_blank(sql: &str) -> bool {
    skip_trivia(sql) == sql.len()
}

/// Bytes of whitespace and comments at the start of `sql`, as PostgreSQL's lexer defines them:
/// whitespace is space, tab, LF, CR, form feed and vertical tab; a `--` comment ends at a LF
/// *or* a CR (so a file with lone-CR line endings is not one long comment); block comments
/// nest (`/* a /* b */ c */` is one comment) and an unterminated one runs to the end.
pub fn skip_trivia(sql: &str) -> usize {
    let bytes = sql.as_bytes();
    let mut i = 0;
    loop {
        while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
            i += 1;
        }
        if bytes[i..].starts_with(b"--") {
            i = bytes[i..]
                .iter()
                .position(|&b| b == b'\n' || b == b'\r')
                .map_or(bytes.len(), |p| i + p + 1);
        } else if bytes[i..].starts_with(b"/*") {
            let mut depth = 0usize;
            while i < bytes.len() {
                if bytes[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if bytes[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else {
            return i;
        }
    }
}

#[cfg(test)]
mod trivia_tests {
    use super::*;

    #[test]
    fn nested_comments_and_blank_scripts() {
        assert!(sql_is_blank("  -- a\n/* b /* nested */ still comment */\n"));
        assert!(!sql_is_blank("/* a /* b */ c */ select 1"));
        let sql = "/* a /* b */ c */ select 1";
        assert_eq!(&sql[skip_trivia(sql)..], "select 1");
        assert!(sql_is_blank("/* unterminated"));
        assert_eq!(skip_trivia(""), 0);
    }
}

/// A typed instruction embedded in a comment of a migration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Directive {
    /// What the directive asks for.
    pub kind: DirectiveKind,
    /// 1-based line of the directive in its file.
    pub line: usize,
    /// The directive as written, for messages.
    pub text: String,
}

/// The directives strata understands, whichever tool's spelling was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DirectiveKind {
    /// Run outside a transaction (`-- strata:no-transaction`, dbmate `transaction:false`,
    /// goose `-- +goose NO TRANSACTION`).
    NoTransaction,
    /// `-- strata:squashed-baseline`: this migration replaces every migration up to its own
    /// version (written by `strata squash`); databases that applied those count it as applied.
    SquashedBaseline,
    /// `-- strata:template`: the file is still the template `strata new` wrote; `up` refuses
    /// to apply it (every other verb works with it present).
    Template,
    /// Not a directive anyone writes: the migration is code (a goose `.go` file, a Flyway
    /// `.java` class, a JavaScript migration) that only its own tool can run. `up` applies the
    /// SQL migrations before it and stops there; the linter skips it.
    Code {
        /// The programming language, for messages (`Go`, `Java`, ...).
        language: &'static str,
    },
    /// `-- strata:lock-timeout 10s`: this migration's `lock_timeout`, in milliseconds.
    LockTimeout {
        /// Milliseconds (0 = none).
        ms: u64,
    },
    /// `-- strata:statement-timeout 30min`: this migration's `statement_timeout`, in ms.
    StatementTimeout {
        /// Milliseconds (0 = none).
        ms: u64,
    },
}

/// The proleptic Gregorian date `(year, month, day)` of a day counted from 1970-01-01 (negative
/// before it), after H. Hinnant's `civil_from_days`.
// why not a crate: strata needs only this (UTC dates for `strata new` file names and the
// registry's `applied_at`, no time zones, no parsing). `jiff` and `time` are large crates to
// compile into the pure model crate for twelve lines of arithmetic, and both stop at year 9999,
// while PostgreSQL's `timestamptz` runs from 4713 BC to 294276 AD and `applied_at` must still
// print (`10000-01-01T00:00:00.000Z`, pinned by the registry's tests). `civil_dates` pins the
// results across that whole range.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month as u32, day as u32)
}

#[cfg(test)]
#[test]
fn civil_dates() {
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(civil_from_days(-1), (1969, 12, 31));
    assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    assert_eq!(civil_from_days(20_779), (2026, 11, 22));
    // Golden values across PostgreSQL's timestamptz range (independently computed with the
    // inverse, `days_from_civil`, and Python's `date.toordinal` inside years 1-9999).
    for (days, date) in [
        (-25_508, (1900, 3, 1)),
        (47_540, (2100, 2, 28)),
        (47_541, (2100, 3, 1)),
        (-719_162, (1, 1, 1)),
        (-719_163, (0, 12, 31)),
        (-719_469, (0, 2, 29)),
        (-719_529, (-1, 12, 31)),
        (2_932_896, (9999, 12, 31)),
        (2_932_897, (10000, 1, 1)),
        (-2_440_588, (-4713, 11, 24)),
        (106_762_939, (294_276, 12, 31)),
    ] {
        assert_eq!(civil_from_days(days), date, "{days}");
    }
}

/// Parses a duration as strata writes them (`5s`, `500ms`, `2min`, `1h`, `0`) into
/// milliseconds; the error says how to write one.
// why not a crate: `humantime::parse_duration` accepts far more than strata ever has (`5sec`,
// `1d`, `2w`, `1M`, `1h 30min`, `250us`, which would have to round to milliseconds), so the
// same directives and settings would mean new things, and its errors ("time unit needed, for
// example 5sec or 5ms") would replace the ones users see and point at units strata refuses.
// Wrapping it to refuse those again is longer than these lines; `durations_golden` pins them.
pub fn parse_duration_ms(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| {
        format!("`{s}` is not a duration; write it like `5s`, `500ms`, `2min` or `0`")
    })?;
    let factor = match unit.trim() {
        "" if n == 0 => 0,
        "ms" => 1,
        "s" => 1000,
        "min" | "m" => 60_000,
        "h" => 3_600_000,
        other => {
            return Err(format!(
                "unknown duration unit `{other}` in `{s}`; use ms, s, min or h"
            ))
        }
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("`{s}` is too long a duration"))
}

#[cfg(test)]
#[test]
fn durations_golden() {
    // Accepted inputs and their values, exactly as strata has always read them.
    for (input, ms) in [
        ("0", 0),
        ("0ms", 0),
        ("0s", 0),
        ("500ms", 500),
        ("5s", 5_000),
        ("2min", 120_000),
        ("2m", 120_000),
        ("1h", 3_600_000),
        (" 10s ", 10_000),
        ("5 s", 5_000),
        ("007s", 7_000),
    ] {
        assert_eq!(parse_duration_ms(input), Ok(ms), "{input:?}");
    }
    // Rejected inputs and the messages users see (after `directive ... at line N: ` or the
    // name of the setting).
    let unit = "use ms, s, min or h";
    let how = "write it like `5s`, `500ms`, `2min` or `0`";
    for (input, message) in [
        ("5", format!("unknown duration unit `` in `5`; {unit}")),
        ("", format!("`` is not a duration; {how}")),
        ("s", format!("`s` is not a duration; {how}")),
        ("-5s", format!("`-5s` is not a duration; {how}")),
        (" x ", format!("`x` is not a duration; {how}")),
        (
            "1.5s",
            format!("unknown duration unit `.5s` in `1.5s`; {unit}"),
        ),
        (
            "5sec",
            format!("unknown duration unit `sec` in `5sec`; {unit}"),
        ),
        ("5S", format!("unknown duration unit `S` in `5S`; {unit}")),
        ("1d", format!("unknown duration unit `d` in `1d`; {unit}")),
        (
            "1us",
            format!("unknown duration unit `us` in `1us`; {unit}"),
        ),
        (
            "1h30min",
            format!("unknown duration unit `h30min` in `1h30min`; {unit}"),
        ),
        (
            "1h 30min",
            format!("unknown duration unit `h 30min` in `1h 30min`; {unit}"),
        ),
        (
            "99999999999999999999s",
            format!("`99999999999999999999s` is not a duration; {how}"),
        ),
        (
            "18446744073709551615h",
            "`18446744073709551615h` is too long a duration".to_owned(),
        ),
    ] {
        assert_eq!(parse_duration_ms(input), Err(message), "{input:?}");
    }
}

/// Parses a size as PostgreSQL's settings write them (`10MB`, `500kB`, `1GB`, `64 kB`) or a
/// plain byte count into bytes. Units are powers of 1024, as in PostgreSQL, and are accepted in
/// any case, since nobody means millibits.
pub fn parse_byte_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| {
        format!("`{s}` is not a size; write it like `10MB`, `500kB`, `1GB` or a number of bytes")
    })?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" | "bytes" => 1,
        "kb" | "k" => 1 << 10,
        "mb" | "m" => 1 << 20,
        "gb" | "g" => 1 << 30,
        "tb" | "t" => 1 << 40,
        _ => {
            return Err(format!(
                "unknown size unit `{}` in `{s}`; use kB, MB, GB or TB (or a number of bytes)",
                unit.trim()
            ))
        }
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("`{s}` is too large a size"))
}

/// A byte count for people, in the units PostgreSQL's `pg_size_pretty` uses (`48 kB`,
/// `1.5 MB`): one decimal below 10 of a unit, whole numbers above.
pub fn format_byte_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value < 10.0 && value.fract() >= 0.05 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{} {}", value.round(), UNITS[unit])
    }
}

#[cfg(test)]
#[test]
fn byte_sizes() {
    assert_eq!(parse_byte_size("10MB"), Ok(10 << 20));
    assert_eq!(parse_byte_size("500kB"), Ok(500 << 10));
    assert_eq!(parse_byte_size("1GB"), Ok(1 << 30));
    assert_eq!(parse_byte_size(" 64 kb "), Ok(64 << 10));
    assert_eq!(parse_byte_size("4096"), Ok(4096));
    assert_eq!(parse_byte_size("0"), Ok(0));
    assert!(parse_byte_size("10 parsecs")
        .unwrap_err()
        .contains("unknown size unit"));
    assert!(parse_byte_size("MB").is_err());
    assert!(parse_byte_size("99999999999TB").is_err());
    assert_eq!(format_byte_size(512), "512 bytes");
    assert_eq!(format_byte_size(48 << 10), "48 kB");
    assert_eq!(format_byte_size(1536 << 10), "1.5 MB");
    assert_eq!(format_byte_size(10 << 20), "10 MB");
    assert_eq!(format_byte_size(3 << 30), "3 GB");
}

/// The candidate closest to `name` by edit distance, when it is close enough to be a likely
/// typo (at most 3 edits): the "did you mean" of every unknown-name error.
pub fn closest_name<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(c, name), c))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, c)| c)
}

/// True when `a` becomes `b` with at most one inserted, deleted or replaced character (`sq`,
/// `sqll` and `sgl` for `sql`).
pub fn edit_distance_at_most_one(a: &str, b: &str) -> bool {
    edit_distance(a, b) <= 1
}

/// Levenshtein distance counted in chars (`strsim` counts chars, not bytes, as strata always has).
fn edit_distance(a: &str, b: &str) -> usize {
    strsim::levenshtein(a, b)
}

#[cfg(test)]
#[test]
fn edit_distances_golden() {
    // Levenshtein distance over chars (not bytes), as strata has always counted it.
    for (a, b, d) in [
        ("", "", 0),
        ("sql", "sql", 0),
        ("sq", "sql", 1),
        ("sqll", "sql", 1),
        ("sgl", "sql", 1),
        ("lqs", "sql", 2),
        ("", "abc", 3),
        ("kitten", "sitting", 3),
        ("no-transaction", "no_transaction", 1),
        ("café", "cafe", 1),
        ("ü", "u", 1),
    ] {
        assert_eq!(edit_distance(a, b), d, "{a:?} {b:?}");
        assert_eq!(edit_distance(b, a), d, "{b:?} {a:?}");
        assert_eq!(edit_distance_at_most_one(a, b), d <= 1, "{a:?} {b:?}");
    }
    let names = [
        "lock-timeout",
        "statement-timeout",
        "no-transaction",
        "template",
    ];
    assert_eq!(closest_name("lock-timout", names), Some("lock-timeout"));
    assert_eq!(closest_name("notransaction", names), Some("no-transaction"));
    assert_eq!(closest_name("templates", names), Some("template"));
    assert_eq!(closest_name("timeout", names), None);
    assert_eq!(closest_name("tmpl", names), None);
    // Exactly three edits is still a suggestion; four is not.
    assert_eq!(closest_name("xyz", ["abc"]), Some("abc"));
    assert_eq!(closest_name("wxyz", ["abcd"]), None);
    // A tie goes to the candidate that sorts first, whatever the order given.
    assert_eq!(closest_name("cat", ["hat", "bat"]), Some("bat"));
    assert_eq!(closest_name("cat", ["bat", "hat"]), Some("bat"));
    assert_eq!(closest_name("x", std::iter::empty()), None);
}

/// The identity of a migration inside its set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationId {
    /// Version; `None` for repeatable migrations, which are keyed by name.
    pub version: Option<Version>,
    /// Human name / description taken from the file name.
    pub name: String,
    /// True when another migration of the set has the same version (`0010_a.sql` beside
    /// `0010_b.sql`, which psql loops and file-name-keyed runners apply one after the other):
    /// the version alone then does not say which one a history row records, so the key
    /// carries the name too. Set by discovery, never by a layout.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub shared_version: bool,
}

impl MigrationId {
    /// The key under which the registry stores this migration: the version as written for
    /// versioned migrations (`<version>_<name>` when the version is shared, see
    /// [`MigrationId::shared_version`]), `R__<name>` for repeatables.
    pub fn registry_key(&self) -> String {
        match &self.version {
            Some(v) if self.shared_version => format!("{}_{}", v.as_str(), self.name),
            Some(v) => v.as_str().to_owned(),
            None => format!("R__{}", self.name),
        }
    }
}

impl std::fmt::Display for MigrationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.version {
            Some(v) => write!(f, "{}_{}", v, self.name),
            None => write!(f, "R__{}", self.name),
        }
    }
}

/// A migration as found on disk: one value whether or not it can be reverted.
#[derive(Debug, Clone)]
pub struct Migration {
    /// Version and name.
    pub id: MigrationId,
    /// Versioned or repeatable.
    pub kind: MigrationKind,
    /// The forward script.
    pub up: Script,
    /// The reverting script, when the layout provides one.
    pub down: Option<Script>,
    /// A script that checks the up script's work (sqitch `verify/`): it runs right after the
    /// up script, in the same transaction and before the history row, and a failure rolls
    /// the migration back.
    pub verify: Option<Script>,
    /// Checksum of the forward script's file content (normalized), the identity recorded in
    /// history.
    pub checksum: Checksum,
}

impl Migration {
    /// The path of the file holding the up script.
    pub fn path(&self) -> &std::path::Path {
        self.up.file.path()
    }

    /// The language of a code migration (see [`DirectiveKind::Code`]), `None` for SQL.
    pub fn code_language(&self) -> Option<&'static str> {
        self.up.directives.iter().find_map(|d| match d.kind {
            DirectiveKind::Code { language } => Some(language),
            _ => None,
        })
    }

    /// True when the up script is still the template `strata new` wrote (see
    /// [`DirectiveKind::Template`]).
    pub fn is_template(&self) -> bool {
        self.up
            .directives
            .iter()
            .any(|d| d.kind == DirectiveKind::Template)
    }
}

/// One row of strata's history for a set: a migration that has been applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedMigration {
    /// Registry key (see [`MigrationId::registry_key`]).
    pub key: String,
    /// Version as written when applied (`None` for repeatables).
    pub version: Option<String>,
    /// Name when applied.
    pub name: String,
    /// Versioned or repeatable.
    pub kind: MigrationKind,
    /// Checksum recorded when applied.
    pub checksum: Checksum,
    /// When, as an RFC 3339 UTC timestamp.
    pub applied_at: String,
    /// Who: `role@os-user`.
    pub applied_by: String,
    /// How long the migration took.
    pub duration_ms: i64,
    /// Progress state: complete, or left part-way by a failed non-transactional run.
    pub state: AppliedState,
}

/// Whether a history row describes a finished migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AppliedState {
    /// Fully applied.
    Complete,
    /// A non-transactional migration that failed after `statements_done` statements.
    Partial {
        /// Statements that completed before the failure.
        statements_done: usize,
        /// The error that stopped it.
        error: String,
        /// Fingerprint of the completed statements' text (see `strata_sql::fingerprint`):
        /// a resumed run may follow an edited file as long as what already ran is unchanged.
        fingerprint: Option<String>,
    },
}
