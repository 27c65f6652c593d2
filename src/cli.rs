//! The command line: the top level (`--help`, `--version`, the command's name), and the
//! modes' option tables and settings. Every command reads its words with crate::options:
//! the checks from their registry rows (crate::registry), the modes from the tables here.
//! Parsing only turns words into these values; what they mean is checked once, where they
//! are used.

use crate::duration::Span;
use crate::options::blocks::{CheckTimeout, Common, OUTPUT};
use crate::options::{self, Arity, Early, Opt, Positional, Spec, Words};
use crate::outcome::{usage, UsageError};
use crate::registry::{self, Kind};

#[derive(Debug)]
pub enum Command {
    /// A check, with its words read against its option table.
    Check {
        kind: &'static Kind,
        words: Words,
    },
    // Boxed: a check, the command of every health check, is then moved around small.
    CheckMode(Box<CheckArgs>),
    WaitFor(Box<WaitForArgs>),
    MigrateThenExec(Box<MigrateArgs>),
    Serve(Box<ServeArgs>),
}

/// What a command line asks for.
#[derive(Debug)]
pub enum Parsed {
    Run(Command),
    /// `--help` of a command or of probe: the text to print.
    Help(String),
    Version,
}

/// The top level: probe's own `--version` and `--help`, then a command and its words.
static TOP: Spec = Spec {
    name: "probe",
    about: "Health checks and dependency waits for containers: one static binary, no shell \
            needed. Exit codes: 0 healthy, 1 unhealthy, 3 usage error, 126/127 command not \
            executable/found. --timeout, --json and -q may also come before the command; \
            `probe help COMMAND` = `probe COMMAND --help`.",
    positional: Positional {
        name: "",
        arity: Arity::None,
        help: "",
    },
    options: &[&[Opt::switch("version", "print the version and exit")]],
    foreign: &[],
    examples: &[],
    usage: Some("[--version] [<command>] [<args>]"),
    notes: &[],
};

/// The modes, in the order `probe --help` lists them after the checks.
static MODES: [&Spec; 4] = [&CHECK, &WAIT_FOR, &MIGRATE, &SERVE];

/// Reads a whole command line (without argv\[0\]) the way argh read it before: options of
/// the top level, then the command, which reads the rest; `--help` before the command is
/// that command's.
pub fn parse(words: &[&str]) -> Result<Parsed, UsageError> {
    let mut help = false;
    let mut version = false;
    let mut options_ended = false;
    for (at, &word) in words.iter().enumerate() {
        if !options_ended && (word == "--help" || word == "help") {
            help = true;
            continue;
        }
        if !options_ended && options::is_flag(word) {
            match word {
                "--" => options_ended = true,
                _ if help => return usage("trailing arguments are not allowed after `help`"),
                "--version" => version = true,
                _ => return usage(format!("unrecognized argument: {word}")),
            }
            continue;
        }
        let rest = &words[at + 1..];
        let with_help;
        let rest = match help {
            true => {
                with_help = [&["--help"], rest].concat();
                &with_help[..]
            }
            false => rest,
        };
        return match command(word, rest) {
            Some(Ok(_)) if version => Ok(Parsed::Version),
            Some(Ok(command)) => Ok(Parsed::Run(command)),
            Some(Err(Early::Help)) => Ok(Parsed::Help(help_of(word))),
            Some(Err(Early::Error(error))) => Err(error),
            None => usage(format!("unrecognized argument: {word}")),
        };
    }
    match (help, version) {
        (true, _) => Ok(Parsed::Help(top_help())),
        (false, true) => Ok(Parsed::Version),
        (false, false) => usage("missing a command; see probe --help"),
    }
}

