//! The command line, as argh structs. Their doc comments are the `--help` text.
//!
//! Parsing only turns words into these structs; turning them into checks (and rejecting
//! bad values with a message that names the flag) happens once, in each check's module.

use std::path::PathBuf;

use argh::FromArgs;

use crate::duration::Span;

/// Health checks and dependency waits for containers: one static binary, no shell needed.
/// Exit codes: 0 healthy, 1 unhealthy, 3 usage error, 126/127 command not executable/found.
#[derive(FromArgs, Debug)]
pub struct Cli {
    /// print the version and exit
    #[argh(switch)]
    pub version: bool,

    #[argh(subcommand)]
    pub command: Option<Command>,
}

// Parsed once per run; boxing the larger variants would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(FromArgs, Debug)]
#[argh(subcommand)]
pub enum Command {
    Http(HttpArgs),
    Tcp(TcpArgs),
    Check(CheckArgs),
    WaitFor(WaitForArgs),
}

/// The flags every one-shot check shares, wherever it is written.
#[derive(Clone, Copy, Debug, Default)]
pub struct Common {
    pub timeout: Option<Span>,
    pub json: bool,
    pub quiet: bool,
}

/// Declares a one-shot check's argh struct with the flags all checks share
/// (`--timeout`, `--json`, `-q`), since argh cannot flatten a struct into another.
macro_rules! check_args {
    (
        $(#[$attr:meta])*
        pub struct $name:ident { $($body:tt)* }
    ) => {
        #[derive(FromArgs, Debug)]
        $(#[$attr])*
        pub struct $name {
            $($body)*

            /// time limit for the whole check, DNS to last byte, e.g. 2s or 500ms (default 5s)
            #[argh(option)]
            pub timeout: Option<Span>,

            /// print one JSON object per check instead of a text line
            #[argh(switch)]
            pub json: bool,

            /// print nothing: the exit code tells
            #[argh(switch, short = 'q')]
            pub quiet: bool,
        }

        impl $name {
            pub fn common(&self) -> Common {
                Common { timeout: self.timeout, json: self.json, quiet: self.quiet }
            }
        }
    };
}

check_args! {
    /// Check an HTTP(S) endpoint: healthy when the status is expected (default 200-399) and
    /// every body expectation holds. Proxies from the environment are ignored.
    #[argh(subcommand, name = "http")]
    pub struct HttpArgs {
        /// the URL, e.g. http://localhost:8000/health
        #[argh(positional)]
        pub url: String,

        /// request method (default GET)
        #[argh(option, short = 'X')]
        pub method: Option<String>,

        /// expected statuses: codes and ranges, e.g. 200,204 or 200-299 (default 200-399)
        #[argh(option)]
        pub expect_status: Option<String>,

        /// a request header 'Name: value' (repeatable)
        #[argh(option, short = 'H')]
        pub header: Vec<String>,

        /// the Host header to send instead of the URL's host
        #[argh(option)]
        pub host: Option<String>,

        /// connect to HOST:PORT instead, keeping the URL's name for TLS (SNI, certificate) and Host
        #[argh(option)]
        pub connect_to: Option<String>,

        /// follow redirects (at most 10) and check the final response
        #[argh(switch, short = 'L')]
        pub follow_redirects: bool,

        /// the body must contain this text (repeatable: all must appear)
        #[argh(option)]
        pub body_contains: Vec<String>,

        /// a JSON body value, as /pointer=value (RFC 6901); repeating one pointer accepts any of its values
        #[argh(option)]
        pub expect_json: Vec<String>,

        /// request body to send (e.g. with -X POST)
        #[argh(option, short = 'd')]
        pub data: Option<String>,

        /// PEM file of CA certificates to trust instead of the built-in web roots
        #[argh(option)]
        pub ca_file: Option<PathBuf>,

        /// do not verify the server's certificate
        #[argh(switch, short = 'k')]
        pub insecure: bool,

        /// client certificate chain (PEM) for mutual TLS
        #[argh(option)]
        pub cert: Option<PathBuf>,

        /// client private key (PEM) for mutual TLS
        #[argh(option)]
        pub key: Option<PathBuf>,

        /// speak HTTP over this Unix socket instead of TCP
        #[argh(option)]
        pub unix_socket: Option<PathBuf>,

        /// send the request through this HTTP proxy (proxy variables in the environment are ignored)
        #[argh(option)]
        pub proxy: Option<String>,
    }
}

check_args! {
    /// Check that TCP connections open: healthy when every HOST:PORT accepts one.
    #[argh(subcommand, name = "tcp")]
    pub struct TcpArgs {
        /// HOST:PORT targets, e.g. db:5432 or [::1]:6379
        #[argh(positional)]
        pub targets: Vec<String>,
    }
}

check_args! {
    /// Run several checks in parallel under one deadline: healthy when all are (with --any:
    /// when one is). A TARGET is a URL (tcp://host:port, http(s)://..., postgres://...,
    /// redis://...) or a quoted check command line such as 'http http://api/health --expect-json /status=ok'.
    #[argh(subcommand, name = "check")]
    pub struct CheckArgs {
        /// the targets
        #[argh(positional)]
        pub targets: Vec<String>,

        /// healthy when at least one target is
        #[argh(switch)]
        pub any: bool,
    }
}

/// Wait until every TARGET is ready, then run CMD in probe's place (exec: same PID), or
/// exit 0 when no CMD follows `--`. CMD never runs after a failed wait. Targets can also
/// come from PROBE_WAIT_TARGETS (separated by spaces or commas; quote command lines).
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "wait-for")]
pub struct WaitForArgs {
    /// the targets: URLs (tcp://, http(s)://, postgres://, redis://) or quoted check command lines
    #[argh(positional)]
    pub targets: Vec<String>,

    /// give up after this long (default 60s, or PROBE_WAIT_TIMEOUT; 0 waits forever)
    #[argh(option)]
    pub timeout: Option<Span>,

    /// longest pause between attempts (default 1s, or PROBE_WAIT_INTERVAL); polls every 100ms for the first 10s
    #[argh(option)]
    pub interval: Option<Span>,

    /// time limit of one attempt, unless a target sets its own --timeout (default 5s)
    #[argh(option)]
    pub attempt_timeout: Option<Span>,

    /// healthy results in a row each target needs (default 1)
    #[argh(option)]
    pub successes: Option<u32>,

    /// ready when any one target is, instead of all
    #[argh(switch)]
    pub any: bool,

    /// keep waiting after a fatal result (login failed, certificate rejected)
    #[argh(switch)]
    pub retry_fatal: bool,

    /// print progress as JSON lines
    #[argh(switch)]
    pub json: bool,

    /// print nothing
    #[argh(switch, short = 'q')]
    pub quiet: bool,
}
