//! `probe redis [URL]`: healthy only when PING answers PONG. Replaces `redis-cli ping`,
//! which prints `NOAUTH ...` or `LOADING ...` and still exits 0.
//!
//! The check connects (TCP, TLS or a Unix socket), authenticates when it has a password
//! (`AUTH [user] password`), selects the URL's database when one is given, sends PING and,
//! with `--role`, asks ROLE (or INFO replication where ROLE is not allowed). Every error
//! reply is unhealthy with the server's text; the ones time cannot fix (WRONGPASS, NOPERM, a
//! rejected AUTH or SELECT, NOAUTH when no password was given) are fatal. Valkey speaks the
//! same protocol.

pub mod resp;
mod spec;
mod url;
mod wire;

pub use spec::{RedisSettings, CHECK};

use crate::deadline::Deadline;
use crate::outcome::{usage, Outcome, UsageError};
use crate::probe::Probe;
use crate::redact;

use self::url::Endpoint;
use self::wire::{Reply, Wire};

/// Where `probe redis` goes without a URL and without `REDIS_URL` (redis-cli's default).
const DEFAULT_URL: &str = "redis://127.0.0.1:6379";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Master,
    Replica,
}

/// What the server says it is.
#[derive(Debug, PartialEq, Eq)]
enum Actual {
    Master,
    Replica { master: String, state: String },
    Other(String),
}

pub struct RedisCheck {
    endpoint: Endpoint,
    shown: String,
    user: Option<String>,
    password: Option<String>,
    db: Option<u32>,
    role: Option<Role>,
    #[cfg(feature = "tls")]
    tls: Option<wire::TlsSetup>,
}

/// `redis[s]://HOST:PORT[/DB]` from redis-cli's `-h`, `-p`, `-n` and `--tls`.
fn flags_url(args: &RedisSettings) -> Result<String, UsageError> {
    let host = args.host.as_deref().unwrap_or("127.0.0.1");
    if host.is_empty() || host.contains(['/', '@', '?', '#', ' ']) {
        return usage(format!("invalid -h {host:?} (a host name or IP address)"));
    }
    let host = match host.contains(':') && !host.starts_with('[') {
        true => format!("[{host}]"),
        false => host.to_string(),
    };
    let port = match args.port {
        Some(0) => return usage("invalid -p 0 (1-65535)"),
        Some(port) => port,
        None => url::DEFAULT_PORT,
    };
    let scheme = if args.tls { "rediss" } else { "redis" };
    let db = args.db.map(|db| format!("/{db}")).unwrap_or_default();
    Ok(format!("{scheme}://{host}:{port}{db}"))
}

/// With an explicit URL, redis-cli's flags may repeat it but never contradict it.
fn flags_agree_with_url(url: &url::RedisUrl, args: &RedisSettings) -> Result<(), UsageError> {
    let twice = |what: &str, in_url: String, flag: &str, value: String| {
        usage(format!(
            "the {what} is given twice: {in_url:?} in the URL and {value:?} with {flag}"
        ))
    };
    match &url.endpoint {
        Endpoint::Tcp { host, port } => {
            if let Some(flag) = args.host.as_deref() {
                if flag.trim_start_matches('[').trim_end_matches(']') != host {
                    return twice("host", host.clone(), "-h", flag.into());
                }
            }
            if let Some(flag) = args.port.filter(|flag| flag != port) {
                return twice("port", port.to_string(), "-p", flag.to_string());
            }
        }
        Endpoint::Unix(path) if args.host.is_some() || args.port.is_some() => {
            return usage(format!(
                "-h and -p conflict with the socket {} in the URL",
                path.display()
            ))
        }
        Endpoint::Unix(_) => {}
    }
    if let Some(flag) = args.db.filter(|flag| Some(*flag) != url.db) {
        let in_url = url.db.map_or("none".into(), |db| db.to_string());
        return twice("database", in_url, "-n", flag.to_string());
    }
    if args.tls && !url.tls {
        return usage(
            "--tls conflicts with the URL's plain-text scheme: write rediss:// or drop --tls",
        );
    }
    Ok(())
}

impl RedisCheck {
    pub fn new(args: &RedisSettings) -> Result<Self, UsageError> {
        Self::with_env(args, &crate::env::get)
    }