/// The command `name` reading its words; `None` when there is no such command.
fn command(name: &str, rest: &[&str]) -> Option<Result<Command, Early>> {
    // A check first: its words go straight to its option table.
    if let Some(kind) = registry::find(name) {
        return Some(parse_check(kind, rest).map(|words| Command::Check { kind, words }));
    }
    let spec = *MODES.iter().find(|spec| spec.name == name)?;
    let words = match Words::parse(spec, rest).and_then(Words::require) {
        Ok(words) => words,
        Err(early) => return Some(Err(early)),
    };
    let command = match name {
        "check" => CheckArgs::from_words(&words).map(|args| Command::CheckMode(Box::new(args))),
        "wait-for" => WaitForArgs::from_words(&words).map(|args| Command::WaitFor(Box::new(args))),
        "serve" => ServeArgs::from_words(&words).map(|args| Command::Serve(Box::new(args))),
        _ => MigrateArgs::from_words(&words).map(|args| Command::MigrateThenExec(Box::new(args))),
    };
    Some(command.map_err(Early::Error))
}

/// The `--help` of the command `name` (one [`command`] found).
fn help_of(name: &str) -> String {
    let spec = match registry::find(name) {
        Some(kind) => kind.check.map(|check| &check.spec),
        None => MODES.iter().copied().find(|spec| spec.name == name),
    };
    spec.map(|spec| spec.help(&format!("probe {name}")))
        .unwrap_or_default()
}

/// `probe --help`: the top level's options, then every check (built in or not) and the
/// modes.
fn top_help() -> String {
    let mut out = TOP.help("probe");
    out.push_str("\nCommands:\n");
    for kind in registry::KINDS {
        let about = match kind.check {
            Some(check) => check.spec.about,
            None => "not built into this binary",
        };
        options::describe(&mut out, kind.name, about);
    }
    for spec in MODES {
        options::describe(&mut out, spec.name, spec.about);
    }
    out
}

/// A check's words read against its table; a check this binary lacks says so.
pub fn parse_check(kind: &'static Kind, args: &[&str]) -> Result<Words, Early> {
    let check = kind.built()?;
    Words::parse(&check.spec, args)
}

/// `-q, --quiet` of the modes that wait: "print nothing".
const QUIET: Opt = Opt::switch("quiet", "print nothing").short('q');

/// `--json` of the modes that wait.
const JSON_LINES: Opt = Opt::switch("json", "print progress as JSON lines");

static CHECK: Spec = Spec {
    name: "check",
    about: "Run several checks in parallel under one deadline: healthy when all are (with \
            --any: when one is). A TARGET is host:port (tcp), a URL whose scheme picks the \
            check (tcp, http, https, postgres[ql][+driver], redis, rediss, unix, mysql, \
            mariadb, grpc, grpcs, amqp, amqps) or a quoted check command line such as \
            'http http://api/health --expect-json /status=ok'.",
    positional: Positional {
        name: "TARGET",
        arity: Arity::Many,
        help: "the targets",
    },
    options: &[
        &[
            Opt::value(
                "timeout",
                "time limit for all targets together, e.g. 2s (default 5s; not 0); a target's own --timeout is its own limit",
            ),
            Opt::switch("any", "healthy when at least one target is"),
        ],
        OUTPUT,
    ],
    foreign: &[],
    examples: &[],
    usage: None,
    notes: &[],
};

/// `probe check`'s settings.
#[derive(Debug)]
pub struct CheckArgs {
    pub targets: Vec<String>,
    pub timeout: Option<CheckTimeout>,
    pub any: bool,
    pub json: bool,
    pub quiet: bool,
}

impl CheckArgs {
    fn from_words(words: &Words) -> Result<CheckArgs, UsageError> {
        Ok(CheckArgs {
            targets: words.positionals(),
            timeout: words.parsed("timeout")?,
            any: words.switch("any"),
            json: words.switch("json"),
            quiet: words.switch("quiet"),
        })
    }

    pub fn common(&self) -> Common {
        Common {
            timeout: self.timeout.map(|t| t.0),
            json: self.json,
            quiet: self.quiet,
        }
    }
}

