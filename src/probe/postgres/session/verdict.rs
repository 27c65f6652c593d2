//! What a failure means: I/O errors and server error responses as outcomes, telling "not
//! yet" (starting up, too many connections, a missing relation) from "never" (a refused
//! login, an unknown database, bad SQL).

use std::io;

use super::message::DbError;
use super::Failure;
use crate::deadline::Deadline;
use crate::outcome::Outcome;
use crate::probe::postgres::settings::Settings;

/// An I/O error as a verdict: TLS problems through `tls::describe` (certificate problems
/// are fatal), timeouts as the deadline's, the rest as short network reasons.
pub(super) fn io_failure(error: io::Error, deadline: &Deadline, phase: &str) -> Outcome {
    #[cfg(feature = "tls")]
    if let Some(tls) = crate::tls::rustls_cause(&error) {
        return crate::tls::describe(tls);
    }
    match error.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => deadline.timed_out(phase),
        io::ErrorKind::UnexpectedEof => {
            Outcome::unhealthy(format!("connection closed by the server {phase}"))
        }
        _ => Outcome::unhealthy(format!("{} {phase}", crate::outcome::io_reason(&error))),
    }
}

/// The peer sent a message type PostgreSQL does not send here: quote the start of it.
pub(super) fn garbage(bytes: &[u8], phase: &str) -> Outcome {
    let shown: String = String::from_utf8_lossy(&bytes[..bytes.len().min(16)])
        .chars()
        .take_while(|c| *c != '\r' && *c != '\n')
        .collect();
    Outcome::unhealthy(format!(
        "not a PostgreSQL server? unexpected reply {phase}: {shown:?}"
    ))
}

/// SQLSTATEs that time can fix, wherever they come.
pub(super) fn retryable_code(code: &str) -> bool {
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
pub(super) fn cannot_connect_now(message: &str) -> String {
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
pub(super) fn without_user(message: &str, user: &str) -> String {
    let suffix = format!(" for user \"{user}\"");
    message.strip_suffix(&suffix).unwrap_or(message).to_string()
}

/// `scram`: the login was SCRAM-SHA-256, where a non-ASCII password may fail for want of
/// SASLprep.
pub(super) fn classify_startup(error: &DbError, settings: &Settings, scram: bool) -> Failure {
    let (code, message) = (error.code.as_str(), error.message.as_str());
    match code {
        "57P03" => Failure::Down(Outcome::unhealthy(cannot_connect_now(message))),
        "53300" => Failure::Down(Outcome::unhealthy(format!(
            "too many connections: {message} (53300)"
        ))),
        _ if retryable_code(code) => {
            Failure::Down(Outcome::unhealthy(format!("{message} ({code})")))
        }
        _ if code.starts_with("28") || code == "3D000" => {
            let non_ascii = scram
                && settings
                    .password
                    .as_deref()
                    .is_some_and(|pw| !pw.is_ascii());
            Failure::Rejected(format!(
                "login failed for user {}: {} ({code}){}",
                settings.user,
                without_user(message, &settings.user),
                if code == "28P01" && non_ascii {
                    "; the non-ASCII password was sent without SASLprep normalization"
                } else {
                    ""
                }
            ))
        }
        _ => Failure::Rejected(format!(
            "the server refused the connection: {message} ({code})"
        )),
    }
}

pub(super) fn classify_query(error: &DbError) -> Outcome {
    let code = error.code.as_str();
    let reason = format!("query failed: {} ({code})", error.message);
    // A table, schema or function that does not exist yet may be created by a
    // migration that is still running: worth waiting for.
    let not_yet = matches!(code, "42P01" | "3F000" | "42703" | "42883");
    if retryable_code(code) || not_yet {
        Outcome::unhealthy(reason)
    } else {
        Outcome::fatal(reason)
    }
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
