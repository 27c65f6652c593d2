//! `mongodb+srv://NAME/`: the hosts from DNS, as MongoDB's Initial DNS Seedlist Discovery
//! spec has drivers find them, through probe's own DNS code ([`crate::probe::dns`]) and
//! within the check's deadline.
//!
//! - SRV records of `_mongodb._tcp.NAME` (`srvServiceName` replaces `mongodb`) give the
//!   hosts and ports, tried in the order DNS gives them. None is an unhealthy verdict
//!   (DNS may not have them yet); so is NXDOMAIN.
//! - Every host must be in NAME's parent domain (NAME less its first label) when NAME has
//!   three labels or more, else under NAME itself with one label more: a record that
//!   points elsewhere is refused (the spec's defence against a spoofed answer).
//! - One TXT record of NAME may set `authSource`, `replicaSet` (and `loadBalanced`,
//!   unused); any other option, or two TXT records, is refused. The URL's own options win.
//! - With `--dns-server HOST[:PORT]`, that server answers the SRV and TXT questions and
//!   the hosts' A (then AAAA) questions too: the hosts are connected to at the addresses it
//!   gives, and TLS still checks each host's name. Without it, the container's resolver
//!   (`/etc/resolv.conf`, as `probe dns` reads it) answers SRV and TXT, and each host is
//!   resolved when it is connected to, as every other check resolves names.

use std::net::IpAddr;

use super::url::Options;
use super::Host;
use crate::deadline::Deadline;
use crate::outcome::{Outcome, UsageError};
use crate::probe::dns::wire::Data;
use crate::probe::dns::{DnsCheck, DnsSettings};

/// Most hosts read from the SRV records (a replica set has at most 50 members).
const MAX_HOSTS: usize = 64;

/// The questions for one `mongodb+srv://` name, prepared once.
pub struct Srv {
    name: String,
    srv: DnsCheck,
    txt: DnsCheck,
    server: Option<String>,
}

impl Srv {
    pub fn new(name: &str, service: &str, server: Option<&str>) -> Result<Srv, UsageError> {
        let question = |asked: String, record_type: &str| {
            let mut settings = DnsSettings::new(asked);
            settings.record_type = Some(record_type.into());
            settings.server = server.map(str::to_string);
            DnsCheck::new(settings).map_err(|error| {
                UsageError::new(
                    error
                        .0
                        .replacen("dns: ", "mongodb+srv: ", 1)
                        .replace("--server", "--dns-server"),
                )
            })
        };
        // The absolute name: no search list (the name has dots; drivers ask for it as is).
        Ok(Srv {
            name: name.to_string(),
            srv: question(format!("_{service}._tcp.{name}."), "SRV")?,
            txt: question(format!("{name}."), "TXT")?,
            server: server.map(str::to_string),
        })
    }

    /// The hosts, and the options of the TXT record.
    pub fn discover(&self, deadline: &Deadline) -> Result<(Vec<Host>, Options), Outcome> {
        let answer = self.srv.answer(deadline)?;
        let Some(records) = answer.values else {
            return Err(Outcome::unhealthy(format!(
                "NXDOMAIN for {} from {}",
                answer.name, answer.from
            )));
        };
        let mut hosts = Vec::new();
        for record in &records {
            let Data::Srv { port, target, .. } = record else {
                continue;
            };
            let target = target.trim_end_matches('.').to_string();
            if !in_domain(&self.name, &target) {
                return Err(Outcome::unhealthy(format!(
                    "SRV record of {} points to {target}, outside its domain (refused, as \
                     drivers refuse it)",
                    self.name
                )));
            }
            if hosts.len() < MAX_HOSTS {
                hosts.push(Host {
                    name: target,
                    port: *port,
                    ips: Vec::new(),
                });
            }
        }
        if hosts.is_empty() {
            return Err(Outcome::unhealthy(format!(
                "no SRV record for {} from {}",
                answer.name, answer.from
            )));
        }
        let options = self.txt_options(deadline)?;
        if self.server.is_some() {
            for host in &mut hosts {
                host.ips = self.addresses(&host.name, deadline)?;
            }
        }
        Ok((hosts, options))
    }

    fn txt_options(&self, deadline: &Deadline) -> Result<Options, Outcome> {
        let answer = self.txt.answer(deadline)?;
        let texts: Vec<&Vec<u8>> = answer
            .values
            .iter()
            .flatten()
            .filter_map(|data| match data {
                Data::Txt(text) => Some(text),
                _ => None,
            })
            .collect();
        let mut options = Options::default();
        let text = match texts[..] {
            [] => return Ok(options),
            [text] => text,
            _ => {
                return Err(Outcome::unhealthy(format!(
                    "{} has {} TXT records (at most one may hold the options)",
                    self.name,
                    texts.len()
                )))
            }
        };
        let bad = |why: String| Outcome::unhealthy(format!("TXT record of {}: {why}", self.name));
        let text = std::str::from_utf8(text).map_err(|_| bad("not UTF-8".into()))?;
        for pair in text.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = crate::url::percent_decode(value).map_err(bad)?;
            options.apply(name, value, true).map_err(bad)?;
        }
        Ok(options)
    }

    /// A host's addresses from `--dns-server`: its A records, else its AAAA records.
    fn addresses(&self, name: &str, deadline: &Deadline) -> Result<Vec<IpAddr>, Outcome> {
        for record_type in ["A", "AAAA"] {
            let mut settings = DnsSettings::new(format!("{name}."));
            settings.record_type = Some(record_type.into());
            settings.server = self.server.clone();
            let question = DnsCheck::new(settings).map_err(|error| Outcome::unhealthy(error.0))?;
            let answer = question.answer(deadline)?;
            let ips: Vec<IpAddr> = answer
                .values
                .iter()
                .flatten()
                .filter_map(|data| match data {
                    Data::Ip(ip) => Some(*ip),
                    _ => None,
                })
                .collect();
            if !ips.is_empty() {
                return Ok(ips);
            }
        }
        Err(Outcome::unhealthy(format!(
            "{name} (from the SRV records) does not resolve at {}",
            self.server.as_deref().unwrap_or_default()
        )))
    }
}

/// The spec's domain rule for an SRV record's `target` of `name` (module docs).
fn in_domain(name: &str, target: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let target = target.to_ascii_lowercase();
    let domain = match name.split_once('.') {
        Some((_, parent)) if parent.contains('.') => parent,
        _ => &name,
    };
    target
        .strip_suffix(domain)
        .is_some_and(|head| head.len() > 1 && head.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_must_share_the_parent_domain() {
        let name = "cluster0.test.internal";
        assert!(in_domain(name, "db1.test.internal"));
        assert!(in_domain(name, "a.b.TEST.internal"));
        assert!(in_domain(name, "cluster0.test.internal"));
        assert!(!in_domain(name, "test.internal"));
        assert!(!in_domain(name, "db1.evil.internal"));
        assert!(!in_domain(name, "db1.xtest.internal"));
        // Two labels or one: the hosts are under the name itself.
        assert!(in_domain("mongo.local", "db.mongo.local"));
        assert!(!in_domain("mongo.local", "db.local"));
        assert!(!in_domain("mongo.local", "mongo.local"));
        assert!(in_domain("localhost", "db.localhost"));
        assert!(!in_domain("localhost", "localhost"));
    }
}
