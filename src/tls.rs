//! TLS settings shared by every check that speaks TLS (http, postgres, redis): which roots
//! to trust, an optional client identity for mutual TLS, and handshake failures turned into
//! reasons that name the cause ("certificate not valid for name db") instead of
//! "error performing TLS handshake".
//!
//! ring is the only crypto provider; roots are the bundled webpki roots unless `--ca-file`
//! says otherwise, so nothing depends on a CA bundle in the image.

// Custom verifiers and client configs serve postgres and redis; http uses ureq's.
#![cfg_attr(not(any(feature = "postgres", feature = "redis")), allow(dead_code))]

use std::error::Error;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use crate::outcome::{usage, Outcome, UsageError};

/// What to trust when verifying a server.
#[derive(Clone, Debug)]
pub enum Roots {
    /// The bundled Mozilla roots (webpki-roots).
    WebPki,
    /// Only the CA certificates of a `--ca-file`.
    Custom(Vec<CertificateDer<'static>>),
}

/// How much of the server's certificate to check (libpq's sslmode vocabulary).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verify {
    /// Chain to a trusted root and the name in the URL (the default everywhere).
    Full,
    /// Chain to a trusted root, any name (`sslmode=verify-ca`).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))] // libpq's verify-ca
    ChainOnly,
    /// Nothing (`--insecure`, `sslmode=require`): encrypted, not authenticated.
    Nothing,
}

/// A client certificate chain and its key, for mutual TLS.
#[derive(Debug)]
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// The key file as read, for ureq, which builds its key type only from PEM.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub key_pem: Vec<u8>,
}

pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The most a certificate or key file may hold (a full CA bundle is about 220 KiB).
const MAX_PEM: u64 = 1024 * 1024;

/// A PEM file, opened without blocking: a FIFO or device is refused, not waited on.
fn read(flag: &str, path: &Path) -> Result<Vec<u8>, UsageError> {
    crate::fsread::read_config(flag, path, MAX_PEM)
}

/// `--ca-file PEM` (every certificate in it is trusted), or the webpki roots.
pub fn load_roots(ca_file: Option<&Path>) -> Result<Roots, UsageError> {
    let Some(path) = ca_file else {
        return Ok(Roots::WebPki);
    };
    let pem = read("--ca-file", path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| {
            UsageError::new(format!(
                "--ca-file {}: {}",
                path.display(),
                pem_reason(&error)
            ))
        })?;
    if certs.is_empty() {
        return usage(format!(
            "--ca-file {}: no PEM certificate in it",
            path.display()
        ));
    }
    Ok(Roots::Custom(certs))
}

/// `--cert` and `--key` for mutual TLS: both or neither, and they must belong together
/// (checked now, so that a mismatch is a usage error, not a failed handshake later).
pub fn load_identity(
    cert: Option<&Path>,
    key: Option<&Path>,
) -> Result<Option<Identity>, UsageError> {
    let (cert_path, key_path) = match (cert, key) {
        (None, None) => return Ok(None),
        (Some(cert), Some(key)) => (cert, key),
        (Some(_), None) => return usage("--cert needs --key"),
        (None, Some(_)) => return usage("--key needs --cert"),
    };
    let cert_pem = read("--cert", cert_path)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| {
            UsageError::new(format!(
                "--cert {}: {}",
                cert_path.display(),
                pem_reason(&error)
            ))
        })?;
    if chain.is_empty() {
        return usage(format!(
            "--cert {}: no PEM certificate in it",
            cert_path.display()
        ));
    }
    let key_pem = read("--key", key_path)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|error| {
        let reason = match error {
            rustls::pki_types::pem::Error::NoItemsFound => {
                "no PEM private key in it (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)".into()
            }
            other => pem_reason(&other),
        };
        UsageError::new(format!("--key {}: {reason}", key_path.display()))
    })?;
    let identity = Identity {
        chain,
        key,
        key_pem,
    };
    ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .and_then(|builder| {
            builder
                .with_root_certificates(RootCertStore::empty())
                .with_client_auth_cert(identity.chain.clone(), identity.key.clone_key())
        })
        .map_err(|error| identity_error(&error, cert_path, key_path))?;
    Ok(Some(identity))
}

