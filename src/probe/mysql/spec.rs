//! `probe mysql`'s options (the mysql client's names) and the settings read from them.

use std::path::PathBuf;

use super::MysqlCheck;
use crate::options::blocks::{self, Query, TlsFiles, OUTPUT, PASSWORD_FILE, QUERY, TLS_FILES};
use crate::options::{Arity, Opt, Positional, Spec, Words};
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
    Opt::value("user", "user name (default: the URL's, else root)").short('u'),
    PASSWORD_FILE,
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
    pub user: Option<String>,
    pub password_file: Option<PathBuf>,
    pub sql: Query,
    pub ssl_mode: Option<String>,
    pub tls_files: TlsFiles,
}

impl MysqlSettings {
    pub fn from_words(words: &Words) -> Result<MysqlSettings, UsageError> {
        Ok(MysqlSettings {
            url: words.positional(),
            user: words.text("user"),
            password_file: words.text("password-file").map(PathBuf::from),
            sql: Query::from_words(words)?,
            ssl_mode: words.text("ssl-mode"),
            tls_files: TlsFiles::from_words(words),
        })
    }
}
