//! A PostgreSQL connection bounded by a [`Deadline`]: resolve, connect, TLS, startup and
//! every query, each blocking read or write given only the time that is left (the socket
//! timeouts are set before each one), so a peer that accepts and never answers ends as
//! "timed out after 5s during startup". The TCP connect uses [`net`], so reasons match
//! every other check ("connection refused (127.0.0.1:5432)").
//!
//! The wire protocol (version 3.0) is spoken here directly on std sockets, the way the
//! Redis check speaks RESP: SSLRequest, the startup message, cleartext / MD5 /
//! SCRAM-SHA-256 logins ([`auth`]), errors and notices, simple queries with text results,
//! Terminate. TLS is `rustls::StreamOwned` with the configuration of [`crate::tls`], so
//! certificate problems get the same reasons as in every other check. Lengths from the
//! wire are not trusted: a message over 1 MiB, an unknown message type or a malformed body
//! ends the check with "not a PostgreSQL server?", never a panic.
//!
//! Why not a crate (release builds, musl, default features, same code around it):
//! tokio-postgres + tokio + tokio-postgres-rustls made 2,601,800 bytes (postgres-protocol's
//! stringprep and unicode tables, RustCrypto sha2/hmac/md-5, rand, x509 for channel
//! binding, futures); postgres-protocol alone on these std sockets (its message encoders,
//! SCRAM with SASLprep and MD5; no tokio) 2,327,336; the protocol written here 2,138,920,
//! 188 KB less than that, because SHA-256, HMAC and PBKDF2 come from ring, which rustls
//! already brings in, and only `md-5` (2 KB) is added. The price is SASLprep for
//! non-ASCII passwords: see [`auth`].
//!
//! Closing sends Terminate, so the server logs nothing and keeps no backend around.
//!
//! The session reads the way the protocol runs, one file per phase: [`startup`] (connect,
//! SSLRequest and TLS, the startup message, the server's parameters up to ReadyForQuery),
//! [`login`] (the authentication exchange; its cryptography is [`auth`]), [`query`] and
//! [`close`]; what a failure means is [`verdict`], the message formats [`message`]. This
//! file holds what every phase shares: the [`Session`] handle and the framed connection
//! (`Conn`: each read and write armed with the time left, messages split under the limits
//! below).

mod auth;
mod close;
mod login;
pub mod message;
mod query;
mod startup;
#[cfg(test)]
mod testing;
mod verdict;

pub use self::startup::{Failure, Server};

use self::message::Malformed;
use self::verdict::{garbage, io_failure};

use std::io::{self, Write};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::deadline::Deadline;
use crate::outcome::Outcome;
use crate::stream::Stream;

/// The largest message accepted (type byte and length excluded). Startup messages are
/// far smaller; a query whose first row is larger is not a health check.
const MAX_MESSAGE: usize = 1024 * 1024;

/// The most bytes read between two messages probe sends (a startup, a query's rows): a
/// peer that floods with valid small messages ends the check instead of the deadline.
const MAX_RECEIVED: usize = 16 * 1024 * 1024;

const PROTOCOL_3_0: u32 = 3 << 16;

const STARTUP: &str = "during startup";
const QUERY: &str = "during the query";

/// A logged-in connection. Dropping it closes it politely (Terminate), within a short grace.
pub struct Session {
    /// `None` once closed. A mutex, not a cell, so that a session can be shared like the
    /// client it replaces.
    conn: Mutex<Option<Conn>>,
}

impl Session {
    /// The backend process id the server announced at login (BackendKeyData). A pooler
    /// such as PgBouncer announces one of its own, which `pg_backend_pid()` then contradicts.
    pub fn announced_pid(&self) -> Option<i32> {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        conn.as_ref().and_then(|conn| conn.backend_pid)
    }

