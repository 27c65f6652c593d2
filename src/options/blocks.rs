//! The options many checks share, declared once: their table rows and the plain types the
//! checks' settings hold. A check lists a block in its [`Spec`](super::Spec) and reads it
//! with the block's `from_words`.

use std::path::PathBuf;
use std::str::FromStr;

use super::{Opt, Words};
use crate::duration::Span;
use crate::outcome::UsageError;

/// `--json` and `-q`: how every one-shot check prints. They belong to the whole command
/// line, so a TARGET of `check` or `wait-for` refuses them.
pub const OUTPUT: &[Opt] = &[
    Opt::switch(
        "json",
        "print one JSON object per check instead of a text line",
    ),
    Opt::switch("quiet", "print nothing: the exit code tells").short('q'),
];

/// `-k`, for the checks whose TLS is verified unless told otherwise.
pub const INSECURE: Opt =
    Opt::switch("insecure", "do not verify the server's certificate").short('k');

/// `--password-file`, for the checks that log in.
pub const PASSWORD_FILE: Opt = Opt::value(
    "password-file",
    "read the password from this file, e.g. a Docker secret (one trailing newline is ignored)",
);

/// `--user-file`, for the checks that log in: a user name from a Docker secret, as
/// `mysqladmin -u"$(cat /run/secrets/user)"` did.
pub const USER_FILE: Opt = Opt::value(
    "user-file",
    "read the user name from this file (one trailing newline is ignored)",
);

/// The user of `--user` (or the check's own name for it) or `--user-file`, never both.
pub fn user_flag(words: &Words, long: &str) -> Result<Option<String>, UsageError> {
    match (words.text(long), words.text("user-file")) {
        (Some(_), Some(_)) => crate::outcome::usage(format!(
            "the user is given twice: with --{long} and with --user-file"
        )),
        (Some(user), None) => Ok(Some(user)),
        (None, Some(path)) => {
            crate::fsread::read_value("--user-file", std::path::Path::new(&path)).map(Some)
        }
        (None, None) => Ok(None),
    }
}

/// The login of a check whose URL may hold `user:password@` (amqp, mongodb): the URL's, or
/// `--user`/`--user-file` with `--password-file`. A user given twice differently, a password
/// given twice, and half a login are usage errors.
pub fn url_login(
    url_user: Option<&String>,
    url_password: Option<&String>,
    user: Option<&String>,
    password_file: Option<&std::path::Path>,
) -> Result<Option<(String, String)>, UsageError> {
    use crate::outcome::usage;
    let user = match (url_user, user) {
        (Some(in_url), Some(flag)) if in_url != flag => {
            return usage(format!(
                "the user is given twice: {in_url:?} in the URL and {flag:?} with --user"
            ))
        }
        (in_url, flag) => in_url.or(flag).cloned(),
    };
    let password = match (url_password, password_file) {
        (Some(_), Some(_)) => {
            return usage("the password is given twice: in the URL and with --password-file")
        }
        (Some(password), None) => Some(password.clone()),
        (None, Some(path)) => Some(crate::redact::read_password_file(path)?),
        (None, None) => None,
    };
    match (user, password) {
        (Some(user), Some(password)) => Ok(Some((user, password))),
        (Some(user), None) => usage(format!(
            "user {user:?} needs a password (in the URL or with --password-file)"
        )),
        (None, Some(_)) => usage("a password needs a user (in the URL or with --user)"),
        (None, None) => Ok(None),
    }
}

/// The certificate files of every check that speaks TLS.
pub const TLS_FILES: &[Opt] = &[
    Opt::value(
        "ca-file",
        "PEM file of CA certificates to trust instead of the built-in web roots",
    ),
    Opt::value("cert", "client certificate chain (PEM) for mutual TLS"),
    Opt::value("key", "client private key (PEM) for mutual TLS"),
];

