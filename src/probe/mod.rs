//! The checks. Each folder (or file) holds one check: its option table and plain settings
//! (a [`crate::registry::Check`] named `CHECK`), how the settings become a [`Probe`], and how
//! it runs once within a [`Deadline`]. Modes (`check`, `wait-for`, `migrate-then-exec`) only
//! ever see `dyn Probe`; adding a check is its folder here and one row in
//! `crate::registry::KINDS`.

use crate::deadline::Deadline;
use crate::outcome::Outcome;

#[cfg(feature = "amqp")]
pub mod amqp;
#[cfg(feature = "dns")]
pub mod dns;
pub mod exec;
pub mod file;
#[cfg(feature = "grpc")]
pub mod grpc;
#[cfg(feature = "http")]
pub mod http;
/// Without the HTTP client, `--expect-json`'s rules alone: `probe mongodb --expect` checks
/// its replies with them.
#[cfg(all(feature = "mongodb", not(feature = "http")))]
#[allow(dead_code)]
pub mod http {
    pub mod expect;
    mod json;
}
#[cfg(feature = "kafka")]
pub mod kafka;
#[cfg(feature = "mongodb")]
pub mod mongodb;
#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod process;
#[cfg(feature = "redis")]
pub mod redis;
pub mod tcp;

/// One configured check, ready to run any number of times.
pub trait Probe: Send + Sync {
    /// The check's name as users type it: `http`, `tcp`, `postgres`, ...
    fn kind(&self) -> &'static str;

    /// What is checked, for reports: a URL (password masked), `host:port`, a path.
    fn target(&self) -> String;

    /// Runs the check once. Must return by the deadline (give or take a few
    /// milliseconds) and must not panic; every failure is an [`Outcome`].
    fn run(&self, deadline: &Deadline) -> Outcome;
}

/// Where `needle` first appears in `haystack` (an empty needle: at 0). For body rules, file
/// contents and command lines, all bounded in size; a plain scan keeps the binary smaller
/// than memchr's searchers would (8 KB).
pub fn find_bytes(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::find_bytes;

    #[test]
    fn finds_bytes() {
        assert_eq!(find_bytes(b"status: ok\n", b"ok"), Some(8));
        assert_eq!(find_bytes(b"o", b"ok"), None);
        assert_eq!(find_bytes(b"abc", b""), Some(0));
    }
}
