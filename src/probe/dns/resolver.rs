//! The container's resolver configuration, read the way musl's resolver reads it (probe is a
//! musl binary, and most images it is copied into resolve names with musl or glibc, which
//! agree on what follows):
//!
//! - `/etc/resolv.conf`: up to 3 `nameserver` lines (IP literals; port 53), the last
//!   `search` or `domain` line, `options ndots:N` (default 1, at most 15). Keywords start
//!   their line; a line longer than 255 bytes is ignored whole. A missing or unreadable
//!   file means `nameserver 127.0.0.1` and no search list, as in musl.
//! - Search: a name with fewer dots than `ndots` and no trailing dot is tried with each
//!   search domain in order, then as written; a name with `ndots` dots or more, or ending in
//!   a dot, only as written (musl never tries it as written first, unlike glibc). Only
//!   NXDOMAIN moves on to the next candidate: any other answer (SERVFAIL, no records) ends
//!   the search, as in musl's getaddrinfo. A search domain that would make the name invalid
//!   (too long, odd characters) is skipped.
//! - `/etc/hosts`, for A and AAAA only, before DNS: a line (up to its `#`) whose first word
//!   is an IP address and one of whose other words is the name exactly as given (musl
//!   compares case-sensitively, and a trailing dot does not match). Once such a line exists
//!   the hosts file is the answer, even when it holds only addresses of the other family
//!   (musl's getaddrinfo then fails instead of asking DNS).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::net::IpAddr;
use std::path::Path;

use crate::fsread::{self, ReadError};

/// musl's MAXNS.
const MAX_SERVERS: usize = 3;
/// musl's MAXADDRS: at most this many addresses come from the hosts file.
const MAX_HOSTS_ADDRESSES: usize = 48;
/// musl reads resolv.conf through a 256-byte line buffer.
const MAX_RESOLV_LINE: usize = 255;
/// Longest hosts line read whole; longer ones are skipped.
const MAX_HOSTS_LINE: usize = 4096;
/// Most bytes read of either file: far more than any real one.
const MAX_FILE: u64 = 16 << 20;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvConf {
    pub servers: Vec<IpAddr>,
    pub search: Vec<String>,
    pub ndots: usize,
}

/// The resolver configuration at `path`, or its defaults when the file is missing or not
/// readable; `Err` for what is not a file (a directory), which is a broken image.
pub fn read_resolv_conf(path: &Path) -> Result<ResolvConf, String> {
    match open(path)? {
        Some(file) => Ok(parse_resolv_conf(&lines(file, MAX_RESOLV_LINE))),
        None => Ok(parse_resolv_conf(&[])),
    }
}

pub fn parse_resolv_conf(lines: &[String]) -> ResolvConf {
    let mut conf = ResolvConf {
        servers: Vec::new(),
        search: Vec::new(),
        ndots: 1,
    };
    for line in lines {
        let Some((keyword, rest)) = line.split_once(|c: char| c.is_ascii_whitespace()) else {
            continue;
        };
        match keyword {
            "options" => {
                if let Some((_, value)) = rest.split_once("ndots:") {
                    let digits: String = value.chars().take_while(char::is_ascii_digit).collect();
                    if let Ok(ndots) = digits.parse::<u64>() {
                        conf.ndots = ndots.min(15) as usize;
                    } else if !digits.is_empty() {
                        conf.ndots = 15;
                    }
                }
            }
            "nameserver" if conf.servers.len() < MAX_SERVERS => {
                let word = rest.split_ascii_whitespace().next().unwrap_or_default();
                // A link-local address's %zone is not kept.
                let address = word.split('%').next().unwrap_or_default();
                if let Ok(ip) = address.parse() {
                    conf.servers.push(ip);
                }
            }
            "search" | "domain" => {
                conf.search = rest.split_ascii_whitespace().map(String::from).collect();
            }
            _ => {}
        }
    }
    if conf.servers.is_empty() {
        conf.servers.push(IpAddr::from([127, 0, 0, 1]));
    }
    conf
}

/// The names to ask for, in order (module docs: musl's rules).
pub fn candidates(name: &str, conf: &ResolvConf) -> Vec<String> {
    let bare = name.strip_suffix('.').unwrap_or(name);
    let mut out = Vec::new();
    if !name.ends_with('.') && name.matches('.').count() < conf.ndots {
        for domain in &conf.search {
            let domain = domain.strip_suffix('.').unwrap_or(domain);
            let full = format!("{bare}.{domain}");
            if super::check_name(&full).is_ok() {
                out.push(full);
            }
        }
    }
    out.push(bare.to_string());
    out
}

/// The addresses of family `v6` that the hosts file at `path` gives `name`: `None` when no
/// line names it (ask DNS), `Some` (maybe empty) when one does.
pub fn hosts_lookup(path: &Path, name: &str, v6: bool) -> Result<Option<Vec<IpAddr>>, String> {
    let Some(file) = open(path)? else {
        return Ok(None);
    };
    Ok(match_hosts(&lines(file, MAX_HOSTS_LINE), name, v6))
}

pub fn match_hosts(lines: &[String], name: &str, v6: bool) -> Option<Vec<IpAddr>> {
    let mut found = None;
    for line in lines {
        let line = line.split('#').next().unwrap_or_default();
        let mut words = line.split_ascii_whitespace();
        let Some(first) = words.next() else { continue };
        if !words.any(|word| word == name) {
            continue;
        }
        let Ok(ip) = first
            .split('%')
            .next()
            .unwrap_or_default()
            .parse::<IpAddr>()
        else {
            continue;
        };
        let addresses: &mut Vec<IpAddr> = found.get_or_insert_with(Vec::new);
        if ip.is_ipv6() == v6 && !addresses.contains(&ip) {
            addresses.push(ip);
            if addresses.len() == MAX_HOSTS_ADDRESSES {
                break;
            }
        }
    }
    found
}

