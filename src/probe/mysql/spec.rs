//! `probe mysql`'s options (the mysql client's names) and the settings read from them.

use std::path::PathBuf;

use super::MysqlCheck;
use crate::options::blocks::{
    self, user_flag, Query, TlsFiles, OUTPUT, PASSWORD_FILE, QUERY, TLS_FILES, USER_FILE,
};
use crate::options::{Arity, Foreign, Means, Opt, Positional, Spec, Words};
use crate::outcome::UsageError;
use crate::registry::Check;

pub static CHECK: Check = Check {
    spec: Spec {
        name: "mysql",
        about: "Check a MySQL or MariaDB server the way `mysqladmin ping` means it: healthy \
                when it greets and accepts the login (then COM_PING answers) or refuses it \
                while no password was given (Access denied still means up). A given password \
                must work. Too many connections, host blocked and shutting down are unhealthy. \
                Password: the URL, else --password-file, else MYSQL_PWD. Default \
                mysql://root@localhost:3306 over TCP.",
        positional: Positional {
            name: "URL",
            arity: Arity::Optional,
            help: "mysql://[user[:password]@]host[:port][/db][?ssl-mode=...&socket=/path], \
                   mariadb://..., or mysql+unix:///path/to/mysqld.sock",
        },
        options: &[OWN, QUERY, TAIL, TLS_FILES, OUTPUT],
        foreign: MYSQLADMIN,
        usage: None,
        notes: &[],
        examples: &[],
    },
    timeout: blocks::check_timeout,
    build: |words| {
        Ok(vec![Box::new(MysqlCheck::new(
            &MysqlSettings::from_words(words)?,
        )?)])
    },
};

const OWN: &[Opt] = &[
    Opt::value(
        "host",
        "server host (mysqladmin -h; default localhost, over TCP: -S or --protocol socket for the socket)",
    )
    .short('h'),
    Opt::value("port", "server port (mysqladmin -P; default 3306)").short('P'),
    Opt::value("socket", "Unix socket path (mysqladmin -S)").short('S'),
    Opt::value("protocol", "tcp or socket (mysqladmin --protocol)"),
    Opt::value("user", "user name (default: the URL's, else root)").short('u'),
    USER_FILE,
    Opt::value(
        "password",
        "the password, as mysqladmin -pPASSWORD; it shows in `ps`: --password-file or MYSQL_PWD do not",
    )
    .short('p')
    .secret(),
    PASSWORD_FILE,
];

/// mysqladmin's flags beyond the ones probe mysql shares with it (-h -P -S -u -p
/// --protocol).
const MYSQLADMIN: &[Foreign] = &[
    Foreign::value("mysqladmin", "--ssl-ca", Means::Same("ca-file")),
    Foreign::value("mysqladmin", "--ssl-cert", Means::Same("cert")),
    Foreign::value("mysqladmin", "--ssl-key", Means::Same("key")),
    Foreign::new("mysqladmin", "--ssl", Means::Preset("ssl-mode", "REQUIRED")),
    Foreign::new(
        "mysqladmin",
        "--skip-ssl",
        Means::Preset("ssl-mode", "DISABLED"),
    ),
    Foreign::value("mysqladmin", "--connect-timeout", Means::Seconds("timeout")),
    Foreign::new("mysqladmin", "-s", Means::Anyway),
    Foreign::new("mysqladmin", "--silent", Means::Anyway),
    Foreign::value(
        "mysqladmin",
        "--wait",
        Means::Refused("probe wait-for waits, with backoff, until its --timeout"),
    ),
];

const TAIL: &[Opt] = &[
    Opt::value(
        "ssl-mode",
        "DISABLED, PREFERRED (default: TLS when offered, unverified), REQUIRED, VERIFY_CA or VERIFY_IDENTITY",
    ),
    Opt::value(
        "timeout",
        "time limit for the whole check, DNS to the last answer, e.g. 2s or 500ms (default 5s; not 0)",
    ),
];

/// What `probe mysql` is told.
pub struct MysqlSettings {
    pub url: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub socket: Option<PathBuf>,
    pub protocol: Option<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub password_file: Option<PathBuf>,
    pub sql: Query,
    pub ssl_mode: Option<String>,
    pub tls_files: TlsFiles,
}

impl MysqlSettings {
    pub fn from_words(words: &Words) -> Result<MysqlSettings, UsageError> {
        Ok(MysqlSettings {
            // `mysqladmin ping`'s command word: probe mysql always pings.
            url: words.positional().filter(|word| word != "ping"),
            host: words.text("host"),
            port: words.parsed("port")?,
            socket: words.text("socket").map(PathBuf::from),
            protocol: words.text("protocol"),
            user: user_flag(words, "user")?,
            password: words.text("password"),
            password_file: words.text("password-file").map(PathBuf::from),
            sql: Query::from_words(words)?,
            ssl_mode: words.text("ssl-mode"),
            tls_files: TlsFiles::from_words(words),
        })
    }
}
