//! Name resolution and connecting, bounded by the check's deadline, and the short reasons
//! for network errors that every check shares.

use std::io;
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::Duration;

use crate::deadline::Deadline;
use crate::outcome::{io_reason, usage, Outcome, UsageError};

/// Splits `host:port`, `[v6]:port` or `tcp://host:port` into host and port.
pub fn split_host_port(text: &str) -> Result<(String, u16), UsageError> {
    let bare = text.strip_prefix("tcp://").unwrap_or(text);
    let bare = bare.strip_suffix('/').unwrap_or(bare);
    let invalid = || UsageError::new(format!("invalid address {text:?} (expected HOST:PORT)"));
    let (host, port) = bare.rsplit_once(':').ok_or_else(invalid)?;
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.strip_suffix(']').ok_or_else(invalid)?,
        None if host.contains(':') => {
            return usage(format!(
                "invalid address {text:?} (write IPv6 addresses in brackets: [::1]:5432)"
            ))
        }
        None => host,
    };
    if host.is_empty() || host.contains(['/', '@', ' ']) {
        return Err(invalid());
    }
    let port = match port.parse::<u16>() {
        Ok(port) if port > 0 => port,
        _ => return usage(format!("invalid port {port:?} in {text:?} (1-65535)")),
    };
    Ok((host.to_string(), port))
}

