//! Certificates and signatures: the one place in motcua that makes keys and X.509
//! certificates, revocation lists and CMS signatures, and checks them.
//!
//! - Keys are RSA-2048; certificates, revocation lists and signatures use SHA-256 with RSA
//!   PKCS #1 v1.5 (`sha256WithRSAEncryption`).
//! - [`new_self_signed`] makes a key with a self-signed end-entity certificate (what an agency
//!   signing its results has today); [`new_ca`] makes a certificate authority and [`issue`]
//!   has it certify an agency; [`crl`] is its revocation list (RFC 5280, v2).
//! - [`sign_detached`] makes a detached CMS SignedData (RFC 5652, DER, a `.p7s`) that
//!   `openssl cms -verify` accepts; [`verify_detached`] checks one, made here or elsewhere.
//!   It checks the signature and the signer's certificate validity at signing time, not the
//!   chain nor revocation: the caller does, with [`issued_by`] and its own revocation list.
//!
//! Everything here is a pure function of its arguments (and the operating system's random
//! numbers): no database, no clock. Bytes from outside are bounded in size and never make it
//! panic.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Datelike, Utc};
use cms::builder::{SignedDataBuilder, SignerInfoBuilder};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::ContentInfo;
use cms::signed_data::{EncapsulatedContentInfo, SignedData, SignerIdentifier};
use rsa::pkcs1::RsaPssParams;
use rsa::pkcs1v15;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey};
use rsa::rand_core::{OsRng, RngCore};
use rsa::sha2::{Digest, Sha256};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPublicKey, pss};
use x509_cert::attr::{Attribute, AttributeTypeAndValue};
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::der::asn1::{
    Any, AnyRef, BitString, GeneralizedTime, ObjectIdentifier, OctetString, SetOfVec, Uint,
    UtcTime, Utf8StringRef,
};
use x509_cert::der::pem::LineEnding;
use x509_cert::der::{Decode, DecodePem, Encode, EncodePem, Reader, SliceReader, Tag, Tagged};
use x509_cert::ext::AsExtension;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, CrlNumber, CrlReason, SubjectKeyIdentifier,
};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier};
use x509_cert::time::{Time, Validity};

pub use rsa::RsaPrivateKey;
pub use x509_cert::Certificate;
pub use x509_cert::spki::SubjectPublicKeyInfoOwned;

/// The size of the RSA keys made here, in bits.
pub const KEY_BITS: usize = 2048;
/// The largest certificate taken (PEM or DER).
pub const MAX_CERTIFICATE_BYTES: usize = 64 * 1024;
/// The largest CMS signature taken (with the certificates it carries).
pub const MAX_SIGNATURE_BYTES: usize = 1024 * 1024;
/// The longest common or organisation name put in a certificate (RFC 5280's upper bound).
const MAX_NAME_CHARS: usize = 64;

const OID_CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const OID_O: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
const OID_C: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.6");
const OID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const OID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const OID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const OID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const OID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_SHA256_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const OID_RSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const OID_MGF1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.8");

/// What went wrong making or checking a certificate, revocation list or signature.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// An RSA key could not be made, read or written.
    #[error("RSA key: {0}")]
    Key(String),
    /// The private key is not the one the certificate certifies.
    #[error("the private key does not belong to the certificate")]
    KeyMismatch,
    /// A certificate could not be made, read or written.
    #[error("certificate: {0}")]
    Certificate(String),
    /// A name to put in a certificate is unusable.
    #[error("name: {0}")]
    Name(String),
    /// A moment or period that X.509 cannot express.
    #[error("time: {0}")]
    Time(String),
    /// A serial number that is not one.
    #[error("serial number {0:?}: not a positive hexadecimal number of at most 20 bytes")]
    Serial(String),
    /// A revocation reason that RFC 5280 does not define.
    #[error("revocation reason {0}: not a CRLReason (0 to 10, but not 7)")]
    Reason(u8),
    /// A certificate that is asked to act as an authority and is not one.
    #[error("certificate {0} is not a certificate authority")]
    NotCa(String),
    /// Input over its size limit.
    #[error("{what} of {len} bytes, more than the {limit} taken")]
    TooLarge {
        what: &'static str,
        len: usize,
        limit: usize,
    },
    /// An encoding error while writing.
    #[error("encoding: {0}")]
    Encoding(String),
    /// A signature that is not a well-formed detached CMS SignedData.
    #[error("malformed signature: {0}")]
    Malformed(String),
    /// An algorithm this module does not check.
    #[error("unsupported algorithm: {0}")]
    Unsupported(String),
    /// The signer's certificate is neither in the signature nor among those given.
    #[error("the signer's certificate is neither in the signature nor among those given")]
    SignerNotFound,
    /// The content is not the one signed.
    #[error("the content is not the one signed (its SHA-256 differs from the signed digest)")]
    DigestMismatch,
    /// The signature value does not verify with the signer's public key.
    #[error("the signature does not verify with the signer's certificate")]
    BadSignature,
    /// The signing time lies outside the signer's certificate validity.
    #[error(
        "signed at {signing_time}, outside the certificate's validity ({not_before} to {not_after})"
    )]
    SigningTimeOutsideValidity {
        signing_time: DateTime<Utc>,
        not_before: DateTime<Utc>,
        not_after: DateTime<Utc>,
    },
}

/// Results of this module.
pub type Result<T, E = PkiError> = std::result::Result<T, E>;

fn encoding(e: impl fmt::Display) -> PkiError {
    PkiError::Encoding(e.to_string())
}

fn malformed(e: impl fmt::Display) -> PkiError {
    PkiError::Malformed(e.to_string())
}

fn certificate_error(e: impl fmt::Display) -> PkiError {
    PkiError::Certificate(e.to_string())
}

fn check_size(what: &'static str, len: usize, limit: usize) -> Result<()> {
    if len > limit {
        return Err(PkiError::TooLarge { what, len, limit });
    }
    Ok(())
}

/// An RSA private key and the certificate of its public key.
#[derive(Clone)]
pub struct KeyPair {
    key: RsaPrivateKey,
    certificate: Certificate,
    /// The same key for ring's RSA, which signs four to five times faster (its arithmetic is
    /// in assembly) and gives the same PKCS #1 v1.5 signature, bit for bit; none when ring
    /// refuses the key (it takes 2048 to 4096 bits), and the pure-Rust one signs.
    fast: Option<Arc<ring::rsa::KeyPair>>,
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field(
                "subject",
                &self.certificate.tbs_certificate.subject.to_string(),
            )
            .field("serial", &self.serial_hex())
            .finish_non_exhaustive()
    }
}

impl KeyPair {
    /// A key and its certificate; refused when the certificate is for another key.
    pub fn new(key: RsaPrivateKey, certificate: Certificate) -> Result<KeyPair> {
        let spki = SubjectPublicKeyInfoOwned::from_key(key.to_public_key())
            .map_err(|e| PkiError::Key(e.to_string()))?;
        if spki != certificate.tbs_certificate.subject_public_key_info {
            return Err(PkiError::KeyMismatch);
        }
        Ok(KeyPair::assemble(key, certificate))
    }

    /// A key and its certificate, known to match.
    fn assemble(key: RsaPrivateKey, certificate: Certificate) -> KeyPair {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        let fast = key
            .to_pkcs1_der()
            .ok()
            .and_then(|der| ring::rsa::KeyPair::from_der(der.as_bytes()).ok())
            .map(Arc::new);
        KeyPair {
            key,
            certificate,
            fast,
        }
    }

    /// Reads a key (PKCS #8 or PKCS #1 PEM) and its certificate (PEM).
    pub fn from_pem(key_pem: &str, cert_pem: &str) -> Result<KeyPair> {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        check_size("key", key_pem.len(), MAX_CERTIFICATE_BYTES)?;
        let key = match RsaPrivateKey::from_pkcs8_pem(key_pem) {
            Ok(k) => k,
            Err(pkcs8) => RsaPrivateKey::from_pkcs1_pem(key_pem)
                .map_err(|_| PkiError::Key(format!("not a PKCS #8 or PKCS #1 RSA key: {pkcs8}")))?,
        };
        KeyPair::new(key, parse_certificate_pem(cert_pem)?)
    }

