//! From argv to an exit code: expand variables, parse, validate everything, then run.

use std::ffi::OsString;
use std::time::Duration;

// src/argv.rs; declared here rather than in main.rs, its only caller being this module.
#[path = "argv.rs"]
mod argv;

use crate::cli::{Command, MigrateArgs, Parsed, ServeArgs, WaitForArgs};
use crate::duration::Span;
use crate::expand::expand;
use crate::mode;
use crate::mode::retry::Policy;
use crate::options::blocks::Common;
use crate::options::is_flag;
use crate::outcome::{usage, Exit, UsageError};
use crate::redact;
use crate::report::Format;
use crate::target::{self, Target};

/// `--timeout` of one-shot checks and `check`: well below Docker's 30s default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// wait-for's overall `--timeout`.
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_WAIT_INTERVAL: Duration = Duration::from_secs(1);

use argv::RUNS_A_COMMAND;

/// Parses and runs a whole command line (without argv\[0\]): probe's own arguments, and the
/// words after the first `--`, if any (bytes: a command's arguments need not be UTF-8).
pub fn run(args: Vec<String>, after: Option<Vec<OsString>>) -> Result<Exit, UsageError> {
    crate::env::validate()?;
    // The command after `--` is never expanded: its secrets are registered as written.
    let shown: Vec<String> = after
        .iter()
        .flatten()
        .map(|word| word.to_string_lossy().into())
        .collect();
    redact::register_arguments(&shown);
    let dashdash_at = args.len() + 1;
    let (raw, command) = split_command(argv::prepare(args), after, dashdash_at)?;
    let has_command = command.is_some();
    let total: usize = raw.iter().map(String::len).sum();
    if total > MAX_ARGUMENTS {
        return usage(format!(
            "probe's arguments are longer than {} KiB together",
            MAX_ARGUMENTS / 1024
        ));
    }
    // ${VAR} is expanded in probe's own arguments, never in the command it runs: that
    // command gets its arguments exactly as written, like exec "$@" in a script. Then,
    // before anything is parsed or printed, every secret the arguments carry is known to
    // the scrubber: what stands in a secret position (a URL's password, after `-a`), as
    // written or as expanded, and expanded credential variables (crate::expand). Nothing
    // before this prints an argument, and errors of expansion name only the variable, so
    // an unexpanded `${PW}` is never mistaken for a password. The environment is not
    // scanned: the variables probe reads register theirs as they are read (crate::env).
    // A check whose words after `--` are a command (`probe exec -- CMD`) runs it as
    // written, like wait-for's.
    let runs_as_written = raw
        .iter()
        .find(|arg| !is_flag(arg))
        .and_then(|name| crate::registry::find(name))
        .and_then(|kind| kind.check)
        .is_some_and(|check| check.spec.positional.arity == crate::options::Arity::Command);
    let literal_from = match runs_as_written {
        true => raw.iter().position(|arg| arg == "--"),
        false => None,
    };
    let args = raw
        .iter()
        .enumerate()
        .map(|(at, arg)| match literal_from {
            Some(from) if at > from => Ok(arg.clone()),
            _ => expand(arg),
        })
        .collect::<Result<Vec<_>, _>>()?;
    redact::register_arguments(&args);
    let hint = |error| argv::with_dashdash_hint(error, &args, has_command);
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let parsed = match crate::cli::parse(&words).map_err(hint)? {
        Parsed::Run(parsed) => parsed,
        Parsed::Help(text) => {
            print!("{text}");
            return Ok(Exit::Healthy);
        }
        Parsed::Version => {
            // Set by build.rs: which binary this is, for a user looking into an image.
            println!(
                "probe {}\ntarget: {}\nfeatures: {}\ncommit: {}",
                env!("CARGO_PKG_VERSION"),
                env!("PROBE_BUILD_TARGET"),
                env!("PROBE_BUILD_FEATURES"),
                env!("PROBE_BUILD_COMMIT"),
            );
            return Ok(Exit::Healthy);
        }
    };
    if command.is_some()
        && !matches!(
            parsed,
            Command::WaitFor(_) | Command::MigrateThenExec(_) | Command::Serve(_)
        )
    {
        return usage("`-- CMD` only follows wait-for, migrate-then-exec and serve");
    }
    let dry_run = dry_run()?;
    let command = command.unwrap_or_default();
    // Everything is parsed and validated here; only running is left.
    let run: Box<dyn FnOnce() -> Exit> = match parsed {
        Command::CheckMode(args) => {
            if args.targets.is_empty() {
                return usage("check needs at least one TARGET");
            }
            run_checks(parse_targets(&args.targets)?, args.common(), args.any)
        }
        Command::WaitFor(args) => {
            let wait = wait_spec(&args).map_err(hint)?;
            Box::new(move || mode::wait_for::run(wait, &command))
        }
        Command::MigrateThenExec(args) => {
            let mut plan = migrate_plan(&args)?;
            plan.shown = unexpanded(&raw, &words, "--migrate").unwrap_or_default();
            Box::new(move || mode::migrate::run(plan, &command))
        }
        Command::Serve(args) => {
            let plan = serve_plan(&args, !command.is_empty())?;
            Box::new(move || mode::serve::run(plan, &command))
        }
        Command::Check { kind, words } => {
            let checks = target::checks(kind, &words)?;
            run_checks(checks.targets, checks.common, false)
        }
    };
    Ok(if dry_run { Exit::Healthy } else { run() })
}

