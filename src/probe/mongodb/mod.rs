//! `probe mongodb [URL]`: healthy when the server answers `hello` with `ok: 1`, as
//! `mongosh --eval 'db.adminCommand("ping")'` meant it, without a 200 MB shell per check.
//!
//! The check connects (TCP, TLS with `tls=true` or `--tls`), sends OP_MSG `hello` (`$db:
//! admin`), and falls back to a legacy OP_QUERY `isMaster` only when the server closes the
//! connection on the OP_MSG (before 3.6) or does not know `hello` (before 4.4.2). With a
//! user, it logs in with SCRAM ([`login`]: SHA-256, or SHA-1 where the server offers only
//! it) against `authSource` and requires the server's final proof, then sends `ping`; a
//! refused login is fatal. What `hello` says the server is decides the verdict
//! ([`state`]: `--role`, and members in RECOVERING and the like are unhealthy). With
//! `--query`, one command document runs after the login and `--expect` rules check its
//! reply. With several hosts, they are tried in order until one accepts the connection,
//! and that one decides; when none does, each is named in the reason. `mongodb+srv://`
//! finds the hosts in DNS ([`srv`]).
//!
//! The protocol is spoken directly (no driver: the official crate brings tokio and a
//! topology monitor): BSON and the message framing are pure, bounded, fuzzed functions in
//! [`bson`], [`frame`] and [`command`]; [`wire`] is the one place that touches the socket,
//! every read and write bounded by the check's deadline.

pub mod bson;
pub mod command;
pub mod frame;
mod login;
mod spec;
#[cfg(feature = "dns")]
mod srv;
mod state;
mod url;
mod wire;

pub use spec::{MongoSettings, CHECK};

use std::net::IpAddr;

use crate::deadline::Deadline;
use crate::outcome::{usage, Outcome, UsageError};
use crate::probe::http::expect::BodyRules;
use crate::probe::Probe;
use crate::redact;
use crate::stream::Stream;

use self::bson::{Doc, Value};
use self::login::Login;
use self::state::{Role, State};
use self::wire::Wire;

const DEFAULT_URL: &str = "mongodb://localhost:27017";
/// CommandNotFound: a server before 4.4.2 answers `hello` with it.
const COMMAND_NOT_FOUND: i32 = 59;
/// Unauthorized: the user (or no user) may not run the command; time does not fix it.
const UNAUTHORIZED: i32 = 13;
/// Longest reply to `--query`, read without a tree (a find's first batch may be large).
const MAX_QUERY_REPLY: usize = frame::MAX_MESSAGE;
/// Longest `--query` reply as JSON text (strings of control characters grow sixfold).
const MAX_QUERY_JSON: usize = 2 << 20;

/// Where the hosts come from.
enum Seeds {
    Hosts(Vec<(String, u16)>),
    #[cfg(feature = "dns")]
    Srv(Box<srv::Srv>),
}

/// `--query` and its `--expect` rules.
struct Query {
    command: Doc,
    /// The command's name (its first key), for reasons.
    name: String,
    rules: BodyRules,
}

pub struct MongoCheck {
    seeds: Seeds,
    shown: String,
    login: Option<Login>,
    /// The URL's options that DNS may add to (`mongodb+srv://`' TXT record).
    options: url::Options,
    /// The URL's database: `authSource`'s default and `--query`'s `$db`.
    db: Option<String>,
    role: Role,
    query: Option<Query>,
    /// The TLS client configuration; each host's certificate is checked against its name.
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::Setup>,
}

/// One attempt's hosts and the options DNS gave.
struct Plan {
    hosts: Vec<Host>,
    auth_source: String,
    replica_set: Option<String>,
}

/// A host to try: its name (for TLS and reasons), port, and the addresses `--dns-server`
/// gave it (empty: the name is resolved when it is connected to).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Host {
    name: String,
    port: u16,
    ips: Vec<IpAddr>,
}

impl MongoCheck {
    pub fn new(settings: &MongoSettings) -> Result<Self, UsageError> {
        Self::with_env(settings, &crate::env::get)
    }

