//! psql meta-commands (`\copy`, `\set ON_ERROR_STOP on`, `\echo`, ...) in migration scripts.
//!
//! Tools that run every script with `psql -f` (sqitch, psql loops over `001_*.sql`) let their
//! scripts hold psql's backslash commands, which are not SQL: sent to the server, `\copy ...`
//! is `syntax error at or near "\"`. psql recognises a backslash command wherever its lexer is
//! not inside a quote, a dollar quote or a comment; strata recognises the ones that start where
//! a new statement could start (after whitespace, comments and a `;`), which is where scripts
//! put them. A backslash inside an unfinished statement is left to the server, as it was
//! before. Each meta-command runs to the end of its line (psql's `\copy` takes the whole line);
//! `\copy ... from stdin` also takes the data lines after it, up to `\.`.
//!
//! [`find`] returns the meta-commands and a copy of the script with their bytes blanked out
//! (same length, so every byte offset and `file:line:col` stays exact): the rest of the script
//! then parses and splits exactly as it did without them.

use std::ops::Range;

/// A psql meta-command of a script, such as `\copy t from program 'gunzip -c t.gz'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaCommand {
    /// The command's name without the backslash (`copy`, `set`, `echo`, `ir`).
    pub name: String,
    /// The rest of its line after the name, with surrounding whitespace removed (a `\copy`'s
    /// trailing `;` is still here: [`parse_copy`] drops it, as psql does).
    pub args: String,
    /// For `\copy ... from stdin`: the byte range, in the script, of the data lines that follow
    /// the command, without the terminating `\.` line.
    pub inline_data: Option<Range<usize>>,
}

/// What strata does with a meta-command (see [`MetaCommand::support`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaSupport {
    /// `\copy`: run as `COPY ... FROM STDIN` / `TO STDOUT` with the data streamed by strata.
    Copy,
    /// `\echo` / `\qecho`: the text is shown with the migration's output.
    Echo,
    /// Display and error-handling settings that change nothing strata does
    /// (`\set ON_ERROR_STOP on`, `\timing`, `\pset`, `\conninfo`, ...): accepted, no effect.
    Ignored,
    /// Anything else: the migration is refused before any of it runs.
    Unsupported,
}

/// psql variables whose `\set` changes only how psql prints or when it stops: strata always
/// stops at the first error and prints nothing of the query results.
const HARMLESS_VARIABLES: &[&str] = &[
    "ON_ERROR_STOP",
    "ECHO",
    "ECHO_HIDDEN",
    "QUIET",
    "VERBOSITY",
    "SHOW_CONTEXT",
];

impl MetaCommand {
    /// How strata runs this command.
    pub fn support(&self) -> MetaSupport {
        match self.name.as_str() {
            "copy" => MetaSupport::Copy,
            "echo" | "qecho" => MetaSupport::Echo,
            "timing" | "pset" | "conninfo" => MetaSupport::Ignored,
            "set" | "unset" => {
                let variable = self.args.split_whitespace().next().unwrap_or("");
                if HARMLESS_VARIABLES.contains(&variable) {
                    MetaSupport::Ignored
                } else {
                    MetaSupport::Unsupported
                }
            }
            _ => MetaSupport::Unsupported,
        }
    }

    /// The command as written, for messages (`\set FOO 1`, shortened when long).
    pub fn display(&self) -> String {
        let mut text = format!("\\{}", self.name);
        if !self.args.is_empty() {
            text.push(' ');
            text.push_str(&self.args);
        }
        if text.chars().count() > 80 {
            text = text.chars().take(77).collect::<String>() + "...";
        }
        text
    }

    /// Why strata refuses this command and what to do instead, for a message that the caller
    /// prefixes with `file:line:col`; `None` for the commands strata runs.
    pub fn unsupported_message(&self) -> Option<String> {
        if self.support() != MetaSupport::Unsupported {
            return None;
        }
        let what = match self.name.as_str() {
            "i" | "ir" | "include" | "include_relative" => {
                "strata does not support including files; paste the included SQL into this script"
            }
            "set" if self.args.is_empty() => {
                "strata does not support listing psql variables"
            }
            "set" => "strata does not support psql variables (`:name` interpolation); write the value into the SQL",
            _ => "strata does not support it; rewrite it in SQL",
        };
        Some(format!(
            "psql meta-command `{}`: {what}, or run this script with psql and record it with `strata baseline VERSION` (or `strata repair VERSION --mark-applied --reason ...`)",
            self.display()
        ))
    }
}

