//! `probe amqp`'s options and the settings read from them.

use std::path::PathBuf;

use super::AmqpCheck;
use crate::options::blocks::{
    self, user_flag, TlsFiles, INSECURE, OUTPUT, PASSWORD_FILE, TLS_FILES, USER_FILE,
};
use crate::options::{Arity, Opt, Positional, Spec, Words};
use crate::outcome::UsageError;
use crate::registry::Check;

pub static CHECK: Check = Check {
    spec: Spec {
        name: "amqp",
        about: "Check a RabbitMQ (AMQP 0-9-1) broker: healthy when it answers the protocol \
                header with Connection.Start. With credentials: log in (PLAIN), open the \
                vhost, close cleanly; a refused login or an unknown vhost is fatal. Default \
                URL amqp://127.0.0.1:5672.",
        positional: Positional {
            name: "URL",
            arity: Arity::Optional,
            help: "amqp://[user[:password]@]host[:port][/vhost] or amqps://... (TLS, port 5671)",
        },
        options: &[OWN, TLS_FILES, OUTPUT],
        foreign: &[],
        usage: None,
        notes: &[],
        examples: &[],
    },
    timeout: blocks::check_timeout,
    build: |words| {
        Ok(vec![Box::new(AmqpCheck::new(&AmqpSettings::from_words(
            words,
        )?)?)])
    },
};

const OWN: &[Opt] = &[
    Opt::value(
        "user",
        "user to log in as (needs --password-file or a password in the URL)",
    ),
    USER_FILE,
    PASSWORD_FILE,
    Opt::value(
        "vhost",
        "virtual host to open after logging in (default: the URL's, else /)",
    ),
    Opt::switch(
        "check-alarms",
        "also publish one empty, unroutable message: unhealthy when a memory or disk alarm blocks publishers",
    ),
    INSECURE,
    Opt::value(
        "timeout",
        "time limit for the whole check, DNS to closed connection, e.g. 2s or 500ms (default 5s; not 0)",
    ),
];

/// What `probe amqp` is told.
pub struct AmqpSettings {
    pub url: Option<String>,
    pub user: Option<String>,
    pub password_file: Option<PathBuf>,
    pub vhost: Option<String>,
    pub check_alarms: bool,
    pub tls_files: TlsFiles,
}

impl AmqpSettings {
    pub fn from_words(words: &Words) -> Result<AmqpSettings, UsageError> {
        Ok(AmqpSettings {
            url: words.positional(),
            user: user_flag(words, "user")?,
            password_file: words.text("password-file").map(PathBuf::from),
            vhost: words.text("vhost"),
            check_alarms: words.switch("check-alarms"),
            tls_files: TlsFiles::from_words(words),
        })
    }
}
