//! Where to connect, resolved the way libpq users expect.
//!
//! Teams already have `DATABASE_URL` or `PG*` variables and a `~/.pgpass`; strata honours them
//! with libpq's precedence (explicit URL over environment over defaults) and adds the TLS modes
//! tokio-postgres lacks (`verify-ca`, `verify-full`) through rustls. The string itself is read by
//! the private `conninfo` module, which never panics and never quotes it in an error. Nothing
//! here ever renders a password: [`ConnInfo::redacted`] and [`redact_url`] are the only
//! printable forms, and [`secrets_in`] lets callers scrub what they print anyway.

use crate::conninfo;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_postgres::config::Host;

/// libpq `sslmode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Never use TLS.
    Disable,
    /// Try TLS, fall back to plain (certificate not verified).
    Prefer,
    /// TLS, certificate not verified.
    Require,
    /// TLS, certificate chain verified against the root certificates.
    VerifyCa,
    /// TLS, chain and host name verified.
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Result<SslMode, ConnectError> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "allow" | "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(ConnectError::Config {
                    message: format!(
                        "sslmode is {}; use disable, prefer, require, verify-ca or verify-full",
                        conninfo::shown_value(other)
                    ),
                })
            }
        })
    }
}

/// Connection problems, with what to check next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL or variables are malformed.
    #[error("invalid connection settings: {message}")]
    Config {
        /// What is wrong.
        message: String,
    },
    /// TLS set-up failed (certificates).
    #[error("TLS set-up failed: {message}")]
    Tls {
        /// What is wrong.
        message: String,
    },
    /// The server could not be reached or refused us.
    #[error("cannot connect to {target}: {source}; check --database-url / DATABASE_URL / PGHOST and that the server is running")]
    Connect {
        /// Redacted target.
        target: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
}

/// A resolved connection target.
#[derive(Clone)]
pub struct ConnInfo {
    pub(crate) config: tokio_postgres::Config,
    pub(crate) ssl_mode: SslMode,
    pub(crate) ssl_root_cert: Option<String>,
}

impl std::fmt::Debug for ConnInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Removes the password from a `postgres://user:password@host/db` URL or a `password=...`
/// key/value string, for messages. Anything it cannot take apart with certainty is replaced
/// whole: a half-redacted secret is still a leak. Any other occurrence of the password (a user
/// name equal to it, say) is masked too, so the result never contains it.
// why not a crate: `url::Url::set_password` needs a string that parses as a WHATWG URL, and the
// strings that most need redacting are the ones that do not (an unencoded `@`, `/` or `?` in a
// password, libpq host lists); it would also re-serialize, changing what users see. Decoding
// goes through `percent-encoding` ([`conninfo::decode_lossy`]); `redacts_passwords` pins the output.
pub fn redact_url(url: &str) -> String {
    let shown = if let Some((scheme, rest)) = url.split_once("://") {
        let (userinfo, after) = split_userinfo(rest);
        let masked_user = userinfo.map(|u| match u.split_once(':') {
            Some((user, _)) => format!("{user}:***@"),
            None => format!("{u}@"),
        });
        // Without an `@`, `user:password` reads as `host:port`: a port that is not a number is
        // masked in case it is a password.
        let netloc_end = after.find(['/', '?']).unwrap_or(after.len());
        let (netloc, after_netloc) = after.split_at(netloc_end);
        let after = format!("{}{after_netloc}", mask_odd_ports(netloc));
        let tail = match after.split_once('?') {
            Some((path, query)) => {
                let query: Vec<String> = query
                    .split('&')
                    .map(|kv| match kv.split_once('=') {
                        Some((k, _)) if is_password_key(k) => format!("{k}=***"),
                        _ => kv.to_owned(),
                    })
                    .collect();
                format!("{path}?{}", query.join("&"))
            }
            None => after.to_owned(),
        };
        format!("{scheme}://{}{tail}", masked_user.unwrap_or_default())
    } else {
        match conninfo::parse_key_values(url) {
            Ok(pairs) => pairs
                .into_iter()
                .map(|(k, v)| {
                    if k.eq_ignore_ascii_case("password") {
                        format!("{k}=***")
                    } else {
                        format!("{k}={}", conninfo::quote_value(&v))
                    }
                })
                .collect::<Vec<_>>()
                .join(" "),
            Err(_) => "[connection string not shown]".into(),
        }
    };
    scrub(&shown, &secrets_in(url))
}

/// The user information of a URI (after the scheme) and what follows it. The parser's rule
/// (the last `@` before the query string) comes first; when the part before the first `?`
/// holds no `@`, a password with an unencoded `?` may still be there, so the last `@` anywhere
/// is taken: for redaction, hiding too much is the safe mistake.
fn split_userinfo(rest: &str) -> (Option<&str>, &str) {
    let before_query = rest.split_once('?').map_or(rest, |(before, _)| before);
    let at = before_query.rfind('@').or_else(|| rest.rfind('@'));
    match at {
        // `@` is one byte, so `at + 1` is a char boundary.
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    }
}