    /// The private key as PKCS #8 PEM.
    pub fn key_pem(&self) -> Result<String> {
        let pem = self
            .key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| PkiError::Key(e.to_string()))?;
        Ok(pem.to_string())
    }

    /// The certificate as PEM.
    pub fn certificate_pem(&self) -> Result<String> {
        certificate_pem(&self.certificate)
    }

    /// The certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The private key.
    pub fn key(&self) -> &RsaPrivateKey {
        &self.key
    }

    /// The certificate's serial number in lower-case hex.
    pub fn serial_hex(&self) -> String {
        serial_hex(&self.certificate)
    }
}

// ---------------------------------------------------------------------------------------------
// Names, times, serials

/// The first `n` characters of `s`.
fn cut(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn rdn(oid: ObjectIdentifier, value: &str, printable: bool) -> Result<RelativeDistinguishedName> {
    let name_error = |e: x509_cert::der::Error| PkiError::Name(e.to_string());
    let value = if printable {
        Any::new(Tag::PrintableString, value.as_bytes()).map_err(name_error)?
    } else {
        Any::from(Utf8StringRef::new(value).map_err(name_error)?)
    };
    let set = SetOfVec::try_from(vec![AttributeTypeAndValue { oid, value }]).map_err(name_error)?;
    Ok(RelativeDistinguishedName(set))
}

/// `C=VN, O=org, CN=cn`, each cut to 64 characters; no O when `org` is blank.
fn vn_name(cn: &str, org: &str) -> Result<Name> {
    let cn = cn.trim();
    if cn.is_empty() {
        return Err(PkiError::Name("the common name is empty".into()));
    }
    let mut rdns = vec![rdn(OID_C, "VN", true)?];
    if !org.trim().is_empty() {
        rdns.push(rdn(OID_O, &cut(org.trim(), MAX_NAME_CHARS), false)?);
    }
    rdns.push(rdn(OID_CN, &cut(cn, MAX_NAME_CHARS), false)?);
    Ok(RdnSequence(rdns))
}

/// `t` as an X.509 time: UTCTime through 2049, GeneralizedTime after (RFC 5280, 4.1.2.5).
fn x509_time(t: DateTime<Utc>) -> Result<Time> {
    let secs =
        u64::try_from(t.timestamp()).map_err(|_| PkiError::Time(format!("{t} is before 1970")))?;
    let d = Duration::from_secs(secs);
    let time_error = |e: x509_cert::der::Error| PkiError::Time(format!("{t}: {e}"));
    if t.year() < 2050 {
        Ok(Time::UtcTime(
            UtcTime::from_unix_duration(d).map_err(time_error)?,
        ))
    } else {
        Ok(Time::GeneralTime(
            GeneralizedTime::from_unix_duration(d).map_err(time_error)?,
        ))
    }
}

/// An X.509 time as a moment.
fn moment(t: &Time) -> Option<DateTime<Utc>> {
    let secs = i64::try_from(t.to_unix_duration().as_secs()).ok()?;
    DateTime::from_timestamp(secs, 0)
}

/// From an hour before `now`, for `years` years of 365 days, but not past `cap`.
fn validity(now: DateTime<Utc>, years: u64, cap: Option<DateTime<Utc>>) -> Result<Validity> {
    // An hour early, for relying parties whose clocks are a little behind.
    let start = now
        .checked_sub_signed(chrono::TimeDelta::hours(1))
        .ok_or_else(|| PkiError::Time(format!("{now} is out of range")))?;
    let days = years
        .checked_mul(365)
        .and_then(|d| i64::try_from(d).ok())
        .and_then(chrono::Duration::try_days)
        .ok_or_else(|| PkiError::Time(format!("{years} years is too long")))?;
    let mut end = start
        .checked_add_signed(days)
        .ok_or_else(|| PkiError::Time(format!("{years} years is too long")))?;
    if let Some(cap) = cap {
        end = end.min(cap);
    }
    if end <= start {
        return Err(PkiError::Time(format!(
            "the validity would end ({end}) before it starts ({start})"
        )));
    }
    Ok(Validity {
        not_before: x509_time(start)?,
        not_after: x509_time(end)?,
    })
}

/// A random positive serial of 16 bytes, its first byte in 0x40..=0x7f so its DER and its hex
/// are always 16 bytes and 32 digits.
fn random_serial() -> Result<SerialNumber> {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::new(&bytes).map_err(certificate_error)
}

/// A serial number in hex (colons and spaces allowed, as `openssl` prints them).
fn serial_from_hex(s: &str) -> Result<SerialNumber> {
    let bad = || PkiError::Serial(cut(s, 80));
    let mut digits: String = s
        .chars()
        .filter(|c| *c != ':' && !c.is_whitespace())
        .collect();
    if digits.is_empty() || digits.len() > 42 {
        return Err(bad());
    }
    if !digits.len().is_multiple_of(2) {
        digits.insert(0, '0');
    }
    let bytes = hex::decode(&digits).map_err(|_| bad())?;
    SerialNumber::new(&bytes).map_err(|_| bad())
}

fn serial_hex(cert: &Certificate) -> String {
    hex::encode(cert.tbs_certificate.serial_number.as_bytes())
}

fn new_rsa_key() -> Result<RsaPrivateKey> {
    RsaPrivateKey::new(&mut OsRng, KEY_BITS).map_err(|e| PkiError::Key(e.to_string()))
}

fn spki_of(key: &RsaPrivateKey) -> Result<SubjectPublicKeyInfoOwned> {
    SubjectPublicKeyInfoOwned::from_key(key.to_public_key())
        .map_err(|e| PkiError::Key(e.to_string()))
}

/// A certificate for `spki` with `subject`, signed by `issuer_key`.
fn build_certificate(
    profile: Profile,
    issuer_key: &RsaPrivateKey,
    subject: Name,
    spki: SubjectPublicKeyInfoOwned,
    validity: Validity,
) -> Result<Certificate> {
    let signer = pkcs1v15::SigningKey::<Sha256>::new(issuer_key.clone());
    let builder =
        CertificateBuilder::new(profile, random_serial()?, validity, subject, spki, &signer)
            .map_err(certificate_error)?;
    builder
        .build::<pkcs1v15::Signature>()
        .map_err(certificate_error)
}

// ---------------------------------------------------------------------------------------------
// Keys and certificates

/// A new RSA-2048 key with a self-signed end-entity certificate (`C=VN, O=org, CN=cn`, valid
/// from an hour before `now` for `years` years of 365 days; keyUsage digitalSignature and
/// nonRepudiation; a random 16-byte serial).
pub fn new_self_signed(cn: &str, org: &str, now: DateTime<Utc>, years: u64) -> Result<KeyPair> {
    let subject = vn_name(cn, org)?;
    let key = new_rsa_key()?;
    let profile = Profile::Leaf {
        issuer: subject.clone(),
        enable_key_agreement: false,
        enable_key_encipherment: false,
    };
    let certificate = build_certificate(
        profile,
        &key,
        subject,
        spki_of(&key)?,
        validity(now, years, None)?,
    )?;
    Ok(KeyPair::assemble(key, certificate))
}

/// A new certificate authority: an RSA-2048 key with a self-signed root certificate
/// (`C=VN, O=name, CN=name`; basicConstraints CA:TRUE, keyUsage keyCertSign and cRLSign; valid
/// from an hour before `now` for `years` years of 365 days).
pub fn new_ca(name: &str, now: DateTime<Utc>, years: u64) -> Result<KeyPair> {
    let subject = vn_name(name, name)?;
    let key = new_rsa_key()?;
    let certificate = build_certificate(
        Profile::Root,
        &key,
        subject,
        spki_of(&key)?,
        validity(now, years, None)?,
    )?;
    Ok(KeyPair::assemble(key, certificate))
}

/// Whether `cert` says it is a certificate authority (basicConstraints CA:TRUE).
pub fn is_ca(cert: &Certificate) -> bool {
    matches!(
        cert.tbs_certificate.get::<BasicConstraints>(),
        Ok(Some((_, BasicConstraints { ca: true, .. })))
    )
}

/// Has `ca` certify an end entity `C=VN, O=org, CN=cn`: keyUsage digitalSignature and
/// nonRepudiation, a random 16-byte serial, valid from an hour before `now` for `years` years
/// but not past the authority's own certificate. The key certified is `public_key`, or a new
/// RSA-2048 key, which is then returned with its certificate.
pub fn issue(
    ca: &KeyPair,
    cn: &str,
    org: &str,
    public_key: Option<SubjectPublicKeyInfoOwned>,
    now: DateTime<Utc>,
    years: u64,
) -> Result<(Option<KeyPair>, Certificate)> {
    let ca_cert = &ca.certificate.tbs_certificate;
    if !is_ca(&ca.certificate) {
        return Err(PkiError::NotCa(ca_cert.subject.to_string()));
    }
    let subject = vn_name(cn, org)?;
    let (key, spki) = match public_key {
        Some(spki) => (None, spki),
        None => {
            let key = new_rsa_key()?;
            let spki = spki_of(&key)?;
            (Some(key), spki)
        }
    };
    let profile = Profile::Leaf {
        issuer: ca_cert.subject.clone(),
        enable_key_agreement: false,
        enable_key_encipherment: false,
    };
    let cap = moment(&ca_cert.validity.not_after);
    let certificate =
        build_certificate(profile, &ca.key, subject, spki, validity(now, years, cap)?)?;
    let pair = key.map(|key| KeyPair::assemble(key, certificate.clone()));
    Ok((pair, certificate))
}

/// Reads a PEM certificate (`-----BEGIN CERTIFICATE-----`).
pub fn parse_certificate_pem(pem: &str) -> Result<Certificate> {
    check_size("certificate", pem.len(), MAX_CERTIFICATE_BYTES)?;
    Certificate::from_pem(pem.trim()).map_err(certificate_error)
}

/// Reads a DER certificate.
pub fn parse_certificate_der(der: &[u8]) -> Result<Certificate> {
    check_size("certificate", der.len(), MAX_CERTIFICATE_BYTES)?;
    Certificate::from_der(der).map_err(certificate_error)
}

/// A certificate as PEM.
pub fn certificate_pem(cert: &Certificate) -> Result<String> {
    cert.to_pem(LineEnding::LF).map_err(certificate_error)
}

/// A certificate as DER.
pub fn certificate_der(cert: &Certificate) -> Result<Vec<u8>> {
    cert.to_der().map_err(certificate_error)
}

/// What a person looks at in a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// The serial number in lower-case hex.
    pub serial_hex: String,
    /// The subject's common name (CN), if it has one.
    pub subject_cn: Option<String>,
    /// The subject's organisation (O), if it has one.
    pub subject_org: Option<String>,
    /// The issuer's common name (CN), if it has one.
    pub issuer_cn: Option<String>,
    /// The start of the validity.
    pub not_before: DateTime<Utc>,
    /// The end of the validity.
    pub not_after: DateTime<Utc>,
    /// SHA-256 of the certificate's DER, in lower-case hex.
    pub sha256_fingerprint: String,
}

