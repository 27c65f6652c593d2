//! The one way a protocol check talks to a server: a byte stream over TCP, a Unix socket
//! or TLS that carries its check's [`Deadline`] and gives every blocking system call only
//! the time that is left (the socket timeout is set before each connect, read and write,
//! and before each socket read or write of every TLS handshake step and TLS record).
//! A peer that trickles one byte a second therefore cannot keep any step alive past the
//! deadline: there is no loop that is given one timeout and then reads as long as bytes
//! arrive (rustls' `complete_io` is such a loop, so it is not used).
//!
//! The API, all a check needs:
//!
//! ```text
//! let mut stream = Stream::tcp(host, port, &deadline)?;        // resolve + connect (net.rs)
//! let mut stream = Stream::unix(path, &deadline)?;             // bounded, even with a full backlog
//! let mut stream = stream.into_tls(config, name, &deadline)?;  // handshake, step by step
//! stream.write_all(b"PING\r\n")?; stream.read(&mut buf)?;     // std Read/Write, each call bounded
//! stream.set_deadline(other);                                  // a later phase with its own budget
//! stream.close(true);                                          // close_notify, FIN, no RST
//! ```
//!
//! Constructors and the handshake answer with an [`Outcome`] whose reason names the phase
//! ("timed out after 2s during TLS handshake", "connection refused (/run/db.sock)", a
//! certificate reason from [`crate::tls::describe`]). Reads and writes answer with an
//! `io::Error` (`TimedOut` once the deadline has passed; a rustls error inside
//! `InvalidData`), which [`failure`] turns into a reason for the phase the caller names.
//! A reply's size is the caller's business: read into a bounded buffer, never to the end.

// Slim builds (http only, tcp only) use only part of it.
#![cfg_attr(not(any(feature = "postgres", feature = "redis")), allow(dead_code))]

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crate::deadline::Deadline;
use crate::net;
use crate::outcome::Outcome;

/// How long the TLS close_notify may take when the deadline has no time left for it.
#[cfg(feature = "tls")]
const CLOSE_GRACE: Duration = Duration::from_millis(50);

pub struct Stream {
    socket: Socket,
    #[cfg(feature = "tls")]
    tls: Option<Box<rustls::ClientConnection>>,
    deadline: Deadline,
}

enum Socket {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    /// Resolves `host` and connects to the first address that accepts, within the deadline.
    pub fn tcp(host: &str, port: u16, deadline: &Deadline) -> Result<Stream, Outcome> {
        let addrs = net::resolve(host, port, deadline)?;
        let tcp = net::connect(&addrs, deadline)?;
        Ok(Stream::from_tcp(tcp, deadline))
    }

    /// A TCP connection made elsewhere (with [`net::connect_first`]), with Nagle off: probe
    /// writes whole requests and waits for the answer.
    pub fn from_tcp(tcp: TcpStream, deadline: &Deadline) -> Stream {
        let _ = tcp.set_nodelay(true);
        Stream::new(Socket::Tcp(tcp), deadline)
    }

    /// A Unix socket connected elsewhere (with [`connect_unix`]), read and written within
    /// the deadline like every stream.
    #[cfg(feature = "http")]
    pub fn from_unix(unix: UnixStream, deadline: &Deadline) -> Stream {
        Stream::new(Socket::Unix(unix), deadline)
    }

    /// Connects to a Unix socket within the deadline: a server whose listen queue is full
    /// makes this time out instead of blocking.
    pub fn unix(path: &Path, deadline: &Deadline) -> Result<Stream, Outcome> {
        match connect_unix(path, deadline) {
            Ok(unix) => Ok(Stream::new(Socket::Unix(unix), deadline)),
            Err(error) if is_timeout(&error) => {
                Err(deadline.timed_out(&format!("connecting to {}", path.display())))
            }
            Err(error) => Err(Outcome::unhealthy(format!(
                "{} ({})",
                crate::outcome::io_reason(&error),
                path.display()
            ))),
        }
    }