    /// [`RedisCheck::new`] with the environment given (`REDIS_URL`), as postgres and mysql
    /// take theirs, so that tests and other modes can pass their own.
    fn with_env(
        args: &RedisSettings,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, UsageError> {
        if let Some(password) = &args.password {
            redact::register(password);
        }
        let location_flags =
            args.host.is_some() || args.port.is_some() || args.db.is_some() || args.tls;
        let text = match (&args.url, location_flags) {
            (Some(url), _) => url.clone(),
            // redis-cli's flags describe the whole address: REDIS_URL is not mixed in.
            (None, true) => flags_url(args)?,
            (None, false) => env("REDIS_URL")
                .filter(|url| !url.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_URL.to_string()),
        };
        let url = url::parse(text.trim())?;
        if args.url.is_some() {
            flags_agree_with_url(&url, args)?;
        }

        let user = match (&url.user, &args.user) {
            (Some(in_url), Some(flag)) if in_url != flag => {
                return usage(format!(
                    "the user is given twice: {in_url:?} in the URL and {flag:?} with --user"
                ))
            }
            (in_url, flag) => in_url.clone().or_else(|| flag.clone()),
        };
        let password = match (&url.password, &args.password, &args.password_file) {
            (Some(_), Some(_), _) => {
                return usage("the password is given twice: in the URL and with -a")
            }
            (Some(_), _, Some(_)) => {
                return usage("the password is given twice: in the URL and with --password-file")
            }
            (_, Some(_), Some(_)) => {
                return usage("the password is given twice: with -a and with --password-file")
            }
            (Some(password), None, None) | (None, Some(password), None) => Some(password.clone()),
            (None, None, Some(path)) => Some(redact::read_password_file(path)?),
            (None, None, None) => None,
        };
        if let (Some(user), None) = (&user, &password) {
            return usage(format!(
                "user {user:?} needs a password (in the URL, -a or --password-file)"
            ));
        }
        let role = match args.role.as_deref() {
            None => None,
            Some("master") => Some(Role::Master),
            Some("replica") => Some(Role::Replica),
            Some(other) => return usage(format!("invalid --role {other:?} (master or replica)")),
        };
        if args.tls_files.any() && !url.tls {
            return usage("--ca-file, --insecure, --cert and --key need a rediss:// URL or --tls");
        }
        #[cfg(not(feature = "tls"))]
        if url.tls {
            return usage(
                "this probe binary was built without the \"tls\" feature (needed for rediss://)",
            );
        }

        Ok(RedisCheck {
            #[cfg(feature = "tls")]
            tls: tls_setup(&url, args)?,
            endpoint: url.endpoint,
            shown: url.shown,
            user,
            password,
            db: url.db,
            role,
        })
    }

    fn open(&self, deadline: &Deadline) -> Result<Wire, Outcome> {
        match &self.endpoint {
            Endpoint::Tcp { host, port } => Wire::tcp(
                host,
                *port,
                #[cfg(feature = "tls")]
                self.tls.as_ref(),
                deadline,
            ),
            Endpoint::Unix(path) => Wire::unix(path, deadline),
        }
    }

    fn converse(&self, wire: &mut Wire, deadline: &Deadline) -> Result<Outcome, Outcome> {
        if let Some(password) = &self.password {
            let mut auth = vec!["AUTH"];
            auth.extend(self.user.as_deref());
            auth.push(password);
            self.expect_ok(wire.call(&auth, "AUTH", deadline)?, "AUTH")?;
        }
        if let Some(db) = self.db.filter(|db| *db != 0) {
            let db = db.to_string();
            self.expect_ok(wire.call(&["SELECT", &db], "SELECT", deadline)?, "SELECT")?;
        }
        match wire.call(&["PING"], "PING", deadline)? {
            Reply::Status(pong) if pong == "PONG" => {}
            Reply::Error(text) => return Err(self.error_reply("PING", &text)),
            other => return Err(unexpected("PING", &other)),
        }
        match self.role {
            None => Ok(Outcome::healthy("PONG")),
            Some(expected) => Ok(judge_role(expected, self.ask_role(wire, deadline)?)),
        }
    }

    fn expect_ok(&self, reply: Reply, command: &str) -> Result<(), Outcome> {
        match reply {
            Reply::Status(ok) if ok == "OK" => Ok(()),
            Reply::Error(text) => Err(self.error_reply(command, &text)),
            other => Err(unexpected(command, &other)),
        }
    }

    /// An error reply as a verdict. The server's text is kept, tidied ("NOAUTH
    /// Authentication required." → "NOAUTH authentication required").
    fn error_reply(&self, command: &str, text: &str) -> Outcome {
        let code = text.split_whitespace().next().unwrap_or_default();
        let reason = tidy(text);
        let passing = matches!(
            code,
            "LOADING" | "BUSY" | "MASTERDOWN" | "TRYAGAIN" | "CLUSTERDOWN"
        ) || text.contains("max number of clients");
        match code {
            "NOAUTH" if self.password.is_none() => {
                Outcome::fatal(format!("{reason} (no password given)"))
            }
            "WRONGPASS" | "NOPERM" => Outcome::fatal(with_command(command, &reason)),
            _ if passing => Outcome::unhealthy(reason),
            _ if command == "AUTH" => {
                if text.contains("wrong number of arguments") && self.user.is_some() {
                    return Outcome::fatal(format!(
                        "AUTH failed: {reason} (ACL users need Redis 6 or later)"
                    ));
                }
                Outcome::fatal(format!("AUTH failed: {reason}"))
            }
            _ if command == "SELECT" => Outcome::fatal(format!(
                "SELECT {} failed: {reason}",
                self.db.unwrap_or_default()
            )),
            _ => Outcome::unhealthy(reason),
        }
    }

    /// ROLE, or INFO replication when ROLE is refused (renamed away, or not allowed for
    /// an ACL user).
    fn ask_role(&self, wire: &mut Wire, deadline: &Deadline) -> Result<Actual, Outcome> {
        let role_error = match wire.call(&["ROLE"], "ROLE", deadline)? {
            Reply::Array(Some(items)) => {
                return parse_role(&items)
                    .ok_or_else(|| unexpected("ROLE", &Reply::Array(Some(items))))
            }
            Reply::Error(text) => text,
            other => return Err(unexpected("ROLE", &other)),
        };
        match wire.call(&["INFO", "replication"], "INFO", deadline)? {
            Reply::Bulk(Some(info)) => parse_info(&String::from_utf8_lossy(&info))
                .ok_or_else(|| Outcome::unhealthy("INFO replication has no role line")),
            Reply::Error(_) => Err(self.error_reply("ROLE", &role_error)),
            other => Err(unexpected("INFO", &other)),
        }
    }
}

impl Probe for RedisCheck {
    fn kind(&self) -> &'static str {
        "redis"
    }

