//! `probe amqp [URL]`: a RabbitMQ (AMQP 0-9-1) broker, spoken to rather than port-scanned.
//! The Erlang node opens its port before the AMQP listener is usable, and a TCP check
//! cannot tell a broker that refuses logins or blocks publishers from a working one.
//!
//! Without credentials the check sends the protocol header and is healthy when the broker
//! answers with Connection.Start: nothing is logged in. With credentials (URL userinfo, or
//! `--user` with `--password-file`) it logs in with PLAIN, answers Tune, opens the vhost and
//! closes cleanly (Close, Close-Ok). With `--check-alarms` it also publishes one empty,
//! unroutable message on a channel: a broker under a memory or disk alarm answers it with
//! Connection.Blocked (it sends that only to publishers, never at login), which is
//! unhealthy.
//!
//! The protocol is in `wire.rs`, pure functions over bytes; this file holds the verdicts,
//! the URL, and the one function that opens the connection.

mod spec;
pub mod wire;

pub use spec::{AmqpSettings, CHECK};

use std::io::Write;

use crate::deadline::Deadline;
use crate::outcome::{usage, Outcome, UsageError};
use crate::probe::Probe;
use crate::redact;
use crate::stream::Stream;
use crate::url::{self, Url};
use wire::{Close, Field, Incoming, Method};

const DEFAULT_URL: &str = "amqp://127.0.0.1:5672";

/// Largest frame accepted before Tune: the spec's frame-min-size is 4096, but some servers
/// send Start with long server properties; 64 KiB is far above any seen.
const MAX_FRAME_BEFORE_TUNE: u32 = 64 * 1024;

/// An `amqp://[user[:password]@]host[:port][/vhost]` URL (RabbitMQ's URI spec).
#[derive(Debug, PartialEq, Eq)]
pub struct AmqpUrl {
    host: String,
    port: u16,
    tls: bool,
    user: Option<String>,
    password: Option<String>,
    /// The vhost of the path, percent-decoded; `None` without a path (then "/").
    vhost: Option<String>,
    /// The URL as given, password masked.
    shown: String,
}

/// Parses an AMQP URL (with the one URL parser, `crate::url`) and registers its password
/// with [`redact`]. Query parameters (`?heartbeat=30`, client tuning that kombu and pika
/// read) are accepted and ignored.
fn parse_url(text: &str) -> Result<AmqpUrl, UsageError> {
    let shown = url::mask(text);
    let invalid = |why: &str| {
        UsageError::new(format!(
            "invalid AMQP URL {shown:?}: {}",
            url::reason(text, why)
        ))
    };
    let parsed = Url::parse(text).map_err(|why| invalid(&why))?;
    let (tls, default_port) = match parsed.scheme.as_str() {
        "amqp" => (false, 5672),
        "amqps" => (true, 5671),
        _ => return Err(invalid("the scheme must be amqp or amqps")),
    };
    if parsed.fragment.is_some() {
        return Err(invalid(
            "unexpected '#' (percent-encode it as %23 inside a password)",
        ));
    }
    let password = parsed
        .password
        .clone()
        .filter(|password| !password.is_empty());
    if let Some(password) = &password {
        redact::register(password);
    }
    let user = parsed.user.clone().filter(|user| !user.is_empty());
    let host = parsed.host.clone();
    if host.is_empty() {
        return Err(invalid("the host is missing"));
    }
    if host.contains(|c: char| c.is_whitespace() || c == '/') {
        return Err(invalid("invalid host"));
    }
    let port = parsed.port.unwrap_or(default_port);
    let vhost = match parsed.path.strip_prefix('/') {
        None | Some("") => None,
        Some(path) if path.contains('/') => {
            return Err(invalid(
                "the vhost is one path segment (write a '/' inside it as %2F)",
            ))
        }
        Some(path) => Some(url::percent_decode(path).map_err(|why| invalid(&why))?),
    };
    Ok(AmqpUrl {
        host: host.to_string(),
        port,
        tls,
        user,
        password,
        vhost,
        shown,
    })
}