    fn new(socket: Socket, deadline: &Deadline) -> Stream {
        Stream {
            socket,
            #[cfg(feature = "tls")]
            tls: None,
            deadline: *deadline,
        }
    }

    /// Over TLS, the certificates the server presented (its own first); `None` without TLS.
    /// For SCRAM channel binding (tls-server-end-point).
    #[cfg(feature = "tls")]
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub fn peer_certificates(&self) -> Option<&[rustls::pki_types::CertificateDer<'static>]> {
        let conn = self.tls.as_ref()?;
        Some(conn.peer_certificates().unwrap_or(&[]))
    }

    /// Over TLS, the application protocol the server chose by ALPN (`None`: it chose none,
    /// or there is no TLS).
    #[cfg(feature = "tls")]
    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.tls.as_ref()?.alpn_protocol()
    }

    /// The TCP socket's descriptor, for socket options (keepalive); `None` on a Unix socket.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub fn tcp_fd(&self) -> Option<std::os::fd::RawFd> {
        match &self.socket {
            Socket::Tcp(tcp) => Some(tcp.as_raw_fd()),
            Socket::Unix(_) => None,
        }
    }

    /// Reads what has arrived, at most `most` bytes, onto the end of `buffer`: the number
    /// read (never 0), or the error, `UnexpectedEof` when the server closed. For the
    /// protocol readers that keep a buffer (redis, postgres, amqp).
    #[cfg_attr(
        not(any(
            feature = "postgres",
            feature = "redis",
            feature = "amqp",
            feature = "mongodb",
            feature = "kafka"
        )),
        allow(dead_code)
    )]
    pub fn read_into(&mut self, buffer: &mut Vec<u8>, most: usize) -> io::Result<usize> {
        let start = buffer.len();
        // Zeroed by memset: `resize` writes the bytes one at a time at opt-level "z", which
        // was 49k instructions for a read of 8 KiB, more than the rest of a login.
        buffer.reserve(most);
        // SAFETY: `reserve` made room for `most` more bytes; they are all written (zeroed)
        // before the length covers them.
        unsafe {
            buffer.as_mut_ptr().add(start).write_bytes(0, most);
            buffer.set_len(start + most);
        }
        let read = loop {
            match self.read(&mut buffer[start..]) {
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        buffer.truncate(start + *read.as_ref().unwrap_or(&0));
        match read {
            Ok(0) => Err(io::ErrorKind::UnexpectedEof.into()),
            other => other,
        }
    }

    /// Reads more of a length-prefixed message into `buffer`: once its `length` is known,
    /// what it still needs, into room made once for exactly that (growing by doubling would
    /// cost twice), else a first 4 KiB; at most 64 KiB a read. `buffer` holds less than
    /// `length`.
    #[cfg(any(feature = "mongodb", feature = "kafka"))]
    fn read_message_part(
        &mut self,
        buffer: &mut Vec<u8>,
        length: Option<usize>,
    ) -> io::Result<usize> {
        let wanted = match length {
            Some(length) => {
                let missing = length.saturating_sub(buffer.len());
                buffer.reserve_exact(missing);
                missing
            }
            None => 4096,
        };
        self.read_into(buffer, wanted.clamp(1, 1 << 16))
    }

    /// From now on, reads and writes are bounded by `deadline` (a query after the login,
    /// a closing grace).
    pub fn set_deadline(&mut self, deadline: Deadline) {
        self.deadline = deadline;
    }

    /// [`Stream::set_deadline`] for the next step of a request and its reply (`name`), or
    /// the deadline's verdict when it has passed already.
    #[cfg(any(feature = "mongodb", feature = "kafka"))]
    fn arm_for(&mut self, name: &str, deadline: &Deadline) -> Result<(), Outcome> {
        if deadline.expired() {
            return Err(deadline.timed_out(&format!("waiting for the reply to {name}")));
        }
        self.set_deadline(*deadline);
        Ok(())
    }

    /// The TLS handshake as a client, one socket read or write at a time, each given the
    /// time left; then the stream speaks TLS. Failures are named "during TLS handshake".
    #[cfg(feature = "tls")]
    pub fn into_tls(
        mut self,
        config: std::sync::Arc<rustls::ClientConfig>,
        name: rustls::pki_types::ServerName<'static>,
        deadline: &Deadline,
    ) -> Result<Stream, Outcome> {
        const PHASE: &str = "during TLS handshake";
        self.deadline = *deadline;
        let mut conn =
            rustls::ClientConnection::new(config, name).map_err(|e| crate::tls::describe(&e))?;
        let mut io = Armed {
            socket: &mut self.socket,
            deadline: &self.deadline,
        };
        while conn.is_handshaking() {
            let step = if conn.wants_write() {
                conn.write_tls(&mut io).map(drop)
            } else {
                match conn.read_tls(&mut io) {
                    Ok(0) => Err(io::ErrorKind::UnexpectedEof.into()),
                    Ok(_) => conn.process_new_packets().map(drop).map_err(|error| {
                        // Tell the server why (an alert), without waiting for it.
                        let _ = conn.write_tls(&mut io);
                        tls_error(error)
                    }),
                    Err(error) => Err(error),
                }
            };
            match step {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(failure(error, deadline, PHASE)),
            }
        }
        flush_tls(&mut conn, &mut io).map_err(|error| failure(error, deadline, PHASE))?;
        self.tls = Some(Box::new(conn));
        Ok(self)
    }

    /// Ends the connection: TLS close_notify (within what is left of the deadline, or a
    /// short grace), then FIN. With `drain`, unread bytes already received are read first,
    /// so that Linux does not answer the close with a reset that servers log: within the
    /// same deadline (or grace) and a byte cap, so a flood cannot hold the close.
    #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
    pub fn close(mut self, drain: bool) {
        #[cfg(feature = "tls")]
        if let Some(mut conn) = self.tls.take() {
            if self.deadline.expired() {
                self.deadline = Deadline::start(CLOSE_GRACE);
            }
            conn.send_close_notify();
            let mut io = Armed {
                socket: &mut self.socket,
                deadline: &self.deadline,
            };
            let _ = flush_tls(&mut conn, &mut io);
        }
        match self.socket {
            Socket::Tcp(tcp) if drain => net::close_gracefully(tcp, &self.deadline),
            Socket::Tcp(tcp) => drop(tcp),
            Socket::Unix(unix) => {
                let _ = unix.shutdown(Shutdown::Write);
            }
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut io = Armed {
            socket: &mut self.socket,
            deadline: &self.deadline,
        };
        #[cfg(feature = "tls")]
        if let Some(conn) = self.tls.as_mut() {
            return read_tls(conn, &mut io, buf);
        }
        io.read(buf)
    }
}

/// Plaintext from TLS records, reading the socket (each read armed) until some arrives.
#[cfg(feature = "tls")]
fn read_tls(
    conn: &mut rustls::ClientConnection,
    io: &mut Armed,
    buf: &mut [u8],
) -> io::Result<usize> {
    loop {
        match conn.reader().read(buf) {
            Ok(n) => return Ok(n),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(error) => return Err(error),
        }
        flush_tls(conn, io)?;
        // At the end of the stream rustls records it; the reader then says whether the
        // server closed cleanly (Ok(0)) or not (UnexpectedEof).
        conn.read_tls(io)?;
        conn.process_new_packets().map_err(tls_error)?;
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut io = Armed {
            socket: &mut self.socket,
            deadline: &self.deadline,
        };
        #[cfg(feature = "tls")]
        if let Some(conn) = self.tls.as_mut() {
            let n = conn.writer().write(buf)?;
            flush_tls(conn, &mut io)?;
            return Ok(n);
        }
        io.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The socket, with the time left on the deadline set before every read and write.
struct Armed<'a> {
    socket: &'a mut Socket,
    deadline: &'a Deadline,
}

impl Armed<'_> {
    fn left(&self) -> io::Result<Duration> {
        self.deadline
            .remaining()
            .ok_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "the deadline has passed"))
    }
}

