//! `probe http URL`: replaces `curl -f` and `wget --spider` in HEALTHCHECK lines.
//!
//! GET by default (wget --spider sends HEAD, which many apps route differently), no
//! redirects unless asked, proxies from the environment ignored (a health check of
//! localhost must never go through a proxy: kubelet's rule), and the body is read only
//! when a body rule needs it, at most [`body::MAX_BODY`] bytes, within one memory budget
//! for every target of the process (`body`).

mod body;
mod buffers;
pub(crate) mod expect;
mod json;
mod spec;
mod transport;

pub use spec::{HttpSettings, CHECK};

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use ureq::http::{HeaderName, HeaderValue, Method, Request, Uri};
use ureq::unversioned::transport::Connector;
use ureq::{Agent, Body, Error, Proxy, ProxyProtocol};

use crate::deadline::Deadline;
use crate::net;
use crate::outcome::{usage, Outcome, UsageError};
use crate::probe::Probe;
use crate::redact;

use self::body::Unread;
use self::expect::{BodyRules, StatusSet};
use self::transport::{DirectConnector, Mark, Phase, PhaseCell, ProbeResolver, ProxyConnector};

const MAX_REDIRECTS: u32 = 10;

/// Response headers must fit in this (and body reads go through it).
const INPUT_BUFFER: usize = 16 * 1024;
/// Request head and body go out through this.
const OUTPUT_BUFFER: usize = 8 * 1024;

pub struct HttpCheck {
    /// The URL as requested: userinfo moved into an Authorization header.
    url: Uri,
    /// The URL as printed: password masked.
    shown: String,
    method: Method,
    statuses: StatusSet,
    headers: Vec<(HeaderName, HeaderValue)>,
    body_rules: BodyRules,
    data: Option<String>,
    follow_redirects: bool,
    /// `--location-trusted`: headers follow redirects to other origins too.
    location_trusted: bool,
    connect_to: Option<Uri>,
    unix_socket: Option<PathBuf>,
    /// Built once, as the check is parsed: every agent (one per hop) starts from a copy
    /// and each request sets its own global timeout.
    config: ureq::config::Config,
}

