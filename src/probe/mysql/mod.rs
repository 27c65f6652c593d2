//! `probe mysql [URL]`: MySQL and MariaDB readiness, the way `mysqladmin ping` meant it.
//!
//! Default mode: healthy when the server greets and either accepts the login (then
//! COM_PING answers: no statement runs, no statistics move) or refuses it for want of the
//! right credentials while none were supplied (1045 and kin: the server is up, as
//! mysqladmin ping says). A supplied password that is refused is fatal (the credentials
//! rule). Too many connections (1040), host blocked (1129), shutting down (1053) and a
//! greeting that is an error packet are unhealthy with the server's text. `--query` logs in
//! and checks the first column of the first row.
//!
//! The protocol is spoken directly, as for PostgreSQL and Redis: packet framing and parsing
//! in [`packet`] (pure functions over bytes), the auth plugins in [`auth`], the
//! conversation in [`session`] over any `Read + Write`; [`MysqlCheck::open`] is the one
//! place that touches sockets (resolve, connect, TLS after the SSLRequest), arming the
//! socket timeouts from the deadline before every read and write.

mod auth;
pub mod packet;
mod session;
mod spec;
mod url;

pub use spec::{MysqlSettings, CHECK};

use std::time::Duration;

use crate::deadline::Deadline;
use crate::outcome::{usage, Outcome, UsageError};
use crate::probe::Probe;
use crate::redact;
use crate::stream::Stream;

use self::packet::{First, Greeting, ServerError};
use self::session::{LoginError, Session};
use self::url::Endpoint;

const DEFAULT_URL: &str = "mysql://localhost:3306";
/// mysql clients default to the login name; in a container that is root.
const DEFAULT_USER: &str = "root";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SslMode {
    Disabled,
    Preferred,
    Required,
    VerifyCa,
    VerifyIdentity,
}

impl SslMode {
    fn parse(text: &str) -> Result<Self, UsageError> {
        Ok(match text.to_ascii_uppercase().replace('-', "_").as_str() {
            "DISABLED" => SslMode::Disabled,
            "PREFERRED" => SslMode::Preferred,
            "REQUIRED" => SslMode::Required,
            "VERIFY_CA" => SslMode::VerifyCa,
            "VERIFY_IDENTITY" => SslMode::VerifyIdentity,
            _ => {
                return usage(format!(
                    "invalid ssl-mode {text:?} (DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY)"
                ))
            }
        })
    }
}

pub struct MysqlCheck {
    endpoint: Endpoint,
    shown: String,
    user: String,
    password: Option<String>,
    db: Option<String>,
    ssl_mode: SslMode,
    query: Option<String>,
    expect: Option<String>,
    #[cfg(feature = "tls")]
    tls: std::sync::Arc<rustls::ClientConfig>,
}

impl MysqlCheck {
    pub fn new(args: &MysqlSettings) -> Result<Self, UsageError> {
        Self::with_env(args, &crate::env::get)
    }

