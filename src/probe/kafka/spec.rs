//! `probe kafka`'s options and the settings read from them.

use std::path::PathBuf;

use super::KafkaCheck;
use crate::options::blocks::{
    self, user_flag, TlsFiles, INSECURE, OUTPUT, PASSWORD_FILE, TLS_FILES, USER_FILE,
};
use crate::options::{Arity, Opt, Positional, Spec, Words};
use crate::outcome::UsageError;
use crate::registry::Check;

pub static CHECK: Check = Check {
    spec: Spec {
        name: "kafka",
        about: "Check a Kafka broker: healthy when it answers ApiVersions and Metadata, lists \
                itself among the brokers, and the cluster has a controller; with --topic, \
                each topic must exist with a leader for every partition and every replica in \
                sync. With a user, logs in first (SASL SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN; \
                a refused login is fatal). With several hosts, the first that accepts the \
                connection decides. Without a list, uses $KAFKA_BOOTSTRAP_SERVERS, else \
                localhost:9092.",
        positional: Positional {
            name: "BOOTSTRAP",
            arity: Arity::Optional,
            help: "host[:port][,host[:port]...] (port 9092 by default), or \
                   kafka://[user:password@]host:port[,...]",
        },
        options: &[OWN, TLS_FILES, OUTPUT],
        foreign: &[],
        usage: None,
        notes: &[
            "Variables: KAFKA_BOOTSTRAP_SERVERS (the list), KAFKA_SASL_USERNAME, \
             KAFKA_SASL_PASSWORD and KAFKA_SASL_MECHANISM (the login, when neither the list \
             nor a flag gives one).",
        ],
        examples: &[
            "probe kafka",
            "probe kafka kafka-1:9092,kafka-2:9092 --topic orders",
            "probe kafka broker:9093 --tls --user app --password-file /run/secrets/kafka",
        ],
    },
    timeout: blocks::check_timeout,
    build: |words| {
        Ok(vec![Box::new(KafkaCheck::new(
            &KafkaSettings::from_words(words)?,
        )?)])
    },
};

const OWN: &[Opt] = &[
    Opt::value(
        "topic",
        "this topic must exist, every partition with a leader and all its replicas in sync (repeatable)",
    )
    .repeatable(),
    Opt::value(
        "user",
        "log in as this user (SASL; the password from --password-file, the URL or $KAFKA_SASL_PASSWORD)",
    ),
    USER_FILE,
    PASSWORD_FILE,
    Opt::value(
        "mechanism",
        "SASL mechanism: scram-sha-512 (default), scram-sha-256 or plain",
    ),
    Opt::switch("tls", "connect with TLS (the SSL and SASL_SSL listeners)"),
    INSECURE,
    Opt::value(
        "timeout",
        "time limit for the whole check, DNS to the last reply, e.g. 2s or 500ms (default 5s; not 0)",
    ),
];

/// What `probe kafka` is told.
#[derive(Debug, Default)]
pub struct KafkaSettings {
    pub bootstrap: Option<String>,
    pub topics: Vec<String>,
    pub user: Option<String>,
    pub password_file: Option<PathBuf>,
    pub mechanism: Option<String>,
    pub tls: bool,
    pub tls_files: TlsFiles,
}

impl KafkaSettings {
    pub fn from_words(words: &Words) -> Result<KafkaSettings, UsageError> {
        Ok(KafkaSettings {
            bootstrap: words.positional(),
            topics: words.list("topic"),
            user: user_flag(words, "user")?,
            password_file: words.text("password-file").map(Into::into),
            mechanism: words.text("mechanism"),
            tls: words.switch("tls"),
            tls_files: TlsFiles::from_words(words),
        })
    }
}
