//! probe: container health checks and dependency waits in one static binary.

#![cfg_attr(not(test), no_main)]

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
mod options;
mod outcome;
mod probe;
#[cfg(test)]
mod props;
mod redact;
mod registry;
mod report;
#[cfg(any(feature = "postgres", feature = "mongodb", feature = "kafka"))]
mod saslprep;
#[cfg(any(feature = "postgres", feature = "mongodb", feature = "kafka"))]
mod scram;
mod signals;
mod size;
mod stream;
mod target;
#[cfg(feature = "tls")]
mod tls;
mod url;

use outcome::Exit;

#[global_allocator]
static ALLOCATOR: arena::StartupArena = arena::StartupArena::new();

/// The C entry point, without std's runtime start-up: probe starts once per health check,
/// and std's start-up (a poll of fds 0-2, an alternate signal stack mapped, protected and
/// unmapped again for a stack-overflow message, SIGSEGV and SIGBUS handlers: 12 system
/// calls and a few page faults) is a tenth of a tcp check's own work. What probe needs of
/// it is done here: SIGPIPE ignored (a peer that closes makes a write fail, not kill
/// probe), the arguments read from `argv` (musl's std reads them only in that start-up),
/// stdout flushed at the end.
///
/// # Safety
/// Called by the C runtime with its `argc` and `argv`.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn main(
    argc: std::ffi::c_int,
    argv: *const *const std::ffi::c_char,
) -> std::ffi::c_int {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: setting a signal's disposition to SIG_IGN, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    // SAFETY: argv holds argc NUL-terminated strings, as the C runtime passes them.
    let args = (0..argc.max(0) as usize).map(|index| unsafe {
        std::ffi::OsStr::from_bytes(std::ffi::CStr::from_ptr(*argv.add(index)).to_bytes())
            .to_os_string()
    });
    env::set_argv(args.collect());
    let code = run(env::argv().iter().skip(1).cloned());
    let _ = std::io::Write::flush(&mut std::io::stdout());
    // SAFETY: ends the process. What exit() would add is not needed: probe registers no
    // atexit handler and writes nothing through C's stdio, and its own stdout is flushed
    // above. Skipping it spares the C destructors' code and `.fini`, far from the rest:
    // a page fault or two in every run.
    unsafe { libc::_exit(code.into()) }
}

/// From argv (without argv\[0\]) to an exit code.
fn run(argv: impl Iterator<Item = std::ffi::OsString>) -> u8 {
    // panic = "abort" would end the process with SIGABRT (134): say what happened and
    // exit 1 instead, so that an orchestrator reads "unhealthy", never a strange code.
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "probe: internal error: {}",
            redact::scrub(&info.to_string())
        );
        std::process::exit(Exit::Unhealthy.code().into());
    }));

    let exit = match split_argv(argv) {
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
    exit.code()
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