static WAIT_FOR: Spec = Spec {
    name: "wait-for",
    about: "Wait until every TARGET is ready, then run CMD in probe's place (exec: same PID), \
            or exit 0 when no CMD follows `--`. CMD never runs after a failed wait. Targets can \
            also come from PROBE_WAIT_TARGETS (separated by spaces or commas; quote command \
            lines).",
    positional: Positional {
        name: "TARGET",
        arity: Arity::Many,
        help: "the targets: host:port, URLs (tcp, http(s), postgres, redis, mysql, grpc, amqp, ...) or quoted check command lines",
    },
    options: &[&[
        Opt::value(
            "timeout",
            "give up after this long (default 60s, or PROBE_WAIT_TIMEOUT; 0: no limit, waits forever)",
        ),
        Opt::value(
            "interval",
            "longest pause between attempts (default 1s, or PROBE_WAIT_INTERVAL); polls every 100ms for the first 10s",
        ),
        Opt::value(
            "attempt-timeout",
            "time limit of one attempt, unless a target sets its own --timeout (default 5s; not 0)",
        ),
        Opt::value(
            "successes",
            "healthy results in a row each target needs (default 1)",
        ),
        Opt::switch("any", "ready when any one target is, instead of all"),
        Opt::switch(
            "retry-fatal",
            "keep waiting after a fatal result (login failed, certificate rejected)",
        ),
        JSON_LINES,
        QUIET,
    ]],
    foreign: &[],
    examples: &[
        "probe wait-for tcp://db:5432 http://api:8080/health --timeout 2m -- ./app --serve",
    ],
    usage: Some("[TARGET...] [options] [-- CMD [ARGS...]]"),
    notes: &["Everything after -- is the command, run as written: never expanded, never parsed. In probe's own arguments $VAR and ${VAR:-default} are expanded; write $$ for a literal $."],
};

/// `probe wait-for`'s settings (the command after `--` aside).
#[derive(Debug)]
pub struct WaitForArgs {
    pub targets: Vec<String>,
    pub timeout: Option<Span>,
    pub interval: Option<Span>,
    pub attempt_timeout: Option<Span>,
    pub successes: Option<u32>,
    pub any: bool,
    pub retry_fatal: bool,
    pub json: bool,
    pub quiet: bool,
}

impl WaitForArgs {
    fn from_words(words: &Words) -> Result<WaitForArgs, UsageError> {
        Ok(WaitForArgs {
            targets: words.positionals(),
            timeout: words.parsed("timeout")?,
            interval: words.parsed("interval")?,
            attempt_timeout: words.parsed("attempt-timeout")?,
            successes: words.parsed("successes")?,
            any: words.switch("any"),
            retry_fatal: words.switch("retry-fatal"),
            json: words.switch("json"),
            quiet: words.switch("quiet"),
        })
    }
}

static MIGRATE: Spec = Spec {
    name: "migrate-then-exec",
    about: "Wait for dependencies, run a migration (one replica at a time with --lock), and if \
            it exits 0, run CMD in probe's place (exec). The migration's exit code is probe's \
            when it fails; CMD never runs after a failed wait or migration.",
    positional: Positional {
        name: "",
        arity: Arity::None,
        help: "",
    },
    options: &[&[
        Opt::value(
            "migrate",
            "the migration command, split into words like a shell would but never run by one, e.g. 'alembic upgrade head' (probe expands ${VAR} and a set $VAR in it: write $$ for a literal $)",
        )
        .required(),
        Opt::value(
            "wait",
            "a dependency to wait for first, as in wait-for (repeatable)",
        )
        .repeatable(),
        Opt::switch(
            "lock",
            "hold a PostgreSQL advisory lock while migrating, so replicas migrate one at a time",
        ),
        Opt::value(
            "lock-url",
            "the PostgreSQL URL for the lock (default: the postgres --wait target, else DATABASE_URL and PG* variables)",
        ),
        Opt::value(
            "lock-key",
            "the lock key: an integer, or a name hashed to one (default: probe-migrate)",
        ),
        Opt::value("lock-timeout", "longest wait for the lock (default: --timeout)"),
        Opt::value(
            "timeout",
            "limit for waiting for the dependencies and the lock (default 60s; 0: no limit, waits forever)",
        ),
        Opt::value(
            "migrate-timeout",
            "stop the migration (SIGTERM, SIGKILL 10s later) if it runs longer; default: no limit",
        ),
        JSON_LINES,
        QUIET,
    ]],
    foreign: &[],
    examples: &["probe migrate-then-exec --wait postgres://db/app --migrate 'alembic upgrade head' --lock -- gunicorn app:app"],
    usage: Some("--migrate CMD [options] -- CMD [ARGS...]"),
    notes: &["Everything after -- is the app command, run as written: never expanded, never parsed."],
};

