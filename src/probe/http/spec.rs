//! `probe http`'s options (curl's names where curl has one) and the settings read from them.

use std::path::PathBuf;

use super::HttpCheck;
use crate::options::blocks::{self, TlsFiles, INSECURE, OUTPUT, TLS_FILES};
use crate::options::{Arity, Opt, Positional, Spec, Words};
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
            tls_files: TlsFiles::from_words(words),
        }
    }
}
