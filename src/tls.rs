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
        .map_err(|error| UsageError::new(format!("--ca-file {}: {error}", path.display())))?;
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
        .map_err(|error| UsageError::new(format!("--cert {}: {error}", cert_path.display())))?;
    if chain.is_empty() {
        return usage(format!(
            "--cert {}: no PEM certificate in it",
            cert_path.display()
        ));
    }
    let key_pem = read("--key", key_path)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|error| UsageError::new(format!("--key {}: {error}", key_path.display())))?;
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
        .map_err(|error| {
            UsageError::new(format!("--cert and --key do not fit together: {error}"))
        })?;
    Ok(Some(identity))
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
        .map_err(|error| UsageError::new(format!("TLS setup: {error}")))?;
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
        Some(identity) => builder
            .with_client_auth_cert(identity.chain.clone(), identity.key.clone_key())
            .map_err(|error| UsageError::new(format!("--cert and --key: {error}"))),
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
pub fn describe(error: &rustls::Error) -> Outcome {
    use rustls::AlertDescription as Alert;
    match error {
        rustls::Error::InvalidCertificate(cert) => Outcome::fatal(certificate_reason(cert)),
        rustls::Error::AlertReceived(
            alert @ (Alert::BadCertificate
            | Alert::CertificateRequired
            | Alert::UnknownCA
            | Alert::CertificateUnknown
            | Alert::UnsupportedCertificate
            | Alert::CertificateExpired
            | Alert::AccessDenied),
        ) => Outcome::fatal(format!(
            "TLS handshake failed: the server rejected our certificate ({})",
            alert_name(alert)
        )),
        rustls::Error::AlertReceived(alert) => Outcome::unhealthy(format!(
            "TLS handshake failed: the server sent alert {}",
            alert_name(alert)
        )),
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            Outcome::unhealthy(format!(
                "TLS handshake failed: the peer does not speak TLS ({error})"
            ))
        }
        other => Outcome::unhealthy(format!("TLS handshake failed: {other}")),
    }
}

fn certificate_reason(error: &CertificateError) -> String {
    match error {
        CertificateError::UnknownIssuer => {
            "certificate rejected: unknown issuer (not signed by a trusted CA; see --ca-file)"
                .into()
        }
        CertificateError::NotValidForName => "certificate not valid for this name".into(),
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => format!(
            "certificate not valid for name {} (it is for {})",
            server_name_text(expected),
            presented.join(", ")
        ),
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "certificate rejected: expired".into()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "certificate rejected: not valid yet (check the clocks)".into()
        }
        CertificateError::Revoked => "certificate rejected: revoked".into(),
        CertificateError::BadSignature => "certificate rejected: bad signature".into(),
        other => format!("certificate rejected: {other:?}"),
    }
}

fn server_name_text(name: &ServerName<'_>) -> String {
    match name {
        ServerName::DnsName(dns) => dns.as_ref().to_string(),
        ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        other => format!("{other:?}"),
    }
}

fn alert_name(alert: &rustls::AlertDescription) -> String {
    // "BadCertificate" -> "bad_certificate", the name in the TLS specification.
    let mut name = String::new();
    for (index, c) in format!("{alert:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && index > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_lowercase());
    }
    name
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
    fn certificate_errors_are_fatal_with_a_reason() {
        let outcome = describe(&rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ));
        assert!(outcome.is_fatal());
        assert!(outcome.detail.contains("unknown issuer"));
    }
}
