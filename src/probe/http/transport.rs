//! ureq plumbing: a connector chain that records which phase a request is in (so that a
//! timeout says "during TLS handshake" rather than "timed out"), HTTP over a Unix socket,
//! `--connect-to`, which sends the connection elsewhere while the URL's name stays in
//! charge of SNI, certificate checking and the Host header, and the CONNECT tunnel of
//! `--proxy`.
//!
//! The tunnel is ours, not ureq's `ConnectProxyConnector`: that one reads the proxy's
//! reply giving every read the whole connect budget again (`details.timeout`, computed
//! once), so a proxy that answers one byte every 0.2 s is never timed out. Here the proxy
//! is reached through the shared deadline stream ([`crate::stream::Stream`]), which gives
//! every read and write of the proxy connection (the CONNECT reply, an https proxy's TLS,
//! then everything tunnelled) only what the check's deadline has left.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, NextTimeout, Transport,
};
use ureq::{Error, ProxyProtocol};

use super::buffers::ZeroedBuffers;
use crate::deadline::Deadline;
use crate::net::{self, ConnectFailure};
use crate::stream::Stream;

/// Where a request is, for timeout reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    Resolving,
    Connecting,
    /// Connecting to `--proxy` and waiting for its answer to CONNECT.
    Proxy,
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
            Phase::Proxy => "waiting for the proxy",
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
            2 => Phase::Proxy,
            3 => Phase::TlsHandshake,
            4 => Phase::AwaitingResponse,
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

/// Opens the connection when no proxy did, into a [`Deadlined`] stream: the
/// `--unix-socket` path (connected within the deadline: a server whose listen queue is full
/// makes it time out, not block), else TCP to the addresses the resolver found, by the same
/// rules as every check ([`net::connect_first`]). ureq's `TcpConnector` would do the TCP,
/// but its transport zero-fills its buffers a byte at a time ([`ZeroedBuffers`] says why
/// that matters).
#[derive(Debug)]
pub struct DirectConnector(pub Option<PathBuf>, pub Deadline);

impl<In: Transport> Connector<In> for DirectConnector {
    type Out = Either<In, Deadlined>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, Error> {
        if let Some(transport) = chained {
            return Ok(Some(Either::A(transport)));
        }
        let deadline = &self.1;
        let stream = match &self.0 {
            Some(path) => Stream::from_unix(crate::stream::connect_unix(path, deadline)?, deadline),
            None => {
                let tcp =
                    net::connect_first(&details.addrs, deadline).map_err(
                        |failure| match failure {
                            ConnectFailure::Refused(_, error) => Error::Io(error),
                            ConnectFailure::TimedOut(_) => Error::Timeout(ureq::Timeout::Connect),
                        },
                    )?;
                Stream::from_tcp(tcp, deadline)
            }
        };
        Ok(Some(Either::B(Deadlined::new(stream, details, *deadline))))
    }
}

/// Opens the CONNECT tunnel of `--proxy` (an `http://` or, with TLS, `https://` proxy)
/// over the deadline stream; without a proxy it leaves the connection to the next link.
#[derive(Debug)]
pub struct ProxyConnector(pub PhaseCell, pub Deadline);

impl<In: Transport> Connector<In> for ProxyConnector {
    type Out = Either<In, Tunnel>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, Error> {
        if let Some(transport) = chained {
            return Ok(Some(Either::A(transport)));
        }
        let Some(proxy) = details.config.proxy() else {
            return Ok(None);
        };
        self.0.set(Phase::Proxy);
        let host = proxy.host();
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let stream = Stream::tcp(bare, proxy.port(), &self.1).map_err(|outcome| {
            // "timed out after 2s connecting to 10.0.0.1:3128" names it already.
            let name = match outcome.detail.contains(bare) {
                true => String::new(),
                false => format!(" {host}:{}", proxy.port()),
            };
            Error::ConnectProxyFailed(format!("proxy{name}: {}", outcome.detail))
        })?;
        let mut transport: Box<dyn Transport> = Box::new(Deadlined::new(stream, details, self.1));
        if proxy.protocol() == ProxyProtocol::Https {
            transport = proxy_tls(details, proxy.uri(), transport)?;
        }
        let request = connect_request(details, proxy)?;
        let output = transport.buffers().output();
        let amount = request.len();
        if amount > output.len() {
            return Err(Error::ConnectProxyFailed(
                "the CONNECT request is larger than the output buffer".into(),
            ));
        }
        output[..amount].copy_from_slice(request.as_bytes());
        // The stream bounds each read and write by the check's deadline.
        transport.transmit_output(amount, NextTimeout::default())?;
        let mut scanned = 0usize;
        let head = loop {
            let input = transport.buffers().input();
            if !input.starts_with(&b"HTTP/"[..input.len().min(5)]) {
                return Err(not_http(input));
            }
            let from = scanned.saturating_sub(3);
            if let Some(end) = input[from..].windows(4).position(|w| w == b"\r\n\r\n") {
                break from + end + 4;
            }
            scanned = input.len();
            if transport.buffers().input_append_buf().is_empty() {
                return Err(Error::ConnectProxyFailed(format!(
                    "the proxy's reply headers are larger than {} KiB",
                    details.config.input_buffer_size() / 1024
                )));
            }
            if !transport.await_input(NextTimeout::default())? {
                return Err(Error::ConnectProxyFailed(
                    "the proxy closed the connection before answering CONNECT".into(),
                ));
            }
        };
        let input = transport.buffers().input();
        let line = first_line(input);
        let status = line
            .strip_prefix("HTTP/1.")
            .and_then(|rest| rest.get(2..5))
            .and_then(|code| code.parse::<u16>().ok());
        match status {
            Some(200..=299) => {}
            Some(_) => {
                return Err(Error::ConnectProxyFailed(format!(
                    "the proxy refused the tunnel: {}",
                    line.get(9..).unwrap_or_default()
                )))
            }
            None => return Err(not_http(input)),
        }
        transport.buffers().input_consume(head);
        Ok(Some(Either::B(Tunnel(transport))))
    }
}