pub struct AmqpCheck {
    host: String,
    port: u16,
    shown: String,
    /// User and password: log in and open `vhost`.
    login: Option<(String, String)>,
    vhost: String,
    check_alarms: bool,
    #[cfg(feature = "tls")]
    tls: Option<TlsSetup>,
}

impl AmqpCheck {
    pub fn new(args: &AmqpSettings) -> Result<Self, UsageError> {
        let url = parse_url(args.url.as_deref().unwrap_or(DEFAULT_URL).trim())?;
        let login = crate::options::blocks::url_login(
            url.user.as_ref(),
            url.password.as_ref(),
            args.user.as_ref(),
            args.password_file.as_deref(),
        )?;
        let vhost = match (&url.vhost, &args.vhost) {
            (Some(in_url), Some(flag)) if in_url != flag => {
                return usage(format!(
                    "the vhost is given twice: {in_url:?} in the URL and {flag:?} with --vhost"
                ))
            }
            (in_url, flag) => in_url.clone().or_else(|| flag.clone()),
        };
        if login.is_none() && (args.vhost.is_some() || args.check_alarms) {
            return usage("--vhost and --check-alarms need a login (--user and --password-file, or user:password@ in the URL)");
        }
        let vhost = vhost.unwrap_or_else(|| "/".into());
        if vhost.len() > 255 {
            return usage("the vhost name is longer than 255 bytes");
        }
        if args.tls_files.any() && !url.tls {
            return usage("--ca-file, --insecure, --cert and --key need an amqps:// URL");
        }
        #[cfg(not(feature = "tls"))]
        if url.tls {
            return usage(
                "this probe binary was built without the \"tls\" feature (needed for amqps://)",
            );
        }
        Ok(AmqpCheck {
            #[cfg(feature = "tls")]
            tls: match url.tls {
                true => Some(args.tls_files.setup(&url.host, &[])?),
                false => None,
            },
            host: url.host,
            port: url.port,
            shown: url.shown,
            login,
            vhost,
            check_alarms: args.check_alarms,
        })
    }

    fn converse(&self, conn: &mut Conn, deadline: &Deadline) -> Result<Outcome, Outcome> {
        conn.send(&wire::PROTOCOL_HEADER, "the protocol header", deadline)?;
        let (major, minor, properties, mechanisms) =
            match conn.receive("Connection.Start", deadline)? {
                Method::Start {
                    major,
                    minor,
                    properties,
                    mechanisms,
                } => (major, minor, properties, mechanisms),
                other => return Err(conn.unexpected("Connection.Start", other)),
            };
        if (major, minor) != (0, 9) {
            return Err(Outcome::unhealthy(format!(
                "server offers AMQP {major}-{minor}, not 0-9-1"
            )));
        }
        let server = server_name(&properties);
        let Some((user, password)) = &self.login else {
            return Ok(Outcome::healthy(format!(
                "{server} answered with Connection.Start (not logged in)"
            )));
        };
        if !mechanisms.split_whitespace().any(|name| name == "PLAIN") {
            return Err(Outcome::fatal(format!(
                "{server} offers no PLAIN login (mechanisms: {})",
                clean(&mechanisms)
            )));
        }
        conn.send(&wire::start_ok(user, password), "the login", deadline)?;
        let frame_max = match conn.receive("Connection.Tune", deadline)? {
            Method::Tune { frame_max, .. } => frame_max,
            Method::Secure => {
                return Err(Outcome::fatal(
                    "the server asks for a SASL challenge; probe logs in with PLAIN only",
                ))
            }
            other => return Err(conn.unexpected("Connection.Tune", other)),
        };
        let mut reply = wire::tune_ok(frame_max);
        conn.max_frame = match frame_max {
            0 => wire::MAX_FRAME,
            max => max.min(wire::MAX_FRAME),
        };
        // The length was checked while parsing the arguments.
        reply.extend(wire::open(&self.vhost).unwrap_or_default());
        conn.send(&reply, "Connection.Open", deadline)?;
        match conn.receive("Connection.Open-Ok", deadline)? {
            Method::OpenOk => {}
            other => return Err(conn.unexpected("Connection.Open-Ok", other)),
        }
        let opened = format!("logged in as {user:?}, vhost {:?} open", self.vhost);
        if self.check_alarms {
            conn.send(&wire::channel_open(), "Channel.Open", deadline)?;
            match conn.receive("Channel.Open-Ok", deadline)? {
                Method::ChannelOpenOk => {}
                other => return Err(conn.unexpected("Channel.Open-Ok", other)),
            }
            // A blocked broker stops reading after the publish: it answers with Blocked
            // and never sees the Close; a broker without alarm answers Close-Ok.
            let mut publish = wire::publish_unroutable();
            publish.extend(wire::close());
            conn.send(&publish, "the test message", deadline)?;
        } else {
            conn.send(&wire::close(), "Connection.Close", deadline)?;
        }
        match conn.receive("Connection.Close-Ok", deadline)? {
            Method::CloseOk if self.check_alarms => Ok(Outcome::healthy(format!(
                "{opened}, no resource alarm ({server})"
            ))),
            Method::CloseOk => Ok(Outcome::healthy(format!("{opened} ({server})"))),
            other => Err(conn.unexpected("Connection.Close-Ok", other)),
        }
    }

