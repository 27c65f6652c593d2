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

use std::io::{self, Write};
use std::path::Path;

use crate::deadline::Deadline;
use crate::outcome::Outcome;
use crate::stream::Stream;

pub use super::resp::Reply;
use super::resp::{Phase, Reader};

/// TLS settings of a `rediss://` check, prepared once while parsing.
#[cfg(feature = "tls")]
pub use crate::tls::Setup as TlsSetup;

/// An open connection with its read buffer.
pub struct Wire {
    stream: Stream,
    reader: Reader,
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
            reader: Reader::new(),
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
        arm(&mut self.stream, deadline, phase)?;
        self.stream
            .write_all(&command)
            .and_then(|()| self.stream.flush())
            .map_err(|error| failure(error, deadline, phase))?;
        let stream = &mut self.stream;
        self.reader
            .reply(phase, &mut |buffer| fill(stream, buffer, deadline, phase))
    }

    /// Ends the connection politely (TLS close_notify); errors no longer matter.
    pub fn close(self) {
        self.stream.close(false);
    }
}

/// Bounds the next reads and writes by `deadline`, or fails if it has passed.
fn arm(stream: &mut Stream, deadline: &Deadline, phase: Phase) -> Result<(), Outcome> {
    if deadline.expired() {
        return Err(deadline.timed_out(&phase.waiting()));
    }
    stream.set_deadline(*deadline);
    Ok(())
}

/// Reads more bytes from the server into `buffer`.
fn fill(
    stream: &mut Stream,
    buffer: &mut Vec<u8>,
    deadline: &Deadline,
    phase: Phase,
) -> Result<(), Outcome> {
    arm(stream, deadline, phase)?;
    stream
        .read_into(buffer, 4096)
        .map(drop)
        .map_err(|error| failure(error, deadline, phase))
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
        _ => Outcome::unhealthy(format!(
            "{} {}",
            crate::outcome::io_reason(&error),
            phase.during()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
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
