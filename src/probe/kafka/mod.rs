//! `probe kafka [BOOTSTRAP]`: a Kafka broker, asked what a client asks first, instead of
//! `kafka-topics.sh --bootstrap-server ... --list` (a JVM, seconds per check) or `nc -z`,
//! which says healthy while the broker is still starting or the cluster has no controller.
//!
//! The check connects (TCP, TLS with `--tls`), sends ApiVersions v3 (a broker before Kafka
//! 2.4 refuses it with UNSUPPORTED_VERSION and a v0 body, and is asked again at v0, as
//! librdkafka and the Java client do), and picks from the answer the versions of the later
//! requests. With a user it logs in with SaslHandshake v1 and SaslAuthenticate: PLAIN, or
//! SCRAM-SHA-256/512 through [`crate::scram`] (the password's UTF-8 bytes as they are: Kafka
//! does no SASLprep), requiring the server's final proof; a refused login is fatal, whether
//! the broker says SASL_AUTHENTICATION_FAILED (Apache Kafka) or answers the proof with SCRAM's
//! `e=invalid-proof` and no error code (Tansu). Then Metadata (v1 to v12, never creating
//! a topic from v4 on): healthy when the broker lists itself among the brokers and the
//! cluster has a controller; each `--topic` must exist with a leader for every partition and
//! every replica in sync. KRaft and ZooKeeper-era brokers answer alike.
//!
//! With several bootstrap hosts, they are tried in order until one accepts the connection,
//! and that one decides; when none does, each is named in the reason.
//!
//! The protocol is spoken directly (no client crate: rdkafka is C, and the Rust clients bring
//! an async runtime): requests and reply parsers are pure, bounded, fuzzed functions in
//! [`wire`]; [`Conn`] is the one place that touches the socket, every read and write bounded
//! by the check's deadline, every reply by [`wire::MAX_REPLY`].

mod bootstrap;
mod spec;
pub mod wire;

pub use spec::{KafkaSettings, CHECK};

use crate::deadline::Deadline;
use crate::outcome::{usage, Outcome, UsageError};
use crate::probe::Probe;
use crate::redact;
use crate::scram::{Binding, Hash, Scram};
use crate::stream::{MessageStream, Stream};

use self::wire::{ApiVersions, Metadata, Reader};

const DEFAULT_BOOTSTRAP: &str = "localhost:9092";

/// A SASL mechanism probe logs in with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mechanism {
    Plain,
    Scram(Hash),
}

impl Mechanism {
    fn parse(text: &str) -> Result<Mechanism, UsageError> {
        match text.trim().to_ascii_uppercase().as_str() {
            "PLAIN" => Ok(Mechanism::Plain),
            "SCRAM-SHA-256" => Ok(Mechanism::Scram(Hash::Sha256)),
            "SCRAM-SHA-512" => Ok(Mechanism::Scram(Hash::Sha512)),
            _ => usage(format!(
                "invalid SASL mechanism {text:?} (scram-sha-512, scram-sha-256 or plain)"
            )),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Scram(Hash::Sha256) => "SCRAM-SHA-256",
            Mechanism::Scram(_) => "SCRAM-SHA-512",
        }
    }
}

#[derive(Debug)]
struct Login {
    user: String,
    password: String,
    mechanism: Mechanism,
}

pub struct KafkaCheck {
    hosts: Vec<(String, u16)>,
    shown: String,
    topics: Vec<String>,
    login: Option<Login>,
    tls: bool,
    /// One TLS setup per host (each is verified against its own name).
    #[cfg(feature = "tls")]
    setups: Vec<crate::tls::Setup>,
}

impl KafkaCheck {
    pub fn new(settings: &KafkaSettings) -> Result<Self, UsageError> {
        Self::with_env(settings, &crate::env::get)
    }

