//! A PostgreSQL connection bounded by a [`Deadline`]: resolve, connect, TLS, startup and
//! every query, each step given only the time that is left.
//!
//! tokio-postgres runs on a current-thread runtime owned by the [`Session`]. Its own
//! `connect_timeout` only covers the TCP connect, so a peer that accepts and never answers
//! would hang it: here the whole handshake runs under `tokio::time::timeout`, and dropping
//! the future closes the socket, so an abandoned attempt leaves nothing behind. The TCP
//! connect itself uses [`net`], so reasons match every other check ("connection refused
//! (127.0.0.1:5432)").
//!
//! Closing sends Terminate, so the server logs nothing and keeps no backend around.

use std::error::Error as _;
use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;
use tokio_postgres::{Client, SimpleQueryMessage};

use super::settings::{Host, Settings, SslMode};
use crate::deadline::Deadline;
use crate::net;
use crate::outcome::{Outcome, UsageError};

/// How long closing may take when a session is dropped without [`Session::close`].
const CLOSE_GRACE: Duration = Duration::from_millis(250);

/// Settings checked and TLS prepared: ready to connect any number of times.
pub struct Server {
    settings: Settings,
    #[cfg(feature = "tls")]
    tls: rustls::ClientConfig,
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

impl Server {
    /// Loads what TLS needs (CA file, client identity) now, so that a bad file is a
    /// usage error before anything is probed.
    pub fn new(settings: Settings) -> Result<Self, UsageError> {
        #[cfg(feature = "tls")]
        let tls = tls_config(&settings)?;
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
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| {
                Failure::Down(Outcome::unhealthy(format!(
                    "cannot start the I/O runtime: {}",
                    net::io_reason(&error)
                )))
            })?;
        let connect_deadline = match self.settings.connect_timeout {
            Some(cap) => deadline.capped(cap),
            None => *deadline,
        };
        let config = self.client_config();
        let (client, connection) = match &self.settings.host {
            Host::Tcp(host) => {
                let addrs = net::resolve(host, self.settings.port, &connect_deadline)
                    .map_err(Failure::Down)?;
                let stream = net::connect(&addrs, &connect_deadline).map_err(Failure::Down)?;
                let _ = stream.set_nodelay(true);
                let stream = {
                    let _entered = runtime.enter();
                    stream
                        .set_nonblocking(true)
                        .and_then(|()| tokio::net::TcpStream::from_std(stream))
                        .map_err(|error| {
                            Failure::Down(Outcome::unhealthy(net::io_reason(&error)))
                        })?
                };
                self.handshake(&runtime, &config, stream, host, &connect_deadline)?
            }
            Host::Unix(_) => {
                let path = self.settings.socket_path().unwrap_or_default();
                let stream = std::os::unix::net::UnixStream::connect(&path).map_err(|error| {
                    Failure::Down(Outcome::unhealthy(format!(
                        "{} ({})",
                        net::io_reason(&error),
                        path.display()
                    )))
                })?;
                let stream = {
                    let _entered = runtime.enter();
                    stream
                        .set_nonblocking(true)
                        .and_then(|()| tokio::net::UnixStream::from_std(stream))
                        .map_err(|error| {
                            Failure::Down(Outcome::unhealthy(net::io_reason(&error)))
                        })?
                };
                self.handshake(&runtime, &config, stream, "localhost", &connect_deadline)?
            }
        };
        Ok(Session {
            runtime,
            client: Some(client),
            connection: Some(connection),
        })
    }