/// Why rustls refuses a client certificate and key, naming the file at fault.
fn identity_error(error: &rustls::Error, cert: &Path, key: &Path) -> UsageError {
    let (cert, key) = (cert.display(), key.display());
    UsageError::new(match error {
        rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => format!(
            "--cert {cert} and --key {key} do not fit together: the key is not the one the \
             certificate was issued for"
        ),
        rustls::Error::InconsistentKeys(_) => format!(
            "--key {key}: cannot tell whether it belongs to --cert {cert} (its public key \
             cannot be derived)"
        ),
        rustls::Error::InvalidCertificate(CertificateError::Other(other))
            if other.to_string() == "UnsupportedCertVersion" =>
        {
            format!(
                "--cert {cert}: an X.509 v1 certificate cannot be a client certificate \
                 (rustls needs v3: reissue it with extensions)"
            )
        }
        rustls::Error::InvalidCertificate(problem) => {
            format!("--cert {cert}: {}", certificate_problem(problem))
        }
        rustls::Error::NoCertificatesPresented => format!("--cert {cert}: no certificate in it"),
        // Key loading: "failed to parse private key as RSA, ECDSA, or EdDSA".
        rustls::Error::General(_) => format!(
            "--key {key}: not a private key rustls can use (RSA, ECDSA P-256/P-384 or Ed25519)"
        ),
        other => format!("--cert {cert} and --key {key}: {}", handshake_reason(other)),
    })
}

/// A PEM file's defect, as a reason (pki-types' own texts print bytes as number lists).
fn pem_reason(error: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error as Pem;
    match error {
        Pem::MissingSectionEnd { .. } => "a PEM section has no END line (is the file cut short?)",
        Pem::IllegalSectionStart { .. } => "a malformed -----BEGIN line",
        Pem::Base64Decode(_) => "a PEM section is not valid base64",
        Pem::NoItemsFound => "no PEM item in it",
        Pem::SectionTooLarge => "a PEM section is too large",
        Pem::Io(error) => return crate::outcome::io_reason(error),
        _ => "not a readable PEM file",
    }
    .into()
}

/// A check's TLS, prepared once while parsing: the client configuration and the name the
/// server's certificate must be valid for (also sent as SNI). Every check that speaks TLS
/// on the shared stream (redis, mysql, grpc, amqp) holds one.
#[derive(Clone, Debug)]
#[cfg_attr(
    not(any(feature = "redis", feature = "grpc", feature = "amqp")),
    allow(dead_code)
)]
pub struct Setup {
    pub config: Arc<ClientConfig>,
    pub name: ServerName<'static>,
}

#[cfg_attr(
    not(any(feature = "redis", feature = "grpc", feature = "amqp")),
    allow(dead_code)
)]
impl Setup {
    /// From a check's `--ca-file`, `--cert` and `--key`, verified fully against `name`, or
    /// not at all when `insecure`; `alpn` names the protocols to offer (grpc: `h2`).
    pub fn from_files(
        name: &str,
        ca_file: Option<&Path>,
        cert: Option<&Path>,
        key: Option<&Path>,
        insecure: bool,
        alpn: &[&[u8]],
    ) -> Result<Setup, UsageError> {
        let roots = load_roots(ca_file)?;
        let identity = load_identity(cert, key)?;
        let verify = if insecure {
            Verify::Nothing
        } else {
            Verify::Full
        };
        let mut config = client_config(&roots, verify, identity.as_ref())?;
        config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
        let name = ServerName::try_from(name.to_string())
            .map_err(|_| UsageError::new(format!("{name:?} cannot be a TLS server name")))?;
        Ok(Setup {
            config: Arc::new(config),
            name,
        })
    }
}

