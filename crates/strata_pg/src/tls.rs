//! rustls set-up for libpq's `sslmode` semantics.
//!
//! `prefer` and `require` encrypt without verifying the certificate, as libpq does: any
//! certificate is accepted, X.509 version 1 included, and `prefer` falls back to an unencrypted
//! connection when the handshake fails (the session decides that from this module's
//! [`Report`]). `verify-ca` checks the chain but not the host name; `verify-full` checks both.
//! Roots come from `sslrootcert` / `PGSSLROOTCERT`, `~/.postgresql/root.crt`, or the system
//! store with `sslrootcert=system`.

use crate::conn::{ConnectError, SslMode};
use crate::der;
use futures_util::future::BoxFuture;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, SubjectPublicKeyInfoDer, UnixTime};
use rustls::{
    CertificateError, DigitallySignedStruct, PeerMisbehaved, RootCertStore, SignatureScheme,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_err(message: impl Into<String>) -> ConnectError {
    ConnectError::Tls {
        message: message.into(),
    }
}

fn roots(root_cert: Option<&str>) -> Result<RootCertStore, ConnectError> {
    let mut store = RootCertStore::empty();
    if root_cert == Some("system") {
        let found = rustls_native_certs::load_native_certs();
        for cert in found.certs {
            let _ = store.add(cert);
        }
        if store.is_empty() {
            return Err(tls_err("sslrootcert=system but no system root certificates were found; install ca-certificates or name a file"));
        }
        return Ok(store);
    }
    let path = match root_cert {
        Some(p) => std::path::PathBuf::from(p),
        None => std::env::var("HOME").map(|h| std::path::Path::new(&h).join(".postgresql/root.crt")).map_err(|_| {
            tls_err("certificate verification needs a root certificate: set sslrootcert=<file> (or PGSSLROOTCERT), or sslrootcert=system")
        })?,
    };
    let certs = CertificateDer::pem_file_iter(&path)
        .map_err(|e| tls_err(format!("cannot read root certificate {}: {e}; set sslrootcert (or PGSSLROOTCERT) to a PEM file", path.display())))?;
    for cert in certs {
        let cert =
            cert.map_err(|e| tls_err(format!("bad certificate in {}: {e}", path.display())))?;
        store
            .add(cert)
            .map_err(|e| tls_err(format!("unusable certificate in {}: {e}", path.display())))?;
    }
    Ok(store)
}

/// What a connection attempt learned about TLS, for the caller to decide what to do next.
#[derive(Debug, Default)]
pub(crate) struct Report {
    handshake_failed: AtomicBool,
    v1_certificate: AtomicBool,
}

impl Report {
    /// A TLS handshake was attempted and failed (the server agreed to TLS, then it did not
    /// work out): `prefer` then tries without TLS, as libpq does.
    pub(crate) fn handshake_failed(&self) -> bool {
        self.handshake_failed.load(Ordering::SeqCst)
    }

    /// A verifying mode refused an X.509 version 1 certificate.
    pub(crate) fn v1_certificate(&self) -> bool {
        self.v1_certificate.load(Ordering::SeqCst)
    }
}

/// The rustls connector for tokio-postgres, noting in a [`Report`] whether a handshake failed.
#[derive(Clone)]
pub(crate) struct Connector {
    inner: tokio_postgres_rustls::MakeRustlsConnect,
    report: Arc<Report>,
}

impl Connector {
    /// What the connection attempts made with this connector learned.
    pub(crate) fn report(&self) -> &Report {
        &self.report
    }
}

impl<S> MakeTlsConnect<S> for Connector
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = <tokio_postgres_rustls::MakeRustlsConnect as MakeTlsConnect<S>>::Stream;
    type TlsConnect =
        Watched<<tokio_postgres_rustls::MakeRustlsConnect as MakeTlsConnect<S>>::TlsConnect>;
    type Error = <tokio_postgres_rustls::MakeRustlsConnect as MakeTlsConnect<S>>::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<Self::TlsConnect, Self::Error> {
        Ok(Watched {
            inner: MakeTlsConnect::<S>::make_tls_connect(&mut self.inner, domain)?,
            report: self.report.clone(),
        })
    }
}

/// One handshake, watched.
pub(crate) struct Watched<T> {
    inner: T,
    report: Arc<Report>,
}

impl<S, T> TlsConnect<S> for Watched<T>
where
    T: TlsConnect<S>,
    T::Future: Send + 'static,
    T::Stream: Send + 'static,
    T::Error: Send + 'static,
{
    type Stream = T::Stream;
    type Error = T::Error;
    type Future = BoxFuture<'static, Result<T::Stream, T::Error>>;

    fn connect(self, stream: S) -> Self::Future {
        let handshake = self.inner.connect(stream);
        let report = self.report;
        Box::pin(async move {
            let result = handshake.await;
            if result.is_err() {
                report.handshake_failed.store(true, Ordering::SeqCst);
            }
            result
        })
    }
}

/// Builds the connector for a TLS-using mode.
pub(crate) fn make_connector(
    mode: SslMode,
    root_cert: Option<&str>,
) -> Result<Connector, ConnectError> {
    let provider = provider();
    let report = Arc::new(Report::default());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err(e.to_string()))?;
    let verifier: Arc<dyn ServerCertVerifier> = match mode {
        SslMode::VerifyFull | SslMode::VerifyCa => {
            let inner = WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots(root_cert)?),
                provider.clone(),
            )
            .build()
            .map_err(|e| tls_err(e.to_string()))?;
            Arc::new(Verifying {
                inner,
                check_name: mode == SslMode::VerifyFull,
                report: report.clone(),
            })
        }
        SslMode::Prefer | SslMode::Require | SslMode::Disable => Arc::new(Unverified { provider }),
    };
    let config = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Connector {
        inner: tokio_postgres_rustls::MakeRustlsConnect::new(config),
        report,
    })
}

