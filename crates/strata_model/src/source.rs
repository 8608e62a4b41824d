//! Source files and positions.
//!
//! Every diagnostic strata prints points at `file:line:col`. PostgreSQL reports error positions
//! as 1-based *character* offsets into the query text it received; files may carry CRLF line
//! endings and multi-byte characters. This module owns the conversions so no caller does byte
//! arithmetic on its own.

use crate::Checksum;
use std::path::{Path, PathBuf};

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct LineCol {
    /// 1-based line.
    pub line: usize,
    /// 1-based column in characters.
    pub col: usize,
}

/// A migration source file, decoded as UTF-8 with a leading BOM removed.
///
/// A file can also be *deferred*: known by path (and usually checksum) but not read. `up` and
/// `status` plan thousands of already-applied migrations whose text they never need, so the
/// loader (`strata_source`) builds deferred files for those and reads only the scripts a plan
/// runs. Asking a deferred file for its text is a bug in the caller and panics: the text of
/// every script a plan uses is loaded, with proper errors, before planning ends.
#[derive(Debug)]
pub struct SourceFile {
    path: PathBuf,
    text: String,
    /// `None` only for a deferred file whose content was never hashed (down scripts).
    checksum: Option<Checksum>,
    line_starts: Vec<usize>,
    deferred: bool,
}

impl SourceFile {
    /// Decodes raw file bytes. On invalid UTF-8, returns the 1-based line and column of the first
    /// bad byte.
    pub fn from_bytes(path: PathBuf, bytes: &[u8]) -> Result<SourceFile, LineCol> {
        let checksum = Checksum::of_bytes(bytes);
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let text = match std::str::from_utf8(body) {
            Ok(t) => t.to_owned(),
            Err(e) => {
                let good = &body[..e.valid_up_to()];
                let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
                let line_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
                let col = String::from_utf8_lossy(&good[line_start..]).chars().count() + 1;
                return Err(LineCol { line, col });
            }
        };
        Ok(SourceFile::from_text(path, text, checksum))
    }

    fn from_text(path: PathBuf, text: String, checksum: Checksum) -> SourceFile {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceFile {
            path,
            text,
            checksum: Some(checksum),
            line_starts,
            deferred: false,
        }
    }

    /// A file that has not been read: `checksum` is what the caller already knows of its
    /// content (from a cache it trusts), or `None` when nothing is known yet.
    pub fn deferred(path: PathBuf, checksum: Option<Checksum>) -> SourceFile {
        SourceFile {
            path,
            text: String::new(),
            checksum,
            // Never consulted: every position query on a deferred file refuses first (and
            // at 10,000 deferred files, one allocation each is measurable).
            line_starts: Vec::new(),
            deferred: true,
        }
    }

    /// True when the file has not been read (see [`SourceFile::deferred`]).
    pub fn is_deferred(&self) -> bool {
        self.deferred
    }

    /// The text, refusing a deferred file: using one is a bug (see the type's docs).
    fn loaded_text(&self) -> &str {
        assert!(
            !self.deferred,
            "bug: {} was used before it was read (load the scripts a plan needs first)",
            self.path.display()
        );
        &self.text
    }

    /// Builds a source file from text (tests, generated scripts).
    pub fn from_string(path: impl Into<PathBuf>, text: impl Into<String>) -> SourceFile {
        let text = text.into();
        let checksum = Checksum::of_bytes(text.as_bytes());
        SourceFile::from_text(path.into(), text, checksum)
    }

    /// Where the file was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Decoded text (BOM removed, line endings untouched). Panics on a deferred file.
    pub fn text(&self) -> &str {
        self.loaded_text()
    }

    /// Checksum of the whole file (see [`Checksum`]). Panics on a deferred file whose content
    /// was never hashed.
    pub fn checksum(&self) -> &Checksum {
        self.checksum.as_ref().unwrap_or_else(|| {
            panic!(
                "bug: the checksum of {} was used before the file was read",
                self.path.display()
            )
        })
    }

    /// Line and column of a byte offset into [`SourceFile::text`]. Offsets past the end clamp to
    /// the end; offsets inside a multi-byte character point at that character.
    pub fn line_col(&self, byte: usize) -> LineCol {
        let byte = byte.min(self.loaded_text().len());
        let line_idx = match self.line_starts.binary_search(&byte) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line_idx];
        let mut end = byte;
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        let col = self.text[start..end].chars().filter(|&c| c != '\r').count() + 1;
        LineCol {
            line: line_idx + 1,
            col,
        }
    }

    /// The text of a 1-based line, without its line ending.
    pub fn line_text(&self, line: usize) -> &str {
        let _ = self.loaded_text();
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return "";
        };
        let end = self
            .line_starts
            .get(line)
            .copied()
            .unwrap_or(self.text.len());
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }

    /// Byte offset of the start of a 1-based line.
    pub fn line_start(&self, line: usize) -> usize {
        self.line_starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(self.loaded_text().len())
    }
}

/// Converts a 1-based character position (as PostgreSQL reports it) into a byte offset of `text`.
pub fn char_pos_to_byte(text: &str, char_pos_1based: usize) -> usize {
    text.char_indices()
        .nth(char_pos_1based.saturating_sub(1))
        .map_or(text.len(), |(b, _)| b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_and_ignores_cr() {
        let f =
            SourceFile::from_bytes("a.sql".into(), "\u{feff}ab\r\nçé x\r\n".as_bytes()).unwrap();
        assert_eq!(f.text(), "ab\r\nçé x\r\n");
        assert_eq!(f.line_col(0), LineCol { line: 1, col: 1 });
        let x = f.text().find('x').unwrap();
        assert_eq!(f.line_col(x), LineCol { line: 2, col: 4 });
        assert_eq!(f.line_text(2), "çé x");
        assert_eq!(char_pos_to_byte(f.text(), 6), f.text().find('é').unwrap());
    }

    #[test]
    fn invalid_utf8_reports_line() {
        let err = SourceFile::from_bytes("a.sql".into(), b"select 1;\nselect 2;\nselect '\xff';\n")
            .unwrap_err();
        assert_eq!(err, LineCol { line: 3, col: 9 });
    }
}