/// A rustls client configuration for checks that take one (postgres, redis).
pub fn client_config(
    roots: &Roots,
    verify: Verify,
    identity: Option<&Identity>,
) -> Result<ClientConfig, UsageError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|error| UsageError::new(format!("TLS setup: {}", handshake_reason(&error))))?;
    let store = Arc::new(root_store(roots));
    let builder = match verify {
        Verify::Full => builder.with_root_certificates(store),
        Verify::ChainOnly => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ChainOnly {
                roots: store,
                provider,
            })),
        Verify::Nothing => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider))),
    };
    match identity {
        // load_identity has built this pair once already and said what was wrong with it.
        Some(identity) => builder
            .with_client_auth_cert(identity.chain.clone(), identity.key.clone_key())
            .map_err(|error| {
                UsageError::new(format!("--cert and --key: {}", handshake_reason(&error)))
            }),
        None => Ok(builder.with_no_client_auth()),
    }
}

fn root_store(roots: &Roots) -> RootCertStore {
    match roots {
        Roots::WebPki => RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        },
        Roots::Custom(certs) => {
            let mut store = RootCertStore::empty();
            store.add_parsable_certificates(certs.iter().cloned());
            store
        }
    }
}

/// The rustls error somewhere in an error's `source()` chain (libraries wrap it in
/// io::Error, in their own errors, or both).
pub fn rustls_cause<'a>(error: &'a (dyn Error + 'static)) -> Option<&'a rustls::Error> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(found) = error.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            if let Some(found) = io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                return Some(found);
            }
        }
        current = error.source();
    }
    None
}

/// A handshake failure as a verdict: certificate problems are fatal (waiting does not
/// fix an unknown issuer or a wrong name); other TLS failures may be passing.
///
/// Every text is probe's own: rustls' `Display` prints many of its errors with `{:?}`
/// (`invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))`), which must never
/// reach a health log.
pub fn describe(error: &rustls::Error) -> Outcome {
    use rustls::AlertDescription as Alert;
    match error {
        rustls::Error::InvalidCertificate(cert) => Outcome::fatal(format!(
            "certificate rejected: {}",
            certificate_problem(cert)
        )),
        rustls::Error::AlertReceived(Alert::CertificateRequired) => Outcome::fatal(
            "TLS handshake failed: the server requires a client certificate (give one with \
             --cert and --key)",
        ),
        rustls::Error::AlertReceived(
            alert @ (Alert::BadCertificate
            | Alert::UnknownCA
            | Alert::CertificateUnknown
            | Alert::UnsupportedCertificate
            | Alert::CertificateExpired
            | Alert::AccessDenied),
        ) => Outcome::fatal(format!(
            "TLS handshake failed: the server rejected our client certificate ({}; see --cert)",
            alert_name(alert)
        )),
        other => Outcome::unhealthy(format!("TLS handshake failed: {}", handshake_reason(other))),
    }
}

/// A TLS error other than a certificate's, as a short reason.
fn handshake_reason(error: &rustls::Error) -> String {
    use rustls::Error as E;
    match error {
        E::InvalidCertificate(cert) => {
            format!("certificate rejected: {}", certificate_problem(cert))
        }
        E::AlertReceived(alert) => format!("the server sent alert {}", alert_name(alert)),
        E::InvalidMessage(kind) => {
            format!("the peer does not speak TLS ({})", debug_words(kind))
        }
        E::InappropriateMessage { .. } | E::InappropriateHandshakeMessage { .. } => {
            "the peer broke the TLS handshake (a message out of place)".into()
        }
        E::PeerIncompatible(why) => format!(
            "the server and probe have no TLS version, cipher or group in common ({})",
            debug_words(why)
        ),
        E::PeerMisbehaved(why) => format!("the peer broke the TLS protocol ({})", debug_words(why)),
        E::NoCertificatesPresented => "the server presented no certificate".into(),
        E::NoApplicationProtocol => {
            "the server agrees to none of the protocols offered (ALPN)".into()
        }
        E::InconsistentKeys(_) => "the client key does not fit the client certificate".into(),
        E::InvalidCertRevocationList(why) => {
            format!("invalid certificate revocation list ({})", debug_words(why))
        }
        E::InvalidEncryptedClientHello(why) => {
            format!("encrypted client hello failed ({})", debug_words(why))
        }
        E::General(text) => crate::outcome::lowercase_first(text),
        E::Other(other) => {
            crate::outcome::lowercase_first(&debug_words_or_text(&other.to_string()))
        }
        // The rest print plain sentences of their own ("cannot decrypt peer's message").
        other => other.to_string(),
    }
}

