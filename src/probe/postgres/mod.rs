//! `probe postgres [URL]`: pg_isready's job, plus logged-in checks. Replaces `pg_isready`,
//! `psql -c 'select 1'` and wait_for_db scripts.
//!
//! Credentials given means login required: with a password (URL, PGPASSWORD,
//! --password-file) every mode logs in, and a refused login is fatal.
//!
//! Without a password, default mode follows pg_isready's rule: the server is up when it
//! answers the startup handshake and does not refuse with 57P03 (starting up, shutting
//! down, in recovery); a refused login still means "up". When the server asks for a
//! password, the connection is dropped without sending one, which PostgreSQL does not log
//! (libpq and pg_isready rely on the same rule), so a health check every few seconds does
//! not fill the server log with failed logins.
//!
//! `--query`, `--primary` and `--replica` always log in.
//!
//! [`settings`] turns URLs, the environment and flags into [`Settings`]; [`session`]
//! opens deadline-bounded connections. Both are public for modes that need a connection
//! of their own: migrate-then-exec's advisory lock (`mode/migrate/lock.rs`) opens a
//! session, runs queries on it, keeps it alive and closes it. Nothing here knows of modes.

pub mod session;
pub mod settings;
mod spec;

pub use spec::{PostgresSettings, CHECK};

use crate::deadline::Deadline;
use crate::outcome::{usage, Outcome, UsageError};
use crate::probe::Probe;

pub use session::{Failure, Server, Session};
#[allow(unused_imports)] // the API other modes reuse
pub use settings::{connection_settings, Overrides, Settings};

/// Which kind of server `--primary` / `--replica` ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Primary,
    Replica,
}