    fn client_config(&self) -> tokio_postgres::Config {
        let settings = &self.settings;
        let mut config = tokio_postgres::Config::new();
        config.user(&settings.user);
        config.application_name(&settings.application_name);
        if let Some(password) = &settings.password {
            config.password(password);
        }
        if let Some(dbname) = &settings.dbname {
            config.dbname(dbname);
        }
        // The server never offers TLS on a Unix socket; libpq does not ask there either.
        let unix = matches!(settings.host, Host::Unix(_));
        config.ssl_mode(match settings.sslmode {
            _ if unix => tokio_postgres::config::SslMode::Disable,
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                tokio_postgres::config::SslMode::Require
            }
        });
        config
    }

    /// TLS negotiation, startup and login, bounded by the deadline.
    fn handshake<S>(
        &self,
        runtime: &Runtime,
        config: &tokio_postgres::Config,
        stream: S,
        server_name: &str,
        deadline: &Deadline,
    ) -> Result<(Client, JoinHandle<Result<(), tokio_postgres::Error>>), Failure>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        #[cfg(feature = "tls")]
        let tls = self.tls_connect::<S>(server_name);
        #[cfg(not(feature = "tls"))]
        let tls = {
            let _ = server_name;
            tokio_postgres::NoTls
        };
        let remaining = deadline
            .remaining()
            .ok_or_else(|| Failure::Down(deadline.timed_out("before startup")))?;
        let startup = runtime.block_on(async {
            tokio::time::timeout(remaining, config.connect_raw(stream, tls)).await
        });
        match startup {
            Ok(Ok((client, connection))) => Ok((client, runtime.spawn(connection))),
            Ok(Err(error)) => Err(classify_startup(&error, &self.settings)),
            Err(_) => Err(Failure::Down(deadline.timed_out(self.startup_phase()))),
        }
    }

    fn startup_phase(&self) -> &'static str {
        match (&self.settings.host, self.settings.sslmode) {
            (Host::Tcp(_), SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull) => {
                "during TLS handshake or startup"
            }
            _ => "during startup",
        }
    }

    #[cfg(feature = "tls")]
    fn tls_connect<S>(
        &self,
        server_name: &str,
    ) -> impl tokio_postgres::tls::TlsConnect<S, Stream: Send + 'static> + 'static
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        use tokio_postgres::tls::MakeTlsConnect;
        let mut make = tokio_postgres_rustls::MakeRustlsConnect::new(self.tls.clone());
        match MakeTlsConnect::<S>::make_tls_connect(&mut make, server_name) {
            Ok(connect) => connect,
            Err(never) => match never {},
        }
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
    runtime: Runtime,
    client: Option<Client>,
    connection: Option<JoinHandle<Result<(), tokio_postgres::Error>>>,
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
        let messages = self.simple_query(sql, deadline)?;
        Ok(messages.iter().find_map(|message| match message {
            SimpleQueryMessage::Row(row) => Some(row.get(0).map(str::to_string)),
            _ => None,
        }))
    }

    /// Runs `sql` for its effect (`select pg_advisory_lock(1)`), within the deadline.
    #[allow(dead_code)] // for migrate-then-exec's advisory lock
    pub fn execute(&self, sql: &str, deadline: &Deadline) -> Result<(), Outcome> {
        self.simple_query(sql, deadline).map(drop)
    }

    fn simple_query(
        &self,
        sql: &str,
        deadline: &Deadline,
    ) -> Result<Vec<SimpleQueryMessage>, Outcome> {
        let client = self.client.as_ref().expect("client is present until close");
        let remaining = deadline
            .remaining()
            .ok_or_else(|| deadline.timed_out("before the query"))?;
        match self
            .runtime
            .block_on(async { tokio::time::timeout(remaining, client.simple_query(sql)).await })
        {
            Ok(Ok(messages)) => Ok(messages),
            Ok(Err(error)) => Err(classify_query(&error)),
            Err(_) => Err(deadline.timed_out("during the query")),
        }
    }

    /// Sends Terminate and waits (within the deadline) for the connection to end.
    pub fn close(mut self, deadline: &Deadline) {
        let grace = deadline
            .remaining()
            .unwrap_or(Duration::from_millis(1))
            .min(CLOSE_GRACE);
        self.shut(grace);
    }

    fn shut(&mut self, grace: Duration) {
        drop(self.client.take());
        if let Some(connection) = self.connection.take() {
            let _ = self
                .runtime
                .block_on(async { tokio::time::timeout(grace, connection).await });
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.shut(CLOSE_GRACE);
    }
}

/// SQLSTATEs that time can fix, wherever they come.
fn retryable_code(code: &str) -> bool {
    matches!(
        code,
        "57P03" // cannot connect now: starting up, shutting down, recovery
            | "53300" // too many connections
            | "57P01" // admin shutdown
            | "57P02" // crash shutdown
            | "57014" // query canceled (statement_timeout)
            | "40001" // serialization failure
            | "40P01" // deadlock detected
            | "55P03" // lock not available
            | "53000" | "53100" | "53200" // insufficient resources
    ) || code.starts_with("08")
}

/// The reason for a 57P03: what the server said, in a few words.
fn cannot_connect_now(message: &str) -> String {
    let state = if message.contains("starting up") {
        "server is starting up"
    } else if message.contains("shutting down") {
        "server is shutting down"
    } else if message.contains("recovery") {
        "server is in recovery"
    } else {
        "server is not accepting connections yet"
    };
    format!("{state} (57P03)")
}

/// `password authentication failed for user "app"` → `password authentication failed`:
/// the reason names the user once.
fn without_user(message: &str, user: &str) -> String {
    let suffix = format!(" for user \"{user}\"");
    message.strip_suffix(&suffix).unwrap_or(message).to_string()
}

