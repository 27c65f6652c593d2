//! The command line of probe's modes, as argh structs whose doc comments are their
//! `--help`; the checks come from the registry (crate::registry), each reading its own
//! words against its own option table (crate::options). Parsing only turns words into
//! these values; what they mean is checked once, where they are used.

use argh::{CommandInfo, DynamicSubCommand, EarlyExit, FromArgs, SubCommand};

use crate::duration::Span;
use crate::options::blocks::{CheckTimeout, Common};
use crate::options::{Early, Words};
use crate::registry::{self, Kind};

/// Health checks and dependency waits for containers: one static binary, no shell needed.
/// Exit codes: 0 healthy, 1 unhealthy, 3 usage error, 126/127 command not executable/found.
/// --timeout, --json and -q may also come before the command; `probe help COMMAND` = `probe COMMAND --help`.
#[derive(FromArgs, Debug)]
pub struct Cli {
    /// print the version and exit
    #[argh(switch)]
    pub version: bool,

    #[argh(subcommand)]
    pub command: Option<Subcommand>,
}

/// argh's door to the commands: one dynamic variant, so that `probe --help` lists the
/// checks (from the registry) before the modes.
#[derive(FromArgs, Debug)]
#[argh(subcommand)]
pub enum Subcommand {
    #[argh(dynamic)]
    Any(Command),
}

#[derive(Debug)]
pub enum Command {
    /// A check, with its words read against its option table.
    Check {
        kind: &'static Kind,
        words: Words,
    },
    CheckMode(CheckArgs),
    WaitFor(WaitForArgs),
    MigrateThenExec(MigrateArgs),
}

/// The checks' names and descriptions for argh (its help, and finding a command by name),
/// read from the registry at compile time: a health check starts often, and nothing of
/// this table needs building at run time.
static CHECK_INFOS: [CommandInfo; registry::KINDS.len()] = {
    const EMPTY: CommandInfo = CommandInfo {
        name: "",
        short: &'\0',
        description: "",
    };
    let mut infos = [EMPTY; registry::KINDS.len()];
    let mut at = 0;
    while at < infos.len() {
        let kind = &registry::KINDS[at];
        infos[at] = CommandInfo {
            name: kind.name,
            short: &'\0',
            description: match kind.check {
                Some(check) => check.spec.about,
                None => "not built into this binary",
            },
        };
        at += 1;
    }
    infos
};

/// The checks, then the modes: the order of `probe --help`.
static COMMANDS: [&CommandInfo; registry::KINDS.len() + 3] = {
    let mut commands = [<CheckArgs as SubCommand>::COMMAND; registry::KINDS.len() + 3];
    let mut at = 0;
    while at < CHECK_INFOS.len() {
        commands[at] = &CHECK_INFOS[at];
        at += 1;
    }
    commands[at + 1] = <WaitForArgs as SubCommand>::COMMAND;
    commands[at + 2] = <MigrateArgs as SubCommand>::COMMAND;
    commands
};

impl DynamicSubCommand for Command {
    fn commands() -> &'static [&'static CommandInfo] {
        &COMMANDS
    }

    fn try_redact_arg_values(
        _command_name: &[&str],
        _args: &[&str],
    ) -> Option<Result<Vec<String>, EarlyExit>> {
        // probe never asks argh to redact: crate::redact masks everything printed.
        Some(Ok(Vec::new()))
    }

    fn try_from_args(command_name: &[&str], args: &[&str]) -> Option<Result<Self, EarlyExit>> {
        let name = *command_name.last()?;
        Some(match name {
            "check" => CheckArgs::from_args(command_name, args).map(Command::CheckMode),
            "wait-for" => WaitForArgs::from_args(command_name, args).map(Command::WaitFor),
            "migrate-then-exec" => {
                MigrateArgs::from_args(command_name, args).map(Command::MigrateThenExec)
            }
            _ => {
                let kind = registry::find(name)?;
                parse_check(kind, args)
                    .map(|words| Command::Check { kind, words })
                    .map_err(|early| match (early, kind.check) {
                        (Early::Help, Some(check)) => EarlyExit {
                            output: check.spec.help(&command_name.join(" ")),
                            status: Ok(()),
                        },
                        (Early::Help, None) => EarlyExit {
                            output: String::new(),
                            status: Ok(()),
                        },
                        (Early::Error(error), _) => EarlyExit {
                            output: error.0,
                            status: Err(()),
                        },
                    })
            }
        })
    }
}

/// A check's words read against its table; a check this binary lacks says so.
pub fn parse_check(kind: &'static Kind, args: &[&str]) -> Result<Words, Early> {
    let check = kind.built()?;
    Words::parse(&check.spec, args)
}

/// Run several checks in parallel under one deadline: healthy when all are (with --any:
/// when one is). A TARGET is host:port (tcp), a URL whose scheme picks the check (tcp, http,
/// https, postgres[ql][+driver], redis, rediss, unix, mysql, mariadb, grpc, grpcs, amqp,
/// amqps) or a quoted check command line such as 'http http://api/health --expect-json /status=ok'.
#[derive(FromArgs, Debug)]
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

    /// print one JSON object per check instead of a text line
    #[argh(switch)]
    pub json: bool,

    /// print nothing: the exit code tells
    #[argh(switch, short = 'q')]
    pub quiet: bool,
}

impl CheckArgs {
    pub fn common(&self) -> Common {
        Common {
            timeout: self.timeout.map(|t| t.0),
            json: self.json,
            quiet: self.quiet,
        }
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