    fn with_env(
        args: &MysqlSettings,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, UsageError> {
        let env_password = env("MYSQL_PWD").filter(|pw| !pw.is_empty());
        if let Some(password) = &env_password {
            redact::register(password);
        }
        let text =
            match (&args.url, location_flags(args)?) {
                (Some(_), Some(_)) => return usage(
                    "the server is given twice: as a URL and with -h/-P/-S/--protocol; give one",
                ),
                (Some(url), None) => url.clone(),
                (None, Some(from_flags)) => from_flags,
                (None, None) => DEFAULT_URL.to_string(),
            };
        let url = url::parse(text.trim())?;
        let user = match (&url.user, &args.user) {
            (Some(in_url), Some(flag)) if in_url != flag => {
                return usage(format!(
                    "the user is given twice: {in_url:?} in the URL and {flag:?} with --user"
                ))
            }
            (in_url, flag) => in_url
                .clone()
                .or_else(|| flag.clone())
                .unwrap_or_else(|| DEFAULT_USER.into()),
        };
        if user.contains('\0') {
            return usage("the user contains a NUL byte");
        }
        let given = [
            url.password.as_ref().map(|pw| ("in the URL", pw.clone())),
            args.password.as_ref().map(|pw| ("with -p", pw.clone())),
            match &args.password_file {
                Some(path) => Some(("with --password-file", redact::read_password_file(path)?)),
                None => None,
            },
        ];
        let mut given = given.into_iter().flatten();
        let password = match (given.next(), given.next()) {
            (Some((first, _)), Some((second, _))) => {
                return usage(format!("the password is given twice: {first} and {second}"))
            }
            (Some((_, password)), None) => Some(password),
            (None, _) => env_password,
        };
        let ssl_mode = match (&url.ssl_mode, &args.ssl_mode) {
            (Some(_), Some(_)) => {
                return usage("ssl-mode is given twice: in the URL and with --ssl-mode")
            }
            (Some(mode), None) | (None, Some(mode)) => SslMode::parse(mode)?,
            (None, None) => SslMode::Preferred,
        };
        #[cfg(not(feature = "tls"))]
        if !matches!(ssl_mode, SslMode::Disabled | SslMode::Preferred) || args.tls_files.any() {
            return usage(
                "TLS options need the \"tls\" feature, and this probe binary was built without it",
            );
        }
        Ok(MysqlCheck {
            #[cfg(feature = "tls")]
            tls: std::sync::Arc::new(tls_config(ssl_mode, args)?),
            endpoint: url.endpoint,
            shown: url.shown,
            user,
            password,
            db: url.db,
            ssl_mode,
            query: args.sql.query.clone(),
            expect: args.sql.expect.clone(),
        })
    }

    /// The one function that touches the network: connect (TCP or Unix socket), read the
    /// greeting, and upgrade to TLS after an SSLRequest when the ssl-mode says so. Returns
    /// the stream, the greeting, the next sequence id and whether TLS is on.
    fn open(&self, deadline: &Deadline) -> Result<(Stream, Greeting, u8, bool), Outcome> {
        let mut budget = session::BUDGET;
        // The shared I/O layer (`crate::stream`) bounds every step by the deadline.
        let (mut stream, host) = match &self.endpoint {
            Endpoint::Tcp { host, port } => (Stream::tcp(host, *port, deadline)?, Some(host)),
            Endpoint::Unix(path) => (Stream::unix(path, deadline)?, None),
        };
        let greeting = match session::read_greeting(&mut stream, &mut budget, deadline)? {
            First::Greeting(greeting) => greeting,
            First::Error(error) => return Err(greeting_error(&error)),
        };
        let offers_tls = greeting.capabilities & packet::CLIENT_SSL != 0;
        let wants_tls = host.is_some() && self.ssl_mode != SslMode::Disabled;
        if !wants_tls || (!offers_tls && self.ssl_mode == SslMode::Preferred) {
            return Ok((stream, greeting, 1, false));
        }
        if !offers_tls {
            return Err(Outcome::fatal(format!(
                "TLS: server does not support TLS (ssl-mode {:?})",
                self.ssl_mode
            )));
        }
        #[cfg(feature = "tls")]
        {
            let capabilities =
                packet::client_capabilities(greeting.capabilities, self.db.is_some(), true);
            packet::write_packet(&mut stream, 1, &packet::ssl_request(capabilities))
                .map_err(|error| crate::stream::failure(error, deadline, TLS_HANDSHAKE))?;
            let host = host.map_or("", String::as_str);
            let name = rustls::pki_types::ServerName::try_from(host.to_string())
                .map_err(|_| Outcome::fatal(format!("TLS: {host:?} is not a valid server name")))?;
            let stream = stream.into_tls(self.tls.clone(), name, deadline)?;
            Ok((stream, greeting, 2, true))
        }
        #[cfg(not(feature = "tls"))]
        Ok((stream, greeting, 1, false))
    }

    fn converse(&self, session: &mut Session<Stream>, greeting: &Greeting, tls: bool) -> Outcome {
        let server = server_name(&greeting.version);
        let login = session::Login {
            user: &self.user,
            password: self.password.as_deref(),
            db: self.db.as_deref(),
            secure: tls || matches!(self.endpoint, Endpoint::Unix(_)),
            tls,
        };
        match session.login(greeting, &login) {
            Ok(()) => {}
            Err(LoginError::Down(outcome)) => return outcome,
            Err(LoginError::Server(error)) => {
                return self.login_refused(&error, &server);
            }
            Err(LoginError::Unspoken(reason))
                if self.password.is_none() && self.query.is_none() =>
            {
                return Outcome::healthy(format!("{server} is up; {reason}"))
            }
            Err(LoginError::Unspoken(reason)) => return Outcome::fatal(reason),
        }
        let Some(sql) = &self.query else {
            return match session.ping() {
                Ok(Ok(())) => Outcome::healthy(format!(
                    "{server} is alive (logged in as {}, ping answered)",
                    self.user
                )),
                Ok(Err(error)) => {
                    Outcome::unhealthy(format!("COM_PING failed: {}", described(&error)))
                }
                Err(outcome) => outcome,
            };
        };
        let value = match session.first_value(sql) {
            Ok(Ok(Some(value))) => value.unwrap_or_else(|| "NULL".into()),
            Ok(Ok(None)) => return Outcome::unhealthy("query returned no rows"),
            Ok(Err(error)) => return query_failed(&error),
            Err(outcome) => return outcome,
        };
        match &self.expect {
            Some(expected) if *expected != value => {
                Outcome::unhealthy(format!("expected {expected}, got {value}"))
            }
            _ => Outcome::healthy(format!("query returned {value}")),
        }
    }

    /// An error packet in answer to the login.
    fn login_refused(&self, error: &ServerError, server: &str) -> Outcome {
        let reason = described(error);
        match error.code {
            // Access denied (with or without a password), to the database, unknown
            // database, password expired, account locked, unsupported auth protocol.
            1044 | 1045 | 1049 | 1251 | 1698 | 1820 | 1862 | 3118 | 4151 | 1130 => {
                if self.password.is_none() && self.query.is_none() {
                    Outcome::healthy(format!(
                        "{server} is up; login refused without a password: {reason}"
                    ))
                } else if self.password.is_none() {
                    Outcome::fatal(format!(
                        "login failed for user {}: {reason}; no password was given (URL, MYSQL_PWD or --password-file)",
                        self.user
                    ))
                } else {
                    Outcome::fatal(format!("login failed for user {}: {reason}", self.user))
                }
            }
            _ => server_error(error),
        }
    }
}

impl Probe for MysqlCheck {
    fn kind(&self) -> &'static str {
        "mysql"
    }

