//! `probe tcp HOST:PORT --send S --expect E`: a short exchange with a server that speaks a
//! text protocol, for the services whose open port proves little (a port opens while the
//! service behind it is still loading, wedged, or a proxy with no backend).
//!
//! The exchange, each step only when its flag is given:
//! 1. `--expect-banner B`: read what the server says first and require B in it (SMTP's
//!    `220`, FTP's `220`, SSH's `SSH-2.0`);
//! 2. `--send S`: write S (after the banner);
//! 3. `--expect E`: read the reply (or, without `--send` and without a banner, what the
//!    server says first) and require E in it.
//!
//! Reading stops as soon as the text is there (a server that keeps the connection open,
//! like memcached, is not waited on), at the end of the stream, at [`MAX_REPLY`] bytes
//! (a peer that streams without end cannot grow probe), or at the deadline (a peer that
//! trickles a byte at a time cannot hold probe past it: [`Stream`] gives every read only
//! the time left). A verdict shows what was received, escaped and capped
//! ([`text::shown`]): `expected "imok", got "" (connection closed by the server)`.
//!
//! `--send`'s text never appears in any output: it may carry a password (`AUTH ...`).
//!
//! What arrives after the banner's text within the same read is the banner's, and is
//! dropped; a banner that arrives in several reads may lend its tail to the reply.
//! `--expect` is "contains", so that tail matters only when it holds the expected text.

pub mod text;

use std::io::{self, Write};

use crate::deadline::Deadline;
use crate::outcome::{usage, Outcome, UsageError};
use crate::stream::{self, Stream};

pub use self::text::unescape;
use self::text::{shown, Seeker};

/// Most bytes read for the banner, and again for the reply.
pub const MAX_REPLY: usize = 64 * 1024;

/// Most bytes of a banner or reply a reason shows.
const SHOWN: usize = 40;

/// The exchange, validated: every text unescaped, none empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dialog {
    banner: Option<Vec<u8>>,
    send: Option<Vec<u8>>,
    expect: Option<Vec<u8>>,
}

/// Which read of the exchange, for reasons.
#[derive(Clone, Copy)]
enum Part {
    Banner,
    Reply,
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Part::Banner => "banner",
            Part::Reply => "reply",
        }
    }
}

/// How a read for the expected text ended.
enum Ended {
    /// The text is in the buffer.
    Found,
    /// The server closed the connection first.
    Closed,
    /// [`MAX_REPLY`] bytes came without it.
    Full,
    /// A read failed (timeout, reset, TLS).
    Failed(io::Error),
}

impl Dialog {
    /// From `--expect-banner`, `--send` and `--expect` as the user wrote them (escapes
    /// included); `None` when none is given (a plain connect check).
    pub fn new(
        banner: Option<&str>,
        send: Option<&str>,
        expect: Option<&str>,
    ) -> Result<Option<Self>, UsageError> {
        if banner.is_none() && send.is_none() && expect.is_none() {
            return Ok(None);
        }
        Ok(Some(Dialog {
            banner: flag_bytes("--expect-banner", banner)?,
            send: flag_bytes("--send", send)?,
            expect: flag_bytes("--expect", expect)?,
        }))
    }

    /// Runs the exchange on a connected stream (plain or TLS) within `deadline`. The
    /// caller closes the stream afterwards (`stream.close(true)`: FIN, not RST), as
    /// [`exchange`] does.
    pub fn run(&self, stream: &mut Stream, deadline: &Deadline) -> Outcome {
        stream.set_deadline(*deadline);
        let mut seen = Vec::new();
        if let Some(banner) = &self.banner {
            match read_for(stream, banner, Part::Banner, deadline) {
                Ok(got) => seen.push(format!("banner {}", shown(&got, SHOWN))),
                Err(outcome) => return outcome,
            }
        }
        if let Some(send) = &self.send {
            if let Err(error) = stream.write_all(send).and_then(|()| stream.flush()) {
                return stream::failure(error, deadline, "while sending");
            }
            if self.expect.is_none() {
                seen.push(format!("sent {} bytes, no reply expected", send.len()));
            }
        }
        if let Some(expect) = &self.expect {
            match read_for(stream, expect, Part::Reply, deadline) {
                Ok(got) => seen.push(format!("reply {}", shown(&got, SHOWN))),
                Err(outcome) => return outcome,
            }
        }
        Outcome::healthy(seen.join(", "))
    }
}

