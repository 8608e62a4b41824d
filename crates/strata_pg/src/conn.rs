//! Where to connect, resolved the way libpq users expect.
//!
//! Teams already have `DATABASE_URL` or `PG*` variables and a `~/.pgpass`; strata honours them
//! with libpq's precedence (explicit URL over environment over defaults) and adds the TLS modes
//! tokio-postgres lacks (`verify-ca`, `verify-full`) through rustls. Nothing here ever renders a
//! password: [`ConnInfo::redacted`] and [`redact_url`] are the only printable forms.

use std::path::{Path, PathBuf};
use std::str::FromStr;
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
                    message: format!("unknown sslmode `{other}`; use disable, prefer, require, verify-ca or verify-full"),
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
/// whole: a half-redacted secret is still a leak.
pub fn redact_url(url: &str) -> String {
    if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        // The password may itself contain `/`, `?` or `:`; the user info ends at the last `@`
        // before the path, and an unencoded `@` in a password makes the last `@` the real one.
        let (userinfo, after) = match rest.rfind('@') {
            Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
            None => (None, rest),
        };
        let masked_user = userinfo.map(|u| match u.split_once(':') {
            Some((user, _)) => format!("{user}:***@"),
            None => format!("{u}@"),
        });
        let tail = match after.split_once('?') {
            Some((path, query)) => {
                let query: Vec<String> = query
                    .split('&')
                    .map(|kv| {
                        if kv.to_ascii_lowercase().starts_with("password=") {
                            "password=***".to_owned()
                        } else {
                            kv.to_owned()
                        }
                    })
                    .collect();
                format!("{path}?{}", query.join("&"))
            }
            None => after.to_owned(),
        };
        format!(
            "{}://{}{tail}",
            &url[..scheme_end],
            masked_user.unwrap_or_default()
        )
    } else {
        match split_key_values(url) {
            Some(pairs) => pairs
                .into_iter()
                .map(|(k, v)| {
                    if k.eq_ignore_ascii_case("password") {
                        format!("{k}=***")
                    } else {
                        format!("{k}={v}")
                    }
                })
                .collect::<Vec<_>>()
                .join(" "),
            None => "[connection string not shown]".into(),
        }
    }
}

/// The secrets a connection string carries (its password, raw and percent-decoded), so a
/// caller can scrub them from any text as a last line of defence.
pub fn secrets_in(url: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        if let Some(at) = rest.rfind('@') {
            if let Some((_, pw)) = rest[..at].split_once(':') {
                out.push(pw.to_owned());
                out.push(percent_decode(pw));
            }
        }
        if let Some((_, query)) = rest.split_once('?') {
            for kv in query.split('&') {
                if let Some((k, v)) = kv.split_once('=') {
                    if k.eq_ignore_ascii_case("password") {
                        out.push(v.to_owned());
                        out.push(percent_decode(v));
                    }
                }
            }
        }
    } else if let Some(pairs) = split_key_values(url) {
        for (k, v) in pairs {
            if k.eq_ignore_ascii_case("password") {
                out.push(v.trim_matches('\'').to_owned());
            }
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// Splits a libpq `key=value` string (values optionally single-quoted with `\\` and `\'`
/// escapes, spaces allowed around `=`). `None` when it is malformed.
fn split_key_values(s: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Some(out);
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') || key.is_empty() {
            return None;
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next()? {
                    '\\' => value.push(chars.next()?),
                    '\'' => break,
                    c => value.push(c),
                }
            }
            value = format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"));
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.push((key, value));
    }
}

/// Looks up environment variables; injectable for tests.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