/// The text of a name attribute, whatever string type it was written in.
fn attribute_text(value: &Any) -> Option<String> {
    let bytes = value.value();
    match value.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::VisibleString => {
            std::str::from_utf8(bytes).ok().map(str::to_string)
        }
        Tag::BmpString => {
            if !bytes.len().is_multiple_of(2) {
                return None;
            }
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        // T.61 in practice carries Latin-1.
        Tag::TeletexString => Some(bytes.iter().map(|b| char::from(*b)).collect()),
        _ => None,
    }
}

/// The last (most specific) value of attribute `oid` in `name`.
fn name_part(name: &Name, oid: ObjectIdentifier) -> Option<String> {
    name.0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|atv| atv.oid == oid)
        .filter_map(|atv| attribute_text(&atv.value))
        .next_back()
}

/// The serial, names, validity and fingerprint of `cert`.
pub fn cert_info(cert: &Certificate) -> Result<CertInfo> {
    let tbs = &cert.tbs_certificate;
    let der = certificate_der(cert)?;
    let when = |t: &Time| {
        moment(t).ok_or_else(|| PkiError::Certificate(format!("validity out of range: {t}")))
    };
    Ok(CertInfo {
        serial_hex: serial_hex(cert),
        subject_cn: name_part(&tbs.subject, OID_CN),
        subject_org: name_part(&tbs.subject, OID_O),
        issuer_cn: name_part(&tbs.issuer, OID_CN),
        not_before: when(&tbs.validity.not_before)?,
        not_after: when(&tbs.validity.not_after)?,
        sha256_fingerprint: hex::encode(Sha256::digest(&der)),
    })
}

/// Whether `cert` names `ca`'s subject as its issuer and its signature verifies with `ca`'s
/// RSA public key (`sha256WithRSAEncryption`, or RSASSA-PSS with SHA-256). False for any
/// other algorithm. It checks neither validity periods nor that `ca` is an authority: a
/// self-signed certificate is `issued_by` itself.
pub fn issued_by(cert: &Certificate, ca: &Certificate) -> bool {
    if cert.tbs_certificate.issuer != ca.tbs_certificate.subject
        || cert.tbs_certificate.signature != cert.signature_algorithm
    {
        return false;
    }
    let Ok(tbs) = cert.tbs_certificate.to_der() else {
        return false;
    };
    let Some(signature) = cert.signature.as_bytes() else {
        return false;
    };
    let algorithm = &cert.signature_algorithm;
    if algorithm.oid == OID_RSA {
        // rsaEncryption names a key, not a signature algorithm of a certificate.
        return false;
    }
    verify_rsa(
        &ca.tbs_certificate.subject_public_key_info,
        algorithm,
        &tbs,
        signature,
    )
    .is_ok()
}

/// Checks `signature` over `message` with the RSA key of `spki` and the signature algorithm
/// `algorithm`: `sha256WithRSAEncryption` or `rsaEncryption` (PKCS #1 v1.5 with SHA-256), or
/// RSASSA-PSS with SHA-256 and MGF1 with SHA-256.
fn verify_rsa(
    spki: &SubjectPublicKeyInfoOwned,
    algorithm: &AlgorithmIdentifierOwned,
    message: &[u8],
    signature: &[u8],
) -> Result<()> {
    if spki.algorithm.oid != OID_RSA {
        return Err(PkiError::Unsupported(format!(
            "public key {} (only RSA is checked)",
            spki.algorithm.oid
        )));
    }
    let spki_der = spki.to_der().map_err(malformed)?;
    let key = RsaPublicKey::from_public_key_der(&spki_der)
        .map_err(|e| PkiError::Key(format!("the signer's public key: {e}")))?;
    if algorithm.oid == OID_SHA256_RSA || algorithm.oid == OID_RSA {
        let signature =
            pkcs1v15::Signature::try_from(signature).map_err(|_| PkiError::BadSignature)?;
        return pkcs1v15::VerifyingKey::<Sha256>::new(key)
            .verify(message, &signature)
            .map_err(|_| PkiError::BadSignature);
    }
    if algorithm.oid == OID_RSA_PSS {
        let salt_len = pss_salt_len(algorithm)?;
        let signature = pss::Signature::try_from(signature).map_err(|_| PkiError::BadSignature)?;
        return pss::VerifyingKey::<Sha256>::new_with_salt_len(key, salt_len)
            .verify(message, &signature)
            .map_err(|_| PkiError::BadSignature);
    }
    Err(PkiError::Unsupported(format!(
        "signature {} (RSA PKCS #1 v1.5 or RSASSA-PSS with SHA-256 are checked)",
        algorithm.oid
    )))
}

/// The salt length of RSASSA-PSS parameters that use SHA-256 for the hash and for MGF1.
fn pss_salt_len(algorithm: &AlgorithmIdentifierOwned) -> Result<usize> {
    let unsupported =
        || PkiError::Unsupported("RSASSA-PSS other than with SHA-256 and MGF1 with SHA-256".into());
    let params = algorithm.parameters.as_ref().ok_or_else(unsupported)?;
    let der = params.to_der().map_err(malformed)?;
    let params = RsaPssParams::from_der(&der).map_err(malformed)?;
    let mgf_hash = params.mask_gen.parameters.map(|p| p.oid);
    if params.hash.oid != OID_SHA256
        || params.mask_gen.oid != OID_MGF1
        || mgf_hash != Some(OID_SHA256)
    {
        return Err(unsupported());
    }
    Ok(usize::from(params.salt_len))
}

