//! `probe grpc [grpc://|grpcs://]HOST:PORT [--service NAME]`: the gRPC Health Checking
//! Protocol v1 (`/grpc.health.v1.Health/Check`), healthy only when the answer is SERVING.
//!
//! Spoken over HTTP/2 with prior knowledge (h2c) or over TLS with ALPN `h2` (required: a
//! TLS server that chooses no protocol is not spoken HTTP/2 to), by the few
//! frames of [`h2`] on std sockets: a Tokio stack (h2, tonic) would cost far more in size
//! and start-up time than one request needs. The two protobuf messages have one field each
//! and are written and read here by hand.
//!
//! Verdicts: SERVING healthy, in a reply of HTTP status 200 only (any other `:status`, a
//! proxy's 502 or a server's 500, is unhealthy whatever the body says); NOT_SERVING and UNKNOWN unhealthy (a server that is starting
//! or draining says so); SERVICE_UNKNOWN and grpc-status NOT_FOUND fatal (the service name is
//! wrong), UNIMPLEMENTED fatal (the server has no health service: waiting cannot add one),
//! UNAUTHENTICATED and PERMISSION_DENIED fatal (the metadata is wrong); any other grpc-status
//! unhealthy, with grpc-message in the reason.

pub mod h2;
pub mod proto;
mod spec;

pub use spec::{GrpcSettings, CHECK};

use self::proto::{decode_response, encode_request};

use std::io::{self, Write};

use crate::deadline::Deadline;
use crate::net;
use crate::outcome::{usage, Outcome, UsageError};
use crate::probe::Probe;
use crate::redact;
use crate::stream::Stream;

const PATH: &str = "/grpc.health.v1.Health/Check";

/// Longest `--service` name accepted (names are short: `package.Service`).
const MAX_SERVICE: usize = 1024;

/// TLS settings of a `grpcs://` / `--tls` check, prepared once while parsing.
#[cfg(feature = "tls")]
#[cfg(feature = "tls")]
use crate::tls::Setup as TlsSetup;

pub struct GrpcCheck {
    host: String,
    port: u16,
    /// `host:port`, with IPv6 addresses in brackets: the `:authority`.
    authority: String,
    service: String,
    metadata: Vec<(String, String)>,
    #[cfg(feature = "tls")]
    tls: Option<TlsSetup>,
}

impl GrpcCheck {
    pub fn new(args: &GrpcSettings) -> Result<Self, UsageError> {
        let (host, port, scheme_tls) = parse_target(&args.target)?;
        let tls = match (scheme_tls, args.tls) {
            (Some(false), true) => {
                return usage("--tls contradicts grpc:// (cleartext); write grpcs:// or HOST:PORT")
            }
            (Some(tls), _) => tls,
            (None, tls) => tls,
        };
        let tls_flags = args.tls_files.any() || args.server_name.is_some();
        if tls_flags && !tls {
            return usage(
                "--ca-file, --cert, --key, --insecure and --server-name need --tls or a grpcs:// target",
            );
        }
        #[cfg(not(feature = "tls"))]
        if tls {
            return usage("this probe binary was built without the \"tls\" feature (needed for grpcs:// and --tls)");
        }
        let service = args.service.clone().unwrap_or_default();
        if service.len() > MAX_SERVICE || service.contains(char::is_control) {
            return usage("invalid --service (at most 1024 characters, no control characters)");
        }
        let metadata = args
            .header
            .iter()
            .map(|text| metadata(text))
            .collect::<Result<Vec<_>, _>>()?;
        let authority = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        Ok(GrpcCheck {
            #[cfg(feature = "tls")]
            tls: if tls {
                Some(
                    args.tls_files
                        .setup(args.server_name.as_deref().unwrap_or(&host), &[b"h2"])?,
                )
            } else {
                None
            },
            host,
            port,
            authority,
            service,
            metadata,
        })
    }