impl Read for Armed<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = Some(self.left()?);
        match self.socket {
            Socket::Tcp(tcp) => {
                tcp.set_read_timeout(left)?;
                tcp.read(buf)
            }
            Socket::Unix(unix) => {
                unix.set_read_timeout(left)?;
                unix.read(buf)
            }
        }
    }
}

impl Write for Armed<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = Some(self.left()?);
        match self.socket {
            Socket::Tcp(tcp) => {
                tcp.set_write_timeout(left)?;
                tcp.write(buf)
            }
            Socket::Unix(unix) => {
                unix.set_write_timeout(left)?;
                unix.write(buf)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Sends what rustls has queued (handshake messages, records, alerts).
#[cfg(feature = "tls")]
fn flush_tls(conn: &mut rustls::ClientConnection, io: &mut Armed) -> io::Result<()> {
    while conn.wants_write() {
        match conn.write_tls(io) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

#[cfg(feature = "tls")]
fn tls_error(error: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}

fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// An I/O error of a stream as a verdict for `phase` ("during startup"): TLS problems
/// through [`crate::tls::describe`] (certificate problems are fatal), timeouts as the
/// deadline's, the rest as short network reasons.
#[cfg_attr(not(feature = "tls"), allow(dead_code))] // the handshake's; new checks' too
pub fn failure(error: io::Error, deadline: &Deadline, phase: &str) -> Outcome {
    #[cfg(feature = "tls")]
    if let Some(tls) = crate::tls::rustls_cause(&error) {
        return crate::tls::describe(tls);
    }
    match error.kind() {
        _ if is_timeout(&error) => deadline.timed_out(phase),
        io::ErrorKind::UnexpectedEof => {
            Outcome::unhealthy(format!("connection closed by the server {phase}"))
        }
        _ => Outcome::unhealthy(format!("{} {phase}", crate::outcome::io_reason(&error))),
    }
}

/// A Unix-socket connect bounded by the deadline. Linux makes a blocking connect to a
/// socket whose listen queue is full wait for room, up to the socket's send timeout
/// (SO_SNDTIMEO), then fail with EAGAIN: so the timeout is set on the socket before
/// connecting. (std's `UnixStream::connect` has no way to set it first.)
pub fn connect_unix(path: &Path, deadline: &Deadline) -> io::Result<UnixStream> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    // SAFETY: sockaddr_un is plain old data; all zeroes is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    if bytes.len() >= addr.sun_path.len() || bytes.contains(&0) || bytes.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "path too long for a Unix socket",
        ));
    }
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (to, from) in addr.sun_path.iter_mut().zip(bytes) {
        *to = *from as libc::c_char;
    }
    let length = (std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1) as libc::socklen_t;
    // SAFETY: a plain socket(2) call; the descriptor is owned by `unix` right away.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh socket that nothing else owns.
    let unix = unsafe { UnixStream::from_raw_fd(fd) };
    loop {
        let left = deadline
            .remaining()
            .ok_or_else(|| io::Error::from(io::ErrorKind::TimedOut))?;
        unix.set_write_timeout(Some(left))?;
        // SAFETY: `addr` is a valid sockaddr_un of `length` bytes; `fd` is open.
        let rc = unsafe {
            libc::connect(
                unix.as_raw_fd(),
                (&addr as *const libc::sockaddr_un).cast(),
                length,
            )
        };
        if rc == 0 {
            return Ok(unix);
        }
        let error = io::Error::last_os_error();
        match error.kind() {
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::WouldBlock => return Err(io::ErrorKind::TimedOut.into()),
            _ => return Err(error),
        }
    }
}