fn classify_startup(error: &tokio_postgres::Error, settings: &Settings) -> Failure {
    if let Some(db) = error.as_db_error() {
        let code = db.code().code();
        let message = db.message();
        return match code {
            "57P03" => Failure::Down(Outcome::unhealthy(cannot_connect_now(message))),
            "53300" => Failure::Down(Outcome::unhealthy(format!(
                "too many connections: {message} (53300)"
            ))),
            _ if retryable_code(code) => {
                Failure::Down(Outcome::unhealthy(format!("{message} ({code})")))
            }
            _ if code.starts_with("28") || code == "3D000" => Failure::Rejected(format!(
                "login failed for user {}: {} ({code})",
                settings.user,
                without_user(message, &settings.user)
            )),
            _ => Failure::Rejected(format!(
                "the server refused the connection: {message} ({code})"
            )),
        };
    }
    // tokio-postgres gives up before sending anything when a password is asked for and
    // none is configured; its error kind is not public, only this text.
    if error
        .source()
        .is_some_and(|cause| cause.to_string() == "password missing")
    {
        return Failure::PasswordNeeded;
    }
    Failure::Down(describe_error(error, "during startup"))
}

fn classify_query(error: &tokio_postgres::Error) -> Outcome {
    if let Some(db) = error.as_db_error() {
        let code = db.code().code();
        let reason = format!("query failed: {} ({code})", db.message());
        // A table, schema or function that does not exist yet may be created by a
        // migration that is still running: worth waiting for.
        let not_yet = matches!(code, "42P01" | "3F000" | "42703" | "42883");
        return if retryable_code(code) || not_yet {
            Outcome::unhealthy(reason)
        } else {
            Outcome::fatal(reason)
        };
    }
    describe_error(error, "during the query")
}

/// A non-database error as a short reason: the TLS cause, the I/O cause, or what the
/// peer did wrong.
fn describe_error(error: &tokio_postgres::Error, phase: &str) -> Outcome {
    #[cfg(feature = "tls")]
    if let Some(cause) = crate::tls::rustls_cause(error) {
        return crate::tls::describe(cause);
    }
    if error.is_closed() {
        return Outcome::unhealthy(format!("connection closed by the server {phase}"));
    }
    let text = error.to_string();
    if let Some(io) = io_cause(error) {
        return match io.kind() {
            io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => {
                Outcome::unhealthy(format!(
                    "not a PostgreSQL server? invalid reply {phase} ({})",
                    net::lowercase_first(&io.to_string())
                ))
            }
            io::ErrorKind::UnexpectedEof => {
                Outcome::unhealthy(format!("connection closed by the server {phase}"))
            }
            _ => Outcome::unhealthy(format!("{} {phase}", net::io_reason(io))),
        };
    }
    if text == "unexpected message from server" {
        return Outcome::unhealthy(format!("not a PostgreSQL server? unexpected reply {phase}"));
    }
    let cause = error.source().map(|source| source.to_string());
    if text == "error performing TLS handshake" {
        // Not a certificate problem: "server does not support TLS" and the like.
        return Outcome::fatal(format!(
            "TLS: {}",
            cause.unwrap_or_else(|| "handshake failed".into())
        ));
    }
    Outcome::unhealthy(match cause {
        Some(cause) => format!("{text}: {cause}"),
        None => text,
    })
}

fn io_cause<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a io::Error> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(io) = error.downcast_ref::<io::Error>() {
            return Some(io);
        }
        current = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cannot_connect_now_names_the_state() {
        assert_eq!(
            cannot_connect_now("the database system is starting up"),
            "server is starting up (57P03)"
        );
        assert_eq!(
            cannot_connect_now("the database system is shutting down"),
            "server is shutting down (57P03)"
        );
        assert_eq!(
            cannot_connect_now("the database system is not yet accepting connections"),
            "server is not accepting connections yet (57P03)"
        );
    }

    #[test]
    fn reasons_name_the_user_once() {
        assert_eq!(
            without_user("password authentication failed for user \"app\"", "app"),
            "password authentication failed"
        );
        assert_eq!(
            without_user("role \"x\" does not exist", "x"),
            "role \"x\" does not exist"
        );
    }

    #[test]
    fn time_fixes_some_sqlstates() {
        for code in ["57P03", "53300", "08006", "40001"] {
            assert!(retryable_code(code), "{code}");
        }
        for code in ["28P01", "3D000", "42601"] {
            assert!(!retryable_code(code), "{code}");
        }
    }
}
