//! A PostgreSQL connection bounded by a [`Deadline`]: resolve, connect, TLS, startup and
//! every query, each blocking read or write given only the time that is left (the socket
//! timeouts are set before each one), so a peer that accepts and never answers ends as
//! "timed out after 5s during startup". The TCP connect uses [`net`], so reasons match
//! every other check ("connection refused (127.0.0.1:5432)").
//!
//! The wire protocol (version 3.0) is spoken here directly on std sockets, the way the
//! Redis check speaks RESP: SSLRequest, the startup message, cleartext / MD5 /
//! SCRAM-SHA-256 logins ([`auth`]), errors and notices, simple queries with text results,
//! Terminate. TLS is `rustls::StreamOwned` with the configuration of [`crate::tls`], so
//! certificate problems get the same reasons as in every other check. Lengths from the
//! wire are not trusted: a message over 1 MiB, an unknown message type or a malformed body
//! ends the check with "not a PostgreSQL server?", never a panic.
//!
//! Why not a crate (release builds, musl, default features, same code around it):
//! tokio-postgres + tokio + tokio-postgres-rustls made 2,601,800 bytes (postgres-protocol's
//! stringprep and unicode tables, RustCrypto sha2/hmac/md-5, rand, x509 for channel
//! binding, futures); postgres-protocol alone on these std sockets (its message encoders,
//! SCRAM with SASLprep and MD5; no tokio) 2,327,336; the protocol written here 2,138,920,
//! 188 KB less than that, because SHA-256, HMAC and PBKDF2 come from ring, which rustls
//! already brings in, and only `md-5` (2 KB) is added. The price is SASLprep for
//! non-ASCII passwords: see [`auth`].
//!
//! Closing sends Terminate, so the server logs nothing and keeps no backend around.

mod auth;
mod message;
mod verdict;

use self::message::{first_column, frame, nul_terminated, push_str, DbError, Fields};
use self::verdict::{classify_query, classify_startup, garbage, io_failure};

use std::io::{self, Read, Write};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

#[cfg(feature = "tls")]
use super::settings::SslMode;
use super::settings::{Host, Settings};
use crate::deadline::Deadline;
use crate::outcome::{Outcome, UsageError};
use crate::stream::Stream;

/// How long closing may take when a session is dropped without [`Session::close`].
const CLOSE_GRACE: Duration = Duration::from_millis(250);

/// The largest message accepted (type byte and length excluded). Startup messages are
/// far smaller; a query whose first row is larger is not a health check.
const MAX_MESSAGE: usize = 1024 * 1024;

/// The most bytes read between two messages probe sends (a startup, a query's rows): a
/// peer that floods with valid small messages ends the check instead of the deadline.
const MAX_RECEIVED: usize = 16 * 1024 * 1024;

const PROTOCOL_3_0: u32 = 3 << 16;
#[cfg_attr(not(feature = "tls"), allow(dead_code))]
const SSL_REQUEST: u32 = 80_877_103;

/// What the server may send during startup and login.
const STARTUP_TAGS: &[u8] = b"RENv";
const AFTER_LOGIN_TAGS: &[u8] = b"ENSKZ";
/// What the server may send in answer to a simple query.
const QUERY_TAGS: &[u8] = b"TDCIENSAZGHdc";

const STARTUP: &str = "during startup";
const QUERY: &str = "during the query";

/// Settings checked and TLS prepared: ready to connect any number of times.
pub struct Server {
    settings: Settings,
    #[cfg(feature = "tls")]
    tls: std::sync::Arc<rustls::ClientConfig>,
}

/// Why a connection was not opened.
#[derive(Debug)]
pub enum Failure {
    /// The server was not reached, did not answer, is starting up, is full, or the
    /// answer was not PostgreSQL's: the outcome says which.
    Down(Outcome),
    /// The server answered and refused the login or the database: it is up. The text is
    /// a reason such as `login failed for user app: password authentication failed (28P01)`.
    Rejected(String),
    /// The server asked for a password and none was given, so none was sent.
    PasswordNeeded,
}

