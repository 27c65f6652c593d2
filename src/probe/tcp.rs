//! `probe tcp HOST:PORT...`: a connection opens. Replaces `nc -z`, whose `HOST PORT` form
//! is accepted too: a word that is only a port number joins the host before it. A lone
//! port can never be a target, so `probe tcp db 5432` is one target and
//! `probe tcp db:5432 cache:6379` two.

use crate::cli::TcpArgs;
use crate::deadline::Deadline;
use crate::net;
use crate::outcome::{usage, Outcome, UsageError};
use crate::probe::Probe;

pub struct TcpCheck {
    host: String,
    port: u16,
}

impl TcpCheck {
    /// One check per HOST:PORT argument (or HOST PORT pair).
    pub fn from_args(args: &TcpArgs) -> Result<Vec<Box<dyn Probe>>, UsageError> {
        if args.targets.is_empty() {
            return usage("tcp needs at least one HOST:PORT (or HOST PORT, as nc -z writes it)");
        }
        join_host_port(&args.targets)
            .iter()
            .map(|target| Ok(Box::new(TcpCheck::parse(target)?) as Box<dyn Probe>))
            .collect()
    }

    pub fn parse(target: &str) -> Result<Self, UsageError> {
        let (host, port) = net::split_host_port(target)?;
        Ok(TcpCheck { host, port })
    }
}

/// `["db", "5432", "cache:6379"]` → `["db:5432", "cache:6379"]`; `["::1", "5432"]` →
/// `["[::1]:5432"]`. A word that is already HOST:PORT keeps a following port word apart,
/// which then fails as a target without a host.
fn join_host_port(words: &[String]) -> Vec<String> {
    let mut joined: Vec<String> = Vec::new();
    let mut words = words.iter().peekable();
    while let Some(word) = words.next() {
        let next_is_port = words
            .peek()
            .is_some_and(|next| !next.is_empty() && next.bytes().all(|b| b.is_ascii_digit()));
        // A host without a port: a name, an IPv4 address, or an IPv6 address with or
        // without brackets (never `[::1]:5432` or `db:5432`).
        let bare_host = !word.is_empty()
            && (!word.contains(':') || (word.matches(':').count() > 1 && !word.contains("]:")));
        if next_is_port && bare_host {
            let port = words.next().map(String::as_str).unwrap_or_default();
            let host = word.trim_start_matches('[').trim_end_matches(']');
            joined.push(match host.contains(':') {
                true => format!("[{host}]:{port}"),
                false => format!("{host}:{port}"),
            });
        } else {
            joined.push(word.clone());
        }
    }
    joined
}

impl Probe for TcpCheck {
    fn kind(&self) -> &'static str {
        "tcp"
    }

    fn target(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    fn run(&self, deadline: &Deadline) -> Outcome {
        let addrs = match net::resolve(&self.host, self.port, deadline) {
            Ok(addrs) => addrs,
            Err(outcome) => return outcome,
        };
        match net::connect(&addrs, deadline) {
            Ok(stream) => {
                let peer = stream.peer_addr().map(|addr| addr.to_string());
                net::close_gracefully(stream, deadline);
                Outcome::healthy(format!("connected to {}", peer.unwrap_or_default()))
            }
            Err(outcome) => outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::join_host_port;

    fn join(words: &[&str]) -> Vec<String> {
        join_host_port(&words.iter().map(|w| w.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn nc_style_host_port_pairs_become_one_target() {
        assert_eq!(join(&["db", "5432"]), ["db:5432"]);
        assert_eq!(join(&["::1", "6379"]), ["[::1]:6379"]);
        assert_eq!(
            join(&["db:5432", "cache", "6379"]),
            ["db:5432", "cache:6379"]
        );
        assert_eq!(join(&["db:5432", "6379"]), ["db:5432", "6379"]);
        assert_eq!(join(&["db"]), ["db"]);
        assert_eq!(join(&["[::1]", "1"]), ["[::1]:1"]);
        assert_eq!(join(&["db:99999", "1"]), ["db:99999", "1"]);
    }
}