/// The file at `path`, or `None` where musl would read it as empty (missing, not allowed).
fn open(path: &Path) -> Result<Option<File>, String> {
    match fsread::open_regular(path) {
        Ok(file) => Ok(Some(file)),
        Err(ReadError::Io(error))
            if matches!(
                error.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
            ) || error.raw_os_error() == Some(libc::ENOTDIR) =>
        {
            Ok(None)
        }
        Err(error) => Err(format!(
            "cannot read {}: {}",
            path.display(),
            error.reason()
        )),
    }
}

/// The lines of `file` (at most [`MAX_FILE`] bytes), each lossily decoded; a line longer
/// than `limit` bytes is left out whole.
fn lines(file: File, limit: usize) -> Vec<String> {
    let mut reader = BufReader::new(file.take(MAX_FILE));
    let mut out = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        let mut overlong = false;
        loop {
            let Ok(buffer) = reader.fill_buf() else {
                return out;
            };
            if buffer.is_empty() {
                break;
            }
            let (chunk, done) = match buffer.iter().position(|b| *b == b'\n') {
                Some(at) => (at + 1, true),
                None => (buffer.len(), false),
            };
            if line.len() + chunk > limit + 1 {
                overlong = true;
            } else {
                line.extend_from_slice(&buffer[..chunk]);
            }
            reader.consume(chunk);
            if done {
                break;
            }
        }
        if line.is_empty() && !overlong {
            return out;
        }
        if !overlong {
            out.push(String::from_utf8_lossy(&line).trim_end().to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
        file
    }

    #[test]
    fn reads_resolv_conf_like_musl() {
        let long = format!("search {}\n", "x".repeat(300));
        let file = fixture(&format!(
            "# Generated by Docker\nnameserver 127.0.0.11\n nameserver 10.9.9.9\n\
             nameserver fe80::1%eth0\nnameserver bogus\nnameserver 10.0.0.3\n\
             nameserver 10.0.0.4\ndomain old.example\n\
             search svc.cluster.local cluster.local\n{long}options edns0 ndots:5 trust-ad\n"
        ));
        let conf = read_resolv_conf(file.path()).unwrap();
        assert_eq!(
            conf.servers,
            ["127.0.0.11", "fe80::1", "10.0.0.3"]
                .map(|ip| ip.parse::<IpAddr>().unwrap())
                .to_vec()
        );
        assert_eq!(conf.search, ["svc.cluster.local", "cluster.local"]);
        assert_eq!(conf.ndots, 5);

        let missing = read_resolv_conf(Path::new("/nonexistent/resolv.conf")).unwrap();
        assert_eq!(missing.servers, [IpAddr::from([127, 0, 0, 1])]);
        assert_eq!((missing.ndots, missing.search.len()), (1, 0));
        assert!(read_resolv_conf(Path::new("/")).is_err());
        let big = parse_resolv_conf(&["options ndots:99999999999999999999999".into()]);
        assert_eq!(big.ndots, 15);
    }

    #[test]
    fn search_follows_ndots() {
        let conf = parse_resolv_conf(&[
            "search svc.cluster.local cluster.local.".into(),
            "options ndots:2".into(),
        ]);
        assert_eq!(
            candidates("db", &conf),
            ["db.svc.cluster.local", "db.cluster.local", "db"]
        );
        assert_eq!(
            candidates("db.ns", &conf),
            ["db.ns.svc.cluster.local", "db.ns.cluster.local", "db.ns"]
        );
        assert_eq!(candidates("a.b.c", &conf), ["a.b.c"]);
        assert_eq!(candidates("db.", &conf), ["db"]);
        let long = "a".repeat(63);
        let name = format!("{long}.{long}.{long}.{}", "a".repeat(50));
        assert_eq!(
            candidates(&name, &parse_resolv_conf(&[])),
            std::slice::from_ref(&name)
        );
        let conf = parse_resolv_conf(&["search example.com".into(), "options ndots:9".into()]);
        assert_eq!(candidates(&name, &conf), [name]);
    }

    #[test]
    fn reads_hosts_like_musl() {
        let file = fixture(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n\
             10.0.0.5 db db.local # db2\n10.0.0.6 db\nnot-an-ip db\n\
             # 10.0.0.7 db\nfe80::9%eth0 web\n10.0.0.5 db\n",
        );
        let lookup = |name, v6| hosts_lookup(file.path(), name, v6).unwrap();
        let ips = |list: &[&str]| Some(list.iter().map(|ip| ip.parse().unwrap()).collect());
        assert_eq!(lookup("db", false), ips(&["10.0.0.5", "10.0.0.6"]));
        assert_eq!(lookup("db", true), Some(vec![]));
        assert_eq!(lookup("localhost", true), ips(&["::1"]));
        assert_eq!(lookup("web", true), ips(&["fe80::9"]));
        assert_eq!(lookup("DB", false), None);
        assert_eq!(lookup("db.", false), None);
        assert_eq!(lookup("db2", false), None);
        assert_eq!(lookup("not-an-ip", false), None);
        let missing = hosts_lookup(Path::new("/nonexistent/hosts"), "db", false);
        assert_eq!(missing, Ok(None));
    }

    #[test]
    fn overlong_lines_are_skipped_whole() {
        let text = format!(
            "nameserver 10.0.0.1{}\nnameserver 10.0.0.2\n",
            " ".repeat(300)
        );
        let file = fixture(&text);
        let conf = read_resolv_conf(file.path()).unwrap();
        assert_eq!(conf.servers, [IpAddr::from([10, 0, 0, 2])]);
    }
}