/// A stream that carries length-prefixed messages (MongoDB's wire protocol, Kafka's): a
/// request written and one whole reply read, each step within the deadline, the reply
/// read into a buffer of its exact size.
#[cfg(any(feature = "mongodb", feature = "kafka"))]
pub struct MessageStream {
    pub stream: Stream,
    /// What has arrived and is not yet a whole message.
    buffer: Vec<u8>,
    /// The peer closed the connection (checks explain a close: a TLS or SASL listener, a
    /// server too old for the request).
    pub closed: bool,
    /// What reasons call the peer: "server", "broker".
    peer: &'static str,
}

#[cfg(any(feature = "mongodb", feature = "kafka"))]
impl MessageStream {
    pub fn new(stream: Stream, peer: &'static str) -> MessageStream {
        MessageStream {
            stream,
            buffer: Vec::new(),
            closed: false,
            peer,
        }
    }

    /// Writes `request` and reads one whole reply. `length_of` reads the length of the
    /// message at the start of what has arrived: `None` while it cannot tell yet, an
    /// error for one that the protocol or the check's bound refuses. `name` says what the
    /// request was in reasons; it never holds a request's bytes, so no password leaks.
    pub fn exchange(
        &mut self,
        request: &[u8],
        name: &str,
        deadline: &Deadline,
        length_of: impl Fn(&[u8]) -> Result<Option<usize>, Outcome>,
    ) -> Result<Vec<u8>, Outcome> {
        self.stream.arm_for(name, deadline)?;
        self.stream
            .write_all(request)
            .and_then(|()| self.stream.flush())
            .map_err(|error| self.failure(error, name, deadline))?;
        loop {
            let length = length_of(&self.buffer)?;
            if let Some(length) = length.filter(|length| self.buffer.len() >= *length) {
                let rest = self.buffer.split_off(length);
                return Ok(std::mem::replace(&mut self.buffer, rest));
            }
            self.stream.arm_for(name, deadline)?;
            self.stream
                .read_message_part(&mut self.buffer, length)
                .map_err(|error| self.failure(error, name, deadline))?;
        }
    }