/// `prefer` and `require`: encryption without authentication of the server, as libpq defines
/// them. Any certificate is accepted, whatever its version, issuer, dates or names.
///
/// The handshake signature is still checked against the certificate's public key when strata
/// can read that key, as OpenSSL (and so libpq) does; it catches a broken server, not an
/// impostor. When the key cannot be read, or no algorithm strata has fits the key and the
/// scheme, the signature is accepted unchecked: without a verified certificate, proving
/// possession of an unauthenticated key authenticates nothing, so refusing the connection
/// would protect nobody while breaking what libpq allows.
#[derive(Debug)]
struct Unverified {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        check_tls12_signature(
            message,
            cert.as_ref(),
            dss.scheme,
            dss.signature(),
            &self.provider.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        match der::certificate(cert.as_ref()) {
            Some(c) => rustls::crypto::verify_tls13_signature_with_raw_key(
                message,
                &SubjectPublicKeyInfoDer::from(c.spki),
                dss,
                &self.provider.signature_verification_algorithms,
            ),
            None => Ok(HandshakeSignatureValid::assertion()),
        }
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The TLS 1.2 handshake signature, checked against the key read from the certificate as
/// [`Unverified`] describes. rustls has no TLS 1.2 helper that takes a bare public key, so this
/// is its loop (try each algorithm the scheme maps to) restricted to the algorithms that fit
/// the key.
fn check_tls12_signature(
    message: &[u8],
    cert: &[u8],
    scheme: SignatureScheme,
    signature: &[u8],
    algorithms: &WebPkiSupportedAlgorithms,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    let candidates = algorithms
        .mapping
        .iter()
        .find(|(s, _)| *s == scheme)
        .map(|(_, algs)| *algs)
        .ok_or(PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme)?;
    let Some((key_algorithm, key)) = der::certificate(cert).and_then(|c| der::split_spki(c.spki))
    else {
        return Ok(HandshakeSignatureValid::assertion());
    };
    let mut fitting = candidates
        .iter()
        .filter(|alg| alg.public_key_alg_id().as_ref() == key_algorithm)
        .peekable();
    if fitting.peek().is_none() {
        return Ok(HandshakeSignatureValid::assertion());
    }
    if fitting.any(|alg| alg.verify_signature(key, message, signature).is_ok()) {
        Ok(HandshakeSignatureValid::assertion())
    } else {
        Err(rustls::Error::InvalidCertificate(
            CertificateError::BadSignature,
        ))
    }
}

/// `verify-full` (chain and host name) and `verify-ca` (chain only), with webpki. A certificate
/// it refuses for being X.509 version 1 is noted in the [`Report`], so the error can say so
/// instead of webpki's `UnsupportedCertVersion`.
#[derive(Debug)]
struct Verifying {
    inner: Arc<WebPkiServerVerifier>,
    check_name: bool,
    report: Arc<Report>,
}

impl ServerCertVerifier for Verifying {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let result =
            match self
                .inner
                .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
            {
                Err(rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                    | CertificateError::NotValidForNameContext { .. },
                )) if !self.check_name => Ok(ServerCertVerified::assertion()),
                other => other,
            };
        if result.is_err() && der::certificate(end_entity.as_ref()).is_some_and(|c| c.version < 2) {
            self.report.v1_certificate.store(true, Ordering::SeqCst);
        }
        result
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};

    /// A P-256 key and a version 1 certificate holding its public key (the certificate's own
    /// signature is junk: nothing here verifies it, as nothing does in `require`).
    fn key_and_v1_certificate() -> (EcdsaKeyPair, Vec<u8>) {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let ec_p256 = der::testing::seq(&[
            der::testing::node(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]),
            der::testing::node(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]),
        ]);
        let mut bits = vec![0];
        bits.extend_from_slice(key.public_key().as_ref());
        let spki = der::testing::seq(&[ec_p256, der::testing::node(0x03, &bits)]);
        let cert = der::testing::v1_certificate(&spki);
        assert_eq!(der::certificate(&cert).unwrap().version, 0);
        (key, cert)
    }

    #[test]
    fn tls12_signatures_are_checked_against_a_v1_certificate() {
        let algorithms = provider().signature_verification_algorithms;
        let (key, cert) = key_and_v1_certificate();
        let message = b"client random, server random, key exchange parameters";
        let signature = key.sign(&SystemRandom::new(), message).unwrap();
        let check = |message: &[u8], cert: &[u8], scheme| {
            check_tls12_signature(message, cert, scheme, signature.as_ref(), &algorithms)
        };
        assert!(check(message, &cert, SignatureScheme::ECDSA_NISTP256_SHA256).is_ok());
        assert!(matches!(
            check(
                b"something else",
                &cert,
                SignatureScheme::ECDSA_NISTP256_SHA256
            ),
            Err(rustls::Error::InvalidCertificate(
                CertificateError::BadSignature
            ))
        ));
        // Nothing fits an EC key under an RSA scheme, and an unreadable certificate has no key:
        // accepted unchecked, since the certificate authenticates nothing anyway.
        assert!(check(message, &cert, SignatureScheme::RSA_PKCS1_SHA256).is_ok());
        assert!(check(
            message,
            b"not a certificate",
            SignatureScheme::ECDSA_NISTP256_SHA256
        )
        .is_ok());
        // A scheme strata never offered is the peer misbehaving.
        assert!(matches!(
            check(message, &cert, SignatureScheme::Unknown(0xfefe)),
            Err(rustls::Error::PeerMisbehaved(_))
        ));
    }
}