/// What is wrong with a certificate (the server's, or the one `--cert` names).
fn certificate_problem(error: &CertificateError) -> String {
    use CertificateError as C;
    match error {
        C::UnknownIssuer => "unknown issuer (no trusted CA signed it: give the certificate of \
                             the CA that did with --ca-file)"
            .into(),
        C::NotValidForName => "not valid for this name".into(),
        C::NotValidForNameContext {
            expected,
            presented,
        } => format!(
            "not valid for name {} ({})",
            server_name_text(expected),
            match presented
                .iter()
                .filter_map(|name| presented_name(name))
                .collect::<Vec<_>>()
            {
                names if names.is_empty() => "it names no host: no DNS or IP subjectAltName".into(),
                names => format!("it names {}", names.join(", ")),
            }
        ),
        C::Expired => "expired".into(),
        C::ExpiredContext { not_after, .. } => format!(
            "expired on {} (renew it, or check this machine's clock)",
            utc_date(not_after.as_secs())
        ),
        C::NotValidYet => "not valid yet (check the clocks)".into(),
        C::NotValidYetContext { not_before, .. } => format!(
            "not valid before {} (check the clocks)",
            utc_date(not_before.as_secs())
        ),
        C::Revoked => "revoked".into(),
        C::BadSignature => "bad signature (its issuer's key did not sign it)".into(),
        C::BadEncoding => "it cannot be parsed (bad DER encoding)".into(),
        C::UnhandledCriticalExtension => "it has a critical extension rustls does not know".into(),
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
            "its extended key usage does not allow this use (a server certificate needs \
             serverAuth, a client certificate clientAuth)"
                .into()
        }
        #[allow(deprecated)]
        C::UnsupportedSignatureAlgorithm
        | C::UnsupportedSignatureAlgorithmContext { .. }
        | C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            "signed with an algorithm rustls does not support (it takes ECDSA, Ed25519 and RSA \
             with SHA-256 or better)"
                .into()
        }
        C::Other(other) => webpki_problem(&other.to_string()),
        other => debug_words(other),
    }
}

/// webpki's errors reach rustls' callers as `CertificateError::Other`, whose text is the
/// variant's name (webpki's `Display` is its `Debug`).
fn webpki_problem(name: &str) -> String {
    match name {
        "CaUsedAsEndEntity" => "it is a CA certificate, served as the server's own (the server \
                                must serve its leaf certificate, signed by that CA; the CA \
                                goes in --ca-file)"
            .into(),
        "EndEntityUsedAsCa" => "its chain uses a leaf certificate as a CA (the issuer must be a \
                                CA certificate)"
            .into(),
        "UnsupportedCertVersion" => "it is an X.509 v1 certificate (rustls needs v3)".into(),
        "PathLenConstraintViolated" | "MaximumPathDepthExceeded" => {
            "its chain is longer than its CAs allow".into()
        }
        "NameConstraintViolation" => "its names are outside what its CA may sign".into(),
        other => debug_words_or_text(other),
    }
}

