//! libpq connection strings, read without trusting them.
//!
//! A connection string is user input that usually carries a password, so reading it has two
//! duties besides understanding libpq's two syntaxes (URIs and `key=value` lists): no input may
//! make it panic, and no error may quote the string or any part of it that could be the
//! password. Errors therefore say *where* the problem is (the password, host 2 of the host list,
//! parameter `port`) instead of showing the offending text.
//!
//! tokio-postgres has a parser of its own, but it rejects the `sslmode` values strata implements
//! itself (`verify-ca`, `verify-full`) and its errors were not written with secrets in mind, so
//! strata reads the string here and builds the driver's configuration from the result
//! ([`crate::conn`]).
//!
//! Why not the `url` crate for the URI syntax: a libpq URI is not a WHATWG URL. It has host
//! lists (`h1:5432,h2:5433`), percent-encoded socket directories as hosts, `[v6%25zone]`
//! addresses, and strata's last-`@` rule for pasted passwords; `url` rejects or rewrites these
//! (and brings the `idna` tree with it). Only the percent-decoding is generic, and that is the
//! `percent-encoding` crate; the splitting stays here, pinned by the tests below and the
//! never-panics fuzz target.

use percent_encoding::percent_decode_str;
use std::borrow::Cow;

/// A syntax problem, described without quoting the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError(pub(crate) String);

/// `(keyword, decoded value)` pairs in the order given; a later pair overrides an earlier one.
pub(crate) type Params = Vec<(String, String)>;

const URI_PREFIXES: [&str; 2] = ["postgresql://", "postgres://"];

/// Said after errors in the part of a URI where a misplaced password character lands.
const ENCODING_HINT: &str = " (a user name or password holding characters such as `@`, `:`, `/`, `?`, `#` or `%` must be percent-encoded, e.g. `%40` for `@`)";

/// Reads a libpq URI or `key=value` string into keywords and decoded values. Keywords are not
/// checked against libpq's list here; the caller knows which ones it supports.
pub(crate) fn parse(s: &str) -> Result<Params, ParseError> {
    for prefix in URI_PREFIXES {
        if let Some(rest) = s.strip_prefix(prefix) {
            return parse_uri(rest);
        }
    }
    if let Some((scheme, _)) = s.split_once("://") {
        let looks_like_scheme = scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if looks_like_scheme {
            return Err(ParseError(
                "the connection string is a URI, but not a PostgreSQL one: it must start with postgres:// or postgresql:// (or be a list of key=value pairs)".into(),
            ));
        }
    }
    parse_key_values(s)
}

/// `[user[:password]@][host[:port][,...]][/dbname][?key=value&...]`, after the scheme.
///
/// libpq ends the user information at the first `@` or `/`; strata ends it at the last `@`
/// before the query string instead, so that a password holding an unencoded `@` or `/` (common
/// in pasted credentials) still reads as intended. A `?` in a password must be encoded: it
/// starts the query string.
fn parse_uri(rest: &str) -> Result<Params, ParseError> {
    let mut out = Params::new();
    let (before_query, query) = match rest.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (rest, None),
    };
    let (userinfo, after_userinfo) = match before_query.rsplit_once('@') {
        Some((userinfo, after)) => (Some(userinfo), after),
        None => (None, before_query),
    };
    let (netloc, path) = match after_userinfo.split_once('/') {
        Some((netloc, path)) => (netloc, Some(path)),
        None => (after_userinfo, None),
    };
    if let Some(userinfo) = userinfo {
        let (user, password) = match userinfo.split_once(':') {
            Some((user, password)) => (user, Some(password)),
            None => (userinfo, None),
        };
        let user = decode(user, "the user name")?;
        if !user.is_empty() {
            out.push(("user".into(), user));
        }
        if let Some(password) = password {
            out.push(("password".into(), decode(password, "the password")?));
        }
    }
    host_list(netloc, &mut out)?;
    if let Some(path) = path {
        let dbname = decode(path, "the database name")?;
        if !dbname.is_empty() {
            out.push(("dbname".into(), dbname));
        }
    }
    for (i, pair) in query.into_iter().flat_map(|q| q.split('&')).enumerate() {
        if pair.is_empty() {
            continue;
        }
        let n = i + 1;
        let Some((key, value)) = pair.split_once('=') else {
            return Err(ParseError(format!(
                "query parameter {n} of the URI has no `=` (write key=value pairs separated by `&`)"
            )));
        };
        let key = decode(key, &format!("the name of query parameter {n}"))?;
        let what = if key == "password" {
            "the password".to_owned()
        } else {
            format!("the value of parameter {}", shown_name(&key))
        };
        let value = decode(value, &what)?;
        // libpq's own alias, for URIs written for JDBC.
        if key == "ssl" && value == "true" {
            out.push(("sslmode".into(), "require".into()));
        } else {
            out.push((key, value));
        }
    }
    Ok(out)
}