/// `probe migrate-then-exec`'s settings (the command after `--` aside).
#[derive(Debug)]
pub struct MigrateArgs {
    pub migrate: String,
    pub wait: Vec<String>,
    pub lock: bool,
    pub lock_url: Option<String>,
    pub lock_key: Option<String>,
    pub lock_timeout: Option<Span>,
    pub timeout: Option<Span>,
    pub migrate_timeout: Option<Span>,
    pub json: bool,
    pub quiet: bool,
}

impl MigrateArgs {
    fn from_words(words: &Words) -> Result<MigrateArgs, UsageError> {
        Ok(MigrateArgs {
            // Required: Words::parse refused the words without it.
            migrate: words.text("migrate").unwrap_or_default(),
            wait: words.list("wait"),
            lock: words.switch("lock"),
            lock_url: words.text("lock-url"),
            lock_key: words.text("lock-key"),
            lock_timeout: words.parsed("lock-timeout")?,
            timeout: words.parsed("timeout")?,
            migrate_timeout: words.parsed("migrate-timeout")?,
            json: words.switch("json"),
            quiet: words.switch("quiet"),
        })
    }
}

static SERVE: Spec = Spec {
    name: "serve",
    about: "Run checks in the background and answer Kubernetes' httpGet probes from their \
            last results: /livez, /readyz, /startupz, /healthz (all of them) answer 200 or 503, \
            ?verbose says why, /metrics is Prometheus text. With -- CMD, probe stays PID 1 and \
            supervises CMD (signals forwarded, orphans reaped, its exit code returned).",
    positional: Positional {
        name: "",
        arity: Arity::None,
        help: "",
    },
    options: &[&[
        Opt::value(
            "listen",
            "where to answer: :PORT (every address, what the kubelet reaches), HOST:PORT or [::1]:PORT (default :8086)",
        ),
        Opt::value(
            "ready",
            "a TARGET that /readyz needs healthy, as in check and wait-for (repeatable)",
        )
        .repeatable(),
        Opt::value("live", "a TARGET that /livez needs healthy (repeatable)").repeatable(),
        Opt::value("startup", "a TARGET that /startupz needs healthy (repeatable)").repeatable(),
        Opt::value(
            "interval",
            "how often each target runs (default 10s, at least 100ms); a result older than two intervals fails",
        ),
        Opt::switch(
            "wait",
            "start CMD only once the ready targets pass, as wait-for would",
        ),
        Opt::value(
            "timeout",
            "with --wait: give up after this long, CMD not started (default 60s; 0: no limit)",
        ),
        JSON_LINES,
        QUIET,
    ]],
    foreign: &[],
    examples: &[
        "probe serve --ready postgres://db/app --ready redis://cache --live 'process --name worker'",
        "probe serve --listen :8086 --ready postgres://db/app --wait -- ./app --serve",
    ],
    usage: Some("[--ready TARGET]... [--live TARGET]... [--startup TARGET]... [options] [-- CMD [ARGS...]]"),
    notes: &["Answers never run a check: each target runs every --interval under its own deadline (its --timeout, else 5s; at most 4/5 of the interval). Nothing in a request is probed or echoed. Everything after -- is the command, run as written: never expanded, never parsed."],
};

/// `probe serve`'s settings (the command after `--` aside).
#[derive(Debug)]
pub struct ServeArgs {
    pub listen: Option<String>,
    pub ready: Vec<String>,
    pub live: Vec<String>,
    pub startup: Vec<String>,
    pub interval: Option<Span>,
    pub wait: bool,
    pub timeout: Option<Span>,
    pub json: bool,
    pub quiet: bool,
}

