//! One scripted fake peer for what a real server cannot be made to do on demand: accept and
//! say nothing, trickle a TLS record one byte at a time, flood, send garbage or a huge
//! length prefix, or never accept at all (a full listen backlog).
//!
//! Canned protocol replies too (57P03, LOADING, a 1040 greeting, an AMQP 1.0 header): every
//! protocol's tests script their fakes here rather than hand-rolling a server.
//!
//! A [`Peer`] listens on 127.0.0.1 or a Unix socket and plays a script of [`Step`]s on a
//! thread, for one connection, for each of a few connections in turn ([`Peer::series`]) or
//! ([`Peer::each`]) for every connection. [`Peer::finish`] stops what is still running
//! (silence, trickle, flood), joins the thread and fails the test if an expectation did not
//! hold or a scripted connection never came; dropping a peer joins it without failing.
//!
//! [`Peer::tls`] plays its script over TLS (the test PKI's server certificate, the ALPN
//! protocols it is given): for what a real TLS server will not do, such as choosing no
//! ALPN protocol and speaking HTTP/2 anyway.
//!
//! ```text
//! let peer = Peer::tcp(vec![Step::Expect(b"*1\r\n$4\r\nPING\r\n".to_vec()), Step::Send(b"+PONG\r\n".to_vec())]);
//! probe(&["redis", &format!("redis://127.0.0.1:{}", peer.port())]).code(0);
//! peer.finish();
//! ```

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// One step of a script, played in order on an accepted connection.
#[derive(Clone, Debug)]
pub enum Step {
    /// Read exactly these bytes; anything else fails the test.
    Expect(Vec<u8>),
    /// Read what the client sends first (at least one byte), whatever it is.
    Receive,
    /// Read one whole message framed as `Frame` says; its body must start with these bytes
    /// (none: any body).
    Message(Frame, Vec<u8>),
    /// Read exactly this many bytes, whatever they are (a MySQL SSLRequest).
    Skip(usize),
    /// Send these bytes.
    Send(Vec<u8>),
    /// Send these bytes one at a time, `every` apart, until done or the client hangs up.
    Trickle(Vec<u8>, Duration),
    /// Send this chunk again and again until the client hangs up.
    Flood(Vec<u8>),
    /// Send nothing and keep the connection open until the client hangs up (the last step).
    Silent,
    /// Shut down the sending half (the client reads end of file) and keep reading until the
    /// client hangs up (the last step): what was sent is read, never lost to a reset.
    Shutdown,
    /// Close the connection.
    Close,
}

/// How the client frames the message a [`Step::Message`] reads.
#[derive(Clone, Copy, Debug)]
pub enum Frame {
    /// PostgreSQL's untagged startup messages (SSLRequest, StartupMessage): a 4-byte
    /// big-endian length that counts itself.
    Startup,
    /// MySQL packets: a 3-byte little-endian length of the payload, then a sequence number.
    Mysql,
}

/// The commonest canned answer: read the request, send `reply`, then shut down the sending
/// half (the client reads `reply` and end of file, never a reset).
pub fn replies(reply: impl Into<Vec<u8>>) -> Vec<Step> {
    vec![Step::Receive, Step::Send(reply.into()), Step::Shutdown]
}

/// A canned answer to a greeting the client sends first: read exactly `expect`, send `reply`,
/// then hold the connection until the client hangs up.
pub fn answers(expect: &[u8], reply: &[u8]) -> Vec<Step> {
    vec![
        Step::Expect(expect.to_vec()),
        Step::Send(reply.to_vec()),
        Step::Silent,
    ]
}

/// A TLS handshake record header announcing 16 KiB, as a server answering ClientHello
/// would start: what follows is trickled.
pub const TLS_RECORD_HEADER: &[u8] = &[0x16, 0x03, 0x03, 0x40, 0x00];

/// How long an expectation waits for the client before failing the test.
const EXPECT_LIMIT: Duration = Duration::from_secs(10);

