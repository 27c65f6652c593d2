//! Where to connect and as whom: a URL (or `DATABASE_URL`), libpq's `PG*` variables for
//! whatever the URL leaves out, then flags on top. Everything is parsed and checked here,
//! before the first connection, so that a typo is a usage error (exit 3), never a silent
//! default.
//!
//! Defaults differ from libpq on purpose: the user is `postgres`, never the OS user
//! (scratch images have no /etc/passwd), and the host is TCP `localhost`, never the Unix
//! socket: the official image's first-start temporary server listens only on the socket,
//! so probing over TCP cannot report that server as ready.

use std::path::PathBuf;
use std::time::Duration;

use crate::outcome::{usage, UsageError};
use crate::redact;

pub const DEFAULT_PORT: u16 = 5432;
pub const DEFAULT_USER: &str = "postgres";
pub const DEFAULT_APPLICATION_NAME: &str = "probe";

/// Where the server listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    /// A name or an IP address, reached over TCP.
    Tcp(String),
    /// A directory holding the server's Unix socket `.s.PGSQL.<port>`.
    Unix(PathBuf),
}

/// libpq's sslmode values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    /// Plain text only.
    Disable,
    /// Plain text first; TLS only if the server refuses the plain connection.
    Allow,
    /// TLS if the server offers it and the handshake succeeds, plain text otherwise; the certificate is not checked
    /// (unless a CA file is given: then its chain is).
    Prefer,
    /// TLS or nothing; the certificate is not checked (unless a CA file is given).
    Require,
    /// TLS, certificate chained to a trusted root, any name.
    VerifyCa,
    /// TLS, certificate chained to a trusted root and valid for the host name.
    VerifyFull,
}