    /// [`KafkaCheck::new`] with the environment given (`KAFKA_BOOTSTRAP_SERVERS`,
    /// `KAFKA_SASL_USERNAME`, `KAFKA_SASL_PASSWORD`, `KAFKA_SASL_MECHANISM`).
    fn with_env(
        settings: &KafkaSettings,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, UsageError> {
        let env = |name: &str| env(name).filter(|value| !value.trim().is_empty());
        let text = match &settings.bootstrap {
            Some(text) => text.clone(),
            None => env("KAFKA_BOOTSTRAP_SERVERS").unwrap_or_else(|| DEFAULT_BOOTSTRAP.into()),
        };
        let text = text.trim();
        // Registers the URL's password before anything can print it.
        let shown = redact::url_password(text);
        let list = bootstrap::parse(text)?;
        if let Some(password) = &list.password {
            redact::register(password);
        }
        let user = match (list.user, &settings.user) {
            (Some(in_url), Some(flag)) if in_url != *flag => {
                return usage(format!(
                    "the user is given twice: {in_url:?} in the URL and {flag:?} with --user"
                ))
            }
            (in_url, flag) => in_url.or_else(|| flag.clone()),
        };
        let password = match (list.password, &settings.password_file) {
            (Some(_), Some(_)) => {
                return usage("the password is given twice: in the URL and with --password-file")
            }
            (Some(password), None) => Some(password),
            (None, Some(path)) => Some(redact::read_password_file(path)?),
            (None, None) => None,
        };
        let user = user.or_else(|| env("KAFKA_SASL_USERNAME"));
        let password = password.or_else(|| env("KAFKA_SASL_PASSWORD"));
        let flag_mechanism = settings
            .mechanism
            .as_deref()
            .map(Mechanism::parse)
            .transpose()?;
        let login = match (user, password) {
            (Some(user), Some(password)) => Some(Login {
                user,
                password,
                // The variable only where it is used: an app's GSSAPI setting does not
                // stop a check that does not log in.
                mechanism: match flag_mechanism {
                    Some(mechanism) => mechanism,
                    None => match env("KAFKA_SASL_MECHANISM") {
                        Some(name) => Mechanism::parse(&name)?,
                        None => Mechanism::Scram(Hash::Sha512),
                    },
                },
            }),
            (Some(user), None) => {
                return usage(format!(
                "user {user:?} needs a password (--password-file, the URL or $KAFKA_SASL_PASSWORD)"
            ))
            }
            (None, Some(_)) => {
                return usage("a password needs a user (--user, the URL or $KAFKA_SASL_USERNAME)")
            }
            (None, None) if settings.mechanism.is_some() => {
                return usage("--mechanism needs a user and a password")
            }
            (None, None) => None,
        };
        for topic in &settings.topics {
            topic_name(topic)?;
        }
        if !settings.tls && settings.tls_files.any_file() {
            return usage("--ca-file, --cert and --key need --tls");
        }
        #[cfg(not(feature = "tls"))]
        if settings.tls {
            return usage(
                "this probe binary was built without the \"tls\" feature (needed for --tls)",
            );
        }
        #[cfg(feature = "tls")]
        let setups = match settings.tls {
            false => Vec::new(),
            true => list
                .hosts
                .iter()
                .map(|(host, _)| settings.tls_files.setup(host, &[]))
                .collect::<Result<Vec<_>, _>>()?,
        };
        Ok(KafkaCheck {
            hosts: list.hosts,
            shown,
            topics: settings.topics.clone(),
            login,
            tls: settings.tls,
            #[cfg(feature = "tls")]
            setups,
        })
    }

    fn open(&self, index: usize, deadline: &Deadline) -> Result<Conn, Outcome> {
        let (host, port) = &self.hosts[index];
        let stream = Stream::tcp(host, *port, deadline)?;
        #[cfg(feature = "tls")]
        if let Some(setup) = self.setups.get(index) {
            let stream = stream.into_tls(setup.config.clone(), setup.name.clone(), deadline)?;
            return Ok(Conn::new(stream));
        }
        Ok(Conn::new(stream))
    }

    fn converse(&self, index: usize, conn: &mut Conn, deadline: &Deadline) -> Outcome {
        let result = self.api_versions(conn, deadline).and_then(|versions| {
            if let Some(login) = &self.login {
                self.log_in(conn, &versions, login, deadline)?;
            }
            let Some(version) = versions.pick(wire::METADATA, wire::METADATA_VERSIONS) else {
                let (ours_min, ours_max) = wire::METADATA_VERSIONS;
                return Err(Outcome::unhealthy(match versions.range(wire::METADATA) {
                    Some((min, max)) => format!(
                        "the broker speaks Metadata v{min}-v{max}, probe v{ours_min}-v{ours_max}"
                    ),
                    None => "the broker's ApiVersions lists no Metadata".into(),
                }));
            };
            let body = wire::metadata_request(version, &self.topics);
            let metadata = conn
                .call(wire::METADATA, version, &body, "Metadata", deadline, |r| {
                    wire::metadata_reply(r, version)
                })
                .map_err(|outcome| match conn.link.closed && self.login.is_none() {
                    true => Outcome::unhealthy(format!(
                        "{} (a SASL listener? give --user and a password)",
                        outcome.detail
                    )),
                    false => outcome,
                })?;
            Ok(self.judge(index, &metadata))
        });
        result.unwrap_or_else(|outcome| outcome)
    }

    /// ApiVersions v3, or v0 when the broker refuses v3 (before Kafka 2.4).
    fn api_versions(&self, conn: &mut Conn, deadline: &Deadline) -> Result<ApiVersions, Outcome> {
        let mut version = wire::API_VERSIONS_FIRST;
        loop {
            let body = wire::api_versions_request(version);
            let reply = conn
                .call(
                    wire::API_VERSIONS,
                    version,
                    &body,
                    "ApiVersions",
                    deadline,
                    |r| wire::api_versions_reply(r, version),
                )
                .map_err(|outcome| match conn.link.closed && !self.tls {
                    true => Outcome::unhealthy(format!(
                        "{} (a TLS listener? add --tls)",
                        outcome.detail
                    )),
                    false => outcome,
                })?;
            match reply.error_code {
                wire::NONE => return Ok(reply),
                wire::UNSUPPORTED_VERSION if version > 0 => version = 0,
                code => {
                    return Err(Outcome::unhealthy(format!(
                        "ApiVersions failed: {}",
                        wire::describe_error(code)
                    )))
                }
            }
        }
    }

    /// SaslHandshake v1, then the mechanism's exchange in SaslAuthenticate requests; any
    /// refusal is fatal, and SCRAM needs the server's proof.
    fn log_in(
        &self,
        conn: &mut Conn,
        versions: &ApiVersions,
        login: &Login,
        deadline: &Deadline,
    ) -> Result<(), Outcome> {
        let mechanism = login.mechanism.name();
        if versions
            .pick(
                wire::SASL_HANDSHAKE,
                (wire::SASL_HANDSHAKE_VERSION, wire::SASL_HANDSHAKE_VERSION),
            )
            .is_none()
        {
            return Err(Outcome::fatal(
                "the broker offers no SASL login (its ApiVersions lists no SaslHandshake v1)",
            ));
        }
        let body = wire::sasl_handshake_request(mechanism);
        let (code, offered) = conn.call(
            wire::SASL_HANDSHAKE,
            wire::SASL_HANDSHAKE_VERSION,
            &body,
            "SaslHandshake",
            deadline,
            wire::sasl_handshake_reply,
        )?;
        match code {
            wire::NONE => {}
            wire::UNSUPPORTED_SASL_MECHANISM if offered.iter().any(|m| m == mechanism) => {
                return Err(Outcome::fatal(format!(
                    "the broker refuses {mechanism} though it lists it (UNSUPPORTED_SASL_MECHANISM): \
                     does this listener take SASL logins?"
                )))
            }
            wire::UNSUPPORTED_SASL_MECHANISM => {
                return Err(Outcome::fatal(format!(
                    "the broker does not offer {mechanism} (it offers {}): choose with --mechanism",
                    match offered.is_empty() {
                        true => "none".to_string(),
                        false => offered.join(", "),
                    }
                )))
            }
            wire::ILLEGAL_SASL_STATE => {
                return Err(Outcome::fatal(
                    "this listener takes no SASL login (ILLEGAL_SASL_STATE): a PLAINTEXT or SSL \
                     listener needs no --user",
                ))
            }
            code => {
                return Err(Outcome::fatal(format!(
                    "SaslHandshake failed: {}",
                    wire::describe_error(code)
                )))
            }
        }
        let Some(version) =
            versions.pick(wire::SASL_AUTHENTICATE, wire::SASL_AUTHENTICATE_VERSIONS)
        else {
            return Err(Outcome::fatal(
                "the broker does not speak SaslAuthenticate (Kafka before 1.0): probe cannot log in to it",
            ));
        };
        let mut step = |bytes: &[u8]| -> Result<Vec<u8>, Outcome> {
            let body = wire::sasl_authenticate_request(version, bytes);
            let reply = conn.call(
                wire::SASL_AUTHENTICATE,
                version,
                &body,
                "SaslAuthenticate",
                deadline,
                |r| wire::sasl_authenticate_reply(r, version),
            )?;
            if reply.error_code != wire::NONE {
                return Err(Outcome::fatal(format!(
                    "login as {:?} ({mechanism}) refused: {}",
                    login.user,
                    reply
                        .error_message
                        .unwrap_or_else(|| wire::describe_error(reply.error_code))
                )));
            }
            if let Some(error) = reply.auth_bytes.strip_prefix(b"e=") {
                return Err(Outcome::fatal(format!(
                    "login as {:?} ({mechanism}) refused: {}",
                    login.user,
                    String::from_utf8_lossy(&error[..error.len().min(80)])
                )));
            }
            Ok(reply.auth_bytes)
        };
        match login.mechanism {
            Mechanism::Plain => {
                let mut message = vec![0];
                message.extend_from_slice(login.user.as_bytes());
                message.push(0);
                message.extend_from_slice(login.password.as_bytes());
                step(&message)?;
            }
            Mechanism::Scram(hash) => {
                let (mut scram, first) = Scram::start_with(
                    hash,
                    &login.user,
                    login.password.as_bytes().to_vec(),
                    Binding::None,
                )
                .map_err(Outcome::unhealthy)?;
                let server_first = step(&first)?;
                let client_final = scram
                    .respond(&server_first, deadline)
                    .map_err(|why| Outcome::unhealthy(format!("SCRAM: {why}")))?;
                let server_final = step(&client_final)?;
                scram.verify(&server_final).map_err(|why| {
                    Outcome::fatal(format!("the broker accepted the login but {why}"))
                })?;
            }
        }
        Ok(())
    }

    /// The verdict on what Metadata says, as seen from bootstrap host `index`.
    fn judge(&self, index: usize, metadata: &Metadata) -> Outcome {
        let (host, port) = &self.hosts[index];
        let port = i32::from(*port);
        let brokers = &metadata.brokers;
        if brokers.is_empty() {
            return Outcome::unhealthy(
                "Metadata lists no brokers (the broker is starting, or not registered yet)",
            );
        }
        let itself = match find_itself(brokers, host, port) {
            Itself::Listed(broker) => format!("broker {}", broker.node_id),
            Itself::Unknown => format!("reached through {host}:{port}"),
            Itself::NotListed => {
                let listed: Vec<String> = brokers
                    .iter()
                    .take(3)
                    .map(|b| format!("{} at {}:{}", b.node_id, b.host, b.port))
                    .collect();
                let more = match brokers.len() {
                    0..=3 => String::new(),
                    n => format!(" and {} more", n - 3),
                };
                return Outcome::unhealthy(format!(
                    "the broker does not list itself ({host}:{port}) among its brokers ({}{more})",
                    listed.join(", ")
                ));
            }
        };
        if metadata.controller_id < 0 {
            return Outcome::unhealthy(format!(
                "no active controller (Metadata says controller {})",
                metadata.controller_id
            ));
        }
        let problems = self.topic_problems(metadata);
        if !problems.is_empty() {
            let more = match problems.len() {
                0..=3 => String::new(),
                n => format!(" (and {} more)", n - 3),
            };
            return Outcome::unhealthy(format!(
                "{}{more}",
                problems[..problems.len().min(3)].join("; ")
            ));
        }
        let mut detail = format!(
            "{itself}, {} in the cluster, controller {}",
            plural(brokers.len(), "broker"),
            metadata.controller_id
        );
        if let Some(cluster) = &metadata.cluster_id {
            detail.push_str(&format!(", cluster {cluster}"));
        }
        for topic in &self.topics {
            let partitions = metadata
                .topics
                .iter()
                .find(|t| t.name.as_deref() == Some(topic))
                .map_or(0, |t| t.partitions.len());
            detail.push_str(&format!(
                ", topic {topic} ({} in sync)",
                plural(partitions, "partition")
            ));
        }
        if let Some(login) = &self.login {
            detail.push_str(&format!(
                ", logged in as {:?} ({})",
                login.user,
                login.mechanism.name()
            ));
        }
        Outcome::healthy(detail)
    }

    /// What is wrong with the topics asked for: missing, leaderless or under-replicated.
    fn topic_problems(&self, metadata: &Metadata) -> Vec<String> {
        let mut problems = Vec::new();
        for name in &self.topics {
            let Some(topic) = metadata
                .topics
                .iter()
                .find(|t| t.name.as_deref() == Some(name))
            else {
                problems.push(format!("topic {name} is missing from the Metadata reply"));
                continue;
            };
            match topic.error_code {
                wire::NONE => {}
                wire::UNKNOWN_TOPIC_OR_PARTITION => {
                    problems.push(format!("topic {name} does not exist"));
                    continue;
                }
                wire::LEADER_NOT_AVAILABLE => {
                    problems.push(format!(
                        "topic {name} has no leader yet (LEADER_NOT_AVAILABLE)"
                    ));
                    continue;
                }
                code => {
                    problems.push(format!("topic {name}: {}", wire::describe_error(code)));
                    continue;
                }
            }
            if topic.partitions.is_empty() {
                problems.push(format!("topic {name} has no partitions"));
            }
            let mut partitions: Vec<&wire::Partition> = topic.partitions.iter().collect();
            partitions.sort_by_key(|p| p.index);
            for p in partitions {
                let at = format!("topic {name} partition {}", p.index);
                if p.leader < 0 || p.error_code == wire::LEADER_NOT_AVAILABLE {
                    problems.push(format!("{at} has no leader"));
                } else if p.isr < p.replicas || p.offline > 0 {
                    problems.push(format!(
                        "{at} is under-replicated ({} of {} replicas in sync)",
                        p.isr, p.replicas
                    ));
                } else if p.error_code != wire::NONE {
                    problems.push(format!("{at}: {}", wire::describe_error(p.error_code)));
                }
            }
        }
        problems
    }
}

impl Probe for KafkaCheck {
    fn kind(&self) -> &'static str {
        "kafka"
    }