/// `host[:port]` entries separated by commas; `[v6address]` in brackets; percent-encoded
/// unix-socket directories. Becomes the `host` and `port` lists libpq keyword syntax uses, with
/// an empty entry where a host has no port.
fn host_list(netloc: &str, out: &mut Params) -> Result<(), ParseError> {
    if netloc.is_empty() {
        return Ok(());
    }
    let mut hosts = Vec::new();
    let mut ports = Vec::new();
    for (i, entry) in netloc.split(',').enumerate() {
        let n = i + 1;
        let (host, port) = if let Some(inner) = entry.strip_prefix('[') {
            let Some((address, after)) = inner.split_once(']') else {
                return Err(ParseError(format!(
                    "host {n} of the host list opens `[` without a closing `]`{ENCODING_HINT}"
                )));
            };
            let port = if after.is_empty() {
                None
            } else if let Some(port) = after.strip_prefix(':') {
                Some(port)
            } else {
                return Err(ParseError(format!(
                    "host {n} of the host list has text after `]` that is not `:port`{ENCODING_HINT}"
                )));
            };
            (address, port)
        } else {
            match entry.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (entry, None),
            }
        };
        hosts.push(decode(host, &format!("host {n} of the host list"))?);
        let port = match port {
            None => String::new(),
            Some(port) => {
                let port = decode(port, &format!("the port of host {n} in the host list"))?;
                if !port.is_empty() && parse_port(&port).is_none() {
                    return Err(ParseError(format!(
                        "the port of host {n} in the host list is not a number from 1 to 65535{ENCODING_HINT}"
                    )));
                }
                port
            }
        };
        ports.push(port);
    }
    if hosts.iter().any(|h| !h.is_empty()) {
        out.push(("host".into(), hosts.join(",")));
    }
    if ports.iter().any(|p| !p.is_empty()) {
        out.push(("port".into(), ports.join(",")));
    }
    Ok(())
}

/// A TCP port as libpq accepts it: digits only, 1 to 65535.
pub(crate) fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u16>().ok().filter(|p| *p != 0)
}

/// Percent-decodes one component. Unlike browsers, libpq refuses a `%` that does not start an
/// escape, and so does strata: guessing what was meant could turn a typo into a wrong password.
fn decode(raw: &str, what: &str) -> Result<String, ParseError> {
    let bytes = raw.as_bytes();
    for (i, _) in bytes.iter().enumerate().filter(|(_, b)| **b == b'%') {
        let hex = |at: usize| bytes.get(at).is_some_and(u8::is_ascii_hexdigit);
        if !(hex(i + 1) && hex(i + 2)) {
            return Err(ParseError(format!(
                "{what} has an invalid percent-encoding: `%` must be followed by two hexadecimal digits (write `%25` for `%` itself)"
            )));
        }
    }
    percent_decode_str(raw)
        .decode_utf8()
        .map(Cow::into_owned)
        .map_err(|_| ParseError(format!("{what} is not valid UTF-8 once percent-decoded")))
}

/// Percent-decodes for redaction: invalid escapes are kept as they are and invalid UTF-8 is
/// replaced, because a scrubber must accept anything.
pub(crate) fn decode_lossy(raw: &str) -> String {
    percent_decode_str(raw).decode_utf8_lossy().into_owned()
}