/// The argument after `flag` as the user wrote it, before expansion (arguments expand
/// one to one, so the same index holds it).
fn unexpanded(raw: &[String], words: &[&str], flag: &str) -> Option<String> {
    let at = words.iter().rposition(|word| *word == flag)?;
    raw.get(at + 1).cloned()
}

/// Runs checks once under their shared `--timeout`, printing as `--json`/`-q` say.
fn run_checks(targets: Vec<Target>, common: Common, any: bool) -> Box<dyn FnOnce() -> Exit> {
    let budget = common.timeout.map_or(DEFAULT_TIMEOUT, |span| span.0);
    let format = Format::from_flags(common.json, common.quiet);
    Box::new(move || mode::check::run(targets, budget, format, any))
}

/// Keeps the words after `--` (at argument `dashdash_at`) as the command to run for
/// `wait-for ... -- CMD ARGS`; for any other subcommand they are probe's own arguments
/// again, behind the `--`, and must be UTF-8.
fn split_command(
    mut args: Vec<String>,
    after: Option<Vec<OsString>>,
    dashdash_at: usize,
) -> Result<(Vec<String>, Option<Vec<OsString>>), UsageError> {
    let Some(after) = after else {
        return Ok((args, None));
    };
    let takes_command = args
        .iter()
        .find(|arg| !is_flag(arg))
        .is_some_and(|name| RUNS_A_COMMAND.contains(&name.as_str()));
    if takes_command {
        return Ok((args, Some(after)));
    }
    args.push("--".into());
    for (index, word) in after.into_iter().enumerate() {
        let word = word.into_string().map_err(|_| {
            // Not quoted: the argument may hold a secret that cannot be registered.
            UsageError::new(format!(
                "argument {} is not valid UTF-8",
                dashdash_at + 1 + index
            ))
        })?;
        args.push(word);
    }
    Ok((args, None))
}

/// `PROBE_DRY_RUN=1`: parse and validate everything, probe nothing, exit 0 (or 3). For
/// checking the probe lines of Dockerfiles and manifests in CI.
fn dry_run() -> Result<bool, UsageError> {
    match crate::env::text("PROBE_DRY_RUN")?.as_deref() {
        None | Some("") | Some("0") => Ok(false),
        Some("1") => Ok(true),
        Some(other) => usage(format!("PROBE_DRY_RUN must be 1 or 0, not {other:?}")),
    }
}

/// Most bytes of probe's own arguments together (the command after `--` not counted).
pub const MAX_ARGUMENTS: usize = 256 * 1024;

/// Reads an optional duration variable; a bad value is an error, never a silent default.
fn env_span(name: &str) -> Result<Option<Span>, UsageError> {
    match crate::env::text(name)? {
        None => Ok(None),
        Some(text) => text
            .parse::<Span>()
            .map(Some)
            .map_err(|error| UsageError::new(format!("{name}: {error}"))),
    }
}