// ---------------------------------------------------------------------------------------------
// Revocation lists

/// A certificate revoked, for a revocation list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// Its serial number in hex (as [`KeyPair::serial_hex`] gives it; colons allowed).
    pub serial_hex: String,
    /// When it was revoked.
    pub at: DateTime<Utc>,
    /// Why, as an RFC 5280 CRLReason (1 keyCompromise, 4 superseded, 5 cessationOfOperation...).
    pub reason: Option<u8>,
}

fn crl_reason(n: u8) -> Result<CrlReason> {
    Ok(match n {
        0 => CrlReason::Unspecified,
        1 => CrlReason::KeyCompromise,
        2 => CrlReason::CaCompromise,
        3 => CrlReason::AffiliationChanged,
        4 => CrlReason::Superseded,
        5 => CrlReason::CessationOfOperation,
        6 => CrlReason::CertificateHold,
        8 => CrlReason::RemoveFromCRL,
        9 => CrlReason::PrivilegeWithdrawn,
        10 => CrlReason::AaCompromise,
        other => return Err(PkiError::Reason(other)),
    })
}

/// The revocation list of `ca` (an X.509 v2 CertificateList, DER) listing `revoked`, with CRL
/// number `number`, issued at `this_update` and to be replaced by `next_update`, signed with
/// `sha256WithRSAEncryption`. It carries the authority's key identifier and the CRL number.
pub fn crl(
    ca: &KeyPair,
    revoked: &[Revoked],
    number: u64,
    this_update: DateTime<Utc>,
    next_update: DateTime<Utc>,
) -> Result<Vec<u8>> {
    let ca_cert = &ca.certificate.tbs_certificate;
    if !is_ca(&ca.certificate) {
        return Err(PkiError::NotCa(ca_cert.subject.to_string()));
    }
    if next_update <= this_update {
        return Err(PkiError::Time(format!(
            "the next update ({next_update}) must come after this one ({this_update})"
        )));
    }
    let issuer = ca_cert.subject.clone();
    let mut entries = Vec::with_capacity(revoked.len());
    for r in revoked {
        let extensions = match r.reason {
            Some(n) => Some(vec![
                crl_reason(n)?
                    .to_extension(&issuer, &[])
                    .map_err(encoding)?,
            ]),
            None => None,
        };
        entries.push(RevokedCert {
            serial_number: serial_from_hex(&r.serial_hex)?,
            revocation_date: x509_time(r.at)?,
            crl_entry_extensions: extensions,
        });
    }
    let mut extensions = Vec::new();
    if let Ok(Some((_, ski))) = ca_cert.get::<SubjectKeyIdentifier>() {
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(ski.0),
            authority_cert_issuer: None,
            authority_cert_serial_number: None,
        };
        extensions.push(aki.to_extension(&issuer, &extensions).map_err(encoding)?);
    }
    let number = CrlNumber(Uint::new(&number.to_be_bytes()).map_err(encoding)?);
    extensions.push(
        number
            .to_extension(&issuer, &extensions)
            .map_err(encoding)?,
    );
    let signer = pkcs1v15::SigningKey::<Sha256>::new(ca.key.clone());
    let tbs = TbsCertList {
        version: x509_cert::Version::V2,
        signature: signer.signature_algorithm_identifier().map_err(encoding)?,
        issuer,
        this_update: x509_time(this_update)?,
        next_update: Some(x509_time(next_update)?),
        revoked_certificates: (!entries.is_empty()).then_some(entries),
        crl_extensions: Some(extensions),
    };
    let tbs_der = tbs.to_der().map_err(encoding)?;
    let signature = signer
        .try_sign(&tbs_der)
        .map_err(|e| PkiError::Key(e.to_string()))?;
    let list = CertificateList {
        signature_algorithm: tbs.signature.clone(),
        tbs_cert_list: tbs,
        signature: BitString::from_bytes(&signature.to_vec()).map_err(encoding)?,
    };
    list.to_der().map_err(encoding)
}

/// A revocation list's DER as PEM (`-----BEGIN X509 CRL-----`).
pub fn crl_pem(der: &[u8]) -> Result<String> {
    x509_cert::der::pem::encode_string("X509 CRL", LineEnding::LF, der).map_err(encoding)
}

// ---------------------------------------------------------------------------------------------
// CMS signatures

/// A detached CMS SignedData over `content`, signed by `signer` at `at`, as DER: SHA-256, RSA
/// PKCS #1 v1.5, the signer's certificate included, and the signed attributes content-type,
/// message-digest and signing-time.
pub fn sign_detached(signer: &KeyPair, content: &[u8], at: DateTime<Utc>) -> Result<Vec<u8>> {
    sign_detached_with(signer, content, at, &[])
}

/// [`sign_detached`], with `chain` (e.g. the issuing authority's certificate) also included.
pub fn sign_detached_with(
    signer: &KeyPair,
    content: &[u8],
    at: DateTime<Utc>,
    chain: &[Certificate],
) -> Result<Vec<u8>> {
    let digest = Sha256::digest(content);
    let content_info = EncapsulatedContentInfo {
        econtent_type: OID_DATA,
        econtent: None,
    };
    let sid = SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
        issuer: signer.certificate.tbs_certificate.issuer.clone(),
        serial_number: signer.certificate.tbs_certificate.serial_number.clone(),
    });
    // RFC 5652, 11.3: UTCTime through 2049, GeneralizedTime after, as for certificates.
    let time_der = match x509_time(at)? {
        Time::UtcTime(t) => t.to_der(),
        Time::GeneralTime(t) => t.to_der(),
    }
    .map_err(encoding)?;
    let signing_time = Attribute {
        oid: OID_SIGNING_TIME,
        values: SetOfVec::try_from(vec![Any::from_der(&time_der).map_err(encoding)?])
            .map_err(encoding)?,
    };
    let parts = SignedParts {
        content_info: &content_info,
        sid,
        digest: &digest,
        signing_time,
        certificates: std::iter::once(&signer.certificate).chain(chain).collect(),
    };
    match &signer.fast {
        Some(fast) => parts.build(&RingSigner {
            key: fast,
            public: signer.key.to_public_key(),
        }),
        None => parts.build(&pkcs1v15::SigningKey::<Sha256>::new(signer.key.clone())),
    }
}

/// What a detached signature is made of, but the signer.
struct SignedParts<'a> {
    content_info: &'a EncapsulatedContentInfo,
    sid: SignerIdentifier,
    digest: &'a [u8],
    signing_time: Attribute,
    certificates: Vec<&'a Certificate>,
}

impl SignedParts<'_> {
    fn build<S>(self, key: &S) -> Result<Vec<u8>>
    where
        S: rsa::signature::Keypair + DynSignatureAlgorithmIdentifier + Signer<pkcs1v15::Signature>,
    {
        let builder_error =
            |e: cms::builder::Error| PkiError::Encoding(format!("signature: {e:?}"));
        let sha256 = AlgorithmIdentifierOwned {
            oid: OID_SHA256,
            parameters: None,
        };
        let mut info = SignerInfoBuilder::new(
            key,
            self.sid,
            sha256.clone(),
            self.content_info,
            Some(self.digest),
        )
        .map_err(builder_error)?;
        info.add_signed_attribute(self.signing_time)
            .map_err(builder_error)?;
        let mut data = SignedDataBuilder::new(self.content_info);
        data.add_digest_algorithm(sha256).map_err(builder_error)?;
        for cert in self.certificates {
            data.add_certificate(CertificateChoices::Certificate(cert.clone()))
                .map_err(builder_error)?;
        }
        data.add_signer_info::<_, pkcs1v15::Signature>(info)
            .map_err(builder_error)?;
        data.build()
            .map_err(builder_error)?
            .to_der()
            .map_err(encoding)
    }
}

