//! `probe process`'s options and the settings read from them.

use std::path::PathBuf;

use super::ProcessCheck;
use crate::options::blocks::{self, OUTPUT};
use crate::options::{Arity, Opt, Positional, Spec, Words};
use crate::outcome::UsageError;
use crate::registry::Check;
use crate::size::Size;

pub static CHECK: Check = Check {
    spec: Spec {
        name: "process",
        about: "Check for a live process in /proc (replaces pgrep -f): healthy when at least \
                one process (or --min/--max) matches NAME and/or --cmdline, or the pid of \
                --pid/--pidfile is alive. Zombies never count, stopped processes only with \
                --allow-stopped. Probe never matches itself, another probe, or a shell or \
                wrapper whose command line runs a probe.",
        positional: Positional {
            name: "NAME",
            arity: Arity::Optional,
            help: "executable name, exact: the kernel's process name (comm) or the basename of argv[0]",
        },
        options: &[OWN, OUTPUT],
        foreign: &[],
        usage: None,
        notes: &[],
        examples: &[],
    },
    timeout: blocks::check_timeout,
    build: |words| {
        Ok(vec![Box::new(ProcessCheck::new(
            &ProcessSettings::from_words(words)?,
        )?)])
    },
};

const OWN: &[Opt] = &[
    Opt::value(
        "timeout",
        "time limit for reading /proc (default 5s; not 0)",
    ),
    Opt::value(
        "cmdline",
        "text that must appear in the command line (its arguments joined by spaces)",
    ),
    Opt::value(
        "pidfile",
        "file holding the pid to check (its first word); with NAME or --cmdline that process \
         must match them too, which catches a pid reused by another program",
    ),
    Opt::value(
        "pid",
        "the pid to check, e.g. 1 for the container's main process",
    ),
    Opt::value(
        "min",
        "at least this many processes must match (default 1, or 0 with --max 0)",
    ),
    Opt::value("max", "at most this many processes may match"),
    Opt::switch(
        "allow-stopped",
        "count stopped (SIGSTOP, traced) processes as running",
    ),
    Opt::value(
        "max-rss",
        "unhealthy when a matching process's resident memory is above this, e.g. 512M",
    ),
];

/// What `probe process` is told.
pub struct ProcessSettings {
    pub name: Option<String>,
    pub cmdline: Option<String>,
    pub pidfile: Option<PathBuf>,
    pub pid: Option<u32>,
    pub min: Option<u32>,
    pub max: Option<u32>,
    pub allow_stopped: bool,
    pub max_rss: Option<Size>,
}

impl ProcessSettings {
    pub fn from_words(words: &Words) -> Result<ProcessSettings, UsageError> {
        Ok(ProcessSettings {
            name: words.positional(),
            cmdline: words.text("cmdline"),
            pidfile: words.text("pidfile").map(PathBuf::from),
            pid: words.parsed("pid")?,
            min: words.parsed("min")?,
            max: words.parsed("max")?,
            allow_stopped: words.switch("allow-stopped"),
            max_rss: words.parsed("max-rss")?,
        })
    }
}
