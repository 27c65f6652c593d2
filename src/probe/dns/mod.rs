//! `probe dns NAME`: the name resolves, with records of the asked type (`--type`, default
//! A) and every `--expect`ed value among them.
//!
//! Where the answer comes from: without `--server`, the container's resolver as musl's
//! getaddrinfo uses it (`resolver.rs`: `/etc/hosts` first for A and AAAA, then the
//! `nameserver`s of `/etc/resolv.conf` with its `search` list and `ndots`); with
//! `--server HOST[:PORT]` (port 53 by default), only that server, asked for NAME as
//! written: no hosts file, no search list. Several nameservers are asked in order, not
//! in parallel as musl does: each but the last gets an equal share of the time left, and
//! the next one is asked when one is silent, unreachable, sends garbage or answers
//! SERVFAIL, REFUSED, NOTIMP or FORMERR. NXDOMAIN and NOERROR are answers and end the
//! search. The wire format is `wire.rs`, the UDP/TCP exchange `exchange.rs`.
//!
//! NAME is checked before anything is sent: labels of 1-63 letters, digits, `-` or `_`,
//! at most 253 bytes, an optional trailing dot (then no search list). Internationalized
//! names are not converted: write the `xn--` form. An IP address is not a name (reverse
//! lookups are not supported).
//!
//! `--expect VALUE` (repeatable, each must be in the answer):
//!
//! | type | VALUE | compared |
//! |---|---|---|
//! | A, AAAA | an address of that family | as parsed addresses (`::1` = `0::1`) |
//! | CNAME, NS | a name | case-insensitively, trailing dot ignored |
//! | MX | `PREF HOST` or `HOST` | the preference as a number, the host as a name |
//! | SRV | `PRIO WEIGHT PORT HOST`, `HOST:PORT` or `HOST` | numbers as numbers, host as a name |
//! | TXT | the record's text | exactly, the record's strings joined with nothing between |
//!
//! Every outcome but a healthy one is unhealthy, never fatal: DNS is what time fixes (a
//! compose peer not started yet). Reasons are one line and list at most 5 values.

mod exchange;
pub mod resolver;
mod spec;
#[cfg(test)]
mod tests;
pub mod wire;

pub use spec::CHECK;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use self::exchange::Failure;
use self::wire::{Data, Reply};
use crate::deadline::Deadline;
use crate::outcome::{usage, Outcome, UsageError};
use crate::probe::Probe;

/// What the command line gives the check.
#[derive(Clone, Debug)]
pub struct DnsSettings {
    pub name: String,
    /// `--type`: A, AAAA, CNAME, MX, SRV, TXT or NS, any case; `None` is A.
    pub record_type: Option<String>,
    /// `--server HOST[:PORT]`.
    pub server: Option<String>,
    /// `--expect`, repeatable.
    pub expect: Vec<String>,
    /// `/etc/resolv.conf` but in tests.
    pub resolv_conf: PathBuf,
    /// `/etc/hosts` but in tests.
    pub hosts: PathBuf,
}

impl DnsSettings {
    pub fn new(name: impl Into<String>) -> Self {
        DnsSettings {
            name: name.into(),
            record_type: None,
            server: None,
            expect: Vec::new(),
            resolv_conf: PathBuf::from("/etc/resolv.conf"),
            hosts: PathBuf::from("/etc/hosts"),
        }
    }
}

const TYPES: [(&str, u16); 7] = [
    ("A", wire::TYPE_A),
    ("AAAA", wire::TYPE_AAAA),
    ("CNAME", wire::TYPE_CNAME),
    ("MX", wire::TYPE_MX),
    ("SRV", wire::TYPE_SRV),
    ("TXT", wire::TYPE_TXT),
    ("NS", wire::TYPE_NS),
];

/// Values listed in a reason before "and N more".
const SHOWN: usize = 5;

/// An `--expect` value, parsed for its type.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Expected {
    Ip(IpAddr),
    Name(String),
    Mx(Option<u16>, String),
    Srv {
        priority_weight: Option<(u16, u16)>,
        port: Option<u16>,
        target: String,
    },
    Txt(String),
}

pub struct DnsCheck {
    name: String,
    type_name: &'static str,
    qtype: u16,
    server: Option<(String, u16)>,
    expect: Vec<(String, Expected)>,
    resolv_conf: PathBuf,
    hosts: PathBuf,
    /// The port of resolv.conf's nameservers: 53 (tests use a free port).
    dns_port: u16,
}