/// Signs with ring's RSA (PKCS #1 v1.5, SHA-256), for [`sign_detached`].
struct RingSigner<'a> {
    key: &'a ring::rsa::KeyPair,
    public: RsaPublicKey,
}

impl rsa::signature::Keypair for RingSigner<'_> {
    type VerifyingKey = pkcs1v15::VerifyingKey<Sha256>;

    fn verifying_key(&self) -> Self::VerifyingKey {
        pkcs1v15::VerifyingKey::new(self.public.clone())
    }
}

impl x509_cert::spki::SignatureAlgorithmIdentifier for RingSigner<'_> {
    type Params = x509_cert::der::AnyRef<'static>;

    const SIGNATURE_ALGORITHM_IDENTIFIER: x509_cert::spki::AlgorithmIdentifierRef<'static> =
        <pkcs1v15::SigningKey<Sha256> as x509_cert::spki::SignatureAlgorithmIdentifier>::SIGNATURE_ALGORITHM_IDENTIFIER;
}

impl Signer<pkcs1v15::Signature> for RingSigner<'_> {
    fn try_sign(
        &self,
        msg: &[u8],
    ) -> std::result::Result<pkcs1v15::Signature, rsa::signature::Error> {
        let mut out = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                msg,
                &mut out,
            )
            .map_err(|_| rsa::signature::Error::new())?;
        pkcs1v15::Signature::try_from(out.as_slice())
    }
}

/// A detached signature that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The signer's certificate (not checked against any authority nor revocation list).
    pub certificate: Certificate,
    /// The signing time the signer claims, when the signature has one (it lies within the
    /// certificate's validity).
    pub signing_time: Option<DateTime<Utc>>,
}

/// The one value of the signed attribute `oid`, if present; an error when it is there more
/// than once or with other than one value.
fn single_attribute<'a>(
    attrs: &'a x509_cert::attr::Attributes,
    oid: ObjectIdentifier,
    what: &str,
) -> Result<Option<&'a Any>> {
    let mut found = attrs.iter().filter(|a| a.oid == oid);
    let Some(attr) = found.next() else {
        return Ok(None);
    };
    if found.next().is_some() || attr.values.len() != 1 {
        return Err(PkiError::Malformed(format!(
            "the {what} attribute must appear once with one value"
        )));
    }
    Ok(attr.values.iter().next())
}

/// The signed attributes of the one signer of a SignedData, exactly as they were encoded,
/// tagged as the SET OF that is signed (RFC 5652, 5.4).
fn signed_attributes_as_signed(signature_der: &[u8]) -> Result<Option<Vec<u8>>> {
    fn elements<'a>(value: &'a [u8]) -> Result<Vec<AnyRef<'a>>> {
        let mut reader = SliceReader::new(value).map_err(malformed)?;
        let mut out = Vec::new();
        while !reader.is_finished() {
            out.push(reader.decode::<AnyRef<'a>>().map_err(malformed)?);
        }
        Ok(out)
    }
    let missing = || PkiError::Malformed("truncated SignedData".into());
    let content_info = AnyRef::from_der(signature_der).map_err(malformed)?;
    let explicit = *elements(content_info.value())?.get(1).ok_or_else(missing)?;
    let signed_data = AnyRef::from_der(explicit.value()).map_err(malformed)?;
    let signer_infos = *elements(signed_data.value())?.last().ok_or_else(missing)?;
    let signer_info = *elements(signer_infos.value())?
        .first()
        .ok_or_else(missing)?;
    // version, sid, digestAlgorithm, then [0] signedAttrs when there are some.
    let fields = elements(signer_info.value())?;
    match fields.get(3) {
        Some(f) if f.tag().is_context_specific() && f.tag().is_constructed() => {
            let set = AnyRef::new(Tag::Set, f.value()).map_err(malformed)?;
            Ok(Some(set.to_der().map_err(malformed)?))
        }
        _ => Ok(None),
    }
}

/// The subject key identifier of `cert`, if it has one.
fn subject_key_id(cert: &Certificate) -> Option<SubjectKeyIdentifier> {
    match cert.tbs_certificate.get::<SubjectKeyIdentifier>() {
        Ok(Some((_, ski))) => Some(ski),
        _ => None,
    }
}