/// nc's and wait-for-it's `HOST PORT`, for `tcp` and for the TARGETs of `check` and
/// `wait-for`: `["db", "5432", "cache:6379"]` → `["db:5432", "cache:6379"]`;
/// `["::1", "5432"]` → `["[::1]:5432"]`. A lone port can never be a target, so a word that
/// is only a port number joins the bare host before it. A word that is already HOST:PORT,
/// a URL or a quoted check line keeps a following port word apart, which then fails as a
/// target without a host.
pub fn join_host_port(words: &[String]) -> Vec<String> {
    let mut joined: Vec<String> = Vec::new();
    let mut words = words.iter().peekable();
    while let Some(word) = words.next() {
        let next_is_port = words
            .peek()
            .is_some_and(|next| !next.is_empty() && next.bytes().all(|b| b.is_ascii_digit()));
        // A host without a port: a name, an IPv4 address, or an IPv6 address with or
        // without brackets (never `[::1]:5432` or `db:5432`).
        let bare_host = !word.is_empty()
            && !word.contains(|c: char| c.is_whitespace() || c == '/')
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

/// Resolves `host`, giving up at the deadline. getaddrinfo cannot be cancelled, so a name
/// runs on a helper thread that is left behind if the resolver is slower than the deadline;
/// IP literals are answered at once.
pub fn resolve(host: &str, port: u16, deadline: &Deadline) -> Result<Vec<SocketAddr>, Outcome> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let remaining = deadline
        .remaining()
        .ok_or_else(|| deadline.timed_out("resolving the name"))?;
    let (sender, receiver) = mpsc::sync_channel(1);
    let query = (host.to_string(), port);
    std::thread::spawn(move || {
        let _ = sender.send(query.to_socket_addrs().map(Iterator::collect::<Vec<_>>));
    });
    match receiver.recv_timeout(remaining) {
        Ok(Ok(addrs)) if !addrs.is_empty() => Ok(addrs),
        Ok(Ok(_)) => Err(Outcome::unhealthy(format!("{host} does not resolve"))),
        Ok(Err(error)) => Err(Outcome::unhealthy(format!(
            "{host} does not resolve ({})",
            resolve_reason(&error)
        ))),
        Err(_) => Err(deadline.timed_out(&format!("resolving {host}"))),
    }
}

/// Why no address accepted a connection.
pub enum ConnectFailure {
    /// The most telling answer of any address (see [`answer_rank`]).
    Refused(SocketAddr, io::Error),
    /// The deadline ran out, while trying this address when there was one.
    TimedOut(Option<SocketAddr>),
}

impl ConnectFailure {
    pub fn outcome(self, deadline: &Deadline) -> Outcome {
        match self {
            ConnectFailure::Refused(addr, error) => {
                Outcome::unhealthy(format!("{} ({addr})", io_reason(&error)))
            }
            ConnectFailure::TimedOut(Some(addr)) => {
                deadline.timed_out(&format!("connecting to {addr}"))
            }
            ConnectFailure::TimedOut(None) => deadline.timed_out("connecting"),
        }
    }
}

/// Connects to the first address that accepts. With several addresses (IPv6 and IPv4 for
/// `localhost`), each but the last gets half of the time left, so one black-holed address
/// cannot use up the whole budget.
pub fn connect(addrs: &[SocketAddr], deadline: &Deadline) -> Result<TcpStream, Outcome> {
    connect_first(addrs, deadline).map_err(|failure| failure.outcome(deadline))
}

/// [`connect`], failing with the io error itself, for callers that word it their own way.
pub fn connect_first(
    addrs: &[SocketAddr],
    deadline: &Deadline,
) -> Result<TcpStream, ConnectFailure> {
    let mut telling: Option<(&SocketAddr, io::Error)> = None;
    for (index, addr) in addrs.iter().enumerate() {
        let Some(remaining) = deadline.remaining() else {
            break;
        };
        let is_last = index + 1 == addrs.len();
        let budget = if is_last {
            remaining
        } else {
            (remaining / 2)
                .max(Duration::from_millis(10))
                .min(remaining)
        };
        match TcpStream::connect_timeout(addr, budget) {
            Ok(stream) => return Ok(stream),
            Err(error) => {
                let tells_more = telling
                    .as_ref()
                    .is_none_or(|(_, known)| answer_rank(&error) >= answer_rank(known));
                if tells_more {
                    telling = Some((addr, error));
                }
            }
        }
    }
    Err(match telling {
        Some((addr, error)) if error.kind() != io::ErrorKind::TimedOut || !deadline.expired() => {
            ConnectFailure::Refused(*addr, error)
        }
        Some((addr, _)) => ConnectFailure::TimedOut(Some(*addr)),
        None => ConnectFailure::TimedOut(None),
    })
}

/// How much a failed connect says about the service. A peer's answer (refused, reset)
/// says most; our own stack refusing an address (`::1` in a container without IPv6:
/// "address not available") says least, and must not hide the answer of another address.
fn answer_rank(error: &io::Error) -> u8 {
    use io::ErrorKind::*;
    match error.kind() {
        ConnectionRefused | ConnectionReset | ConnectionAborted => 3,
        TimedOut => 2,
        HostUnreachable | NetworkUnreachable => 1,
        _ => 0,
    }
}

/// Most bytes a close reads and drops: what a server sends unasked (a banner, a GOAWAY, a
/// notice) is far less; a peer that sends more is flooding, and gets the reset.
const MAX_DRAIN: usize = 64 * 1024;

/// Closes a connection politely: FIN, not RST. Linux answers a close() with RST when
/// received data was never read (a server banner, say), and some servers log those. What
/// has already arrived is read without waiting, within the deadline and at most
/// [`MAX_DRAIN`] bytes: a peer that floods faster than probe reads cannot hold the close.
pub fn close_gracefully(stream: TcpStream, deadline: &Deadline) {
    let _ = stream.shutdown(Shutdown::Write);
    if stream.set_nonblocking(true).is_ok() {
        // A banner or a notice fits in a kilobyte; a 4 KiB buffer took the stack a page
        // deeper (a page fault) in every check that closes a connection.
        let mut buffer = [0u8; 1024];
        let mut reader = &stream;
        let mut drained = 0;
        while drained < MAX_DRAIN && !deadline.expired() {
            match io::Read::read(&mut reader, &mut buffer) {
                Ok(n) if n > 0 => drained += n,
                _ => break,
            }
        }
    }
}

fn resolve_reason(error: &io::Error) -> String {
    let text = crate::outcome::strip_os_error(&error.to_string());
    let text = text
        .strip_prefix("failed to lookup address information: ")
        .unwrap_or(&text);
    crate::outcome::lowercase_first(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_hosts_and_ports() {
        assert_eq!(split_host_port("db:5432").unwrap(), ("db".into(), 5432));
        assert_eq!(split_host_port("[::1]:6379").unwrap(), ("::1".into(), 6379));
        assert_eq!(split_host_port("tcp://db:1/").unwrap(), ("db".into(), 1));
    }

    #[test]
    fn rejects_malformed_addresses() {
        for bad in [
            "db", "db:", ":80", "db:0", "db:70000", "::1:80", "[::1:80", "a b:1",
        ] {
            assert!(split_host_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_peers_answer_outranks_our_own_stack_refusing_an_address() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        let unavailable = io::Error::from(io::ErrorKind::AddrNotAvailable);
        let unreachable = io::Error::from(io::ErrorKind::NetworkUnreachable);
        assert!(answer_rank(&refused) > answer_rank(&unreachable));
        assert!(answer_rank(&unreachable) > answer_rank(&unavailable));
    }

    #[test]
    fn network_reasons_are_short() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(io_reason(&refused), "connection refused");
        let other = io::Error::other("Something Odd (os error 99)");
        assert_eq!(io_reason(&other), "something Odd");
    }

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
        // TARGETs: URLs and check lines keep a port word apart.
        assert_eq!(join(&["tcp://db:1", "2"]), ["tcp://db:1", "2"]);
        assert_eq!(join(&["http http://x", "2"]), ["http http://x", "2"]);
        assert_eq!(join(&["postgres", "5432"]), ["postgres:5432"]);
    }
}
