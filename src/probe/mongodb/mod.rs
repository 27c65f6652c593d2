//! `probe mongodb [URL]`: healthy when the server answers `hello` with `ok: 1`, as
//! `mongosh --eval 'db.adminCommand("ping")'` meant it, without a 200 MB shell per check.
//!
//! The check connects (TCP, TLS with `tls=true` or `--tls`), sends OP_MSG `hello` (`$db:
//! admin`), and falls back to a legacy OP_QUERY `isMaster` only when the server closes the
//! connection on the OP_MSG (before 3.6) or does not know `hello` (before 4.4.2). With a
//! user, it logs in with SCRAM-SHA-256 (the implementation PostgreSQL's check uses,
//! [`crate::scram`]) against `authSource` and requires the server's final proof, then sends
//! `ping`; a refused login is fatal. `--role` reads `hello`'s `isWritablePrimary` and
//! `secondary`. With several hosts, they are tried in order until one accepts the
//! connection, and that one decides; when none does, each is named in the reason.
//!
//! The protocol is spoken directly (no driver: the official crate brings tokio and a
//! topology monitor): BSON and the message framing are pure, bounded, fuzzed functions in
//! [`bson`] and [`frame`]; [`Wire`] is the one place that touches the socket, every read
//! and write bounded by the check's deadline.

pub mod bson;
pub mod frame;
mod spec;
mod url;

pub use spec::{MongoSettings, CHECK};

use std::io::{self, Write};

use crate::deadline::Deadline;
use crate::outcome::{usage, Outcome, UsageError};
use crate::probe::Probe;
use crate::redact;
use crate::scram::{Binding, Scram};
use crate::stream::Stream;

use self::bson::{Doc, Value};

const DEFAULT_URL: &str = "mongodb://localhost:27017";
/// The server's error codes that mean the login itself was refused: AuthenticationFailed,
/// UserNotFound, MechanismUnavailable.
const LOGIN_REFUSED: &[i32] = &[18, 11, 334];
/// CommandNotFound: a server before 4.4.2 answers `hello` with it.
const COMMAND_NOT_FOUND: i32 = 59;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Primary,
    Secondary,
    Any,
}

pub struct MongoCheck {
    hosts: Vec<(String, u16)>,
    shown: String,
    login: Option<(String, String)>,
    auth_source: String,
    replica_set: Option<String>,
    role: Role,
    /// One TLS setup per host (each is verified against its own name).
    #[cfg(feature = "tls")]
    tls: Option<Vec<crate::tls::Setup>>,
}

impl MongoCheck {
    pub fn new(settings: &MongoSettings) -> Result<Self, UsageError> {
        Self::with_env(settings, &crate::env::get)
    }