    fn is_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.tls.is_some();
        #[cfg(not(feature = "tls"))]
        false
    }

    /// Resolves, connects and (with TLS) completes the handshake, within the deadline (the
    /// shared I/O layer, `crate::stream`, bounds every step after that too).
    fn connect(&self, deadline: &Deadline) -> Result<Stream, Outcome> {
        let stream = Stream::tcp(&self.host, self.port, deadline)?;
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            let stream = stream.into_tls(tls.config.clone(), tls.name.clone(), deadline)?;
            // gRPC over TLS is HTTP/2 by ALPN (RFC 7540 3.3); a server that chose no
            // protocol speaks HTTP/1.1 there, whatever bytes it sends next.
            if stream.alpn_protocol() != Some(b"h2") {
                stream.close(false);
                return Err(Outcome::unhealthy(
                    "the TLS server did not agree to HTTP/2 (no ALPN h2, which gRPC over TLS needs)",
                ));
            }
            return Ok(stream);
        }
        Ok(stream)
    }

    fn headers(&self, deadline: &Deadline) -> Vec<(String, String)> {
        let mut headers = vec![
            ("content-type".to_string(), "application/grpc".to_string()),
            ("te".into(), "trailers".into()),
            (
                "user-agent".into(),
                concat!("probe/", env!("CARGO_PKG_VERSION")).into(),
            ),
        ];
        // The server may stop working on the call when we stop waiting for it.
        if let Some(left) = deadline.remaining() {
            let millis = left.as_millis().clamp(1, 99_999_999);
            headers.push(("grpc-timeout".into(), format!("{millis}m")));
        }
        headers.extend(self.metadata.iter().cloned());
        headers
    }
}

impl Probe for GrpcCheck {
    fn kind(&self) -> &'static str {
        "grpc"
    }

    fn target(&self) -> String {
        let scheme = if self.is_tls() { "grpcs" } else { "grpc" };
        match self.service.as_str() {
            "" => format!("{scheme}://{}", self.authority),
            service => format!("{scheme}://{} service {service:?}", self.authority),
        }
    }

    fn run(&self, deadline: &Deadline) -> Outcome {
        let mut stream = match self.connect(deadline) {
            Ok(stream) => stream,
            Err(outcome) => return outcome,
        };
        let headers = self.headers(deadline);
        let body = encode_request(&self.service);
        let request = h2::Request {
            scheme: if self.is_tls() { "https" } else { "http" },
            authority: &self.authority,
            path: PATH,
            headers: &headers,
            body: &body,
        };
        // The stream bounds each read and write by the deadline; this only stops the
        // exchange from starting another step once it has passed.
        let mut arm = |_: &mut Stream| match deadline.expired() {
            false => Ok(()),
            true => Err(io::ErrorKind::TimedOut.into()),
        };
        let outcome = match h2::exchange(&mut stream, &request, &mut arm) {
            Ok(response) => judge(&response, &self.service),
            Err(error) => failure(error, deadline),
        };
        if arm(&mut stream).is_ok() {
            let _ = stream.write_all(&h2::goaway());
        }
        stream.close(true);
        outcome
    }
}

/// `[grpc://|grpcs://]HOST:PORT` → host, port, and whether the scheme asks for TLS
/// (`None` when there is no scheme).
fn parse_target(text: &str) -> Result<(String, u16, Option<bool>), UsageError> {
    let expected = || {
        UsageError::new(format!(
            "invalid target {:?} (expected [grpc://|grpcs://]HOST:PORT)",
            crate::url::mask(text)
        ))
    };
    if !text.contains("://") {
        let (host, port) = net::split_host_port(text)?;
        return Ok((host, port, None));
    }
    let url = crate::url::Url::parse(text).map_err(|why| {
        UsageError::new(format!(
            "invalid target {:?}: {}",
            crate::url::mask(text),
            crate::url::reason(text, &why)
        ))
    })?;
    let tls = match url.scheme.as_str() {
        "grpc" => false,
        "grpcs" => true,
        _ => return Err(expected()),
    };
    let extra = !matches!(url.path.as_str(), "" | "/") || url.query.is_some();
    match (url.port, url.host.is_empty(), extra, url.user.is_some()) {
        (Some(port), false, false, false) => Ok((url.host, port, Some(tls))),
        _ => Err(expected()),
    }
}

