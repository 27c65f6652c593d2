//! The exchange against real servers (memcached, memcached over TLS, ZooKeeper, aiosmtpd's
//! SMTP server), each on a free port in a temp dir and killed on drop, and against scripted
//! peers for what no real server does on demand: silence, a trickle, an endless stream,
//! binary garbage, an instant close.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::*;

const HOST: &str = "127.0.0.1";

fn dialog(banner: Option<&str>, send: Option<&str>, expect: Option<&str>) -> Dialog {
    Dialog::new(banner, send, expect).unwrap().unwrap()
}

/// The exchange with `127.0.0.1:port`, plain TCP, and how long it took.
fn talk(port: u16, dialog: &Dialog, budget: Duration) -> (Outcome, Duration) {
    let deadline = Deadline::start(budget);
    let outcome = exchange(
        HOST,
        port,
        #[cfg(feature = "tls")]
        None,
        Some(dialog),
        &deadline,
    );
    (outcome, deadline.elapsed())
}

#[track_caller]
fn healthy(outcome: &Outcome, detail: &str) {
    assert!(outcome.is_healthy(), "{outcome:?}");
    assert!(outcome.detail.starts_with(detail), "{outcome:?}");
}

#[track_caller]
fn unhealthy(outcome: &Outcome, detail: &str) {
    assert_eq!(
        outcome.verdict,
        crate::outcome::Verdict::Unhealthy,
        "{outcome:?}"
    );
    assert!(outcome.detail.starts_with(detail), "{outcome:?}");
    assert!(
        outcome.detail.chars().all(|c| !c.is_control()),
        "control character in {outcome:?}"
    );
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((HOST, 0)).unwrap();
    listener.local_addr().unwrap().port()
}

