//! probe: container health checks and dependency waits in one static binary.

use std::process::ExitCode;

mod app;
mod arena;
mod cli;
mod deadline;
mod duration;
mod env;
mod exec;
mod expand;
mod fsread;
mod mode;
mod net;
mod outcome;
mod probe;
#[cfg(test)]
mod props;
mod redact;
mod report;
mod signals;
mod size;
#[cfg(any(
    feature = "http",
    feature = "postgres",
    feature = "redis",
    feature = "amqp",
    feature = "grpc",
    feature = "mysql"
))]
mod stream;
mod target;
#[cfg(feature = "tls")]
mod tls;
mod url;

use outcome::Exit;

#[global_allocator]
static ALLOCATOR: arena::StartupArena = arena::StartupArena::new();

fn main() -> ExitCode {
    // panic = "abort" would end the process with SIGABRT (134): say what happened and
    // exit 1 instead, so that an orchestrator reads "unhealthy", never a strange code.
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "probe: internal error: {}",
            redact::scrub(&info.to_string())
        );
        std::process::exit(Exit::Unhealthy.code().into());
    }));

    let exit = match split_argv(std::env::args_os().skip(1)) {
        Ok((args, command)) => app::run(args, command).unwrap_or_else(|error| {
            eprintln!("probe: {}", redact::scrub(&error.to_string()));
            Exit::Usage
        }),
        Err(position) => {
            // Not quoted: the argument may hold a secret that cannot be registered.
            eprintln!("probe: argument {position} is not valid UTF-8");
            Exit::Usage
        }
    };
    ExitCode::from(exit.code())
}

/// Splits argv at the first `--`: before it, probe's own arguments, which must be UTF-8
/// (Err: the 1-based position of one that is not); after it, a command, kept as bytes (it
/// is passed on to execve exactly as given).
fn split_argv(
    argv: impl Iterator<Item = std::ffi::OsString>,
) -> Result<(Vec<String>, Option<Vec<std::ffi::OsString>>), usize> {
    let mut own = Vec::new();
    let mut argv = argv.enumerate();
    for (index, arg) in argv.by_ref() {
        if arg == "--" {
            return Ok((own, Some(argv.map(|(_, arg)| arg).collect())));
        }
        own.push(arg.into_string().map_err(|_| index + 1)?);
    }
    Ok((own, None))
}