    /// The verdict on a Close (or, `channel`, a Channel.Close) the server sent.
    fn judge_close(&self, close: &Close, channel: bool) -> Outcome {
        let text = clean(&close.text);
        let text = text
            .split(". For details see")
            .next()
            .unwrap_or_default()
            .trim_end_matches('.');
        let opening = (close.class, close.method) == (10, 40);
        match close.code {
            403 if channel => {
                Outcome::fatal(format!("publishing the test message was refused: {text}"))
            }
            _ if channel => Outcome::unhealthy(format!("the server closed the channel: {text}")),
            // A connection limit of the vhost or user clears when others disconnect.
            403 | 530 if opening && !text.contains("limit") => {
                Outcome::fatal(format!("vhost {:?} cannot be opened: {text}", self.vhost))
            }
            403 => Outcome::fatal(format!("login refused: {text}")),
            _ => Outcome::unhealthy(format!("the server closed the connection: {text}")),
        }
    }
}

impl Probe for AmqpCheck {
    fn kind(&self) -> &'static str {
        "amqp"
    }

    fn target(&self) -> String {
        self.shown.clone()
    }

    fn run(&self, deadline: &Deadline) -> Outcome {
        #[cfg(feature = "tls")]
        let stream = connect(&self.host, self.port, self.tls.as_ref(), deadline);
        #[cfg(not(feature = "tls"))]
        let stream = connect(&self.host, self.port, deadline);
        let mut conn = match stream {
            Ok(stream) => Conn {
                stream,
                buffer: Vec::with_capacity(1024),
                parsed: 0,
                max_frame: MAX_FRAME_BEFORE_TUNE,
                closed: None,
            },
            Err(outcome) => return outcome,
        };
        let outcome = match self.converse(&mut conn, deadline) {
            Ok(outcome) => outcome,
            Err(outcome) => match conn.closed.take() {
                Some((close, channel)) => self.judge_close(&close, channel),
                None => outcome,
            },
        };
        conn.finish();
        outcome
    }
}

/// "RabbitMQ 3.10.8", from the server properties (or "the broker" without them).
fn server_name(properties: &wire::Table) -> String {
    let text = |name| match wire::lookup(properties, name) {
        Some(Field::Text(text)) if !text.is_empty() => Some(clean(text)),
        _ => None,
    };
    match (text("product"), text("version")) {
        (Some(product), Some(version)) => format!("{product} {version}"),
        (Some(product), None) => product,
        _ => "the broker".into(),
    }
}

