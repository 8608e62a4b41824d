//! Connection strings: arbitrary UTF-8 through `ConnInfo::resolve` (with an empty environment),
//! `redact_url` and `secrets_in`. None may panic; when the string resolves to a password of 3
//! bytes or more, the redacted form must not contain it and the secrets listed for scrubbing
//! must. `crates/strata_pg/tests/conninfo_inputs.rs` checks the same property on generated
//! inputs in every `cargo test`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_pg::{redact_url, secrets_in, ConnInfo};

fuzz_target!(|input: &str| {
    // A `passfile=` parameter would make resolution read files; the password then does not come
    // from the string, so the property below does not apply, and reading arbitrary paths from a
    // fuzzer is best avoided.
    let reads_files = input.contains("passfile");
    let resolved = if reads_files {
        None
    } else {
        Some(ConnInfo::resolve(Some(input), &|_| None))
    };
    let redacted = redact_url(input);
    let secrets = secrets_in(input);
    if let Some(Ok(info)) = &resolved {
        let _ = info.redacted();
        if let Some(password) = info.password().and_then(|p| std::str::from_utf8(p).ok()) {
            if password.len() >= 3 {
                assert!(
                    !redacted.contains(password),
                    "redacted form {redacted:?} contains the password"
                );
                assert!(
                    secrets.iter().any(|s| s == password),
                    "secrets_in misses the password"
                );
            }
        }
    }
});
