//! The `conninfo` fuzz target's property, on inputs CI can afford: thousands of connection
//! strings mutated from realistic ones by a small deterministic generator. Resolving, redacting
//! and listing the secrets of any string must not panic, and when a string resolves to a
//! password of 3 bytes or more, its redacted form must not contain it and the secrets listed
//! for scrubbing must.
//!
//! The generator is written here rather than taken from a property-testing crate: the property
//! needs no shrinking (a failure prints the input, which is short) and no dependency is worth
//! its build time for this.

use std::panic::{catch_unwind, AssertUnwindSafe};
use strata_pg::{redact_url, secrets_in, ConnInfo};

/// SplitMix64: tiny, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const SEEDS: &[&str] = &[
    "postgres://u:S3cret%2é@127.0.0.1:1/db",
    "postgres://bob:s3cret@db:5432/app?sslmode=require",
    "postgresql://db/app?user=x&password=hunter2",
    "postgresql://u%40x:p%3Aw@db.example:6543/my%20db?application_name=a%26b",
    "postgres://u:p@ss@h/db",
    "postgres://app:s3cr?t/x@db/app",
    "postgres://u@[::1]:6543,[fe80::1%25eth0]/app",
    "postgres://a:1,b,c:3/app?target_session_attrs=read-write",
    "postgresql://postgres@/strata?host=%2Ftmp%2Fs&port=5432",
    "postgres://%2Fvar%2Frun%2Fpostgresql/app?sslmode=verify-full&sslrootcert=system",
    "postgres://app:app@db/app",
    "postgres://u:***x@h/db?application_name=***x",
    "host=db password='a b\\'c' user=x",
    "host=db password = hunter2 dbname='my app'",
    "host=db password='unterminated",
    "host=/tmp,/var/run port=5432,5433 user=u password=pw123 sslmode=require",
    "",
    "postgres://",
    "mysql://u:pw123@h/db",
];

/// Pieces that matter to the parsers: delimiters, escapes, multi-byte characters.
const PIECES: &[&str] = &[
    "%",
    "%2",
    "%25",
    "%40",
    "%2F",
    "%zz",
    "%ff",
    "%c3%a9",
    "@",
    ":",
    "/",
    "?",
    "&",
    "=",
    ",",
    "[",
    "]",
    "'",
    "\\",
    " ",
    "\t",
    "é",
    "€",
    "😀",
    "\u{0}",
    "password=",
    "password",
    "pw123",
    "host=",
    "port=",
    "sslmode=",
    "://",
    "postgres://",
    "0",
    "65536",
    "::1",
    "x",
];

/// Byte offsets that are char boundaries, so mutations keep the input UTF-8 (the API takes
/// `&str`; the fuzz target gets arbitrary UTF-8 the same way).
fn boundaries(s: &str) -> Vec<usize> {
    (0..=s.len()).filter(|i| s.is_char_boundary(*i)).collect()
}

fn mutate(rng: &mut Rng, input: &str) -> String {
    let mut s = input.to_owned();
    for _ in 0..=rng.below(4) {
        let b = boundaries(&s);
        let at = *rng.pick(&b);
        match rng.below(6) {
            0 | 1 => {
                let piece = *rng.pick(PIECES);
                s.insert_str(at, piece);
            }
            2 => {
                let end = *rng.pick(&b);
                let (from, to) = (at.min(end), at.max(end));
                s.replace_range(from..to, "");
            }
            3 => {
                let end = *rng.pick(&b);
                let (from, to) = (at.min(end), at.max(end));
                let copy = s[from..to].to_owned();
                s.insert_str(to, &copy);
            }
            4 => {
                let other = *rng.pick(SEEDS);
                let ob = boundaries(other);
                let from = *rng.pick(&ob);
                s = format!("{}{}", &s[..at], &other[from..]);
            }
            _ => s.truncate(at),
        }
    }
    s
}

fn check(input: &str) -> bool {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut checked = false;
        let resolved = ConnInfo::resolve(Some(input), &|_| None);
        let redacted = redact_url(input);
        let secrets = secrets_in(input);
        if let Ok(info) = &resolved {
            let _ = info.redacted();
            if let Some(password) = info.password().and_then(|p| std::str::from_utf8(p).ok()) {
                if password.len() >= 3 {
                    assert!(
                        !redacted.contains(password),
                        "redacted form {redacted:?} contains the password {password:?}"
                    );
                    assert!(
                        secrets.iter().any(|s| s == password),
                        "secrets {secrets:?} lack the password {password:?}"
                    );
                    checked = true;
                }
            }
        }
        checked
    }));
    match outcome {
        Ok(checked) => checked,
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("input {input:?}: {message}");
        }
    }
}

#[test]
fn seeds_and_mutations_keep_the_property() {
    for seed in SEEDS {
        check(seed);
    }

    let mut rng = Rng(0x5eed_c0de);
    let mut input = String::new();
    let mut with_password = 0;
    for i in 0..6000 {
        // Mostly fresh mutations of a seed, sometimes a mutation of the previous input, so that
        // changes accumulate.
        input = if i % 4 == 3 {
            mutate(&mut rng, &input)
        } else {
            let seed = *rng.pick(SEEDS);
            mutate(&mut rng, seed)
        };
        with_password += usize::from(check(&input));
    }
    // The property is only exercised by inputs that resolve to a password; make sure the
    // generator still produces enough of them.
    assert!(
        with_password >= 200,
        "only {with_password} inputs had a password"
    );
}

#[test]
fn every_prefix_and_suffix_of_the_seeds() {
    for seed in SEEDS {
        for at in boundaries(seed) {
            check(&seed[..at]);
            check(&seed[at..]);
        }
    }
}