    fn target(&self) -> String {
        self.shown.clone()
    }

    fn run(&self, deadline: &Deadline) -> Outcome {
        let mut failures = Vec::new();
        for index in 0..self.hosts.len() {
            let mut conn = match self.open(index, deadline) {
                Ok(conn) => conn,
                Err(outcome) if outcome.is_fatal() || self.hosts.len() == 1 => return outcome,
                Err(outcome) => {
                    // Connection reasons name the address already; others get it.
                    let (host, port) = &self.hosts[index];
                    failures.push(match outcome.detail.contains(host.as_str()) {
                        true => outcome.detail,
                        false => format!("{host}:{port}: {}", outcome.detail),
                    });
                    if deadline.expired() {
                        break;
                    }
                    continue;
                }
            };
            let outcome = self.converse(index, &mut conn, deadline);
            conn.link.stream.close(false);
            return outcome;
        }
        Outcome::unhealthy(format!("no broker answered ({})", failures.join("; ")))
    }
}

/// Which of the listed brokers answered.
#[derive(Debug, PartialEq, Eq)]
enum Itself<'a> {
    Listed(&'a wire::Broker),
    /// The host dialed is a listed broker's, or a loopback address, and no broker with
    /// that host (or, on loopback, that port) is listed.
    NotListed,
    /// The host dialed is none of the brokers' (a bootstrap service, a load balancer, an
    /// alias): which broker answered cannot be told from Metadata.
    Unknown,
}

