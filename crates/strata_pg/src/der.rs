//! Just enough DER to read two fields of an X.509 certificate: its version and its public key.
//!
//! `prefer` and `require` do not verify the server's certificate, yet rustls hands the
//! handshake signature to the certificate verifier, and rustls's helpers for checking it parse
//! the whole certificate with webpki, which refuses X.509 version 1 certificates (some tools,
//! Citus among them, still generate those). Reading the SubjectPublicKeyInfo directly lets
//! strata check the signature whatever the certificate's version, and lets the verifying modes
//! say plainly that a version 1 certificate is why verification failed.
//!
//! Everything here returns `None` on anything unexpected; it never indexes past its input.

const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const SEQUENCE: u8 = 0x30;
/// `[0] EXPLICIT`, the tag of TBSCertificate's optional version field.
const VERSION: u8 = 0xa0;

/// Splits one tag-length-value off `input`: the tag, the contents and what follows.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    // Multi-byte tags never occur in the part of a certificate read here.
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        // 0x80 would be BER's indefinite length, which DER forbids; certificates do not need
        // more than 4 length bytes.
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let (bytes, rest) = rest.split_at(n);
        let len = bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, rest)
    };
    if rest.len() < len {
        return None;
    }
    let (contents, after) = rest.split_at(len);
    Some((tag, contents, after))
}

/// The two fields strata reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Certificate<'a> {
    /// The version field as encoded: 0 for version 1 (also when the field is absent), 2 for
    /// version 3.
    pub(crate) version: u8,
    /// The whole SubjectPublicKeyInfo, tag and length included.
    pub(crate) spki: &'a [u8],
}

/// Reads `Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL,
/// serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, ... }, ... }`.
pub(crate) fn certificate(der: &[u8]) -> Option<Certificate<'_>> {
    let (tag, certificate, _) = tlv(der)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, tbs, _) = tlv(certificate)?;
    if tag != SEQUENCE {
        return None;
    }
    let mut rest = tbs;
    let mut version = 0;
    let (tag, contents, after) = tlv(rest)?;
    if tag == VERSION {
        let (tag, value, _) = tlv(contents)?;
        match value {
            [v] if tag == INTEGER => version = *v,
            _ => return None,
        }
        rest = after;
    }
    // serialNumber, signature (AlgorithmIdentifier), issuer, validity, subject.
    for expected in [INTEGER, SEQUENCE, SEQUENCE, SEQUENCE, SEQUENCE] {
        let (tag, _, after) = tlv(rest)?;
        if tag != expected {
            return None;
        }
        rest = after;
    }
    let (tag, _, after) = tlv(rest)?;
    if tag != SEQUENCE {
        return None;
    }
    Some(Certificate {
        version,
        spki: &rest[..rest.len() - after.len()],
    })
}

/// Splits `SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey
/// BIT STRING }` into the contents of the algorithm identifier (the form
/// `SignatureVerificationAlgorithm::public_key_alg_id` uses) and the key bytes.
pub(crate) fn split_spki(spki: &[u8]) -> Option<(&[u8], &[u8])> {
    let (tag, contents, _) = tlv(spki)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, algorithm, rest) = tlv(contents)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, bits, _) = tlv(rest)?;
    if tag != BIT_STRING {
        return None;
    }
    match bits.split_first()? {
        // Keys are whole bytes: a non-zero count of unused bits is not a key.
        (0, key) => Some((algorithm, key)),
        _ => None,
    }
}

/// DER builders for tests, here and in the TLS module.
#[cfg(test)]
pub(crate) mod testing {
    /// One TLV with a definite length.
    pub(crate) fn node(tag: u8, contents: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = contents.len();
        if len < 0x80 {
            out.push(len as u8);
        } else if len < 0x100 {
            out.extend([0x81, len as u8]);
        } else {
            out.extend([0x82, (len >> 8) as u8, len as u8]);
        }
        out.extend_from_slice(contents);
        out
    }

    /// A SEQUENCE of already encoded parts.
    pub(crate) fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
        node(super::SEQUENCE, &parts.concat())
    }

    /// A certificate with the given version field (absent for `None`) and public key; its
    /// signature is not a real one.
    pub(crate) fn certificate(version: Option<u8>, spki: &[u8]) -> Vec<u8> {
        let sha256_rsa = seq(&[node(
            0x06,
            &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b],
        )]);
        let name = seq(&[node(
            0x31,
            &seq(&[node(0x06, &[0x55, 0x04, 0x03]), node(0x0c, b"x")]),
        )]);
        let validity = seq(&[node(0x17, b"250101000000Z"), node(0x17, b"350101000000Z")]);
        let mut tbs = Vec::new();
        if let Some(v) = version {
            tbs.push(node(super::VERSION, &node(super::INTEGER, &[v])));
        }
        tbs.extend([
            node(super::INTEGER, &[0x01, 0x02]),
            sha256_rsa.clone(),
            name.clone(),
            validity,
            name,
            spki.to_vec(),
        ]);
        if version == Some(2) {
            tbs.push(node(0xa3, &seq(&[])));
        }
        seq(&[
            seq(&tbs),
            sha256_rsa,
            node(super::BIT_STRING, &[0, 1, 2, 3]),
        ])
    }

    /// A version 1 certificate (no version field), as `openssl x509 -req` makes them.
    pub(crate) fn v1_certificate(spki: &[u8]) -> Vec<u8> {
        certificate(None, spki)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{node, seq};
    use super::*;

    /// rsaEncryption with NULL parameters, as in every RSA certificate.
    fn rsa_alg() -> Vec<u8> {
        seq(&[
            node(
                0x06,
                &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01],
            ),
            node(0x05, &[]),
        ])
    }

    fn spki(key: &[u8]) -> Vec<u8> {
        let mut bits = vec![0];
        bits.extend_from_slice(key);
        seq(&[rsa_alg(), node(BIT_STRING, &bits)])
    }

    fn cert(version: Option<u8>, key: &[u8]) -> Vec<u8> {
        super::testing::certificate(version, &spki(key))
    }

    #[test]
    fn reads_version_and_key_of_v1_and_v3() {
        let key = vec![7u8; 300];
        for (version, expected) in [(None, 0), (Some(0), 0), (Some(2), 2)] {
            let der = cert(version, &key);
            let c = certificate(&der).expect("parses");
            assert_eq!(c.version, expected);
            assert_eq!(c.spki, spki(&key).as_slice());
            let (alg, k) = split_spki(c.spki).unwrap();
            assert_eq!(alg, &rsa_alg()[2..]);
            assert_eq!(k, key.as_slice());
        }
    }

    #[test]
    fn malformed_input_is_none_not_a_panic() {
        let der = cert(Some(2), &[1, 2, 3]);
        for end in 0..der.len() {
            assert_eq!(certificate(&der[..end]), None, "prefix of {end} bytes");
        }
        let mut flipped = der.clone();
        for i in 0..der.len() {
            for bit in 0..8 {
                flipped[i] ^= 1 << bit;
                let _ = certificate(&flipped).map(|c| split_spki(c.spki));
                flipped[i] ^= 1 << bit;
            }
        }
        assert_eq!(tlv(&[0x30, 0x80, 0x00, 0x00]), None, "indefinite length");
        assert_eq!(tlv(&[0x30, 0x85, 1, 1, 1, 1, 1]), None, "five length bytes");
        assert_eq!(tlv(&[0x1f, 0x01, 0x00]), None, "multi-byte tag");
        assert_eq!(
            split_spki(&seq(&[rsa_alg(), node(BIT_STRING, &[1, 0xff])])),
            None
        );
    }
}
