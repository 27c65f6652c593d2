//! From words to checks: the one place where a command line (`probe http URL ...`) or a
//! TARGET (`http://...`, `'redis redis://cache --role master'`) becomes a list of
//! [`Probe`]s. TARGETs go through the very same option tables as the subcommands, so a flag
//! means the same thing in a HEALTHCHECK line and inside `check` or `wait-for`.

use std::time::Duration;

use crate::cli::parse_check;
use crate::options::blocks::Common;
use crate::options::{Early, Words};
use crate::outcome::{usage, UsageError};
use crate::probe::Probe;
use crate::registry::{self, Kind};

/// One check to run, with its own time limit if the user gave one.
pub struct Target {
    pub probe: Box<dyn Probe>,
    pub timeout: Option<Duration>,
}

/// The checks of a one-shot command line, and its shared flags.
pub struct Checks {
    pub targets: Vec<Target>,
    pub common: Common,
}

/// Builds the probes a check's words describe, with their shared flags.
pub fn checks(kind: &Kind, words: &Words) -> Result<Checks, UsageError> {
    let check = kind.built()?;
    let common = Common::from_words(words, (check.timeout)(words)?);
    let timeout = common.timeout.map(|span| span.0);
    let targets = (check.build)(words)?
        .into_iter()
        .map(|probe| Target { probe, timeout })
        .collect();
    Ok(Checks { targets, common })
}

/// Parses one TARGET of `check` or `wait-for`: a URL whose scheme names the check, or a
/// check command line split with shell-like quoting (never by a shell).
pub fn parse(text: &str) -> Result<Vec<Target>, UsageError> {
    let shown = crate::redact::url_password(text);
    let checks = parse_words(&words(text)?)
        .map_err(|error| UsageError::new(format!("target {shown:?}: {error}")))?;
    if checks.common.json || checks.common.quiet {
        return usage(format!(
            "target {shown:?}: --json and -q belong before the targets, not inside one"
        ));
    }
    Ok(checks.targets)
}

/// A TARGET as check words: `postgres://db/app` → `["postgres", "postgres://db/app"]`,
/// `'http http://x --timeout 2s'` → `["http", "http://x", "--timeout", "2s"]`.
pub fn words(text: &str) -> Result<Vec<String>, UsageError> {
    match shorthand(text)? {
        Some(words) => Ok(words),
        None => shlex::split(text)
            .map(split_long_values)
            .filter(|words| !words.is_empty())
            .ok_or_else(|| {
                UsageError::new(format!(
                    "target {:?}: unbalanced quotes or empty",
                    crate::url::mask(text)
                ))
            }),
    }
}

/// GNU's `--name=value` as argh reads it, `--name value`: every long option of every
/// command takes its value either way (`--timeout=5s`, `--migrate='alembic upgrade head'`,
/// `--expect-json=/status=ok`: split at the first `=`). A switch given a value
/// (`--json=true`) is left to argh, which refuses the word after it.
pub fn split_long_values(words: Vec<String>) -> Vec<String> {
    let mut split = Vec::with_capacity(words.len());
    for word in words {
        let name_len = word
            .strip_prefix("--")
            .and_then(|rest| rest.split_once('='))
            .filter(|(name, _)| {
                name.starts_with(|c: char| c.is_ascii_lowercase())
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            })
            .map(|(name, _)| name.len());
        match name_len {
            Some(len) => {
                split.push(word[..2 + len].to_string());
                split.push(word[3 + len..].to_string());
            }
            None => split.push(word),
        }
    }
    split
}

