//! `probe postgres`'s options (pg_isready's names and meanings) and the settings read
//! from them.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use super::PostgresCheck;
use crate::duration::Span;
use crate::options::blocks::{
    user_flag, CheckTimeout, Query, TlsFiles, OUTPUT, PASSWORD_FILE, QUERY, TLS_FILES, USER_FILE,
};
use crate::options::{Arity, Opt, Positional, Spec, Words};
use crate::outcome::UsageError;
use crate::registry::Check;

pub static CHECK: Check = Check {
    spec: Spec {
        name: "postgres",
        about: "Check a PostgreSQL server. Default: healthy when it answers and is not \
                starting up, shutting down or in recovery (pg_isready's rule; a refused login \
                still means up, and no password is sent unless one is given). With --query, \
                --primary or --replica: log in and check. Without URL: DATABASE_URL, else \
                PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE, PGCONNECT_TIMEOUT, \
                PGAPPNAME; default postgres@localhost:5432 over TCP.",
        positional: Positional {
            name: "URL",
            arity: Arity::Optional,
            help:
                "postgres://[user[:password]@][host][:port][/dbname][?sslmode=...&host=/socket/dir]",
        },
        options: &[OWN, QUERY, ROLE, LOGIN, TLS_FILES, OUTPUT],
        foreign: &[],
        usage: None,
        notes: &[],
        examples: &[],
    },
    timeout: |words| {
        Ok(words
            .parsed::<PgTimeout>("timeout")?
            .map(|PgTimeout(span)| span))
    },
    build: |words| {
        Ok(vec![Box::new(PostgresCheck::new(
            &PostgresSettings::from_words(words)?,
        )?)])
    },
};

const OWN: &[Opt] = &[
    Opt::value(
        "host",
        "server host name, IP address or socket directory (pg_isready -h; default localhost)",
    )
    .short('h'),
    Opt::value("port", "server port (pg_isready -p; default 5432)").short('p'),
    Opt::value(
        "timeout",
        "time limit for the whole check, DNS to last byte: seconds as pg_isready -t writes them (3), or a duration (500ms); default 5s, not 0",
    )
    .short('t'),
];

const ROLE: &[Opt] = &[
    Opt::switch(
        "primary",
        "log in: healthy only on a primary (pg_is_in_recovery() is false)",
    ),
    Opt::switch(
        "replica",
        "log in: healthy only on a replica (pg_is_in_recovery() is true)",
    ),
];

const LOGIN: &[Opt] = &[
    Opt::value(
        "username",
        "user name (pg_isready -U; default: the URL's, else PGUSER, else postgres)",
    )
    .short('U'),
    Opt::value("user", "the same as --username").hidden(),
    USER_FILE,
    Opt::value(
        "dbname",
        "database name (pg_isready -d; default: the URL's, else PGDATABASE, else the user name)",
    )
    .short('d'),
    PASSWORD_FILE,
    Opt::value(
        "sslmode",
        "disable, prefer (default: TLS when offered, unverified), require, verify-ca or verify-full",
    ),
];

/// What `probe postgres` is told.
pub struct PostgresSettings {
    pub url: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub sql: Query,
    pub primary: bool,
    pub replica: bool,
    pub username: Option<String>,
    pub user: Option<String>,
    pub dbname: Option<String>,
    pub password_file: Option<PathBuf>,
    pub sslmode: Option<String>,
    pub tls_files: TlsFiles,
}

impl PostgresSettings {
    pub fn from_words(words: &Words) -> Result<PostgresSettings, UsageError> {
        Ok(PostgresSettings {
            url: words.positional(),
            host: words.text("host"),
            port: words.parsed("port")?,
            sql: Query::from_words(words)?,
            primary: words.switch("primary"),
            replica: words.switch("replica"),
            username: user_flag(words, "username")?,
            user: words.text("user"),
            dbname: words.text("dbname"),
            password_file: words.text("password-file").map(PathBuf::from),
            sslmode: words.text("sslmode"),
            tls_files: TlsFiles::from_words(words),
        })
    }
}

/// `probe postgres -t`: pg_isready's seconds (`-t 3`), or any duration (`-t 500ms`).
#[derive(Clone, Copy, Debug)]
pub struct PgTimeout(pub Span);

impl FromStr for PgTimeout {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            let seconds: u64 = text
                .parse()
                .map_err(|_| format!("{text} seconds is too long"))?;
            if seconds == 0 {
                return Err(
                    "pg_isready's -t 0 means no limit, and a check always has one; give seconds, e.g. -t 3"
                        .into(),
                );
            }
            return Ok(PgTimeout(Span(Duration::from_secs(seconds))));
        }
        text.parse::<CheckTimeout>()
            .map(|CheckTimeout(span)| PgTimeout(span))
    }
}