    fn target(&self) -> String {
        self.shown.clone()
    }

    fn run(&self, deadline: &Deadline) -> Outcome {
        let (stream, greeting, seq, tls) = match self.open(deadline) {
            Ok(opened) => opened,
            Err(outcome) => return outcome,
        };
        let mut session = Session::new(stream, seq, session::BUDGET, *deadline);
        let outcome = self.converse(&mut session, &greeting, tls);
        session.quit();
        let broken = session.broken;
        let mut stream = session.into_inner();
        // Quickly: the verdict is known.
        stream.set_deadline(Deadline::start(Duration::from_millis(100)));
        stream.close(!broken);
        outcome
    }
}

/// "5.5.5-10.11.6-MariaDB-0+deb12u1" → "MariaDB 10.11.6-MariaDB-0+deb12u1"; "8.0.36" →
/// "MySQL 8.0.36". MariaDB prefixes 5.5.5- for old replication clients.
fn server_name(version: &str) -> String {
    let version = version.strip_prefix("5.5.5-").unwrap_or(version);
    let version: String = version.chars().take(60).collect();
    if version.to_ascii_lowercase().contains("mariadb") {
        format!("MariaDB {version}")
    } else {
        format!("MySQL {version}")
    }
}

/// "Too many connections (1040)".
fn described(error: &ServerError) -> String {
    let message = error.message.trim_end_matches('.');
    format!("{message} ({})", error.code)
}

