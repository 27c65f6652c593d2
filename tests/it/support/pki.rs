//! A test PKI generated once per test run: a CA, a server certificate for localhost /
//! 127.0.0.1 / ::1, a client certificate, and the certificates that must be rejected
//! (another CA, a wrong name, an expired one). Files live in a temp dir for servers
//! (postgres, redis-server) and for probe's --ca-file / --cert / --key.

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

    Pki {
        _dir: dir,
        ca,
        other_ca,
        server,
        client,
        wrong_name,
        expired,
    }
}

fn new_ca(name: &str) -> (CertificateParams, KeyPair) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    (params, KeyPair::generate().unwrap())
}
