//! TLS end to end: a throwaway cluster listening on 127.0.0.1 with a certificate signed by a
//! test CA. `verify-full` must work with the right host name and refuse the wrong one,
//! `verify-ca` must accept the chain whatever the name, and `require` must encrypt without
//! verifying. As in libpq, `prefer` and `require` accept an X.509 version 1 certificate, and
//! `prefer` connects without TLS when the handshake fails. The certificates are made with the
//! `openssl` command.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use strata_ephemeral::{ClusterOptions, TempCluster};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the openssl command is needed for the TLS tests");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// CA and a server certificate for `localhost` only (no IP address in it).
fn make_certs(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=strata test CA",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
    readable_by_the_server(dir);
}

/// PostgreSQL insists on a private key readable by its owner only, and runs as `postgres` when
/// the tests run as root.
fn readable_by_the_server(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dir.join("server.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    if is_root() {
        let ids = Command::new("id")
            .args(["-u", "postgres"])
            .output()
            .unwrap();
        let uid: u32 = String::from_utf8_lossy(&ids.stdout).trim().parse().unwrap();
        for f in ["server.key", "server.pem"] {
            std::os::unix::fs::chown(dir.join(f), Some(uid), None).unwrap();
        }
    }
}

/// A self-signed X.509 *version 1* certificate for `localhost`, as Citus generates them: a
/// request signed with its own key by `openssl x509 -req`, with no extensions (`openssl req
/// -x509` would make a version 3 one).
fn make_v1_cert(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-signkey",
            "server.key",
            "-out",
            "server.pem",
            "-days",
            "2",
        ],
    );
    let text = Command::new("openssl")
        .current_dir(dir)
        .args(["x509", "-noout", "-text", "-in", "server.pem"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("Version: 1 (0x0)") && !text.contains("X509v3"),
        "openssl did not make a version 1 certificate without extensions:\n{text}"
    );
    readable_by_the_server(dir);
}

