//! Every error a user can meet is a sentence, never a library's debug text: certificate
//! trouble of every kind (a CA served as the server's own certificate, expired, wrong name,
//! unknown issuer, a peer that does not speak TLS, a refused client certificate, an X.509 v1
//! client certificate, a key that is not the certificate's, PEM files cut short) is played
//! against every check that speaks TLS, alone, as a `check` target and under `wait-for`, and
//! each line of output is searched for Rust debug text (`Other(`, `Foo { `, `a::B`,
//! `CamelCase` identifiers, byte lists).
//!
//! The servers are fake: a real server cannot be made to present a CA or an expired
//! certificate on demand. Each one does what the protocol asks before TLS (PostgreSQL's
//! SSLRequest answered `S`, a MySQL greeting offering TLS), then a real rustls handshake
//! with the certificate of the case.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::support::pki::{pki, Pem};
use crate::support::{probe, temp_dir, Run};

/// What a protocol does before TLS starts.
#[derive(Clone, Copy)]
enum Before {
    Nothing,
    /// Reads the 8-byte SSLRequest, answers `S`.
    Postgres,
    /// Sends a greeting offering CLIENT_SSL, reads the 36-byte SSLRequest packet.
    Mysql,
}

/// What the server does once TLS would start.
#[derive(Clone, Copy)]
enum Serve {
    /// A TLS handshake with this certificate.
    Tls(&'static Pem),
    /// The same, asking for a client certificate signed by the test CA.
    MutualTls(&'static Pem),
    /// Plain text where TLS was expected.
    NotTls,
}

/// A MySQL 8 greeting (protocol 10, CLIENT_SSL and CLIENT_PLUGIN_AUTH offered).
const MYSQL_GREETING: &[u8] = b"\x4a\0\0\0\x0a8.0.36\0\x01\0\0\0abcdefgh\0\xff\xff\x2d\x02\0\xff\xdf\x15\0\0\0\0\0\0\0\0\0\0ijklmnopqrst\0mysql_native_password\0";

/// A fake TLS server on 127.0.0.1, serving every connection until dropped.
struct Server {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(before: Before, serve: Serve) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let config = match serve {
            Serve::Tls(pem) => Some(server_config(pem, false)),
            Serve::MutualTls(pem) => Some(server_config(pem, true)),
            Serve::NotTls => None,
        };
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let config = config.clone();
                        std::thread::spawn(move || {
                            let _ = connection(stream, before, config);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Server {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn connection(
    mut stream: TcpStream,
    before: Before,
    config: Option<Arc<rustls::ServerConfig>>,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    match before {
        Before::Nothing => {}
        Before::Postgres => {
            stream.read_exact(&mut [0; 8])?;
            stream.write_all(b"S")?;
        }
        Before::Mysql => {
            stream.write_all(MYSQL_GREETING)?;
            stream.read_exact(&mut [0; 36])?;
        }
    }
    let mut buffer = [0u8; 4096];
    let Some(config) = config else {
        let _ = stream.read(&mut buffer)?;
        stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")?;
        stream.shutdown(std::net::Shutdown::Write)?;
        while stream.read(&mut buffer)? > 0 {}
        return Ok(());
    };
    let connection = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(connection, stream);
    while tls.read(&mut buffer)? > 0 {}
    Ok(())
}

fn server_config(pem: &Pem, client_auth: bool) -> Arc<rustls::ServerConfig> {
    let (certs, key) = pem.chain_and_key();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = if client_auth {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pki().ca.cert_pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                .build()
                .unwrap();
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let mut config = builder.with_single_cert(certs, key).unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(config)
}

/// A check that speaks TLS: how it is called for a server on `port`.
struct Proto {
    before: Before,
    args: fn(u16) -> Vec<String>,
}

fn protos() -> Vec<(&'static str, Proto)> {
    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|word| word.to_string()).collect()
    }
    vec![
        (
            "http",
            Proto {
                before: Before::Nothing,
                args: |port| strings(&["http", &format!("https://localhost:{port}/")]),
            },
        ),
        (
            "redis",
            Proto {
                before: Before::Nothing,
                args: |port| strings(&["redis", &format!("rediss://localhost:{port}")]),
            },
        ),
        (
            "amqp",
            Proto {
                before: Before::Nothing,
                args: |port| strings(&["amqp", &format!("amqps://localhost:{port}")]),
            },
        ),
        (
            "grpc",
            Proto {
                before: Before::Nothing,
                args: |port| strings(&["grpc", &format!("grpcs://localhost:{port}")]),
            },
        ),
        (
            "postgres",
            Proto {
                before: Before::Postgres,
                args: |port| {
                    strings(&[
                        "postgres",
                        &format!("postgres://probe@localhost:{port}/app"),
                        "--sslmode",
                        "verify-full",
                    ])
                },
            },
        ),
        (
            "mysql",
            Proto {
                before: Before::Mysql,
                args: |port| {
                    strings(&[
                        "mysql",
                        &format!("mysql://probe@localhost:{port}/"),
                        "--ssl-mode",
                        "VERIFY_IDENTITY",
                    ])
                },
            },
        ),
    ]
}

/// Where Rust debug text shows in `line`, if it does: `Ident(`, `Ident { `, `path::Item`,
/// a `CamelCase` identifier, a list of bytes.
fn debug_text(line: &str) -> Option<String> {
    // Product names are written that way; identifiers are not.
    const NAMES: &[&str] = &[
        "PostgreSQL",
        "MySQL",
        "MariaDB",
        "RabbitMQ",
        "ReadyForQuery",
    ];
    let bytes = line.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    for (at, &c) in bytes.iter().enumerate() {
        let before = at.checked_sub(1).map(|i| bytes[i]);
        let found = match c {
            b'(' => before.is_some_and(ident),
            b'{' => before == Some(b' ') && at >= 2 && ident(bytes[at - 2]),
            b':' => {
                bytes.get(at + 1) == Some(&b':')
                    && before.is_some_and(ident)
                    && line[..at]
                        .rsplit(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                        .next()
                        .is_some_and(|word| !word.chars().all(|c| c.is_ascii_hexdigit()))
            }
            b'[' => {
                let rest = &line[at + 1..];
                let digits = rest.chars().take_while(char::is_ascii_digit).count();
                digits > 0 && rest[digits..].starts_with(", ")
            }
            _ => false,
        };
        if found {
            return Some(line[at.saturating_sub(30)..(at + 10).min(line.len())].to_string());
        }
    }
    for word in line.split(|c: char| !c.is_ascii_alphanumeric() && c != '_') {
        let mut chars = word.chars();
        let camel = chars.next().is_some_and(|c| c.is_ascii_uppercase())
            && word.chars().any(|c| c.is_ascii_lowercase())
            && word.chars().skip(1).any(|c| c.is_ascii_uppercase());
        if camel && !NAMES.contains(&word) {
            return Some(word.to_string());
        }
    }
    None
}

#[test]
fn the_debug_text_finder_finds_debug_text() {
    for debug in [
        "certificate rejected: Other(OtherError(CaUsedAsEndEntity))",
        "keys may not be consistent: KeyMismatch",
        "certificate expired: ExpiredContext { time: 1 }",
        "rustls::Error",
        "missing section end marker: [45, 45, 45]",
        "got Some(1)",
    ] {
        assert!(debug_text(debug).is_some(), "{debug}");
    }
    for sentence in [
        "unhealthy (fatal): postgres postgres://probe@localhost:5432/app: certificate \
         rejected: not valid for name localhost (it names wrong.example) (2.1ms)",
        "connection refused ([::1]:5432)",
        "{\"check\":\"http\",\"detail\":\"status 503\"}",
        "the PostgreSQL server at fe80::1 answered",
    ] {
        assert_eq!(debug_text(sentence), None, "{sentence}");
    }
}

/// Runs `args` as itself, as a `check` target and (`waits`: the failure is fatal, so the
/// wait stops at once) under `wait-for`, with and without `--json`; returns every run.
fn every_way(args: &[String], waits: bool) -> Vec<(String, Run)> {
    let line = args.join(" ");
    let mut runs = Vec::new();
    let mut one = |how: Vec<String>| {
        let words: Vec<&str> = how.iter().map(String::as_str).collect();
        runs.push((how.join(" "), probe(&words)));
    };
    one(args.to_vec());
    one([args, &["--json".to_string()]].concat());
    one(vec!["check".into(), line.clone()]);
    if waits {
        one(vec![
            "wait-for".into(),
            line,
            "--timeout".into(),
            "20s".into(),
        ]);
    }
    runs
}

#[test]
fn certificate_errors_are_sentences_in_every_check() {
    let pki = pki();
    let dir = temp_dir();
    let path = |pem: &Pem| pem.cert.to_str().unwrap().to_string();
    let key = |pem: &Pem| pem.key.to_str().unwrap().to_string();
    let cut_short = dir.path().join("cut-short.pem");
    std::fs::write(&cut_short, &pki.ca.cert_pem[..pki.ca.cert_pem.len() / 2]).unwrap();
    let not_base64 = dir.path().join("not-base64.pem");
    std::fs::write(
        &not_base64,
        "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let (cut_short, not_base64) = (
        cut_short.to_str().unwrap().to_string(),
        not_base64.to_str().unwrap().to_string(),
    );
    let ca = path(&pki.ca);
    // Trusting the test CA, presenting `cert` with `key` as the client's.
    let client = |cert: String, key: String| -> Vec<String> {
        vec![
            "--ca-file".into(),
            ca.clone(),
            "--cert".into(),
            cert,
            "--key".into(),
            key,
        ]
    };

    // (what, the server, probe's extra arguments, exit code, words the output must hold)
    let cases: Vec<(&str, Serve, Vec<String>, i32, &str)> = vec![
        (
            "a CA certificate served as the server's own",
            Serve::Tls(&pki.ca),
            vec!["--ca-file".into(), ca.clone()],
            1,
            "it is a CA certificate, served as the server's own",
        ),
        (
            "an expired certificate",
            Serve::Tls(&pki.expired),
            vec!["--ca-file".into(), ca.clone()],
            1,
            "expired on 2020-01-01",
        ),
        (
            "a certificate for another name",
            Serve::Tls(&pki.wrong_name),
            vec!["--ca-file".into(), ca.clone()],
            1,
            "not valid for name localhost (it names wrong.example)",
        ),
        (
            "a certificate of an unknown CA",
            Serve::Tls(&pki.server),
            vec!["--ca-file".into(), path(&pki.other_ca)],
            1,
            "unknown issuer",
        ),
        (
            "a server that does not speak TLS",
            Serve::NotTls,
            vec![
                "--ca-file".into(),
                ca.clone(),
                "--timeout".into(),
                "3s".into(),
            ],
            1,
            "the peer does not speak TLS",
        ),
        (
            "a server that wants a client certificate",
            Serve::MutualTls(&pki.server),
            vec![
                "--ca-file".into(),
                ca.clone(),
                "--timeout".into(),
                "3s".into(),
            ],
            1,
            "the server requires a client certificate",
        ),
        (
            "an X.509 v1 client certificate",
            Serve::Tls(&pki.server),
            client(path(&pki.client_v1), key(&pki.client_v1)),
            3,
            "an X.509 v1 certificate cannot be a client certificate",
        ),
        (
            "a key that is not the certificate's",
            Serve::Tls(&pki.server),
            client(path(&pki.client), key(&pki.server)),
            3,
            "do not fit together",
        ),
        (
            "a certificate given as the key",
            Serve::Tls(&pki.server),
            client(path(&pki.client), path(&pki.client)),
            3,
            "no PEM private key",
        ),
        (
            "a CA file cut short",
            Serve::Tls(&pki.server),
            vec!["--ca-file".into(), cut_short.clone()],
            3,
            "no END line",
        ),
        (
            "a CA file that is not base64",
            Serve::Tls(&pki.server),
            vec!["--ca-file".into(), not_base64.clone()],
            3,
            "not valid base64",
        ),
    ];

    let mut lines = Vec::new();
    let mut wrong = Vec::new();
    for (name, proto) in protos() {
        for (what, serve, extra, code, says) in &cases {
            let server = Server::start(proto.before, *serve);
            let args = [(proto.args)(server.port), extra.clone()].concat();
            // Fatal failures stop a wait at once; the others would wait out --timeout.
            let waits = *code == 1 && !matches!(serve, Serve::NotTls | Serve::MutualTls(_));
            for (how, run) in every_way(&args, waits) {
                let output = run.output();
                if run.code != *code || !output.contains(says) {
                    wrong.push(format!(
                        "{name}, {what}: `probe {how}` exited {} (want {code}) without \
                         {says:?}:\n{output}",
                        run.code
                    ));
                }
                for line in output.lines() {
                    lines.push(format!("{name}, {what}: {line}"));
                }
            }
        }
    }
    let debug: Vec<String> = lines
        .iter()
        .filter_map(|line| debug_text(line).map(|found| format!("{found:?} in: {line}")))
        .collect();
    assert!(
        debug.is_empty(),
        "Rust debug text in {} of {} lines:\n{}",
        debug.len(),
        lines.len(),
        debug.join("\n")
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}