/// Finds the broker that answered among those Metadata lists: the one advertising the
/// host and port dialed; on loopback (`localhost` inside the broker's container, which
/// advertises `kafka`), the one advertising the port dialed.
fn find_itself<'a>(brokers: &'a [wire::Broker], host: &str, port: i32) -> Itself<'a> {
    let same_host = |broker: &wire::Broker| broker.host.eq_ignore_ascii_case(host);
    if let Some(broker) = brokers.iter().find(|b| same_host(b) && b.port == port) {
        return Itself::Listed(broker);
    }
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        return match brokers.iter().find(|b| b.port == port) {
            Some(broker) => Itself::Listed(broker),
            None => Itself::NotListed,
        };
    }
    match brokers.iter().any(same_host) {
        true => Itself::NotListed,
        false => Itself::Unknown,
    }
}

/// A topic name Kafka accepts: 1-249 of `[a-zA-Z0-9._-]`.
fn topic_name(name: &str) -> Result<(), UsageError> {
    let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty()
        || name.len() > 249
        || !name.chars().all(legal)
        || name == "."
        || name == ".."
    {
        return usage(format!(
            "invalid --topic {name:?} (Kafka topic names are 1-249 of a-z, A-Z, 0-9, '.', '_' and '-')"
        ));
    }
    Ok(())
}

