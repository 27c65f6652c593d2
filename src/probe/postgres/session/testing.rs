//! A scripted PostgreSQL peer for the session's unit tests: what a real server cannot be
//! made to do on demand (skip SASLFinal, sign wrongly, flood, send garbage, stall), each
//! frontend message checked as it arrives. Real servers are in tests/it.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use super::message::frame;
use super::startup::SSL_REQUEST;
use super::{Server, Session, PROTOCOL_3_0};
use crate::deadline::Deadline;
use crate::probe::postgres::settings::{connection_settings, Overrides};

/// A peer that reads the startup message, then plays `script`: each step reads one
/// frontend message (checking its type and body) or sends bytes. The returned handle
/// is joined by [`Fake::done`], so a failed expectation fails the test.
pub(super) enum Step {
    Expect(u8, Vec<u8>),
    /// A message of this type, whatever its body.
    ExpectAny(u8),
    /// Reads a message of this type and answers with what the function makes of its
    /// body (SCRAM's server-first message needs the client's nonce).
    Reply(u8, fn(&[u8]) -> Vec<u8>),
    /// The client hangs up without sending anything more, and without a reset.
    ExpectEof,
    Send(Vec<u8>),
    Pause(Duration),
}

pub(super) fn backend(kind: u8, body: &[u8]) -> Step {
    Step::Send(frame(kind, body))
}

pub(super) struct Fake {
    pub(super) port: u16,
    peer: std::thread::JoinHandle<()>,
}

impl Fake {
    /// Waits for the peer to finish its script; its failed assertions fail the test.
    pub(super) fn done(self) {
        if let Err(panic) = self.peer.join() {
            std::panic::resume_unwind(panic);
        }
    }
}

pub(super) fn read_message(socket: &mut impl Read) -> (u8, Vec<u8>) {
    let mut header = [0u8; 5];
    socket.read_exact(&mut header).expect("a frontend message");
    let length = u32::from_be_bytes(header[1..].try_into().unwrap());
    let mut got = vec![0u8; length as usize - 4];
    socket.read_exact(&mut got).unwrap();
    (header[0], got)
}

pub(super) fn fake(script: Vec<Step>) -> Fake {
    fake_on(None, script)
}

/// A fake that answers the SSLRequest with 'S' and plays `script` over TLS with the
/// certificate `identity` (DER certificate, PKCS#8 key).
#[cfg(feature = "tls")]
pub(super) fn fake_tls(identity: (Vec<u8>, Vec<u8>), script: Vec<Step>) -> Fake {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let (cert, key) = identity;
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![CertificateDer::from(cert)],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
    )
    .unwrap();
    fake_on(Some(std::sync::Arc::new(config)), script)
}

#[cfg(feature = "tls")]
pub(super) type TlsConfig = Option<std::sync::Arc<rustls::ServerConfig>>;
#[cfg(not(feature = "tls"))]
pub(super) type TlsConfig = Option<()>;

pub(super) fn fake_on(tls: TlsConfig, script: Vec<Step>) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        #[cfg(feature = "tls")]
        if let Some(config) = tls {
            let mut request = [0u8; 8];
            socket.read_exact(&mut request).unwrap();
            assert_eq!(request[4..], SSL_REQUEST.to_be_bytes(), "an SSLRequest");
            socket.write_all(b"S").unwrap();
            let server = rustls::ServerConnection::new(config).unwrap();
            return play(&mut rustls::StreamOwned::new(server, socket), script);
        }
        #[cfg(not(feature = "tls"))]
        let _ = tls;
        play(&mut socket, script)
    });
    Fake { port, peer }
}

/// Reads the startup message, then plays the steps.
pub(super) fn play(socket: &mut (impl Read + Write), script: Vec<Step>) {
    let mut length = [0u8; 4];
    socket.read_exact(&mut length).unwrap();
    let mut startup = vec![0u8; u32::from_be_bytes(length) as usize - 4];
    socket.read_exact(&mut startup).unwrap();
    assert_eq!(startup[..4], PROTOCOL_3_0.to_be_bytes());
    for step in script {
        match step {
            Step::Send(bytes) => socket.write_all(&bytes).unwrap(),
            Step::Expect(kind, body) => {
                let (got_kind, got) = read_message(socket);
                assert_eq!(got_kind as char, kind as char, "message type");
                assert_eq!(got, body, "body of {}", kind as char);
            }
            Step::ExpectAny(kind) => {
                assert_eq!(read_message(socket).0 as char, kind as char);
            }
            Step::Reply(kind, answer) => {
                let (got_kind, got) = read_message(socket);
                assert_eq!(got_kind as char, kind as char, "message type");
                socket.write_all(&answer(&got)).unwrap();
            }
            Step::ExpectEof => {
                let mut rest = Vec::new();
                let end = socket.read_to_end(&mut rest);
                assert!(rest.is_empty(), "the client sent {rest:?}");
                // A FIN (after close_notify over TLS), never a reset.
                if let Err(error) = end {
                    panic!("the connection ended with {error}");
                }
            }
            Step::Pause(time) => std::thread::sleep(time),
        }
    }
}

/// `None` without TLS; over TLS, the tls-server-end-point hash of the server's
/// certificate, if its signature algorithm has one.
pub(super) fn server(port: u16, password: Option<&str>) -> Server {
    server_with(port, password, "")
}

pub(super) fn server_with(port: u16, password: Option<&str>, params: &str) -> Server {
    let password = password.map(|pw| format!(":{pw}")).unwrap_or_default();
    let url = format!("postgres://u{password}@127.0.0.1:{port}/db?sslmode=disable{params}");
    Server::new(connection_settings(Some(&url), &Overrides::default(), &|_| None).unwrap()).unwrap()
}

pub(super) fn ready() -> Vec<Step> {
    vec![
        backend(b'R', &0i32.to_be_bytes()),
        backend(b'S', b"server_version\x0015.4\0"),
        backend(b'K', &[0, 0, 0x10, 0x92, 0, 0, 0, 2]),
        backend(b'Z', b"I"),
    ]
}

/// A logged-in session with a fake server that then plays `script`.
pub(super) fn logged_in(script: Vec<Step>) -> (Session, Fake) {
    let mut steps = ready();
    steps.extend(script);
    let peer = fake(steps);
    let deadline = Deadline::start(Duration::from_secs(5));
    let session = server(peer.port, None).connect(&deadline).unwrap();
    (session, peer)
}
