//! `probe dns`'s options and the settings read from them, including `dns://` TARGETs.

use super::{DnsCheck, DnsSettings};
use crate::options::blocks::{self, OUTPUT};
use crate::options::{Arity, Opt, Positional, Spec, Words};
use crate::outcome::{usage, UsageError};
use crate::registry::Check;

pub static CHECK: Check = Check {
    spec: Spec {
        name: "dns",
        about: "Check that a name resolves, through the container's resolver (/etc/hosts, \
                then /etc/resolv.conf's nameservers, as musl reads them) or --server: healthy \
                when the answer has records of --type and every --expect value. NXDOMAIN, \
                SERVFAIL, REFUSED, an empty answer and silence are unhealthy, named.",
        positional: Positional {
            name: "NAME",
            arity: Arity::One,
            help: "the name to look up (labels of letters, digits, - and _; a trailing dot skips \
                   the search list; IDNs in xn-- form), or dns://[SERVER[:PORT]/]NAME[?type=TYPE]",
        },
        options: &[OWN, OUTPUT],
        foreign: &[],
        usage: None,
        notes: &[],
        examples: &[
            "probe dns db",
            "probe dns _postgres._tcp.db.svc.cluster.local --type SRV --expect db-0.db:5432",
            "probe dns api.internal --server 10.0.0.2 --expect 10.0.0.5",
        ],
    },
    timeout: blocks::check_timeout,
    build: |words| Ok(vec![Box::new(DnsCheck::new(settings(words)?)?)]),
};

const OWN: &[Opt] = &[
    Opt::value(
        "type",
        "A, AAAA, CNAME, MX, SRV, TXT or NS, any case (default A)",
    ),
    Opt::value(
        "server",
        "ask only this server, HOST[:PORT] (port 53 by default), for NAME as written: no /etc/hosts, no search list",
    ),
    Opt::value(
        "expect",
        "a value the answer must contain (repeatable: all must): an address (A/AAAA), a name (CNAME/NS), 'PREF HOST' or HOST (MX), 'PRIO WEIGHT PORT HOST', HOST:PORT or HOST (SRV), the joined text (TXT)",
    )
    .repeatable(),
    Opt::value(
        "timeout",
        "time limit for the whole check, every server and retry, e.g. 2s or 500ms (default 5s; not 0)",
    ),
];

/// The settings from the words; NAME may be a `dns://` URL (RFC 4501's shape:
/// `dns://SERVER/NAME?type=MX`, or `dns://NAME` for the container's resolver).
fn settings(words: &Words) -> Result<DnsSettings, UsageError> {
    let mut settings = DnsSettings::new(words.positional().unwrap_or_default());
    settings.record_type = words.text("type");
    settings.server = words.text("server");
    settings.expect = words.list("expect");
    if let Some(rest) = settings.name.strip_prefix("dns://").map(str::to_string) {
        let (location, query) = rest.split_once('?').unwrap_or((&rest, ""));
        let (server, name) = match location.split_once('/') {
            Some((server, name)) => (Some(server), name),
            None => (None, location),
        };
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            match pair.split_once('=') {
                Some(("type", value)) if settings.record_type.is_none() => {
                    settings.record_type = Some(value.to_string())
                }
                Some(("type", _)) => {
                    return usage("the type is given twice: in the URL and with --type")
                }
                _ => return usage(format!("dns:// URL: unknown parameter {pair:?} (type=...)")),
            }
        }
        if let Some(server) = server.filter(|server| !server.is_empty()) {
            if settings.server.is_some() {
                return usage("the server is given twice: in the URL and with --server");
            }
            settings.server = Some(server.to_string());
        }
        settings.name = name.to_string();
    }
    Ok(settings)
}
