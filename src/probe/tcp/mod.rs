//! `probe tcp HOST:PORT...`: a connection opens. Replaces `nc -z`, whose `HOST PORT` form
//! is accepted too: a word that is only a port number joins the host before it. A lone
//! port can never be a target, so `probe tcp db 5432` is one target and
//! `probe tcp db:5432 cache:6379` two.

use crate::deadline::Deadline;
use crate::net;
use crate::options::blocks::{self, OUTPUT};
use crate::options::{Arity, Opt, Positional, Spec, Words};
use crate::outcome::{usage, Outcome, UsageError};
use crate::probe::Probe;
use crate::registry::{Check, Probes};

pub static CHECK: Check = Check {
    spec: Spec {
        name: "tcp",
        about: "Check that TCP connections open: healthy when every HOST:PORT accepts one. \
                nc -z's form works too: `probe tcp db 5432` (a word that is only a port number \
                joins the host before it; a lone port is never a target).",
        positional: Positional {
            name: "HOST:PORT",
            arity: Arity::Many,
            help: "HOST:PORT targets, e.g. db:5432 or [::1]:6379, or HOST PORT",
        },
        options: &[OWN, OUTPUT],
        examples: &["probe tcp db:5432 cache:6379", "probe tcp db 5432"],
    },
    timeout: blocks::check_timeout,
    build: |words| TcpCheck::probes(&TcpSettings::from_words(words)),
};

const OWN: &[Opt] = &[Opt::value(
    "timeout",
    "time limit for the whole check, DNS to connected, all targets together, e.g. 2s or 500ms (default 5s; not 0)",
)];

/// What `probe tcp` is told.
pub struct TcpSettings {
    /// HOST:PORT words, or HOST PORT pairs.
    pub targets: Vec<String>,
}

impl TcpSettings {
    pub fn from_words(words: &Words) -> TcpSettings {
        TcpSettings {
            targets: words.positionals(),
        }
    }
}

pub struct TcpCheck {
    host: String,
    port: u16,
}

impl TcpCheck {
    /// One check per HOST:PORT argument (or HOST PORT pair).
    pub fn probes(settings: &TcpSettings) -> Result<Probes, UsageError> {
        if settings.targets.is_empty() {
            return usage("tcp needs at least one HOST:PORT (or HOST PORT, as nc -z writes it)");
        }
        net::join_host_port(&settings.targets)
            .iter()
            .map(|target| Ok(Box::new(TcpCheck::parse(target)?) as Box<dyn Probe>))
            .collect()
    }

    pub fn parse(target: &str) -> Result<Self, UsageError> {
        let (host, port) = net::split_host_port(target)?;
        Ok(TcpCheck { host, port })
    }
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