/// The status line of a reply, fit for a reason: control characters dropped, cut short.
fn first_line(input: &[u8]) -> String {
    let end = input
        .iter()
        .position(|&b| b == b'\r')
        .unwrap_or(input.len());
    let line = String::from_utf8_lossy(&input[..end]);
    line.chars().filter(|c| !c.is_control()).take(80).collect()
}

fn not_http(input: &[u8]) -> Error {
    Error::ConnectProxyFailed(format!(
        "the proxy's reply to CONNECT is not HTTP ({:?})",
        first_line(input)
    ))
}

/// `CONNECT host:port`, with the proxy's credentials when its URL holds some.
fn connect_request(details: &ConnectionDetails, proxy: &ureq::Proxy) -> Result<String, Error> {
    let target = details.uri;
    let host = target.host().ok_or(Error::BadUri("no host".into()))?;
    let port = target
        .port_u16()
        .unwrap_or(if details.needs_tls() { 443 } else { 80 });
    let mut request = format!(
        "CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: probe/{}\r\n",
        env!("CARGO_PKG_VERSION")
    );
    if proxy.username().is_some() || proxy.password().is_some() {
        use base64::Engine as _;
        let pair = format!(
            "{}:{}",
            proxy.username().unwrap_or_default(),
            proxy.password().unwrap_or_default()
        );
        let token = base64::engine::general_purpose::STANDARD.encode(pair);
        request.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
    }
    request.push_str("\r\n");
    Ok(request)
}

/// TLS to an `https://` proxy, by ureq's rustls link over the deadline stream.
#[cfg(feature = "tls")]
fn proxy_tls(
    details: &ConnectionDetails,
    uri: &Uri,
    transport: Box<dyn Transport>,
) -> Result<Box<dyn Transport>, Error> {
    let proxy = ConnectionDetails {
        uri,
        addrs: details.addrs.clone(),
        config: details.config,
        request_level: details.request_level,
        resolver: details.resolver,
        now: details.now,
        timeout: details.timeout,
        current_time: details.current_time.clone(),
        run_connector: details.run_connector.clone(),
        register_shutdown: details.register_shutdown.clone(),
    };
    let tls = ureq::unversioned::transport::RustlsConnector::default();
    match tls.connect(&proxy, Some(transport))? {
        Some(transport) => Ok(transport.boxed()),
        None => Err(Error::Tls("no TLS to the proxy")),
    }
}

/// Without TLS, `https://` proxies are refused while parsing the arguments.
#[cfg(not(feature = "tls"))]
fn proxy_tls(
    _: &ConnectionDetails,
    _: &Uri,
    _: Box<dyn Transport>,
) -> Result<Box<dyn Transport>, Error> {
    Err(Error::Tls("https:// proxies need the \"tls\" feature"))
}

/// The tunnel through the proxy: a fresh connection context (the target's TLS, if any,
/// still has to be set up on top of it).
#[derive(Debug)]
pub struct Tunnel(Box<dyn Transport>);

impl Transport for Tunnel {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.0.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        self.0.transmit_output(amount, timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        self.0.await_input(timeout)
    }

    fn is_open(&mut self) -> bool {
        false
    }
}

/// A [`Stream`] as a ureq transport: every read and write gets what the check's deadline
/// has left, or ureq's own limit when that comes sooner (a wait for 100-continue).
pub struct Deadlined {
    stream: Stream,
    buffers: ZeroedBuffers,
    deadline: Deadline,
}

impl std::fmt::Debug for Deadlined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deadlined").finish_non_exhaustive()
    }
}

impl Deadlined {
    pub fn new(stream: Stream, details: &ConnectionDetails, deadline: Deadline) -> Deadlined {
        let config = details.config;
        Deadlined {
            stream,
            buffers: ZeroedBuffers::new(config.input_buffer_size(), config.output_buffer_size()),
            deadline,
        }
    }

    fn arm(&mut self, timeout: &NextTimeout) -> Result<(), Error> {
        if timeout.after.is_zero() {
            return Err(Error::Timeout(timeout.reason));
        }
        self.stream
            .set_deadline(self.deadline.capped(*timeout.after));
        Ok(())
    }
}

impl Transport for Deadlined {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        self.arm(&timeout)?;
        let output = &self.buffers.output()[..amount];
        self.stream
            .write_all(output)
            .map_err(|error| timed_out(error, &timeout))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        self.arm(&timeout)?;
        let input = self.buffers.input_append_buf();
        let amount = self
            .stream
            .read(input)
            .map_err(|error| timed_out(error, &timeout))?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
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
