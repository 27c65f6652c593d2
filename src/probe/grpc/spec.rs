//! `probe grpc`'s options (grpc_health_probe's meanings) and the settings read from them.

use super::GrpcCheck;
use crate::options::blocks::{self, TlsFiles, INSECURE, OUTPUT, TLS_FILES};
use crate::options::{Arity, Foreign, Means, Opt, Positional, Spec, Words};
use crate::registry::Check;

pub static CHECK: Check = Check {
    spec: Spec {
        name: "grpc",
        about: "Check a gRPC server with the gRPC Health Checking Protocol v1 (h2c, or TLS \
                with ALPN h2): healthy only when it answers SERVING. NOT_SERVING and UNKNOWN \
                are unhealthy; an unknown service and a server without the health service are \
                fatal.",
        positional: Positional {
            name: "TARGET",
            arity: Arity::One,
            help: "the server: HOST:PORT, grpc://HOST:PORT or grpcs://HOST:PORT (TLS), e.g. localhost:50051",
        },
        options: &[OWN, TLS_FILES, OUTPUT],
        foreign: GRPC_HEALTH_PROBE,
        usage: None,
        notes: &[],
        examples: &[],
    },
    timeout: blocks::check_timeout,
    build: |words| Ok(vec![Box::new(GrpcCheck::new(&GrpcSettings::from_words(words))?)]),
};

const OWN: &[Opt] = &[
    Opt::value(
        "service",
        "the service to ask about (default: the server's overall health)",
    ),
    Opt::switch(
        "tls",
        "speak TLS (as grpcs:// does), verified against the built-in roots or --ca-file",
    ),
    INSECURE,
    Opt::value(
        "server-name",
        "the name to verify the certificate against and send as SNI (default: HOST)",
    ),
    Opt::value(
        "header",
        "metadata 'key: value' sent with the call, e.g. 'authorization: Bearer ...' (repeatable; never printed)",
    )
    .short('H')
    .repeatable(),
    Opt::value(
        "timeout",
        "time limit for the whole check, DNS to the health answer, e.g. 2s or 500ms (default 5s; not 0)",
    ),
];

/// grpc_health_probe's flags (Go's `-flag value` and `-flag=value`), so its lines paste.
const GRPC_HEALTH_PROBE: &[Foreign] = &[
    Foreign::value("grpc_health_probe", "-addr", Means::Positional),
    Foreign::value("grpc_health_probe", "-service", Means::Same("service")),
    Foreign::new("grpc_health_probe", "-tls", Means::Same("tls")),
    Foreign::new(
        "grpc_health_probe",
        "-tls-no-verify",
        Means::Same("insecure"),
    ),
    Foreign::value("grpc_health_probe", "-tls-ca-cert", Means::Same("ca-file")),
    Foreign::value("grpc_health_probe", "-tls-client-cert", Means::Same("cert")),
    Foreign::value("grpc_health_probe", "-tls-client-key", Means::Same("key")),
    Foreign::value(
        "grpc_health_probe",
        "-tls-server-name",
        Means::Same("server-name"),
    ),
    Foreign::value("grpc_health_probe", "-rpc-header", Means::Same("header")),
    Foreign::value("grpc_health_probe", "-rpc-timeout", Means::Same("timeout")),
    // probe has one deadline for the whole check, connect included.
    Foreign::value("grpc_health_probe", "-connect-timeout", Means::Anyway),
    Foreign::value("grpc_health_probe", "-user-agent", Means::Anyway),
    Foreign::new("grpc_health_probe", "-v", Means::Anyway),
    Foreign::new(
        "grpc_health_probe",
        "-alts",
        Means::Refused("ALTS is not supported; use TLS (--tls)"),
    ),
    Foreign::new(
        "grpc_health_probe",
        "-spiffe",
        Means::Refused("SPIFFE is not supported; use TLS with --cert/--key"),
    ),
    Foreign::new(
        "grpc_health_probe",
        "-gzip",
        Means::Refused("probe's health request is a few bytes: compression has no use"),
    ),
];

/// What `probe grpc` is told.
pub struct GrpcSettings {
    pub target: String,
    pub service: Option<String>,
    pub tls: bool,
    pub server_name: Option<String>,
    pub header: Vec<String>,
    pub tls_files: TlsFiles,
}

impl GrpcSettings {
    pub fn from_words(words: &Words) -> GrpcSettings {
        GrpcSettings {
            target: words.positional().unwrap_or_default(),
            service: words.text("service"),
            tls: words.switch("tls"),
            server_name: words.text("server-name"),
            header: words.list("header"),
            tls_files: TlsFiles::from_words(words),
        }
    }
}