impl SslMode {
    pub fn parse(text: &str, source: &str) -> Result<Self, UsageError> {
        Ok(match text {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => {
                return usage(format!(
                    "{source}: invalid sslmode {text:?} (disable, allow, prefer, require, verify-ca, verify-full)"
                ))
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// Complete connection settings: every default applied, every secret registered with
/// [`redact`].
#[derive(Clone, Debug)]
pub struct Settings {
    pub host: Host,
    pub port: u16,
    pub user: String,
    pub password: Option<String>,
    /// `None`: the server uses the user name.
    pub dbname: Option<String>,
    pub application_name: String,
    pub sslmode: SslMode,
    /// CA certificates to trust instead of the webpki roots.
    pub ca_file: Option<PathBuf>,
    /// Client certificate and key for mutual TLS.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// libpq's connect_timeout: caps the connect and startup phases (never the deadline).
    pub connect_timeout: Option<Duration>,
    /// libpq's channel_binding (SCRAM-SHA-256-PLUS over TLS).
    pub channel_binding: ChannelBinding,
    /// libpq 16's require_auth: which authentication the server may ask for.
    pub require_auth: Option<RequireAuth>,
}

/// What the command line adds on top of the URL and the environment.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub dbname: Option<String>,
    pub password_file: Option<PathBuf>,
    pub sslmode: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// Builds the settings from an explicit URL (else `DATABASE_URL`), libpq's `PG*`
/// variables for what the URL leaves out, and `overrides` on top.
///
/// Reusable by any mode that needs a PostgreSQL connection (migrate-then-exec's advisory
/// lock): pass `crate::env::get` as `env`.
pub fn connection_settings(
    url: Option<&str>,
    overrides: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, UsageError> {
    let from_env = |name: &str| env(name).filter(|value| !value.is_empty());
    let mut parts = match url {
        Some(url) => parse_url(url, "URL")?,
        None => match from_env("DATABASE_URL") {
            Some(url) => parse_url(&url, "DATABASE_URL")?,
            None => Parts::default(),
        },
    };

    if url.is_some() {
        flags_agree_with_url(&parts, overrides)?;
    }
    // Flags (pg_isready's -h, -p, -U, -d) beat the environment and DATABASE_URL.
    if overrides.host.is_some() {
        parts.host.clone_from(&overrides.host);
    }
    if overrides.port.is_some() {
        parts.port = overrides.port;
    }

    // libpq's rule: the environment supplies what the connection string does not.
    let fill = |slot: &mut Option<String>, var: &str| {
        if slot.is_none() {
            *slot = from_env(var);
        }
    };
    fill(&mut parts.host, "PGHOST");
    fill(&mut parts.user, "PGUSER");
    fill(&mut parts.dbname, "PGDATABASE");
    fill(&mut parts.application_name, "PGAPPNAME");
    let port = match (&parts.port, from_env("PGPORT")) {
        (Some(port), _) => Some(*port),
        (None, Some(text)) => Some(parse_port(&text, "PGPORT")?),
        (None, None) => None,
    };
    let sslmode = match (&overrides.sslmode, &parts.sslmode, from_env("PGSSLMODE")) {
        (Some(text), _, _) => Some(SslMode::parse(text, "--sslmode")?),
        (None, Some(mode), _) => Some(*mode),
        (None, None, Some(text)) => Some(SslMode::parse(&text, "PGSSLMODE")?),
        (None, None, None) => None,
    };
    let connect_timeout = match (&parts.connect_timeout, from_env("PGCONNECT_TIMEOUT")) {
        (Some(timeout), _) => *timeout,
        (None, Some(text)) => parse_connect_timeout(&text, "PGCONNECT_TIMEOUT")?,
        (None, None) => None,
    };

    let password = match &overrides.password_file {
        Some(path) => Some(redact::read_password_file(path)?),
        None => parts.password.clone().or_else(|| from_env("PGPASSWORD")),
    };
    if let Some(password) = &password {
        redact::register(password);
    }

    let host = match parts.host.as_deref() {
        None => Host::Tcp("localhost".into()),
        Some(host) if host.starts_with('/') => Host::Unix(PathBuf::from(host)),
        Some(host) if host.contains(',') => {
            return usage(format!(
                "several hosts ({host}) are not supported: probe one server per check"
            ))
        }
        Some(host) => Host::Tcp(host.to_string()),
    };
    let ca_file = overrides.ca_file.clone().or(parts.ca_file);
    // A CA file without any sslmode means the user wants the server verified.
    let sslmode = sslmode.unwrap_or(if ca_file.is_some() {
        SslMode::VerifyFull
    } else {
        SslMode::Prefer
    });
    #[cfg(not(feature = "tls"))]
    if !matches!(sslmode, SslMode::Disable | SslMode::Allow | SslMode::Prefer) {
        return usage(format!(
            "sslmode {} needs TLS, and this probe binary was built without the \"tls\" feature",
            sslmode.name()
        ));
    }

    let settings = Settings {
        host,
        port: port.unwrap_or(DEFAULT_PORT),
        user: overrides
            .user
            .clone()
            .or(parts.user)
            .unwrap_or_else(|| DEFAULT_USER.into()),
        password,
        dbname: overrides.dbname.clone().or(parts.dbname),
        application_name: parts
            .application_name
            .unwrap_or_else(|| DEFAULT_APPLICATION_NAME.into()),
        sslmode,
        ca_file,
        cert: overrides.cert.clone().or(parts.cert),
        key: overrides.key.clone().or(parts.key),
        connect_timeout,
        channel_binding: auth_param(
            parts.channel_binding,
            "channel_binding",
            "PGCHANNELBINDING",
            &from_env,
            ChannelBinding::parse,
        )?
        .unwrap_or(ChannelBinding::Prefer),
        require_auth: auth_param(
            parts.require_auth,
            "require_auth",
            "PGREQUIREAUTH",
            &from_env,
            RequireAuth::parse,
        )?,
    };
    if settings.user.is_empty() {
        return usage("the user name is empty");
    }
    Ok(settings)
}

/// A flag that repeats what an explicit URL says is fine; one that says otherwise is a
/// usage error naming both, never a silent winner.
fn flags_agree_with_url(parts: &Parts, overrides: &Overrides) -> Result<(), UsageError> {
    let port = |port: Option<u16>| port.map(|p| p.to_string());
    let pairs = [
        ("host", "-h", parts.host.clone(), overrides.host.clone()),
        ("port", "-p", port(parts.port), port(overrides.port)),
        ("user", "-U", parts.user.clone(), overrides.user.clone()),
        (
            "database",
            "-d",
            parts.dbname.clone(),
            overrides.dbname.clone(),
        ),
    ];
    for (what, flag, in_url, from_flag) in pairs {
        if let (Some(in_url), Some(from_flag)) = (in_url, from_flag) {
            if in_url != from_flag {
                return usage(format!(
                    "the {what} is given twice: {in_url:?} in the URL and {from_flag:?} with {flag}"
                ));
            }
        }
    }
    Ok(())
}

/// A URL parameter (else its libpq variable) parsed by `parse`, which names the source.
fn auth_param<T>(
    from_url: Option<String>,
    param: &str,
    var: &str,
    env: &dyn Fn(&str) -> Option<String>,
    parse: fn(&str, &str) -> Result<T, UsageError>,
) -> Result<Option<T>, UsageError> {
    match (from_url, env(var)) {
        (Some(text), _) => parse(&text, param).map(Some),
        (None, Some(text)) => parse(&text, var).map(Some),
        (None, None) => Ok(None),
    }
}

/// libpq's channel_binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelBinding {
    /// Never SCRAM-SHA-256-PLUS.
    Disable,
    /// SCRAM-SHA-256-PLUS when the connection is TLS and the server offers it.
    Prefer,
    /// Only a SCRAM-SHA-256-PLUS login is accepted (so TLS, and never trust, MD5 or a
    /// cleartext password).
    Require,
}

impl ChannelBinding {
    fn parse(text: &str, source: &str) -> Result<Self, UsageError> {
        match text {
            "disable" => Ok(ChannelBinding::Disable),
            "prefer" => Ok(ChannelBinding::Prefer),
            "require" => Ok(ChannelBinding::Require),
            _ => usage(format!(
                "{source}: invalid channel_binding {text:?} (disable, prefer, require)"
            )),
        }
    }
}

/// An authentication method, as require_auth names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    /// The server asked for nothing (trust).
    None,
    /// A cleartext password.
    Password,
    Md5,
    ScramSha256,
    Gss,
    Sspi,
}

impl AuthMethod {
    const NAMES: [(&'static str, AuthMethod); 6] = [
        ("none", AuthMethod::None),
        ("password", AuthMethod::Password),
        ("md5", AuthMethod::Md5),
        ("scram-sha-256", AuthMethod::ScramSha256),
        ("gss", AuthMethod::Gss),
        ("sspi", AuthMethod::Sspi),
    ];
}

/// libpq 16's require_auth: `scram-sha-256`, a list `md5,scram-sha-256` of the methods
/// allowed, or a list `!password,!md5` of the methods refused (one kind or the other).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequireAuth {
    pub text: String,
    methods: Vec<AuthMethod>,
    negated: bool,
}

impl RequireAuth {
    fn parse(text: &str, source: &str) -> Result<Self, UsageError> {
        let bad = |why: String| {
            UsageError::new(format!("{source}: invalid require_auth {text:?}: {why}"))
        };
        let mut methods = Vec::new();
        let mut negated = None;
        for word in text.split(',') {
            let (not, name) = match word.strip_prefix('!') {
                Some(name) => (true, name),
                None => (false, word),
            };
            if *negated.get_or_insert(not) != not {
                return Err(bad("negative and positive methods cannot be mixed".into()));
            }
            let Some(&(_, method)) = AuthMethod::NAMES.iter().find(|(known, _)| *known == name)
            else {
                return Err(bad(format!(
                    "unknown method {name:?} (none, password, md5, scram-sha-256, gss, sspi)"
                )));
            };
            if methods.contains(&method) {
                return Err(bad(format!("{name:?} is given twice")));
            }
            methods.push(method);
        }
        Ok(RequireAuth {
            text: text.to_string(),
            methods,
            negated: negated.unwrap_or(false),
        })
    }

    /// May the server authenticate this way?
    pub fn allows(&self, method: AuthMethod) -> bool {
        self.methods.contains(&method) != self.negated
    }
}

impl Settings {
    /// `postgres://app@db:5432/app` (never the password), or
    /// `postgres://app@/app?host=/run/postgresql` for a socket: what reports show.
    pub fn display(&self) -> String {
        let db = self.dbname.as_deref().unwrap_or("");
        let shown = match &self.host {
            Host::Tcp(host) if host.contains(':') => {
                format!("postgres://{}@[{host}]:{}/{db}", self.user, self.port)
            }
            Host::Tcp(host) => format!("postgres://{}@{host}:{}/{db}", self.user, self.port),
            Host::Unix(dir) => format!(
                "postgres://{}@:{}/{db}?host={}",
                self.user,
                self.port,
                dir.display()
            ),
        };
        match (self.sslmode, &self.host) {
            (SslMode::Prefer, _) | (_, Host::Unix(_)) => shown,
            (mode, Host::Tcp(_)) => format!("{shown}?sslmode={}", mode.name()),
        }
    }

    /// The path of the Unix socket, for `Host::Unix`.
    pub fn socket_path(&self) -> Option<PathBuf> {
        match &self.host {
            Host::Unix(dir) => Some(dir.join(format!(".s.PGSQL.{}", self.port))),
            Host::Tcp(_) => None,
        }
    }
}

/// What a URL says; `None` where it is silent.
#[derive(Debug, Default)]
struct Parts {
    host: Option<String>,
    port: Option<u16>,
    user: Option<String>,
    password: Option<String>,
    dbname: Option<String>,
    application_name: Option<String>,
    sslmode: Option<SslMode>,
    ca_file: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    connect_timeout: Option<Option<Duration>>,
    channel_binding: Option<String>,
    require_auth: Option<String>,
}

/// Parameters of libpq or of ORMs that change nothing about whether the server is
/// healthy; accepted so that an application's own `DATABASE_URL` works as it is.
const IGNORED_PARAMS: &[&str] = &[
    "options",
    "client_encoding",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "target_session_attrs",
    "gssencmode",
    "sslcompression",
    "sslsni",
    "sslnegotiation",
    "fallback_application_name",
    "load_balance_hosts",
    "schema",
    "connection_limit",
    "pool_timeout",
    "pgbouncer",
    "statement_cache_size",
    "socket_timeout",
];

/// `postgres[ql][+driver]://[user[:password]@][host][:port][/dbname][?param=value&...]`.
fn parse_url(url: &str, source: &str) -> Result<Parts, UsageError> {
    let shown = redact::url_password(url);
    let bad = |why: &str| {
        UsageError::new(format!(
            "{source} {shown}: {}",
            crate::url::reason(url, why)
        ))
    };
    if !url.contains("://") {
        return Err(bad(
            "expected postgres://[user[:password]@]host[:port][/dbname]",
        ));
    }
    let hosts = url.split_once("://").map_or("", |(_, rest)| {
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host)
    });
    if hosts.contains(',') {
        return Err(bad(
            "several hosts are not supported: probe one server per check",
        ));
    }
    let parsed = crate::url::Url::parse(url).map_err(|why| bad(&why))?;
    // SQLAlchemy-style schemes name a driver: postgresql+psycopg://.
    let base_scheme = parsed
        .scheme
        .split_once('+')
        .map_or(parsed.scheme.as_str(), |(base, _)| base);
    if !matches!(base_scheme, "postgres" | "postgresql") {
        return Err(bad("the scheme must be postgres:// or postgresql://"));
    }
    let mut parts = Parts {
        user: parsed.user.clone().and_then(non_empty),
        password: parsed.password.clone(),
        host: non_empty(parsed.host.clone()),
        port: parsed.port,
        ..Parts::default()
    };
    let path = parsed.path.strip_prefix('/').unwrap_or(&parsed.path);
    parts.dbname = non_empty(crate::url::percent_decode(path).map_err(|why| bad(&why))?);

    for (name, value) in parsed.query_pairs().map_err(|why| bad(&why))? {
        let value = value.ok_or_else(|| bad(&format!("parameter {name:?} has no value")))?;
        match name.as_str() {
            "host" => parts.host = non_empty(value),
            "port" => parts.port = Some(parse_port(&value, &format!("{source} port="))?),
            "user" => parts.user = non_empty(value),
            "password" => parts.password = Some(value),
            "dbname" => parts.dbname = non_empty(value),
            "application_name" => parts.application_name = Some(value),
            "sslmode" => parts.sslmode = Some(SslMode::parse(&value, source)?),
            "sslrootcert" => parts.ca_file = Some(value.into()),
            "sslcert" => parts.cert = Some(value.into()),
            "sslkey" => parts.key = Some(value.into()),
            "connect_timeout" => {
                parts.connect_timeout = Some(parse_connect_timeout(&value, source)?)
            }
            "channel_binding" => parts.channel_binding = Some(value),
            "require_auth" => parts.require_auth = Some(value),
            ignored if IGNORED_PARAMS.contains(&ignored) => {}
            unknown => return Err(bad(&format!("unknown parameter {unknown:?}"))),
        }
    }
    if let Some(password) = &parts.password {
        redact::register(password);
    }
    Ok(parts)
}

fn non_empty(text: String) -> Option<String> {
    Some(text).filter(|text| !text.is_empty())
}

fn parse_port(text: &str, source: &str) -> Result<u16, UsageError> {
    crate::url::parse_port(text).map_err(|why| UsageError::new(format!("{source}: {why}")))
}

/// libpq: whole seconds; 0 or negative means no limit; 1 counts as 2.
fn parse_connect_timeout(text: &str, source: &str) -> Result<Option<Duration>, UsageError> {
    match text.trim().parse::<i64>() {
        Ok(seconds) if seconds <= 0 => Ok(None),
        Ok(seconds) => Ok(Some(Duration::from_secs(seconds.max(2) as u64))),
        Err(_) => usage(format!(
            "{source}: invalid connect_timeout {text:?} (whole seconds)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: Option<&str>, vars: &[(&str, &str)]) -> Result<Settings, UsageError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        connection_settings(url, &Overrides::default(), &move |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_are_tcp_localhost_user_postgres_and_prefer() {
        let s = settings(None, &[]).unwrap();
        assert_eq!(s.host, Host::Tcp("localhost".into()));
        assert_eq!((s.port, s.user.as_str()), (5432, "postgres"));
        assert_eq!(s.application_name, "probe");
        assert_eq!(s.sslmode, SslMode::Prefer);
        assert_eq!(s.dbname, None);
    }

    #[test]
    fn urls_give_every_part() {
        let s = settings(
            Some("postgresql://app:s%40cret@db.internal:6543/shop?sslmode=require&application_name=hc&connect_timeout=3"),
            &[],
        )
        .unwrap();
        assert_eq!(s.host, Host::Tcp("db.internal".into()));
        assert_eq!(s.port, 6543);
        assert_eq!(s.user, "app");
        assert_eq!(s.password.as_deref(), Some("s@cret"));
        assert_eq!(s.dbname.as_deref(), Some("shop"));
        assert_eq!(s.sslmode, SslMode::Require);
        assert_eq!(s.application_name, "hc");
        assert_eq!(s.connect_timeout, Some(Duration::from_secs(3)));
        assert!(!s.display().contains("s@cret"));
        assert_eq!(redact::scrub("s@cret"), "***");
    }

    #[test]
    fn sockets_ipv6_and_driver_schemes() {
        let s = settings(Some("postgres://app@/shop?host=/run/postgresql"), &[]).unwrap();
        assert_eq!(s.host, Host::Unix("/run/postgresql".into()));
        assert_eq!(
            s.socket_path().unwrap(),
            PathBuf::from("/run/postgresql/.s.PGSQL.5432")
        );
        let s = settings(Some("postgres://[::1]:5433"), &[]).unwrap();
        assert_eq!((s.host, s.port), (Host::Tcp("::1".into()), 5433));
        let s = settings(Some("postgresql+psycopg://u@h/d?schema=public"), &[]).unwrap();
        assert_eq!(s.user, "u");
    }

    #[test]
    fn the_environment_fills_what_the_url_leaves_out() {
        let vars = [
            ("PGHOST", "envhost"),
            ("PGPORT", "7777"),
            ("PGUSER", "envuser"),
            ("PGPASSWORD", "envpass"),
            ("PGDATABASE", "envdb"),
            ("PGSSLMODE", "disable"),
            ("PGAPPNAME", "envapp"),
        ];
        let s = settings(None, &vars).unwrap();
        assert_eq!(s.host, Host::Tcp("envhost".into()));
        assert_eq!((s.port, s.user.as_str()), (7777, "envuser"));
        assert_eq!(s.password.as_deref(), Some("envpass"));
        assert_eq!(s.dbname.as_deref(), Some("envdb"));
        assert_eq!(s.sslmode, SslMode::Disable);
        assert_eq!(s.application_name, "envapp");
        let s = settings(None, &[("DATABASE_URL", "postgres://u@dbhost/x"), vars[3]]).unwrap();
        assert_eq!(s.host, Host::Tcp("dbhost".into()));
        assert_eq!(s.password.as_deref(), Some("envpass"));
        let s = settings(
            Some("postgres://explicit/"),
            &[("DATABASE_URL", "postgres://u@dbhost/x")],
        )
        .unwrap();
        assert_eq!(s.host, Host::Tcp("explicit".into()));
    }

    #[test]
    fn bad_input_is_a_usage_error_naming_it() {
        for (url, says) in [
            ("http://db/", "scheme"),
            ("postgres://db:99999/", "port"),
            ("postgres://db/?sslmode=sometimes", "sslmode"),
            ("postgres://db/?sslmod=require", "sslmod"),
            ("postgres://a,b/", "several hosts"),
            ("postgres://db/?connect_timeout=soon", "connect_timeout"),
            ("postgres://db/%zz", "percent"),
        ] {
            let error = settings(Some(url), &[]).unwrap_err();
            assert!(error.0.contains(says), "{url}: {error}");
        }
        assert!(settings(None, &[("PGPORT", "x")])
            .unwrap_err()
            .0
            .contains("PGPORT"));
    }

    #[test]
    fn password_errors_never_show_the_password() {
        let error = settings(Some("postgres://u:hunter2@db:port/"), &[]).unwrap_err();
        assert!(!error.0.contains("hunter2"), "{error}");
    }

    #[test]
    fn a_ca_file_alone_means_verify_full() {
        let overrides = Overrides {
            ca_file: Some("/ca.pem".into()),
            ..Overrides::default()
        };
        let s = connection_settings(Some("postgres://db/"), &overrides, &|_| None).unwrap();
        assert_eq!(s.sslmode, SslMode::VerifyFull);
    }
}