/// `-H KEY:VALUE` → lowercase key and value (leading spaces dropped); the value is
/// registered as a secret (metadata often carries a token).
fn metadata(text: &str) -> Result<(String, String), UsageError> {
    let (key, value) = text
        .split_once(':')
        .ok_or_else(|| UsageError::new("invalid -H (expected KEY:VALUE)"))?;
    let value = value.trim_start();
    redact::register(value);
    if let Some((_scheme, credential)) = value.split_once(' ') {
        redact::register(credential.trim());
    }
    let key = key.trim().to_ascii_lowercase();
    let valid_key = !key.is_empty()
        && key
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.".contains(&byte));
    if !valid_key {
        return usage(format!(
            "invalid -H key {key:?} (letters, digits, '-', '_' and '.')"
        ));
    }
    if value.bytes().any(|byte| byte < b' ' || byte == 0x7f) {
        return usage(format!("invalid -H value for {key} (control characters)"));
    }
    Ok((key, value.to_string()))
}

/// A failed exchange as a verdict. All are retryable: a server that is starting, draining
/// or misconfigured behind a proxy can answer properly later.
fn failure(error: h2::Error, deadline: &Deadline) -> Outcome {
    match error {
        h2::Error::Io(error, h2::Phase::Sending) => {
            crate::stream::failure(error, deadline, "sending the health check")
        }
        h2::Error::Io(error, h2::Phase::Receiving) => {
            crate::stream::failure(error, deadline, "waiting for the health response")
        }
        h2::Error::NotHttp2(what) => {
            Outcome::unhealthy(format!("the server does not speak HTTP/2 ({what})"))
        }
        h2::Error::Closed {
            got_settings: false,
        } => Outcome::unhealthy(
            "connection closed by the server before HTTP/2 settings (does it speak gRPC? with TLS: grpcs:// or --tls)",
        ),
        h2::Error::Closed { got_settings: true } => {
            Outcome::unhealthy("connection closed by the server before the health response")
        }
        h2::Error::Protocol(text) => Outcome::unhealthy(format!("HTTP/2 error: {text}")),
        h2::Error::GoAway { code, debug } => Outcome::unhealthy(match debug.as_str() {
            "" => format!("the server closed the connection (GOAWAY {})", h2_code(code)),
            _ => format!(
                "the server closed the connection (GOAWAY {}: {debug})",
                h2_code(code)
            ),
        }),
        h2::Error::Reset(code) => Outcome::unhealthy(format!(
            "the server reset the request (RST_STREAM {})",
            h2_code(code)
        )),
    }
}

