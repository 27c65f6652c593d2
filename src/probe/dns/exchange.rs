//! One question to one server, bounded by a deadline: UDP first (a connected socket, so
//! only datagrams from the server's address and port arrive), TCP when the reply is
//! truncated.
//!
//! Over UDP the query is sent again after each second of silence (a lost datagram must
//! not fail a check that has time left); datagrams that are not the reply to our question
//! (another ID, garbage) are dropped and the wait goes on, remembering why, so that a
//! server that only ever sends garbage is reported as such rather than as silent. Over TCP
//! the reply is the 2-byte length and at most 65,535 bytes of one message, read with the
//! socket timeout set to the time left before every read. The query ID comes from
//! getrandom(2); the source port is the kernel's random ephemeral port.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use super::wire::{self, Reply};
use crate::deadline::Deadline;
use crate::outcome::io_reason;

/// What went wrong with one server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// No reply within the time this server was given.
    Silent,
    /// Nothing but datagrams that were not our reply (the last reason).
    Malformed(&'static str),
    /// A network error ("connection refused": an ICMP port unreachable over UDP).
    Network(String),
    /// The UDP reply was truncated and TCP failed: what TCP said.
    OverTcp(Box<Failure>),
}

impl Failure {
    /// The reason, naming the server: "connection refused (10.0.0.2:53)".
    pub fn reason(&self, server: SocketAddr) -> String {
        match self {
            Failure::Silent => format!("no reply from {server}"),
            Failure::Malformed(why) => format!("malformed reply from {server}: {why}"),
            Failure::Network(why) => format!("{why} ({server})"),
            Failure::OverTcp(inner) => format!(
                "truncated reply over UDP, then over TCP: {}",
                inner.reason(server)
            ),
        }
    }
}

/// Longest wait before the query is sent again over UDP.
const RESEND: Duration = Duration::from_secs(1);

pub fn ask(
    server: SocketAddr,
    name: &str,
    qtype: u16,
    deadline: &Deadline,
) -> Result<Reply, Failure> {
    let id = random_id();
    let query = wire::query(id, name, qtype);
    let reply = udp(server, &query, (id, name, qtype), deadline)?;
    if !reply.truncated {
        return Ok(reply);
    }
    tcp(server, &query, (id, name, qtype), deadline).map_err(|e| Failure::OverTcp(Box::new(e)))
}

type Question<'a> = (u16, &'a str, u16);

fn udp(
    server: SocketAddr,
    query: &[u8],
    (id, name, qtype): Question,
    deadline: &Deadline,
) -> Result<Reply, Failure> {
    let network = |error: io::Error| Failure::Network(io_reason(&error));
    let local: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).map_err(network)?;
    socket.connect(server).map_err(network)?;
    socket.send(query).map_err(network)?;
    let mut sent = Instant::now();
    let mut dropped = None;
    // Larger than any datagram: a reply longer than 512 bytes is read whole, not cut.
    let mut buffer = vec![0u8; 65536];
    loop {
        let Some(left) = deadline.remaining() else {
            return Err(dropped.map_or(Failure::Silent, Failure::Malformed));
        };
        let until_resend = RESEND.saturating_sub(sent.elapsed());
        if until_resend.is_zero() {
            socket.send(query).map_err(network)?;
            sent = Instant::now();
            continue;
        }
        socket
            .set_read_timeout(Some(left.min(until_resend)))
            .map_err(network)?;
        match socket.recv(&mut buffer) {
            Ok(length) => match wire::parse(&buffer[..length], id, name, qtype) {
                Ok(reply) => return Ok(reply),
                Err(why) => dropped = Some(why),
            },
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(error) => return Err(network(error)),
        }
    }
}

fn tcp(
    server: SocketAddr,
    query: &[u8],
    (id, name, qtype): Question,
    deadline: &Deadline,
) -> Result<Reply, Failure> {
    let network = |error: io::Error| match error.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Failure::Silent,
        _ => Failure::Network(io_reason(&error)),
    };
    let left = deadline.remaining().ok_or(Failure::Silent)?;
    let mut stream = TcpStream::connect_timeout(&server, left).map_err(network)?;
    let mut framed = (query.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    stream
        .set_write_timeout(Some(deadline.remaining().ok_or(Failure::Silent)?))
        .map_err(network)?;
    stream.write_all(&framed).map_err(network)?;
    let mut length = [0u8; 2];
    read_exact(&mut stream, &mut length, deadline).map_err(network)?;
    let mut message = vec![0u8; usize::from(u16::from_be_bytes(length))];
    read_exact(&mut stream, &mut message, deadline).map_err(network)?;
    crate::net::close_gracefully(stream, deadline);
    match wire::parse(&message, id, name, qtype) {
        Ok(reply) if reply.truncated => Err(Failure::Malformed("truncated over TCP too")),
        Ok(reply) => Ok(reply),
        Err(why) => Err(Failure::Malformed(why)),
    }
}

/// `read_exact` with the socket timeout set to the time left before every read: a server
/// that trickles a byte at a time still stops at the deadline.
fn read_exact(
    stream: &mut TcpStream,
    mut buffer: &mut [u8],
    deadline: &Deadline,
) -> io::Result<()> {
    while !buffer.is_empty() {
        let left = deadline
            .remaining()
            .ok_or_else(|| io::Error::from(io::ErrorKind::TimedOut))?;
        stream.set_read_timeout(Some(left))?;
        match stream.read(buffer) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => buffer = &mut buffer[n..],
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// A query ID from getrandom(2); where that fails (a seccomp filter, an old kernel), the
/// clock's nanoseconds and the process ID, which still differ between runs.
fn random_id() -> u16 {
    let mut bytes = [0u8; 2];
    // SAFETY: getrandom writes at most `bytes.len()` bytes into `bytes`.
    let filled = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if filled == 2 {
        return u16::from_ne_bytes(bytes);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    (nanos ^ (nanos >> 16) ^ std::process::id()) as u16
}