    fn target(&self) -> String {
        self.shown.clone()
    }

    fn run(&self, deadline: &Deadline) -> Outcome {
        let mut wire = match self.open(deadline) {
            Ok(wire) => wire,
            Err(outcome) => return outcome,
        };
        let outcome = self
            .converse(&mut wire, deadline)
            .unwrap_or_else(|outcome| outcome);
        wire.close();
        outcome
    }
}

#[cfg(feature = "tls")]
fn tls_setup(
    url: &url::RedisUrl,
    args: &RedisSettings,
) -> Result<Option<wire::TlsSetup>, UsageError> {
    let Endpoint::Tcp { host, .. } = &url.endpoint else {
        return Ok(None);
    };
    if !url.tls {
        return Ok(None);
    }
    let mut files = args.tls_files.clone();
    files.insecure |= url.insecure;
    files.setup(host, &[]).map(Some)
}

/// "NOAUTH Authentication required." → "NOAUTH authentication required": the code stays as
/// the server sent it (people search for it), the message gets a lowercase start, no period.
fn tidy(text: &str) -> String {
    let text = text.trim().trim_end_matches('.');
    match text.split_once(' ') {
        Some((code, message))
            if !code.is_empty() && code.chars().all(|c| c.is_ascii_uppercase() || c == '_') =>
        {
            format!("{code} {}", lowercase_word(message.trim_start()))
        }
        _ => lowercase_word(text),
    }
}

/// Lowercases the first letter unless the first word is an acronym ("DB index").
fn lowercase_word(text: &str) -> String {
    let mut chars = text.chars().skip(1);
    match chars.next() {
        Some(second) if second.is_ascii_uppercase() => text.to_string(),
        _ => crate::outcome::lowercase_first(text),
    }
}

fn with_command(command: &str, reason: &str) -> String {
    match command {
        "AUTH" => format!("AUTH failed: {reason}"),
        _ => reason.to_string(),
    }
}

fn unexpected(command: &str, reply: &Reply) -> Outcome {
    let shown = match reply {
        Reply::Status(text) => format!("{text:?}"),
        Reply::Integer(number) => number.to_string(),
        Reply::Bulk(Some(bytes)) => format!(
            "{:?}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(40)])
        ),
        Reply::Bulk(None) | Reply::Array(None) => "nil".into(),
        Reply::Array(Some(items)) => format!("an array of {}", items.len()),
        Reply::Error(text) => tidy(text),
    };
    Outcome::unhealthy(format!("unexpected reply to {command}: {shown}"))
}

/// `["master", offset, [...]]`, `["slave", host, port, state, offset]` or `["sentinel", ...]`.
fn parse_role(items: &[Reply]) -> Option<Actual> {
    let name = items.first()?.text()?;
    Some(match name.as_str() {
        "master" | "primary" => Actual::Master,
        "slave" | "replica" => Actual::Replica {
            master: format!("{}:{}", items.get(1)?.text()?, items.get(2)?.text()?),
            state: items.get(3)?.text()?,
        },
        _ => Actual::Other(name),
    })
}

