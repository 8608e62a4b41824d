//! Version and name parsing shared by the layouts.
//!
//! Timestamps are spelled many ways (`20250101120000`, Laravel's `2025_11_14_000001`, diesel's
//! `2025-11-14-000001`). The dated spellings are recognised explicitly; otherwise the version is
//! the leading digit run, so a name such as `001_2fa_setup` keeps `2fa_setup` as its name.

use strata_model::Version;

/// Splits `<version>_<name>` (the stem of a file or directory name) into version and name.
pub(crate) fn split_version_name(stem: &str) -> Option<(Version, String)> {
    let bytes = stem.as_bytes();
    let digits = |from: usize, n: usize| {
        bytes.len() >= from + n && bytes[from..from + n].iter().all(u8::is_ascii_digit)
    };
    let sep = |at: usize| matches!(bytes.get(at), Some(b'_' | b'-'));
    let version_len = if digits(0, 4)
        && sep(4)
        && digits(5, 2)
        && sep(7)
        && digits(8, 2)
        && sep(10)
        && digits(11, 6)
        && !bytes.get(17).is_some_and(u8::is_ascii_digit)
    {
        // diesel's `print-schema`-era names carry a `-0000` suffix after the timestamp
        // (`2025-09-19-132648-0000_name`), and diesel records it in the version
        // (`202509191326480000`): it is part of the version, not of the name.
        if sep(17) && digits(18, 4) && !bytes.get(22).is_some_and(u8::is_ascii_digit) {
            22
        } else {
            17
        }
    } else {
        bytes.iter().take_while(|b| b.is_ascii_digit()).count()
    };
    if version_len == 0 {
        return None;
    }
    let version = Version::parse(&stem[..version_len]).ok()?;
    let rest = &stem[version_len..];
    let name = if rest.is_empty() {
        String::new()
    } else {
        let name = rest.strip_prefix('_').or_else(|| rest.strip_prefix('-'))?;
        if name.is_empty() {
            return None;
        }
        name.to_owned()
    };
    Some((version, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings() {
        let s = |x: &str| split_version_name(x).map(|(v, n)| (v.to_string(), n));
        assert_eq!(s("001_init"), Some(("001".into(), "init".into())));
        assert_eq!(s("1_2fa_setup"), Some(("1".into(), "2fa_setup".into())));
        assert_eq!(
            s("20250101120000_add_users"),
            Some(("20250101120000".into(), "add_users".into()))
        );
        assert_eq!(
            s("2025_11_14_000001_extensions"),
            Some(("2025_11_14_000001".into(), "extensions".into()))
        );
        assert_eq!(
            s("2025-11-14-000001_create"),
            Some(("2025-11-14-000001".into(), "create".into()))
        );
        assert_eq!(
            s("2025-09-19-132648-0000_create_users"),
            Some(("2025-09-19-132648-0000".into(), "create_users".into()))
        );
        assert_eq!(s("00001"), Some(("00001".into(), "".into())));
        assert_eq!(s("init"), None);
        assert_eq!(s("001_"), None);
        assert_eq!(s("001x"), None);
    }
}