/// A server's text, fit for one output line: control characters dropped, at most 200.
fn clean(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// The version in a protocol header the server sent instead of Connection.Start.
fn version_name(version: [u8; 4]) -> String {
    match version {
        [_, 1, 0, 0] => "AMQP 1.0".into(),
        [1, 1, major, minor] => format!("AMQP {major}-{minor}"),
        [0, major, minor, revision] => format!("AMQP {major}-{minor}-{revision}"),
        other => format!("protocol {other:?}"),
    }
}

#[cfg(feature = "tls")]
use crate::tls::Setup as TlsSetup;

/// Resolves, connects and (for amqps) completes the TLS handshake, each step bounded by
/// the deadline (the shared I/O layer, `crate::stream`).
fn connect(
    host: &str,
    port: u16,
    #[cfg(feature = "tls")] tls: Option<&TlsSetup>,
    deadline: &Deadline,
) -> Result<Stream, Outcome> {
    let stream = Stream::tcp(host, port, deadline)?;
    #[cfg(feature = "tls")]
    if let Some(tls) = tls {
        return stream.into_tls(tls.config.clone(), tls.name.clone(), deadline);
    }
    Ok(stream)
}

/// An open connection: the stream, what has been read of it, and the frame size limit.
struct Conn {
    stream: Stream,
    buffer: Vec<u8>,
    /// Where the unparsed bytes of `buffer` start: frames are consumed by moving this, and
    /// the buffer is compacted once per read, not once per frame (a flood of 8-byte
    /// heartbeats would otherwise move the rest of the buffer 512 times per 4 KiB read).
    parsed: usize,
    max_frame: u32,
    /// The server's Close, once one came (answered with Close-Ok already); `true` for a
    /// Channel.Close.
    closed: Option<(Close, bool)>,
}

impl Conn {
    fn arm(&mut self, deadline: &Deadline, phase: &str) -> Result<(), Outcome> {
        if deadline.expired() {
            return Err(deadline.timed_out(phase));
        }
        self.stream.set_deadline(*deadline);
        Ok(())
    }

    fn send(&mut self, bytes: &[u8], what: &str, deadline: &Deadline) -> Result<(), Outcome> {
        let phase = format!("sending {what}");
        self.arm(deadline, &phase)?;
        self.stream
            .write_all(bytes)
            .and_then(|()| self.stream.flush())
            .map_err(|error| crate::stream::failure(error, deadline, &phase))
    }

    /// The next method the server sends, skipping heartbeats and Unblocked. A
    /// Connection.Blocked or a Close ends the check here (as `Err`).
    fn receive(&mut self, expected: &str, deadline: &Deadline) -> Result<Method, Outcome> {
        let phase = format!("waiting for {expected}");
        loop {
            let parsed =
                wire::parse(&self.buffer[self.parsed..], self.max_frame).map_err(|error| {
                    Outcome::unhealthy(format!("{} (is this an AMQP port?)", error.0))
                })?;
            let Some((incoming, used)) = parsed else {
                self.fill(deadline, &phase)?;
                continue;
            };
            let method = match incoming {
                Incoming::ProtocolHeader(version) => {
                    let name = version_name(version);
                    return Err(Outcome::unhealthy(if name == "AMQP 0-9-1" {
                        "the server refused our AMQP 0-9-1 protocol header (it answered with its own)".to_string()
                    } else {
                        format!("the server speaks {name}, not AMQP 0-9-1 (it answered with its protocol header)")
                    }));
                }
                Incoming::Frame(frame) if frame.kind == wire::FRAME_METHOD => {
                    Some((frame.channel, wire::method(frame.payload)))
                }
                Incoming::Frame(_) => None,
            };
            self.parsed += used;
            let Some((channel, method)) = method else {
                continue;
            };
            let method = method.map_err(|error| {
                Outcome::unhealthy(format!("bad {expected} from the server: {}", error.0))
            })?;
            return match method {
                Method::Unblocked => continue,
                Method::Blocked { reason } => Err(Outcome::unhealthy(format!(
                    "the broker blocks publishers (resource alarm: {})",
                    if reason.is_empty() {
                        "no reason given".into()
                    } else {
                        clean(&reason)
                    }
                ))),
                Method::Close(close) | Method::ChannelClose(close) => {
                    let _ = self.send(&wire::close_ok(), "Connection.Close-Ok", deadline);
                    let text = clean(&close.text);
                    self.closed = Some((close, channel != 0));
                    Err(Outcome::unhealthy(format!("the server closed: {text}")))
                }
                method => Ok(method),
            };
        }
    }

    fn fill(&mut self, deadline: &Deadline, phase: &str) -> Result<(), Outcome> {
        self.arm(deadline, phase)?;
        self.buffer.drain(..self.parsed);
        self.parsed = 0;
        self.stream
            .read_into(&mut self.buffer, 4096)
            .map(drop)
            .map_err(|error| crate::stream::failure(error, deadline, phase))
    }

    /// A method that is not the one expected, as a verdict.
    fn unexpected(&self, expected: &str, method: Method) -> Outcome {
        Outcome::unhealthy(format!(
            "expected {expected}, the server sent {}",
            method.name()
        ))
    }

    /// Ends the connection: TLS close_notify when there is TLS, then FIN.
    fn finish(self) {
        self.stream.close(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_amqp_urls() {
        let url = parse_url("amqp://app:s%40cret@rabbit:5673/my%2Fvhost").unwrap();
        assert_eq!(url.host, "rabbit");
        assert_eq!(url.port, 5673);
        assert_eq!(url.user.as_deref(), Some("app"));
        assert_eq!(url.password.as_deref(), Some("s@cret"));
        assert_eq!(url.vhost.as_deref(), Some("my/vhost"));
        assert_eq!(url.shown, "amqp://app:***@rabbit:5673/my%2Fvhost");
        assert_eq!(redact::scrub("s@cret"), "***");

        let url = parse_url("amqps://rabbit").unwrap();
        assert_eq!((url.port, url.tls, url.vhost), (5671, true, None));
        let url = parse_url("AMQP://[::1]/?heartbeat=30").unwrap();
        assert_eq!(
            (url.host.as_str(), url.port, url.vhost),
            ("::1", 5672, None)
        );
        assert_eq!(
            parse_url("amqp://h/%2F").unwrap().vhost.as_deref(),
            Some("/")
        );
        assert_eq!(parse_url("amqp://guest@h").unwrap().password, None);
    }

    #[test]
    fn rejects_malformed_urls() {
        for bad in [
            "rabbit:5672",
            "http://rabbit",
            "amqp://",
            "amqp://h:0",
            "amqp://h:99999",
            "amqp://h/a/b",
            "amqp://::1:5672",
            "amqp://[::1",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
        // The one URL parser's rule: the password runs to the last '@', '#' and all.
        assert_eq!(
            parse_url("amqp://u:p#x@h").unwrap().password.as_deref(),
            Some("p#x")
        );
        let error = parse_url("amqp://u:hunter2@h:x").unwrap_err();
        assert!(!error.0.contains("hunter2"), "{error}");
    }

    #[test]
    fn names_versions_and_servers() {
        assert_eq!(version_name([0, 1, 0, 0]), "AMQP 1.0");
        assert_eq!(version_name([1, 1, 0, 8]), "AMQP 0-8");
        assert_eq!(version_name([0, 0, 9, 1]), "AMQP 0-9-1");
        let properties = vec![
            ("product".into(), Field::Text("RabbitMQ".into())),
            ("version".into(), Field::Text("3.10.8\n".into())),
        ];
        assert_eq!(server_name(&properties), "RabbitMQ 3.10.8");
        assert_eq!(server_name(&Vec::new()), "the broker");
    }
}