/// libpq's notion of white space between `key=value` pairs (C `isspace`).
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// `key = value` pairs separated by white space; a value may be single-quoted, and `\` escapes
/// the next character inside or outside quotes, as in libpq.
pub(crate) fn parse_key_values(s: &str) -> Result<Params, ParseError> {
    let mut out = Params::new();
    let mut chars = s.chars().peekable();
    let skip_space = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
        while chars.peek().is_some_and(|c| is_space(*c)) {
            chars.next();
        }
    };
    loop {
        skip_space(&mut chars);
        if chars.peek().is_none() {
            return Ok(out);
        }
        let n = out.len() + 1;
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || is_space(c) {
                break;
            }
            key.push(c);
            chars.next();
        }
        skip_space(&mut chars);
        // The text without `=` is not echoed: it may be the second word of an unquoted password.
        if chars.next() != Some('=') {
            return Err(ParseError(format!(
                "entry {n} of the connection string has no `=` after its name (write key=value pairs separated by spaces, and quote values holding spaces: key='a b')"
            )));
        }
        if key.is_empty() {
            return Err(ParseError(format!(
                "entry {n} of the connection string has `=` but no parameter name before it"
            )));
        }
        skip_space(&mut chars);
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    Some('\'') => break,
                    Some('\\') => match chars.next() {
                        Some(c) => value.push(c),
                        None => return Err(unterminated(&key)),
                    },
                    Some(c) => value.push(c),
                    None => return Err(unterminated(&key)),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if is_space(c) {
                    break;
                }
                chars.next();
                if c == '\\' {
                    if let Some(escaped) = chars.next() {
                        value.push(escaped);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        out.push((key, value));
    }
}

fn unterminated(key: &str) -> ParseError {
    ParseError(format!(
        "the quoted value of parameter {} has no closing `'` (write \\' for a quote inside a quoted value)",
        shown_name(key)
    ))
}

/// A parameter name for a message: shown when it looks like one, since text that does not may
/// be a piece of a password that ended up where a name was expected.
pub(crate) fn shown_name(key: &str) -> String {
    if !key.is_empty()
        && key.len() <= 40
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        format!("`{key}`")
    } else {
        "(name not shown)".into()
    }
}

/// A value for a message about an enumerated parameter (`sslmode`, `target_session_attrs`):
/// shown when short and plain, otherwise described.
pub(crate) fn shown_value(value: &str) -> String {
    if !value.is_empty()
        && value.len() <= 24
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        format!("`{value}`")
    } else {
        "a value that is not shown".into()
    }
}