/// A flag's text as bytes: escapes replaced, never empty, never longer than a reply can be.
fn flag_bytes(flag: &str, value: Option<&str>) -> Result<Option<Vec<u8>>, UsageError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let bytes = unescape(value).map_err(|reason| UsageError::new(format!("{flag}: {reason}")))?;
    if bytes.is_empty() {
        return usage(format!("{flag} is empty"));
    }
    if flag != "--send" && bytes.len() > MAX_REPLY {
        return usage(format!(
            "{flag} is longer than the {MAX_REPLY} bytes probe reads of a reply"
        ));
    }
    Ok(Some(bytes))
}

/// Reads until `expected` is in what arrived; the bytes read when it is, else the verdict.
fn read_for(
    stream: &mut Stream,
    expected: &[u8],
    part: Part,
    deadline: &Deadline,
) -> Result<Vec<u8>, Outcome> {
    let (got, ended) = read_until(stream, expected);
    let wanted = shown(expected, SHOWN);
    let got_text = shown(&got, SHOWN);
    let what = part.name();
    Err(match ended {
        Ended::Found => return Ok(got),
        Ended::Closed => match part {
            Part::Reply => Outcome::unhealthy(format!(
                "expected {wanted}, got {got_text} (connection closed by the server)"
            )),
            Part::Banner => Outcome::unhealthy(format!(
                "expected banner {wanted}, got {got_text} (connection closed by the server)"
            )),
        },
        Ended::Full => Outcome::unhealthy(format!(
            "{what} did not contain {wanted} in its first {MAX_REPLY} bytes (first {SHOWN} \
             bytes: {got_text})"
        )),
        Ended::Failed(error) => stream::failure(
            error,
            deadline,
            &format!("waiting for {wanted} in the {what} (got {got_text})"),
        ),
    })
}

/// Reads until `expected` has arrived, the server closes, [`MAX_REPLY`] bytes have come, or
/// a read fails (the stream's deadline ends every read in time).
fn read_until(stream: &mut Stream, expected: &[u8]) -> (Vec<u8>, Ended) {
    let mut got = Vec::new();
    let mut seeker = Seeker::default();
    loop {
        if seeker.find(&got, expected).is_some() {
            return (got, Ended::Found);
        }
        if got.len() >= MAX_REPLY {
            return (got, Ended::Full);
        }
        let room = (MAX_REPLY - got.len()).min(4096);
        match stream.read_into(&mut got, room) {
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => {
                return (got, Ended::Closed)
            }
            Err(error) => return (got, Ended::Failed(error)),
        }
    }
}

/// TLS settings for `--tls` (from `--ca-file`, `--cert`, `--key`, `-k`), made once with
/// [`crate::tls::Setup::from_files`] with the target's host as the server name.
#[cfg(feature = "tls")]
pub use crate::tls::Setup as TlsSetup;

/// The whole `probe tcp` exchange for a target that has a dialog or `--tls`: connect,
/// TLS handshake when `tls` is given, the dialog when given, and a graceful close
/// (TLS close_notify, unread bytes drained, FIN). Without a dialog the verdict is the
/// connect's (and the handshake's).
pub fn exchange(
    host: &str,
    port: u16,
    #[cfg(feature = "tls")] tls: Option<&TlsSetup>,
    dialog: Option<&Dialog>,
    deadline: &Deadline,
) -> Outcome {
    let mut stream = match Stream::tcp(host, port, deadline) {
        Ok(stream) => stream,
        Err(outcome) => return outcome,
    };
    #[cfg(feature = "tls")]
    let over_tls = tls.is_some();
    #[cfg(not(feature = "tls"))]
    let over_tls = false;
    #[cfg(feature = "tls")]
    if let Some(tls) = tls {
        stream = match stream.into_tls(tls.config.clone(), tls.name.clone(), deadline) {
            Ok(stream) => stream,
            Err(outcome) => return outcome,
        };
    }
    let outcome = match dialog {
        Some(dialog) => dialog.run(&mut stream, deadline),
        None if over_tls => Outcome::healthy("TLS handshake done"),
        None => Outcome::healthy("connected"),
    };
    stream.close(true);
    match over_tls && outcome.is_healthy() && dialog.is_some() {
        true => Outcome::healthy(format!("{} (over TLS)", outcome.detail)),
        false => outcome,
    }
}

#[cfg(test)]
mod tests;
