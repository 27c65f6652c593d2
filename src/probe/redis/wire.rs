//! The connection to the server and the few lines of RESP that PING, AUTH, SELECT, ROLE and
//! INFO need, every blocking step bounded by the check's deadline.
//!
//! Why not the `redis` crate (measured with 1.8.1, sync client): it resolves names on the
//! calling thread without a time limit and gives each address of a name the whole timeout;
//! against a peer that never answers, connecting with a 5s timeout used all 5s and still
//! returned a connection (its setup reads timed out silently), so PING needed a second
//! budget (10.2s in all); it replaces the server's reply to AUTH with "Password authentication failed", so
//! WRONGPASS, LOADING and "no password is set" look alike; it builds its own rustls
//! configuration, so the shared `--ca-file`/`--insecure`/client-certificate handling and
//! certificate reasons of `tls.rs` could not be used; and the release binary was 290 KB
//! larger with it (1,802,688 vs 1,512,112 bytes: url, idna, combine). PING, AUTH, SELECT,
//! ROLE and INFO get a handful of RESP2 reply types, read here with size limits.

use std::io::{self, Read, Write};
use std::path::Path;

use crate::deadline::Deadline;
use crate::net;
use crate::outcome::Outcome;
use crate::stream::Stream;

/// Longest line (status, error, number) and largest bulk string accepted; INFO replication
/// and ROLE replies are far smaller.
const MAX_LINE: usize = 64 * 1024;
const MAX_BULK: usize = 1024 * 1024;
const MAX_ITEMS: usize = 4096;
const MAX_DEPTH: usize = 4;
/// The budget of one whole reply, nested arrays included: each element costs its size in
/// memory plus its payload. 4096 arrays of 4096 integers would otherwise be 542 MiB.
const MAX_REPLY: usize = 2 * 1024 * 1024;

/// A RESP2 reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Status(String),
    Error(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// A bulk or status reply as text.
    pub fn text(&self) -> Option<String> {
        match self {
            Reply::Status(text) => Some(text.clone()),
            Reply::Bulk(Some(bytes)) => Some(String::from_utf8_lossy(bytes).into_owned()),
            Reply::Integer(number) => Some(number.to_string()),
            _ => None,
        }
    }
}

/// TLS settings of a `rediss://` check, prepared once while parsing.
#[cfg(feature = "tls")]
pub use crate::tls::Setup as TlsSetup;

/// An open connection with its read buffer.
pub struct Wire {
    stream: Stream,
    buffer: Vec<u8>,
    start: usize,
    /// What the reply being read may still cost (see [`MAX_REPLY`]).
    budget: usize,
}

impl Wire {
    /// Connects over TCP (and TLS when `tls` is given) to host:port.
    pub fn tcp(
        host: &str,
        port: u16,
        #[cfg(feature = "tls")] tls: Option<&TlsSetup>,
        deadline: &Deadline,
    ) -> Result<Wire, Outcome> {
        let stream = Stream::tcp(host, port, deadline)?;
        #[cfg(feature = "tls")]
        if let Some(tls) = tls {
            let stream = stream.into_tls(tls.config.clone(), tls.name.clone(), deadline)?;
            return Ok(Wire::new(stream));
        }
        Ok(Wire::new(stream))
    }

    /// Connects to a Unix socket (bounded: a full listen queue times out).
    pub fn unix(path: &Path, deadline: &Deadline) -> Result<Wire, Outcome> {
        Ok(Wire::new(Stream::unix(path, deadline)?))
    }

    fn new(stream: Stream) -> Wire {
        Wire {
            stream,
            buffer: Vec::with_capacity(512),
            start: 0,
            budget: MAX_REPLY,
        }
    }