impl DnsCheck {
    pub fn new(settings: DnsSettings) -> Result<Self, UsageError> {
        let name = settings.name;
        if name.parse::<IpAddr>().is_ok() {
            return usage(format!(
                "dns: {name:?} is an IP address, not a name (reverse lookups are not supported)"
            ));
        }
        check_name(&name).map_err(|why| UsageError::new(format!("dns: name {name:?} {why}")))?;
        let wanted = settings.record_type.as_deref().unwrap_or("A");
        let Some(&(type_name, qtype)) = TYPES
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(wanted))
        else {
            return usage(format!(
                "dns: unknown --type {wanted:?} (A, AAAA, CNAME, MX, SRV, TXT or NS)"
            ));
        };
        let server = settings.server.as_deref().map(parse_server).transpose()?;
        let expect = settings
            .expect
            .iter()
            .map(|value| Ok((value.clone(), parse_expected(qtype, type_name, value)?)))
            .collect::<Result<_, UsageError>>()?;
        Ok(DnsCheck {
            name,
            type_name,
            qtype,
            server,
            expect,
            resolv_conf: settings.resolv_conf,
            hosts: settings.hosts,
            dns_port: 53,
        })
    }

    /// Healthy or not, from the values of the asked type and where they came from.
    fn judge(&self, asked: &str, values: &[&Data], from: &str) -> Outcome {
        let shown = shown_values(values);
        let prefix = if asked == self.name.trim_end_matches('.') {
            String::new()
        } else {
            format!("{asked} ")
        };
        if values.is_empty() {
            return Outcome::unhealthy(format!(
                "no {} record for {asked} from {from}",
                self.type_name
            ));
        }
        let missing: Vec<&str> = self
            .expect
            .iter()
            .filter(|(_, expected)| !values.iter().any(|data| matches(expected, data)))
            .map(|(text, _)| text.as_str())
            .collect();
        let answer = format!("{prefix}{} {shown} from {from}", self.type_name);
        if missing.is_empty() {
            Outcome::healthy(answer)
        } else {
            Outcome::unhealthy(format!("expected {}, got {answer}", listed(&missing)))
        }
    }

    fn servers(&self, deadline: &Deadline) -> Result<(Vec<SocketAddr>, Vec<String>), Outcome> {
        if let Some((host, port)) = &self.server {
            let addrs = crate::net::resolve(host, *port, deadline)?;
            return Ok((addrs, vec![self.name.trim_end_matches('.').to_string()]));
        }
        let conf = resolver::read_resolv_conf(&self.resolv_conf).map_err(Outcome::unhealthy)?;
        let servers = conf
            .servers
            .iter()
            .map(|ip| SocketAddr::new(*ip, self.dns_port))
            .collect();
        Ok((servers, resolver::candidates(&self.name, &conf)))
    }
}

impl Probe for DnsCheck {
    fn kind(&self) -> &'static str {
        "dns"
    }

    fn target(&self) -> String {
        match self.qtype {
            wire::TYPE_A => self.name.clone(),
            _ => format!("{} {}", self.name, self.type_name),
        }
    }

    fn run(&self, deadline: &Deadline) -> Outcome {
        let address_type = matches!(self.qtype, wire::TYPE_A | wire::TYPE_AAAA);
        if self.server.is_none() && address_type {
            let v6 = self.qtype == wire::TYPE_AAAA;
            match resolver::hosts_lookup(&self.hosts, &self.name, v6) {
                Ok(Some(ips)) => {
                    let values: Vec<Data> = ips.into_iter().map(Data::Ip).collect();
                    let from = self.hosts.display().to_string();
                    return self.judge(&self.name, &values.iter().collect::<Vec<_>>(), &from);
                }
                Ok(None) => {}
                Err(why) => return Outcome::unhealthy(why),
            }
        }
        match self.answer(deadline) {
            Ok(Answer {
                name,
                from,
                values: Some(values),
            }) => self.judge(&name, &values.iter().collect::<Vec<_>>(), &from),
            Ok(Answer { name, from, .. }) => {
                Outcome::unhealthy(format!("NXDOMAIN for {name} from {from}"))
            }
            Err(outcome) => outcome,
        }
    }
}