/// Where each meta-command of `sql` is, and `sql` with them blanked out.
pub struct Found {
    /// Each meta-command with the byte range of its line(s): from the backslash to the end of
    /// the command's text (trailing whitespace excluded), or to the end of the `\.` line of
    /// inline `\copy` data.
    pub commands: Vec<(Range<usize>, MetaCommand)>,
    /// `sql` with every byte of those ranges except line breaks replaced by a space. `None`
    /// when there is no meta-command (the text is unchanged).
    pub blanked: Option<String>,
}

/// Finds the meta-commands of a script (see the module documentation).
pub fn find(sql: &str) -> Found {
    // Most scripts hold no backslash at all: one memchr instead of a scan of every byte.
    if !sql.contains('\\') {
        return Found {
            commands: Vec::new(),
            blanked: None,
        };
    }
    let b = sql.as_bytes();
    let mut commands = Vec::new();
    let mut i = 0usize;
    // True while only whitespace and comments have followed the last `;` (or the start).
    let mut at_start = true;
    let mut prev: u8 = b' ';
    while i < b.len() {
        let c = b[i];
        match c {
            b'\\' if at_start => {
                let (range, command, next) = meta_at(sql, i);
                commands.push((range, command));
                i = next;
                prev = b'\n';
                continue;
            }
            // Whitespace and comments as PostgreSQL's lexer reads them (nested block comments,
            // `--` ending at LF or CR): they change nothing but the previous byte.
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => {}
            b'-' | b'/' if b[i..].starts_with(b"--") || b[i..].starts_with(b"/*") => {
                i += strata_model::skip_trivia(&sql[i..]);
                prev = b' ';
                continue;
            }
            b';' => {
                at_start = true;
                prev = c;
                i += 1;
                continue;
            }
            b'\'' => {
                // E'...' strings take backslash escapes; standard strings double the quote.
                let escapes = matches!(prev, b'e' | b'E') && (i < 2 || !is_ident_byte(b[i - 2]));
                i = skip_quoted(b, i, b'\'', escapes);
                at_start = false;
                prev = b'\'';
                continue;
            }
            b'"' => {
                i = skip_quoted(b, i, b'"', false);
                at_start = false;
                prev = b'"';
                continue;
            }
            b'$' if !is_ident_byte(prev) => {
                if let Some(tag_len) = dollar_tag(&b[i..]) {
                    let tag = &b[i..i + tag_len];
                    let body = i + tag_len;
                    i = find_bytes(&b[body..], tag).map_or(b.len(), |p| body + p + tag_len);
                    at_start = false;
                    prev = b'$';
                    continue;
                }
                at_start = false;
            }
            _ => at_start = false,
        }
        prev = c;
        i += 1;
    }
    let blanked = (!commands.is_empty()).then(|| {
        let mut bytes = b.to_vec();
        for (range, _) in &commands {
            for x in &mut bytes[range.clone()] {
                if *x != b'\n' && *x != b'\r' {
                    *x = b' ';
                }
            }
        }
        String::from_utf8(bytes).expect("whole lines of UTF-8 replaced by ASCII spaces")
    });
    Found { commands, blanked }
}

