//! `probe mongodb`'s options and the settings read from them.

use std::path::PathBuf;

use super::MongoCheck;
use crate::options::blocks::{
    self, user_flag, TlsFiles, INSECURE, OUTPUT, PASSWORD_FILE, TLS_FILES, USER_FILE,
};
use crate::options::{Arity, Opt, Positional, Spec, Words};
use crate::outcome::UsageError;
use crate::registry::Check;

pub static CHECK: Check = Check {
    spec: Spec {
        name: "mongodb",
        about: "Check a MongoDB server: healthy when `hello` answers ok and the server serves \
                (a primary, secondary, arbiter, standalone or mongos; a replica set member in \
                RECOVERING, STARTUP2 and the like is not), and, with a user, when the SCRAM \
                login (SHA-256, or SHA-1 where the server offers only it; the server's proof \
                required) and `ping` succeed; a refused password is fatal. With several \
                hosts, the first that answers decides; mongodb+srv:// finds them in DNS. \
                Without a URL, uses $MONGODB_URL, else $MONGO_URL, else \
                mongodb://localhost:27017.",
        positional: Positional {
            name: "URL",
            arity: Arity::Optional,
            help: "mongodb://[user:password@]host[:port][,host[:port]...][/db][?authSource=...\
                   &tls=true&replicaSet=...], or mongodb+srv://[user:password@]name[/db][?...]",
        },
        options: &[OWN, TLS_FILES, OUTPUT],
        foreign: &[],
        usage: None,
        notes: &[],
        examples: &[
            "probe mongodb",
            "probe mongodb mongodb://db:27017 --role primary",
            "probe mongodb mongodb://app@db/shop --password-file /run/secrets/mongo",
            "probe mongodb mongodb://db/ --query '{\"replSetGetStatus\":1}' --expect /myState=1",
        ],
    },
    timeout: blocks::check_timeout,
    build: |words| {
        Ok(vec![Box::new(MongoCheck::new(
            &MongoSettings::from_words(words)?,
        )?)])
    },
};

const OWN: &[Opt] = &[
    Opt::value(
        "user",
        "log in as this user (SCRAM, against the URL's authSource, default its database, else admin)",
    ),
    USER_FILE,
    PASSWORD_FILE,
    Opt::value(
        "role",
        "primary (a writable primary; a standalone server is one), secondary, or any (default)",
    ),
    Opt::value(
        "query",
        "after the login, run this command document, JSON such as '{\"ping\":1}', against the \
         URL's database (default admin): it must answer ok: 1",
    ),
    Opt::value(
        "expect",
        "with --query: a value of the reply, as /pointer=value (RFC 6901, read as JSON like \
         http's --expect-json), e.g. /ok=1; repeating one pointer accepts any of its values",
    )
    .repeatable(),
    Opt::switch("tls", "connect with TLS, like tls=true in the URL"),
    INSECURE,
    Opt::value(
        "dns-server",
        "mongodb+srv://: ask this DNS server (HOST[:PORT]) for the SRV and TXT records and the \
         hosts' addresses, instead of /etc/resolv.conf's",
    ),
    Opt::value(
        "timeout",
        "time limit for the whole check, DNS to the last reply, e.g. 2s or 500ms (default 5s; not 0)",
    ),
];

/// What `probe mongodb` is told.
#[derive(Debug, Default)]
pub struct MongoSettings {
    pub url: Option<String>,
    pub user: Option<String>,
    pub password_file: Option<PathBuf>,
    pub role: Option<String>,
    pub query: Option<String>,
    pub expect: Vec<String>,
    pub tls: bool,
    pub dns_server: Option<String>,
    pub tls_files: TlsFiles,
}

impl MongoSettings {
    pub fn from_words(words: &Words) -> Result<MongoSettings, UsageError> {
        Ok(MongoSettings {
            url: words.positional(),
            user: user_flag(words, "user")?,
            password_file: words.text("password-file").map(Into::into),
            role: words.text("role"),
            query: words.text("query"),
            expect: words.list("expect"),
            tls: words.switch("tls"),
            dns_server: words.text("dns-server"),
            tls_files: TlsFiles::from_words(words),
        })
    }
}
