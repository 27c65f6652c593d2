//! `probe http`'s options (curl's names where curl has one) and the settings read from them.

use std::path::PathBuf;

use super::HttpCheck;
use crate::options::blocks::{self, TlsFiles, INSECURE, OUTPUT, PASSWORD_FILE, TLS_FILES};
use crate::options::{Arity, Foreign, Means, Opt, Positional, Spec, Words};
use crate::registry::Check;

pub static CHECK: Check = Check {
    spec: Spec {
        name: "http",
        about: "Check an HTTP(S) endpoint: healthy when the status is expected (default \
                200-399) and every body expectation holds. Proxies from the environment are \
                ignored.",
        positional: Positional {
            name: "URL",
            arity: Arity::One,
            help: "the URL, e.g. http://localhost:8000/health",
        },
        options: &[OWN, TLS_FILES, OUTPUT],
        foreign: CURL_AND_WGET,
        usage: None,
        notes: &[],
        examples: &[],
    },
    timeout: blocks::check_timeout,
    build: |words| {
        Ok(vec![Box::new(HttpCheck::new(&HttpSettings::from_words(
            words,
        ))?)])
    },
};

const OWN: &[Opt] = &[
    Opt::value(
        "timeout",
        "time limit for the whole check, DNS to last byte, e.g. 2s or 500ms (default 5s; not 0)",
    ),
    Opt::value("method", "request method (default GET)").short('X'),
    Opt::value(
        "expect-status",
        "expected statuses: codes and ranges, e.g. 200,204 or 200-299 (default 200-399)",
    ),
    Opt::value("header", "a request header 'Name: value' (repeatable)")
        .short('H')
        .repeatable(),
    Opt::value("host", "the Host header to send instead of the URL's host"),
    Opt::value(
        "connect-to",
        "connect to HOST:PORT instead, keeping the URL's name for TLS (SNI, certificate) and Host",
    ),
    Opt::switch(
        "follow-redirects",
        "follow redirects (at most 10) and check the final response; on a redirect to another \
         scheme, host or port, -H headers, --host and URL credentials are dropped",
    )
    .short('L'),
    Opt::switch(
        "location-trusted",
        "with -L, send -H headers, --host and URL credentials to every host redirected to (curl's name)",
    ),
    Opt::value(
        "body-contains",
        "the body must contain this text (repeatable: all must appear)",
    )
    .repeatable(),
    Opt::value(
        "expect-json",
        "a JSON body value, as /pointer=value (RFC 6901); repeating one pointer accepts any of its values",
    )
    .repeatable(),
    Opt::value("data", "request body to send (e.g. with -X POST)").short('d'),
    Opt::value(
        "user",
        "basic auth as curl -u: USER:PASSWORD, or USER with --password-file (it shows in `ps`: prefer the files)",
    )
    .short('u')
    .secret_after_colon(),
    Opt::value(
        "user-file",
        "read the basic-auth user name from this file (one trailing newline is ignored)",
    ),
    PASSWORD_FILE,
    INSECURE,
    Opt::value(
        "unix-socket",
        "speak HTTP over this Unix socket instead of TCP",
    ),
    Opt::value(
        "proxy",
        "send the request through this HTTP proxy (proxy variables in the environment are ignored)",
    ),
];

