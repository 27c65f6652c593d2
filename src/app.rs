//! From argv to an exit code: expand variables, parse, validate everything, then run.

use std::time::Duration;

use argh::FromArgs;

use crate::cli::{Cli, Command};
use crate::expand::expand;
use crate::mode;
use crate::outcome::{usage, Exit, UsageError};
use crate::report::Format;
use crate::target::{self, argh_error, Target};

/// `--timeout` of one-shot checks and `check`: well below Docker's 30s default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Parses and runs a whole command line (without argv\[0\]).
pub fn run(args: Vec<String>) -> Result<Exit, UsageError> {
    let args = args
        .iter()
        .map(|arg| expand(arg))
        .collect::<Result<Vec<_>, _>>()?;
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let cli = match Cli::from_args(&["probe"], &words) {
        Ok(cli) => cli,
        Err(exit) if exit.status.is_ok() => {
            print!("{}", exit.output);
            return Ok(Exit::Healthy);
        }
        Err(exit) => return Err(argh_error(&exit.output)),
    };
    if cli.version {
        println!("probe {}", env!("CARGO_PKG_VERSION"));
        return Ok(Exit::Healthy);
    }
    let Some(command) = cli.command else {
        return usage("missing a command; see probe --help");
    };
    match command {
        Command::Check(args) => {
            if args.targets.is_empty() {
                return usage("check needs at least one TARGET");
            }
            let targets = parse_targets(&args.targets)?;
            let common = args.common();
            let budget = common.timeout.map_or(DEFAULT_TIMEOUT, |span| span.0);
            let format = Format::from_flags(common.json, common.quiet);
            Ok(mode::check::run(targets, budget, format, args.any))
        }
        one_shot => {
            let checks = target::checks_from_command(one_shot)?;
            let budget = checks.common.timeout.map_or(DEFAULT_TIMEOUT, |span| span.0);
            let format = Format::from_flags(checks.common.json, checks.common.quiet);
            Ok(mode::check::run(checks.targets, budget, format, false))
        }
    }
}

/// Parses every TARGET before anything is probed: one bad target means nothing runs.
pub fn parse_targets(texts: &[String]) -> Result<Vec<Target>, UsageError> {
    let mut targets = Vec::new();
    for text in texts {
        targets.extend(target::parse(text)?);
    }
    Ok(targets)
}
