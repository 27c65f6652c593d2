//! The command line, as argh structs. Their doc comments are the `--help` text.
//!
//! Parsing only turns words into these structs; turning them into checks (and rejecting
//! bad values with a message that names the flag) happens once, in each check's module.

// In a slim build, a check that is left out still parses (to say it is not built in), so
// its arguments go unread.
#![cfg_attr(
    not(all(
        feature = "http",
        feature = "postgres",
        feature = "redis",
        feature = "amqp",
        feature = "grpc",
        feature = "mysql"
    )),
    allow(dead_code)
)]

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use argh::FromArgs;

use crate::duration::Span;
use crate::size::Size;

/// Health checks and dependency waits for containers: one static binary, no shell needed.
/// Exit codes: 0 healthy, 1 unhealthy, 3 usage error, 126/127 command not executable/found.
/// --timeout, --json and -q may also come before the command; `probe help COMMAND` = `probe COMMAND --help`.
#[derive(FromArgs, Debug)]
pub struct Cli {
    /// print the version and exit
    #[argh(switch)]
    pub version: bool,

    #[argh(subcommand)]
    pub command: Option<Command>,
}

// Parsed once per run; boxing the larger variants would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(FromArgs, Debug)]
#[argh(subcommand)]
pub enum Command {
    Http(HttpArgs),
    Tcp(TcpArgs),
    Process(ProcessArgs),
    File(FileArgs),
    Redis(RedisArgs),
    Postgres(PostgresArgs),
    Amqp(AmqpArgs),
    Grpc(GrpcArgs),
    Mysql(MysqlArgs),
    Check(CheckArgs),
    WaitFor(WaitForArgs),
    MigrateThenExec(MigrateArgs),
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

/// The flags every one-shot check shares, wherever it is written.
#[derive(Clone, Copy, Debug, Default)]
pub struct Common {
    pub timeout: Option<Span>,
    pub json: bool,
    pub quiet: bool,
}

/// Declares a one-shot check's argh struct with the flags all checks share (`--json`,
/// `-q`), since argh cannot flatten a struct into another. Each check declares its own
/// `timeout` field (a [`CheckTimeout`] or [`PgTimeout`]), so that its help says what the
/// limit covers for that check.
macro_rules! check_args {
    // Checks that speak TLS also take the same certificate files.
    (
        tls_files;
        $(#[$attr:meta])*
        pub struct $name:ident { $($body:tt)* }
    ) => {
        check_args! {
            $(#[$attr])*
            pub struct $name {
                $($body)*

                /// PEM file of CA certificates to trust instead of the built-in web roots
                #[argh(option)]
                pub ca_file: Option<PathBuf>,

                /// client certificate chain (PEM) for mutual TLS
                #[argh(option)]
                pub cert: Option<PathBuf>,

                /// client private key (PEM) for mutual TLS
                #[argh(option)]
                pub key: Option<PathBuf>,
            }
        }
    };
    (
        $(#[$attr:meta])*
        pub struct $name:ident { $($body:tt)* }
    ) => {
        #[derive(FromArgs, Debug)]
        $(#[$attr])*
        pub struct $name {
            $($body)*

            /// print one JSON object per check instead of a text line
            #[argh(switch)]
            pub json: bool,

            /// print nothing: the exit code tells
            #[argh(switch, short = 'q')]
            pub quiet: bool,
        }

        impl $name {
            pub fn common(&self) -> Common {
                Common { timeout: self.timeout.map(|t| t.0), json: self.json, quiet: self.quiet }
            }
        }
    };
}

check_args! {
    tls_files;
    /// Check an HTTP(S) endpoint: healthy when the status is expected (default 200-399) and
    /// every body expectation holds. Proxies from the environment are ignored.
    #[argh(subcommand, name = "http")]
    pub struct HttpArgs {
        /// the URL, e.g. http://localhost:8000/health
        #[argh(positional, arg_name = "URL")]
        pub url: String,

        /// time limit for the whole check, DNS to last byte, e.g. 2s or 500ms (default 5s; not 0)
        #[argh(option)]
        pub timeout: Option<CheckTimeout>,

        /// request method (default GET)
        #[argh(option, short = 'X')]
        pub method: Option<String>,

        /// expected statuses: codes and ranges, e.g. 200,204 or 200-299 (default 200-399)
        #[argh(option)]
        pub expect_status: Option<String>,

        /// a request header 'Name: value' (repeatable)
        #[argh(option, short = 'H')]
        pub header: Vec<String>,

        /// the Host header to send instead of the URL's host
        #[argh(option)]
        pub host: Option<String>,

        /// connect to HOST:PORT instead, keeping the URL's name for TLS (SNI, certificate) and Host
        #[argh(option)]
        pub connect_to: Option<String>,

        /// follow redirects (at most 10) and check the final response; on a redirect to another scheme, host or port, -H headers, --host and URL credentials are dropped
        #[argh(switch, short = 'L')]
        pub follow_redirects: bool,

        /// with -L, send -H headers, --host and URL credentials to every host redirected to (curl's name)
        #[argh(switch)]
        pub location_trusted: bool,

        /// the body must contain this text (repeatable: all must appear)
        #[argh(option)]
        pub body_contains: Vec<String>,

        /// a JSON body value, as /pointer=value (RFC 6901); repeating one pointer accepts any of its values
        #[argh(option)]
        pub expect_json: Vec<String>,

        /// request body to send (e.g. with -X POST)
        #[argh(option, short = 'd')]
        pub data: Option<String>,

        /// do not verify the server's certificate
        #[argh(switch, short = 'k')]
        pub insecure: bool,

        /// speak HTTP over this Unix socket instead of TCP
        #[argh(option)]
        pub unix_socket: Option<PathBuf>,

        /// send the request through this HTTP proxy (proxy variables in the environment are ignored)
        #[argh(option)]
        pub proxy: Option<String>,
    }
}

check_args! {
    /// Check that TCP connections open: healthy when every HOST:PORT accepts one. nc -z's
    /// form works too: `probe tcp db 5432` (a word that is only a port number joins the host
    /// before it; a lone port is never a target).
    #[argh(subcommand, name = "tcp", example = "probe tcp db:5432 cache:6379", example = "probe tcp db 5432")]
    pub struct TcpArgs {
        /// HOST:PORT targets, e.g. db:5432 or [::1]:6379, or HOST PORT
        #[argh(positional, arg_name = "HOST:PORT")]
        pub targets: Vec<String>,

        /// time limit for the whole check, DNS to connected, all targets together, e.g. 2s or 500ms (default 5s; not 0)
        #[argh(option)]
        pub timeout: Option<CheckTimeout>,
    }
}

check_args! {
    /// Check for a live process in /proc (replaces pgrep -f): healthy when at least one
    /// process (or --min/--max) matches NAME and/or --cmdline, or the pid of --pid/--pidfile
    /// is alive. Zombies never count, stopped processes only with --allow-stopped. Probe never
    /// matches itself, another probe, or a shell or wrapper whose command line runs a probe.
    #[argh(subcommand, name = "process")]
    pub struct ProcessArgs {
        /// executable name, exact: the kernel's process name (comm) or the basename of argv[0]
        #[argh(positional, arg_name = "NAME")]
        pub name: Option<String>,

        /// time limit for reading /proc (default 5s; not 0)
        #[argh(option)]
        pub timeout: Option<CheckTimeout>,

        /// text that must appear in the command line (its arguments joined by spaces)
        #[argh(option)]
        pub cmdline: Option<String>,

        /// file holding the pid to check (its first word); with NAME or --cmdline that process
        /// must match them too, which catches a pid reused by another program
        #[argh(option)]
        pub pidfile: Option<PathBuf>,

        /// the pid to check, e.g. 1 for the container's main process
        #[argh(option)]
        pub pid: Option<u32>,

        /// at least this many processes must match (default 1, or 0 with --max 0)
        #[argh(option)]
        pub min: Option<u32>,

        /// at most this many processes may match
        #[argh(option)]
        pub max: Option<u32>,

        /// count stopped (SIGSTOP, traced) processes as running
        #[argh(switch)]
        pub allow_stopped: bool,

        /// unhealthy when a matching process's resident memory is above this, e.g. 512M
        #[argh(option)]
        pub max_rss: Option<Size>,
    }
}

check_args! {
    /// Check a file, e.g. a worker's heartbeat: healthy when it exists and (with --max-age)
    /// was modified recently enough. A modification time more than 5s in the future is unhealthy.
    #[argh(subcommand, name = "file")]
    pub struct FileArgs {
        /// the file, e.g. /tmp/worker-heartbeat
        #[argh(positional, arg_name = "PATH")]
        pub path: PathBuf,

        /// time limit for reading the file (default 5s; not 0)
        #[argh(option)]
        pub timeout: Option<CheckTimeout>,

        /// the file must have been modified within this long, e.g. 60s or 2m
        #[argh(option)]
        pub max_age: Option<Span>,

        /// the file must hold at least this many bytes, e.g. 1 or 4k
        #[argh(option)]
        pub min_size: Option<Size>,

        /// the file's first MiB must contain this text
        #[argh(option)]
        pub contains: Option<String>,
    }
}

check_args! {
    tls_files;
    /// Check a Redis or Valkey server: healthy only when PING answers PONG (NOAUTH, LOADING,
    /// BUSY, MASTERDOWN and other error replies are unhealthy). Without a URL, uses $REDIS_URL,
    /// else redis://127.0.0.1:6379.
    #[argh(subcommand, name = "redis")]
    pub struct RedisArgs {
        /// redis://[user[:password]@]host[:port][/db], rediss://... (TLS), unix:///path or redis+unix:///path
        #[argh(positional, arg_name = "URL")]
        pub url: Option<String>,

        /// server host (redis-cli -h; default 127.0.0.1); with -h, -p, -n or --tls, REDIS_URL is not read
        #[argh(option, short = 'h')]
        pub host: Option<String>,

        /// server port (redis-cli -p; default 6379)
        #[argh(option, short = 'p')]
        pub port: Option<u16>,

        /// database number to SELECT (redis-cli -n)
        #[argh(option, short = 'n')]
        pub db: Option<u32>,

        /// connect with TLS, like a rediss:// URL (redis-cli --tls)
        #[argh(switch)]
        pub tls: bool,

        /// ACL user to authenticate as (Redis 6 or later; needs a password)
        #[argh(option)]
        pub user: Option<String>,

        /// the password (redis-cli -a); it shows in `ps`: --password-file or the URL from REDIS_URL do not
        #[argh(option, short = 'a')]
        pub password: Option<String>,

        /// read the password from this file, e.g. a Docker secret (one trailing newline is ignored)
        #[argh(option)]
        pub password_file: Option<PathBuf>,

        /// healthy only with this role: master, or replica (whose link to its master must be up)
        #[argh(option)]
        pub role: Option<String>,

        /// do not verify the server's certificate (rediss:// or --tls)
        #[argh(switch, short = 'k')]
        pub insecure: bool,

        /// time limit for the whole check, DNS to the last reply, e.g. 2s or 500ms (default 5s; not 0)
        #[argh(option)]
        pub timeout: Option<CheckTimeout>,
    }
}

check_args! {
    tls_files;
    /// Check a PostgreSQL server. Default: healthy when it answers and is not starting up,
    /// shutting down or in recovery (pg_isready's rule; a refused login still means up, and
    /// no password is sent unless one is given). With --query, --primary or --replica: log in
    /// and check. Without URL: DATABASE_URL, else PGHOST, PGPORT, PGUSER, PGPASSWORD,
    /// PGDATABASE, PGSSLMODE, PGCONNECT_TIMEOUT, PGAPPNAME; default postgres@localhost:5432 over TCP.
    #[argh(subcommand, name = "postgres")]
    pub struct PostgresArgs {
        /// postgres://[user[:password]@][host][:port][/dbname][?sslmode=...&host=/socket/dir]
        #[argh(positional, arg_name = "URL")]
        pub url: Option<String>,

        /// server host name, IP address or socket directory (pg_isready -h; default localhost)
        #[argh(option, short = 'h')]
        pub host: Option<String>,

        /// server port (pg_isready -p; default 5432)
        #[argh(option, short = 'p')]
        pub port: Option<u16>,

        /// time limit for the whole check, DNS to last byte: seconds as pg_isready -t writes them (3), or a duration (500ms); default 5s, not 0
        #[argh(option, short = 't')]
        pub timeout: Option<PgTimeout>,

        /// log in and run this SQL: healthy when it succeeds and returns at least one row
        #[argh(option)]
        pub query: Option<String>,

        /// with --query: the first column of the first row must be this text
        #[argh(option)]
        pub expect: Option<String>,

        /// log in: healthy only on a primary (pg_is_in_recovery() is false)
        #[argh(switch)]
        pub primary: bool,

        /// log in: healthy only on a replica (pg_is_in_recovery() is true)
        #[argh(switch)]
        pub replica: bool,

        /// user name (pg_isready -U; default: the URL's, else PGUSER, else postgres)
        #[argh(option, short = 'U')]
        pub username: Option<String>,

        /// the same as --username
        #[argh(option, hidden_help)]
        pub user: Option<String>,

        /// database name (pg_isready -d; default: the URL's, else PGDATABASE, else the user name)
        #[argh(option, short = 'd')]
        pub dbname: Option<String>,

        /// read the password from this file, e.g. /run/secrets/db_password (one trailing newline is ignored)
        #[argh(option)]
        pub password_file: Option<PathBuf>,

        /// disable, prefer (default: TLS when offered, unverified), require, verify-ca or verify-full
        #[argh(option)]
        pub sslmode: Option<String>,
    }
}

check_args! {
    tls_files;
    /// Check a RabbitMQ (AMQP 0-9-1) broker: healthy when it answers the protocol header with
    /// Connection.Start. With credentials: log in (PLAIN), open the vhost, close cleanly; a
    /// refused login or an unknown vhost is fatal. Default URL amqp://127.0.0.1:5672.
    #[argh(subcommand, name = "amqp")]
    pub struct AmqpArgs {
        /// amqp://[user[:password]@]host[:port][/vhost] or amqps://... (TLS, port 5671)
        #[argh(positional)]
        pub url: Option<String>,

        /// user to log in as (needs --password-file or a password in the URL)
        #[argh(option)]
        pub user: Option<String>,

        /// read the password from this file, e.g. a Docker secret (one trailing newline is ignored)
        #[argh(option)]
        pub password_file: Option<PathBuf>,

        /// virtual host to open after logging in (default: the URL's, else /)
        #[argh(option)]
        pub vhost: Option<String>,

        /// also publish one empty, unroutable message: unhealthy when a memory or disk alarm blocks publishers
        #[argh(switch)]
        pub check_alarms: bool,

        /// do not verify the server's certificate (amqps://)
        #[argh(switch, short = 'k')]
        pub insecure: bool,

        /// time limit for the whole check, DNS to closed connection, e.g. 2s or 500ms (default 5s; not 0)
        #[argh(option)]
        pub timeout: Option<CheckTimeout>,
    }
}

check_args! {
    tls_files;
    /// Check a gRPC server with the gRPC Health Checking Protocol v1 (h2c, or TLS with ALPN
    /// h2): healthy only when it answers SERVING. NOT_SERVING and UNKNOWN are unhealthy; an
    /// unknown service and a server without the health service are fatal.
    #[argh(subcommand, name = "grpc")]
    pub struct GrpcArgs {
        /// the server: HOST:PORT, grpc://HOST:PORT or grpcs://HOST:PORT (TLS), e.g. localhost:50051
        #[argh(positional)]
        pub target: String,

        /// the service to ask about (default: the server's overall health)
        #[argh(option)]
        pub service: Option<String>,

        /// speak TLS (as grpcs:// does), verified against the built-in roots or --ca-file
        #[argh(switch)]
        pub tls: bool,

        /// do not verify the server's certificate
        #[argh(switch, short = 'k')]
        pub insecure: bool,

        /// the name to verify the certificate against and send as SNI (default: HOST)
        #[argh(option)]
        pub server_name: Option<String>,

        /// metadata 'key: value' sent with the call, e.g. 'authorization: Bearer ...' (repeatable; never printed)
        #[argh(option, short = 'H')]
        pub header: Vec<String>,

        /// time limit for the whole check, DNS to the health answer, e.g. 2s or 500ms (default 5s; not 0)
        #[argh(option)]
        pub timeout: Option<CheckTimeout>,
    }
}

check_args! {
    tls_files;
    /// Check a MySQL or MariaDB server the way `mysqladmin ping` means it: healthy when it
    /// greets and accepts the login (then COM_PING answers) or refuses it while no password
    /// was given (Access denied still means up). A given password must work. Too many
    /// connections, host blocked and shutting down are unhealthy. Password: the URL, else
    /// --password-file, else MYSQL_PWD. Default mysql://root@localhost:3306 over TCP.
    #[argh(subcommand, name = "mysql")]
    pub struct MysqlArgs {
        /// mysql://[user[:password]@]host[:port][/db][?ssl-mode=...&socket=/path], mariadb://..., or mysql+unix:///path/to/mysqld.sock
        #[argh(positional)]
        pub url: Option<String>,

        /// user name (default: the URL's, else root)
        #[argh(option, short = 'u')]
        pub user: Option<String>,

        /// read the password from this file, e.g. /run/secrets/db_password (one trailing newline is ignored)
        #[argh(option)]
        pub password_file: Option<PathBuf>,

        /// log in and run this SQL: healthy when it succeeds and returns at least one row
        #[argh(option)]
        pub query: Option<String>,

        /// with --query: the first column of the first row must be this text
        #[argh(option)]
        pub expect: Option<String>,

        /// DISABLED, PREFERRED (default: TLS when offered, unverified), REQUIRED, VERIFY_CA or VERIFY_IDENTITY
        #[argh(option)]
        pub ssl_mode: Option<String>,

        /// time limit for the whole check, DNS to the last answer, e.g. 2s or 500ms (default 5s; not 0)
        #[argh(option)]
        pub timeout: Option<CheckTimeout>,
    }
}

check_args! {
    /// Run several checks in parallel under one deadline: healthy when all are (with --any:
    /// when one is). A TARGET is host:port (tcp), a URL whose scheme picks the check (tcp, http,
    /// https, postgres[ql][+driver], redis, rediss, unix, mysql, mariadb, grpc, grpcs, amqp,
    /// amqps) or a quoted check command line such as 'http http://api/health --expect-json /status=ok'.
    #[argh(subcommand, name = "check")]
    pub struct CheckArgs {
        /// the targets
        #[argh(positional, arg_name = "TARGET")]
        pub targets: Vec<String>,

        /// time limit for all targets together, e.g. 2s (default 5s; not 0); a target's own --timeout is its own limit
        #[argh(option)]
        pub timeout: Option<CheckTimeout>,

        /// healthy when at least one target is
        #[argh(switch)]
        pub any: bool,
    }
}

/// Wait until every TARGET is ready, then run CMD in probe's place (exec: same PID), or
/// exit 0 when no CMD follows `--`. CMD never runs after a failed wait. Targets can also
/// come from PROBE_WAIT_TARGETS (separated by spaces or commas; quote command lines).
#[derive(FromArgs, Debug)]
#[argh(
    subcommand,
    name = "wait-for",
    usage = "[TARGET...] [options] [-- CMD [ARGS...]]",
    example = "probe wait-for tcp://db:5432 http://api:8080/health --timeout 2m -- ./app --serve",
    note = "Everything after -- is the command, run as written: never expanded, never parsed. In probe's own arguments $VAR and ${{VAR:-default}} are expanded; write $$ for a literal $."
)]
pub struct WaitForArgs {
    /// the targets: host:port, URLs (tcp, http(s), postgres, redis, mysql, grpc, amqp, ...) or quoted check command lines
    #[argh(positional, arg_name = "TARGET")]
    pub targets: Vec<String>,

    /// give up after this long (default 60s, or PROBE_WAIT_TIMEOUT; 0: no limit, waits forever)
    #[argh(option)]
    pub timeout: Option<Span>,

    /// longest pause between attempts (default 1s, or PROBE_WAIT_INTERVAL); polls every 100ms for the first 10s
    #[argh(option)]
    pub interval: Option<Span>,

    /// time limit of one attempt, unless a target sets its own --timeout (default 5s; not 0)
    #[argh(option)]
    pub attempt_timeout: Option<Span>,

    /// healthy results in a row each target needs (default 1)
    #[argh(option)]
    pub successes: Option<u32>,

    /// ready when any one target is, instead of all
    #[argh(switch)]
    pub any: bool,

    /// keep waiting after a fatal result (login failed, certificate rejected)
    #[argh(switch)]
    pub retry_fatal: bool,

    /// print progress as JSON lines
    #[argh(switch)]
    pub json: bool,

    /// print nothing
    #[argh(switch, short = 'q')]
    pub quiet: bool,
}

/// Wait for dependencies, run a migration (one replica at a time with --lock), and if it
/// exits 0, run CMD in probe's place (exec). The migration's exit code is probe's when it
/// fails; CMD never runs after a failed wait or migration.
#[derive(FromArgs, Debug)]
#[argh(
    subcommand,
    name = "migrate-then-exec",
    usage = "--migrate CMD [options] -- CMD [ARGS...]",
    example = "probe migrate-then-exec --wait postgres://db/app --migrate 'alembic upgrade head' --lock -- gunicorn app:app",
    note = "Everything after -- is the app command, run as written: never expanded, never parsed."
)]
pub struct MigrateArgs {
    /// the migration command, split into words like a shell would but never run by one,
    /// e.g. 'alembic upgrade head' (probe expands ${VAR} and a set $VAR in it: write $$ for a literal $)
    #[argh(option)]
    pub migrate: String,

    /// a dependency to wait for first, as in wait-for (repeatable)
    #[argh(option)]
    pub wait: Vec<String>,

    /// hold a PostgreSQL advisory lock while migrating, so replicas migrate one at a time
    #[argh(switch)]
    pub lock: bool,

    /// the PostgreSQL URL for the lock (default: the postgres --wait target, else DATABASE_URL and PG* variables)
    #[argh(option)]
    pub lock_url: Option<String>,

    /// the lock key: an integer, or a name hashed to one (default: probe-migrate)
    #[argh(option)]
    pub lock_key: Option<String>,

    /// longest wait for the lock (default: --timeout)
    #[argh(option)]
    pub lock_timeout: Option<Span>,

    /// limit for waiting for the dependencies and the lock (default 60s; 0: no limit, waits forever)
    #[argh(option)]
    pub timeout: Option<Span>,

    /// stop the migration (SIGTERM, SIGKILL 10s later) if it runs longer; default: no limit
    #[argh(option)]
    pub migrate_timeout: Option<Span>,

    /// print progress as JSON lines
    #[argh(switch)]
    pub json: bool,

    /// print nothing
    #[argh(switch, short = 'q')]
    pub quiet: bool,
}