/// Error codes that time can fix: the server is busy, full, starting or stopping.
fn retryable(code: u16) -> bool {
    matches!(
        code,
        1040 // too many connections
            | 1129 // host blocked by connection errors (until FLUSH HOSTS or a restart)
            | 1053 // server shutdown in progress
            | 1077 | 1079 // normal shutdown, shutdown complete
            | 1152
            ..=1161 // aborted connection, network errors
            | 1203 | 1226 // per-user connection limits
            | 1205 | 1213 // lock wait timeout, deadlock
            | 1927 // connection killed (MariaDB)
            | 3032 // server in offline mode
            | 1146 | 1054 | 1305 | 1049 // table, column, function, database missing: a migration may be running
            | 2013 | 1317 | 3024 | 1969 // lost during query, interrupted, query timeouts
    )
}

/// An error packet instead of a greeting. 1130 (host not allowed) is a grant that time
/// does not change.
fn greeting_error(error: &ServerError) -> Outcome {
    let reason = format!("server refused the connection: {}", described(error));
    match error.code {
        1130 => Outcome::fatal(reason),
        _ => Outcome::unhealthy(reason),
    }
}

fn server_error(error: &ServerError) -> Outcome {
    if retryable(error.code) {
        Outcome::unhealthy(described(error))
    } else {
        Outcome::fatal(described(error))
    }
}

fn query_failed(error: &ServerError) -> Outcome {
    let reason = format!("query failed: {}", described(error));
    if retryable(error.code) {
        Outcome::unhealthy(reason)
    } else {
        Outcome::fatal(reason)
    }
}

/// mysqladmin's `-h`, `-P`, `-S` and `--protocol` as a URL, when any is given. `-h`
/// without a socket flag is TCP, whatever the name (mysqladmin would take `localhost` to
/// mean its socket): say `-S` or `--protocol socket` for that.
fn location_flags(args: &MysqlSettings) -> Result<Option<String>, UsageError> {
    if args.host.is_none()
        && args.port.is_none()
        && args.socket.is_none()
        && args.protocol.is_none()
    {
        return Ok(None);
    }
    let socket = match args
        .protocol
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None => args.socket.is_some(),
        Some("tcp") => false,
        Some("socket") => true,
        Some(other) => return usage(format!("invalid --protocol {other:?} (tcp or socket)")),
    };
    if socket {
        if args.host.is_some() || args.port.is_some() {
            return usage("-h and -P are for TCP, and -S/--protocol socket asks for the socket");
        }
        let path = args
            .socket
            .clone()
            .unwrap_or_else(|| "/run/mysqld/mysqld.sock".into());
        return Ok(Some(format!("mysql+unix://{}", path.display())));
    }
    if args.socket.is_some() {
        return usage("-S is a socket, and --protocol tcp asks for TCP");
    }
    if args.port == Some(0) {
        return usage("invalid -P 0 (1-65535)");
    }
    let host = args.host.as_deref().unwrap_or("localhost");
    if host.is_empty() || host.contains(['/', '@', '?', '#']) {
        return usage(format!("invalid -h {host:?}"));
    }
    let host = match host.contains(':') {
        true => format!("[{host}]"),
        false => host.to_string(),
    };
    let port = args.port.unwrap_or(url::DEFAULT_PORT);
    Ok(Some(format!("mysql://{host}:{port}")))
}

#[cfg(feature = "tls")]
const TLS_HANDSHAKE: &str = "during TLS handshake";

