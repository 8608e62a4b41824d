//! PostgreSQL truncates identifiers to 63 bytes (NAMEDATALEN - 1) with only a NOTICE: two long
//! names sharing a prefix become the same object, and the name in the code no longer matches
//! the catalog. The parser truncates too, so this rule reads the statement's tokens, where the
//! name is still whole.

use super::prelude::*;
use pg_query::protobuf::Token;

pub(crate) static RULE: Rule = Rule {
    name: "identifier-too-long",
    category: Category::Robustness,
    default: ERROR,
    gate: Gate::Advisory,
    summary: "an identifier longer than 63 bytes (silently truncated)",
    docs: docs!("identifier-too-long"),
    check,
};

/// PostgreSQL's limit: NAMEDATALEN (64) minus the terminating NUL.
const MAX_IDENTIFIER_BYTES: usize = 63;

fn check(cx: &Ctx<'_>, out: &mut Sink) {
    let range = cx.statement.range.clone();
    let text = &cx.sql[range.clone()];
    if !has_long_word(text) {
        return;
    }
    let Ok(tokens) = pg_query::scan_tokens(text) else {
        return;
    };
    let mut seen: Vec<String> = Vec::new();
    for t in tokens {
        if t.token != Token::Ident as i32 {
            continue;
        }
        let Some(raw) = text.get(t.start as usize..t.end as usize) else {
            continue;
        };
        let name = match raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
            Some(quoted) => quoted.replace("\"\"", "\""),
            // PostgreSQL folds only ASCII letters of unquoted names.
            None => raw.to_ascii_lowercase(),
        };
        if name.len() <= MAX_IDENTIFIER_BYTES || seen.contains(&name) {
            continue;
        }
        let mut cut = MAX_IDENTIFIER_BYTES;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        out.flag(
            range.start + t.start as usize,
            format!(
                "identifier `{name}` is {} bytes; PostgreSQL silently truncates it to `{}`",
                name.len(),
                &name[..cut]
            ),
            "use a name of at most 63 bytes (the limit is in bytes: non-ASCII letters take 2 or more)",
        );
        seen.push(name);
    }
}

/// Cheap pre-check before tokenizing: is there a quoted identifier (which may contain
/// anything), or a run of identifier bytes (letters, digits, `_`, `$`, non-ASCII) longer than
/// the limit? Most statements have neither.
fn has_long_word(text: &str) -> bool {
    if text.contains('"') {
        return true;
    }
    let mut run = 0usize;
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80 {
            run += 1;
            if run > MAX_IDENTIFIER_BYTES {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}