/// The port parts of a URI's host list that are not numbers (see [`redact_url`]).
fn odd_ports(netloc: &str) -> impl Iterator<Item = &str> {
    netloc
        .split(',')
        .filter(|entry| !entry.starts_with('['))
        .filter_map(|entry| entry.split_once(':').map(|(_, port)| port))
        .filter(|port| !port.bytes().all(|b| b.is_ascii_digit()))
}

fn mask_odd_ports(netloc: &str) -> String {
    netloc
        .split(',')
        .map(|entry| match entry.split_once(':') {
            Some((host, port))
                if !entry.starts_with('[') && !port.bytes().all(|b| b.is_ascii_digit()) =>
            {
                format!("{host}:***")
            }
            _ => entry.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn is_password_key(raw_key: &str) -> bool {
    conninfo::decode_lossy(raw_key).eq_ignore_ascii_case("password")
}

/// Replaces every occurrence of each secret of 3 bytes or more in `text` (a message built from
/// text strata did not write itself: a driver's error, a panic, a note). The mask is made of a
/// character no secret contains, so masking can never assemble a secret out of the mask and its
/// neighbours (`***` unless a secret contains `*`).
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut secrets: Vec<&str> = secrets
        .iter()
        .map(String::as_str)
        .filter(|s| s.len() >= 3)
        .collect();
    if secrets.is_empty() {
        return text.to_owned();
    }
    // Longer first, so that a secret containing a shorter one is masked whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mask_char = std::iter::once('*')
        .chain((0x21u32..).filter_map(char::from_u32))
        .find(|c| !secrets.iter().any(|s| s.contains(*c)))
        .unwrap_or('*');
    let mask = mask_char.to_string().repeat(3);
    secrets
        .iter()
        .fold(text.to_owned(), |text, secret| text.replace(secret, &mask))
}

/// The secrets a connection string carries (its password, raw and decoded), so a caller can
/// scrub them from any text as a last line of defence. It reads the string the way
/// [`ConnInfo::resolve`] does and also the looser ways a malformed string might be meant, so
/// that what it returns covers every reading.
pub fn secrets_in(url: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(params) = conninfo::parse(url) {
        out.extend(
            params
                .into_iter()
                .filter(|(k, _)| k == "password")
                .map(|(_, v)| v),
        );
    }
    if let Some((_, rest)) = url.split_once("://") {
        let before_query = rest.split_once('?').map_or(rest, |(before, _)| before);
        for userinfo in [before_query.rsplit_once('@'), rest.rsplit_once('@')]
            .into_iter()
            .flatten()
            .map(|(userinfo, _)| userinfo)
        {
            if let Some((_, pw)) = userinfo.split_once(':') {
                out.push(pw.to_owned());
                out.push(conninfo::decode_lossy(pw));
            }
        }
        let parser_reading = (!before_query.contains('@')).then_some(before_query);
        for after in [Some(split_userinfo(rest).1), parser_reading]
            .into_iter()
            .flatten()
        {
            let netloc = after.split(['/', '?']).next().unwrap_or_default();
            for port in odd_ports(netloc) {
                out.push(port.to_owned());
                out.push(conninfo::decode_lossy(port));
            }
        }
        for kv in rest.split(['?', '&']) {
            if let Some((k, v)) = kv.split_once('=') {
                if is_password_key(k) {
                    out.push(v.to_owned());
                    out.push(conninfo::decode_lossy(v));
                }
            }
        }
    } else {
        out.extend(loose_key_value_passwords(url));
    }
    out.retain(|s| !s.is_empty());
    let mut unique = Vec::with_capacity(out.len());
    for s in out {
        if !unique.contains(&s) {
            unique.push(s);
        }
    }
    unique
}

/// `password = value` wherever it appears in a key=value string, even one the parser rejects
/// (an unterminated quote, say): the value raw and unescaped, up to the closing quote, the next
/// space or the end.
fn loose_key_value_passwords(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    // ASCII lowercasing keeps every byte offset, so offsets in `lower` are offsets in `s`.
    let lower = s.to_ascii_lowercase();
    for (at, _) in lower.match_indices("password") {
        let after = s[at + "password".len()..].trim_start();
        let Some(value) = after.strip_prefix('=') else {
            continue;
        };
        let value = value.trim_start();
        let (raw, unescaped) = match value.strip_prefix('\'') {
            Some(quoted) => {
                let mut raw = String::new();
                let mut unescaped = String::new();
                let mut chars = quoted.chars();
                while let Some(c) = chars.next() {
                    match c {
                        '\'' => break,
                        '\\' => {
                            raw.push(c);
                            if let Some(n) = chars.next() {
                                raw.push(n);
                                unescaped.push(n);
                            }
                        }
                        c => {
                            raw.push(c);
                            unescaped.push(c);
                        }
                    }
                }
                (raw, unescaped)
            }
            None => {
                let raw: String = value.chars().take_while(|c| !c.is_whitespace()).collect();
                let unescaped = raw.replace('\\', "");
                (raw, unescaped)
            }
        };
        out.push(raw);
        out.push(unescaped);
    }
    out
}

/// Looks up environment variables; injectable for tests.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

impl ConnInfo {
    /// Resolves a target from an optional URL (or key=value string) and libpq variables.
    ///
    /// The string is read by strata itself (the private `conninfo` module), never by
    /// tokio-postgres: every problem becomes a [`ConnectError::Config`] that says where it is
    /// without quoting the string, and no input can make this panic.
    pub fn resolve(url: Option<&str>, env: EnvLookup<'_>) -> Result<ConnInfo, ConnectError> {
        let mut own = OwnParams {
            ssl_mode: env("PGSSLMODE"),
            ssl_root_cert: env("PGSSLROOTCERT"),
            passfile: None,
        };
        let mut config = tokio_postgres::Config::new();
        if let Some(url) = url {
            let params = conninfo::parse(url).map_err(|e| config_error(e.0))?;
            apply(params, &mut config, &mut own)?;
        }
        if env("PGSERVICE").is_some() {
            return Err(ConnectError::Config {
                message: "PGSERVICE (pg_service.conf) is not supported; set DATABASE_URL, or PGHOST/PGPORT/PGDATABASE, instead".into(),
            });
        }
        let hostaddr = env("PGHOSTADDR");
        // A `hostaddr` alone names the server by address, as in libpq.
        if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
            let hosts = env("PGHOST")
                .filter(|h| !h.is_empty())
                .or_else(|| hostaddr.clone())
                .unwrap_or_else(default_host);
            for h in hosts.split(',') {
                add_host(&mut config, h);
            }
        }
        if let (Some(addr), true) = (hostaddr, config.get_hostaddrs().is_empty()) {
            let ip = addr.parse().map_err(|_| ConnectError::Config {
                message: format!("PGHOSTADDR `{addr}` is not an IP address"),
            })?;
            config.hostaddr(ip);
        }
        if config.get_ports().is_empty() {
            let port = env("PGPORT").unwrap_or_else(|| "5432".into());
            let ports = port_list(&port).ok_or_else(|| ConnectError::Config {
                message: format!("PGPORT `{port}` is not a port number (1 to 65535), nor a comma-separated list of them"),
            })?;
            for p in ports {
                config.port(p);
            }
        }
        check_list_lengths(&config)?;
        fill_session_defaults(&mut config, env);
        if config.get_password().is_none() {
            let passfile = own
                .passfile
                .map(PathBuf::from)
                .or_else(|| env("PGPASSFILE").map(PathBuf::from))
                .or_else(|| env("HOME").map(|h| Path::new(&h).join(".pgpass")));
            if let Some(pw) = env("PGPASSWORD") {
                config.password(pw);
            } else if let Some(pw) = passfile.and_then(|f| pgpass_lookup(&config, &f)) {
                config.password(pw);
            }
        }
        let ssl_mode = SslMode::parse(own.ssl_mode.as_deref().unwrap_or("prefer"))?;
        Ok(ConnInfo {
            config,
            ssl_mode,
            ssl_root_cert: own.ssl_root_cert,
        })
    }

    /// A target an application already holds as a `tokio_postgres::Config` (the library's
    /// `Database::from_config`). What the configuration leaves unset gets the defaults
    /// [`ConnInfo::resolve`] gives without any environment: the local socket directory, port
    /// 5432, the OS user, a database named like the user, `application_name` `strata`, a
    /// 10-second connect timeout. TLS follows the configuration's `ssl_mode` (`disable`,
    /// `prefer`, `require`; certificates unverified, as tokio-postgres' modes mean).
    pub fn from_config(mut config: tokio_postgres::Config) -> ConnInfo {
        if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
            add_host(&mut config, &default_host());
        }
        if config.get_ports().is_empty() {
            config.port(5432);
        }
        fill_session_defaults(&mut config, &|_| None);
        let ssl_mode = match config.get_ssl_mode() {
            tokio_postgres::config::SslMode::Disable => SslMode::Disable,
            tokio_postgres::config::SslMode::Require => SslMode::Require,
            _ => SslMode::Prefer,
        };
        ConnInfo {
            config,
            ssl_mode,
            ssl_root_cert: None,
        }
    }

    /// `user@host:port/database`, never with a password.
    pub fn redacted(&self) -> String {
        let host = match self.config.get_hosts().first() {
            Some(Host::Tcp(h)) if h.contains(':') => format!("[{h}]"),
            Some(Host::Tcp(h)) => h.clone(),
            Some(Host::Unix(p)) => p.display().to_string(),
            None => match self.config.get_hostaddrs().first() {
                Some(std::net::IpAddr::V6(a)) => format!("[{a}]"),
                Some(a) => a.to_string(),
                None => "?".into(),
            },
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        format!(
            "{}@{}:{}/{}",
            self.config.get_user().unwrap_or("?"),
            host,
            port,
            self.database()
        )
    }

    /// The database name.
    pub fn database(&self) -> String {
        self.config.get_dbname().unwrap_or("postgres").to_owned()
    }

    /// The same server, another database (for scratch databases and tests).
    pub fn with_database(&self, db: &str) -> ConnInfo {
        let mut c = self.clone();
        c.config.dbname(db);
        c
    }

    /// The TLS mode in force.
    pub fn ssl_mode(&self) -> SslMode {
        self.ssl_mode
    }

    /// The password in force, if any. Never show it: it is here so that code handling text it
    /// did not write (crash reports, fuzz checks) can make sure the password is not in it.
    pub fn password(&self) -> Option<&[u8]> {
        self.config.get_password()
    }
}

/// What libpq fills in when the target leaves it out: the user (`PGUSER`, else the OS user),
/// the database (`PGDATABASE`, else the user's name), `application_name` (`PGAPPNAME`, else
/// `strata`) and the connect timeout (`PGCONNECT_TIMEOUT`, else 10 s). One rule for a URL and
/// for a `tokio_postgres::Config` an application hands over (with no environment).
fn fill_session_defaults(config: &mut tokio_postgres::Config, env: EnvLookup<'_>) {
    if config.get_user().is_none() {
        let user = env("PGUSER").unwrap_or_else(crate::who::os_user);
        config.user(&user);
    }
    if config.get_dbname().is_none() {
        let db =
            env("PGDATABASE").unwrap_or_else(|| config.get_user().unwrap_or("postgres").to_owned());
        config.dbname(&db);
    }
    if config.get_application_name().is_none() {
        config.application_name(env("PGAPPNAME").unwrap_or_else(|| "strata".into()));
    }
    if config.get_connect_timeout().is_none() {
        let secs = env("PGCONNECT_TIMEOUT")
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(10);
        config.connect_timeout(Duration::from_secs(secs.max(1)));
    }
}

/// What a connection string sets that strata acts on itself rather than tokio-postgres.
struct OwnParams {
    ssl_mode: Option<String>,
    ssl_root_cert: Option<String>,
    passfile: Option<String>,
}

/// A problem in the connection string, with the advice every such problem shares.
fn config_error(what: impl std::fmt::Display) -> ConnectError {
    ConnectError::Config {
        message: format!(
            "{what}; check --database-url / DATABASE_URL (the connection string is not shown: it may hold a password)"
        ),
    }
}

/// libpq parameters strata knows but does not implement: refused by name, so that nobody
/// believes a client certificate or a GSSAPI requirement is in force when it is not.
const UNSUPPORTED: &[&str] = &[
    "service",
    "sslcert",
    "sslkey",
    "sslpassword",
    "sslcertmode",
    "sslcrl",
    "sslcrldir",
    "sslcompression",
    "sslsni",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "requirepeer",
    "require_auth",
    "krbsrvname",
    "gsslib",
    "gssdelegation",
    "replication",
    "requiressl",
    "min_protocol_version",
    "max_protocol_version",
    "oauth_issuer",
    "oauth_client_id",
    "oauth_client_secret",
    "oauth_scope",
];

/// Applies the parameters to the driver's configuration, the last value of a keyword winning as
/// in libpq.
fn apply(
    params: conninfo::Params,
    config: &mut tokio_postgres::Config,
    own: &mut OwnParams,
) -> Result<(), ConnectError> {
    let mut last: conninfo::Params = Vec::with_capacity(params.len());
    for (key, value) in params {
        last.retain(|(k, _)| *k != key);
        last.push((key, value));
    }
    let mut application_name = None;
    let mut fallback_application_name = None;
    for (key, value) in last {
        let name = conninfo::shown_name(&key);
        let number = |value: &str| -> Result<i64, ConnectError> {
            value
                .trim()
                .parse::<i64>()
                .map_err(|_| config_error(format!("parameter {name} must be a whole number")))
        };
        let one_of = |allowed: &str| {
            config_error(format!(
                "parameter {name} is {}; use {allowed}",
                conninfo::shown_value(&value)
            ))
        };
        match key.as_str() {
            "host" if value.is_empty() => {}
            "host" => {
                for h in value.split(',') {
                    add_host(config, h);
                }
            }
            "hostaddr" if value.is_empty() => {}
            "hostaddr" => {
                for (i, addr) in value.split(',').enumerate() {
                    let ip = addr.trim().parse().map_err(|_| {
                        config_error(format!(
                            "entry {} of parameter `hostaddr` is not an IP address",
                            i + 1
                        ))
                    })?;
                    config.hostaddr(ip);
                }
            }
            "port" if value.is_empty() => {}
            "port" => {
                let ports = port_list(&value).ok_or_else(|| {
                    config_error("parameter `port` is not a port number (1 to 65535), nor a comma-separated list of them")
                })?;
                for p in ports {
                    config.port(p);
                }
            }
            "user" if value.is_empty() => {}
            "user" => {
                config.user(value);
            }
            // An empty password is no password: PGPASSWORD and the password file still apply.
            "password" if value.is_empty() => {}
            "password" => {
                config.password(value);
            }
            "dbname" if value.is_empty() => {}
            "dbname" => {
                config.dbname(value);
            }
            "options" => {
                config.options(value);
            }
            "application_name" => application_name = Some(value),
            "fallback_application_name" => fallback_application_name = Some(value),
            // Zero or less means "no limit" in libpq; strata then keeps its own default.
            "connect_timeout" => {
                let secs = number(&value)?;
                if secs > 0 {
                    config.connect_timeout(Duration::from_secs(secs.unsigned_abs()));
                }
            }
            // In milliseconds, as libpq documents it.
            "tcp_user_timeout" => {
                let ms = number(&value)?;
                if ms > 0 {
                    config.tcp_user_timeout(Duration::from_millis(ms.unsigned_abs()));
                }
            }
            "keepalives" => {
                config.keepalives(number(&value)? != 0);
            }
            "keepalives_idle" => {
                let secs = number(&value)?;
                if secs > 0 {
                    config.keepalives_idle(Duration::from_secs(secs.unsigned_abs()));
                }
            }
            "keepalives_interval" => {
                let secs = number(&value)?;
                if secs > 0 {
                    config.keepalives_interval(Duration::from_secs(secs.unsigned_abs()));
                }
            }
            "keepalives_count" => {
                let count = u32::try_from(number(&value)?.max(0)).unwrap_or(u32::MAX);
                config.keepalives_retries(count);
            }
            "target_session_attrs" => {
                use tokio_postgres::config::TargetSessionAttrs as T;
                config.target_session_attrs(match value.as_str() {
                    "any" => T::Any,
                    "read-write" => T::ReadWrite,
                    "read-only" => T::ReadOnly,
                    _ => return Err(one_of("any, read-write or read-only (strata does not support primary, standby or prefer-standby)")),
                });
            }
            "channel_binding" => {
                use tokio_postgres::config::ChannelBinding as C;
                config.channel_binding(match value.as_str() {
                    "disable" => C::Disable,
                    "prefer" => C::Prefer,
                    "require" => C::Require,
                    _ => return Err(one_of("disable, prefer or require")),
                });
            }
            "load_balance_hosts" => {
                use tokio_postgres::config::LoadBalanceHosts as L;
                config.load_balance_hosts(match value.as_str() {
                    "disable" => L::Disable,
                    "random" => L::Random,
                    _ => return Err(one_of("disable or random")),
                });
            }
            "sslmode" => own.ssl_mode = Some(value),
            "sslrootcert" => own.ssl_root_cert = Some(value),
            "passfile" => own.passfile = Some(value),
            "sslnegotiation" if value == "postgres" => {}
            "sslnegotiation" => {
                return Err(one_of("postgres (strata does not support direct TLS negotiation)"))
            }
            // strata has no GSSAPI: "prefer" and "allow" then mean an unencrypted GSS-less
            // connection, as in a libpq built without GSSAPI.
            "gssencmode" if matches!(value.as_str(), "disable" | "allow" | "prefer") => {}
            "gssencmode" => {
                return Err(one_of("disable, allow or prefer (strata does not support GSSAPI encryption)"))
            }
            // The driver always speaks UTF-8.
            "client_encoding"
                if matches!(
                    value.to_ascii_lowercase().as_str(),
                    "utf8" | "utf-8" | "unicode" | "auto"
                ) => {}
            "client_encoding" => return Err(one_of("UTF8 (strata always uses UTF-8)")),
            k if UNSUPPORTED.contains(&k) => {
                return Err(config_error(format!(
                    "parameter {name} is a libpq parameter strata does not support; remove it"
                )))
            }
            _ => {
                return Err(config_error(format!(
                    "unknown connection parameter {name} (libpq's parameters: https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-PARAMKEYWORDS)"
                )))
            }
        }
    }
    if let Some(name) = application_name.or(fallback_application_name) {
        config.application_name(name);
    }
    Ok(())
}

/// Adds one entry of a host list: a directory for a unix socket, a name or address for TCP, or
/// nothing (which libpq reads as the default socket directory).
fn add_host(config: &mut tokio_postgres::Config, host: &str) {
    if host.is_empty() {
        config.host_path(default_host());
    } else if host.starts_with('/') {
        config.host_path(host);
    } else {
        config.host(host);
    }
}

/// `5432` or `5432,,5433` (an empty entry is the default port, as in libpq).
fn port_list(value: &str) -> Option<Vec<u16>> {
    value
        .split(',')
        .map(|p| match p.trim() {
            "" => Some(5432),
            p => conninfo::parse_port(p),
        })
        .collect()
}

/// tokio-postgres wants as many addresses as hosts (or none), and one port or one per host; it
/// would say so only when connecting, and less precisely.
fn check_list_lengths(config: &tokio_postgres::Config) -> Result<(), ConnectError> {
    let hosts = config.get_hosts().len();
    let addrs = config.get_hostaddrs().len();
    let ports = config.get_ports().len();
    if hosts > 0 && addrs > 0 && hosts != addrs {
        return Err(config_error(format!(
            "the connection names {hosts} host(s) but {addrs} hostaddr(s); give one address per host, or none"
        )));
    }
    let targets = hosts.max(addrs);
    if ports > 1 && ports != targets {
        return Err(config_error(format!(
            "the connection names {targets} host(s) but {ports} ports; give one port for all, or one per host"
        )));
    }
    Ok(())
}

fn default_host() -> String {
    ["/var/run/postgresql", "/tmp"]
        .into_iter()
        .find(|d| Path::new(d).exists())
        .unwrap_or("localhost")
        .to_owned()
}

/// `~/.pgpass` (or `PGPASSFILE`, or `passfile=`) lookup with libpq's matching rules: `*` matches
/// anything, `localhost` matches a unix socket, `\:` and `\\` are escapes; a file readable by
/// group or others, or one that is not a regular file, is ignored, as libpq does.
fn pgpass_lookup(config: &tokio_postgres::Config, path: &Path) -> Option<String> {
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).ok()?;
        if !meta.is_file() || meta.permissions().mode() & 0o077 != 0 {
            return None;
        }
    }
    let text = std::fs::read_to_string(path).ok()?;
    let host = match (config.get_hosts().first(), config.get_hostaddrs().first()) {
        (Some(Host::Tcp(h)), _) => h.clone(),
        (Some(Host::Unix(_)), _) => "localhost".into(),
        (None, Some(addr)) => addr.to_string(),
        (None, None) => return None,
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let db = config.get_dbname().unwrap_or("");
    let user = config.get_user().unwrap_or("");
    for line in text.lines() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_pgpass(line);
        if fields.len() != 5 {
            continue;
        }
        let matches = |pattern: &str, value: &str| pattern == "*" || pattern == value;
        if matches(&fields[0], &host)
            && matches(&fields[1], &port)
            && matches(&fields[2], db)
            && matches(&fields[3], user)
        {
            return Some(fields[4].clone());
        }
    }
    None
}

fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    fields.last_mut().expect("non-empty").push(n);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut().expect("non-empty").push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://bob:s3cret@db:5432/app?sslmode=require"),
            "postgres://bob:***@db:5432/app?sslmode=require"
        );
        assert_eq!(
            redact_url("postgresql://db/app?user=x&password=hunter2"),
            "postgresql://db/app?user=x&password=***"
        );
        assert_eq!(
            redact_url("host=db password=hunter2 user=x"),
            "host=db password=*** user=x"
        );
        assert_eq!(redact_url("postgres://bob@db/app"), "postgres://bob@db/app");
        assert_eq!(
            redact_url("postgres://app:s3cr?t/x@db/app"),
            "postgres://app:***@db/app"
        );
        assert_eq!(
            redact_url("host=db password='a b\\'c' user=x"),
            "host=db password=*** user=x"
        );
        assert_eq!(
            redact_url("host=db password = hunter2"),
            "host=db password=***"
        );
        assert_eq!(
            redact_url("host=db password='unterminated"),
            "[connection string not shown]"
        );
    }

    #[test]
    fn url_overrides_env_and_extracts_sslmode() {
        let env = env_of(&[
            ("PGHOST", "envhost"),
            ("PGUSER", "envuser"),
            ("PGSSLMODE", "disable"),
            ("PGPASSWORD", "pw"),
        ]);
        let info = ConnInfo::resolve(
            Some("postgres://alice@urlhost:6543/app?sslmode=verify-full"),
            &env,
        )
        .unwrap();
        assert_eq!(info.redacted(), "alice@urlhost:6543/app");
        assert_eq!(info.ssl_mode, SslMode::VerifyFull);
        assert!(!format!("{info:?}").contains("pw"));
        let info = ConnInfo::resolve(None, &env).unwrap();
        assert_eq!(info.redacted(), "envuser@envhost:5432/envuser");
        let pairs = [("PGHOSTADDR", "10.1.2.3"), ("PGUSER", "u")];
        let by_addr = ConnInfo::resolve(None, &env_of(&pairs)).unwrap();
        assert_eq!(by_addr.redacted(), "u@10.1.2.3:5432/u");
        assert_eq!(by_addr.config.get_hostaddrs().len(), 1);
        let pairs = [("PGSERVICE", "prod")];
        assert!(ConnInfo::resolve(None, &env_of(&pairs)).is_err());
        assert_eq!(info.ssl_mode, SslMode::Disable);
    }

    #[test]
    fn pgpass_rules() {
        let dir = std::env::temp_dir().join(format!("strata-pgpass-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pgpass");
        std::fs::write(
            &file,
            "# comment\nother:*:*:*:nope\ndb:5432:app:bob:pa\\:ss\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let f = file.display().to_string();
        let pairs = [("PGPASSFILE", f.as_str())];
        let env = env_of(&pairs);
        let info = ConnInfo::resolve(Some("postgres://bob@db/app"), &env).unwrap();
        assert_eq!(info.config.get_password(), Some(&b"pa:ss"[..]));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let info = ConnInfo::resolve(Some("postgres://bob@db/app"), &env).unwrap();
        assert_eq!(info.config.get_password(), None);
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn none(_: &str) -> Option<String> {
        None
    }

    fn config_message(input: &str) -> String {
        match ConnInfo::resolve(Some(input), &none) {
            Err(ConnectError::Config { message }) => message,
            Err(other) => panic!("{input}: unexpected {other}"),
            Ok(info) => panic!("{input}: accepted as {}", info.redacted()),
        }
    }

    /// The input that used to panic inside the hand-written decoder (slicing into `é`), with
    /// the password in the panic message.
    #[test]
    fn invalid_percent_encoding_is_an_error_without_the_password() {
        let url = "postgres://u:S3cret%2é@127.0.0.1:1/db";
        let message = config_message(url);
        assert!(
            message.contains("the password has an invalid percent-encoding"),
            "{message}"
        );
        assert!(
            message.contains("--database-url / DATABASE_URL"),
            "{message}"
        );
        assert!(
            !message.contains("S3cret") && !message.contains("127.0.0.1"),
            "{message}"
        );
        assert_eq!(redact_url(url), "postgres://u:***@127.0.0.1:1/db");
        assert!(secrets_in(url).contains(&"S3cret%2é".to_owned()));
        for input in [
            "postgres://u:S3cret%é",
            "postgres://u:%@h",
            "%2é",
            "password=%2é",
        ] {
            let _ = ConnInfo::resolve(Some(input), &none);
            assert!(!redact_url(input).contains("S3cret"));
        }
    }

    #[test]
    fn multiple_hosts_and_ports() {
        let info = ConnInfo::resolve(Some("postgres://u@a:5433,b,c:5435/app"), &none).unwrap();
        let hosts: Vec<_> = info.config.get_hosts().to_vec();
        assert_eq!(
            hosts,
            vec![
                Host::Tcp("a".into()),
                Host::Tcp("b".into()),
                Host::Tcp("c".into())
            ]
        );
        assert_eq!(info.config.get_ports(), &[5433, 5432, 5435]);
        assert_eq!(info.redacted(), "u@a:5433/app");
        let info = ConnInfo::resolve(Some("host=a,b port=6000 user=u"), &none).unwrap();
        assert_eq!(info.config.get_hosts().len(), 2);
        assert_eq!(info.config.get_ports(), &[6000]);
        let message = config_message("host=a,b,c port=1,2 user=u");
        assert!(message.contains("3 host(s) but 2 ports"), "{message}");
        let env = env_of(&[("PGPORT", "7000")]);
        let info = ConnInfo::resolve(Some("postgres://u@a,b/app"), &env).unwrap();
        assert_eq!(info.config.get_ports(), &[7000]);
    }

    #[test]
    fn ipv6_hosts() {
        let info = ConnInfo::resolve(Some("postgres://u@[::1]:6543/app"), &none).unwrap();
        assert_eq!(info.config.get_hosts(), &[Host::Tcp("::1".into())]);
        assert_eq!(info.config.get_ports(), &[6543]);
        assert_eq!(info.redacted(), "u@[::1]:6543/app");
        let info = ConnInfo::resolve(Some("postgres://u@[2001:db8::7]/app"), &none).unwrap();
        assert_eq!(info.config.get_ports(), &[5432]);
        let info = ConnInfo::resolve(Some("postgres://u@/app?hostaddr=::1"), &none).unwrap();
        assert!(info.config.get_hosts().is_empty());
        assert_eq!(info.redacted(), "u@[::1]:5432/app");
    }

    #[test]
    fn unix_socket_hosts() {
        let info =
            ConnInfo::resolve(Some("postgresql://u@%2Fvar%2Frun%2Fpostgresql/app"), &none).unwrap();
        assert_eq!(
            info.config.get_hosts(),
            &[Host::Unix("/var/run/postgresql".into())]
        );
        let info = ConnInfo::resolve(Some("postgres:///app?host=/tmp&port=5433"), &none).unwrap();
        assert_eq!(info.config.get_hosts(), &[Host::Unix("/tmp".into())]);
        assert_eq!(info.config.get_ports(), &[5433]);
        assert_eq!(info.database(), "app");
        // A query parameter overrides the host part, as in libpq.
        let info = ConnInfo::resolve(Some("postgres://elsewhere/app?host=%2Ftmp"), &none).unwrap();
        assert_eq!(info.config.get_hosts(), &[Host::Unix("/tmp".into())]);
    }

    #[test]
    fn key_value_strings_with_quotes() {
        let info = ConnInfo::resolve(
            Some("host=db user=bob password='it''s' dbname='my app' application_name = 'x\\'y' sslmode=verify-ca sslrootcert='/etc/ca dir/root.crt'"),
            &none,
        );
        // `'it''s'` is not SQL quoting here: the first quoted value ends at the second quote.
        assert!(info.is_err());
        let info = ConnInfo::resolve(
            Some("host=db user=bob password='it\\'s a secret' dbname='my app' application_name = 'x\\'y' sslmode=verify-ca sslrootcert='/etc/ca dir/root.crt'"),
            &none,
        )
        .unwrap();
        assert_eq!(info.config.get_password(), Some(&b"it's a secret"[..]));
        assert_eq!(info.database(), "my app");
        assert_eq!(info.config.get_application_name(), Some("x'y"));
        assert_eq!(info.ssl_mode, SslMode::VerifyCa);
        assert_eq!(info.ssl_root_cert.as_deref(), Some("/etc/ca dir/root.crt"));
    }

    #[test]
    fn unknown_and_unsupported_parameters() {
        let message = config_message("postgres://u:S3cret@h/db?sslmod=require");
        assert!(
            message.contains("unknown connection parameter `sslmod`"),
            "{message}"
        );
        assert!(!message.contains("S3cret"), "{message}");
        let message = config_message("host=h password=S3cret sslcert=/x");
        assert!(
            message.contains("`sslcert` is a libpq parameter strata does not support"),
            "{message}"
        );
        let message = config_message("postgres://h/db?target_session_attrs=primary");
        assert!(
            message.contains("`primary`; use any, read-write or read-only"),
            "{message}"
        );
        let message = config_message("postgres://h/db?sslmode=verify-everything");
        assert!(
            message.contains("sslmode is `verify-everything`"),
            "{message}"
        );
        // Accepted as libpq does: sslmode values strata implements, aliases, harmless settings.
        for ok in [
            "postgres://h/db?sslmode=verify-full&sslrootcert=system",
            "postgres://h/db?ssl=true",
            "postgres://h/db?gssencmode=disable&client_encoding=UTF8&connect_timeout=3",
            "postgres://h/db?target_session_attrs=read-write&keepalives=1&keepalives_idle=30",
            "postgres://h/db?fallback_application_name=tool&channel_binding=prefer",
        ] {
            ConnInfo::resolve(Some(ok), &none).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        let info = ConnInfo::resolve(Some("postgres://h/db?ssl=true"), &none).unwrap();
        assert_eq!(info.ssl_mode, SslMode::Require);
        let info = ConnInfo::resolve(Some("postgres://h/db?connect_timeout=3"), &none).unwrap();
        assert_eq!(
            info.config.get_connect_timeout(),
            Some(&Duration::from_secs(3))
        );
    }

    #[test]
    fn bad_ports() {
        for (input, expected) in [
            (
                "postgres://u:S3cret@h:54x2/db",
                "the port of host 1 in the host list",
            ),
            (
                "postgres://u:S3cret@h:0/db",
                "the port of host 1 in the host list",
            ),
            (
                "postgres://u:S3cret@h:99999/db",
                "the port of host 1 in the host list",
            ),
            // No `@`: `user:password` reads as `host:port`, and the password must not show.
            (
                "postgres://u:S3cret/db",
                "the port of host 1 in the host list",
            ),
            (
                "postgres://h/db?port=S3cret",
                "parameter `port` is not a port number",
            ),
            (
                "host=h port=-1 password=S3cret",
                "parameter `port` is not a port number",
            ),
        ] {
            let message = config_message(input);
            assert!(message.contains(expected), "{input}: {message}");
            assert!(!message.contains("S3cret"), "{input}: {message}");
        }
        let env = env_of(&[("PGPORT", "fifty")]);
        assert!(ConnInfo::resolve(None, &env).is_err());
    }

    #[test]
    fn empty_password_is_no_password() {
        let env = env_of(&[("PGPASSWORD", "from-env")]);
        let info = ConnInfo::resolve(Some("postgres://u:@h/db"), &env).unwrap();
        assert_eq!(info.password(), Some(&b"from-env"[..]));
        let info = ConnInfo::resolve(Some("host=h password='' user=u"), &none).unwrap();
        assert_eq!(info.password(), None);
        assert_eq!(redact_url("postgres://u:@h/db"), "postgres://u:***@h/db");
        assert!(secrets_in("postgres://u:@h/db").is_empty());
    }

    #[test]
    fn at_sign_inside_the_password() {
        for url in ["postgres://u:p@ss@h/db", "postgres://u:p%40ss@h/db"] {
            let info = ConnInfo::resolve(Some(url), &none).unwrap();
            assert_eq!(info.password(), Some(&b"p@ss"[..]), "{url}");
            assert_eq!(info.redacted(), "u@h:5432/db");
            assert_eq!(redact_url(url), "postgres://u:***@h/db");
            assert!(secrets_in(url).contains(&"p@ss".to_owned()), "{url}");
        }
        // A query string with an `@` does not move the end of the user information.
        let url = "postgres://u:pw12@h/db?application_name=me@work";
        let info = ConnInfo::resolve(Some(url), &none).unwrap();
        assert_eq!(info.config.get_application_name(), Some("me@work"));
        assert_eq!(
            redact_url(url),
            "postgres://u:***@h/db?application_name=me@work"
        );
    }

    #[test]
    fn redaction_masks_every_occurrence_of_the_password() {
        assert_eq!(
            redact_url("postgres://app:app@db/app"),
            "postgres://***:***@db/***"
        );
        // Percent-encoded key, password elsewhere in the string.
        let url = "postgres://db/x?pass%77ord=hunter2&application_name=hunter2";
        assert_eq!(
            ConnInfo::resolve(Some(url), &none).unwrap().password(),
            Some(&b"hunter2"[..])
        );
        let shown = redact_url(url);
        assert!(!shown.contains("hunter2"), "{shown}");
        // A password made of the mask character gets another mask.
        let shown = redact_url("postgres://u:***x@h/db?application_name=***x");
        assert!(!shown.contains("***x"), "{shown}");
        // Unterminated quotes: the scrubber still finds the value.
        assert!(secrets_in("host=db password='unterminated").contains(&"unterminated".to_owned()));
    }
}