impl Failure {
    /// The verdict for a caller that needed the login (a query, an advisory lock).
    pub fn into_login_outcome(self, user: &str) -> Outcome {
        match self {
            Failure::Down(outcome) => outcome,
            Failure::Rejected(reason) => Outcome::fatal(reason),
            Failure::PasswordNeeded => Outcome::fatal(format!(
                "the server wants a password for user {user} and none was given \
                 (URL, PGPASSWORD or --password-file)"
            )),
        }
    }
}

impl From<Outcome> for Failure {
    fn from(outcome: Outcome) -> Self {
        Failure::Down(outcome)
    }
}

impl Server {
    /// Loads what TLS needs (CA file, client identity) now, so that a bad file is a
    /// usage error before anything is probed.
    pub fn new(settings: Settings) -> Result<Self, UsageError> {
        #[cfg(feature = "tls")]
        let tls = std::sync::Arc::new(tls_config(&settings)?);
        #[cfg(not(feature = "tls"))]
        if settings.ca_file.is_some() || settings.cert.is_some() || settings.key.is_some() {
            return crate::outcome::usage(
                "--ca-file, --cert and --key need TLS, and this probe binary was built without the \"tls\" feature",
            );
        }
        Ok(Server {
            settings,
            #[cfg(feature = "tls")]
            tls,
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Opens a logged-in session; every failure is an outcome (a failed login is fatal).
    /// This is what modes that need a connection (migrate-then-exec's lock) call.
    pub fn connect(&self, deadline: &Deadline) -> Result<Session, Outcome> {
        self.open(deadline)
            .map_err(|failure| failure.into_login_outcome(&self.settings.user))
    }

    /// Opens a session, telling "down" from "up but refused the login".
    pub fn open(&self, deadline: &Deadline) -> Result<Session, Failure> {
        let deadline = match self.settings.connect_timeout {
            Some(cap) => deadline.capped(cap),
            None => *deadline,
        };
        let mut conn = match &self.settings.host {
            Host::Tcp(host) => {
                let stream = Stream::tcp(host, self.settings.port, &deadline)?;
                self.negotiate_tls(stream, host, &deadline)?
            }
            // The server never offers TLS on a Unix socket; libpq does not ask there either.
            Host::Unix(_) => {
                let path = self.settings.socket_path().unwrap_or_default();
                Conn::new(Stream::unix(&path, &deadline)?)
            }
        };
        match conn.startup(&self.settings, &deadline) {
            Ok(()) => Ok(Session {
                conn: Mutex::new(Some(conn)),
            }),
            Err(failure) => {
                // Hang up (after close_notify on TLS) without a word: for a password
                // request left unanswered the server logs nothing.
                conn.broken = true;
                conn.finish(deadline.remaining().unwrap_or(Duration::ZERO));
                Err(failure)
            }
        }
    }

    /// SSLRequest and the TLS handshake, as the sslmode says (libpq's rules). Without TLS
    /// support, prefer means plain text without asking (the modes that need TLS are
    /// refused while parsing the settings).
    fn negotiate_tls(
        &self,
        stream: Stream,
        host: &str,
        deadline: &Deadline,
    ) -> Result<Conn, Failure> {
        #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
        let mut conn = Conn::new(stream);
        #[cfg(feature = "tls")]
        if self.settings.sslmode != SslMode::Disable {
            let mut request = 8u32.to_be_bytes().to_vec();
            request.extend_from_slice(&SSL_REQUEST.to_be_bytes());
            conn.send(&request, deadline, STARTUP)?;
            // One byte, read past the buffer: whatever follows 'S' must be TLS, never
            // plain text slipped in ahead of the handshake (CVE-2021-23222).
            let mut answer = [0u8; 1];
            conn.arm(deadline, STARTUP)?;
            if let Err(error) = conn.stream.read_exact(&mut answer) {
                return Err(conn.failure(error, deadline, STARTUP).into());
            }
            return match (answer[0], conn.stream) {
                (b'S', stream) => {
                    let name = rustls::pki_types::ServerName::try_from(host.to_string()).map_err(
                        |_| Outcome::fatal(format!("TLS: {host:?} is not a valid server name")),
                    )?;
                    Ok(Conn::new(stream.into_tls(
                        self.tls.clone(),
                        name,
                        deadline,
                    )?))
                }
                (b'N', stream) if self.settings.sslmode == SslMode::Prefer => Ok(Conn::new(stream)),
                // libpq's wording; waiting will not change the server's configuration.
                (b'N', _) => Err(Outcome::fatal("TLS: server does not support TLS").into()),
                _ => Err(garbage(&answer, STARTUP).into()),
            };
        }
        #[cfg(not(feature = "tls"))]
        let _ = (host, deadline);
        Ok(conn)
    }
}

/// The rustls configuration for the sslmode: which roots and how much to verify.
#[cfg(feature = "tls")]
fn tls_config(settings: &Settings) -> Result<rustls::ClientConfig, UsageError> {
    use crate::tls::{self, Roots, Verify};
    let identity = tls::load_identity(settings.cert.as_deref(), settings.key.as_deref())?;
    let custom_ca = settings.ca_file.is_some();
    let (roots, verify) = match settings.sslmode {
        SslMode::Disable => (Roots::Custom(Vec::new()), Verify::Nothing),
        // libpq: with a root certificate, require behaves like verify-ca.
        SslMode::Prefer | SslMode::Require if custom_ca => (
            tls::load_roots(settings.ca_file.as_deref())?,
            Verify::ChainOnly,
        ),
        SslMode::Prefer | SslMode::Require => (Roots::Custom(Vec::new()), Verify::Nothing),
        SslMode::VerifyCa => (
            tls::load_roots(settings.ca_file.as_deref())?,
            Verify::ChainOnly,
        ),
        SslMode::VerifyFull => (tls::load_roots(settings.ca_file.as_deref())?, Verify::Full),
    };
    tls::client_config(&roots, verify, identity.as_ref())
}

/// A logged-in connection. Dropping it closes it politely (Terminate), within a short grace.
pub struct Session {
    /// `None` once closed. A mutex, not a cell, so that a session can be shared like the
    /// client it replaces.
    conn: Mutex<Option<Conn>>,
}

impl Session {
    /// Runs `sql` (simple protocol: text results, several statements allowed) and returns
    /// the first column of the first row: `Ok(None)` when there is no row, `Some(None)`
    /// for NULL.
    pub fn first_value(
        &self,
        sql: &str,
        deadline: &Deadline,
    ) -> Result<Option<Option<String>>, Outcome> {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        match conn.as_mut() {
            Some(conn) if !conn.broken => conn.simple_query(sql, deadline),
            _ => Err(Outcome::unhealthy(
                "the connection to the server was lost earlier",
            )),
        }
    }

    /// Runs `sql` for its effect (`select pg_advisory_lock(1)`), within the deadline.
    #[allow(dead_code)] // for migrate-then-exec's advisory lock
    pub fn execute(&self, sql: &str, deadline: &Deadline) -> Result<(), Outcome> {
        self.first_value(sql, deadline).map(drop)
    }

    /// Sends Terminate and waits (within the deadline) for the connection to end.
    pub fn close(self, deadline: &Deadline) {
        let grace = deadline
            .remaining()
            .unwrap_or(Duration::from_millis(1))
            .min(CLOSE_GRACE);
        self.shut(grace);
    }

    fn shut(&self, grace: Duration) {
        let conn = self
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(conn) = conn {
            conn.finish(grace);
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.shut(CLOSE_GRACE);
    }
}

/// An open connection with its read buffer.
struct Conn {
    stream: Stream,
    buffer: Vec<u8>,
    start: usize,
    /// Set after an I/O or protocol error: the stream is no longer in step with the
    /// server, so nothing more is sent but the hang-up.
    broken: bool,
    /// Bytes read since probe last sent a message (see [`MAX_RECEIVED`]).
    received: usize,
}

impl Conn {
    fn new(stream: Stream) -> Conn {
        Conn {
            stream,
            buffer: Vec::with_capacity(1024),
            start: 0,
            broken: false,
            received: 0,
        }
    }

    /// Bounds the next reads and writes by `deadline`, or fails if it has passed.
    fn arm(&mut self, deadline: &Deadline, phase: &str) -> Result<(), Outcome> {
        if deadline.expired() {
            self.broken = true;
            return Err(deadline.timed_out(phase));
        }
        self.stream.set_deadline(*deadline);
        Ok(())
    }

    fn failure(&mut self, error: io::Error, deadline: &Deadline, phase: &str) -> Outcome {
        self.broken = true;
        io_failure(error, deadline, phase)
    }

    fn send(&mut self, bytes: &[u8], deadline: &Deadline, phase: &str) -> Result<(), Outcome> {
        self.arm(deadline, phase)?;
        self.received = 0;
        self.stream
            .write_all(bytes)
            .and_then(|()| self.stream.flush())
            .map_err(|error| self.failure(error, deadline, phase))
    }

    /// Reads more bytes into the buffer.
    fn fill(&mut self, deadline: &Deadline, phase: &str) -> Result<(), Outcome> {
        if self.start > 0 {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        self.arm(deadline, phase)?;
        let mut chunk = [0u8; 8192];
        match self.stream.read(&mut chunk) {
            Ok(0) => Err(self.failure(io::ErrorKind::UnexpectedEof.into(), deadline, phase)),
            Ok(n) if self.received + n > MAX_RECEIVED => {
                self.broken = true;
                Err(Outcome::unhealthy(format!(
                    "not a PostgreSQL server? more than {} MiB {phase}, the most probe reads",
                    MAX_RECEIVED >> 20
                )))
            }
            Ok(n) => {
                self.received += n;
                self.buffer.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(error) => Err(self.failure(error, deadline, phase)),
        }
    }

    /// The next message whose type is one of `expected`: its type and body. The type is
    /// checked as soon as it arrives, so a peer that is not PostgreSQL is named at once.
    fn message(
        &mut self,
        expected: &[u8],
        deadline: &Deadline,
        phase: &str,
    ) -> Result<(u8, Vec<u8>), Outcome> {
        while self.buffer.len() == self.start {
            self.fill(deadline, phase)?;
        }
        let tag = self.buffer[self.start];
        if !expected.contains(&tag) {
            self.broken = true;
            return Err(garbage(&self.buffer[self.start..], phase));
        }
        while self.buffer.len() - self.start < 5 {
            self.fill(deadline, phase)?;
        }
        let header = &self.buffer[self.start + 1..self.start + 5];
        let length = u32::from_be_bytes(header.try_into().expect("4 bytes")) as usize;
        if !(4..=MAX_MESSAGE + 4).contains(&length) {
            self.broken = true;
            return Err(Outcome::unhealthy(format!(
                "not a PostgreSQL server? a message of {length} bytes {phase} (at most {MAX_MESSAGE} accepted)"
            )));
        }
        let end = self.start + 1 + length;
        while self.buffer.len() < end {
            self.fill(deadline, phase)?;
        }
        let body = self.buffer[self.start + 5..end].to_vec();
        self.start = end;
        Ok((tag, body))
    }

    /// The startup message, the login the server asks for, then its parameters up to
    /// ReadyForQuery.
    fn startup(&mut self, settings: &Settings, deadline: &Deadline) -> Result<(), Failure> {
        let mut params = vec![
            ("user", settings.user.as_str()),
            ("client_encoding", "UTF8"),
            ("application_name", settings.application_name.as_str()),
        ];
        if let Some(dbname) = &settings.dbname {
            params.push(("database", dbname));
        }
        let mut body = PROTOCOL_3_0.to_be_bytes().to_vec();
        for (name, value) in params {
            if value.contains('\0') {
                return Err(Outcome::fatal(format!("the {name} contains a NUL byte")).into());
            }
            push_str(&mut body, name);
            push_str(&mut body, value);
        }
        body.push(0);
        let mut startup = ((body.len() + 4) as u32).to_be_bytes().to_vec();
        startup.extend_from_slice(&body);
        self.send(&startup, deadline, STARTUP)?;

        let mut scram = None;
        loop {
            let (tag, body) = self.message(STARTUP_TAGS, deadline, STARTUP)?;
            let mut fields = Fields(&body);
            match tag {
                b'R' => {}
                b'E' => return Err(self.startup_error(&body, settings, scram.is_some())),
                // NoticeResponse, NegotiateProtocolVersion.
                _ => continue,
            }
            let code = fields.i32().ok_or_else(|| self.malformed(STARTUP))?;
            let password = || settings.password.as_deref().ok_or(Failure::PasswordNeeded);
            let answer = match code {
                0 => break,
                // PasswordMessage: a NUL-terminated string.
                3 => nul_terminated(password()?.as_bytes().to_vec())?,
                5 => {
                    let salt = fields.take(4).ok_or_else(|| self.malformed(STARTUP))?;
                    nul_terminated(auth::md5_password(&settings.user, password()?, salt))?
                }
                10 => {
                    let mut offered = Vec::new();
                    while let Some(mechanism) = fields.str().filter(|name| !name.is_empty()) {
                        offered.push(mechanism);
                    }
                    if !offered.contains(&auth::SCRAM_SHA_256) {
                        return Err(Failure::Rejected(format!(
                            "the server offers SASL {} only, and probe speaks {}",
                            offered.join(", "),
                            auth::SCRAM_SHA_256
                        )));
                    }
                    let (exchange, first) =
                        auth::Scram::start(password()?).map_err(Outcome::unhealthy)?;
                    scram = Some(exchange);
                    let mut answer = Vec::new();
                    push_str(&mut answer, auth::SCRAM_SHA_256);
                    answer.extend_from_slice(&(first.len() as u32).to_be_bytes());
                    answer.extend_from_slice(&first);
                    answer
                }
                11 => match &mut scram {
                    Some(exchange) => exchange.respond(fields.rest()).map_err(|reason| {
                        self.broken = true;
                        Outcome::unhealthy(format!("SCRAM login: {reason}"))
                    })?,
                    None => return Err(self.malformed(STARTUP).into()),
                },
                12 => match &scram {
                    Some(exchange) => {
                        exchange.verify(fields.rest()).map_err(|reason| {
                            self.broken = true;
                            Outcome::unhealthy(format!("SCRAM login: {reason}"))
                        })?;
                        continue;
                    }
                    None => return Err(self.malformed(STARTUP).into()),
                },
                2 | 6 | 7 | 8 | 9 => {
                    return Err(Failure::Rejected(format!(
                        "the server asks for {} authentication, which probe does not speak",
                        match code {
                            2 => "Kerberos V5",
                            6 => "SCM credential",
                            9 => "SSPI",
                            _ => "GSSAPI",
                        }
                    )))
                }
                _ => return Err(self.malformed(STARTUP).into()),
            };
            self.send(&frame(b'p', &answer), deadline, STARTUP)?;
        }

        loop {
            match self.message(AFTER_LOGIN_TAGS, deadline, STARTUP)? {
                (b'Z', _) => return Ok(()),
                (b'E', body) => return Err(self.startup_error(&body, settings, false)),
                // ParameterStatus, BackendKeyData, NoticeResponse.
                _ => {}
            }
        }
    }

    fn startup_error(&mut self, body: &[u8], settings: &Settings, scram: bool) -> Failure {
        match DbError::parse(body) {
            Some(error) => classify_startup(&error, settings, scram),
            None => self.malformed(STARTUP).into(),
        }
    }

    /// A simple query: the first column of the first row, after reading up to
    /// ReadyForQuery so that the session can run another.
    fn simple_query(
        &mut self,
        sql: &str,
        deadline: &Deadline,
    ) -> Result<Option<Option<String>>, Outcome> {
        if sql.contains('\0') {
            return Err(Outcome::fatal("query failed: the SQL contains a NUL byte"));
        }
        if deadline.expired() {
            return Err(deadline.timed_out("before the query"));
        }
        let mut text = sql.as_bytes().to_vec();
        text.push(0);
        self.send(&frame(b'Q', &text), deadline, QUERY)?;
        let mut first = None;
        let mut failed = None;
        loop {
            let (tag, body) = self.message(QUERY_TAGS, deadline, QUERY)?;
            match tag {
                b'D' if first.is_none() => {
                    first = Some(first_column(&body).ok_or_else(|| self.malformed(QUERY))?)
                }
                b'E' => {
                    let error = DbError::parse(&body).ok_or_else(|| self.malformed(QUERY))?;
                    // After FATAL the server hangs up: no ReadyForQuery will come.
                    if error.fatal() {
                        self.broken = true;
                        return Err(classify_query(&error));
                    }
                    failed.get_or_insert(error);
                }
                // COPY FROM STDIN: nothing to send; the server answers with an error.
                b'G' => {
                    let mut reason = b"probe sends no COPY data".to_vec();
                    reason.push(0);
                    self.send(&frame(b'f', &reason), deadline, QUERY)?;
                }
                b'Z' => {
                    return match failed {
                        Some(error) => Err(classify_query(&error)),
                        None => Ok(first),
                    }
                }
                // RowDescription, further rows, CommandComplete, EmptyQueryResponse,
                // notices, parameter changes, notifications, COPY TO STDOUT data.
                _ => {}
            }
        }
    }

    fn malformed(&mut self, phase: &str) -> Outcome {
        self.broken = true;
        Outcome::unhealthy(format!("not a PostgreSQL server? malformed reply {phase}"))
    }

    /// Terminate (unless the connection is broken), TLS close_notify, then FIN, and waits
    /// up to `grace` for the server to hang up too, so that nothing ends with a reset.
    fn finish(mut self, grace: Duration) {
        let grace = grace.max(Duration::from_millis(1));
        self.stream.set_deadline(Deadline::start(grace));
        if !self.broken {
            let _ = self.stream.write_all(&frame(b'X', &[]));
        }
        self.stream.close(!self.broken);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::settings::{connection_settings, Overrides};
    use std::net::TcpListener;

    /// A peer that reads the startup message, then plays `script`: each step reads one
    /// frontend message (checking its type and body) or sends bytes.
    enum Step {
        Expect(u8, Vec<u8>),
        Send(Vec<u8>),
    }

    fn backend(kind: u8, body: &[u8]) -> Step {
        Step::Send(frame(kind, body))
    }

    fn fake(script: Vec<Step>) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut length = [0u8; 4];
            socket.read_exact(&mut length).unwrap();
            let mut startup = vec![0u8; u32::from_be_bytes(length) as usize - 4];
            socket.read_exact(&mut startup).unwrap();
            assert_eq!(startup[..4], PROTOCOL_3_0.to_be_bytes());
            for step in script {
                match step {
                    Step::Send(bytes) => socket.write_all(&bytes).unwrap(),
                    Step::Expect(kind, body) => {
                        let mut header = [0u8; 5];
                        socket.read_exact(&mut header).unwrap();
                        assert_eq!(header[0], kind);
                        let length = u32::from_be_bytes(header[1..].try_into().unwrap());
                        let mut got = vec![0u8; length as usize - 4];
                        socket.read_exact(&mut got).unwrap();
                        assert_eq!(got, body, "body of {}", kind as char);
                    }
                }
            }
        });
        port
    }

    fn server(port: u16, password: Option<&str>) -> Server {
        let password = password.map(|pw| format!(":{pw}")).unwrap_or_default();
        let url = format!("postgres://u{password}@127.0.0.1:{port}/db?sslmode=disable");
        Server::new(connection_settings(Some(&url), &Overrides::default(), &|_| None).unwrap())
            .unwrap()
    }

    fn ready() -> Vec<Step> {
        vec![
            backend(b'R', &0i32.to_be_bytes()),
            backend(b'S', b"server_version\x0015.4\0"),
            backend(b'K', &[0, 0, 0, 1, 0, 0, 0, 2]),
            backend(b'Z', b"I"),
        ]
    }

    #[test]
    fn md5_login_then_a_query_then_terminate() {
        let mut md5_request = 5i32.to_be_bytes().to_vec();
        md5_request.extend_from_slice(b"salt");
        let mut password = auth::md5_password("u", "pw", b"salt");
        password.push(0);
        let mut script = vec![backend(b'R', &md5_request), Step::Expect(b'p', password)];
        script.extend(ready());
        script.extend([
            Step::Expect(b'Q', b"select 1\0".to_vec()),
            backend(
                b'T',
                b"\0\x01?column?\0\0\0\0\0\0\0\0\0\0\x17\0\x04\xff\xff\xff\xff\0\0",
            ),
            backend(b'D', b"\0\x01\0\0\0\x011"),
            backend(b'D', b"\0\x01\0\0\0\x012"),
            backend(b'C', b"SELECT 2\0"),
            backend(b'Z', b"I"),
            Step::Expect(b'Q', b"select null\0".to_vec()),
            backend(b'D', b"\0\x01\xff\xff\xff\xff"),
            backend(b'Z', b"I"),
            Step::Expect(b'X', Vec::new()),
        ]);
        let deadline = Deadline::start(Duration::from_secs(5));
        let session = server(fake(script), Some("pw")).connect(&deadline).unwrap();
        assert_eq!(
            session.first_value("select 1", &deadline).unwrap(),
            Some(Some("1".into()))
        );
        assert_eq!(
            session.first_value("select null", &deadline).unwrap(),
            Some(None)
        );
        session.close(&deadline);
    }

    #[test]
    fn cleartext_is_not_answered_without_a_password() {
        let port = fake(vec![backend(b'R', &3i32.to_be_bytes())]);
        let deadline = Deadline::start(Duration::from_secs(5));
        assert!(matches!(
            server(port, None).open(&deadline),
            Err(Failure::PasswordNeeded)
        ));
        let mut script = vec![
            backend(b'R', &3i32.to_be_bytes()),
            Step::Expect(b'p', b"pw\0".to_vec()),
        ];
        script.extend(ready());
        script.push(Step::Expect(b'X', Vec::new()));
        let session = server(fake(script), Some("pw")).open(&deadline);
        assert!(session.is_ok());
    }

    #[test]
    fn huge_lengths_and_unknown_messages_are_not_postgres() {
        let deadline = Deadline::start(Duration::from_secs(5));
        let port = fake(vec![Step::Send(b"R\x7f\xff\xff\xff".to_vec())]);
        let Err(Failure::Down(outcome)) = server(port, None).open(&deadline) else {
            panic!("a 2 GB message was accepted");
        };
        assert!(
            outcome.detail.starts_with("not a PostgreSQL server?"),
            "{outcome:?}"
        );
        let port = fake(vec![Step::Send(b"HTTP/1.1 400 Bad Request\r\n".to_vec())]);
        let Err(Failure::Down(outcome)) = server(port, None).open(&deadline) else {
            panic!("HTTP was accepted");
        };
        assert_eq!(
            outcome.detail,
            "not a PostgreSQL server? unexpected reply during startup: \"HTTP/1.1 400 Bad\""
        );
        let port = fake(vec![backend(b'R', &[0, 0])]);
        assert!(matches!(
            server(port, None).open(&deadline),
            Err(Failure::Down(_))
        ));
    }
}