/// The verdict of a complete response. A gRPC reply is HTTP status 200; any other status
/// (a proxy's 502, a server's 500) is unhealthy whatever the body and trailers say.
fn judge(response: &h2::Response, service: &str) -> Outcome {
    let http_status = response
        .headers
        .iter()
        .find(|(name, _)| name == ":status")
        .map(|(_, value)| clean(value));
    let grpc_status = response.get("grpc-status");
    let status = match (http_status.as_deref(), grpc_status) {
        (Some("200"), Some(status)) => status,
        (Some("200"), None) => {
            return Outcome::unhealthy("the reply has no grpc-status (is this a gRPC server?)")
        }
        (None, _) => return Outcome::unhealthy("the reply has no HTTP :status"),
        (Some(code), None) => {
            return Outcome::unhealthy(format!(
                "HTTP status {code} and no grpc-status (is this a gRPC port?)"
            ))
        }
        (Some(code), Some(_)) => {
            return Outcome::unhealthy(format!(
                "HTTP status {code}, not 200 (the reply's grpc-status and body are not trusted)"
            ))
        }
    };
    let Ok(code) = status.parse::<u32>() else {
        return Outcome::unhealthy(format!("invalid grpc-status {:?}", clean(status)));
    };
    let reason = match response.get("grpc-message").map(grpc_message) {
        Some(message) if !message.is_empty() => {
            format!("grpc-status {code} {}: {message}", grpc_code(code))
        }
        _ => format!("grpc-status {code} {}", grpc_code(code)),
    };
    match code {
        0 => match decode_response(&response.body) {
            Ok(1) => Outcome::healthy("SERVING"),
            Ok(0) => Outcome::unhealthy("UNKNOWN"),
            Ok(2) => Outcome::unhealthy("NOT_SERVING"),
            Ok(3) => Outcome::fatal(format!("service {service:?} is unknown (SERVICE_UNKNOWN)")),
            Ok(other) => Outcome::unhealthy(format!("unknown health status {other}")),
            Err(text) => Outcome::unhealthy(format!("invalid health response: {text}")),
        },
        5 => Outcome::fatal(format!(
            "service {service:?} is unknown to the health service ({reason})"
        )),
        12 => Outcome::fatal(format!(
            "the server has no gRPC health service ({reason}; it must register grpc.health.v1.Health)"
        )),
        7 | 16 => Outcome::fatal(format!("{reason} (check the -H metadata)")),
        _ => Outcome::unhealthy(reason),
    }
}

/// grpc-message is percent-encoded UTF-8; shown without control characters, cut short.
fn grpc_message(text: &str) -> String {
    clean(&crate::url::percent_decode(text).unwrap_or_else(|_| text.to_string()))
}

fn clean(text: &str) -> String {
    let text: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
    text.trim().to_string()
}

fn grpc_code(code: u32) -> &'static str {
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    NAMES
        .get(code as usize)
        .copied()
        .unwrap_or("(unknown code)")
}

