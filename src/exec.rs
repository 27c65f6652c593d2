//! Becoming the app: `execve` with a shell-like PATH lookup, so the app keeps probe's PID
//! (PID 1 in a container, where `docker stop` signals it directly). Only a failure returns,
//! as the exit code a shell would give: 127 not found, 126 not executable.

use std::io::ErrorKind;
use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::outcome::Exit;

/// Replaces the process with `command`. Returns only if that was impossible, after
/// printing why.
pub fn exec(command: &[String]) -> Exit {
    let Some((program, args)) = command.split_first() else {
        return Exit::Healthy;
    };
    let error = Command::new(program).args(args).exec();
    let exit = failure_exit(error.kind());
    eprintln!(
        "probe: cannot run {program}: {}",
        crate::net::io_reason(&error)
    );
    exit
}

/// The shell's exit code for a command that could not be started.
pub fn failure_exit(kind: ErrorKind) -> Exit {
    match kind {
        ErrorKind::NotFound => Exit::NotFound,
        _ => Exit::NotExecutable,
    }
}