/// The `role:`, `master_host:`, `master_port:` and `master_link_status:` lines of INFO.
fn parse_info(info: &str) -> Option<Actual> {
    let field = |name: &str| {
        info.lines()
            .find_map(|line| line.trim_end().strip_prefix(name)?.strip_prefix(':'))
            .map(str::to_string)
    };
    Some(match field("role")?.as_str() {
        "master" | "primary" => Actual::Master,
        "slave" | "replica" => Actual::Replica {
            master: format!(
                "{}:{}",
                field("master_host").unwrap_or_default(),
                field("master_port").unwrap_or_default()
            ),
            state: match field("master_link_status").as_deref() {
                Some("up") => "connected".into(),
                Some(status) => format!("link {status}"),
                None => "unknown".into(),
            },
        },
        other => Actual::Other(other.to_string()),
    })
}

/// Role verdicts are retryable: roles change during a failover, and a replica's link comes
/// back when its master does.
fn judge_role(expected: Role, actual: Actual) -> Outcome {
    match (expected, actual) {
        (Role::Master, Actual::Master) => Outcome::healthy("PONG, role master"),
        (Role::Replica, Actual::Replica { master, state }) if state == "connected" => {
            Outcome::healthy(format!("PONG, role replica of {master}, link up"))
        }
        (Role::Replica, Actual::Replica { master, state }) => Outcome::unhealthy(format!(
            "replica's link to its master is down (master {master}, state {state})"
        )),
        (Role::Master, Actual::Replica { .. }) => {
            Outcome::unhealthy("role is replica, expected master")
        }
        (Role::Replica, Actual::Master) => Outcome::unhealthy("role is master, expected replica"),
        (expected, Actual::Other(role)) => {
            let expected = match expected {
                Role::Master => "master",
                Role::Replica => "replica",
            };
            Outcome::unhealthy(format!("role is {role}, expected {expected}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> Reply {
        Reply::Bulk(Some(text.as_bytes().to_vec()))
    }

    fn check(args: &[&str], env: &[(&str, &str)]) -> Result<RedisCheck, UsageError> {
        let words = crate::options::Words::parse(&CHECK.spec, args).unwrap();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RedisCheck::with_env(&RedisSettings::from_words(&words)?, &move |name| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn redis_url_is_read_only_without_a_url_or_location_flags() {
        let from_env = check(&[], &[("REDIS_URL", "redis://cache:6380/2")]).unwrap();
        assert_eq!(from_env.target(), "redis://cache:6380/2");
        let flags = check(&["-h", "other"], &[("REDIS_URL", "redis://cache:6380/2")]).unwrap();
        assert_eq!(flags.target(), "redis://other:6379");
        let default = check(&[], &[]).unwrap();
        assert_eq!(default.target(), "redis://127.0.0.1:6379");
    }

    #[test]
    fn error_texts_are_tidied() {
        assert_eq!(
            tidy("NOAUTH Authentication required."),
            "NOAUTH authentication required"
        );
        assert_eq!(
            tidy("LOADING Redis is loading the dataset in memory"),
            "LOADING redis is loading the dataset in memory"
        );
        assert_eq!(tidy("Something odd"), "something odd");
        assert_eq!(
            tidy("ERR DB index is out of range"),
            "ERR DB index is out of range"
        );
    }

    #[test]
    fn roles_from_role_and_info() {
        assert_eq!(
            parse_role(&[
                bulk("master"),
                Reply::Integer(0),
                Reply::Array(Some(vec![]))
            ]),
            Some(Actual::Master)
        );
        assert_eq!(
            parse_role(&[
                bulk("slave"),
                bulk("10.0.0.1"),
                Reply::Integer(6379),
                bulk("connect"),
                Reply::Integer(-1)
            ]),
            Some(Actual::Replica {
                master: "10.0.0.1:6379".into(),
                state: "connect".into()
            })
        );
        let info = "# Replication\r\nrole:slave\r\nmaster_host:db\r\nmaster_port:6379\r\nmaster_link_status:down\r\n";
        assert_eq!(
            parse_info(info),
            Some(Actual::Replica {
                master: "db:6379".into(),
                state: "link down".into()
            })
        );
    }

    #[test]
    fn role_verdicts() {
        let replica = |state: &str| Actual::Replica {
            master: "m:1".into(),
            state: state.into(),
        };
        assert!(judge_role(Role::Replica, replica("connected")).is_healthy());
        let down = judge_role(Role::Replica, replica("connect"));
        assert!(!down.is_healthy() && !down.is_fatal());
        assert!(down.detail.contains("replica's link to its master is down"));
        assert_eq!(
            judge_role(Role::Master, replica("connected")).detail,
            "role is replica, expected master"
        );
        assert!(judge_role(Role::Master, Actual::Master).is_healthy());
    }
}
