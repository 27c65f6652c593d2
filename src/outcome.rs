//! The verdict of one check and the process exit codes.
//!
//! Every check, every mode and `main` speak these types, so the exit-code table in the
//! README has exactly one source: [`Exit`].

use std::fmt;

/// How a check ended.
///
/// `Fatal` is unhealthy *and* not worth retrying: waiting will not fix a rejected
/// certificate or a failed login. One-shot checks exit 1 for both kinds; entrypoint modes
/// stop waiting at once on `Fatal` (unless `--retry-fatal`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Healthy,
    Unhealthy,
    Fatal,
}

/// A verdict with the one-line reason a person reads in `docker inspect`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub verdict: Verdict,
    pub detail: String,
}

impl Outcome {
    pub fn healthy(detail: impl Into<String>) -> Self {
        Self::new(Verdict::Healthy, detail)
    }

    /// Unhealthy for now: time may fix it (refused, timed out, starting up, status 503).
    pub fn unhealthy(detail: impl Into<String>) -> Self {
        Self::new(Verdict::Unhealthy, detail)
    }

    /// Unhealthy for good: time will not fix it (bad certificate, login failed).
    pub fn fatal(detail: impl Into<String>) -> Self {
        Self::new(Verdict::Fatal, detail)
    }

    fn new(verdict: Verdict, detail: impl Into<String>) -> Self {
        Outcome {
            verdict,
            detail: detail.into(),
        }
    }

    pub fn is_healthy(&self) -> bool {
        self.verdict == Verdict::Healthy
    }

    pub fn is_fatal(&self) -> bool {
        self.verdict == Verdict::Fatal
    }
}

/// The process exit codes (CONTRACT.md). Never 2: Docker reserves it for HEALTHCHECK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Healthy or ready.
    Healthy,
    /// Unhealthy, not ready, failed or timed out.
    Unhealthy,
    /// Usage or configuration error: nothing was probed.
    Usage,
    /// The command to exec or run was found but could not be executed.
    NotExecutable,
    /// The command to exec or run was not found.
    NotFound,
    /// Any other code: a migration's own status, or 128+S after signal S.
    Code(u8),
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Healthy => 0,
            Exit::Unhealthy => 1,
            Exit::Usage => 3,
            Exit::NotExecutable => 126,
            Exit::NotFound => 127,
            Exit::Code(code) => code,
        }
    }

    /// The code for "stopped by signal `signal`", as shells report it.
    pub fn signal(signal: i32) -> Self {
        Exit::Code(128u8.saturating_add(signal.clamp(0, 127) as u8))
    }

    /// All one-shot checks and `check`: 0 when healthy, else 1.
    pub fn from_healthy(healthy: bool) -> Self {
        if healthy {
            Exit::Healthy
        } else {
            Exit::Unhealthy
        }
    }
}

/// A usage or configuration error: reported as one line, exit 3, before anything is probed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl UsageError {
    pub fn new(message: impl Into<String>) -> Self {
        UsageError(message.into())
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// `Err(UsageError)` from a message: `return usage("bad flag")`.
pub fn usage<T>(message: impl Into<String>) -> Result<T, UsageError> {
    Err(UsageError::new(message))
}

// The wording of reasons: one place for how probe says what went wrong.

/// A short, lowercase reason for a network error, without "(os error 111)".
pub fn io_reason(error: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    let known = match error.kind() {
        ConnectionRefused => "connection refused",
        ConnectionReset => "connection reset by peer",
        ConnectionAborted => "connection aborted",
        HostUnreachable => "no route to host",
        NetworkUnreachable => "network unreachable",
        NetworkDown => "network down",
        AddrNotAvailable => "address not available",
        TimedOut | WouldBlock => "timed out",
        UnexpectedEof => "connection closed by peer",
        BrokenPipe => "connection closed by peer (broken pipe)",
        PermissionDenied => "permission denied",
        NotFound => "no such file or directory",
        _ => "",
    };
    if known.is_empty() {
        lowercase_first(&strip_os_error(&error.to_string()))
    } else {
        known.to_string()
    }
}

/// An error text without std's " (os error N)" tail.
pub fn strip_os_error(text: &str) -> String {
    match text.find(" (os error") {
        Some(cut) => text[..cut].to_string(),
        None => text.to_string(),
    }
}

/// `text` with its first letter lowercased: library messages start with a capital, probe's
/// reasons do not.
pub fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_match_the_contract() {
        assert_eq!(Exit::Healthy.code(), 0);
        assert_eq!(Exit::Unhealthy.code(), 1);
        assert_eq!(Exit::Usage.code(), 3);
        assert_eq!(Exit::NotExecutable.code(), 126);
        assert_eq!(Exit::NotFound.code(), 127);
        assert_eq!(Exit::signal(15).code(), 143);
        assert_eq!(Exit::signal(9).code(), 137);
    }
}