/// curl's and wget's flags, as users paste them from `curl -fsS` and `wget --spider` lines.
const CURL_AND_WGET: &[Foreign] = &[
    Foreign::new("curl", "-f", Means::Anyway),
    Foreign::new("curl", "--fail", Means::Anyway),
    Foreign::new("curl", "--fail-with-body", Means::Anyway),
    Foreign::new("curl", "-s", Means::Anyway),
    Foreign::new("curl", "--silent", Means::Anyway),
    Foreign::new("curl", "-S", Means::Anyway),
    Foreign::new("curl", "--show-error", Means::Anyway),
    Foreign::value("curl", "-o", Means::Anyway),
    Foreign::value("curl", "--output", Means::Anyway),
    Foreign::value("curl", "-m", Means::Seconds("timeout")),
    Foreign::value("curl", "--max-time", Means::Seconds("timeout")),
    Foreign::value("curl", "--connect-timeout", Means::Anyway),
    Foreign::value("curl", "--cacert", Means::Same("ca-file")),
    Foreign::value("curl", "--request", Means::Same("method")),
    Foreign::new("curl", "-I", Means::Preset("method", "HEAD")),
    Foreign::new("curl", "--head", Means::Preset("method", "HEAD")),
    Foreign::new("curl", "--location", Means::Same("follow-redirects")),
    Foreign::value("curl", "-x", Means::Same("proxy")),
    Foreign::value("curl", "--noproxy", Means::Anyway),
    Foreign::value(
        "curl",
        "--retry",
        Means::Refused("probe wait-for retries, with backoff, until its --timeout"),
    ),
    Foreign::value(
        "curl",
        "-w",
        Means::Refused("probe prints one line per check (--json for machines)"),
    ),
    Foreign::value(
        "curl",
        "--write-out",
        Means::Refused("probe prints one line per check (--json for machines)"),
    ),
    Foreign::value(
        "curl",
        "-A",
        Means::Refused("send it as a header: -H 'User-Agent: ...'"),
    ),
    Foreign::new("wget", "--spider", Means::Anyway),
    Foreign::value("wget", "-O", Means::Anyway),
    Foreign::value("wget", "--output-document", Means::Anyway),
    Foreign::value("wget", "-T", Means::Seconds("timeout")),
    Foreign::new("wget", "--no-check-certificate", Means::Same("insecure")),
    Foreign::value("wget", "--ca-certificate", Means::Same("ca-file")),
    Foreign::value("wget", "--certificate", Means::Same("cert")),
    Foreign::value("wget", "--private-key", Means::Same("key")),
    Foreign::value(
        "wget",
        "-t",
        Means::Refused("probe wait-for retries, with backoff, until its --timeout"),
    ),
    Foreign::value(
        "wget",
        "--tries",
        Means::Refused("probe wait-for retries, with backoff, until its --timeout"),
    ),
    Foreign::value(
        "wget",
        "--password",
        Means::Refused("it would show in `ps`: --password-file, or -u USER:PASSWORD"),
    ),
];

/// What `probe http` is told.
pub struct HttpSettings {
    pub url: String,
    pub method: Option<String>,
    pub expect_status: Option<String>,
    pub header: Vec<String>,
    pub host: Option<String>,
    pub connect_to: Option<String>,
    pub follow_redirects: bool,
    pub location_trusted: bool,
    pub body_contains: Vec<String>,
    pub expect_json: Vec<String>,
    pub data: Option<String>,
    pub unix_socket: Option<PathBuf>,
    pub proxy: Option<String>,
    pub user: Option<String>,
    pub user_file: Option<PathBuf>,
    pub password_file: Option<PathBuf>,
    pub tls_files: TlsFiles,
}

impl HttpSettings {
    pub fn from_words(words: &Words) -> HttpSettings {
        HttpSettings {
            url: words.positional().unwrap_or_default(),
            method: words.text("method"),
            expect_status: words.text("expect-status"),
            header: words.list("header"),
            host: words.text("host"),
            connect_to: words.text("connect-to"),
            follow_redirects: words.switch("follow-redirects"),
            location_trusted: words.switch("location-trusted"),
            body_contains: words.list("body-contains"),
            expect_json: words.list("expect-json"),
            data: words.text("data"),
            unix_socket: words.text("unix-socket").map(PathBuf::from),
            proxy: words.text("proxy"),
            user: words.text("user"),
            user_file: words.text("user-file").map(PathBuf::from),
            password_file: words.text("password-file").map(PathBuf::from),
            tls_files: TlsFiles::from_words(words),
        }
    }
}