trait Conn: Read + Write + Send {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
    fn shutdown_write(&self) -> io::Result<()>;
}

impl Conn for TcpStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
    fn shutdown_write(&self) -> io::Result<()> {
        self.shutdown(std::net::Shutdown::Write)
    }
}

impl Conn for UnixStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        UnixStream::set_read_timeout(self, timeout)
    }
    fn shutdown_write(&self) -> io::Result<()> {
        self.shutdown(std::net::Shutdown::Write)
    }
}

type TlsConn = rustls::StreamOwned<rustls::ServerConnection, TcpStream>;

impl Conn for TlsConn {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.sock.set_read_timeout(timeout)
    }
    fn shutdown_write(&self) -> io::Result<()> {
        self.sock.shutdown(std::net::Shutdown::Write)
    }
}

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
    Tls(TcpListener, Arc<rustls::ServerConfig>),
}

impl Listener {
    fn accept(&self) -> io::Result<Box<dyn Conn>> {
        Ok(match self {
            Listener::Tcp(tcp) => Box::new(tcp.accept()?.0),
            Listener::Unix(unix) => Box::new(unix.accept()?.0),
            Listener::Tls(tcp, config) => {
                let (stream, _) = tcp.accept()?;
                stream.set_nonblocking(false)?;
                let server = rustls::ServerConnection::new(config.clone())
                    .map_err(|error| io::Error::other(error.to_string()))?;
                Box::new(TlsConn::new(server, stream))
            }
        })
    }

    fn set_nonblocking(&self) {
        match self {
            Listener::Tcp(tcp) | Listener::Tls(tcp, _) => tcp.set_nonblocking(true).unwrap(),
            Listener::Unix(unix) => unix.set_nonblocking(true).unwrap(),
        }
    }
}

/// A TLS server configuration with the test PKI's server certificate (`localhost`,
/// `127.0.0.1`), offering `alpn` (none: the server chooses no protocol).
pub fn tls_config(alpn: &[&[u8]]) -> Arc<rustls::ServerConfig> {
    let (certs, key) = super::pki::pki().server.chain_and_key();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
    Arc::new(config)
}

pub struct Peer {
    port: u16,
    path: Option<PathBuf>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

impl Peer {
    /// Plays `script` on the first connection to 127.0.0.1:[`Peer::port`].
    pub fn tcp(script: Vec<Step>) -> Peer {
        Peer::start(tcp_listener(), None, vec![script], false)
    }

    /// Plays `scripts[n]` on the n-th connection to 127.0.0.1:[`Peer::port`] (a client that
    /// reconnects: a TLS attempt, then plain text), then accepts no more.
    pub fn series(scripts: Vec<Vec<Step>>) -> Peer {
        assert!(!scripts.is_empty(), "a series of no scripts");
        Peer::start(tcp_listener(), None, scripts, false)
    }

    /// Plays `script` over TLS ([`tls_config`]) on the first connection to
    /// 127.0.0.1:[`Peer::port`].
    pub fn tls(config: Arc<rustls::ServerConfig>, script: Vec<Step>) -> Peer {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        Peer::start(Listener::Tls(tcp, config), None, vec![script], false)
    }

    /// Plays `script` on the first connection to the Unix socket `path`.
    pub fn unix(path: &Path, script: Vec<Step>) -> Peer {
        Peer::start(unix_listener(path), Some(path), vec![script], false)
    }

    /// Plays `script` on every connection (retrying clients: wait-for, check), each on its
    /// own thread.
    pub fn each(listener_path: Option<&Path>, script: Vec<Step>) -> Peer {
        let listener = match listener_path {
            Some(path) => unix_listener(path),
            None => tcp_listener(),
        };
        Peer::start(listener, listener_path, vec![script], true)
    }