/// What DNS answered for a check's name and type (no hosts file): `probe dns`' verdict,
/// and other checks' lookups (`probe mongodb`'s `mongodb+srv://`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The name that was answered (one of the search list's), or every name asked when
    /// all were NXDOMAIN.
    pub name: String,
    /// The server that answered.
    pub from: String,
    /// The records of the asked type (maybe none); `None` for NXDOMAIN.
    pub values: Option<Vec<Data>>,
}

impl DnsCheck {
    /// Asks DNS for the check's name and type, through `--server` or the resolv.conf
    /// servers and search list, without the hosts file: an error for what is not an
    /// answer (no reply, SERVFAIL, REFUSED, garbage).
    pub fn answer(&self, deadline: &Deadline) -> Result<Answer, Outcome> {
        let (servers, names) = self.servers(deadline)?;
        let mut nxdomain = Vec::new();
        for name in &names {
            let (server, reply) = ask_servers(&servers, name, self.qtype, deadline)?;
            match reply.rcode {
                wire::NOERROR => {
                    return Ok(Answer {
                        name: name.clone(),
                        from: server.to_string(),
                        values: Some(reply.of_type(self.qtype).cloned().collect()),
                    })
                }
                wire::NXDOMAIN => nxdomain.push(name.as_str()),
                rcode => {
                    return Err(Outcome::unhealthy(format!(
                        "{} for {name} from {server}",
                        wire::rcode_name(rcode)
                    )))
                }
            }
            if nxdomain.len() == names.len() {
                return Ok(Answer {
                    name: listed(&nxdomain),
                    from: server.to_string(),
                    values: None,
                });
            }
        }
        Err(Outcome::unhealthy("no name to ask for"))
    }
}

/// The first useful reply for `name` from `servers`, asked in order (module docs).
fn ask_servers(
    servers: &[SocketAddr],
    name: &str,
    qtype: u16,
    deadline: &Deadline,
) -> Result<(SocketAddr, Reply), Outcome> {
    let mut failures: Vec<(SocketAddr, Failure)> = Vec::new();
    let mut refused: Option<(SocketAddr, Reply)> = None;
    for (index, server) in servers.iter().enumerate() {
        let Some(left) = deadline.remaining() else {
            break;
        };
        let share = deadline.capped(left / (servers.len() - index) as u32);
        match exchange::ask(*server, name, qtype, &share) {
            Ok(reply) if matches!(reply.rcode, wire::NOERROR | wire::NXDOMAIN) => {
                return Ok((*server, reply))
            }
            Ok(reply) => {
                refused.get_or_insert((*server, reply));
            }
            Err(failure) => failures.push((*server, failure)),
        }
    }
    if let Some(answer) = refused {
        return Ok(answer);
    }
    let silent: Vec<String> = failures
        .iter()
        .filter(|(_, failure)| *failure == Failure::Silent)
        .map(|(server, _)| server.to_string())
        .collect();
    match failures
        .iter()
        .find(|(_, failure)| *failure != Failure::Silent)
    {
        Some((server, failure)) => Err(Outcome::unhealthy(failure.reason(*server))),
        None if silent.is_empty() => Err(deadline.timed_out(&format!("asking for {name}"))),
        None => Err(deadline.timed_out(&format!(
            "waiting for {} to answer for {name}",
            silent.join(", ")
        ))),
    }
}

/// Why `name` is not a name probe asks for, or `Ok`.
pub fn check_name(name: &str) -> Result<(), &'static str> {
    let bare = name.strip_suffix('.').unwrap_or(name);
    if bare.is_empty() {
        return Err("is empty");
    }
    if bare.len() > 253 {
        return Err("is longer than 253 characters");
    }
    for label in bare.split('.') {
        if label.is_empty() {
            return Err("has an empty label (two dots in a row, or a leading dot)");
        }
        if label.len() > 63 {
            return Err("has a label longer than 63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(
                "may hold only letters, digits, '-', '_' and dots (write IDNs in their xn-- form)",
            );
        }
    }
    Ok(())
}

/// `--server`: `10.0.0.2`, `10.0.0.2:5353`, `[fd00::2]:53`, `fd00::2`, `dns.internal`.
fn parse_server(text: &str) -> Result<(String, u16), UsageError> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok((ip.to_string(), 53));
    }
    if text.contains(':') {
        return crate::net::split_host_port(text)
            .map_err(|error| UsageError::new(format!("dns: --server: {error}")));
    }
    check_name(text)
        .map_err(|why| UsageError::new(format!("dns: --server {text:?} {why}")))
        .map(|()| (text.to_string(), 53))
}