impl HttpCheck {
    pub fn new(args: &HttpSettings) -> Result<Self, UsageError> {
        let shown = redact::url_password(&args.url);
        let (url, credentials) = split_userinfo(&args.url)?;
        let method = parse_method(args.method.as_deref().unwrap_or("GET"))?;
        let body_rules = BodyRules::parse(&args.body_contains, &args.expect_json)?;
        if method == Method::HEAD && !body_rules.is_empty() {
            return usage("-X HEAD gets no body, so --body-contains/--expect-json cannot hold");
        }
        if args.data.is_some() && matches!(method, Method::GET | Method::HEAD) {
            return usage("--data needs a method with a body, e.g. -X POST");
        }
        let credentials = basic_auth(args, credentials)?;
        let mut headers = Vec::new();
        if let Some((user, password)) = credentials {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            headers.push(header("Authorization", &format!("Basic {token}"))?);
        }
        for line in &args.header {
            let (name, value) = line.split_once(':').ok_or_else(|| {
                // The whole line may be a credential (`Authorization Bearer TOKEN`).
                redact::register_header(line);
                UsageError::new(format!(
                    "invalid -H {:?} (use 'Name: value')",
                    redact::scrub(line)
                ))
            })?;
            headers.push(header(name.trim(), value.trim())?);
        }
        if let Some(host) = &args.host {
            headers.push(header("Host", host)?);
        }
        let connect_to = match &args.connect_to {
            Some(target) => {
                let (host, port) = net::split_host_port(target)
                    .map_err(|error| UsageError::new(format!("--connect-to: {error}")))?;
                let host = if host.contains(':') {
                    format!("[{host}]")
                } else {
                    host
                };
                Some(
                    format!("http://{host}:{port}/")
                        .parse::<Uri>()
                        .map_err(|error| {
                            UsageError::new(format!("--connect-to {target:?}: {error}"))
                        })?,
                )
            }
            None => None,
        };
        let proxy = match &args.proxy {
            Some(text) => {
                let shown = redact::url_password(text);
                let proxy = Proxy::new(text).map_err(|error| {
                    UsageError::new(format!("invalid --proxy {shown:?}: {error}"))
                })?;
                match proxy.protocol() {
                    ProxyProtocol::Http => {}
                    #[cfg(feature = "tls")]
                    ProxyProtocol::Https => {}
                    _ => {
                        return usage(format!(
                            "invalid --proxy {shown:?}: use an http:// or https:// proxy"
                        ))
                    }
                }
                Some(proxy)
            }
            None => None,
        };
        if proxy.is_some() && (args.unix_socket.is_some() || connect_to.is_some()) {
            return usage("--proxy cannot be combined with --unix-socket or --connect-to");
        }
        let is_https = url.scheme_str() == Some("https");
        #[cfg(not(feature = "tls"))]
        if is_https {
            return usage(
                "this probe binary was built without TLS; https:// needs the \"tls\" feature",
            );
        }
        if args.tls_files.any_file() && !is_https {
            return usage("--ca-file, --cert and --key need an https:// URL");
        }
        #[cfg(feature = "tls")]
        let tls = tls_config(&args.tls_files)?;
        // ureq's defaults read eight proxy variables, each a scan of the whole environment,
        // which probe then overrides (proxies come only from --proxy, kubelet's rule).
        let config = crate::env::hidden(|| {
            let config = Agent::config_builder()
                .http_status_as_error(false)
                // Redirects are followed by hand (`run`), so that headers stay with their
                // origin.
                .max_redirects(0)
                .proxy(proxy.clone())
                .user_agent(concat!("probe/", env!("CARGO_PKG_VERSION")))
                .allow_non_standard_methods(true)
                .max_idle_connections(0)
                // Buffers are zero-filled for every connection (128 KiB each by default;
                // ureq's TLS link fills its own a byte at a time). A health response's
                // headers fit in 16 KiB; larger ones get a clear reason rather than a stall.
                .input_buffer_size(INPUT_BUFFER)
                .max_response_header_size(INPUT_BUFFER - 1)
                .output_buffer_size(OUTPUT_BUFFER);
            #[cfg(feature = "tls")]
            let config = config.tls_config(tls);
            config.build()
        });
        Ok(HttpCheck {
            config,
            url,
            shown,
            method,
            statuses: match &args.expect_status {
                Some(text) => StatusSet::parse(text)?,
                None => StatusSet::default(),
            },
            headers,
            body_rules,
            data: args.data.clone(),
            follow_redirects: args.follow_redirects,
            location_trusted: args.location_trusted,
            connect_to,
            unix_socket: args.unix_socket.clone(),
        })
    }

    /// `left` is what the deadline had left when the caller looked (never "no limit": an
    /// expired deadline must not reach ureq as `None`).
    fn agent(&self, deadline: &Deadline, phase: &PhaseCell) -> Agent {
        let connector = ()
            .chain(Mark(phase.clone(), Phase::Connecting))
            .chain(ProxyConnector(phase.clone(), *deadline))
            // --proxy is refused with --unix-socket: a proxy's tunnel or this.
            .chain(DirectConnector(self.unix_socket.clone(), *deadline))
            .chain(Mark(phase.clone(), Phase::TlsHandshake));
        #[cfg(feature = "tls")]
        let connector = connector.chain(ureq::unversioned::transport::RustlsConnector::default());
        let connector = connector.chain(Mark(phase.clone(), Phase::AwaitingResponse));
        let resolver = ProbeResolver {
            phase: phase.clone(),
            connect_to: self.connect_to.clone(),
            unix_socket: self.unix_socket.is_some(),
        };
        Agent::with_parts(self.config.clone(), connector, resolver)
    }

    /// `left` is what the deadline had left when the caller looked (never "no limit": an
    /// expired deadline must not reach ureq as `None`).
    fn request(
        &self,
        agent: &Agent,
        hop: &Hop,
        left: Duration,
    ) -> Result<ureq::http::Response<Body>, Error> {
        let mut builder = Request::builder()
            .method(hop.method.clone())
            .uri(hop.url.clone());
        if hop.with_headers {
            for (name, value) in &self.headers {
                builder = builder.header(name, value);
            }
        }
        match hop.data {
            Some(data) => agent.run(within(agent, builder.body(data)?, left)),
            None => agent.run(within(agent, builder.body(())?, left)),
        }
    }