/// `--query` and `--expect` of the checks that log in to a database.
pub const QUERY: &[Opt] = &[
    Opt::value(
        "query",
        "log in and run this SQL: healthy when it succeeds and returns at least one row",
    ),
    Opt::value(
        "expect",
        "with --query: the first column of the first row must be this text",
    ),
];

/// The flags every one-shot check shares, wherever it is written.
#[derive(Clone, Copy, Debug, Default)]
pub struct Common {
    pub timeout: Option<Span>,
    pub json: bool,
    pub quiet: bool,
}

impl Common {
    pub fn from_words(words: &Words, timeout: Option<Span>) -> Common {
        Common {
            timeout,
            json: words.switch("json"),
            quiet: words.switch("quiet"),
        }
    }
}

/// A one-shot check's `--timeout`: a duration above zero. `0` means "no limit" wherever
/// probe accepts it (wait-for, migrate-then-exec), and a check always has a limit.
#[derive(Clone, Copy, Debug)]
pub struct CheckTimeout(pub Span);

pub const NO_ZERO_TIMEOUT: &str =
    "0 means no limit, and a check always has one (wait-for --timeout 0 waits forever); give e.g. 5s";

impl FromStr for CheckTimeout {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.parse::<Span>()? {
            Span(zero) if zero.is_zero() => Err(NO_ZERO_TIMEOUT.into()),
            span => Ok(CheckTimeout(span)),
        }
    }
}

/// The `--timeout` rule of most checks: [`CheckTimeout`].
pub fn check_timeout(words: &Words) -> Result<Option<Span>, UsageError> {
    Ok(words
        .parsed::<CheckTimeout>("timeout")?
        .map(|CheckTimeout(span)| span))
}

/// `--ca-file`, `--cert`, `--key`, and `-k` where the check has it.
#[derive(Clone, Debug, Default)]
pub struct TlsFiles {
    pub ca_file: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub insecure: bool,
}

impl TlsFiles {
    pub fn from_words(words: &Words) -> TlsFiles {
        TlsFiles {
            ca_file: words.text("ca-file").map(PathBuf::from),
            cert: words.text("cert").map(PathBuf::from),
            key: words.text("key").map(PathBuf::from),
            insecure: words.switch_if_declared("insecure"),
        }
    }

    /// Whether any TLS option was given: a check without TLS refuses them rather than
    /// ignoring them.
    pub fn any(&self) -> bool {
        self.any_file() || self.insecure
    }

    /// Whether a certificate file was given (`-k` on a cleartext URL is harmless, as
    /// curl users write it; a file that would go unread is a mistake).
    pub fn any_file(&self) -> bool {
        self.ca_file.is_some() || self.cert.is_some() || self.key.is_some()
    }

    /// The shared TLS client for a check that speaks TLS on [`crate::stream`], verified
    /// against `name` (unless `-k`); `alpn` names the protocols to offer (grpc: `h2`).
    #[cfg(feature = "tls")]
    pub fn setup(&self, name: &str, alpn: &[&[u8]]) -> Result<crate::tls::Setup, UsageError> {
        crate::tls::Setup::from_files(
            name,
            self.ca_file.as_deref(),
            self.cert.as_deref(),
            self.key.as_deref(),
            self.insecure,
            alpn,
        )
    }
}

/// `--query` and `--expect`, checked: `--expect` compares what a query returns, so it
/// needs one, and a blank query is a mistake, not a check.
#[derive(Clone, Debug, Default)]
pub struct Query {
    pub query: Option<String>,
    pub expect: Option<String>,
}

impl Query {
    pub fn from_words(words: &Words) -> Result<Query, UsageError> {
        let query = words.text("query");
        let expect = words.text("expect");
        if expect.is_some() && query.is_none() {
            return crate::outcome::usage("--expect needs --query");
        }
        if query.as_deref().is_some_and(|sql| sql.trim().is_empty()) {
            return crate::outcome::usage("--query is empty");
        }
        Ok(Query { query, expect })
    }
}