    /// [`MongoCheck::new`] with the environment given (`MONGODB_URL`, `MONGO_URL`).
    fn with_env(
        settings: &MongoSettings,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, UsageError> {
        let text = match &settings.url {
            Some(url) => url.clone(),
            None => ["MONGODB_URL", "MONGO_URL"]
                .iter()
                .find_map(|name| env(name).filter(|url| !url.trim().is_empty()))
                .unwrap_or_else(|| DEFAULT_URL.to_string()),
        };
        let text = text.trim();
        // Registers the URL's password before anything can print it.
        let shown = redact::url_password(text);
        let url = url::parse(text)?;
        if let Some(password) = &url.password {
            redact::register(password);
        }
        let login = crate::options::blocks::url_login(
            url.user.as_ref(),
            url.password.as_ref(),
            settings.user.as_ref(),
            settings.password_file.as_deref(),
        )?
        .map(|(user, password)| Login {
            user,
            password,
            mechanism: url.options.mechanism,
        });
        let role = match settings.role.as_deref() {
            None | Some("any") => Role::Any,
            Some("primary") => Role::Primary,
            Some("secondary") => Role::Secondary,
            Some(other) => {
                return usage(format!(
                    "invalid --role {other:?} (primary, secondary or any)"
                ))
            }
        };
        let query = Self::query(settings)?;
        if settings.dns_server.is_some() && !url.srv {
            return usage("--dns-server is for mongodb+srv:// URLs (the SRV and TXT lookups)");
        }
        // mongodb+srv:// means TLS unless the URL says tls=false (the seedlist spec).
        let tls = url.options.tls.unwrap_or(url.srv) || settings.tls;
        if !tls && (settings.tls_files.any_file() || url.options.ca_file.is_some()) {
            return usage("--ca-file, --cert and --key need tls=true in the URL or --tls");
        }
        #[cfg(not(feature = "tls"))]
        if tls {
            return usage(match url.srv {
                true => {
                    "this probe binary was built without the \"tls\" feature (mongodb+srv:// \
                         means TLS: add tls=false to the URL for a server without it)"
                }
                false => {
                    "this probe binary was built without the \"tls\" feature (needed for tls=true)"
                }
            });
        }
        #[cfg(feature = "tls")]
        let tls = match tls {
            false => None,
            true => {
                let mut files = settings.tls_files.clone();
                if files.ca_file.is_none() {
                    files.ca_file = url.options.ca_file.clone().map(Into::into);
                }
                files.insecure |= url.options.insecure;
                // Every host's name is checked now; the configuration is the first's.
                let mut setups = url
                    .hosts
                    .iter()
                    .map(|(host, _)| files.setup(host, &[]))
                    .collect::<Result<Vec<_>, _>>()?;
                Some(setups.swap_remove(0))
            }
        };
        let seeds = match url.srv {
            false => Seeds::Hosts(url.hosts.clone()),
            #[cfg(feature = "dns")]
            true => {
                let service = url.options.srv_service.as_deref().unwrap_or("mongodb");
                Seeds::Srv(Box::new(srv::Srv::new(
                    &url.hosts[0].0,
                    service,
                    settings.dns_server.as_deref(),
                )?))
            }
            #[cfg(not(feature = "dns"))]
            true => {
                return usage(
                    "mongodb+srv:// needs DNS SRV and TXT lookups, and this probe binary was \
                     built without the \"dns\" feature: give the hosts as \
                     mongodb://host1:27017,host2:27017/",
                )
            }
        };
        Ok(MongoCheck {
            seeds,
            shown,
            login,
            db: url.db,
            options: url.options,
            role,
            query,
            #[cfg(feature = "tls")]
            tls,
        })
    }

    /// `--query` and `--expect`, checked: `--expect` needs a query, and the rules are
    /// `probe http --expect-json`'s.
    fn query(settings: &MongoSettings) -> Result<Option<Query>, UsageError> {
        let Some(text) = &settings.query else {
            if !settings.expect.is_empty() {
                return usage("--expect needs --query");
            }
            return Ok(None);
        };
        let command =
            command::parse(text).map_err(|why| UsageError::new(format!("--query {why}")))?;
        let name = command.0[0].0.clone();
        let rules = BodyRules::parse_as("--expect", &[], &settings.expect)?;
        Ok(Some(Query {
            command,
            name: short(&name),
            rules,
        }))
    }

    /// This attempt's hosts: the URL's, or DNS's for `mongodb+srv://`.
    fn plan(&self, deadline: &Deadline) -> Result<Plan, Outcome> {
        let (hosts, options) = match &self.seeds {
            Seeds::Hosts(hosts) => (
                hosts
                    .iter()
                    .map(|(name, port)| Host {
                        name: name.clone(),
                        port: *port,
                        ips: Vec::new(),
                    })
                    .collect(),
                None,
            ),
            #[cfg(feature = "dns")]
            Seeds::Srv(srv) => {
                let (hosts, txt) = srv.discover(deadline)?;
                (hosts, Some(txt))
            }
        };
        #[cfg(not(feature = "dns"))]
        let _ = deadline;
        let mut merged = url::Options {
            auth_source: self.options.auth_source.clone(),
            replica_set: self.options.replica_set.clone(),
            ..url::Options::default()
        };
        if let Some(txt) = options {
            merged.under(txt);
        }
        Ok(Plan {
            hosts,
            auth_source: merged
                .auth_source
                .or_else(|| self.db.clone())
                .unwrap_or_else(|| "admin".into()),
            replica_set: merged.replica_set,
        })
    }

    fn open(&self, host: &Host, deadline: &Deadline) -> Result<Wire, Outcome> {
        let stream = match host.ips.split_first() {
            None => Stream::tcp(&host.name, host.port, deadline)?,
            // Addresses DNS gave: the first that accepts.
            Some((first, others)) => {
                let mut result = Stream::tcp(&first.to_string(), host.port, deadline);
                for ip in others {
                    if result.is_ok() || deadline.expired() {
                        break;
                    }
                    result = Stream::tcp(&ip.to_string(), host.port, deadline);
                }
                result?
            }
        };
        #[cfg(feature = "tls")]
        if let Some(setup) = &self.tls {
            let name =
                rustls::pki_types::ServerName::try_from(host.name.clone()).map_err(|_| {
                    Outcome::unhealthy(format!("{:?} cannot be a TLS server name", host.name))
                })?;
            let stream = stream.into_tls(setup.config.clone(), name, deadline)?;
            return Ok(Wire::new(stream));
        }
        Ok(Wire::new(stream))
    }

    /// `hello`, or `isMaster` the legacy way where the server wants it; with a login, it
    /// asks which SCRAM mechanisms the user has.
    fn hello(
        &self,
        host: &Host,
        plan: &Plan,
        wire: &mut Wire,
        deadline: &Deadline,
    ) -> Result<Doc, Outcome> {
        let mechs = self
            .login
            .as_ref()
            .map(|login| Value::String(format!("{}.{}", plan.auth_source, login.user)));
        let with_mechs = |mut doc: Doc| {
            if let Some(mechs) = &mechs {
                doc = doc.with("saslSupportedMechs", mechs.clone());
            }
            doc
        };
        let hello = with_mechs(Doc::new().with("hello", Value::Int32(1)))
            .with("$db", Value::String("admin".into()));
        let legacy = with_mechs(Doc::new().with("isMaster", Value::Int32(1)));
        match wire.call(&hello, "hello", deadline) {
            Ok(reply) if error_code(&reply) == Some(COMMAND_NOT_FOUND) => {
                wire.legacy(&legacy, "isMaster", deadline)
            }
            Ok(reply) => Ok(reply),
            Err(first) if wire.link.closed && !deadline.expired() => {
                // A server before 3.6 closes the connection on an OP_MSG.
                *wire = self.open(host, deadline)?;
                let reply = wire.legacy(&legacy, "isMaster", deadline);
                match reply {
                    Err(_) if wire.link.closed => Err(Outcome::unhealthy(format!(
                        "{} and during a legacy isMaster (a TLS-only server needs tls=true)",
                        first.detail
                    ))),
                    other => other,
                }
            }
            Err(outcome) => Err(outcome),
        }
    }

    fn converse(
        &self,
        host: &Host,
        plan: &Plan,
        wire: &mut Wire,
        deadline: &Deadline,
    ) -> Result<Outcome, Outcome> {
        let reply = self.hello(host, plan, wire, deadline)?;
        command_ok(&reply, "hello")?;
        let mut state = State::of(&reply);
        let admin = Value::String("admin".into());
        if let Some(login) = &self.login {
            let mechanism = login.mechanism(&reply);
            login.log_in(wire, mechanism, &plan.auth_source, deadline)?;
            if self.query.is_none() {
                let ping = Doc::new()
                    .with("ping", Value::Int32(1))
                    .with("$db", admin.clone());
                command_ok(&wire.call(&ping, "ping", deadline)?, "ping")?;
            }
        }
        if state.idle_member() {
            // hello does not name the state: replSetGetStatus does.
            let status = Doc::new()
                .with("replSetGetStatus", Value::Int32(1))
                .with("$db", admin);
            // Its reply lists every member (tens of KiB for a large set): only the fields
            // read are kept.
            let name = "replSetGetStatus";
            let (id, message) = wire.call_raw(&status, name, deadline, frame::MAX_MESSAGE)?;
            let top = frame::body(&message, id)
                .and_then(|body| bson::decode_top(body, &["ok", "myState", "codeName", "errmsg"]));
            state.read_status(&top.map_err(|why| wire::malformed(name, why))?);
        }
        let shown = state
            .judge(self.role, plan.replica_set.as_deref())
            .map_err(Outcome::unhealthy)?;
        let logged_in = match &self.login {
            Some(login) => format!(", logged in as {:?}", login.user),
            None => String::new(),
        };
        let queried = match &self.query {
            Some(query) => format!("; {}", self.run_query(query, wire, deadline)?),
            None => String::new(),
        };
        Ok(Outcome::healthy(format!(
            "hello ok{logged_in}: {shown}{queried}"
        )))
    }

    /// `--query` against the URL's database (else admin), its reply read as JSON for the
    /// `--expect` rules: what holds, or why not.
    fn run_query(
        &self,
        query: &Query,
        wire: &mut Wire,
        deadline: &Deadline,
    ) -> Result<String, Outcome> {
        let name = &query.name;
        let mut command = query.command.clone();
        if command.get("$db").is_none() {
            let db = self.db.clone().unwrap_or_else(|| "admin".into());
            command = command.with("$db", Value::String(db));
        }
        let (id, message) = wire.call_raw(&command, name, deadline, MAX_QUERY_REPLY)?;
        let bad = |why: String| wire::malformed(name, why);
        let (json, top) = {
            let body = frame::body(&message, id).map_err(bad)?;
            let json = bson::to_json(body, MAX_QUERY_JSON).map_err(bad)?;
            let top = bson::decode_top(body, &["ok", "code", "codeName", "errmsg"]);
            (json, top.map_err(bad)?)
        };
        // The rules read the text alone.
        drop(message);
        match command_ok(&top, name) {
            Err(outcome) if error_code(&top) == Some(UNAUTHORIZED) => {
                return Err(Outcome::fatal(outcome.detail))
            }
            other => other?,
        }
        let held = query
            .rules
            .check(json.as_bytes())
            .map_err(|why| Outcome::unhealthy(format!("{name}: {why}")))?;
        Ok(match held.is_empty() {
            true => format!("{name} ok"),
            false => format!("{name} ok, {held}"),
        })
    }
}

impl Probe for MongoCheck {
    fn kind(&self) -> &'static str {
        "mongodb"
    }