    /// [`MongoCheck::new`] with the environment given (`MONGODB_URL`, `MONGO_URL`).
    fn with_env(
        settings: &MongoSettings,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, UsageError> {
        let text = match &settings.url {
            Some(url) => url.clone(),
            None => ["MONGODB_URL", "MONGO_URL"]
                .iter()
                .find_map(|name| env(name).filter(|url| !url.trim().is_empty()))
                .unwrap_or_else(|| DEFAULT_URL.to_string()),
        };
        let text = text.trim();
        // Registers the URL's password before anything can print it.
        let shown = redact::url_password(text);
        let url = url::parse(text)?;
        if let Some(password) = &url.password {
            redact::register(password);
        }
        let login = crate::options::blocks::url_login(
            url.user.as_ref(),
            url.password.as_ref(),
            settings.user.as_ref(),
            settings.password_file.as_deref(),
        )?;
        let role = match settings.role.as_deref() {
            None | Some("any") => Role::Any,
            Some("primary") => Role::Primary,
            Some("secondary") => Role::Secondary,
            Some(other) => {
                return usage(format!(
                    "invalid --role {other:?} (primary, secondary or any)"
                ))
            }
        };
        let tls = url.tls || settings.tls;
        if !tls && (settings.tls_files.any_file() || url.ca_file.is_some()) {
            return usage("--ca-file, --cert and --key need tls=true in the URL or --tls");
        }
        #[cfg(not(feature = "tls"))]
        if tls {
            return usage(
                "this probe binary was built without the \"tls\" feature (needed for tls=true)",
            );
        }
        #[cfg(feature = "tls")]
        let tls = match tls {
            false => None,
            true => {
                let mut files = settings.tls_files.clone();
                if files.ca_file.is_none() {
                    files.ca_file = url.ca_file.clone().map(Into::into);
                }
                files.insecure |= url.insecure;
                let setups = url
                    .hosts
                    .iter()
                    .map(|(host, _)| files.setup(host, &[]))
                    .collect::<Result<Vec<_>, _>>()?;
                Some(setups)
            }
        };
        Ok(MongoCheck {
            hosts: url.hosts,
            shown,
            login,
            auth_source: url.auth_source,
            replica_set: url.replica_set,
            role,
            #[cfg(feature = "tls")]
            tls,
        })
    }

    fn open(&self, index: usize, deadline: &Deadline) -> Result<Wire, Outcome> {
        let (host, port) = &self.hosts[index];
        let stream = Stream::tcp(host, *port, deadline)?;
        #[cfg(feature = "tls")]
        if let Some(setup) = self.tls.as_ref().and_then(|setups| setups.get(index)) {
            let stream = stream.into_tls(setup.config.clone(), setup.name.clone(), deadline)?;
            return Ok(Wire::new(stream));
        }
        Ok(Wire::new(stream))
    }

    /// `hello`, or `isMaster` the legacy way where the server wants it.
    fn hello(&self, index: usize, wire: &mut Wire, deadline: &Deadline) -> Result<Doc, Outcome> {
        let hello = Doc::new()
            .with("hello", Value::Int32(1))
            .with("$db", Value::String("admin".into()));
        let legacy = Doc::new().with("isMaster", Value::Int32(1));
        match wire.call(&hello, "hello", deadline) {
            Ok(reply) if error_code(&reply) == Some(COMMAND_NOT_FOUND) => {
                wire.legacy(&legacy, "isMaster", deadline)
            }
            Ok(reply) => Ok(reply),
            Err(first) if wire.closed && !deadline.expired() => {
                // A server before 3.6 closes the connection on an OP_MSG.
                *wire = self.open(index, deadline)?;
                let reply = wire.legacy(&legacy, "isMaster", deadline);
                match reply {
                    Err(_) if wire.closed => Err(Outcome::unhealthy(format!(
                        "{} and during a legacy isMaster (a TLS-only server needs tls=true)",
                        first.detail
                    ))),
                    other => other,
                }
            }
            Err(outcome) => Err(outcome),
        }
    }

    fn converse(&self, index: usize, wire: &mut Wire, deadline: &Deadline) -> Outcome {
        let result = self.hello(index, wire, deadline).and_then(|reply| {
            command_ok(&reply, "hello")?;
            let state = State::of(&reply);
            if let Some((user, password)) = &self.login {
                self.log_in(wire, user, password, deadline)?;
                let ping = Doc::new()
                    .with("ping", Value::Int32(1))
                    .with("$db", Value::String("admin".into()));
                command_ok(&wire.call(&ping, "ping", deadline)?, "ping")?;
            }
            Ok(self.judge(&state))
        });
        result.unwrap_or_else(|outcome| outcome)
    }

    /// SCRAM-SHA-256 with saslStart and saslContinue; success needs the server's proof.
    fn log_in(
        &self,
        wire: &mut Wire,
        user: &str,
        password: &str,
        deadline: &Deadline,
    ) -> Result<(), Outcome> {
        let db = Value::String(self.auth_source.clone());
        let (mut scram, first) =
            Scram::start(user, password, Binding::None).map_err(Outcome::unhealthy)?;
        let start = Doc::new()
            .with("saslStart", Value::Int32(1))
            .with("mechanism", Value::String("SCRAM-SHA-256".into()))
            .with("payload", Value::Binary(0, first))
            .with("autoAuthorize", Value::Int32(1))
            .with(
                "options",
                Value::Doc(Doc::new().with("skipEmptyExchange", Value::Bool(true))),
            )
            .with("$db", db.clone());
        let reply = wire.call(&start, "saslStart", deadline)?;
        self.login_ok(&reply, user)?;
        let conversation = reply
            .get("conversationId")
            .cloned()
            .ok_or_else(|| Outcome::unhealthy("saslStart reply without a conversationId"))?;
        let client_final = scram
            .respond(payload(&reply)?)
            .map_err(|why| Outcome::unhealthy(format!("SCRAM: {why}")))?;
        let mut message = client_final;
        // The proof, then at most one empty step for servers that ignore skipEmptyExchange.
        for _ in 0..3 {
            let step = Doc::new()
                .with("saslContinue", Value::Int32(1))
                .with("conversationId", conversation.clone())
                .with("payload", Value::Binary(0, std::mem::take(&mut message)))
                .with("$db", db.clone());
            let reply = wire.call(&step, "saslContinue", deadline)?;
            self.login_ok(&reply, user)?;
            let data = payload(&reply)?;
            if !scram.proven() {
                if let Some(error) = data.strip_prefix(b"e=") {
                    return Err(Outcome::fatal(format!(
                        "login as {user:?} refused: {}",
                        String::from_utf8_lossy(&error[..error.len().min(80)])
                    )));
                }
                scram.verify(data).map_err(Outcome::fatal)?;
            }
            if reply.get("done").is_some_and(Value::truthy) {
                return Ok(());
            }
        }
        Err(Outcome::unhealthy(
            "the server did not end the SCRAM exchange",
        ))
    }

    /// A saslStart or saslContinue reply that is not `ok: 1`: a refused login is fatal.
    fn login_ok(&self, reply: &Doc, user: &str) -> Result<(), Outcome> {
        match command_ok(reply, "login") {
            Err(outcome) if error_code(reply).is_some_and(|code| LOGIN_REFUSED.contains(&code)) => {
                Err(Outcome::fatal(format!(
                    "login as {user:?} (authSource {}) refused: {}",
                    self.auth_source,
                    error_text(reply).unwrap_or(outcome.detail)
                )))
            }
            other => other,
        }
    }

    fn judge(&self, state: &State) -> Outcome {
        let shown = state.describe();
        if let Some(expected) = &self.replica_set {
            if state.set_name.as_deref() != Some(expected) {
                return Outcome::unhealthy(format!("{shown}, expected replica set {expected:?}"));
            }
        }
        let role_ok = match self.role {
            Role::Any => true,
            Role::Primary => state.writable,
            Role::Secondary => state.secondary,
        };
        let logged_in = match &self.login {
            Some((user, _)) => format!(", logged in as {user:?}"),
            None => String::new(),
        };
        match (role_ok, self.role) {
            (true, _) => Outcome::healthy(format!("hello ok{logged_in}: {shown}")),
            (false, Role::Secondary) => {
                Outcome::unhealthy(format!("{shown}, expected a secondary"))
            }
            (false, _) => Outcome::unhealthy(format!("{shown}, expected a writable primary")),
        }
    }
}

impl Probe for MongoCheck {
    fn kind(&self) -> &'static str {
        "mongodb"
    }

