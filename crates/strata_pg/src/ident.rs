//! The one place identifiers are quoted.
//!
//! Values always travel as bind parameters; identifiers (the registry schema, database names)
//! cannot, so they go through [`quote_ident`] and nowhere else.

/// Quotes an SQL identifier the way PostgreSQL's `quote_ident()` does, unconditionally.
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

#[cfg(test)]
mod tests {
    #[test]
    fn quotes() {
        assert_eq!(super::quote_ident("strata"), "\"strata\"");
        assert_eq!(super::quote_ident("we\"ird"), "\"we\"\"ird\"");
    }
}
