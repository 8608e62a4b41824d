//! Identifier quoting, re-exported from the model so that every crate uses the same helper.

pub use strata_model::quote_ident;

#[cfg(test)]
mod tests {
    #[test]
    fn quotes() {
        assert_eq!(super::quote_ident("strata"), "\"strata\"");
        assert_eq!(super::quote_ident("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(
            super::quote_ident("a\"; DROP TABLE x; --"),
            "\"a\"\"; DROP TABLE x; --\""
        );
    }
}