    fn target(&self) -> String {
        self.shown.clone()
    }

    fn run(&self, deadline: &Deadline) -> Outcome {
        let mut failures = Vec::new();
        for index in 0..self.hosts.len() {
            let mut wire = match self.open(index, deadline) {
                Ok(wire) => wire,
                Err(outcome) if outcome.is_fatal() || self.hosts.len() == 1 => return outcome,
                Err(outcome) => {
                    let (host, port) = &self.hosts[index];
                    failures.push(format!("{host}:{port}: {}", outcome.detail));
                    if deadline.expired() {
                        break;
                    }
                    continue;
                }
            };
            let outcome = self.converse(index, &mut wire, deadline);
            wire.stream.close(false);
            return outcome;
        }
        Outcome::unhealthy(format!("no host answered ({})", failures.join("; ")))
    }
}

/// What `hello` says the server is.
#[derive(Debug, Default, PartialEq, Eq)]
struct State {
    writable: bool,
    secondary: bool,
    arbiter: bool,
    mongos: bool,
    /// A replica set member without a configuration yet (`isreplicaset: true`).
    uninitialized: bool,
    set_name: Option<String>,
}

impl State {
    fn of(reply: &Doc) -> State {
        let flag = |key: &str| reply.get(key).is_some_and(Value::truthy);
        State {
            writable: flag("isWritablePrimary") || flag("ismaster"),
            secondary: flag("secondary"),
            arbiter: flag("arbiterOnly"),
            mongos: reply.get("msg").and_then(Value::text) == Some("isdbgrid"),
            uninitialized: flag("isreplicaset"),
            set_name: reply.get("setName").and_then(Value::text).map(short),
        }
    }

    fn describe(&self) -> String {
        match &self.set_name {
            _ if self.mongos => "mongos router".into(),
            Some(set) if self.writable => format!("primary of replica set {set}"),
            Some(set) if self.secondary => format!("secondary of replica set {set}"),
            Some(set) if self.arbiter => format!("arbiter of replica set {set}"),
            Some(set) => format!(
                "member of replica set {set} that is neither primary nor secondary \
                 (recovering, starting up or removed)"
            ),
            None if self.uninitialized => {
                "replica set member without a configuration (not initiated yet)".into()
            }
            None if self.writable => "standalone".into(),
            None => "not writable, in no replica set".into(),
        }
    }
}

/// A server's text, cut to one short piece of a line.
fn short(text: &str) -> String {
    let text: String = text.chars().filter(|c| !c.is_control()).take(120).collect();
    text
}