impl ConnInfo {
    /// Resolves a target from an optional URL (or key=value string) and libpq variables.
    pub fn resolve(url: Option<&str>, env: EnvLookup<'_>) -> Result<ConnInfo, ConnectError> {
        let mut ssl_mode = env("PGSSLMODE");
        let mut ssl_root_cert = env("PGSSLROOTCERT");
        let mut config = match url {
            Some(url) => {
                let (cleaned, extracted) = extract_params(url, &["sslmode", "sslrootcert"]);
                for (k, v) in extracted {
                    match k.as_str() {
                        "sslmode" => ssl_mode = Some(v),
                        _ => ssl_root_cert = Some(v),
                    }
                }
                tokio_postgres::Config::from_str(&cleaned).map_err(|e| ConnectError::Config {
                    message: format!("{e} in the database URL (not shown: it may hold a password); check --database-url / DATABASE_URL"),
                })?
            }
            None => tokio_postgres::Config::new(),
        };
        if env("PGSERVICE").is_some() {
            return Err(ConnectError::Config {
                message: "PGSERVICE (pg_service.conf) is not supported; set DATABASE_URL, or PGHOST/PGPORT/PGDATABASE, instead".into(),
            });
        }
        let hostaddr = env("PGHOSTADDR");
        if config.get_hosts().is_empty() {
            // PGHOSTADDR alone names the server by address, as in libpq.
            let hosts = env("PGHOST")
                .or_else(|| hostaddr.clone())
                .unwrap_or_else(default_host);
            for h in hosts.split(',') {
                if h.starts_with('/') {
                    config.host_path(h);
                } else {
                    config.host(h);
                }
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
            let port = port.parse::<u16>().map_err(|_| ConnectError::Config {
                message: format!("PGPORT `{port}` is not a port number"),
            })?;
            config.port(port);
        }
        if config.get_user().is_none() {
            let user = env("PGUSER").unwrap_or_else(crate::who::os_user);
            config.user(&user);
        }
        if config.get_dbname().is_none() {
            let db = env("PGDATABASE")
                .unwrap_or_else(|| config.get_user().unwrap_or("postgres").to_owned());
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
        if config.get_password().is_none() {
            if let Some(pw) = env("PGPASSWORD") {
                config.password(pw);
            } else if let Some(pw) = pgpass_lookup(&config, env) {
                config.password(pw);
            }
        }
        let ssl_mode = SslMode::parse(ssl_mode.as_deref().unwrap_or("prefer"))?;
        Ok(ConnInfo {
            config,
            ssl_mode,
            ssl_root_cert,
        })
    }

    /// `user@host:port/database`, never with a password.
    pub fn redacted(&self) -> String {
        let host = match self.config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            Some(Host::Unix(p)) => p.display().to_string(),
            None => "?".into(),
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
}

fn default_host() -> String {
    ["/var/run/postgresql", "/tmp"]
        .into_iter()
        .find(|d| Path::new(d).exists())
        .unwrap_or("localhost")
        .to_owned()
}

/// Splits named query parameters out of a URL (or key=value string) so that tokio-postgres,
/// which rejects `sslmode=verify-full`, only sees what it understands.
fn extract_params(url: &str, names: &[&str]) -> (String, Vec<(String, String)>) {
    let mut found = Vec::new();
    if url.contains("://") {
        let Some((base, query)) = url.split_once('?') else {
            return (url.to_owned(), found);
        };
        let mut kept = Vec::new();
        for kv in query.split('&') {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            if names.contains(&k) {
                found.push((k.to_owned(), percent_decode(v)));
            } else {
                kept.push(kv);
            }
        }
        let cleaned = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        (cleaned, found)
    } else {
        let mut kept = Vec::new();
        for kv in url.split_whitespace() {
            match kv.split_once('=') {
                Some((k, v)) if names.contains(&k) => {
                    found.push((k.to_owned(), v.trim_matches('\'').to_owned()))
                }
                _ => kept.push(kv),
            }
        }
        (kept.join(" "), found)
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `~/.pgpass` (or `PGPASSFILE`) lookup with libpq's matching rules: `*` matches anything,
/// `localhost` matches a unix socket, `\:` and `\\` are escapes; files readable by group or
/// others are ignored, as libpq does.
fn pgpass_lookup(config: &tokio_postgres::Config, env: EnvLookup<'_>) -> Option<String> {
    let path = env("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| Path::new(&h).join(".pgpass")))?;
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(&path).ok()?;
        if meta.permissions().mode() & 0o077 != 0 {
            return None;
        }
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let host = match config.get_hosts().first()? {
        Host::Tcp(h) => h.clone(),
        Host::Unix(_) => "localhost".into(),
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
}