/// Checks a detached CMS SignedData (DER) over `content`: one signer, whose certificate is in
/// the signature or among `extra_certs`; SHA-256; the message-digest and content-type signed
/// attributes when there are signed attributes; an RSA signature (PKCS #1 v1.5 or RSASSA-PSS,
/// with SHA-256); and the signing time, when given, within the certificate's validity. It does
/// not check who issued the certificate nor whether it was revoked: see [`issued_by`].
pub fn verify_detached(
    signature_der: &[u8],
    content: &[u8],
    extra_certs: &[Certificate],
) -> Result<Verified> {
    check_size("signature", signature_der.len(), MAX_SIGNATURE_BYTES)?;
    let content_info = ContentInfo::from_der(signature_der).map_err(malformed)?;
    if content_info.content_type != OID_SIGNED_DATA {
        return Err(PkiError::Malformed(format!(
            "content type {}, not SignedData",
            content_info.content_type
        )));
    }
    let signed_data: SignedData = content_info.content.decode_as().map_err(malformed)?;
    if signed_data.encap_content_info.econtent.is_some() {
        return Err(PkiError::Malformed(
            "the signature carries its content; a detached one was expected".into(),
        ));
    }
    let signers = signed_data.signer_infos.0.as_slice();
    let [signer] = signers else {
        return Err(PkiError::Malformed(format!(
            "{} signers, where exactly one was expected",
            signers.len()
        )));
    };
    let digest_alg = &signer.digest_alg;
    let null_or_absent = digest_alg
        .parameters
        .as_ref()
        .is_none_or(|p| p.tag() == Tag::Null);
    if digest_alg.oid != OID_SHA256 || !null_or_absent {
        return Err(PkiError::Unsupported(format!(
            "digest {} (only SHA-256 is checked)",
            digest_alg.oid
        )));
    }

    let carried = signed_data
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|c| match c {
            CertificateChoices::Certificate(c) => Some(c),
            CertificateChoices::Other(_) => None,
        });
    let certificate = carried
        .chain(extra_certs)
        .find(|c| match &signer.sid {
            SignerIdentifier::IssuerAndSerialNumber(id) => {
                c.tbs_certificate.issuer == id.issuer
                    && c.tbs_certificate.serial_number == id.serial_number
            }
            SignerIdentifier::SubjectKeyIdentifier(id) => {
                subject_key_id(c).is_some_and(|ski| ski == *id)
            }
        })
        .ok_or(PkiError::SignerNotFound)?
        .clone();

    let digest = Sha256::digest(content);
    let (signed, signing_time) = match &signer.signed_attrs {
        Some(attrs) => {
            let md = single_attribute(attrs, OID_MESSAGE_DIGEST, "message-digest")?
                .ok_or_else(|| PkiError::Malformed("no message-digest attribute".into()))?;
            let md = md.decode_as::<OctetString>().map_err(malformed)?;
            if md.as_bytes() != &digest[..] {
                return Err(PkiError::DigestMismatch);
            }
            let ct = single_attribute(attrs, OID_CONTENT_TYPE, "content-type")?
                .ok_or_else(|| PkiError::Malformed("no content-type attribute".into()))?;
            let ct = ct.decode_as::<ObjectIdentifier>().map_err(malformed)?;
            if ct != signed_data.encap_content_info.econtent_type {
                return Err(PkiError::Malformed(format!(
                    "the content-type attribute ({ct}) differs from the content's type ({})",
                    signed_data.encap_content_info.econtent_type
                )));
            }
            let signing_time = match single_attribute(attrs, OID_SIGNING_TIME, "signing-time")? {
                Some(t) => {
                    let der = t.to_der().map_err(malformed)?;
                    let time = Time::from_der(&der).map_err(malformed)?;
                    Some(moment(&time).ok_or_else(|| {
                        PkiError::Malformed(format!("signing time out of range: {time}"))
                    })?)
                }
                None => None,
            };
            let signed = signed_attributes_as_signed(signature_der)?.ok_or_else(|| {
                PkiError::Malformed("the signed attributes are unreadable".into())
            })?;
            (Cow::Owned(signed), signing_time)
        }
        None => (Cow::Borrowed(content), None),
    };

    verify_rsa(
        &certificate.tbs_certificate.subject_public_key_info,
        &signer.signature_algorithm,
        &signed,
        signer.signature.as_bytes(),
    )?;

    if let Some(at) = signing_time {
        let validity = &certificate.tbs_certificate.validity;
        let out_of_range = || PkiError::Certificate("the signer's validity is out of range".into());
        let not_before = moment(&validity.not_before).ok_or_else(out_of_range)?;
        let not_after = moment(&validity.not_after).ok_or_else(out_of_range)?;
        if at < not_before || at > not_after {
            return Err(PkiError::SigningTimeOutsideValidity {
                signing_time: at,
                not_before,
                not_after,
            });
        }
    }
    Ok(Verified {
        certificate,
        signing_time,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::process::{Command, Output};
    use std::sync::LazyLock;

    use proptest::prelude::*;

    use super::*;

    fn ok<T, E: fmt::Display>(r: Result<T, E>, what: &str) -> T {
        r.unwrap_or_else(|e| panic!("{what}: {e}"))
    }

    static NOW: LazyLock<DateTime<Utc>> = LazyLock::new(Utc::now);
    static CA: LazyLock<KeyPair> =
        LazyLock::new(|| ok(new_ca("Motcua Test CA", *NOW, 20), "new_ca"));
    /// An agency certified by [`CA`], with its key.
    static AGENCY: LazyLock<KeyPair> = LazyLock::new(|| {
        let (pair, _) = ok(
            issue(&CA, "000.00.02.H26", "Sở Tư pháp Hà Nội", None, *NOW, 2),
            "issue",
        );
        pair.unwrap_or_else(|| panic!("issue made no key"))
    });
    static SELF_SIGNED: LazyLock<KeyPair> = LazyLock::new(|| {
        ok(
            new_self_signed(
                "000.00.01.H26",
                "Trung tâm Phục vụ hành chính công",
                *NOW,
                10,
            ),
            "new_self_signed",
        )
    });

    const CONTENT: &[u8] = b"%PDF-1.7 Ket qua giai quyet thu tuc hanh chinh";

    #[test]
    fn the_fast_signer_makes_the_very_signature_of_the_portable_one() {
        for pair in [&*AGENCY, &*SELF_SIGNED] {
            assert!(
                pair.fast.is_some(),
                "ring takes the RSA-2048 keys made here"
            );
            let portable = KeyPair {
                fast: None,
                ..pair.clone()
            };
            let fast = ok(sign_detached(pair, CONTENT, *NOW), "fast");
            let slow = ok(sign_detached(&portable, CONTENT, *NOW), "portable");
            // PKCS #1 v1.5 is deterministic: the same key, content and time give the same bytes.
            assert_eq!(fast, slow);
            let v = ok(verify_detached(&fast, CONTENT, &[]), "verify");
            assert_eq!(v.certificate, pair.certificate);
            assert!(verify_detached(&fast, b"other content", &[]).is_err());
        }
    }

    #[test]
    fn a_signature_verifies_and_names_its_signer_and_time() {
        let at = *NOW;
        let sig = ok(sign_detached(&SELF_SIGNED, CONTENT, at), "sign");
        let v = ok(verify_detached(&sig, CONTENT, &[]), "verify");
        assert_eq!(v.certificate, *SELF_SIGNED.certificate());
        assert_eq!(v.signing_time.map(|t| t.timestamp()), Some(at.timestamp()));

        // With the chain: the authority's certificate travels too.
        let sig = ok(
            sign_detached_with(&AGENCY, CONTENT, at, &[CA.certificate().clone()]),
            "sign with chain",
        );
        let ci = ok(ContentInfo::from_der(&sig), "content info");
        let sd: SignedData = ok(ci.content.decode_as(), "signed data");
        assert_eq!(sd.certificates.map(|c| c.0.len()), Some(2));
        let v = ok(verify_detached(&sig, CONTENT, &[]), "verify with chain");
        assert_eq!(v.certificate, *AGENCY.certificate());
        assert!(issued_by(&v.certificate, CA.certificate()));
    }

    #[test]
    fn a_changed_byte_of_content_fails() {
        let sig = ok(sign_detached(&AGENCY, CONTENT, *NOW), "sign");
        for i in [0, CONTENT.len() / 2, CONTENT.len() - 1] {
            let mut changed = CONTENT.to_vec();
            changed[i] ^= 0x01;
            assert!(matches!(
                verify_detached(&sig, &changed, &[]),
                Err(PkiError::DigestMismatch)
            ));
        }
        let mut longer = CONTENT.to_vec();
        longer.push(b'\n');
        assert!(verify_detached(&sig, &longer, &[]).is_err());
    }

    #[test]
    fn a_signature_by_another_key_than_the_certificate_s_fails() {
        // Signed with the agency's key, but naming the self-signed certificate as the signer.
        let forged = KeyPair {
            key: AGENCY.key().clone(),
            certificate: SELF_SIGNED.certificate().clone(),
            fast: AGENCY.fast.clone(),
        };
        let sig = ok(sign_detached(&forged, CONTENT, *NOW), "sign");
        assert!(matches!(
            verify_detached(&sig, CONTENT, &[]),
            Err(PkiError::BadSignature)
        ));
        // And the key pair itself refuses the mismatch.
        assert!(matches!(
            KeyPair::new(AGENCY.key().clone(), SELF_SIGNED.certificate().clone()),
            Err(PkiError::KeyMismatch)
        ));
    }

    #[test]
    fn a_signing_time_outside_the_certificate_s_validity_fails() {
        let before = *NOW - chrono::Duration::days(2);
        let sig = ok(sign_detached(&AGENCY, CONTENT, before), "sign");
        assert!(matches!(
            verify_detached(&sig, CONTENT, &[]),
            Err(PkiError::SigningTimeOutsideValidity { .. })
        ));
    }

    #[test]
    fn issued_by_checks_the_name_and_the_signature() {
        assert!(issued_by(AGENCY.certificate(), CA.certificate()));
        assert!(
            issued_by(CA.certificate(), CA.certificate()),
            "a root is self-issued"
        );
        assert!(issued_by(
            SELF_SIGNED.certificate(),
            SELF_SIGNED.certificate()
        ));
        assert!(!issued_by(SELF_SIGNED.certificate(), CA.certificate()));
        assert!(!issued_by(CA.certificate(), AGENCY.certificate()));
        // An authority of the same name but another key did not issue it.
        let impostor = ok(new_ca("Motcua Test CA", *NOW, 1), "impostor");
        assert_eq!(
            impostor.certificate().tbs_certificate.subject,
            CA.certificate().tbs_certificate.subject
        );
        assert!(!issued_by(AGENCY.certificate(), impostor.certificate()));
        // A certificate whose signed part was changed no longer verifies.
        let mut changed = AGENCY.certificate().clone();
        changed.tbs_certificate.serial_number = SerialNumber::from(42u32);
        assert!(!issued_by(&changed, CA.certificate()));
    }

    #[test]
    fn an_authority_certifies_a_given_public_key_and_only_an_authority_issues() {
        let spki = SELF_SIGNED
            .certificate()
            .tbs_certificate
            .subject_public_key_info
            .clone();
        let (pair, cert) = ok(
            issue(
                &CA,
                "000.00.03.H26",
                "Sở Xây dựng",
                Some(spki.clone()),
                *NOW,
                3,
            ),
            "issue",
        );
        assert!(pair.is_none());
        assert_eq!(cert.tbs_certificate.subject_public_key_info, spki);
        assert!(issued_by(&cert, CA.certificate()));
        assert!(!is_ca(&cert));
        assert!(is_ca(CA.certificate()));
        // The issued certificate does not outlive its authority.
        let (_, long) = ok(issue(&CA, "x", "", Some(spki), *NOW, 50), "issue long");
        let ca_end = CA.certificate().tbs_certificate.validity.not_after;
        assert!(
            long.tbs_certificate.validity.not_after.to_unix_duration() <= ca_end.to_unix_duration()
        );
        assert!(matches!(
            issue(&SELF_SIGNED, "x", "y", None, *NOW, 1),
            Err(PkiError::NotCa(_))
        ));
        assert!(matches!(
            issue(&CA, "  ", "y", None, *NOW, 1),
            Err(PkiError::Name(_))
        ));
    }

    #[test]
    fn certificates_and_keys_round_trip_through_pem_and_der() {
        let pair = &*AGENCY;
        let key_pem = ok(pair.key_pem(), "key pem");
        let cert_pem = ok(pair.certificate_pem(), "cert pem");
        assert!(key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let again = ok(KeyPair::from_pem(&key_pem, &cert_pem), "from_pem");
        assert_eq!(again.certificate(), pair.certificate());
        assert_eq!(again.serial_hex(), pair.serial_hex());
        let der = ok(certificate_der(pair.certificate()), "der");
        assert_eq!(
            ok(parse_certificate_der(&der), "parse der"),
            *pair.certificate()
        );
        assert_eq!(
            ok(parse_certificate_pem(&cert_pem), "parse pem"),
            *pair.certificate()
        );
        let other_cert = ok(SELF_SIGNED.certificate_pem(), "pem");
        assert!(matches!(
            KeyPair::from_pem(&key_pem, &other_cert),
            Err(PkiError::KeyMismatch)
        ));
        assert!(KeyPair::from_pem("not a key", &cert_pem).is_err());
        // A PKCS #1 key (`openssl genrsa -traditional`) is read too.
        let pkcs1 = ok(
            rsa::pkcs1::EncodeRsaPrivateKey::to_pkcs1_pem(pair.key(), LineEnding::LF),
            "pkcs1",
        );
        assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        ok(KeyPair::from_pem(&pkcs1, &cert_pem), "from pkcs1 pem");
        let debug = format!("{pair:?}");
        assert!(!debug.contains("PRIVATE"), "{debug}");
    }

    #[test]
    fn cert_info_tells_names_serial_validity_and_fingerprint() {
        let info = ok(cert_info(AGENCY.certificate()), "info");
        assert_eq!(info.subject_cn.as_deref(), Some("000.00.02.H26"));
        assert_eq!(info.subject_org.as_deref(), Some("Sở Tư pháp Hà Nội"));
        assert_eq!(info.issuer_cn.as_deref(), Some("Motcua Test CA"));
        assert_eq!(info.serial_hex, AGENCY.serial_hex());
        assert_eq!(info.serial_hex.len(), 32);
        assert_eq!(
            info.not_before.timestamp(),
            (*NOW - chrono::Duration::hours(1)).timestamp()
        );
        assert_eq!(
            (info.not_after - info.not_before).num_days(),
            2 * 365,
            "two years of 365 days"
        );
        let der = ok(certificate_der(AGENCY.certificate()), "der");
        assert_eq!(info.sha256_fingerprint, hex::encode(Sha256::digest(&der)));
    }

    #[test]
    fn serials_in_hex_are_read_as_openssl_prints_them() {
        let s = ok(serial_from_hex("0A:1b:ff"), "serial");
        assert_eq!(s.as_bytes(), &[0x0a, 0x1b, 0xff]);
        let s = ok(serial_from_hex("abc"), "odd length");
        assert_eq!(s.as_bytes(), &[0x0a, 0xbc]);
        for bad in ["", "xyz", &"1".repeat(43)] {
            assert!(
                matches!(serial_from_hex(bad), Err(PkiError::Serial(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_revocation_list_is_signed_by_its_authority() {
        let now = *NOW;
        let revoked = [Revoked {
            serial_hex: AGENCY.serial_hex(),
            at: now,
            reason: Some(1),
        }];
        let der = ok(
            crl(&CA, &revoked, 7, now, now + chrono::Duration::days(7)),
            "crl",
        );
        let list = ok(CertificateList::from_der(&der), "parse crl");
        let tbs = &list.tbs_cert_list;
        assert_eq!(tbs.version, x509_cert::Version::V2);
        assert_eq!(tbs.issuer, CA.certificate().tbs_certificate.subject);
        let entries = tbs.revoked_certificates.clone().unwrap_or_default();
        assert_eq!(entries.len(), 1);
        assert_eq!(
            entries[0].serial_number,
            AGENCY.certificate().tbs_certificate.serial_number
        );
        let tbs_der = ok(tbs.to_der(), "tbs");
        let sig = list.signature.as_bytes().unwrap_or_default();
        ok(
            verify_rsa(
                &CA.certificate().tbs_certificate.subject_public_key_info,
                &list.signature_algorithm,
                &tbs_der,
                sig,
            ),
            "crl signature",
        );
        assert!(ok(crl_pem(&der), "pem").starts_with("-----BEGIN X509 CRL-----"));
        // Bad input is refused.
        let bad_reason = [Revoked {
            reason: Some(7),
            ..revoked[0].clone()
        }];
        assert!(matches!(
            crl(&CA, &bad_reason, 1, now, now + chrono::Duration::days(1)),
            Err(PkiError::Reason(7))
        ));
        assert!(matches!(crl(&CA, &[], 1, now, now), Err(PkiError::Time(_))));
        assert!(matches!(
            crl(&SELF_SIGNED, &[], 1, now, now + chrono::Duration::days(1)),
            Err(PkiError::NotCa(_))
        ));
    }

    // -----------------------------------------------------------------------------------------
    // With OpenSSL

    /// Whether the `openssl` command is here; says so when it is not.
    fn have_openssl() -> bool {
        let here = Command::new("openssl")
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !here {
            eprintln!("note: `openssl` is not installed; the interoperability check is skipped");
        }
        here
    }

    fn openssl(dir: &Path, args: &[&str]) -> Output {
        ok(
            Command::new("openssl").current_dir(dir).args(args).output(),
            "run openssl",
        )
    }

    fn said(o: &Output) -> String {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    }

    fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) {
        ok(std::fs::write(dir.join(name), bytes), name);
    }

    fn temp_dir() -> tempfile::TempDir {
        ok(tempfile::TempDir::new(), "temp dir")
    }

    #[test]
    fn openssl_verifies_our_signatures() {
        if !have_openssl() {
            return;
        }
        let dir = temp_dir();
        let d = dir.path();
        write(d, "data", CONTENT);
        write(d, "ca.pem", ok(CA.certificate_pem(), "ca pem"));
        write(d, "self.pem", ok(SELF_SIGNED.certificate_pem(), "self pem"));
        let verify = |sig: &str, data: &str, ca: &str| {
            openssl(
                d,
                &[
                    "cms",
                    "-verify",
                    "-binary",
                    "-inform",
                    "DER",
                    "-in",
                    sig,
                    "-content",
                    data,
                    "-CAfile",
                    ca,
                    "-purpose",
                    "any",
                    "-out",
                    "/dev/null",
                ],
            )
        };
        // Certified by the authority, with and without its certificate in the signature.
        write(
            d,
            "agency.der",
            ok(sign_detached(&AGENCY, CONTENT, *NOW), "sign"),
        );
        let chain = [CA.certificate().clone()];
        write(
            d,
            "chain.der",
            ok(
                sign_detached_with(&AGENCY, CONTENT, *NOW, &chain),
                "sign with chain",
            ),
        );
        for sig in ["agency.der", "chain.der"] {
            let o = verify(sig, "data", "ca.pem");
            assert!(o.status.success(), "{sig}: {}", said(&o));
        }
        // Self-signed, as agencies sign their results.
        write(
            d,
            "self.der",
            ok(sign_detached(&SELF_SIGNED, CONTENT, *NOW), "sign"),
        );
        let o = verify("self.der", "data", "self.pem");
        assert!(o.status.success(), "{}", said(&o));
        // Not over other content, nor trusted by another authority.
        write(d, "other", b"%PDF-1.7 something else");
        let o = verify("agency.der", "other", "ca.pem");
        assert!(!o.status.success(), "{}", said(&o));
        let o = verify("agency.der", "data", "self.pem");
        assert!(!o.status.success(), "{}", said(&o));
    }

    #[test]
    fn we_verify_openssl_s_signatures() {
        if !have_openssl() {
            return;
        }
        let dir = temp_dir();
        let d = dir.path();
        write(d, "data", CONTENT);
        write(d, "cert.pem", ok(AGENCY.certificate_pem(), "cert pem"));
        write(d, "key.pem", ok(AGENCY.key_pem(), "key pem"));
        let sign = |out: &str, extra: &[&str]| {
            let mut args = vec![
                "cms", "-sign", "-binary", "-in", "data", "-signer", "cert.pem", "-inkey",
                "key.pem", "-outform", "DER", "-out", out,
            ];
            args.extend_from_slice(extra);
            let o = openssl(d, &args);
            assert!(o.status.success(), "{out}: {}", said(&o));
            ok(std::fs::read(d.join(out)), out)
        };

        // PKCS #1 v1.5, the certificate included, signer named by issuer and serial.
        let sig = sign("plain.der", &[]);
        let v = ok(
            verify_detached(&sig, CONTENT, &[]),
            "verify openssl signature",
        );
        assert_eq!(v.certificate, *AGENCY.certificate());
        let t = v
            .signing_time
            .unwrap_or_else(|| panic!("openssl gives a signing time"));
        assert!((t - Utc::now()).num_minutes().abs() < 10, "{t}");
        let mut changed = CONTENT.to_vec();
        changed[3] ^= 0x20;
        assert!(matches!(
            verify_detached(&sig, &changed, &[]),
            Err(PkiError::DigestMismatch)
        ));

        // RSASSA-PSS.
        let sig = sign("pss.der", &["-keyopt", "rsa_padding_mode:pss"]);
        let ci = ok(ContentInfo::from_der(&sig), "content info");
        let sd: SignedData = ok(ci.content.decode_as(), "signed data");
        let algorithms: Vec<_> = sd
            .signer_infos
            .0
            .iter()
            .map(|s| s.signature_algorithm.oid)
            .collect();
        assert_eq!(algorithms, [OID_RSA_PSS]);
        ok(
            verify_detached(&sig, CONTENT, &[]),
            "verify openssl PSS signature",
        );
        assert!(verify_detached(&sig, &changed, &[]).is_err());

        // The signer named by its subject key identifier, its certificate left out: found
        // among those given, and not otherwise.
        let sig = sign("keyid.der", &["-keyid", "-nocerts"]);
        let v = ok(
            verify_detached(
                &sig,
                CONTENT,
                &[CA.certificate().clone(), AGENCY.certificate().clone()],
            ),
            "verify by key identifier",
        );
        assert_eq!(v.certificate, *AGENCY.certificate());
        assert!(matches!(
            verify_detached(&sig, CONTENT, &[]),
            Err(PkiError::SignerNotFound)
        ));

        // Without signed attributes, the signature covers the content itself.
        let sig = sign("noattr.der", &["-noattr"]);
        let v = ok(
            verify_detached(&sig, CONTENT, &[]),
            "verify without attributes",
        );
        assert_eq!(v.signing_time, None);
        assert!(matches!(
            verify_detached(&sig, &changed, &[]),
            Err(PkiError::BadSignature)
        ));

        // Content carried inside is not a detached signature.
        let sig = sign("attached.der", &["-nodetach"]);
        assert!(matches!(
            verify_detached(&sig, CONTENT, &[]),
            Err(PkiError::Malformed(_))
        ));
    }

    #[test]
    fn openssl_accepts_our_revocation_lists() {
        if !have_openssl() {
            return;
        }
        let now = Utc::now();
        let (revoked_pair, _) = ok(issue(&CA, "000.00.09.H26", "Sở cũ", None, *NOW, 1), "issue");
        let revoked_pair = revoked_pair.unwrap_or_else(|| panic!("a key"));
        let list = ok(
            crl(
                &CA,
                &[Revoked {
                    serial_hex: revoked_pair.serial_hex(),
                    at: now - chrono::Duration::minutes(1),
                    reason: Some(1),
                }],
                7,
                now - chrono::Duration::minutes(1),
                now + chrono::Duration::days(7),
            ),
            "crl",
        );
        let empty = ok(
            crl(
                &CA,
                &[],
                8,
                now - chrono::Duration::minutes(1),
                now + chrono::Duration::days(7),
            ),
            "empty crl",
        );
        let dir = temp_dir();
        let d = dir.path();
        write(d, "ca.pem", ok(CA.certificate_pem(), "ca"));
        write(
            d,
            "revoked.pem",
            ok(revoked_pair.certificate_pem(), "revoked"),
        );
        write(d, "good.pem", ok(AGENCY.certificate_pem(), "good"));
        write(d, "crl.der", &list);
        write(d, "crl.pem", ok(crl_pem(&list), "crl pem"));
        write(d, "empty.der", &empty);
        write(d, "empty.pem", ok(crl_pem(&empty), "empty pem"));

        for file in ["crl.der", "empty.der"] {
            let o = openssl(
                d,
                &[
                    "crl", "-inform", "DER", "-in", file, "-CAfile", "ca.pem", "-noout",
                ],
            );
            assert!(
                o.status.success() && said(&o).contains("verify OK"),
                "{file}: {}",
                said(&o)
            );
        }
        let o = openssl(
            d,
            &["crl", "-inform", "DER", "-in", "crl.der", "-noout", "-text"],
        );
        let text = said(&o);
        assert!(
            text.contains("CRL Number") && text.contains("Key Compromise"),
            "{text}"
        );

        let check = |crl: &str, cert: &str| {
            openssl(
                d,
                &[
                    "verify",
                    "-crl_check",
                    "-CAfile",
                    "ca.pem",
                    "-CRLfile",
                    crl,
                    cert,
                ],
            )
        };
        let o = check("crl.pem", "revoked.pem");
        assert!(
            !o.status.success() && said(&o).contains("revoked"),
            "{}",
            said(&o)
        );
        let o = check("crl.pem", "good.pem");
        assert!(
            o.status.success() && said(&o).contains("OK"),
            "{}",
            said(&o)
        );
        let o = check("empty.pem", "revoked.pem");
        assert!(o.status.success(), "{}", said(&o));
    }

    // -----------------------------------------------------------------------------------------
    // Hostile input

    static SIGNATURE: LazyLock<Vec<u8>> =
        LazyLock::new(|| ok(sign_detached(&AGENCY, CONTENT, *NOW), "sign"));

    #[test]
    fn every_truncation_of_a_signature_or_certificate_is_an_error() {
        let sig = &*SIGNATURE;
        for n in 0..sig.len() {
            assert!(verify_detached(&sig[..n], CONTENT, &[]).is_err(), "{n}");
        }
        let der = ok(certificate_der(AGENCY.certificate()), "der");
        for n in 0..der.len() {
            assert!(parse_certificate_der(&der[..n]).is_err(), "{n}");
        }
        let pem = ok(AGENCY.certificate_pem(), "pem");
        for n in 0..pem.len() - 30 {
            assert!(parse_certificate_pem(&pem[..n]).is_err(), "{n}");
        }
        let huge = vec![0x30; MAX_SIGNATURE_BYTES + 1];
        assert!(matches!(
            verify_detached(&huge, CONTENT, &[]),
            Err(PkiError::TooLarge { .. })
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn random_bytes_are_refused_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            prop_assert!(verify_detached(&bytes, CONTENT, &[]).is_err());
            prop_assert!(parse_certificate_der(&bytes).is_err());
            let _ = parse_certificate_pem(&String::from_utf8_lossy(&bytes));
            let _ = crl_pem(&bytes);
        }

        #[test]
        fn a_changed_signature_byte_never_panics(i in any::<prop::sample::Index>(), x in 1u8..=255) {
            let mut sig = SIGNATURE.clone();
            let at = i.index(sig.len());
            sig[at] ^= x;
            // A byte of the carried certificate's own signature is not looked at; anything
            // else changed makes it fail, and nothing panics.
            let _ = verify_detached(&sig, CONTENT, &[]);
            let mut der = ok(certificate_der(AGENCY.certificate()), "der");
            let at = i.index(der.len());
            der[at] ^= x;
            if let Ok(c) = parse_certificate_der(&der) {
                let _ = cert_info(&c);
                let _ = issued_by(&c, CA.certificate());
                let _ = issued_by(AGENCY.certificate(), &c);
            }
        }
    }
}