fn error_code(reply: &Doc) -> Option<i32> {
    if reply.get("ok").and_then(Value::number) == Some(1.0) {
        return None;
    }
    reply
        .get("code")
        .and_then(Value::number)
        .map(|code| code as i32)
}

fn error_text(reply: &Doc) -> Option<String> {
    let message = reply.get("errmsg").and_then(Value::text)?;
    Some(match reply.get("codeName").and_then(Value::text) {
        Some(name) => format!("{} ({})", short(message), short(name)),
        None => short(message),
    })
}

/// `ok: 1`, or the command's error as an unhealthy verdict.
fn command_ok(reply: &Doc, command: &str) -> Result<(), Outcome> {
    match reply.get("ok").and_then(Value::number) {
        Some(1.0) => Ok(()),
        _ => Err(Outcome::unhealthy(format!(
            "{command} failed: {}",
            error_text(reply).unwrap_or_else(|| "the reply has no ok: 1".into())
        ))),
    }
}

/// The binary `payload` of a SASL reply.
fn payload(reply: &Doc) -> Result<&[u8], Outcome> {
    match reply.get("payload") {
        Some(Value::Binary(_, bytes)) => Ok(bytes),
        _ => Err(Outcome::unhealthy("SASL reply without a binary payload")),
    }
}

/// An open connection with its read buffer.
struct Wire {
    stream: Stream,
    buffer: Vec<u8>,
    next_id: i32,
    /// The server closed the connection (for the fallback to OP_QUERY).
    closed: bool,
}

impl Wire {
    fn new(stream: Stream) -> Wire {
        Wire {
            stream,
            buffer: Vec::new(),
            next_id: 1,
            closed: false,
        }
    }

    /// Sends `command` as an OP_MSG and reads its reply. `name` says what it was in
    /// reasons; it never holds a command's arguments, so no password leaks through it.
    fn call(&mut self, command: &Doc, name: &str, deadline: &Deadline) -> Result<Doc, Outcome> {
        let id = self.id();
        self.exchange(&frame::op_msg(id, command), id, name, deadline)
    }

    /// Sends `command` as a legacy OP_QUERY on `admin.$cmd`.
    fn legacy(&mut self, command: &Doc, name: &str, deadline: &Deadline) -> Result<Doc, Outcome> {
        let id = self.id();
        self.exchange(&frame::op_query(id, "admin", command), id, name, deadline)
    }

    fn id(&mut self) -> i32 {
        self.next_id = self.next_id.wrapping_add(1);
        self.next_id
    }

    fn exchange(
        &mut self,
        message: &[u8],
        id: i32,
        name: &str,
        deadline: &Deadline,
    ) -> Result<Doc, Outcome> {
        self.arm(name, deadline)?;
        self.stream
            .write_all(message)
            .and_then(|()| self.stream.flush())
            .map_err(|error| self.failure(error, name, deadline))?;
        loop {
            let bad = |why: String| Outcome::unhealthy(format!("{name}: {why}"));
            if let Some(length) = frame::message_len(&self.buffer).map_err(bad)? {
                if self.buffer.len() >= length {
                    let reply = frame::reply(&self.buffer[..length], id).map_err(bad);
                    self.buffer.drain(..length);
                    return reply;
                }
            }
            // What the message still needs (its length once known), in pieces of 64 KB.
            let wanted = match frame::message_len(&self.buffer) {
                Ok(Some(length)) => length - self.buffer.len(),
                _ => 4096,
            };
            self.arm(name, deadline)?;
            self.stream
                .read_into(&mut self.buffer, wanted.clamp(1, 1 << 16))
                .map_err(|error| self.failure(error, name, deadline))?;
        }
    }

    fn arm(&mut self, name: &str, deadline: &Deadline) -> Result<(), Outcome> {
        if deadline.expired() {
            return Err(deadline.timed_out(&format!("waiting for the reply to {name}")));
        }
        self.stream.set_deadline(*deadline);
        Ok(())
    }

    /// An I/O error as a verdict: TLS problems through `tls::describe`, timeouts as the
    /// deadline's, the rest as short network reasons.
    fn failure(&mut self, error: io::Error, name: &str, deadline: &Deadline) -> Outcome {
        #[cfg(feature = "tls")]
        if let Some(tls) = crate::tls::rustls_cause(&error) {
            return crate::tls::describe(tls);
        }
        match error.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                deadline.timed_out(&format!("waiting for the reply to {name}"))
            }
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Outcome::unhealthy(format!("connection closed by the server during {name}"))
            }
            _ => Outcome::unhealthy(format!(
                "{} during {name}",
                crate::outcome::io_reason(&error)
            )),
        }
    }
}

#[cfg(test)]
mod tests;