impl ServeArgs {
    fn from_words(words: &Words) -> Result<ServeArgs, UsageError> {
        Ok(ServeArgs {
            listen: words.text("listen"),
            ready: words.list("ready"),
            live: words.list("live"),
            startup: words.list("startup"),
            interval: words.parsed("interval")?,
            wait: words.switch("wait"),
            timeout: words.parsed("timeout")?,
            json: words.switch("json"),
            quiet: words.switch("quiet"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(words: &[&str]) -> String {
        match parse(words) {
            Err(error) => error.0,
            Ok(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn no_check_has_a_required_option() {
        // Checks skip Words::require (the modes' rule), to keep it off every health check.
        for check in registry::KINDS.iter().filter_map(|kind| kind.check) {
            for opt in check.spec.options.iter().copied().flatten() {
                assert!(!opt.required, "{} --{}", check.spec.name, opt.long);
            }
        }
    }

    #[test]
    fn the_modes_read_their_tables() {
        let Ok(Parsed::Run(Command::WaitFor(args))) = parse(&[
            "wait-for",
            "db:1",
            "--timeout",
            "0",
            "-q",
            "--successes",
            "2",
            "api:2",
        ]) else {
            panic!("wait-for");
        };
        assert_eq!(args.targets, ["db:1", "api:2"]);
        assert!(args.timeout.is_some_and(|span| span.0.is_zero()));
        assert_eq!(args.successes, Some(2));
        assert!(args.quiet && !args.json);
        let Ok(Parsed::Run(Command::MigrateThenExec(args))) = parse(&[
            "migrate-then-exec",
            "--migrate",
            "m up",
            "--wait",
            "a:1",
            "--wait",
            "b:2",
        ]) else {
            panic!("migrate-then-exec");
        };
        assert_eq!(args.migrate, "m up");
        assert_eq!(args.wait, ["a:1", "b:2"]);
        let Ok(Parsed::Run(Command::CheckMode(args))) = parse(&["check", "--any", "x:1"]) else {
            panic!("check");
        };
        assert!(args.any);
        assert_eq!(args.targets, ["x:1"]);
    }

    #[test]
    fn errors_name_the_word_as_argh_did() {
        assert_eq!(
            error_of(&["migrate-then-exec", "--json"]),
            "required options not provided: --migrate"
        );
        assert_eq!(
            error_of(&["migrate-then-exec", "--migrate", "x", "y"]),
            "unrecognized argument: y"
        );
        assert!(error_of(&["wait-for", "--timeout", "5", "x:1"])
            .starts_with("error parsing option '--timeout' with value '5': invalid duration"));
        assert!(error_of(&["check", "--timeout", "0", "x:1"]).contains("no limit"));
        assert_eq!(
            error_of(&["wait-for", "--successes", "x"]),
            "error parsing option '--successes' with value 'x': invalid digit found in string"
        );
        assert_eq!(error_of(&[]), "missing a command; see probe --help");
        assert_eq!(error_of(&["nope"]), "unrecognized argument: nope");
        assert_eq!(error_of(&["--bogus"]), "unrecognized argument: --bogus");
        assert_eq!(
            error_of(&["--help", "--version"]),
            "trailing arguments are not allowed after `help`"
        );
    }

    #[test]
    fn help_and_version_at_the_top_level() {
        let top = |words: &[&str]| match parse(words) {
            Ok(Parsed::Help(text)) => text,
            other => panic!("{other:?}"),
        };
        let help = top(&["--help"]);
        assert!(help.starts_with("Usage: probe [--version] [<command>] [<args>]\n\n"));
        let commands = &help[help.find("\nCommands:\n").expect("commands")..];
        let mut at = 0;
        for name in registry::KINDS
            .iter()
            .map(|kind| kind.name)
            .chain(MODES.iter().map(|spec| spec.name))
        {
            let line = format!("\n  {name} ");
            at += commands[at..]
                .find(&line)
                .unwrap_or_else(|| panic!("{name}"));
        }
        // `--help` before a command is the command's.
        assert!(top(&["--help", "wait-for"])
            .starts_with("Usage: probe wait-for [TARGET...] [options] [-- CMD [ARGS...]]\n"));
        assert!(top(&["migrate-then-exec", "help"]).contains("\nNotes:\n  Everything after --"));
        assert!(matches!(parse(&["--version"]), Ok(Parsed::Version)));
        assert!(matches!(parse(&["--version", "tcp"]), Ok(Parsed::Version)));
    }
}
