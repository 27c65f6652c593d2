//! `probe redis`'s options (redis-cli's own where they exist) and the settings read from them.

use super::RedisCheck;
use crate::options::blocks::{self, TlsFiles, INSECURE, OUTPUT, PASSWORD_FILE, TLS_FILES};
use crate::options::{Arity, Foreign, Means, Opt, Positional, Spec, Words};
use crate::outcome::UsageError;
use crate::registry::Check;

pub static CHECK: Check = Check {
    spec: Spec {
        name: "redis",
        about: "Check a Redis or Valkey server: healthy only when PING answers PONG (NOAUTH, \
                LOADING, BUSY, MASTERDOWN and other error replies are unhealthy). Without a \
                URL, uses $REDIS_URL, else redis://127.0.0.1:6379.",
        positional: Positional {
            name: "URL",
            arity: Arity::Optional,
            help: "redis://[user[:password]@]host[:port][/db], rediss://... (TLS), \
                   unix:///path or redis+unix:///path",
        },
        options: &[OWN, TLS_FILES, OUTPUT],
        foreign: REDIS_CLI,
        usage: None,
        notes: &[],
        examples: &[],
    },
    timeout: blocks::check_timeout,
    build: |words| {
        Ok(vec![Box::new(RedisCheck::new(
            &RedisSettings::from_words(words)?,
        )?)])
    },
};

const OWN: &[Opt] = &[
    Opt::value(
        "host",
        "server host (redis-cli -h; default 127.0.0.1); with -h, -p, -n or --tls, REDIS_URL is not read",
    )
    .short('h'),
    Opt::value("port", "server port (redis-cli -p; default 6379)").short('p'),
    Opt::value("db", "database number to SELECT (redis-cli -n)").short('n'),
    Opt::switch(
        "tls",
        "connect with TLS, like a rediss:// URL (redis-cli --tls)",
    ),
    Opt::value(
        "user",
        "ACL user to authenticate as (Redis 6 or later; needs a password)",
    ),
    Opt::value(
        "password",
        "the password (redis-cli -a); it shows in `ps`: --password-file or the URL from REDIS_URL do not",
    )
    .short('a')
    .secret(),
    PASSWORD_FILE,
    Opt::value(
        "role",
        "healthy only with this role: master, or replica (whose link to its master must be up)",
    ),
    INSECURE,
    Opt::value(
        "timeout",
        "time limit for the whole check, DNS to the last reply, e.g. 2s or 500ms (default 5s; not 0)",
    ),
];

/// redis-cli's flags beyond those probe redis shares with it (-h -p -n -a --user --tls).
const REDIS_CLI: &[Foreign] = &[
    Foreign::new("redis-cli", "--no-auth-warning", Means::Anyway),
    Foreign::value("redis-cli", "--cacert", Means::Same("ca-file")),
    Foreign::value(
        "redis-cli",
        "-u",
        Means::Refused("give the URL as the argument: probe redis redis://..."),
    ),
    Foreign::value(
        "redis-cli",
        "-r",
        Means::Refused("probe wait-for repeats, with backoff, until its --timeout"),
    ),
];

/// What `probe redis` is told.
pub struct RedisSettings {
    pub url: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub db: Option<u32>,
    pub tls: bool,
    pub user: Option<String>,
    pub password: Option<String>,
    pub password_file: Option<std::path::PathBuf>,
    pub role: Option<String>,
    pub tls_files: TlsFiles,
}

impl RedisSettings {
    pub fn from_words(words: &Words) -> Result<RedisSettings, UsageError> {
        Ok(RedisSettings {
            // `redis-cli ping`'s command word: probe redis always pings.
            url: words.positional().filter(|word| word != "ping"),
            host: words.text("host"),
            port: words.parsed("port")?,
            db: words.parsed("db")?,
            tls: words.switch("tls"),
            user: words.text("user"),
            password: words.text("password"),
            password_file: words.text("password-file").map(Into::into),
            role: words.text("role"),
            tls_files: TlsFiles::from_words(words),
        })
    }
}
