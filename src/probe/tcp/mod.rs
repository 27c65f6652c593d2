//! `probe tcp HOST:PORT...`: a connection opens. Replaces `nc -z`, whose `HOST PORT` form
//! is accepted too: a word that is only a port number joins the host before it. A lone
//! port can never be a target, so `probe tcp db 5432` is one target and
//! `probe tcp db:5432 cache:6379` two.

pub mod dialog;

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
        net::join_host_port(&args.targets)
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