/// The meta-command whose backslash is at `start`: its range, the command, and where scanning
/// goes on.
fn meta_at(sql: &str, start: usize) -> (Range<usize>, MetaCommand, usize) {
    let line_end = sql[start..].find('\n').map_or(sql.len(), |p| start + p);
    let line = &sql[start + 1..line_end];
    let name_len = line
        .find(|c: char| c.is_whitespace() || c == '\\')
        .unwrap_or(line.len());
    let name = line[..name_len].to_owned();
    let args = line[name_len..].trim().to_owned();
    let text_end = start + 1 + line.trim_end().len();
    let mut command = MetaCommand {
        name,
        args,
        inline_data: None,
    };
    let mut end = text_end;
    let mut next = line_end;
    if command.name == "copy"
        && parse_copy(&command.args)
            .is_ok_and(|c| c.direction == CopyDirection::From && c.endpoint == CopyEndpoint::Stdin)
    {
        // Data lines follow, up to a line `\.` or the end of the file (psql's rule).
        let data_start = (line_end + 1).min(sql.len());
        let mut pos = data_start;
        let mut data_end = sql.len();
        end = sql.len();
        next = sql.len();
        while pos < sql.len() {
            let eol = sql[pos..].find('\n').map_or(sql.len(), |p| pos + p);
            if sql[pos..eol].trim_end_matches('\r') == "\\." {
                data_end = pos;
                end = eol;
                next = eol;
                break;
            }
            pos = eol + 1;
        }
        command.inline_data = Some(data_start..data_end.max(data_start));
    }
    (start..end, command, next)
}

fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

/// The index just after the closing quote of the quoted text starting at `start`.
fn skip_quoted(b: &[u8], start: usize, quote: u8, escapes: bool) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        if escapes && b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == quote {
            if b.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    b.len()
}

/// The length of the dollar-quote tag (`$$`, `$body$`) at the start of `b`, if there is one.
fn dollar_tag(b: &[u8]) -> Option<usize> {
    let mut i = 1;
    while i < b.len() && b[i] != b'$' {
        let ok = b[i].is_ascii_alphabetic()
            || b[i] == b'_'
            || b[i] >= 0x80
            || (i > 1 && b[i].is_ascii_digit());
        if !ok {
            return None;
        }
        i += 1;
    }
    (i < b.len()).then_some(i + 1)
}

fn find_bytes(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Which way a `\copy` moves data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyDirection {
    /// `from`: into the table.
    From,
    /// `to`: out of the table or query.
    To,
}

/// Where a `\copy` reads or writes its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyEndpoint {
    /// A file (quotes removed), relative to the set's directory unless absolute.
    File(String),
    /// A shell command (quotes removed), run with `sh -c`.
    Program(String),
    /// `stdin` / `stdout`: the script itself (data lines after the command) resp. the run's
    /// output.
    Stdin,
    /// `stdout`.
    Stdout,
    /// `pstdin`: the standard input of the process running the script.
    Pstdin,
    /// `pstdout`: its standard output.
    Pstdout,
}

/// A parsed `\copy`, as psql's `parse_slash_copy` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyCommand {
    /// The table with its column list, or `(query)`, as written.
    pub target: String,
    /// `from` or `to`.
    pub direction: CopyDirection,
    /// The file, program or stream.
    pub endpoint: CopyEndpoint,
    /// Everything after the endpoint (`with (format csv)`, `csv header`, `where ...`), as
    /// written, trailing `;` removed.
    pub options: String,
}

impl CopyCommand {
    /// The SQL that psql would send: `COPY <target> FROM STDIN <options>` or `TO STDOUT`.
    /// The target and options are the migration author's own SQL, passed through unchanged.
    pub fn sql(&self) -> String {
        let stream = match self.direction {
            CopyDirection::From => "FROM STDIN",
            CopyDirection::To => "TO STDOUT",
        };
        if self.options.is_empty() {
            format!("COPY {} {stream}", self.target)
        } else {
            format!("COPY {} {stream} {}", self.target, self.options)
        }
    }
}