    /// Sends one command and reads its reply. `name` says what it was in reasons
    /// ("timed out after 1s waiting for the reply to PING"); it never contains arguments,
    /// so a password cannot leak through it.
    pub fn call(
        &mut self,
        args: &[&str],
        name: &str,
        deadline: &Deadline,
    ) -> Result<Reply, Outcome> {
        let mut command = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            command.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            command.extend_from_slice(arg.as_bytes());
            command.extend_from_slice(b"\r\n");
        }
        let phase = Phase(name);
        self.arm(deadline, phase)?;
        self.stream
            .write_all(&command)
            .and_then(|()| self.stream.flush())
            .map_err(|error| failure(error, deadline, phase))?;
        self.budget = MAX_REPLY;
        self.read_reply(0, deadline, phase)
    }

    /// Ends the connection politely (TLS close_notify); errors no longer matter.
    pub fn close(self) {
        self.stream.close(false);
    }

    /// Bounds the next reads and writes by `deadline`, or fails if it has passed.
    fn arm(&mut self, deadline: &Deadline, phase: Phase) -> Result<(), Outcome> {
        if deadline.expired() {
            return Err(deadline.timed_out(&phase.waiting()));
        }
        self.stream.set_deadline(*deadline);
        Ok(())
    }

    /// Charges `cost` bytes to the reply being read.
    fn charge(&mut self, cost: usize, phase: Phase) -> Result<(), Outcome> {
        match self.budget.checked_sub(cost) {
            Some(left) => {
                self.budget = left;
                Ok(())
            }
            None => Err(phase.too_large()),
        }
    }

    /// Reads more bytes into the buffer.
    fn fill(&mut self, deadline: &Deadline, phase: Phase) -> Result<(), Outcome> {
        if self.start > 0 {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        self.arm(deadline, phase)?;
        let mut chunk = [0u8; 4096];
        match self.stream.read(&mut chunk) {
            Ok(0) => Err(failure(
                io::ErrorKind::UnexpectedEof.into(),
                deadline,
                phase,
            )),
            Ok(n) => {
                self.buffer.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(error) => Err(failure(error, deadline, phase)),
        }
    }

    /// One line without its CRLF.
    fn line(&mut self, deadline: &Deadline, phase: Phase) -> Result<Vec<u8>, Outcome> {
        loop {
            if let Some(at) = find_crlf(&self.buffer[self.start..]) {
                let line = self.buffer[self.start..self.start + at].to_vec();
                self.start += at + 2;
                return Ok(line);
            }
            if self.buffer.len() - self.start > MAX_LINE {
                return Err(phase.garbage(&self.buffer[self.start..]));
            }
            self.fill(deadline, phase)?;
        }
    }

    fn read_reply(
        &mut self,
        depth: usize,
        deadline: &Deadline,
        phase: Phase,
    ) -> Result<Reply, Outcome> {
        // Look at the first byte as soon as it arrives: a peer that is not Redis (an HTTP
        // server, a TLS port) is named at once instead of waiting for a CRLF.
        while self.buffer.len() == self.start {
            self.fill(deadline, phase)?;
        }
        if !matches!(self.buffer[self.start], b'+' | b'-' | b':' | b'$' | b'*') {
            return Err(phase.garbage(&self.buffer[self.start..]));
        }
        let line = self.line(deadline, phase)?;
        self.charge(std::mem::size_of::<Reply>() + line.len(), phase)?;
        let (kind, rest) = (line[0], &line[1..]);
        let text = || String::from_utf8_lossy(rest).into_owned();
        let number = || {
            std::str::from_utf8(rest)
                .ok()
                .and_then(|digits| digits.parse::<i64>().ok())
                .ok_or_else(|| phase.garbage(&line))
        };
        Ok(match kind {
            b'+' => Reply::Status(text()),
            b'-' => Reply::Error(text()),
            b':' => Reply::Integer(number()?),
            b'$' => match number()? {
                -1 => Reply::Bulk(None),
                length if (0..=MAX_BULK as i64).contains(&length) => {
                    let length = length as usize;
                    self.charge(length, phase)?;
                    while self.buffer.len() - self.start < length + 2 {
                        self.fill(deadline, phase)?;
                    }
                    let body = self.buffer[self.start..self.start + length].to_vec();
                    if &self.buffer[self.start + length..self.start + length + 2] != b"\r\n" {
                        return Err(phase.garbage(&line));
                    }
                    self.start += length + 2;
                    Reply::Bulk(Some(body))
                }
                _ => return Err(phase.garbage(&line)),
            },
            _ => match number()? {
                -1 => Reply::Array(None),
                count if depth < MAX_DEPTH && (0..=MAX_ITEMS as i64).contains(&count) => {
                    self.charge(count as usize * std::mem::size_of::<Reply>(), phase)?;
                    let mut items = Vec::with_capacity(count as usize);
                    for _ in 0..count {
                        items.push(self.read_reply(depth + 1, deadline, phase)?);
                    }
                    Reply::Array(Some(items))
                }
                _ => return Err(phase.garbage(&line)),
            },
        })
    }
}

fn find_crlf(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|pair| pair == b"\r\n")
}