/// What to verify, as the mysql client means the ssl-modes; a `--ca-file` makes PREFERRED
/// and REQUIRED verify the chain too (the mysql client's rule for --ssl-ca).
#[cfg(feature = "tls")]
fn tls_config(mode: SslMode, args: &MysqlSettings) -> Result<rustls::ClientConfig, UsageError> {
    use crate::tls::{self, Roots, Verify};
    let identity = tls::load_identity(
        args.tls_files.cert.as_deref(),
        args.tls_files.key.as_deref(),
    )?;
    let custom_ca = args.tls_files.ca_file.is_some();
    let (roots, verify) = match mode {
        SslMode::Disabled => (Roots::Custom(Vec::new()), Verify::Nothing),
        SslMode::Preferred | SslMode::Required if custom_ca => (
            tls::load_roots(args.tls_files.ca_file.as_deref())?,
            Verify::ChainOnly,
        ),
        SslMode::Preferred | SslMode::Required => (Roots::Custom(Vec::new()), Verify::Nothing),
        SslMode::VerifyCa => (
            tls::load_roots(args.tls_files.ca_file.as_deref())?,
            Verify::ChainOnly,
        ),
        SslMode::VerifyIdentity => (
            tls::load_roots(args.tls_files.ca_file.as_deref())?,
            Verify::Full,
        ),
    };
    tls::client_config(&roots, verify, identity.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Words;

    fn check(args: &[&str], env: &[(&str, &str)]) -> Result<MysqlCheck, UsageError> {
        let words = Words::parse(&CHECK.spec, args).unwrap();
        let args = MysqlSettings::from_words(&words)?;
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        MysqlCheck::with_env(&args, &move |name| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn settings_from_url_flags_and_env() {
        let plain = check(&[], &[]).unwrap();
        assert_eq!(plain.user, "root");
        assert_eq!(plain.password, None);
        assert_eq!(plain.ssl_mode, SslMode::Preferred);
        let env = check(
            &["mysql://app@db/shop", "--ssl-mode", "required"],
            &[("MYSQL_PWD", "envpw")],
        )
        .unwrap();
        assert_eq!(
            (env.user.as_str(), env.password.as_deref()),
            ("app", Some("envpw"))
        );
        assert_eq!(env.ssl_mode, SslMode::Required);
        assert_eq!(env.db.as_deref(), Some("shop"));
        let url = check(
            &["mysql://app:urlpw@db?ssl-mode=DISABLED"],
            &[("MYSQL_PWD", "envpw")],
        )
        .unwrap();
        assert_eq!(url.password.as_deref(), Some("urlpw"));
        assert_eq!(url.ssl_mode, SslMode::Disabled);
    }

    #[test]
    fn bad_settings_are_usage_errors() {
        assert!(check(&["mysql://db", "--ssl-mode", "sometimes"], &[]).is_err());
        assert!(check(&["mysql://a@db", "--user", "b"], &[]).is_err());
        assert!(check(&["mysql://db", "--expect", "1"], &[]).is_err());
        assert!(check(
            &["mysql://db?ssl-mode=REQUIRED", "--ssl-mode", "REQUIRED"],
            &[]
        )
        .is_err());
    }

    #[test]
    fn verdicts() {
        let error = |code, message: &str| ServerError {
            code,
            state: None,
            message: message.into(),
        };
        let outcome = greeting_error(&error(1040, "Too many connections"));
        assert!(!outcome.is_healthy() && !outcome.is_fatal());
        assert_eq!(
            outcome.detail,
            "server refused the connection: Too many connections (1040)"
        );
        assert!(greeting_error(&error(1130, "Host 'x' is not allowed")).is_fatal());
        let anonymous = check(&[], &[]).unwrap();
        let up =
            anonymous.login_refused(&error(1045, "Access denied for user 'root'@'x'"), "MySQL 8");
        assert!(up.is_healthy(), "{up:?}");
        let with_password = check(&["mysql://u:pw@db"], &[]).unwrap();
        assert!(with_password
            .login_refused(&error(1045, "Access denied"), "MySQL 8")
            .is_fatal());
        let shutting =
            anonymous.login_refused(&error(1053, "Server shutdown in progress"), "MySQL 8");
        assert!(!shutting.is_healthy() && !shutting.is_fatal());
        assert!(query_failed(&error(1064, "syntax")).is_fatal());
        assert!(!query_failed(&error(1146, "no table")).is_fatal());
        assert_eq!(
            server_name("5.5.5-10.11.6-MariaDB"),
            "MariaDB 10.11.6-MariaDB"
        );
        assert_eq!(server_name("8.0.36"), "MySQL 8.0.36");
    }
}