/// A cluster on 127.0.0.1 serving `dir`'s `server.pem` and `server.key`, plus `settings`.
fn tls_cluster(dir: &Path, settings: &[(&str, &str)]) -> (TempCluster, u16) {
    let port = free_port();
    let path = |f: &str| dir.join(f).display().to_string();
    let mut extra_settings = vec![
        ("listen_addresses".into(), "127.0.0.1".into()),
        ("ssl".into(), "on".into()),
        ("ssl_cert_file".into(), path("server.pem")),
        ("ssl_key_file".into(), path("server.key")),
    ];
    extra_settings.extend(settings.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let cluster = TempCluster::start(ClusterOptions {
        extra_settings,
        port,
        ..ClusterOptions::default()
    })
    .expect("start a TLS cluster");
    (cluster, port)
}

/// A project whose one migration records whether its own session is encrypted, and how.
fn ssl_recording_project() -> tempfile::TempDir {
    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(project.path().join("migrations")).unwrap();
    std::fs::write(
        project.path().join("migrations/1_t.sql"),
        "CREATE TABLE t AS SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid();\n",
    )
    .unwrap();
    project
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn sslmodes_against_a_real_tls_server() {
    let certs = tempfile::tempdir().unwrap();
    make_certs(certs.path());
    let port = free_port();
    let path = |f: &str| certs.path().join(f).display().to_string();
    let cluster = TempCluster::start(ClusterOptions {
        extra_settings: vec![
            ("listen_addresses".into(), "127.0.0.1".into()),
            ("ssl".into(), "on".into()),
            ("ssl_cert_file".into(), path("server.pem")),
            ("ssl_key_file".into(), path("server.key")),
        ],
        port,
        ..ClusterOptions::default()
    })
    .expect("start a TLS cluster");
    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(project.path().join("migrations")).unwrap();
    // The migration records whether its own session is encrypted.
    std::fs::write(
        project.path().join("migrations/1_t.sql"),
        "CREATE TABLE t AS SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid();\n",
    )
    .unwrap();
    let ca = path("ca.pem");
    let url = |host: &str, mode: &str, root: Option<&str>| {
        let root = root
            .map(|r| format!("&sslrootcert={r}"))
            .unwrap_or_default();
        format!("postgres://postgres@{host}:{port}/postgres?sslmode={mode}{root}")
    };

    let ok = strata_raw(
        project.path(),
        &[
            "--database-url",
            &url("localhost", "verify-full", Some(&ca)),
            "up",
        ],
    );
    assert_eq!(
        ok.code, 0,
        "verify-full with the right name\n{}\n{}",
        ok.stdout, ok.stderr
    );
    let wrong_name = strata_raw(
        project.path(),
        &[
            "--database-url",
            &url("127.0.0.1", "verify-full", Some(&ca)),
            "status",
        ],
    );
    assert_eq!(
        wrong_name.code, 2,
        "verify-full must refuse a certificate for another name"
    );
    assert!(
        wrong_name.stderr.contains("cannot connect"),
        "{}",
        wrong_name.stderr
    );
    let chain_only = strata_raw(
        project.path(),
        &[
            "--database-url",
            &url("127.0.0.1", "verify-ca", Some(&ca)),
            "status",
        ],
    );
    assert_eq!(
        chain_only.code, 0,
        "verify-ca checks the chain only\n{}",
        chain_only.stderr
    );
    let other_ca = tempfile::tempdir().unwrap();
    openssl(
        other_ca.path(),
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=someone else",
        ],
    );
    let untrusted = strata_raw(
        project.path(),
        &[
            "--database-url",
            &url(
                "localhost",
                "verify-ca",
                Some(&other_ca.path().join("ca.pem").display().to_string()),
            ),
            "status",
        ],
    );
    assert_eq!(
        untrusted.code, 2,
        "a chain to an unknown CA must be refused"
    );
    let require = strata_raw(
        project.path(),
        &[
            "--database-url",
            &url("127.0.0.1", "require", None),
            "status",
        ],
    );
    assert_eq!(
        require.code, 0,
        "require encrypts without verifying\n{}",
        require.stderr
    );
    let missing_root = strata_raw(
        project.path(),
        &[
            "--database-url",
            &url("localhost", "verify-full", Some("/nonexistent/root.crt")),
            "status",
        ],
    );
    assert_eq!(missing_root.code, 2);
    assert!(
        missing_root.stderr.contains("root certificate"),
        "{}",
        missing_root.stderr
    );

    assert_eq!(
        cluster
            .psql("postgres", "SELECT ssl FROM t")
            .unwrap()
            .trim(),
        "t",
        "the migration's session was not encrypted"
    );
    drop(cluster);
}

/// libpq's `prefer` (the default) and `require` accept any certificate, X.509 version 1
/// included; the verifying modes refuse a version 1 certificate and say why.
#[test]
fn version_1_certificates_like_libpq() {
    let certs = tempfile::tempdir().unwrap();
    make_v1_cert(certs.path());
    let (cluster, port) = tls_cluster(certs.path(), &[]);
    let project = ssl_recording_project();
    let url = format!("postgres://postgres@localhost:{port}/postgres");

    // The default sslmode: encrypted (the migration records it), not merely fallen back.
    let up = strata_raw(project.path(), &["--database-url", &url, "up"]);
    assert_eq!(up.code, 0, "default sslmode\n{}\n{}", up.stdout, up.stderr);
    assert_eq!(
        cluster
            .psql("postgres", "SELECT ssl FROM t")
            .unwrap()
            .trim(),
        "t",
        "the default sslmode did not encrypt"
    );
    for mode in ["prefer", "require"] {
        let run = strata_raw(
            project.path(),
            &["--database-url", &format!("{url}?sslmode={mode}"), "status"],
        );
        assert_eq!(
            run.code, 0,
            "sslmode={mode}\n{}\n{}",
            run.stdout, run.stderr
        );
    }
    let root = certs.path().join("server.pem").display().to_string();
    for mode in ["verify-full", "verify-ca"] {
        let refused = strata_raw(
            project.path(),
            &[
                "--database-url",
                &format!("{url}?sslmode={mode}&sslrootcert={root}"),
                "status",
            ],
        );
        assert_eq!(
            refused.code, 2,
            "sslmode={mode} must refuse a v1 certificate"
        );
        assert!(
            refused.stderr.contains("X.509 version 1 certificate")
                && refused.stderr.contains("sslmode=require"),
            "{}",
            refused.stderr
        );
    }
    drop(cluster);

    // TLS 1.2 checks the handshake signature by another path (rustls has no TLS 1.2 helper
    // that takes a bare public key).
    let (cluster, port) = tls_cluster(certs.path(), &[("ssl_max_protocol_version", "TLSv1.2")]);
    let project = ssl_recording_project();
    let url = format!("postgres://postgres@localhost:{port}/postgres?sslmode=require");
    let up = strata_raw(project.path(), &["--database-url", &url, "up"]);
    assert_eq!(up.code, 0, "TLS 1.2\n{}\n{}", up.stdout, up.stderr);
    assert_eq!(
        cluster
            .psql("postgres", "SELECT ssl::text || ' ' || version FROM t")
            .unwrap()
            .trim(),
        "true TLSv1.2",
    );
    drop(cluster);
}

/// A server whose TLS cannot work with strata's (it offers only TLS 1.0 and 1.1, which rustls
/// does not speak): `prefer` connects without TLS, as libpq does, and `require` refuses.
#[test]
fn prefer_falls_back_to_plain_when_the_handshake_fails() {
    let certs = tempfile::tempdir().unwrap();
    make_certs(certs.path());
    let (cluster, port) = tls_cluster(
        certs.path(),
        &[
            ("ssl_min_protocol_version", "TLSv1"),
            ("ssl_max_protocol_version", "TLSv1.1"),
        ],
    );
    let project = ssl_recording_project();
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let require = strata_raw(
        project.path(),
        &[
            "--database-url",
            &format!("{url}?sslmode=require"),
            "status",
        ],
    );
    assert_eq!(
        require.code, 2,
        "require must not fall back\n{}",
        require.stderr
    );
    assert!(
        require.stderr.contains("cannot connect"),
        "{}",
        require.stderr
    );
    let up = strata_raw(project.path(), &["--database-url", &url, "up"]);
    assert_eq!(up.code, 0, "prefer\n{}\n{}", up.stdout, up.stderr);
    assert_eq!(
        cluster
            .psql("postgres", "SELECT ssl FROM t")
            .unwrap()
            .trim(),
        "f",
        "prefer should have connected without TLS"
    );
    drop(cluster);
}