fn plural(count: usize, noun: &str) -> String {
    match count {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}

/// An open connection: its messages, and the ID of the last request.
struct Conn {
    /// `closed` says whether the broker closed it (for the hints about TLS and SASL
    /// listeners).
    link: MessageStream,
    next_id: i32,
}

impl Conn {
    fn new(stream: Stream) -> Conn {
        Conn {
            link: MessageStream::new(stream, "broker"),
            next_id: 0,
        }
    }

    /// Sends a request and parses its reply with `parse`. `name` says what it was in
    /// reasons; it never holds a request's bytes, so no password leaks through it.
    fn call<T>(
        &mut self,
        api_key: i16,
        version: i16,
        body: &[u8],
        name: &str,
        deadline: &Deadline,
        parse: impl FnOnce(Reader) -> Result<T, String>,
    ) -> Result<T, Outcome> {
        self.next_id = self.next_id.wrapping_add(1);
        let id = self.next_id;
        let request = wire::request(api_key, version, id, body);
        let bad = |why: String| Outcome::unhealthy(format!("{name} v{version}: {why}"));
        let reply = self.link.exchange(&request, name, deadline, |received| {
            wire::frame_len(received).map_err(bad)
        })?;
        wire::reply_body(&reply, api_key, version, id)
            .and_then(parse)
            .map_err(bad)
    }
}

#[cfg(test)]
mod tests;