/// The command whose reply is awaited, for reasons.
#[derive(Clone, Copy)]
struct Phase<'a>(&'a str);

impl Phase<'_> {
    fn waiting(self) -> String {
        format!("waiting for the reply to {}", self.0)
    }

    fn during(self) -> String {
        format!("before the reply to {}", self.0)
    }

    fn too_large(self) -> Outcome {
        Outcome::unhealthy(format!(
            "the reply to {} is larger than {} MiB, the most probe reads",
            self.0,
            MAX_REPLY >> 20
        ))
    }

    /// The peer sent something that is not RESP: quote the start of it.
    fn garbage(self, bytes: &[u8]) -> Outcome {
        let shown: String = String::from_utf8_lossy(&bytes[..bytes.len().min(40)])
            .chars()
            .take_while(|c| *c != '\r' && *c != '\n')
            .collect();
        Outcome::unhealthy(format!(
            "not a Redis reply to {}: {shown:?} (is this a Redis port?)",
            self.0
        ))
    }
}

/// An I/O error as a verdict: TLS problems through `tls::describe` (certificate problems
/// are fatal), timeouts as the deadline's, the rest as short network reasons.
fn failure(error: io::Error, deadline: &Deadline, phase: Phase) -> Outcome {
    #[cfg(feature = "tls")]
    if let Some(tls) = crate::tls::rustls_cause(&error) {
        return crate::tls::describe(tls);
    }
    match error.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => deadline.timed_out(&phase.waiting()),
        io::ErrorKind::UnexpectedEof => Outcome::unhealthy(format!(
            "connection closed by the server {}",
            phase.during()
        )),
        _ => Outcome::unhealthy(format!("{} {}", net::io_reason(&error), phase.during())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::time::Duration;

    /// A peer that sends `bytes` after reading the command.
    fn peer(bytes: &'static [u8]) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut buffer = [0u8; 256];
            let _ = socket.read(&mut buffer);
            for piece in bytes.chunks(3) {
                let _ = socket.write_all(piece);
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        port
    }

    fn call(bytes: &'static [u8]) -> Result<Reply, Outcome> {
        let deadline = Deadline::start(Duration::from_secs(2));
        let port = peer(bytes);
        #[cfg(feature = "tls")]
        let mut wire = Wire::tcp("127.0.0.1", port, None, &deadline)?;
        #[cfg(not(feature = "tls"))]
        let mut wire = Wire::tcp("127.0.0.1", port, &deadline)?;
        wire.call(&["ROLE"], "ROLE", &deadline)
    }

    #[test]
    fn reads_replies_split_across_packets() {
        let reply = call(b"*3\r\n$5\r\nslave\r\n+10.0.0.1\r\n:6379\r\n").unwrap();
        assert_eq!(
            reply,
            Reply::Array(Some(vec![
                Reply::Bulk(Some(b"slave".to_vec())),
                Reply::Status("10.0.0.1".into()),
                Reply::Integer(6379),
            ]))
        );
        assert_eq!(call(b"$-1\r\n").unwrap(), Reply::Bulk(None));
        assert_eq!(call(b"-ERR x\r\n").unwrap(), Reply::Error("ERR x".into()));
    }

    #[test]
    fn rejects_what_is_not_resp() {
        let error = call(b"SSH-2.0-OpenSSH\r\n").unwrap_err();
        assert!(
            error.detail.starts_with("not a Redis reply to ROLE: \"SSH"),
            "{error:?}"
        );
        assert!(call(b"$99999999999\r\n").is_err());
        assert!(call(b":12x\r\n").is_err());
        let closed = call(b"+PO").unwrap_err();
        assert!(closed.detail.contains("closed by the server"), "{closed:?}");
    }
}