/// `FooBarBaz` or `FooBar(…)` (a Debug text) as "foo bar baz"; any other text unchanged.
fn debug_words_or_text(text: &str) -> String {
    let head = text.split(['(', ' ', '{']).next().unwrap_or("");
    let rest = &text[head.len()..];
    let is_debug = head.starts_with(|c: char| c.is_ascii_uppercase())
        && head.chars().all(|c| c.is_ascii_alphanumeric())
        && (rest.is_empty() || rest.starts_with('(') || rest.starts_with(" {"));
    if is_debug {
        let mut words = String::new();
        for (index, c) in head.chars().enumerate() {
            if c.is_ascii_uppercase() && index > 0 {
                words.push(' ');
            }
            words.push(c.to_ascii_lowercase());
        }
        if let Some(number) = text
            .strip_prefix(head)
            .and_then(|rest| rest.strip_prefix('('))
            .and_then(|rest| rest.strip_suffix(')'))
            .filter(|inner| inner.chars().all(|c| c.is_ascii_digit()))
        {
            words.push(' ');
            words.push_str(number);
        }
        words
    } else {
        text.to_string()
    }
}

/// A fieldless (or nearly) library enum as words: `InvalidContentType` -> "invalid content type".
fn debug_words(value: &dyn std::fmt::Debug) -> String {
    debug_words_or_text(&format!("{value:?}"))
}

/// A name of the certificate as webpki reports it, `DnsName("db")` or `IpAddress(10.0.0.1)`,
/// as a host: `db`, `10.0.0.1` (other kinds of names cannot match a host).
fn presented_name(debug: &str) -> Option<&str> {
    if let Some(dns) = debug.strip_prefix("DnsName(\"") {
        return dns.strip_suffix("\")");
    }
    debug.strip_prefix("IpAddress(")?.strip_suffix(')')
}

fn server_name_text(name: &ServerName<'_>) -> String {
    match name {
        ServerName::DnsName(dns) => dns.as_ref().to_string(),
        ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        _ => "this name".into(),
    }
}

fn alert_name(alert: &rustls::AlertDescription) -> String {
    // "BadCertificate" -> "bad_certificate", the name in the TLS specification.
    match alert {
        rustls::AlertDescription::Unknown(code) => format!("number {code}"),
        known => debug_words(known).replace(' ', "_"),
    }
}

/// Seconds since 1970 as `2020-01-01 00:00 UTC` (Howard Hinnant's civil-from-days).
fn utc_date(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let minutes = (seconds % 86_400) / 60;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        minutes / 60,
        minutes % 60
    )
}

/// Checks the chain to a trusted root but not the name (libpq's `verify-ca`). rustls's
/// own chain check, without the name check and without the CRL support that
/// `WebPkiServerVerifier`'s builder compiles in (about 20 KB of the binary).
#[derive(Debug)]
struct ChainOnly {
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = ParsedCertificate::try_from(end_entity)?;
        verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Accepts any certificate; handshake signatures are still checked, so the peer must
/// at least hold the key of the certificate it shows.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
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
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_names_follow_the_spec() {
        assert_eq!(
            alert_name(&rustls::AlertDescription::BadCertificate),
            "bad_certificate"
        );
    }

    #[test]
    fn library_debug_names_become_words() {
        assert_eq!(
            debug_words(&rustls::InvalidMessage::InvalidContentType),
            "invalid content type"
        );
        assert_eq!(
            alert_name(&rustls::AlertDescription::Unknown(201)),
            "number 201"
        );
        assert_eq!(debug_words_or_text("no such thing"), "no such thing");
        assert_eq!(
            webpki_problem("MaximumSignatureChecksExceeded"),
            "maximum signature checks exceeded"
        );
    }

    #[test]
    fn presented_names_are_hosts() {
        assert_eq!(
            presented_name("DnsName(\"db.example\")"),
            Some("db.example")
        );
        assert_eq!(presented_name("IpAddress(10.0.0.1)"), Some("10.0.0.1"));
        assert_eq!(presented_name("DirectoryName"), None);
    }

    #[test]
    fn dates_are_utc() {
        assert_eq!(utc_date(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_date(1_577_836_800), "2020-01-01 00:00 UTC");
        assert_eq!(utc_date(951_782_400 + 86_399), "2000-02-29 23:59 UTC");
    }

    #[test]
    fn certificate_errors_are_fatal_with_a_reason() {
        let outcome = describe(&rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ));
        assert!(outcome.is_fatal());
        assert!(outcome.detail.contains("unknown issuer"));
    }
}
