//! `probe tcp HOST:PORT...`: a connection opens. Replaces `nc -z`, whose `HOST PORT` form
//! is accepted too: a word that is only a port number joins the host before it. A lone
//! port can never be a target, so `probe tcp db 5432` is one target and
//! `probe tcp db:5432 cache:6379` two.

//!
//! With `--expect-banner`, `--send` or `--expect` it also holds a short exchange for text
//! protocols (memcached, ZooKeeper, SMTP: [`dialog`]); with `--tls` it completes a TLS
//! handshake. Without them it is a connect check, and proves no more than that something
//! accepts connections on the port.

pub mod dialog;
mod spec;

use crate::deadline::Deadline;
use crate::net;
use crate::outcome::{usage, Outcome, UsageError};
use crate::probe::Probe;
use crate::registry::Probes;

use self::dialog::Dialog;
pub use spec::{TcpSettings, CHECK};

#[derive(Clone)]
pub struct TcpCheck {
    host: String,
    port: u16,
    dialog: Option<Dialog>,
    #[cfg(feature = "tls")]
    tls: Option<dialog::TlsSetup>,
}

impl TcpCheck {
    /// One check per HOST:PORT argument (or HOST PORT pair).
    pub fn probes(settings: &TcpSettings) -> Result<Probes, UsageError> {
        if settings.targets.is_empty() {
            return usage("tcp needs at least one HOST:PORT (or HOST PORT, as nc -z writes it)");
        }
        let dialog = Dialog::new(
            settings.expect_banner.as_deref(),
            settings.send.as_deref(),
            settings.expect.as_deref(),
        )?;
        if settings.tls_files.any() && !settings.tls {
            return usage("--ca-file, --insecure, --cert and --key need --tls");
        }
        #[cfg(not(feature = "tls"))]
        if settings.tls {
            return usage(
                "this probe binary was built without the \"tls\" feature (needed for --tls)",
            );
        }
        net::join_host_port(&settings.targets)
            .iter()
            .map(|target| {
                let (host, port) = net::split_host_port(target)?;
                Ok(Box::new(TcpCheck {
                    #[cfg(feature = "tls")]
                    tls: match settings.tls {
                        true => Some(settings.tls_files.setup(&host, &[])?),
                        false => None,
                    },
                    host,
                    port,
                    dialog: dialog.clone(),
                }) as Box<dyn Probe>)
            })
            .collect()
    }
}

impl Probe for TcpCheck {
    fn kind(&self) -> &'static str {
        "tcp"
    }

    fn target(&self) -> String {
        // Pieces pushed, not format!: this runs in every tcp check (src/report.rs says why).
        let port = self.port.to_string();
        let mut target = String::with_capacity(self.host.len() + port.len() + 3);
        match self.host.contains(':') {
            true => {
                target.push('[');
                target.push_str(&self.host);
                target.push(']');
            }
            false => target.push_str(&self.host),
        }
        target.push(':');
        target.push_str(&port);
        target
    }

    fn run(&self, deadline: &Deadline) -> Outcome {
        #[cfg(feature = "tls")]
        if self.dialog.is_some() || self.tls.is_some() {
            let tls = self.tls.as_ref();
            return dialog::exchange(&self.host, self.port, tls, self.dialog.as_ref(), deadline);
        }
        #[cfg(not(feature = "tls"))]
        if self.dialog.is_some() {
            return dialog::exchange(&self.host, self.port, self.dialog.as_ref(), deadline);
        }
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