    fn target(&self) -> String {
        self.shown.clone()
    }

    fn run(&self, deadline: &Deadline) -> Outcome {
        let plan = match self.plan(deadline) {
            Ok(plan) => plan,
            Err(outcome) => return outcome,
        };
        let mut failures = Vec::new();
        for host in &plan.hosts {
            let mut wire = match self.open(host, deadline) {
                Ok(wire) => wire,
                Err(outcome) if outcome.is_fatal() || plan.hosts.len() == 1 => return outcome,
                Err(outcome) => {
                    failures.push(format!("{}:{}: {}", host.name, host.port, outcome.detail));
                    if deadline.expired() {
                        break;
                    }
                    continue;
                }
            };
            let outcome = self
                .converse(host, &plan, &mut wire, deadline)
                .unwrap_or_else(|outcome| outcome);
            wire.link.stream.close(false);
            return outcome;
        }
        Outcome::unhealthy(format!("no host answered ({})", failures.join("; ")))
    }
}

/// A server's text, cut to one short piece of a line.
fn short(text: &str) -> String {
    let text: String = text.chars().filter(|c| !c.is_control()).take(120).collect();
    text
}

fn error_code(reply: &Doc) -> Option<i32> {
    if reply.get("ok").and_then(Value::number) == Some(1.0) {
        return None;
    }
    reply
        .get("code")
        .and_then(Value::number)
        .map(|code| code as i32)
}

fn error_text(reply: &Doc) -> Option<String> {
    let message = reply.get("errmsg").and_then(Value::text)?;
    Some(match reply.get("codeName").and_then(Value::text) {
        Some(name) => format!("{} ({})", short(message), short(name)),
        None => short(message),
    })
}

/// `ok: 1`, or the command's error as an unhealthy verdict.
fn command_ok(reply: &Doc, command: &str) -> Result<(), Outcome> {
    match reply.get("ok").and_then(Value::number) {
        Some(1.0) => Ok(()),
        _ => Err(Outcome::unhealthy(format!(
            "{command} failed: {}",
            error_text(reply).unwrap_or_else(|| "the reply has no ok: 1".into())
        ))),
    }
}

#[cfg(test)]
mod tests;