fn parse_expected(qtype: u16, type_name: &str, value: &str) -> Result<Expected, UsageError> {
    let bad = |form: &str| {
        UsageError::new(format!(
            "dns: --expect {value:?} is not {form} (for --type {type_name})"
        ))
    };
    let host = |text: &str, form: &str| match check_name(text) {
        Ok(()) => Ok(text.trim_end_matches('.').to_ascii_lowercase()),
        Err(_) if text == "." => Ok(".".to_string()),
        Err(_) => Err(bad(form)),
    };
    let words: Vec<&str> = value.split_ascii_whitespace().collect();
    Ok(match qtype {
        wire::TYPE_A | wire::TYPE_AAAA => {
            let v6 = qtype == wire::TYPE_AAAA;
            match value.parse::<IpAddr>() {
                Ok(ip) if ip.is_ipv6() == v6 => Expected::Ip(ip),
                _ if v6 => return Err(bad("an IPv6 address")),
                _ => return Err(bad("an IPv4 address")),
            }
        }
        wire::TYPE_CNAME | wire::TYPE_NS => Expected::Name(host(value, "a name")?),
        wire::TYPE_MX => {
            const FORM: &str = "PREF HOST or HOST";
            match words[..] {
                [preference, exchange] => Expected::Mx(
                    Some(preference.parse().map_err(|_| bad(FORM))?),
                    host(exchange, FORM)?,
                ),
                [exchange] => Expected::Mx(None, host(exchange, FORM)?),
                _ => return Err(bad(FORM)),
            }
        }
        wire::TYPE_SRV => {
            const FORM: &str = "PRIO WEIGHT PORT HOST, HOST:PORT or HOST";
            let number = |text: &str| text.parse::<u16>().map_err(|_| bad(FORM));
            match words[..] {
                [priority, weight, port, target] => Expected::Srv {
                    priority_weight: Some((number(priority)?, number(weight)?)),
                    port: Some(number(port)?),
                    target: host(target, FORM)?,
                },
                [one] => match one.rsplit_once(':') {
                    Some((target, port)) => Expected::Srv {
                        priority_weight: None,
                        port: Some(number(port)?),
                        target: host(target, FORM)?,
                    },
                    None => Expected::Srv {
                        priority_weight: None,
                        port: None,
                        target: host(one, FORM)?,
                    },
                },
                _ => return Err(bad(FORM)),
            }
        }
        _ => Expected::Txt(value.to_string()),
    })
}

fn same_name(expected: &str, got: &str) -> bool {
    expected.eq_ignore_ascii_case(got.trim_end_matches('.'))
}

fn matches(expected: &Expected, data: &Data) -> bool {
    match (expected, data) {
        (Expected::Ip(want), Data::Ip(got)) => want == got,
        (Expected::Name(want), Data::Name(got)) => same_name(want, got),
        (
            Expected::Mx(preference, want),
            Data::Mx {
                preference: p,
                exchange,
            },
        ) => preference.is_none_or(|wanted| wanted == *p) && same_name(want, exchange),
        (
            Expected::Srv {
                priority_weight,
                port,
                target,
            },
            Data::Srv {
                priority: p,
                weight: w,
                port: got_port,
                target: got,
            },
        ) => {
            priority_weight.is_none_or(|wanted| wanted == (*p, *w))
                && port.is_none_or(|wanted| wanted == *got_port)
                && same_name(target, got)
        }
        (Expected::Txt(want), Data::Txt(got)) => want.as_bytes() == got.as_slice(),
        _ => false,
    }
}

/// A value as dig prints it (TXT quoted, with escapes, so it stays on one line).
fn show(data: &Data) -> String {
    match data {
        Data::Ip(ip) => ip.to_string(),
        Data::Name(name) => name.clone(),
        Data::Mx {
            preference,
            exchange,
        } => format!("{preference} {exchange}"),
        Data::Srv {
            priority,
            weight,
            port,
            target,
        } => format!("{priority} {weight} {port} {target}"),
        Data::Txt(text) => format!("{:?}", String::from_utf8_lossy(text)),
        Data::Other => "?".into(),
    }
}

fn shown_values(values: &[&Data]) -> String {
    listed(&values.iter().map(|data| show(data)).collect::<Vec<_>>())
}

/// "a, b, c, d, e and 3 more".
fn listed<T: AsRef<str>>(items: &[T]) -> String {
    let mut text = items
        .iter()
        .take(SHOWN)
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        text.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    text
}