/// The server and login that `probe postgres` arguments describe. Other modes that need a
/// connection of their own (migrate-then-exec's lock) build it the same way.
pub fn server_from_settings(
    args: &PostgresSettings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Server, UsageError> {
    let user = match (&args.username, &args.user) {
        (Some(a), Some(b)) if a != b => {
            return usage(format!(
                "the user is given twice: {a:?} with --username and {b:?} with --user"
            ))
        }
        (a, b) => a.clone().or_else(|| b.clone()),
    };
    if args.port == Some(0) {
        return usage("invalid --port 0 (1-65535)");
    }
    let overrides = Overrides {
        host: args.host.clone(),
        port: args.port,
        user,
        dbname: args.dbname.clone(),
        password_file: args.password_file.clone(),
        sslmode: args.sslmode.clone(),
        ca_file: args.tls_files.ca_file.clone(),
        cert: args.tls_files.cert.clone(),
        key: args.tls_files.key.clone(),
    };
    let settings = connection_settings(args.url.as_deref(), &overrides, env)?;
    Server::new(settings)
}

pub struct PostgresCheck {
    server: Server,
    query: Option<String>,
    expect: Option<String>,
    role: Option<Role>,
}

impl PostgresCheck {
    pub fn new(args: &PostgresSettings) -> Result<Self, UsageError> {
        Self::with_env(args, &crate::env::get)
    }

    fn with_env(
        args: &PostgresSettings,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, UsageError> {
        let role = match (args.primary, args.replica) {
            (true, true) => return usage("--primary and --replica exclude each other"),
            (true, false) => Some(Role::Primary),
            (false, true) => Some(Role::Replica),
            (false, false) => None,
        };
        Ok(PostgresCheck {
            server: server_from_settings(args, env)?,
            query: args.sql.query.clone(),
            expect: args.sql.expect.clone(),
            role,
        })
    }

    fn logs_in(&self) -> bool {
        self.query.is_some() || self.role.is_some()
    }

    /// Default mode: any answer but 57P03 means up, unless a password was given: then the
    /// login must succeed.
    fn ping(&self, deadline: &Deadline) -> Outcome {
        let user = &self.server.settings().user;
        match self.server.open(deadline) {
            Ok(session) => {
                session.close(deadline);
                Outcome::healthy(format!("accepting connections (logged in as {user})"))
            }
            Err(Failure::Down(outcome)) => outcome,
            Err(Failure::Rejected(reason)) if self.server.settings().password.is_some() => {
                Outcome::fatal(reason)
            }
            Err(Failure::Rejected(reason)) => Outcome::healthy(format!("up; {reason}")),
            Err(Failure::PasswordNeeded) => Outcome::healthy(format!(
                "up; asks user {user} for a password (none given, none sent)"
            )),
        }
    }

    /// `--query`, `--primary`, `--replica`: log in, then check.
    fn logged_in(&self, deadline: &Deadline) -> Outcome {
        let session = match self.server.connect(deadline) {
            Ok(session) => session,
            Err(outcome) => return outcome,
        };
        let outcome = self.role_then_query(&session, deadline);
        session.close(deadline);
        outcome
    }

    fn role_then_query(&self, session: &Session, deadline: &Deadline) -> Outcome {
        let mut found = Vec::new();
        if let Some(role) = self.role {
            let in_recovery = match session.first_value("select pg_is_in_recovery()", deadline) {
                Ok(Some(Some(value))) => value == "t",
                Ok(_) => return Outcome::unhealthy("pg_is_in_recovery() returned nothing"),
                Err(outcome) => return outcome,
            };
            match (role, in_recovery) {
                (Role::Primary, true) => {
                    return Outcome::unhealthy("server is a replica (in recovery), not the primary")
                }
                (Role::Replica, false) => {
                    return Outcome::unhealthy("server is the primary, not a replica")
                }
                (Role::Primary, false) => found.push("server is the primary".to_string()),
                (Role::Replica, true) => found.push("server is a replica".to_string()),
            }
        }
        if let Some(sql) = &self.query {
            let value = match session.first_value(sql, deadline) {
                Ok(Some(value)) => value.unwrap_or_else(|| "NULL".into()),
                Ok(None) => return Outcome::unhealthy("query returned no rows"),
                Err(outcome) => return outcome,
            };
            match &self.expect {
                Some(expected) if *expected != value => {
                    return Outcome::unhealthy(format!("expected {expected}, got {value}"))
                }
                _ => found.push(format!("query returned {value}")),
            }
        }
        Outcome::healthy(found.join("; "))
    }
}

impl Probe for PostgresCheck {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn target(&self) -> String {
        self.server.settings().display()
    }

    fn run(&self, deadline: &Deadline) -> Outcome {
        if self.logs_in() {
            self.logged_in(deadline)
        } else {
            self.ping(deadline)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Words;

    fn check(args: &[&str]) -> Result<PostgresCheck, UsageError> {
        let words = Words::parse(&CHECK.spec, args).unwrap();
        PostgresCheck::with_env(&PostgresSettings::from_words(&words)?, &|_| None)
    }

    #[test]
    fn flags_are_checked_before_anything_runs() {
        assert!(check(&["--primary", "--replica"]).is_err());
        assert!(check(&["--expect", "x"])
            .err()
            .unwrap()
            .0
            .contains("--query"));
        assert!(check(&["--query", " "]).is_err());
        assert!(check(&["--sslmode", "maybe"])
            .err()
            .unwrap()
            .0
            .contains("--sslmode"));
        assert!(check(&["--password-file", "/nonexistent/pw"]).is_err());
        assert!(check(&["postgres://db/", "--query", "select 1"]).is_ok());
    }

    #[test]
    fn pg_isready_flags_build_the_server_and_conflict_with_the_url() {
        let probe = check(&["-h", "db", "-p", "6543", "-U", "app", "-d", "shop"]).unwrap();
        assert_eq!(probe.target(), "postgres://app@db:6543/shop");
        let conflict = |args: &[&str]| check(args).err().unwrap().0;
        assert!(conflict(&["postgres://a@db/x", "-U", "b"]).contains("-U"));
        assert!(conflict(&["postgres://db:1/x", "-p", "2"]).contains("in the URL"));
        assert!(conflict(&["postgres://db/x", "-h", "other"]).contains("-h"));
        assert!(conflict(&["postgres://db/x", "-d", "y"]).contains("\"x\""));
        assert!(conflict(&["-U", "a", "--user", "b"]).contains("--user"));
        assert!(conflict(&["-p", "0"]).contains("--port"));
        // The same value twice is no conflict.
        assert!(check(&[
            "postgres://app@db:5432/x",
            "-h",
            "db",
            "-p",
            "5432",
            "-U",
            "app"
        ])
        .is_ok());
    }

    #[test]
    fn the_target_shows_user_host_and_database_without_password() {
        let probe = check(&["postgres://app:hunter2@db:6543/shop"]).unwrap();
        assert_eq!(probe.target(), "postgres://app@db:6543/shop");
    }
}
