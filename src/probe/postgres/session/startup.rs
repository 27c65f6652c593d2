//! Opening a session, in the order the protocol starts: connect (TCP or Unix socket), the
//! SSLRequest and the TLS handshake as the sslmode says (libpq's disable / allow / prefer /
//! require / verify-ca / verify-full), the startup message, the login ([`super::login`]),
//! then the server's parameters and BackendKeyData up to ReadyForQuery.
//!
//! Apart because this is where "down" is told from "up but refused" ([`Failure`]), which
//! pg_isready's rule needs, and where libpq's connection rules live: sslmode=allow retrying
//! a refused plain login over TLS, prefer retrying a failed handshake in plain text, and
//! nothing read past the answer to the SSLRequest (CVE-2021-23222).

#[cfg(feature = "tls")]
use std::io;
use std::sync::Mutex;
use std::time::Duration;

use super::message::{startup_message, DbError, Fields};
use super::verdict::classify_startup;
#[cfg(feature = "tls")]
use super::verdict::garbage;
use super::{Conn, Session, STARTUP};
use crate::deadline::Deadline;
use crate::outcome::{Outcome, UsageError};
use crate::probe::postgres::settings::{Host, Settings, SslMode};
use crate::stream::Stream;

#[cfg_attr(not(feature = "tls"), allow(dead_code))]
pub(super) const SSL_REQUEST: u32 = 80_877_103;

/// What the server may send after AuthenticationOk, up to ReadyForQuery.
const AFTER_LOGIN_TAGS: &[u8] = b"ENSKZ";

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

impl Conn {
    /// The startup message, the login the server asks for ([`Conn::authenticate`]), then
    /// its parameters up to ReadyForQuery.
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
        self.authenticate(settings, deadline)?;

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

    pub(super) fn startup_error(
        &mut self,
        body: &[u8],
        settings: &Settings,
        scram: bool,
    ) -> Failure {
        match DbError::parse(body) {
            Some(error) => classify_startup(&error, settings, scram),
            None => self.malformed(STARTUP).into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

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
}