/// wait-for's targets (arguments, then PROBE_WAIT_TARGETS) and policy.
fn wait_spec(args: &WaitForArgs) -> Result<mode::wait_for::Wait, UsageError> {
    let mut texts = args.targets.clone();
    if let Some(from_env) = crate::env::text("PROBE_WAIT_TARGETS")? {
        let expanded = expand(&from_env)
            .map_err(|error| UsageError::new(format!("PROBE_WAIT_TARGETS: {error}")))?;
        let words = shlex::split(&commas_to_spaces(&expanded))
            .ok_or_else(|| UsageError::new("PROBE_WAIT_TARGETS: unbalanced quotes"))?;
        redact::register_arguments(&words);
        texts.extend(words);
    }
    if texts.is_empty() {
        return usage("wait-for needs at least one TARGET (arguments or PROBE_WAIT_TARGETS)");
    }
    let timeout = args
        .timeout
        .or(env_span("PROBE_WAIT_TIMEOUT")?)
        .map_or(DEFAULT_WAIT_TIMEOUT, |span| span.0);
    let env_interval = env_span("PROBE_WAIT_INTERVAL")?;
    let interval = args
        .interval
        .or(env_interval)
        .map_or(DEFAULT_WAIT_INTERVAL, |span| span.0);
    if interval.is_zero() {
        return usage("--interval must be more than 0");
    }
    let attempt_timeout = args.attempt_timeout.map_or(DEFAULT_TIMEOUT, |span| span.0);
    if attempt_timeout.is_zero() {
        return usage("--attempt-timeout must be more than 0");
    }
    let successes = args.successes.unwrap_or(1);
    if successes == 0 {
        return usage("--successes must be at least 1");
    }
    Ok(mode::wait_for::Wait {
        targets: parse_targets(&texts)?,
        policy: Policy {
            timeout: (!timeout.is_zero()).then_some(timeout),
            attempt_timeout,
            max_interval: interval,
            successes,
            retry_fatal: args.retry_fatal,
        },
        any: args.any,
        format: Format::from_flags(args.json, args.quiet),
    })
}

/// serve's checks, each target once with every endpoint it counts for, and its wait.
fn serve_plan(args: &ServeArgs, has_command: bool) -> Result<mode::serve::Serve, UsageError> {
    use mode::serve::cache::{LIVE, READY, STARTUP};
    let mut texts: Vec<(String, u8)> = Vec::new();
    for (list, group) in [
        (&args.ready, READY),
        (&args.live, LIVE),
        (&args.startup, STARTUP),
    ] {
        for text in list {
            match texts.iter_mut().find(|(known, _)| known == text) {
                Some((_, groups)) => *groups |= group,
                None => texts.push((text.clone(), group)),
            }
        }
    }
    if texts.is_empty() && !has_command {
        return usage("serve needs a --ready, --live or --startup TARGET (or -- CMD to supervise)");
    }
    let interval = args.interval.map_or(DEFAULT_SERVE_INTERVAL, |span| span.0);
    if interval < MIN_SERVE_INTERVAL {
        return usage("--interval must be at least 100ms");
    }
    if args.timeout.is_some() && !args.wait {
        return usage("--timeout is the limit of --wait: add --wait, or leave it out");
    }
    let wait = match args.wait {
        false => None,
        true if !has_command => return usage("--wait holds back CMD: add -- CMD, or leave it out"),
        true if args.ready.is_empty() => {
            return usage("--wait waits for the --ready targets: add one")
        }
        true => {
            let timeout = args.timeout.map_or(DEFAULT_WAIT_TIMEOUT, |span| span.0);
            Some(mode::wait_for::Wait {
                targets: parse_targets(&args.ready)?,
                policy: Policy {
                    timeout: (!timeout.is_zero()).then_some(timeout),
                    attempt_timeout: DEFAULT_TIMEOUT,
                    max_interval: DEFAULT_WAIT_INTERVAL,
                    successes: 1,
                    retry_fatal: false,
                },
                any: false,
                format: Format::from_flags(args.json, args.quiet),
            })
        }
    };
    let mut checks = Vec::new();
    for (text, groups) in texts {
        for target in target::parse(&text)? {
            checks.push(mode::serve::Served { target, groups });
        }
    }
    let listen_shown = args.listen.clone().unwrap_or_else(|| ":8086".into());
    Ok(mode::serve::Serve {
        listen: mode::serve::listen_addresses(&listen_shown)?,
        listen_shown,
        checks,
        interval,
        wait,
        format: Format::from_flags(args.json, args.quiet),
    })
}

/// serve's `--interval`, and the least it may be: each target runs once per interval.
const DEFAULT_SERVE_INTERVAL: Duration = Duration::from_secs(10);
const MIN_SERVE_INTERVAL: Duration = Duration::from_millis(100);

