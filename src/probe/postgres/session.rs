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
pub mod message;
mod verdict;

use self::message::{
    first_column, frame, password_message, query_message, sasl_initial_response, startup_message,
    terminate_message, DbError, Fields, Malformed,
};
use self::verdict::{classify_query, classify_startup, garbage, io_failure};

use std::io::{self, Write};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::settings::{AuthMethod, ChannelBinding, Host, Settings, SslMode};
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
    ///
    /// libpq's sslmode=allow: plain text first, and TLS only if the server refuses that
    /// login (a `hostssl`-only pg_hba.conf).
    pub fn open(&self, deadline: &Deadline) -> Result<Session, Failure> {
        let deadline = match self.settings.connect_timeout {
            Some(cap) => deadline.capped(cap),
            None => *deadline,
        };
        if self.settings.sslmode != SslMode::Allow {
            return self.open_with(self.settings.sslmode, &deadline);
        }
        match self.open_with(SslMode::Disable, &deadline) {
            Err(Failure::Rejected(_))
                if cfg!(feature = "tls") && matches!(self.settings.host, Host::Tcp(_)) =>
            {
                self.open_with(SslMode::Require, &deadline)
            }
            other => other,
        }
    }

    fn open_with(&self, mode: SslMode, deadline: &Deadline) -> Result<Session, Failure> {
        let deadline = *deadline;
        let mut conn = match &self.settings.host {
            Host::Tcp(host) => {
                let stream = Stream::tcp(host, self.settings.port, &deadline)?;
                match self.negotiate_tls(stream, host, mode, &deadline) {
                    // libpq's prefer: a handshake that fails for a reason other than the
                    // certificate (fatal) is retried once without TLS.
                    Err(Failure::Down(outcome))
                        if mode == SslMode::Prefer
                            && !outcome.is_fatal()
                            && !deadline.expired() =>
                    {
                        Conn::new(Stream::tcp(host, self.settings.port, &deadline)?)
                    }
                    conn => conn?,
                }
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
        mode: SslMode,
        deadline: &Deadline,
    ) -> Result<Conn, Failure> {
        #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
        let mut conn = Conn::new(stream);
        #[cfg(feature = "tls")]
        if mode != SslMode::Disable {
            let mut request = 8u32.to_be_bytes().to_vec();
            request.extend_from_slice(&SSL_REQUEST.to_be_bytes());
            conn.send(&request, deadline, STARTUP)?;
            // One byte, read past the buffer: whatever follows 'S' must be TLS, never
            // plain text slipped in ahead of the handshake (CVE-2021-23222).
            let mut answer = [0u8; 1];
            conn.arm(deadline, STARTUP)?;
            if let Err(error) = io::Read::read_exact(&mut conn.stream, &mut answer) {
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
                (b'N', stream) if mode == SslMode::Prefer => Ok(Conn::new(stream)),
                // libpq's wording; waiting will not change the server's configuration.
                (b'N', _) => Err(Outcome::fatal("TLS: server does not support TLS").into()),
                _ => Err(garbage(&answer, STARTUP).into()),
            };
        }
        #[cfg(not(feature = "tls"))]
        let _ = (host, mode, deadline);
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
        SslMode::Allow | SslMode::Prefer | SslMode::Require if custom_ca => (
            tls::load_roots(settings.ca_file.as_deref())?,
            Verify::ChainOnly,
        ),
        SslMode::Allow | SslMode::Prefer | SslMode::Require => {
            (Roots::Custom(Vec::new()), Verify::Nothing)
        }
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

    /// The backend process id the server announced at login (BackendKeyData). A pooler
    /// such as PgBouncer announces one of its own, which `pg_backend_pid()` then contradicts.
    pub fn announced_pid(&self) -> Option<i32> {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        conn.as_ref().and_then(|conn| conn.backend_pid)
    }

    /// TCP keepalive on the socket (idle `idle`, then probes every second, 3 lost probes
    /// end it), and TCP_USER_TIMEOUT so that unacknowledged data ends it as fast: a
    /// connection held open for a long time (migrate-then-exec's lock) notices a dead peer
    /// or a dropped NAT entry. Nothing on a Unix socket.
    pub fn keep_alive(&self, idle: Duration) -> io::Result<()> {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(fd) = conn.as_ref().and_then(|conn| conn.stream.tcp_fd()) else {
            return Ok(());
        };
        let idle = idle.as_secs().clamp(1, 3600) as libc::c_int;
        let user_timeout = (idle as libc::c_uint + 3) * 1000;
        for (level, name, value) in [
            (libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1),
            (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, idle),
            (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, 1),
            (libc::IPPROTO_TCP, libc::TCP_KEEPCNT, 3),
            (
                libc::IPPROTO_TCP,
                libc::TCP_USER_TIMEOUT,
                user_timeout as libc::c_int,
            ),
        ] {
            // SAFETY: setsockopt on a socket we own, with a valid int option value.
            let done = unsafe {
                libc::setsockopt(
                    fd,
                    level,
                    name,
                    (&value as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if done != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
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
    /// From BackendKeyData.
    backend_pid: Option<i32>,
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
            backend_pid: None,
            received: 0,
        }
    }

    /// `None` without TLS; over TLS, the tls-server-end-point hash of the server's
    /// certificate, if its signature algorithm has one.
    fn server_end_point(&self) -> Option<Option<Vec<u8>>> {
        #[cfg(feature = "tls")]
        return self.stream.peer_certificates().map(|chain| {
            chain
                .first()
                .and_then(|cert| auth::end_point_hash(cert.as_ref()))
        });
        #[cfg(not(feature = "tls"))]
        None
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
        match self.stream.read_into(&mut self.buffer, 8192) {
            Ok(n) if self.received + n > MAX_RECEIVED => {
                self.broken = true;
                Err(Outcome::unhealthy(format!(
                    "not a PostgreSQL server? more than {} MiB {phase}, the most probe reads",
                    MAX_RECEIVED >> 20
                )))
            }
            Ok(n) => {
                self.received += n;
                Ok(())
            }
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
        loop {
            match message::split(&self.buffer[self.start..], expected, MAX_MESSAGE) {
                Ok(Some((tag, end))) => {
                    let body = self.buffer[self.start + 5..self.start + end].to_vec();
                    self.start += end;
                    return Ok((tag, body));
                }
                Ok(None) => self.fill(deadline, phase)?,
                Err(Malformed::Tag) => {
                    self.broken = true;
                    return Err(garbage(&self.buffer[self.start..], phase));
                }
                Err(Malformed::Length(length)) => {
                    self.broken = true;
                    return Err(Outcome::unhealthy(format!(
                        "not a PostgreSQL server? a message of {length} bytes {phase} (at most {MAX_MESSAGE} accepted)"
                    )));
                }
            }
        }
    }

    /// The startup message, the login the server asks for, then its parameters up to
    /// ReadyForQuery.
    ///
    /// As strict as tokio-postgres and libpq 16: once SCRAM has started, AuthenticationOk
    /// counts only after the server's signature was verified; `require_auth` and
    /// `channel_binding` are checked at each request and at AuthenticationOk.
    fn startup(&mut self, settings: &Settings, deadline: &Deadline) -> Result<(), Failure> {
        let mut params = vec![
            ("user", settings.user.as_str()),
            ("client_encoding", "UTF8"),
            ("application_name", settings.application_name.as_str()),
        ];
        if let Some(dbname) = &settings.dbname {
            params.push(("database", dbname));
        }
        if let Some((name, _)) = params.iter().find(|(_, value)| value.contains('\0')) {
            return Err(Outcome::fatal(format!("the {name} contains a NUL byte")).into());
        }
        self.send(&startup_message(&params), deadline, STARTUP)?;

        let mut scram: Option<auth::Scram> = None;
        let mut used = AuthMethod::None;
        let mut bound = false;
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
            let method = match code {
                0 => None,
                3 => Some(AuthMethod::Password),
                5 => Some(AuthMethod::Md5),
                7 | 8 => Some(AuthMethod::Gss),
                9 => Some(AuthMethod::Sspi),
                10 => Some(AuthMethod::ScramSha256),
                _ => None,
            };
            if let Some(method) = method {
                self.allowed(settings, method)?;
                used = method;
            }
            let answer = match code {
                0 => {
                    if scram.as_ref().is_some_and(|exchange| !exchange.proven()) {
                        self.broken = true;
                        return Err(Outcome::fatal(
                            "server did not prove it knows the password: AuthenticationOk \
                             before a verified SCRAM server signature",
                        )
                        .into());
                    }
                    self.allowed(settings, used)?;
                    if settings.channel_binding == ChannelBinding::Require && !bound {
                        self.broken = true;
                        return Err(Outcome::fatal(
                            "channel_binding=require, but the server authenticated the client \
                             without channel binding",
                        )
                        .into());
                    }
                    break;
                }
                3 => password_message(password()?.as_bytes())?,
                5 => {
                    let salt = fields.take(4).ok_or_else(|| self.malformed(STARTUP))?;
                    password_message(&auth::md5_password(&settings.user, password()?, salt))?
                }
                10 => {
                    let mut offered = Vec::new();
                    while let Some(mechanism) = fields.str().filter(|name| !name.is_empty()) {
                        offered.push(mechanism);
                    }
                    let binding = self.binding(settings, &offered)?;
                    let mechanism = match binding {
                        auth::Binding::EndPoint(_) => auth::SCRAM_SHA_256_PLUS,
                        _ => auth::SCRAM_SHA_256,
                    };
                    if !offered.contains(&mechanism) {
                        return Err(Failure::Rejected(format!(
                            "the server offers SASL {} only, and probe speaks {}",
                            offered.join(", "),
                            auth::SCRAM_SHA_256
                        )));
                    }
                    bound = mechanism == auth::SCRAM_SHA_256_PLUS;
                    let (exchange, first) =
                        auth::Scram::start(password()?, binding).map_err(Outcome::unhealthy)?;
                    scram = Some(exchange);
                    sasl_initial_response(mechanism, &first)
                }
                11 => match &mut scram {
                    Some(exchange) => {
                        let answer = exchange.respond(fields.rest()).map_err(|reason| {
                            self.broken = true;
                            Outcome::unhealthy(format!("SCRAM login: {reason}"))
                        })?;
                        frame(b'p', &answer)
                    }
                    None => return Err(self.malformed(STARTUP).into()),
                },
                12 => match &mut scram {
                    Some(exchange) => {
                        exchange.verify(fields.rest()).map_err(|reason| {
                            self.broken = true;
                            Outcome::fatal(format!(
                                "server did not prove it knows the password: {reason}"
                            ))
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
            self.send(&answer, deadline, STARTUP)?;
        }

        loop {
            match self.message(AFTER_LOGIN_TAGS, deadline, STARTUP)? {
                (b'Z', _) => return Ok(()),
                (b'E', body) => return Err(self.startup_error(&body, settings, false)),
                (b'K', body) => self.backend_pid = Fields(&body).i32(),
                // ParameterStatus, NoticeResponse.
                _ => {}
            }
        }
    }

    /// `require_auth`: may the server authenticate this way? (libpq 16's rule.)
    fn allowed(&mut self, settings: &Settings, method: AuthMethod) -> Result<(), Failure> {
        match &settings.require_auth {
            Some(required) if !required.allows(method) => {
                self.broken = true;
                let what = match method {
                    AuthMethod::None => "authenticated the client without asking for a password",
                    AuthMethod::Password => "asked for a cleartext password",
                    AuthMethod::Md5 => "asked for an MD5 password",
                    AuthMethod::ScramSha256 => "asked for SCRAM-SHA-256",
                    AuthMethod::Gss => "asked for GSSAPI",
                    AuthMethod::Sspi => "asked for SSPI",
                };
                Err(
                    Outcome::fatal(format!("require_auth={}: the server {what}", required.text))
                        .into(),
                )
            }
            _ => Ok(()),
        }
    }

    /// The channel binding for a SCRAM exchange (libpq's channel_binding rules).
    fn binding(&mut self, settings: &Settings, offered: &[&str]) -> Result<auth::Binding, Failure> {
        let plus = offered.contains(&auth::SCRAM_SHA_256_PLUS);
        let binding = match (settings.channel_binding, self.server_end_point()) {
            (ChannelBinding::Disable, _) | (_, None) => auth::Binding::None,
            (_, Some(Some(hash))) if plus => auth::Binding::EndPoint(hash),
            (_, Some(None)) if plus => auth::Binding::None,
            (_, Some(_)) => auth::Binding::NotOffered,
        };
        if settings.channel_binding == ChannelBinding::Require
            && !matches!(binding, auth::Binding::EndPoint(_))
        {
            self.broken = true;
            let why = match self.server_end_point() {
                None => "the connection is not TLS",
                Some(_) if !plus => "the server does not offer SCRAM-SHA-256-PLUS",
                Some(_) => {
                    "the server certificate's signature algorithm has no tls-server-end-point hash"
                }
            };
            return Err(Outcome::fatal(format!("channel_binding=require, but {why}")).into());
        }
        Ok(binding)
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
        self.send(&query_message(sql), deadline, QUERY)?;
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
            let _ = self.stream.write_all(&terminate_message());
        }
        self.stream.close(!self.broken);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::settings::{connection_settings, Overrides};
    use std::io::Read;
    use std::net::TcpListener;

    /// A peer that reads the startup message, then plays `script`: each step reads one
    /// frontend message (checking its type and body) or sends bytes. The returned handle
    /// is joined by [`Fake::done`], so a failed expectation fails the test.
    enum Step {
        Expect(u8, Vec<u8>),
        /// A message of this type, whatever its body.
        ExpectAny(u8),
        /// Reads a message of this type and answers with what the function makes of its
        /// body (SCRAM's server-first message needs the client's nonce).
        Reply(u8, fn(&[u8]) -> Vec<u8>),
        /// The client hangs up without sending anything more, and without a reset.
        ExpectEof,
        Send(Vec<u8>),
        Pause(Duration),
    }

    fn backend(kind: u8, body: &[u8]) -> Step {
        Step::Send(frame(kind, body))
    }

    struct Fake {
        port: u16,
        peer: std::thread::JoinHandle<()>,
    }

    impl Fake {
        /// Waits for the peer to finish its script; its failed assertions fail the test.
        fn done(self) {
            if let Err(panic) = self.peer.join() {
                std::panic::resume_unwind(panic);
            }
        }
    }

    fn read_message(socket: &mut impl Read) -> (u8, Vec<u8>) {
        let mut header = [0u8; 5];
        socket.read_exact(&mut header).expect("a frontend message");
        let length = u32::from_be_bytes(header[1..].try_into().unwrap());
        let mut got = vec![0u8; length as usize - 4];
        socket.read_exact(&mut got).unwrap();
        (header[0], got)
    }

    fn fake(script: Vec<Step>) -> Fake {
        fake_on(None, script)
    }

    /// A fake that answers the SSLRequest with 'S' and plays `script` over TLS with the
    /// certificate `identity` (DER certificate, PKCS#8 key).
    #[cfg(feature = "tls")]
    fn fake_tls(identity: (Vec<u8>, Vec<u8>), script: Vec<Step>) -> Fake {
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
        let (cert, key) = identity;
        let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert)],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
        )
        .unwrap();
        fake_on(Some(std::sync::Arc::new(config)), script)
    }

    #[cfg(feature = "tls")]
    type TlsConfig = Option<std::sync::Arc<rustls::ServerConfig>>;
    #[cfg(not(feature = "tls"))]
    type TlsConfig = Option<()>;

    fn fake_on(tls: TlsConfig, script: Vec<Step>) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let peer = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            socket
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            #[cfg(feature = "tls")]
            if let Some(config) = tls {
                let mut request = [0u8; 8];
                socket.read_exact(&mut request).unwrap();
                assert_eq!(request[4..], SSL_REQUEST.to_be_bytes(), "an SSLRequest");
                socket.write_all(b"S").unwrap();
                let server = rustls::ServerConnection::new(config).unwrap();
                return play(&mut rustls::StreamOwned::new(server, socket), script);
            }
            #[cfg(not(feature = "tls"))]
            let _ = tls;
            play(&mut socket, script)
        });
        Fake { port, peer }
    }

    /// Reads the startup message, then plays the steps.
    fn play(socket: &mut (impl Read + Write), script: Vec<Step>) {
        let mut length = [0u8; 4];
        socket.read_exact(&mut length).unwrap();
        let mut startup = vec![0u8; u32::from_be_bytes(length) as usize - 4];
        socket.read_exact(&mut startup).unwrap();
        assert_eq!(startup[..4], PROTOCOL_3_0.to_be_bytes());
        for step in script {
            match step {
                Step::Send(bytes) => socket.write_all(&bytes).unwrap(),
                Step::Expect(kind, body) => {
                    let (got_kind, got) = read_message(socket);
                    assert_eq!(got_kind as char, kind as char, "message type");
                    assert_eq!(got, body, "body of {}", kind as char);
                }
                Step::ExpectAny(kind) => {
                    assert_eq!(read_message(socket).0 as char, kind as char);
                }
                Step::Reply(kind, answer) => {
                    let (got_kind, got) = read_message(socket);
                    assert_eq!(got_kind as char, kind as char, "message type");
                    socket.write_all(&answer(&got)).unwrap();
                }
                Step::ExpectEof => {
                    let mut rest = Vec::new();
                    let end = socket.read_to_end(&mut rest);
                    assert!(rest.is_empty(), "the client sent {rest:?}");
                    // A FIN (after close_notify over TLS), never a reset.
                    if let Err(error) = end {
                        panic!("the connection ended with {error}");
                    }
                }
                Step::Pause(time) => std::thread::sleep(time),
            }
        }
    }

    fn server(port: u16, password: Option<&str>) -> Server {
        server_with(port, password, "")
    }

    fn server_with(port: u16, password: Option<&str>, params: &str) -> Server {
        let password = password.map(|pw| format!(":{pw}")).unwrap_or_default();
        let url = format!("postgres://u{password}@127.0.0.1:{port}/db?sslmode=disable{params}");
        Server::new(connection_settings(Some(&url), &Overrides::default(), &|_| None).unwrap())
            .unwrap()
    }

    fn ready() -> Vec<Step> {
        vec![
            backend(b'R', &0i32.to_be_bytes()),
            backend(b'S', b"server_version\x0015.4\0"),
            backend(b'K', &[0, 0, 0x10, 0x92, 0, 0, 0, 2]),
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
        let peer = fake(script);
        let session = server(peer.port, Some("pw")).connect(&deadline).unwrap();
        assert_eq!(
            session.first_value("select 1", &deadline).unwrap(),
            Some(Some("1".into()))
        );
        assert_eq!(
            session.first_value("select null", &deadline).unwrap(),
            Some(None)
        );
        assert_eq!(session.announced_pid(), Some(4242));
        session.close(&deadline);
        peer.done();
    }

    #[test]
    fn cleartext_is_not_answered_without_a_password() {
        let peer = fake(vec![backend(b'R', &3i32.to_be_bytes()), Step::ExpectEof]);
        let deadline = Deadline::start(Duration::from_secs(5));
        assert!(matches!(
            server(peer.port, None).open(&deadline),
            Err(Failure::PasswordNeeded)
        ));
        peer.done();
        let mut script = vec![
            backend(b'R', &3i32.to_be_bytes()),
            Step::Expect(b'p', b"pw\0".to_vec()),
        ];
        script.extend(ready());
        script.push(Step::Expect(b'X', Vec::new()));
        let peer = fake(script);
        let session = server(peer.port, Some("pw")).open(&deadline);
        drop(session.unwrap());
        peer.done();
    }

    fn sasl_offer(mechanisms: &[u8]) -> Step {
        let mut body = 10i32.to_be_bytes().to_vec();
        body.extend_from_slice(mechanisms);
        backend(b'R', &body)
    }

    /// AuthenticationSASLContinue for the client's SASLInitialResponse: its nonce, extended.
    fn server_first(initial: &[u8]) -> Vec<u8> {
        let text = String::from_utf8_lossy(initial);
        let nonce = text.rsplit_once("r=").unwrap().1;
        let mut body = 11i32.to_be_bytes().to_vec();
        body.extend_from_slice(format!("r={nonce}srv,s=c2FsdHNhbHQ=,i=4096").as_bytes());
        frame(b'R', &body)
    }

    fn fatal_reason(result: Result<Session, Failure>) -> String {
        match result {
            Err(Failure::Down(outcome)) if outcome.is_fatal() => outcome.detail,
            Err(other) => panic!("not fatal: {other:?}"),
            Ok(_) => panic!("logged in"),
        }
    }

    /// A server that skips SASLFinal (or signs wrongly) has not proven it knows the
    /// password: the login is refused, as tokio-postgres does.
    #[test]
    fn scram_without_the_server_signature_is_refused() {
        let deadline = Deadline::start(Duration::from_secs(5));
        let mut skipping = vec![
            sasl_offer(b"SCRAM-SHA-256\0\0"),
            Step::Reply(b'p', server_first),
            Step::ExpectAny(b'p'),
        ];
        skipping.extend([backend(b'R', &0i32.to_be_bytes()), Step::ExpectEof]);
        let peer = fake(skipping);
        let reason = fatal_reason(server(peer.port, Some("pw")).open(&deadline));
        assert!(
            reason.starts_with("server did not prove it knows the password"),
            "{reason}"
        );
        peer.done();

        let mut wrong = 12i32.to_be_bytes().to_vec();
        wrong.extend_from_slice(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
        let forged = vec![
            sasl_offer(b"SCRAM-SHA-256\0\0"),
            Step::Reply(b'p', server_first),
            Step::ExpectAny(b'p'),
            backend(b'R', &wrong),
            Step::ExpectEof,
        ];
        let peer = fake(forged);
        let reason = fatal_reason(server(peer.port, Some("pw")).open(&deadline));
        assert!(reason.contains("signature is wrong"), "{reason}");
        peer.done();
    }

    /// Over plain TCP the client says "n,," (no binding), and channel_binding=require
    /// refuses before sending anything.
    #[test]
    fn channel_binding_needs_tls_and_plus() {
        let deadline = Deadline::start(Duration::from_secs(5));
        let peer = fake(vec![
            sasl_offer(b"SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0"),
            Step::ExpectEof,
        ]);
        let required = server_with(peer.port, Some("pw"), "&channel_binding=require");
        let reason = fatal_reason(required.open(&deadline));
        assert_eq!(
            reason,
            "channel_binding=require, but the connection is not TLS"
        );
        peer.done();

        // Trust: no exchange at all, so no binding either.
        let peer = fake(vec![backend(b'R', &0i32.to_be_bytes()), Step::ExpectEof]);
        let required = server_with(peer.port, Some("pw"), "&channel_binding=require");
        let reason = fatal_reason(required.open(&deadline));
        assert!(reason.contains("without channel binding"), "{reason}");
        peer.done();

        let peer = fake(vec![
            sasl_offer(b"SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0"),
            Step::Reply(b'p', |initial| {
                assert!(initial.starts_with(b"SCRAM-SHA-256\0"), "{initial:?}");
                assert_eq!(&initial[18..22], b"n,,n", "{initial:?}");
                frame(b'E', b"SFATAL\0VFATAL\0C28P01\0Mno\0\0")
            }),
        ]);
        let _ = server(peer.port, Some("pw")).open(&deadline);
        peer.done();
    }

    /// A self-signed certificate for 127.0.0.1 (DER) and its PKCS#8 key: ECDSA P-256 with
    /// SHA-256 (a tls-server-end-point hash) or Ed25519 (none: RFC 5929 names no hash).
    #[cfg(feature = "tls")]
    fn identity(ed25519: bool) -> (Vec<u8>, Vec<u8>) {
        let key = if ed25519 {
            rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap()
        } else {
            rcgen::KeyPair::generate().unwrap()
        };
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.der().to_vec(), key.serialize_der())
    }

    /// sslmode=require (no verification) with `params`, against a TLS fake.
    #[cfg(feature = "tls")]
    fn over_tls(port: u16, params: &str) -> Server {
        let url = format!("postgres://u:pw@127.0.0.1:{port}/db?sslmode=require{params}");
        Server::new(connection_settings(Some(&url), &Overrides::default(), &|_| None).unwrap())
            .unwrap()
    }

    /// The SASLInitialResponse's mechanism and the start of its client-first message (the
    /// GS2 header says how the client binds), then the server gives up.
    #[cfg(feature = "tls")]
    fn says_mechanism_and_header(initial: &[u8], mechanism: &str, header: &str) -> Vec<u8> {
        let (name, rest) = initial.split_at(initial.iter().position(|&b| b == 0).unwrap());
        assert_eq!(String::from_utf8_lossy(name), mechanism);
        // After the name: its NUL and the client-first message's length (4 bytes).
        let first = String::from_utf8_lossy(&rest[5..]);
        assert!(first.starts_with(&format!("{header}n=,r=")), "{first}");
        frame(b'E', b"SFATAL\0VFATAL\0C28P01\0Mno\0\0")
    }

    /// libpq's channel_binding over TLS: prefer binds when the server offers -PLUS and the
    /// certificate has an end-point hash, says "y,," when TLS is up but -PLUS is not
    /// offered (so a server that did offer it sees a downgrade), and "n,," when binding is
    /// disabled or the certificate has no hash; require refuses, naming why.
    #[cfg(feature = "tls")]
    #[test]
    fn channel_binding_over_tls_follows_what_the_server_offers() {
        let deadline = Deadline::start(Duration::from_secs(5));
        let both = b"SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0";
        let plain_only = b"SCRAM-SHA-256\0\0";
        type Check = fn(&[u8]) -> Vec<u8>;
        let cases: [(bool, &[u8], &str, Check); 5] = [
            (false, both, "", |first| {
                says_mechanism_and_header(first, "SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,")
            }),
            (false, plain_only, "", |first| {
                says_mechanism_and_header(first, "SCRAM-SHA-256", "y,,")
            }),
            (false, both, "&channel_binding=disable", |first| {
                says_mechanism_and_header(first, "SCRAM-SHA-256", "n,,")
            }),
            (true, both, "", |first| {
                says_mechanism_and_header(first, "SCRAM-SHA-256", "n,,")
            }),
            (true, plain_only, "", |first| {
                says_mechanism_and_header(first, "SCRAM-SHA-256", "y,,")
            }),
        ];
        for (ed25519, offered, params, check) in cases {
            let peer = fake_tls(
                identity(ed25519),
                vec![sasl_offer(offered), Step::Reply(b'p', check)],
            );
            let result = over_tls(peer.port, params).open(&deadline);
            assert!(matches!(result, Err(Failure::Rejected(_))), "{params}");
            peer.done();
        }
        for (ed25519, offered, why) in [
            (
                false,
                &plain_only[..],
                "the server does not offer SCRAM-SHA-256-PLUS",
            ),
            (
                true,
                &both[..],
                "the server certificate's signature algorithm has no tls-server-end-point hash",
            ),
        ] {
            let peer = fake_tls(
                identity(ed25519),
                vec![sasl_offer(offered), Step::ExpectEof],
            );
            let result = over_tls(peer.port, "&channel_binding=require").open(&deadline);
            assert_eq!(
                fatal_reason(result),
                format!("channel_binding=require, but {why}")
            );
            peer.done();
        }
    }

    /// Kerberos, SCM credentials, GSSAPI and SSPI are named and refused (the server is up
    /// but probe cannot log in): nothing is answered. require_auth sees MD5, GSSAPI and
    /// SSPI requests too.
    #[test]
    fn logins_probe_does_not_speak_are_named() {
        let deadline = Deadline::start(Duration::from_secs(5));
        for (code, name) in [
            (2i32, "Kerberos V5"),
            (6, "SCM credential"),
            (7, "GSSAPI"),
            (8, "GSSAPI"),
            (9, "SSPI"),
        ] {
            let peer = fake(vec![backend(b'R', &code.to_be_bytes()), Step::ExpectEof]);
            match server(peer.port, Some("pw")).open(&deadline) {
                Err(Failure::Rejected(reason)) => assert_eq!(
                    reason,
                    format!(
                        "the server asks for {name} authentication, which probe does not speak"
                    )
                ),
                other => panic!("code {code}: {:?}", other.err()),
            }
            peer.done();
        }
        for (code, says) in [
            (5i32, "asked for an MD5 password"),
            (7, "asked for GSSAPI"),
            (8, "asked for GSSAPI"),
            (9, "asked for SSPI"),
        ] {
            let mut body = code.to_be_bytes().to_vec();
            body.extend_from_slice(b"salt");
            let peer = fake(vec![backend(b'R', &body), Step::ExpectEof]);
            let params = "&require_auth=scram-sha-256";
            let reason = fatal_reason(server_with(peer.port, Some("pw"), params).open(&deadline));
            assert_eq!(
                reason,
                format!("require_auth=scram-sha-256: the server {says}")
            );
            peer.done();
        }
    }

    #[test]
    fn require_auth_refuses_what_it_does_not_list() {
        let deadline = Deadline::start(Duration::from_secs(5));
        for (params, request, says) in [
            (
                "&require_auth=scram-sha-256",
                3i32,
                "the server asked for a cleartext password",
            ),
            (
                "&require_auth=!password,!md5",
                3,
                "the server asked for a cleartext password",
            ),
            (
                "&require_auth=password",
                10,
                "the server asked for SCRAM-SHA-256",
            ),
            (
                "&require_auth=scram-sha-256",
                0,
                "without asking for a password",
            ),
            ("&require_auth=!none", 0, "without asking for a password"),
        ] {
            let mut body = request.to_be_bytes().to_vec();
            if request == 10 {
                body.extend_from_slice(b"SCRAM-SHA-256\0\0");
            }
            // Nothing is answered to a request require_auth refuses.
            let peer = fake(vec![backend(b'R', &body), Step::ExpectEof]);
            let reason = fatal_reason(server_with(peer.port, Some("pw"), params).open(&deadline));
            assert!(reason.contains(says), "{params}: {reason}");
            assert!(reason.starts_with("require_auth="), "{reason}");
            peer.done();
        }
        // Allowed: trust with none listed, cleartext with !md5.
        for params in ["&require_auth=none,scram-sha-256", "&require_auth=!md5"] {
            let mut script = if params.contains("md5") {
                vec![
                    backend(b'R', &3i32.to_be_bytes()),
                    Step::Expect(b'p', b"pw\0".to_vec()),
                ]
            } else {
                Vec::new()
            };
            script.extend(ready());
            script.push(Step::Expect(b'X', Vec::new()));
            let peer = fake(script);
            let session = server_with(peer.port, Some("pw"), params).open(&deadline);
            drop(session.unwrap());
            peer.done();
        }
    }

    /// A logged-in session with a fake server that then plays `script`.
    fn logged_in(script: Vec<Step>) -> (Session, Fake) {
        let mut steps = ready();
        steps.extend(script);
        let peer = fake(steps);
        let deadline = Deadline::start(Duration::from_secs(5));
        let session = server(peer.port, None).connect(&deadline).unwrap();
        (session, peer)
    }

    fn data_row(value: &[u8]) -> Step {
        let mut body = vec![0, 1];
        body.extend_from_slice(&(value.len() as u32).to_be_bytes());
        body.extend_from_slice(value);
        backend(b'D', &body)
    }

    /// Rows up to MAX_MESSAGE are read, 2.5 MiB may come between two sends, and the
    /// buffer is compacted as it is read, so it holds about one message, not the reply.
    #[test]
    fn large_rows_are_read_and_the_buffer_stays_the_size_of_one() {
        let row = vec![b'x'; 512 * 1024];
        let mut script = vec![Step::Expect(b'Q', b"select big\0".to_vec())];
        script.extend((0..5).map(|_| data_row(&row)));
        script.extend([
            backend(b'C', b"SELECT 5\0"),
            backend(b'Z', b"I"),
            Step::Expect(b'X', Vec::new()),
        ]);
        let (session, peer) = logged_in(script);
        let deadline = Deadline::start(Duration::from_secs(5));
        let value = session.first_value("select big", &deadline).unwrap();
        assert_eq!(value.flatten().map(|v| v.len()), Some(row.len()));
        let capacity = session
            .conn
            .lock()
            .unwrap()
            .as_ref()
            .unwrap()
            .buffer
            .capacity();
        assert!(
            capacity < 2 << 20,
            "buffer of {capacity} bytes for 512 KiB rows"
        );
        session.close(&deadline);
        peer.done();
    }

    #[test]
    fn a_flood_between_two_sends_ends_at_16_mib() {
        let mut notice = b"SNOTICE\0M".to_vec();
        notice.extend(std::iter::repeat_n(b'n', 64 * 1024));
        notice.extend_from_slice(b"\0\0");
        let notice = frame(b'N', &notice);
        let flood = notice.repeat((17 << 20) / notice.len() + 1);
        // The client hangs up mid-flood, so this peer is not joined (its write fails).
        let (session, _peer) = logged_in(vec![
            Step::Expect(b'Q', b"select 1\0".to_vec()),
            Step::Send(flood),
        ]);
        let deadline = Deadline::start(Duration::from_secs(5));
        let error = session.first_value("select 1", &deadline).unwrap_err();
        assert_eq!(
            error.detail,
            "not a PostgreSQL server? more than 16 MiB during the query, the most probe reads"
        );
    }

    /// After a FATAL error the session is broken: nothing more is sent (not even
    /// Terminate), and later queries say the connection was lost.
    #[test]
    fn errors_reach_execute_and_a_fatal_one_breaks_the_session() {
        let (session, peer) = logged_in(vec![
            Step::Expect(b'Q', b"select 1/0\0".to_vec()),
            backend(b'E', b"SERROR\0VERROR\0C22012\0Mdivision by zero\0\0"),
            backend(b'Z', b"I"),
            Step::Expect(b'Q', b"select 2\0".to_vec()),
            backend(b'E', b"SFATAL\0VFATAL\0C57P01\0Mterminating connection\0\0"),
            Step::ExpectEof,
        ]);
        let deadline = Deadline::start(Duration::from_secs(5));
        let error = session.execute("select 1/0", &deadline).unwrap_err();
        assert!(error.detail.contains("22012"), "{error:?}");
        assert!(session.first_value("select 2", &deadline).is_err());
        let error = session.first_value("select 3", &deadline).unwrap_err();
        assert_eq!(
            error.detail,
            "the connection to the server was lost earlier"
        );
        session.close(&deadline);
        peer.done();
    }

    /// COPY FROM STDIN is answered with CopyFail (probe has no data to send), and the
    /// server's error ends the query; without it the server would wait forever.
    #[test]
    fn copy_from_stdin_is_refused_with_copy_fail() {
        let (session, peer) = logged_in(vec![
            Step::Expect(b'Q', b"copy t from stdin\0".to_vec()),
            backend(b'G', &[0, 0, 1, 0, 0]),
            Step::Expect(b'f', b"probe sends no COPY data\0".to_vec()),
            backend(b'E', b"SERROR\0VERROR\0C57014\0MCOPY from stdin failed\0\0"),
            backend(b'Z', b"I"),
            Step::Expect(b'X', Vec::new()),
        ]);
        let deadline = Deadline::start(Duration::from_secs(5));
        let error = session.execute("copy t from stdin", &deadline).unwrap_err();
        assert!(error.detail.contains("57014"), "{error:?}");
        session.close(&deadline);
        peer.done();
    }

    /// Each query is bounded by its own deadline, not the one the session was opened with
    /// (the lock of migrate-then-exec lives far longer than its connect deadline).
    #[test]
    fn a_query_is_bounded_by_its_own_deadline() {
        let (session, peer) = logged_in(vec![
            Step::Expect(b'Q', b"select pg_sleep(9)\0".to_vec()),
            Step::ExpectEof,
        ]);
        let started = std::time::Instant::now();
        let deadline = Deadline::start(Duration::from_millis(300));
        let error = session
            .first_value("select pg_sleep(9)", &deadline)
            .unwrap_err();
        assert!(error.detail.starts_with("timed out after"), "{error:?}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "took {:?}",
            started.elapsed()
        );
        drop(session);
        peer.done();
        // A deadline already gone: the query is not sent, and the session is intact (it
        // still ends with Terminate).
        let (session, peer) = logged_in(vec![Step::Expect(b'X', Vec::new())]);
        let gone = Deadline::start(Duration::ZERO);
        let error = session.first_value("select 1", &gone).unwrap_err();
        assert!(error.detail.starts_with("timed out after"), "{error:?}");
        drop(session);
        peer.done();
    }

    /// A session closed while a notice it never read waits in the socket: read first,
    /// so the close is a FIN, not the reset Linux sends for unread data (servers log
    /// resets as "connection reset by peer").
    #[test]
    fn closing_reads_what_is_left_so_the_server_sees_no_reset() {
        let (session, peer) = logged_in(vec![
            Step::Pause(Duration::from_millis(100)),
            backend(b'N', b"SNOTICE\0Mnot read\0\0"),
            Step::Expect(b'X', Vec::new()),
            Step::ExpectEof,
        ]);
        // Long enough for the notice to arrive, even on a loaded machine.
        std::thread::sleep(Duration::from_secs(1));
        session.close(&Deadline::start(Duration::from_secs(5)));
        peer.done();
    }

    /// An error after AuthenticationOk (an unknown database comes then) is the login's
    /// answer, not a lost connection.
    #[test]
    fn an_error_after_the_login_is_the_answer() {
        let deadline = Deadline::start(Duration::from_secs(5));
        let peer = fake(vec![
            backend(b'R', &0i32.to_be_bytes()),
            backend(
                b'E',
                b"SFATAL\0VFATAL\0C3D000\0Mdatabase \"db\" does not exist\0\0",
            ),
            Step::ExpectEof,
        ]);
        match server(peer.port, None).open(&deadline) {
            Err(Failure::Rejected(reason)) => assert_eq!(
                reason,
                "login failed for user u: database \"db\" does not exist (3D000)"
            ),
            other => panic!("{:?}", other.err()),
        }
        peer.done();
    }

    #[test]
    fn keep_alive_sets_idle_interval_count_and_user_timeout() {
        let (session, peer) = logged_in(vec![Step::Expect(b'X', Vec::new())]);
        session.keep_alive(Duration::from_secs(7)).unwrap();
        let fd = {
            let conn = session.conn.lock().unwrap();
            conn.as_ref().unwrap().stream.tcp_fd().unwrap()
        };
        let option = |level, name| {
            let mut value: libc::c_int = -1;
            let mut size = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            // SAFETY: getsockopt on the session's socket into an int of the given size.
            let done = unsafe {
                libc::getsockopt(
                    fd,
                    level,
                    name,
                    (&mut value as *mut libc::c_int).cast(),
                    &mut size,
                )
            };
            assert_eq!(done, 0);
            value
        };
        assert_eq!(option(libc::SOL_SOCKET, libc::SO_KEEPALIVE), 1);
        assert_eq!(option(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE), 7);
        assert_eq!(option(libc::IPPROTO_TCP, libc::TCP_KEEPINTVL), 1);
        assert_eq!(option(libc::IPPROTO_TCP, libc::TCP_KEEPCNT), 3);
        // Three lost probes after the idle time: (7 + 3) s.
        assert_eq!(option(libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT), 10_000);
        drop(session);
        peer.done();
    }

    #[test]
    fn huge_lengths_and_unknown_messages_are_not_postgres() {
        let deadline = Deadline::start(Duration::from_secs(5));
        let port = fake(vec![Step::Send(b"R\x7f\xff\xff\xff".to_vec())]).port;
        let Err(Failure::Down(outcome)) = server(port, None).open(&deadline) else {
            panic!("a 2 GB message was accepted");
        };
        assert!(
            outcome.detail.starts_with("not a PostgreSQL server?"),
            "{outcome:?}"
        );
        let port = fake(vec![Step::Send(b"HTTP/1.1 400 Bad Request\r\n".to_vec())]).port;
        let Err(Failure::Down(outcome)) = server(port, None).open(&deadline) else {
            panic!("HTTP was accepted");
        };
        assert_eq!(
            outcome.detail,
            "not a PostgreSQL server? unexpected reply during startup: \"HTTP/1.1 400 Bad\""
        );
        let port = fake(vec![backend(b'R', &[0, 0])]).port;
        assert!(matches!(
            server(port, None).open(&deadline),
            Err(Failure::Down(_))
        ));
    }
}