    fn failure(&mut self, error: io::Error, name: &str, deadline: &Deadline) -> Outcome {
        let (outcome, closed) = reply_failure(error, self.peer, name, deadline);
        self.closed |= closed;
        outcome
    }
}

/// An I/O error during the request and reply `name` with a `peer` ("server", "broker") as a
/// verdict: TLS problems through `tls::describe`, timeouts as the deadline's, the rest as
/// short network reasons; and whether the peer closed the connection (checks explain a
/// close: a TLS or SASL listener, a server too old for the request).
#[cfg(any(feature = "mongodb", feature = "kafka"))]
fn reply_failure(error: io::Error, peer: &str, name: &str, deadline: &Deadline) -> (Outcome, bool) {
    #[cfg(feature = "tls")]
    if let Some(tls) = crate::tls::rustls_cause(&error) {
        return (crate::tls::describe(tls), false);
    }
    match error.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => (
            deadline.timed_out(&format!("waiting for the reply to {name}")),
            false,
        ),
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::BrokenPipe => (
            Outcome::unhealthy(format!("connection closed by the {peer} during {name}")),
            true,
        ),
        _ => (
            Outcome::unhealthy(format!(
                "{} during {name}",
                crate::outcome::io_reason(&error)
            )),
            false,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    #[test]
    fn a_full_unix_backlog_times_out() {
        let dir = std::env::temp_dir().join(format!("probe-stream-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("full.sock");
        let _ = std::fs::remove_file(&path);
        // SAFETY: listen(2) on a socket we own, to shrink its backlog to nothing.
        let listener = UnixListener::bind(&path).unwrap();
        unsafe { libc::listen(listener.as_raw_fd(), 0) };
        let mut held = Vec::new();
        let started = std::time::Instant::now();
        let outcome = loop {
            let deadline = Deadline::start(Duration::from_millis(200));
            match Stream::unix(&path, &deadline) {
                Ok(stream) => held.push(stream),
                Err(outcome) => break outcome,
            }
            assert!(held.len() < 64, "the backlog never filled");
        };
        assert!(outcome
            .detail
            .starts_with("timed out after 200ms connecting to"));
        assert!(started.elapsed() < Duration::from_secs(2));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_socket_is_named() {
        let deadline = Deadline::start(Duration::from_secs(1));
        let error = Stream::unix(Path::new("/nonexistent/probe.sock"), &deadline)
            .err()
            .unwrap();
        assert_eq!(
            error.detail,
            "no such file or directory (/nonexistent/probe.sock)"
        );
    }
}
