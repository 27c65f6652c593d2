//! A test PKI generated once per test run: a CA, a server certificate for localhost /
//! 127.0.0.1 / ::1, a client certificate, and the certificates that must be rejected
//! (another CA, a wrong name, an expired one, an X.509 v1 client certificate). Files live
//! in a temp dir for servers (postgres, redis-server) and for probe's --ca-file / --cert /
//! --key.

use std::path::PathBuf;
use std::sync::OnceLock;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

pub struct Pem {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub cert_pem: String,
    pub key_pem: String,
}

impl Pem {
    /// The certificate chain and the private key, parsed for a rustls server.
    pub fn chain_and_key(
        &self,
    ) -> (
        Vec<rustls::pki_types::CertificateDer<'static>>,
        rustls::pki_types::PrivateKeyDer<'static>,
    ) {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let chain = CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
            .map(Result::unwrap)
            .collect();
        (
            chain,
            PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).unwrap(),
        )
    }
}

pub struct Pki {
    _dir: tempfile::TempDir,
    /// The CA that signed `server`, `client`, `wrong_name` and `expired`.
    pub ca: Pem,
    /// An unrelated CA: trusting only it must reject `server`.
    pub other_ca: Pem,
    /// Valid for localhost, 127.0.0.1 and ::1.
    pub server: Pem,
    /// A client certificate for mutual TLS (CN probe-client).
    pub client: Pem,
    /// Valid only for wrong.example.
    pub wrong_name: Pem,
    /// Valid for localhost but expired in 2020.
    pub expired: Pem,
    /// A self-signed X.509 v1 certificate (no extensions) and its key: rustls refuses it
    /// as a client certificate.
    pub client_v1: Pem,
}

/// The shared test PKI.
pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(generate)
}

fn generate() -> Pki {
    let dir = tempfile::tempdir().expect("pki dir");
    let write = |name: &str, cert_pem: String, key_pem: String| {
        let cert = dir.path().join(format!("{name}.crt"));
        let key = dir.path().join(format!("{name}.key"));
        std::fs::write(&cert, &cert_pem).unwrap();
        std::fs::write(&key, &key_pem).unwrap();
        // Servers such as postgres refuse keys readable by others.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        Pem {
            cert,
            key,
            cert_pem,
            key_pem,
        }
    };

    let (ca_params, ca_key) = new_ca("probe test CA");
    let ca_cert = ca_params.clone().self_signed(&ca_key).unwrap();
    let ca = write("ca", ca_cert.pem(), ca_key.serialize_pem());
    let issuer = Issuer::new(ca_params, ca_key);

    let (other_params, other_key) = new_ca("unrelated CA");
    let other_cert = other_params.self_signed(&other_key).unwrap();
    let other_ca = write("other-ca", other_cert.pem(), other_key.serialize_pem());

    let leaf = |names: &[&str], purpose: ExtendedKeyUsagePurpose, expired: bool| {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.distinguished_name.push(DnType::CommonName, names[0]);
        params.extended_key_usages = vec![purpose];
        if expired {
            params.not_before = rcgen::date_time_ymd(2019, 1, 1);
            params.not_after = rcgen::date_time_ymd(2020, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    };

    let server_names = ["localhost", "127.0.0.1", "::1"];
    let (cert, key) = leaf(&server_names, ExtendedKeyUsagePurpose::ServerAuth, false);
    let server = write("server", cert, key);
    let (cert, key) = leaf(
        &["probe-client"],
        ExtendedKeyUsagePurpose::ClientAuth,
        false,
    );
    let client = write("client", cert, key);
    let (cert, key) = leaf(
        &["wrong.example"],
        ExtendedKeyUsagePurpose::ServerAuth,
        false,
    );
    let wrong_name = write("wrong-name", cert, key);
    let (cert, key) = leaf(&server_names, ExtendedKeyUsagePurpose::ServerAuth, true);
    let expired = write("expired", cert, key);

    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "probe-client-v1");
    let key = KeyPair::generate().unwrap();
    let v3 = params.self_signed(&key).unwrap();
    let client_v1 = write(
        "client-v1",
        pem("CERTIFICATE", &as_v1(v3.der(), &key)),
        key.serialize_pem(),
    );

    Pki {
        _dir: dir,
        ca,
        other_ca,
        server,
        client,
        wrong_name,
        expired,
        client_v1,
    }
}

/// The same certificate as X.509 v1: the TBSCertificate without its version ([0]) and
/// extensions ([3]), signed again by `key`. rcgen writes only v3.
fn as_v1(der: &[u8], key: &KeyPair) -> Vec<u8> {
    use rcgen::SigningKey;
    let (_, certificate) = tlv(der);
    let (tbs_len, tbs) = tlv(certificate);
    let tbs_total = tbs_len;
    let algorithm_total = tlv(&certificate[tbs_total..]).0;
    let algorithm = &certificate[tbs_total..tbs_total + algorithm_total];
    let mut fields = Vec::new();
    let mut rest = tbs;
    while !rest.is_empty() {
        let total = tlv(rest).0;
        if rest[0] != 0xa0 && rest[0] != 0xa3 {
            fields.extend_from_slice(&rest[..total]);
        }
        rest = &rest[total..];
    }
    let tbs_v1 = wrap(0x30, &fields);
    let mut signature = vec![0];
    signature.extend(key.sign(&tbs_v1).unwrap());
    wrap(
        0x30,
        &[tbs_v1, algorithm.to_vec(), wrap(0x03, &signature)].concat(),
    )
}

/// A DER element's whole length and its contents.
fn tlv(der: &[u8]) -> (usize, &[u8]) {
    let (header, length) = match der[1] {
        short @ 0..=0x7f => (2, short as usize),
        long => {
            let count = (long & 0x7f) as usize;
            let length = der[2..2 + count]
                .iter()
                .fold(0, |sum, byte| sum << 8 | *byte as usize);
            (2 + count, length)
        }
    };
    (header + length, &der[header..header + length])
}

fn wrap(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let length = contents.len();
    if length < 0x80 {
        out.push(length as u8);
    } else {
        let bytes: Vec<u8> = length
            .to_be_bytes()
            .into_iter()
            .skip_while(|byte| *byte == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(contents);
    out
}

fn pem(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::new();
    for chunk in der.chunks(3) {
        let bits = chunk
            .iter()
            .enumerate()
            .fold(0u32, |sum, (i, byte)| sum | (*byte as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                text.push(ALPHABET[(bits >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                text.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in text.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out + &format!("-----END {label}-----\n")
}

fn new_ca(name: &str) -> (CertificateParams, KeyPair) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    (params, KeyPair::generate().unwrap())
}
