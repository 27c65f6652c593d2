//! ureq plumbing: a connector chain that records which phase a request is in (so that a
//! timeout says "during TLS handshake" rather than "timed out"), HTTP over a Unix socket,
//! and `--connect-to`, which sends the connection elsewhere while the URL's name stays in
//! charge of SNI, certificate checking and the Host header.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport,
};
use ureq::Error;

use crate::deadline::Deadline;

/// Where a request is, for timeout reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    Resolving,
    Connecting,
    TlsHandshake,
    AwaitingResponse,
    ReadingBody,
}

impl Phase {
    /// Completes "timed out after 5s ...".
    pub fn doing(self) -> &'static str {
        match self {
            Phase::Resolving => "resolving the name",
            Phase::Connecting => "connecting",
            Phase::TlsHandshake => "during TLS handshake",
            Phase::AwaitingResponse => "waiting for the response",
            Phase::ReadingBody => "reading the response body",
        }
    }
}

/// The current phase, shared with the connectors and the resolver of one request.
#[derive(Clone, Debug)]
pub struct PhaseCell(Arc<AtomicU8>);

impl PhaseCell {
    pub fn new() -> Self {
        PhaseCell(Arc::new(AtomicU8::new(Phase::Resolving as u8)))
    }

    pub fn set(&self, phase: Phase) {
        self.0.store(phase as u8, Ordering::Relaxed);
    }

    pub fn get(&self) -> Phase {
        match self.0.load(Ordering::Relaxed) {
            0 => Phase::Resolving,
            1 => Phase::Connecting,
            2 => Phase::TlsHandshake,
            3 => Phase::AwaitingResponse,
            _ => Phase::ReadingBody,
        }
    }
}

/// A link of the connector chain that only records that the request reached `phase`.
#[derive(Debug)]
pub struct Mark(pub PhaseCell, pub Phase);

impl<In: Transport> Connector<In> for Mark {
    type Out = In;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<In>, Error> {
        if self.1 != Phase::TlsHandshake || details.needs_tls() {
            self.0.set(self.1);
        }
        Ok(chained)
    }
}

/// Opens a Unix socket instead of TCP when `--unix-socket` is given, within the check's
/// deadline (a server whose listen queue is full makes it time out, not block).
#[derive(Debug)]
pub struct UnixConnector(pub Option<PathBuf>, pub Deadline);

impl<In: Transport> Connector<In> for UnixConnector {
    type Out = Either<In, UnixTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, Error> {
        match (&self.0, chained) {
            (_, Some(transport)) => Ok(Some(Either::A(transport))),
            (None, None) => Ok(None),
            (Some(path), None) => {
                let stream = crate::stream::connect_unix(path, &self.1)?;
                let config = details.config;
                let buffers =
                    LazyBuffers::new(config.input_buffer_size(), config.output_buffer_size());
                Ok(Some(Either::B(UnixTransport { stream, buffers })))
            }
        }
    }
}

#[derive(Debug)]
pub struct UnixTransport {
    stream: UnixStream,
    buffers: LazyBuffers,
}

impl Transport for UnixTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        let timeout = timeout.for_write();
        self.stream
            .set_write_timeout(timeout.not_zero().map(|t| *t))?;
        let output = &self.buffers.output()[..amount];
        self.stream
            .write_all(output)
            .map_err(|error| timed_out(error, &timeout))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        let timeout = timeout.for_read();
        self.stream
            .set_read_timeout(timeout.not_zero().map(|t| *t))?;
        let input = self.buffers.input_append_buf();
        let amount = self
            .stream
            .read(input)
            .map_err(|error| timed_out(error, &timeout))?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        // Each check uses a fresh agent, so a connection is never reused.
        false
    }
}

fn timed_out(error: std::io::Error, timeout: &NextTimeout) -> Error {
    match error.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            Error::Timeout(timeout.reason)
        }
        _ => Error::Io(error),
    }
}

/// `http://127.0.0.1:8080/` or `https://[::1]/` as a socket address.
fn ip_literal(uri: &Uri) -> Option<std::net::SocketAddr> {
    let host = uri.host()?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let ip: std::net::IpAddr = host.parse().ok()?;
    let default_port = if uri.scheme_str() == Some("https") {
        443
    } else {
        80
    };
    Some(std::net::SocketAddr::new(
        ip,
        uri.port_u16().unwrap_or(default_port),
    ))
}

/// Records the resolving phase, and resolves `--connect-to` instead of the URL's host.
/// Over a Unix socket nothing is resolved: the URL's host is only a name for Host.
#[derive(Debug)]
pub struct ProbeResolver {
    pub phase: PhaseCell,
    pub connect_to: Option<Uri>,
    pub unix_socket: bool,
}

impl Resolver for ProbeResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, Error> {
        self.phase.set(Phase::Resolving);
        if self.unix_socket {
            let mut addrs = self.empty();
            addrs.push(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
            return Ok(addrs);
        }
        let target = self.connect_to.as_ref().unwrap_or(uri);
        // An IP literal needs no resolver: ureq's would still spawn a thread to bound it.
        if let Some(addr) = ip_literal(target) {
            let mut addrs = self.empty();
            addrs.push(addr);
            return Ok(addrs);
        }
        DefaultResolver::default().resolve(target, config, timeout)
    }
}