/// Parses the arguments of a `\copy`; the error says what is wrong.
pub fn parse_copy(args: &str) -> Result<CopyCommand, String> {
    let args = args.trim_end_matches(|c: char| c == ';' || c.is_whitespace());
    let b = args.as_bytes();
    // Find the top-level `from` / `to` word after the target.
    let mut i = 0usize;
    let mut depth = 0i32;
    let mut split = None;
    while i < b.len() {
        match b[i] {
            b'\'' => {
                i = skip_quoted(b, i, b'\'', false);
                continue;
            }
            b'"' => {
                i = skip_quoted(b, i, b'"', false);
                continue;
            }
            b'(' => depth += 1,
            b')' => depth -= 1,
            c if depth == 0 && c.is_ascii_alphabetic() && (i == 0 || !is_ident_byte(b[i - 1])) => {
                let word_end = b[i..]
                    .iter()
                    .position(|&x| !is_ident_byte(x))
                    .map_or(b.len(), |p| i + p);
                let word = &args[i..word_end];
                if i > 0 && (word.eq_ignore_ascii_case("from") || word.eq_ignore_ascii_case("to")) {
                    split = Some((i, word_end, word.eq_ignore_ascii_case("from")));
                    break;
                }
                i = word_end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    let Some((kw_start, kw_end, from)) = split else {
        return Err("expected `\\copy table [(columns)] from|to ...`".into());
    };
    let target = args[..kw_start].trim().to_owned();
    if target.is_empty() {
        return Err("the table (or query) to copy is missing".into());
    }
    let rest = args[kw_end..].trim_start();
    let (word, quoted, after) = next_token(rest)?;
    let keyword = if quoted {
        String::new()
    } else {
        word.to_ascii_lowercase()
    };
    let (endpoint, after) = match keyword.as_str() {
        "program" => {
            let (command, _, after) = next_token(after)?;
            if command.is_empty() {
                return Err("`program` needs a command in single quotes".into());
            }
            (CopyEndpoint::Program(command), after)
        }
        "stdin" => (CopyEndpoint::Stdin, after),
        "stdout" => (CopyEndpoint::Stdout, after),
        "pstdin" => (CopyEndpoint::Pstdin, after),
        "pstdout" => (CopyEndpoint::Pstdout, after),
        _ if word.is_empty() => {
            return Err("the file, `program 'command'`, stdin or stdout is missing".into())
        }
        _ => (CopyEndpoint::File(word), after),
    };
    let direction = if from {
        CopyDirection::From
    } else {
        CopyDirection::To
    };
    let wrong_way = matches!(
        (direction, &endpoint),
        (
            CopyDirection::From,
            CopyEndpoint::Stdout | CopyEndpoint::Pstdout
        ) | (
            CopyDirection::To,
            CopyEndpoint::Stdin | CopyEndpoint::Pstdin
        )
    );
    if wrong_way {
        return Err(format!(
            "`{keyword}` cannot be used with `{}`",
            if from { "from" } else { "to" }
        ));
    }
    Ok(CopyCommand {
        target,
        direction,
        endpoint,
        options: after.trim().to_owned(),
    })
}

/// The next whitespace-separated token of `text`, with single quotes removed (a doubled quote
/// inside is one quote; backslashes are literal, as in psql's `\copy` file names and
/// programs), whether it was quoted, and the text after it.
fn next_token(text: &str) -> Result<(String, bool, &str), String> {
    let text = text.trim_start();
    if let Some(quoted) = text.strip_prefix('\'') {
        let mut out = String::new();
        let mut chars = quoted.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == '\'' {
                if chars.peek().map(|&(_, n)| n) == Some('\'') {
                    chars.next();
                    out.push('\'');
                    continue;
                }
                return Ok((out, true, &quoted[i + 1..]));
            }
            out.push(c);
        }
        return Err("a quoted file name or command is not closed".into());
    }
    let end = text.find(|c: char| c.is_whitespace()).unwrap_or(text.len());
    Ok((text[..end].to_owned(), false, &text[end..]))
}

/// The text `\echo` / `\qecho` print: the arguments, each unquoted as psql does (single quotes
/// with `''` and the escapes `\n`, `\t`, `\\`), joined by single spaces; a leading `-n` (no
/// newline) is reported separately.
pub fn echo_text(args: &str) -> (String, bool) {
    let mut words = Vec::new();
    let mut rest = args.trim();
    while !rest.is_empty() {
        let mut word = String::new();
        let mut chars = rest.char_indices().peekable();
        let mut end = rest.len();
        let mut in_quote = false;
        while let Some((i, c)) = chars.next() {
            if in_quote {
                match c {
                    '\'' if chars.peek().map(|&(_, n)| n) == Some('\'') => {
                        chars.next();
                        word.push('\'');
                    }
                    '\'' => in_quote = false,
                    '\\' => match chars.next().map(|(_, n)| n) {
                        Some('n') => word.push('\n'),
                        Some('t') => word.push('\t'),
                        Some(other) => word.push(other),
                        None => word.push('\\'),
                    },
                    _ => word.push(c),
                }
            } else if c.is_whitespace() {
                end = i;
                break;
            } else if c == '\'' {
                in_quote = true;
            } else {
                word.push(c);
            }
        }
        words.push(word);
        rest = rest[end..].trim_start();
    }
    let no_newline = words.first().is_some_and(|w| w == "-n");
    if no_newline {
        words.remove(0);
    }
    (words.join(" "), no_newline)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_arguments_are_parsed_as_psql_does() {
        let c = parse_copy("project(json_data) from program 'sed ''s/\\\\/\\\\\\\\/g'' < data/p.json | tr -d ''\\n''';").unwrap();
        assert_eq!(c.target, "project(json_data)");
        assert_eq!(c.direction, CopyDirection::From);
        assert_eq!(
            c.endpoint,
            CopyEndpoint::Program("sed 's/\\\\/\\\\\\\\/g' < data/p.json | tr -d '\\n'".into())
        );
        assert_eq!(c.options, "");
        assert_eq!(c.sql(), "COPY project(json_data) FROM STDIN");

        let c = parse_copy("t (a, b) FROM 'data.csv' with (format csv, header)").unwrap();
        assert_eq!(c.target, "t (a, b)");
        assert_eq!(c.endpoint, CopyEndpoint::File("data.csv".into()));
        assert_eq!(
            c.sql(),
            "COPY t (a, b) FROM STDIN with (format csv, header)"
        );

        let c = parse_copy("\"from\" from stdin csv header").unwrap();
        assert_eq!(c.target, "\"from\"");
        assert_eq!(c.endpoint, CopyEndpoint::Stdin);
        assert_eq!(c.options, "csv header");

        let c = parse_copy("(select a from t where b = 'to') to 'out.csv' csv").unwrap();
        assert_eq!(c.target, "(select a from t where b = 'to')");
        assert_eq!(c.direction, CopyDirection::To);
        assert_eq!(c.endpoint, CopyEndpoint::File("out.csv".into()));

        let c = parse_copy("t from 'stdin'").unwrap();
        assert_eq!(c.endpoint, CopyEndpoint::File("stdin".into()));
        assert!(parse_copy("t").is_err());
        assert!(parse_copy("t from").is_err());
        assert!(parse_copy("t from stdout").is_err());
        assert!(parse_copy("t from program 'unterminated").is_err());
    }

    #[test]
    fn echo_unquotes_like_psql() {
        assert_eq!(echo_text("hello   world"), ("hello world".into(), false));
        assert_eq!(echo_text("-n 'it''s' 'a\\tb'"), ("it's a\tb".into(), true));
    }

    #[test]
    fn support_classes() {
        let m = |name: &str, args: &str| MetaCommand {
            name: name.into(),
            args: args.into(),
            inline_data: None,
        };
        assert_eq!(m("copy", "t from 'f'").support(), MetaSupport::Copy);
        assert_eq!(m("set", "ON_ERROR_STOP on").support(), MetaSupport::Ignored);
        assert_eq!(m("set", "ON_ERROR_STOP").support(), MetaSupport::Ignored);
        assert_eq!(m("timing", "").support(), MetaSupport::Ignored);
        assert_eq!(m("qecho", "x").support(), MetaSupport::Echo);
        assert_eq!(m("set", "tenant 42").support(), MetaSupport::Unsupported);
        assert_eq!(m("gexec", "").support(), MetaSupport::Unsupported);
        let message = m("gexec", "").unsupported_message().unwrap();
        assert!(message.contains("`\\gexec`"), "{message}");
        assert!(message.contains("strata baseline"), "{message}");
        assert!(m("echo", "x").unsupported_message().is_none());
    }
}