    /// Sends the request, and with `-L` follows redirects. A redirect to another scheme,
    /// host or port gets none of the user's headers (nor the URL's credentials, which are
    /// one of them) unless `--location-trusted`: an API key must not follow a redirect to
    /// a host the user never named. Stricter than curl, which forwards custom headers.
    /// Sends the request and follows redirects (with `-L`). Every hop gets an agent whose
    /// global timeout is what the deadline has left then, so hops cannot add up past it.
    fn send(
        &self,
        deadline: &Deadline,
        mut left: Duration,
        phase: &PhaseCell,
    ) -> Result<ureq::http::Response<Body>, Result<Outcome, Error>> {
        let mut hop = Hop {
            url: self.url.clone(),
            method: self.method.clone(),
            data: self.data.as_deref(),
            with_headers: true,
        };
        for followed in 0.. {
            let agent = self.agent(deadline, phase);
            let response = self.request(&agent, &hop, left).map_err(Err)?;
            let status = response.status().as_u16();
            let location = response
                .headers()
                .get("location")
                .and_then(|value| value.to_str().ok());
            let redirect = matches!(status, 301 | 302 | 303 | 307 | 308);
            let (true, true, Some(location)) = (self.follow_redirects, redirect, location) else {
                return Ok(response);
            };
            if followed == MAX_REDIRECTS {
                return Err(Ok(Outcome::unhealthy(format!(
                    "too many redirects (more than {MAX_REDIRECTS})"
                ))));
            }
            let next = resolve_location(&hop.url, location).ok_or_else(|| {
                Ok(Outcome::unhealthy(format!(
                    "status {status}, redirect to an invalid location {location:?}"
                )))
            })?;
            hop.with_headers = self.location_trusted || same_origin(&self.url, &next);
            if status == 303 || (matches!(status, 301 | 302) && hop.method == Method::POST) {
                hop.method = Method::GET;
                hop.data = None;
            }
            hop.url = next;
            left = deadline
                .remaining()
                .ok_or_else(|| Ok(deadline.timed_out("following a redirect")))?;
        }
        unreachable!("the loop returns")
    }

    /// A failed request as a verdict, naming the phase it failed in.
    fn failure(&self, error: Error, phase: Phase, deadline: &Deadline) -> Outcome {
        let host = self
            .connect_to
            .as_ref()
            .unwrap_or(&self.url)
            .host()
            .unwrap_or("");
        #[cfg(feature = "tls")]
        {
            // ureq::Error has no source(): its Io variant is where rustls' error hides.
            let cause = match &error {
                Error::Io(io) => crate::tls::rustls_cause(io),
                Error::Rustls(tls) => Some(tls),
                other => crate::tls::rustls_cause(other),
            };
            if let Some(cause) = cause {
                return crate::tls::describe(cause);
            }
        }
        match error {
            Error::Timeout(_) => deadline.timed_out(phase.doing()),
            Error::HostNotFound => Outcome::unhealthy(format!("{host} does not resolve")),
            Error::Io(io) if phase == Phase::Resolving => Outcome::unhealthy(format!(
                "{host} does not resolve ({})",
                crate::outcome::io_reason(&io)
            )),
            Error::Io(io)
                if matches!(
                    io.kind(),
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
                ) =>
            {
                deadline.timed_out(phase.doing())
            }
            Error::Io(io) => Outcome::unhealthy(match phase {
                Phase::Connecting | Phase::Resolving => crate::outcome::io_reason(&io),
                _ => format!("{} {}", crate::outcome::io_reason(&io), phase.doing()),
            }),
            Error::TooManyRedirects => {
                Outcome::unhealthy(format!("too many redirects (more than {MAX_REDIRECTS})"))
            }
            Error::Protocol(error) => {
                Outcome::unhealthy(format!("not a valid HTTP response ({error})"))
            }
            Error::LargeResponseHeader(_, limit) => {
                Outcome::unhealthy(format!("response headers larger than {limit} bytes"))
            }
            Error::BodyExceedsLimit(limit) => Outcome::unhealthy(format!(
                "body larger than {} KiB, the most probe reads",
                limit / 1024
            )),
            // Written by ProxyConnector as whole reasons that name the proxy.
            Error::ConnectProxyFailed(reason) => Outcome::unhealthy(reason),
            Error::Tls(reason) => Outcome::fatal(format!("TLS: {reason}")),
            other => Outcome::unhealthy(crate::outcome::lowercase_first(&error_chain(&other))),
        }
    }
}