/// Quotes a value for a `key=value` string when it needs it.
pub(crate) fn quote_value(value: &str) -> String {
    if !value.is_empty() && !value.chars().any(|c| is_space(c) || c == '\'' || c == '\\') {
        return value.to_owned();
    }
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(s: &str) -> Vec<(String, String)> {
        parse(s).unwrap_or_else(|e| panic!("{s}: {}", e.0))
    }

    fn kv(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn uri_parts() {
        assert_eq!(
            pairs("postgresql://u%40x:p%3Aw@db.example:6543/my%20db?application_name=a%26b"),
            kv(&[
                ("user", "u@x"),
                ("password", "p:w"),
                ("host", "db.example"),
                ("port", "6543"),
                ("dbname", "my db"),
                ("application_name", "a&b"),
            ])
        );
        assert_eq!(pairs("postgres://"), kv(&[]));
        assert_eq!(
            pairs("postgres:///app?host=/tmp"),
            kv(&[("dbname", "app"), ("host", "/tmp")])
        );
        assert_eq!(
            pairs("postgres://%2Fvar%2Frun%2Fpostgresql/app"),
            kv(&[("host", "/var/run/postgresql"), ("dbname", "app")])
        );
        assert_eq!(
            pairs("postgres://[::1]:5433,[fe80::1%25eth0]/app"),
            kv(&[
                ("host", "::1,fe80::1%eth0"),
                ("port", "5433,"),
                ("dbname", "app")
            ])
        );
        assert_eq!(
            pairs("postgres://a:1,b,c:3/app"),
            kv(&[("host", "a,b,c"), ("port", "1,,3"), ("dbname", "app")])
        );
        assert_eq!(
            pairs("postgres://:5433/app"),
            kv(&[("port", "5433"), ("dbname", "app")])
        );
        assert_eq!(
            pairs("postgres://h/app?ssl=true"),
            kv(&[("host", "h"), ("dbname", "app"), ("sslmode", "require")])
        );
        // An unencoded `@` or `/` in the password: the last `@` before the query ends it.
        assert_eq!(
            pairs("postgres://u:p@ss/w@h/app"),
            kv(&[
                ("user", "u"),
                ("password", "p@ss/w"),
                ("host", "h"),
                ("dbname", "app")
            ])
        );
    }

    #[test]
    fn uri_errors_never_quote_the_input() {
        for (input, expected) in [
            (
                "postgres://u:S3cret%2é@h/db",
                "the password has an invalid percent-encoding",
            ),
            (
                "postgres://u:S3cret%zz@h/db",
                "the password has an invalid percent-encoding",
            ),
            (
                "postgres://u:S3cret%ff@h/db",
                "the password is not valid UTF-8",
            ),
            (
                "postgres://u:S3cret%2",
                "the port of host 1 in the host list",
            ),
            ("postgres://S3cret%@h/db", "the user name has an invalid"),
            (
                "postgres://h:S3cret/db",
                "the port of host 1 in the host list is not a number",
            ),
            ("postgres://h:0/db", "the port of host 1"),
            ("postgres://h:65536/db", "the port of host 1"),
            ("postgres://a,b:x/db", "the port of host 2"),
            ("postgres://[::1/db", "opens `[` without a closing `]`"),
            ("postgres://[::1]x/db", "text after `]`"),
            (
                "postgres://h/db?S3cret",
                "query parameter 1 of the URI has no `=`",
            ),
            (
                "postgres://h/db?a=1&password=S3cret%",
                "the password has an invalid",
            ),
            ("postgres://h/S3cret%g", "the database name"),
            ("mysql://u:S3cret@h/db", "not a PostgreSQL one"),
        ] {
            let err = parse(input).expect_err(input).0;
            assert!(err.contains(expected), "{input}: {err}");
            assert!(!err.contains("S3cret"), "{input}: {err}");
        }
    }

    #[test]
    fn key_values() {
        assert_eq!(
            pairs("host=db  port = 5433 password='a b\\'c\\\\' dbname=x\\ y user=''"),
            kv(&[
                ("host", "db"),
                ("port", "5433"),
                ("password", "a b'c\\"),
                ("dbname", "x y"),
                ("user", ""),
            ])
        );
        assert_eq!(pairs("  "), kv(&[]));
        for (input, expected) in [
            (
                "host=db password=my S3cret",
                "entry 3 of the connection string has no `=`",
            ),
            ("host=db =S3cret", "no parameter name"),
            ("password='S3cret", "parameter `password` has no closing"),
            ("password='S3cret\\", "has no closing"),
            ("localhost", "entry 1"),
        ] {
            let err = parse(input).expect_err(input).0;
            assert!(err.contains(expected), "{input}: {err}");
            assert!(!err.contains("S3cret"), "{input}: {err}");
        }
    }

    #[test]
    fn quoting_round_trips() {
        for value in ["", "plain", "a b", "it's", "back\\slash", "é"] {
            let text = format!("k={}", quote_value(value));
            assert_eq!(pairs(&text), kv(&[("k", value)]), "{text}");
        }
    }

    #[test]
    fn names_and_values_in_messages() {
        assert_eq!(shown_name("sslmode"), "`sslmode`");
        assert_eq!(shown_name("pass word"), "(name not shown)");
        assert_eq!(shown_value("verify-full"), "`verify-full`");
        assert_eq!(shown_value("a'b"), "a value that is not shown");
        assert_eq!(parse_port("5432"), Some(5432));
        for bad in ["", "0", "+5", "65536", "54 32", "٣"] {
            assert_eq!(parse_port(bad), None, "{bad}");
        }
    }
}