/// `tcp://db:5432` and bare `db:5432` → `tcp db:5432`; `https://x/` → `http https://x/`;
/// `postgresql+asyncpg://...` → `postgres ...`. A URL of an unknown scheme is an error
/// here, with its password masked, rather than a confusing argh message.
fn shorthand(text: &str) -> Result<Option<Vec<String>>, UsageError> {
    // A command line starts with a check's name, never with `scheme://`: a URL with a
    // space (a password `${PW}` put there) stays one URL, which its check refuses whole
    // (masked), instead of words that show a piece of the password.
    let is_url = text.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    if !is_url && text.contains(char::is_whitespace) {
        return Ok(None);
    }
    let Some((scheme, rest)) = text.split_once("://") else {
        return Ok(is_host_port(text).then(|| vec!["tcp".into(), text.into()]));
    };
    let scheme = scheme.to_ascii_lowercase();
    // SQLAlchemy-style driver schemes: postgresql+asyncpg://, postgres+psycopg://.
    let base = match scheme.split_once('+') {
        Some((base @ ("postgres" | "postgresql"), _)) => base,
        _ => scheme.as_str(),
    };
    match registry::by_scheme(base) {
        Some(kind) if kind.name == "tcp" => {
            Ok(Some(vec!["tcp".into(), rest.trim_end_matches('/').into()]))
        }
        Some(kind) => Ok(Some(vec![kind.name.to_string(), text.into()])),
        None => usage(format!(
            "target {:?}: unknown scheme {scheme:?} (known: {}, postgresql+DRIVER)",
            crate::redact::url_password(text),
            registry::KINDS
                .iter()
                .flat_map(|kind| kind.schemes.iter().copied())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// `db:5432`, `[::1]:5432`: what wait-for-it users write for a TCP target. The port is
/// validated by the tcp check (a bad one is a usage error there).
fn is_host_port(text: &str) -> bool {
    match text.rsplit_once(':') {
        Some((host, port)) => {
            !host.is_empty()
                && !host.starts_with('-')
                && !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// Parses check words (`["http", "http://x", "--timeout", "2s"]`) against the check's
/// option table, the same way as its command line.
pub fn parse_words(words: &[String]) -> Result<Checks, UsageError> {
    let Some((name, rest)) = words.split_first() else {
        return usage(format!("missing the check name ({})", registry::names()));
    };
    let Some(kind) = registry::find(name) else {
        return usage(format!(
            "{name:?} is not a check; TARGETs are checks ({})",
            registry::names()
        ));
    };
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    let words = parse_check(kind, &rest).map_err(|early| match early {
        Early::Error(error) => error,
        Early::Help => UsageError::new("--help shows a command's help; it is not a TARGET"),
    })?;
    checks(kind, &words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn short(text: &str) -> Option<Vec<String>> {
        shorthand(text).unwrap()
    }

    #[test]
    fn url_shorthands_pick_the_check() {
        assert_eq!(short("tcp://db:5432").unwrap(), ["tcp", "db:5432"]);
        assert_eq!(short("https://x/h").unwrap(), ["http", "https://x/h"]);
        assert_eq!(short("postgresql://db/app").unwrap()[0], "postgres");
        assert_eq!(
            short("postgresql+asyncpg://u@db/app").unwrap()[0],
            "postgres"
        );
        assert_eq!(short("rediss://cache").unwrap()[0], "redis");
        assert_eq!(short("unix:///run/redis.sock").unwrap()[0], "redis");
        assert_eq!(short("amqps://mq").unwrap(), ["amqp", "amqps://mq"]);
        assert_eq!(
            short("grpcs://api:443").unwrap(),
            ["grpc", "grpcs://api:443"]
        );
        assert_eq!(short("mariadb://db/app").unwrap()[0], "mysql");
        assert!(shorthand("ftp://x").is_err());
        assert!(short("http http://x").is_none());
    }

    #[test]
    fn bare_host_port_is_tcp() {
        assert_eq!(short("db:5432").unwrap(), ["tcp", "db:5432"]);
        assert_eq!(short("[::1]:5432").unwrap(), ["tcp", "[::1]:5432"]);
        assert!(short("db").is_none());
        for not_host_port in [":5432", "-p:5432", "db:", "db:54a2", "db:-1"] {
            assert!(short(not_host_port).is_none(), "{not_host_port}");
        }
        assert!(parse("db:99999").is_err());
        assert_eq!(parse("db:5432").unwrap()[0].probe.target(), "db:5432");
    }

    #[test]
    fn unknown_schemes_never_show_the_password() {
        let error = parse("nats://u:hunter2@broker/").err().unwrap();
        assert!(!error.0.contains("hunter2"), "{error}");
        assert!(error.0.contains("unknown scheme"), "{error}");
    }

    #[test]
    fn command_line_targets_reuse_the_subcommand_flags() {
        let targets = parse("tcp db:5432 cache:6379 --timeout 2s").unwrap();
        assert_eq!(targets.len(), 2);
        assert_eq!(targets[1].probe.target(), "cache:6379");
        assert_eq!(targets[0].timeout, Some(Duration::from_secs(2)));
    }

    #[test]
    fn bad_targets_are_usage_errors() {
        assert!(parse("tcp db").is_err());
        assert!(parse("'tcp db:1").is_err());
        assert!(parse("nope x").is_err());
        assert!(parse("tcp db:1 --json").err().unwrap().0.contains("--json"));
        assert!(parse("tcp db:1 -q")
            .err()
            .unwrap()
            .0
            .contains("-q belong before"));
        let error = parse("tcp db:1 --nope").err().unwrap().0;
        assert!(
            error.ends_with(": unrecognized argument: --nope"),
            "argh's reason, as one line: {error}"
        );
        assert!(parse("check tcp://x:1").is_err());
        assert!(parse("ftp://x").is_err());
    }
}