impl Probe for HttpCheck {
    fn kind(&self) -> &'static str {
        "http"
    }

    fn target(&self) -> String {
        self.shown.clone()
    }

    fn run(&self, deadline: &Deadline) -> Outcome {
        // One look at the clock: checking `expired()` and then asking `remaining()` again
        // would turn a deadline that ends in between into `None`, which ureq reads as "no
        // limit at all".
        let Some(left) = deadline.remaining() else {
            return deadline.timed_out(Phase::Resolving.doing());
        };
        let phase = PhaseCell::new();
        let mut response = match self.send(deadline, left, &phase) {
            Ok(response) => response,
            Err(Ok(outcome)) => return outcome,
            Err(Err(error)) => return self.failure(error, phase.get(), deadline),
        };
        let status = response.status().as_u16();
        if !self.statuses.contains(status) {
            let location = response
                .headers()
                .get("location")
                .and_then(|value| value.to_str().ok())
                .filter(|_| (300..400).contains(&status))
                .map(|location| format!(", redirect to {location}"))
                .unwrap_or_default();
            return Outcome::unhealthy(format!(
                "status {status}{location} (expected {})",
                self.statuses
            ));
        }
        if self.body_rules.is_empty() {
            return Outcome::healthy(format!("status {status}"));
        }
        phase.set(Phase::ReadingBody);
        let body = match body::read(response.body_mut(), deadline) {
            Ok(body) => body,
            Err(Unread::Failed(error)) => return self.failure(error, Phase::ReadingBody, deadline),
            Err(Unread::NoSlot) => {
                return deadline.timed_out("waiting for memory to read a large body")
            }
        };
        match self.body_rules.check(&body.bytes) {
            Ok(summary) => Outcome::healthy(format!("status {status}, {summary}")),
            Err(reason) => Outcome::unhealthy(format!("status {status}, {reason}")),
        }
    }
}

/// One request of a redirect chain.
struct Hop<'a> {
    url: Uri,
    method: Method,
    data: Option<&'a str>,
    with_headers: bool,
}

/// Scheme, host and port, the port defaulted by the scheme.
fn origin(uri: &Uri) -> (Option<&str>, Option<String>, Option<u16>) {
    let scheme = uri.scheme_str();
    let default = match scheme {
        Some("https") => 443,
        _ => 80,
    };
    let host = uri.host().map(str::to_ascii_lowercase);
    (scheme, host, Some(uri.port_u16().unwrap_or(default)))
}

fn same_origin(a: &Uri, b: &Uri) -> bool {
    origin(a) == origin(b)
}

/// The URL a `Location` header names: absolute, scheme-relative, absolute path or
/// relative to the current path. Credentials in it are dropped.
fn resolve_location(base: &Uri, location: &str) -> Option<Uri> {
    let scheme = base.scheme_str()?;
    let authority = base.authority()?.as_str();
    let text = if location.contains("://") {
        location.to_string()
    } else if let Some(rest) = location.strip_prefix("//") {
        format!("{scheme}://{rest}")
    } else if location.starts_with('/') {
        format!("{scheme}://{authority}{location}")
    } else {
        let path = base.path();
        let dir = &path[..path.rfind('/').map_or(0, |at| at + 1)];
        format!("{scheme}://{authority}{dir}{location}")
    };
    let (uri, _credentials) = split_userinfo(&text).ok()?;
    Some(uri)
}

/// `request` with its own global timeout: what the deadline has left for this hop.
fn within<S: ureq::AsSendBody>(agent: &Agent, request: Request<S>, left: Duration) -> Request<S> {
    agent
        .configure_request(request)
        .timeout_global(Some(left))
        .build()
}

/// Splits `http://user:pass@host/` into the URL without userinfo and the decoded
/// credentials, which become a Basic Authorization header (as curl does). Read with
/// probe's one URL parser: a password may hold `#`, `/` or `?`; a port is 1-65535 or
/// empty (the scheme's default).
fn split_userinfo(text: &str) -> Result<(Uri, Option<(String, String)>), UsageError> {
    let invalid = |reason: String| {
        UsageError::new(format!(
            "invalid URL {:?}: {}",
            redact::url_password(text),
            crate::url::reason(text, &reason)
        ))
    };
    let url = crate::url::Url::parse(text).map_err(invalid)?;
    if !matches!(url.scheme.as_str(), "http" | "https") {
        return Err(invalid("use http:// or https://".into()));
    }
    if url.host.is_empty() {
        return Err(invalid("no host".into()));
    }
    if let Some(password) = &url.password {
        redact::register(password);
    }
    let host = match url.host.contains(':') {
        true => format!("[{}]", url.host),
        false => url.host.clone(),
    };
    let port = url.port.map(|port| format!(":{port}")).unwrap_or_default();
    let path = if url.path.is_empty() {
        "/"
    } else {
        url.path.as_str()
    };
    let query = url
        .query
        .as_deref()
        .map(|query| format!("?{query}"))
        .unwrap_or_default();
    let uri: Uri = format!("{}://{host}{port}{path}{query}", url.scheme)
        .parse()
        .map_err(|error| invalid(format!("{error}")))?;
    let credentials = url
        .user
        .map(|user| (user, url.password.unwrap_or_default()));
    Ok((uri, credentials))
}