    /// Connection n plays `scripts[n]` (`each`: the last one again for every later one).
    fn start(listener: Listener, path: Option<&Path>, scripts: Vec<Vec<Step>>, each: bool) -> Peer {
        let port = match &listener {
            Listener::Tcp(tcp) | Listener::Tls(tcp, _) => tcp.local_addr().unwrap().port(),
            Listener::Unix(_) => 0,
        };
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            listener.set_nonblocking();
            let mut played = Vec::new();
            loop {
                let conn = match listener.accept() {
                    Ok(conn) => conn,
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                        if stopped.load(Ordering::Relaxed) {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                    Err(error) => return Err(format!("accept: {error}")),
                };
                let script = scripts[played.len().min(scripts.len() - 1)].clone();
                let stopped = stopped.clone();
                played.push(std::thread::spawn(move || play(conn, &script, &stopped)));
                if !each && played.len() == scripts.len() {
                    break;
                }
            }
            if !each && played.len() < scripts.len() {
                return Err(format!(
                    "{} of {} scripted connections came",
                    played.len(),
                    scripts.len()
                ));
            }
            for thread in played {
                thread
                    .join()
                    .map_err(|_| "the script panicked".to_string())??;
            }
            Ok(())
        });
        Peer {
            port,
            path: path.map(Path::to_path_buf),
            stop,
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn path(&self) -> &Path {
        self.path.as_deref().expect("a Unix-socket peer")
    }

    /// Stops silence, trickles and floods, joins the peer and fails the test if one of its
    /// expectations did not hold (or, but for [`Peer::each`], a scripted connection never
    /// came).
    #[track_caller]
    pub fn finish(mut self) {
        if let Err(reason) = self.join() {
            panic!("fake peer: {reason}");
        }
    }

    fn join(&mut self) -> Result<(), String> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take() {
            Some(thread) => thread.join().map_err(|_| "the peer panicked".to_string())?,
            None => Ok(()),
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.join();
    }
}

fn tcp_listener() -> Listener {
    Listener::Tcp(TcpListener::bind("127.0.0.1:0").unwrap())
}

fn unix_listener(path: &Path) -> Listener {
    let _ = std::fs::remove_file(path);
    Listener::Unix(UnixListener::bind(path).unwrap())
}

fn play(mut conn: Box<dyn Conn>, script: &[Step], stop: &AtomicBool) -> Result<(), String> {
    for (index, step) in script.iter().enumerate() {
        let failed = |what: String| format!("step {index} ({step:?}): {what}");
        match step {
            Step::Expect(bytes) => {
                conn.set_read_timeout(Some(EXPECT_LIMIT)).unwrap();
                let mut got = vec![0u8; bytes.len()];
                conn.read_exact(&mut got)
                    .map_err(|error| failed(error.to_string()))?;
                if &got != bytes {
                    return Err(failed(format!("got {:?}", String::from_utf8_lossy(&got))));
                }
            }
            Step::Receive => {
                conn.set_read_timeout(Some(EXPECT_LIMIT)).unwrap();
                let mut buffer = [0u8; 4096];
                match conn.read(&mut buffer) {
                    Ok(0) => return Err(failed("the client hung up".into())),
                    Ok(_) => {}
                    Err(error) => return Err(failed(error.to_string())),
                }
            }
            Step::Message(frame, starts) => {
                conn.set_read_timeout(Some(EXPECT_LIMIT)).unwrap();
                let read = |conn: &mut Box<dyn Conn>, len: usize| -> Result<Vec<u8>, String> {
                    let mut bytes = vec![0u8; len];
                    conn.read_exact(&mut bytes)
                        .map_err(|error| failed(error.to_string()))?;
                    Ok(bytes)
                };
                let length = match frame {
                    Frame::Startup => {
                        let head = read(&mut conn, 4)?;
                        let length = u32::from_be_bytes(head.try_into().unwrap()) as usize;
                        length
                            .checked_sub(4)
                            .ok_or_else(|| failed(format!("a length of {length}")))?
                    }
                    Frame::Mysql => {
                        let head = read(&mut conn, 4)?;
                        u32::from_le_bytes([head[0], head[1], head[2], 0]) as usize
                    }
                };
                let body = read(&mut conn, length)?;
                if !body.starts_with(starts) {
                    return Err(failed(format!("got {:?}", String::from_utf8_lossy(&body))));
                }
            }
            Step::Skip(count) => {
                conn.set_read_timeout(Some(EXPECT_LIMIT)).unwrap();
                let mut buffer = vec![0u8; *count];
                if let Err(error) = conn.read_exact(&mut buffer) {
                    return Err(failed(error.to_string()));
                }
            }
            Step::Send(bytes) => {
                if conn.write_all(bytes).is_err() {
                    return Ok(());
                }
            }
            Step::Trickle(bytes, every) => {
                for byte in bytes {
                    if stop.load(Ordering::Relaxed) || conn.write_all(&[*byte]).is_err() {
                        return Ok(());
                    }
                    std::thread::sleep(*every);
                }
            }
            Step::Flood(chunk) => {
                while !stop.load(Ordering::Relaxed) {
                    if conn.write_all(chunk).is_err() {
                        return Ok(());
                    }
                }
            }
            Step::Silent => {
                hold(&mut conn, stop);
                return Ok(());
            }
            Step::Shutdown => {
                let _ = conn.shutdown_write();
                hold(&mut conn, stop);
                return Ok(());
            }
            Step::Close => return Ok(()),
        }
    }
    Ok(())
}

/// Reads and drops what the client sends until it hangs up or the peer is stopped.
fn hold(conn: &mut Box<dyn Conn>, stop: &AtomicBool) {
    conn.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut buffer = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        match conn.read(&mut buffer) {
            Ok(0) => return,
            Ok(_) => {}
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}

/// A listener that never accepts, its queue filled: connecting to it waits (TCP: the SYN
/// is dropped; Unix: connect blocks) until the client's own limit.
pub struct Backlog {
    pub port: u16,
    _listener: Listener,
    _held: Vec<Box<dyn Send>>,
}

impl Backlog {
    pub fn tcp() -> Backlog {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        shrink(listener.as_raw_fd());
        let mut held: Vec<Box<dyn Send>> = Vec::new();
        let addr = listener.local_addr().unwrap();
        while let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            held.push(Box::new(stream));
            assert!(held.len() < 64, "the TCP backlog never filled");
        }
        Backlog {
            port,
            _listener: Listener::Tcp(listener),
            _held: held,
        }
    }

    pub fn unix(path: &Path) -> Backlog {
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path).unwrap();
        shrink(listener.as_raw_fd());
        // Each connect that gets in stays queued (never accepted) until the queue is full.
        let mut tries = 0;
        while !unix_full(path) {
            tries += 1;
            assert!(tries < 64, "the Unix backlog never filled");
        }
        Backlog {
            port: 0,
            _listener: Listener::Unix(listener),
            _held: Vec::new(),
        }
    }
}

/// Whether a non-blocking connect to `path` would have to wait (EAGAIN).
fn unix_full(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: plain socket calls on a descriptor owned here and closed at the end.
    unsafe {
        let fd = libc::socket(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        );
        let mut addr: libc::sockaddr_un = std::mem::zeroed();
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (to, from) in addr.sun_path.iter_mut().zip(path.as_os_str().as_bytes()) {
            *to = *from as libc::c_char;
        }
        let rc = libc::connect(
            fd,
            (&addr as *const libc::sockaddr_un).cast(),
            std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
        );
        let full = rc != 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock;
        if rc == 0 {
            // It got in: it stays queued, its descriptor kept open until the test ends.
            return false;
        }
        libc::close(fd);
        full
    }
}

/// A listen queue of (almost) nothing.
fn shrink(fd: i32) {
    // SAFETY: listen(2) again on a listening socket only changes its backlog.
    assert_eq!(unsafe { libc::listen(fd, 0) }, 0);
}