/// A server process, killed on drop.
struct Server {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Server {
    /// Starts `program` (its output to `server.log` in `dir`) and waits up to `limit` for
    /// `ready`.
    fn start(
        program: &str,
        args: &[&str],
        port: u16,
        dir: tempfile::TempDir,
        limit: Duration,
        ready: impl Fn(u16) -> bool,
    ) -> Server {
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let child = Command::new(program)
            .args(args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| panic!("start {program} (is it installed?): {error}"));
        let mut server = Server { child, port, dir };
        let started = Instant::now();
        while !ready(port) {
            let log = std::fs::read_to_string(server.dir.path().join("server.log"));
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("{program} exited ({status}): {}", log.unwrap_or_default());
            }
            assert!(
                started.elapsed() < limit,
                "{program} not ready after {limit:?}: {}",
                log.unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn listens(port: u16) -> bool {
    TcpStream::connect((HOST, port)).is_ok()
}

/// What a server answers to `request` within a second (for readiness polls).
fn raw(port: u16, request: &[u8]) -> Vec<u8> {
    let Ok(mut stream) = TcpStream::connect((HOST, port)) else {
        return Vec::new();
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let _ = stream.write_all(request);
    let mut reply = Vec::new();
    let _ = stream.take(1024).read_to_end(&mut reply);
    reply
}

fn memcached(extra: &[&str]) -> Server {
    let port = free_port();
    let port_text = port.to_string();
    let mut args = vec!["-l", HOST, "-p", &port_text, "-U", "0", "-m", "16"];
    // memcached refuses to run as root unless told which user to be.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        args.extend(["-u", "root"]);
    }
    args.extend(extra);
    let dir = tempfile::tempdir().unwrap();
    Server::start(
        "memcached",
        &args,
        port,
        dir,
        Duration::from_secs(10),
        listens,
    )
}

#[test]
fn memcached_answers_version_and_is_not_waited_on() {
    let server = memcached(&[]);
    let (outcome, took) = talk(
        server.port,
        &dialog(None, Some(r"version\r\n"), Some("VERSION")),
        Duration::from_secs(5),
    );
    healthy(&outcome, r#"reply "VERSION 1."#);
    assert!(outcome.detail.ends_with(r#"\r\n""#), "{outcome:?}");
    // memcached keeps the connection open: the reply is judged when it holds the text.
    assert!(took < Duration::from_secs(1), "{took:?}");
}

#[test]
fn memcached_without_the_expected_text_times_out_showing_its_reply() {
    let server = memcached(&[]);
    let (outcome, took) = talk(
        server.port,
        &dialog(None, Some(r"version\r\n"), Some("imok")),
        Duration::from_millis(500),
    );
    unhealthy(
        &outcome,
        r#"timed out after 500ms waiting for "imok" in the reply (got "VERSION 1."#,
    );
    assert!(took < Duration::from_millis(1500), "{took:?}");
}

/// ZooKeeper from Debian's `zookeeper` package, standalone, with only `ruok` and `srvr`
/// allowed.
fn zookeeper() -> Server {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let config = dir.path().join("zoo.cfg");
    std::fs::write(
        &config,
        format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress={HOST}\n\
             4lw.commands.whitelist=ruok, srvr\nadmin.enableServer=false\n",
            data.display()
        ),
    )
    .unwrap();
    let tmp = format!("-Djava.io.tmpdir={}", dir.path().display());
    let args = [
        "-Xmx256m",
        &tmp,
        "-cp",
        "/usr/share/java/zookeeper.jar",
        "org.apache.zookeeper.server.ZooKeeperServerMain",
        config.to_str().unwrap(),
    ];
    Server::start("java", &args, port, dir, Duration::from_secs(30), |port| {
        raw(port, b"ruok") == b"imok"
    })
}

#[test]
fn zookeeper_answers_ruok_srvr_and_refuses_what_is_not_allowed() {
    let server = zookeeper();
    let (outcome, _) = talk(
        server.port,
        &dialog(None, Some("ruok"), Some("imok")),
        Duration::from_secs(5),
    );
    healthy(&outcome, r#"reply "imok""#);
    // `imok` comes before ZooKeeper serves: right after it, `srvr` may still answer "This
    // ZooKeeper instance is not currently serving requests" (seen here). `srvr` with
    // `Mode:` is the stronger check; it holds within a few seconds.
    let srvr = dialog(None, Some("srvr"), Some("Mode: standalone"));
    let started = Instant::now();
    loop {
        let (outcome, _) = talk(server.port, &srvr, Duration::from_secs(5));
        if outcome.is_healthy() {
            healthy(&outcome, r#"reply "Zookeeper version: 3."#);
            break;
        }
        unhealthy(
            &outcome,
            r#"expected "Mode: standalone", got "This ZooKeeper instance is not currently"..."#,
        );
        assert!(started.elapsed() < Duration::from_secs(20), "{outcome:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // `conf` is not in the whitelist: ZooKeeper says so and closes.
    let (outcome, took) = talk(
        server.port,
        &dialog(None, Some("conf"), Some("clientPort")),
        Duration::from_secs(5),
    );
    unhealthy(
        &outcome,
        r#"expected "clientPort", got "conf is not executed because it is not i"..."#,
    );
    assert!(
        outcome
            .detail
            .ends_with("(connection closed by the server)"),
        "{outcome:?}"
    );
    assert!(took < Duration::from_secs(2), "{took:?}");
}

/// aiosmtpd (PyPI), a real SMTP server: `220 ...` banner, `221 Bye` to QUIT.
fn smtp() -> Server {
    let port = free_port();
    let listen = format!("{HOST}:{port}");
    let args = ["-m", "aiosmtpd", "-n", "-l", &listen];
    let dir = tempfile::tempdir().unwrap();
    Server::start(
        "python3",
        &args,
        port,
        dir,
        Duration::from_secs(15),
        listens,
    )
}

#[test]
fn smtp_banner_then_quit() {
    let server = smtp();
    let (outcome, _) = talk(
        server.port,
        &dialog(Some("220 "), Some(r"QUIT\r\n"), Some("221")),
        Duration::from_secs(5),
    );
    healthy(&outcome, r#"banner "220 "#);
    assert!(
        outcome.detail.ends_with(r#", reply "221 Bye\r\n""#),
        "{outcome:?}"
    );

    // A banner alone, and QUIT sent without waiting for an answer.
    let (outcome, _) = talk(
        server.port,
        &dialog(Some("220"), Some(r"QUIT\r\n"), None),
        Duration::from_secs(5),
    );
    healthy(&outcome, r#"banner "220 "#);
    assert!(
        outcome.detail.ends_with("sent 6 bytes, no reply expected"),
        "{outcome:?}"
    );

    // The wrong banner: the server waits for a command, so the deadline ends it.
    let (outcome, took) = talk(
        server.port,
        &dialog(Some("554"), Some(r"QUIT\r\n"), None),
        Duration::from_millis(500),
    );
    unhealthy(
        &outcome,
        r#"timed out after 500ms waiting for "554" in the banner (got "220 "#,
    );
    assert!(took < Duration::from_millis(1500), "{took:?}");
}

#[cfg(feature = "tls")]
mod tls {
    use super::*;
    use std::path::Path;

    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

    /// A CA and a server certificate for 127.0.0.1 and localhost, as PEM files in `dir`:
    /// (ca.crt, server.crt, server.key).
    fn certificates(dir: &Path) -> [String; 3] {
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, "dialog CA");
        let ca_key = KeyPair::generate().unwrap();
        let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
        let issuer = Issuer::new(ca, ca_key);
        let leaf = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
        let key = KeyPair::generate().unwrap();
        let leaf_pem = leaf.signed_by(&key, &issuer).unwrap().pem();
        let files = [
            ("ca.crt", ca_pem),
            ("server.crt", leaf_pem),
            ("server.key", key.serialize_pem()),
        ];
        files.map(|(name, pem)| {
            let path = dir.join(name);
            std::fs::write(&path, pem).unwrap();
            path.to_str().unwrap().to_string()
        })
    }

    fn tls_talk(port: u16, setup: &TlsSetup, dialog: Option<&Dialog>) -> Outcome {
        let deadline = Deadline::start(Duration::from_secs(5));
        exchange(HOST, port, Some(setup), dialog, &deadline)
    }

    #[test]
    fn memcached_over_tls() {
        let pki = tempfile::tempdir().unwrap();
        let [ca, cert, key] = certificates(pki.path());
        let options = format!("ssl_chain_cert={cert},ssl_key={key}");
        let server = memcached(&["-Z", "-o", &options]);
        let setup = TlsSetup::from_files(HOST, Some(ca.as_ref()), None, None, false, &[]).unwrap();
        let version = dialog(None, Some(r"version\r\n"), Some("VERSION"));
        let outcome = tls_talk(server.port, &setup, Some(&version));
        healthy(&outcome, r#"reply "VERSION 1."#);
        assert!(outcome.detail.ends_with(" (over TLS)"), "{outcome:?}");
        healthy(&tls_talk(server.port, &setup, None), "TLS handshake done");

        // Trusting only the webpki roots, the test CA is unknown: fatal.
        let webpki = TlsSetup::from_files(HOST, None, None, None, false, &[]).unwrap();
        let outcome = tls_talk(server.port, &webpki, Some(&version));
        assert!(outcome.is_fatal(), "{outcome:?}");
        assert!(outcome
            .detail
            .starts_with("certificate rejected: unknown issuer"));
        // -k: encrypted, not authenticated.
        let insecure = TlsSetup::from_files(HOST, None, None, None, true, &[]).unwrap();
        healthy(
            &tls_talk(server.port, &insecure, Some(&version)),
            r#"reply "VERSION"#,
        );
    }

    #[test]
    fn tls_to_a_plain_server_fails_the_handshake() {
        let server = memcached(&[]);
        let setup = TlsSetup::from_files(HOST, None, None, None, true, &[]).unwrap();
        let version = dialog(None, Some(r"version\r\n"), Some("VERSION"));
        let outcome = tls_talk(server.port, &setup, Some(&version));
        assert!(!outcome.is_healthy(), "{outcome:?}");
        assert!(outcome.detail.contains("TLS"), "{outcome:?}");
    }
}

/// A scripted peer on a free port: accepts one connection and runs `script` on it with a
/// receiver that says "stop" (sent on drop). Scripts end by themselves within seconds.
struct Peer {
    port: u16,
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Peer {
    fn start(script: impl FnOnce(TcpStream, &Receiver<()>) + Send + 'static) -> Peer {
        let listener = TcpListener::bind((HOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(5) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        return script(stream, &stopped);
                    }
                    Err(_) => match stopped.recv_timeout(Duration::from_millis(10)) {
                        Err(RecvTimeoutError::Timeout) => {}
                        _ => return,
                    },
                }
            }
        });
        Peer {
            port,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Waits for "stop", at most `most`; true when told to stop (or the test is gone).
fn told_to_stop(stop: &Receiver<()>, most: Duration) -> bool {
    !matches!(stop.recv_timeout(most), Err(RecvTimeoutError::Timeout))
}

const MARGIN: Duration = Duration::from_millis(700);

#[test]
fn a_silent_peer_is_held_to_the_deadline() {
    let peer = Peer::start(|_stream, stop| {
        told_to_stop(stop, Duration::from_secs(5));
    });
    let budget = Duration::from_millis(300);
    let (outcome, took) = talk(peer.port, &dialog(None, Some("ruok"), Some("imok")), budget);
    unhealthy(
        &outcome,
        r#"timed out after 300ms waiting for "imok" in the reply (got "")"#,
    );
    assert!(took < budget + MARGIN, "{took:?}");
    let (outcome, took) = talk(peer.port, &dialog(Some("220"), None, None), budget);
    assert!(!outcome.is_healthy());
    assert!(took < budget + MARGIN, "{took:?}");
}

#[test]
fn a_trickle_is_held_to_the_deadline() {
    let peer = Peer::start(|mut stream, stop| {
        for byte in b"abcdefghijklmnopqrstuvwxyz".iter().cycle().take(100) {
            if stream.write_all(&[*byte]).is_err() || told_to_stop(stop, Duration::from_millis(100))
            {
                return;
            }
        }
    });
    let budget = Duration::from_millis(550);
    let (outcome, took) = talk(peer.port, &dialog(None, None, Some("imok")), budget);
    unhealthy(
        &outcome,
        r#"timed out after 550ms waiting for "imok" in the reply (got "abcde"#,
    );
    assert!(took < budget + MARGIN, "{took:?}");
}

/// Writes `x` without end until the reader goes away (or 64 MiB, or 10 s).
fn flood(mut stream: TcpStream, stop: &Receiver<()>) {
    let chunk = [b'x'; 4096];
    let started = Instant::now();
    for _ in 0..16 * 1024 {
        if stream.write_all(&chunk).is_err()
            || started.elapsed() > Duration::from_secs(10)
            || !matches!(stop.try_recv(), Err(mpsc::TryRecvError::Empty))
        {
            return;
        }
    }
}

#[test]
fn an_endless_stream_is_judged_at_the_bound() {
    let peer = Peer::start(flood);
    let (outcome, took) = talk(
        peer.port,
        &dialog(None, Some(r"stats\r\n"), Some("END")),
        Duration::from_secs(5),
    );
    unhealthy(
        &outcome,
        r#"reply did not contain "END" in its first 65536 bytes (first 40 bytes: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"...)"#,
    );
    assert!(took < Duration::from_secs(2), "{took:?}");

    // What is kept never passes the bound.
    let peer = Peer::start(flood);
    let deadline = Deadline::start(Duration::from_secs(5));
    let mut stream = Stream::tcp(HOST, peer.port, &deadline).unwrap();
    let (got, ended) = read_until(&mut stream, b"END");
    assert!(matches!(ended, Ended::Full));
    assert_eq!(got.len(), MAX_REPLY);
    assert!(got.capacity() <= 2 * MAX_REPLY, "{}", got.capacity());
    stream.close(true);
}

#[test]
fn binary_garbage_is_escaped_in_the_reason() {
    let peer = Peer::start(|mut stream, _| {
        let _ = stream.write_all(b"\x16\x03\x01\x00\xa5\x1b[2J\r\n\x7f\xc3\xa9\x00 bell\x07");
    });
    let (outcome, _) = talk(
        peer.port,
        &dialog(None, None, Some("imok")),
        Duration::from_secs(5),
    );
    unhealthy(
        &outcome,
        r#"expected "imok", got "\x16\x03\x01\0\xa5\x1b[2J\r\n\x7f\xc3\xa9\0 bell\x07" (connection closed by the server)"#,
    );
}

#[test]
fn a_peer_that_closes_at_once() {
    let peer = Peer::start(|stream, _| drop(stream));
    let (outcome, _) = talk(
        peer.port,
        &dialog(None, None, Some("imok")),
        Duration::from_secs(5),
    );
    unhealthy(
        &outcome,
        r#"expected "imok", got "" (connection closed by the server)"#,
    );
    let peer = Peer::start(|stream, _| drop(stream));
    let (outcome, _) = talk(
        peer.port,
        &dialog(Some(r"220"), None, None),
        Duration::from_secs(5),
    );
    unhealthy(
        &outcome,
        r#"expected banner "220", got "" (connection closed by the server)"#,
    );
    // With --send, the close may be seen as the end of the stream or as a reset.
    let peer = Peer::start(|stream, _| drop(stream));
    let (outcome, _) = talk(
        peer.port,
        &dialog(None, Some("ruok"), Some("imok")),
        Duration::from_secs(5),
    );
    assert!(!outcome.is_healthy(), "{outcome:?}");
    assert!(outcome.detail.contains("closed") || outcome.detail.contains("reset"));
}

#[test]
fn the_banner_comes_before_what_is_sent() {
    let peer = Peer::start(|mut stream, _| {
        let _ = stream.write_all(b"+HELLO proto 1\r\n");
        let mut line = [0u8; 64];
        let n = stream.read(&mut line).unwrap_or(0);
        let _ = stream.write_all(if &line[..n] == b"PING\n" {
            b"+PONG\n"
        } else {
            b"-ERR\n"
        });
    });
    let (outcome, _) = talk(
        peer.port,
        &dialog(Some("+HELLO"), Some(r"PING\n"), Some("+PONG")),
        Duration::from_secs(5),
    );
    assert_eq!(
        outcome.detail,
        r#"banner "+HELLO proto 1\r\n", reply "+PONG\n""#
    );
}

#[test]
fn flags_are_checked_before_anything_is_probed() {
    assert_eq!(Dialog::new(None, None, None), Ok(None));
    let error = |banner, send, expect| Dialog::new(banner, send, expect).unwrap_err().0;
    assert_eq!(
        error(None, Some(r"ruok\q"), None),
        r#"--send: unknown escape \q (known: \r \n \t \0 \\ \" \xHH)"#
    );
    assert_eq!(
        error(None, None, Some(r"\x1")),
        r"--expect: bad escape \x1 (\xHH takes two hex digits)"
    );
    assert_eq!(error(Some(""), None, None), "--expect-banner is empty");
    assert_eq!(error(None, Some(""), None), "--send is empty");
    let long = "x".repeat(MAX_REPLY + 1);
    assert_eq!(
        error(None, None, Some(&long)),
        "--expect is longer than the 65536 bytes probe reads of a reply"
    );
    let ok = dialog(Some("220"), Some(r"QUIT\r\n"), Some(r"\x32\x32\x31"));
    assert_eq!(ok.send.as_deref(), Some(&b"QUIT\r\n"[..]));
    assert_eq!(ok.expect.as_deref(), Some(&b"221"[..]));
}