fn parse_method(text: &str) -> Result<Method, UsageError> {
    Method::from_bytes(text.to_ascii_uppercase().as_bytes())
        .map_err(|_| UsageError::new(format!("invalid method {text:?}")))
}

/// A validated header; values of credential-bearing headers are registered as secrets.
fn header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), UsageError> {
    let header_name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| UsageError::new(format!("invalid header name {name:?}")))?;
    if redact::is_credential_header(header_name.as_str()) {
        redact::register_header(&format!("{name}: {value}"));
    }
    let header_value = HeaderValue::from_str(value)
        .map_err(|_| UsageError::new(format!("invalid value for header {name}")))?;
    Ok((header_name, header_value))
}

#[cfg(feature = "tls")]
fn tls_config(
    files: &crate::options::blocks::TlsFiles,
) -> Result<ureq::tls::TlsConfig, UsageError> {
    use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig, TlsProvider};

    let roots = match crate::tls::load_roots(files.ca_file.as_deref())? {
        crate::tls::Roots::WebPki => RootCerts::WebPki,
        crate::tls::Roots::Custom(certs) => RootCerts::new_with_certs(
            &certs
                .iter()
                .map(|cert| Certificate::from_der(cert).to_owned())
                .collect::<Vec<_>>(),
        ),
    };
    let client_cert = match crate::tls::load_identity(files.cert.as_deref(), files.key.as_deref())?
    {
        Some(identity) => {
            let chain: Vec<Certificate<'static>> = identity
                .chain
                .iter()
                .map(|cert| Certificate::from_der(cert).to_owned())
                .collect();
            // Read and checked against the certificate by load_identity.
            // ureq's own PEM reader; its error texts are Debug output, so none is shown.
            let key = PrivateKey::from_pem(&identity.key_pem).map_err(|_| {
                UsageError::new("--key: ureq cannot read this private key (PKCS#8, RSA or EC PEM)")
            })?;
            Some(ClientCert::new_with_certs(&chain, key))
        }
        None => None,
    };
    Ok(TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .root_certs(roots)
        .client_cert(client_cert)
        .disable_verification(files.insecure)
        .build())
}

/// The basic-auth login: the URL's `user:password@`, or `-u USER[:PASSWORD]`, `--user-file`
/// and `--password-file` (which need no percent-encoding); never both.
fn basic_auth(
    args: &HttpSettings,
    in_url: Option<(String, String)>,
) -> Result<Option<(String, String)>, UsageError> {
    let flags = args.user.is_some() || args.user_file.is_some() || args.password_file.is_some();
    if in_url.is_some() && flags {
        return usage(
            "the login is given twice: in the URL and with -u/--user-file/--password-file",
        );
    }
    if !flags {
        return Ok(in_url);
    }
    let (user, inline_password) = match (&args.user, &args.user_file) {
        (Some(_), Some(_)) => {
            return usage("the user is given twice: with -u and with --user-file")
        }
        (Some(text), None) => match text.split_once(':') {
            Some((user, password)) => {
                redact::register(password);
                (user.to_string(), Some(password.to_string()))
            }
            None => (text.clone(), None),
        },
        (None, Some(path)) => (crate::fsread::read_value("--user-file", path)?, None),
        (None, None) => return usage("--password-file needs a user: -u USER or --user-file"),
    };
    let password = match (inline_password, &args.password_file) {
        (Some(_), Some(_)) => {
            return usage(
                "the password is given twice: in -u USER:PASSWORD and with --password-file",
            )
        }
        (Some(password), None) => password,
        (None, Some(path)) => redact::read_password_file(path)?,
        (None, None) => {
            return usage(format!(
                "user {user:?} needs a password: -u USER:PASSWORD or --password-file"
            ))
        }
    };
    if user.contains(':') {
        return usage("a basic-auth user name cannot contain ':' (RFC 7617)");
    }
    Ok(Some((user, password)))
}

/// An error and its causes, "a: b: c", for errors without a better reason.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}
