//! `probe tcp`'s options (nc -z's HOST PORT form too) and the settings read from them.

use super::TcpCheck;
use crate::options::blocks::{self, TlsFiles, INSECURE, OUTPUT, TLS_FILES};
use crate::options::{Arity, Foreign, Means, Opt, Positional, Spec, Words};
use crate::registry::Check;

pub static CHECK: Check = Check {
    spec: Spec {
        name: "tcp",
        about: "Check that TCP connections open: healthy when every HOST:PORT accepts one. \
                nc -z's form works too: `probe tcp db 5432` (a word that is only a port number \
                joins the host before it; a lone port is never a target). With \
                --expect-banner, --send or --expect, the server must also answer as expected.",
        positional: Positional {
            name: "HOST:PORT",
            arity: Arity::Many,
            help: "HOST:PORT targets, e.g. db:5432 or [::1]:6379, or HOST PORT",
        },
        options: &[OWN, TLS_FILES, OUTPUT],
        foreign: NC,
        usage: None,
        notes: &[],
        examples: &[
            "probe tcp db:5432 cache:6379",
            "probe tcp db 5432",
            "probe tcp cache:11211 --send 'version\\r\\n' --expect VERSION",
            "probe tcp mail:25 --expect-banner 220 --send 'QUIT\\r\\n' --expect 221",
        ],
    },
    timeout: blocks::check_timeout,
    build: |words| TcpCheck::probes(&TcpSettings::from_words(words)),
};

const OWN: &[Opt] = &[
    Opt::value(
        "timeout",
        "time limit for the whole check, DNS to connected (or to the expected reply), all targets together, e.g. 2s or 500ms (default 5s; not 0)",
    ),
    Opt::value(
        "expect-banner",
        "read what the server says first and require TEXT in it (SMTP, FTP: 220; SSH: SSH-2.0); escapes as for --send",
    ),
    Opt::value(
        "send",
        "bytes to send once connected (after the banner, if any); escapes \\r \\n \\t \\0 \\\\ \\\" \\xHH; never printed",
    ),
    Opt::value(
        "expect",
        "the reply (without --send or a banner: what the server says first) must contain TEXT; reading stops when it appears, when the server closes, at 64 KiB, or at --timeout",
    ),
    Opt::switch(
        "tls",
        "speak TLS after connecting, verified against HOST (with --ca-file, --cert/--key, -k)",
    ),
    INSECURE,
];

/// nc's flags from `nc -z -w 2 host port` lines.
const NC: &[Foreign] = &[
    Foreign::new("nc", "-z", Means::Anyway),
    Foreign::new("nc", "-v", Means::Anyway),
    Foreign::new("nc", "-n", Means::Anyway),
    Foreign::value("nc", "-w", Means::Seconds("timeout")),
    Foreign::new(
        "nc",
        "-u",
        Means::Refused("probe speaks TCP; for a DNS server, probe dns"),
    ),
];

/// What `probe tcp` is told.
pub struct TcpSettings {
    /// HOST:PORT words, or HOST PORT pairs.
    pub targets: Vec<String>,
    pub expect_banner: Option<String>,
    pub send: Option<String>,
    pub expect: Option<String>,
    pub tls: bool,
    pub tls_files: TlsFiles,
}

impl TcpSettings {
    pub fn from_words(words: &Words) -> TcpSettings {
        TcpSettings {
            // `tcp://db:5432`, a TARGET's URL, is the same target here.
            targets: words
                .positionals()
                .into_iter()
                .map(|word| match word.strip_prefix("tcp://") {
                    Some(rest) => rest.trim_end_matches('/').to_string(),
                    None => word,
                })
                .collect(),
            expect_banner: words.text("expect-banner"),
            send: words.text("send"),
            expect: words.text("expect"),
            tls: words.switch("tls"),
            tls_files: TlsFiles::from_words(words),
        }
    }
}