/// migrate-then-exec's phases, all validated before anything runs.
fn migrate_plan(args: &MigrateArgs) -> Result<mode::migrate::Migrate, UsageError> {
    let migration = shlex::split(&args.migrate)
        .filter(|words| !words.is_empty())
        .ok_or_else(|| {
            UsageError::new("--migrate needs a command, e.g. --migrate 'alembic upgrade head'")
        })?;
    let timeout = args.timeout.map_or(DEFAULT_WAIT_TIMEOUT, |span| span.0);
    let timeout = (!timeout.is_zero()).then_some(timeout);
    let format = Format::from_flags(args.json, args.quiet);
    let wait = match args.wait.is_empty() {
        true => None,
        false => Some(mode::wait_for::Wait {
            targets: parse_targets(&args.wait)?,
            policy: Policy {
                timeout,
                attempt_timeout: DEFAULT_TIMEOUT,
                max_interval: DEFAULT_WAIT_INTERVAL,
                successes: 1,
                retry_fatal: false,
            },
            any: false,
            format,
        }),
    };
    let lock_flags =
        args.lock_url.is_some() || args.lock_key.is_some() || args.lock_timeout.is_some();
    if lock_flags && !args.lock {
        return usage("--lock-url, --lock-key and --lock-timeout need --lock");
    }
    let lock = match args.lock {
        true => Some(migration_lock(args)?),
        false => None,
    };
    Ok(mode::migrate::Migrate {
        wait,
        lock,
        lock_timeout: match args.lock_timeout {
            Some(span) if span.0.is_zero() => None,
            Some(span) => Some(span.0),
            None => timeout,
        },
        shown: args.migrate.clone(),
        migration,
        migrate_timeout: args
            .migrate_timeout
            .map(|span| span.0)
            .filter(|limit| !limit.is_zero()),
        format,
    })
}

#[cfg(feature = "postgres")]
fn migration_lock(args: &MigrateArgs) -> Result<Box<dyn mode::migrate::MigrationLock>, UsageError> {
    let server = lock_server(args.lock_url.as_deref(), &args.wait)?;
    let lock = mode::migrate::lock::AdvisoryLock::new(server, args.lock_key.as_deref());
    Ok(Box::new(lock))
}

/// The lock's connection: `--lock-url`, else the first postgres `--wait` target (with
/// all its options, e.g. `--password-file`), else DATABASE_URL and the PG* variables.
#[cfg(feature = "postgres")]
fn lock_server(
    lock_url: Option<&str>,
    wait_targets: &[String],
) -> Result<crate::probe::postgres::Server, UsageError> {
    let words = match lock_url {
        Some(url) => vec!["postgres".to_string(), url.to_string()],
        None => {
            let mut found = None;
            for text in wait_targets {
                let words = target::words(text)?;
                if words.first().map(String::as_str) == Some("postgres") {
                    found = Some(words);
                    break;
                }
            }
            found.unwrap_or_else(|| vec!["postgres".to_string()])
        }
    };
    let settings = match parse_postgres_words(&words)? {
        Some(settings) => settings,
        None => return usage("--lock-url must be a postgres:// URL"),
    };
    let env = crate::env::get;
    crate::probe::postgres::server_from_settings(&settings, &env)
}

/// `probe postgres` settings from check words, if the words are a postgres check.
#[cfg(feature = "postgres")]
fn parse_postgres_words(
    words: &[String],
) -> Result<Option<crate::probe::postgres::PostgresSettings>, UsageError> {
    let Some(("postgres", rest)) = words
        .split_first()
        .map(|(name, rest)| (name.as_str(), rest))
    else {
        return Ok(None);
    };
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    let words = crate::options::Words::parse(&crate::probe::postgres::CHECK.spec, &rest).map_err(
        |early| match early {
            crate::options::Early::Error(error) => error,
            crate::options::Early::Help => UsageError::new("--help is not a lock URL"),
        },
    )?;
    crate::probe::postgres::PostgresSettings::from_words(&words).map(Some)
}

#[cfg(not(feature = "postgres"))]
fn migration_lock(_: &MigrateArgs) -> Result<Box<dyn mode::migrate::MigrationLock>, UsageError> {
    usage(
        "--lock needs PostgreSQL, and this probe binary was built without the \"postgres\" feature",
    )
}

/// Targets in PROBE_WAIT_TARGETS may be separated by commas as well as spaces; a comma
/// inside quotes (a command-line target) stays.
fn commas_to_spaces(text: &str) -> String {
    let mut quote = None;
    text.chars()
        .map(|c| match (c, quote) {
            ('\'' | '"', None) => {
                quote = Some(c);
                c
            }
            (c, Some(open)) if c == open => {
                quote = None;
                c
            }
            (',', None) => ' ',
            (c, _) => c,
        })
        .collect()
}

/// Parses every TARGET before anything is probed: one bad target means nothing runs.
/// `HOST PORT` is one target, as for `tcp` (wait-for-it and nc write it so).
pub fn parse_targets(texts: &[String]) -> Result<Vec<Target>, UsageError> {
    let mut targets = Vec::new();
    for text in crate::net::join_host_port(texts) {
        let text = &text;
        targets.extend(target::parse(text)?);
    }
    Ok(targets)
}