    /// TCP keepalive on the socket (idle `idle`, then probes every second, 3 lost probes
    /// end it), and TCP_USER_TIMEOUT so that unacknowledged data ends it as fast: a
    /// connection held open for a long time (migrate-then-exec's lock) notices a dead peer
    /// or a dropped NAT entry. Nothing on a Unix socket.
    pub fn keep_alive(&self, idle: Duration) -> io::Result<()> {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(fd) = conn.as_ref().and_then(|conn| conn.stream.tcp_fd()) else {
            return Ok(());
        };
        let idle = idle.as_secs().clamp(1, 3600) as libc::c_int;
        let user_timeout = (idle as libc::c_uint + 3) * 1000;
        for (level, name, value) in [
            (libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1),
            (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, idle),
            (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, 1),
            (libc::IPPROTO_TCP, libc::TCP_KEEPCNT, 3),
            (
                libc::IPPROTO_TCP,
                libc::TCP_USER_TIMEOUT,
                user_timeout as libc::c_int,
            ),
        ] {
            // SAFETY: setsockopt on a socket we own, with a valid int option value.
            let done = unsafe {
                libc::setsockopt(
                    fd,
                    level,
                    name,
                    (&value as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if done != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

/// An open connection with its read buffer.
struct Conn {
    stream: Stream,
    buffer: Vec<u8>,
    start: usize,
    /// Set after an I/O or protocol error: the stream is no longer in step with the
    /// server, so nothing more is sent but the hang-up.
    broken: bool,
    /// From BackendKeyData.
    backend_pid: Option<i32>,
    /// Bytes read since probe last sent a message (see [`MAX_RECEIVED`]).
    received: usize,
}

impl Conn {
    fn new(stream: Stream) -> Conn {
        Conn {
            stream,
            buffer: Vec::with_capacity(1024),
            start: 0,
            broken: false,
            backend_pid: None,
            received: 0,
        }
    }
    /// Bounds the next reads and writes by `deadline`, or fails if it has passed.
    fn arm(&mut self, deadline: &Deadline, phase: &str) -> Result<(), Outcome> {
        if deadline.expired() {
            self.broken = true;
            return Err(deadline.timed_out(phase));
        }
        self.stream.set_deadline(*deadline);
        Ok(())
    }

    fn failure(&mut self, error: io::Error, deadline: &Deadline, phase: &str) -> Outcome {
        self.broken = true;
        io_failure(error, deadline, phase)
    }

    fn send(&mut self, bytes: &[u8], deadline: &Deadline, phase: &str) -> Result<(), Outcome> {
        self.arm(deadline, phase)?;
        self.received = 0;
        self.stream
            .write_all(bytes)
            .and_then(|()| self.stream.flush())
            .map_err(|error| self.failure(error, deadline, phase))
    }

    /// Reads more bytes into the buffer.
    fn fill(&mut self, deadline: &Deadline, phase: &str) -> Result<(), Outcome> {
        if self.start > 0 {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        self.arm(deadline, phase)?;
        match self.stream.read_into(&mut self.buffer, 8192) {
            Ok(n) if self.received + n > MAX_RECEIVED => {
                self.broken = true;
                Err(Outcome::unhealthy(format!(
                    "not a PostgreSQL server? more than {} MiB {phase}, the most probe reads",
                    MAX_RECEIVED >> 20
                )))
            }
            Ok(n) => {
                self.received += n;
                Ok(())
            }
            Err(error) => Err(self.failure(error, deadline, phase)),
        }
    }

    /// The next message whose type is one of `expected`: its type and body. The type is
    /// checked as soon as it arrives, so a peer that is not PostgreSQL is named at once.
    fn message(
        &mut self,
        expected: &[u8],
        deadline: &Deadline,
        phase: &str,
    ) -> Result<(u8, Vec<u8>), Outcome> {
        loop {
            match message::split(&self.buffer[self.start..], expected, MAX_MESSAGE) {
                Ok(Some((tag, end))) => {
                    let body = self.buffer[self.start + 5..self.start + end].to_vec();
                    self.start += end;
                    return Ok((tag, body));
                }
                Ok(None) => self.fill(deadline, phase)?,
                Err(Malformed::Tag) => {
                    self.broken = true;
                    return Err(garbage(&self.buffer[self.start..], phase));
                }
                Err(Malformed::Length(length)) => {
                    self.broken = true;
                    return Err(Outcome::unhealthy(format!(
                        "not a PostgreSQL server? a message of {length} bytes {phase} (at most {MAX_MESSAGE} accepted)"
                    )));
                }
            }
        }
    }
    fn malformed(&mut self, phase: &str) -> Outcome {
        self.broken = true;
        Outcome::unhealthy(format!("not a PostgreSQL server? malformed reply {phase}"))
    }
}

#[cfg(test)]
mod tests {
    use super::message::frame;
    use super::testing::*;
    use super::*;

    fn data_row(value: &[u8]) -> Step {
        let mut body = vec![0, 1];
        body.extend_from_slice(&(value.len() as u32).to_be_bytes());
        body.extend_from_slice(value);
        backend(b'D', &body)
    }

    /// Rows up to MAX_MESSAGE are read, 2.5 MiB may come between two sends, and the
    /// buffer is compacted as it is read, so it holds about one message, not the reply.
    #[test]
    fn large_rows_are_read_and_the_buffer_stays_the_size_of_one() {
        let row = vec![b'x'; 512 * 1024];
        let mut script = vec![Step::Expect(b'Q', b"select big\0".to_vec())];
        script.extend((0..5).map(|_| data_row(&row)));
        script.extend([
            backend(b'C', b"SELECT 5\0"),
            backend(b'Z', b"I"),
            Step::Expect(b'X', Vec::new()),
        ]);
        let (session, peer) = logged_in(script);
        let deadline = Deadline::start(Duration::from_secs(5));
        let value = session.first_value("select big", &deadline).unwrap();
        assert_eq!(value.flatten().map(|v| v.len()), Some(row.len()));
        let capacity = session
            .conn
            .lock()
            .unwrap()
            .as_ref()
            .unwrap()
            .buffer
            .capacity();
        assert!(
            capacity < 2 << 20,
            "buffer of {capacity} bytes for 512 KiB rows"
        );
        session.close(&deadline);
        peer.done();
    }

    #[test]
    fn a_flood_between_two_sends_ends_at_16_mib() {
        let mut notice = b"SNOTICE\0M".to_vec();
        notice.extend(std::iter::repeat_n(b'n', 64 * 1024));
        notice.extend_from_slice(b"\0\0");
        let notice = frame(b'N', &notice);
        let flood = notice.repeat((17 << 20) / notice.len() + 1);
        // The client hangs up mid-flood, so this peer is not joined (its write fails).
        let (session, _peer) = logged_in(vec![
            Step::Expect(b'Q', b"select 1\0".to_vec()),
            Step::Send(flood),
        ]);
        let deadline = Deadline::start(Duration::from_secs(5));
        let error = session.first_value("select 1", &deadline).unwrap_err();
        assert_eq!(
            error.detail,
            "not a PostgreSQL server? more than 16 MiB during the query, the most probe reads"
        );
    }

    #[test]
    fn keep_alive_sets_idle_interval_count_and_user_timeout() {
        let (session, peer) = logged_in(vec![Step::Expect(b'X', Vec::new())]);
        session.keep_alive(Duration::from_secs(7)).unwrap();
        let fd = {
            let conn = session.conn.lock().unwrap();
            conn.as_ref().unwrap().stream.tcp_fd().unwrap()
        };
        let option = |level, name| {
            let mut value: libc::c_int = -1;
            let mut size = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            // SAFETY: getsockopt on the session's socket into an int of the given size.
            let done = unsafe {
                libc::getsockopt(
                    fd,
                    level,
                    name,
                    (&mut value as *mut libc::c_int).cast(),
                    &mut size,
                )
            };
            assert_eq!(done, 0);
            value
        };
        assert_eq!(option(libc::SOL_SOCKET, libc::SO_KEEPALIVE), 1);
        assert_eq!(option(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE), 7);
        assert_eq!(option(libc::IPPROTO_TCP, libc::TCP_KEEPINTVL), 1);
        assert_eq!(option(libc::IPPROTO_TCP, libc::TCP_KEEPCNT), 3);
        // Three lost probes after the idle time: (7 + 3) s.
        assert_eq!(option(libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT), 10_000);
        drop(session);
        peer.done();
    }

    #[test]
    fn huge_lengths_and_unknown_messages_are_not_postgres() {
        let deadline = Deadline::start(Duration::from_secs(5));
        let port = fake(vec![Step::Send(b"R\x7f\xff\xff\xff".to_vec())]).port;
        let Err(Failure::Down(outcome)) = server(port, None).open(&deadline) else {
            panic!("a 2 GB message was accepted");
        };
        assert!(
            outcome.detail.starts_with("not a PostgreSQL server?"),
            "{outcome:?}"
        );
        let port = fake(vec![Step::Send(b"HTTP/1.1 400 Bad Request\r\n".to_vec())]).port;
        let Err(Failure::Down(outcome)) = server(port, None).open(&deadline) else {
            panic!("HTTP was accepted");
        };
        assert_eq!(
            outcome.detail,
            "not a PostgreSQL server? unexpected reply during startup: \"HTTP/1.1 400 Bad\""
        );
        let port = fake(vec![backend(b'R', &[0, 0])]).port;
        assert!(matches!(
            server(port, None).open(&deadline),
            Err(Failure::Down(_))
        ));
    }
}