fn h2_code(code: u32) -> String {
    const NAMES: [&str; 14] = [
        "NO_ERROR",
        "PROTOCOL_ERROR",
        "INTERNAL_ERROR",
        "FLOW_CONTROL_ERROR",
        "SETTINGS_TIMEOUT",
        "STREAM_CLOSED",
        "FRAME_SIZE_ERROR",
        "REFUSED_STREAM",
        "CANCEL",
        "COMPRESSION_ERROR",
        "CONNECT_ERROR",
        "ENHANCE_YOUR_CALM",
        "INADEQUATE_SECURITY",
        "HTTP_1_1_REQUIRED",
    ];
    match NAMES.get(code as usize) {
        Some(name) => (*name).to_string(),
        None => format!("error {code}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: Option<&str>, message: Option<&str>, body: &[u8]) -> h2::Response {
        let mut trailers = Vec::new();
        if let Some(status) = status {
            trailers.push(("grpc-status".to_string(), status.to_string()));
        }
        if let Some(message) = message {
            trailers.push(("grpc-message".to_string(), message.to_string()));
        }
        h2::Response {
            headers: vec![(":status".into(), "200".into())],
            body: body.to_vec(),
            trailers,
        }
    }

    #[test]
    fn targets_take_an_optional_scheme() {
        assert_eq!(
            parse_target("grpc://svc:50051").unwrap(),
            ("svc".into(), 50051, Some(false))
        );
        assert_eq!(
            parse_target("grpcs://[::1]:443/").unwrap(),
            ("::1".into(), 443, Some(true))
        );
        assert_eq!(parse_target("svc:1").unwrap(), ("svc".into(), 1, None));
        for bad in [
            "svc",
            "http://svc:1",
            "grpc://svc",
            "grpc://svc:0",
            "grpc://a@svc:1",
        ] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn metadata_keys_are_lowercased_and_values_kept() {
        // Values become secrets of the whole test process: make them unlike any other text.
        assert_eq!(
            metadata("Authorization: Bearer grpc-unit-token").unwrap(),
            ("authorization".into(), "Bearer grpc-unit-token".into())
        );
        assert!(metadata("novalue").is_err());
        assert!(metadata(":grpc-unit-path").is_err());
        assert!(metadata("a b:grpc-unit-1").is_err());
        assert!(metadata("k:grpc-unit\n2").is_err());
    }

    #[test]
    fn requests_encode_the_service_name() {
        assert_eq!(encode_request(""), [0, 0, 0, 0, 0]);
        assert_eq!(
            encode_request("a.B"),
            [0, 0, 0, 0, 5, 0x0a, 3, b'a', b'.', b'B']
        );
        let long = "x".repeat(200);
        let framed = encode_request(&long);
        assert_eq!(&framed[5..8], &[0x0a, 0xc8, 0x01]);
    }

    #[test]
    fn responses_decode_the_status() {
        assert_eq!(decode_response(&[0, 0, 0, 0, 2, 8, 1]), Ok(1));
        assert_eq!(decode_response(&[0, 0, 0, 0, 0]), Ok(0));
        // An unknown field before the status is skipped.
        assert_eq!(
            decode_response(&[0, 0, 0, 0, 6, 0x12, 2, b'h', b'i', 8, 2]),
            Ok(2)
        );
        assert!(decode_response(&[0, 0, 0]).is_err());
        assert!(decode_response(&[1, 0, 0, 0, 2, 8, 1]).is_err());
        assert!(decode_response(&[0, 0, 0, 0, 3, 8, 1]).is_err());
        assert!(decode_response(&[0, 0, 0, 0, 2, 8, 0x80]).is_err());
        assert!(decode_response(&[0, 0, 0, 0, 1, 0x0f]).is_err());
    }

    #[test]
    fn verdicts_follow_the_health_status_and_grpc_status() {
        let serving = judge(&response(Some("0"), None, &[0, 0, 0, 0, 2, 8, 1]), "");
        assert!(serving.is_healthy());
        assert_eq!(serving.detail, "SERVING");
        let not = judge(&response(Some("0"), None, &[0, 0, 0, 0, 2, 8, 2]), "a.B");
        assert_eq!(not, Outcome::unhealthy("NOT_SERVING"));
        let unknown = judge(&response(Some("0"), None, &[0, 0, 0, 0, 0]), "");
        assert_eq!(unknown, Outcome::unhealthy("UNKNOWN"));

        let missing = judge(&response(Some("5"), Some("unknown%20service"), &[]), "a.B");
        assert!(missing.is_fatal());
        assert_eq!(
            missing.detail,
            "service \"a.B\" is unknown to the health service (grpc-status 5 NOT_FOUND: unknown service)"
        );
        let unimplemented = judge(&response(Some("12"), None, &[]), "");
        assert!(unimplemented.is_fatal());
        assert!(unimplemented.detail.contains("no gRPC health service"));
        let unavailable = judge(&response(Some("14"), Some("draining"), &[]), "");
        assert_eq!(
            unavailable,
            Outcome::unhealthy("grpc-status 14 UNAVAILABLE: draining")
        );
        assert!(judge(&response(Some("16"), None, &[]), "").is_fatal());
        assert!(!judge(&response(None, None, &[]), "").is_healthy());
        assert!(!judge(&response(Some("x"), None, &[]), "").is_healthy());
    }

    #[test]
    fn a_status_other_than_200_is_unhealthy_whatever_the_body() {
        let serving = [0, 0, 0, 0, 2, 8, 1];
        for code in ["500", "503", "204", "404"] {
            let mut reply = response(Some("0"), None, &serving);
            reply.headers = vec![(":status".into(), code.into())];
            assert_eq!(
                judge(&reply, ""),
                Outcome::unhealthy(format!(
                    "HTTP status {code}, not 200 (the reply's grpc-status and body are not trusted)"
                ))
            );
        }
        let mut reply = response(Some("0"), None, &serving);
        reply.headers.clear();
        assert_eq!(
            judge(&reply, ""),
            Outcome::unhealthy("the reply has no HTTP :status")
        );
        // :status belongs to the headers: in the trailers it does not count.
        reply.trailers.push((":status".into(), "200".into()));
        assert!(!judge(&reply, "").is_healthy());
    }
}
