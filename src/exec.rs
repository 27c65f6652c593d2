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

/// How a child process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    Exited(i32),
    Signaled(i32),
    /// Killed by probe after its time limit.
    TimedOut,
    /// Stopped by probe because the caller's watch failed (migrate-then-exec's lock lost).
    Stopped,
}

impl Ended {
    /// The exit code a shell would report for it (`TimedOut` is probe's failure: 1).
    pub fn exit(self) -> Exit {
        match self {
            Ended::Exited(code) => Exit::Code(code.clamp(0, 255) as u8),
            Ended::Signaled(signal) => Exit::signal(signal),
            Ended::TimedOut | Ended::Stopped => Exit::Unhealthy,
        }
    }
}

/// How long a child gets between SIGTERM and SIGKILL when its time is up.
const KILL_GRACE: std::time::Duration = std::time::Duration::from_secs(10);
/// How often `watch` is called while a child runs.
const WATCH_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs `command` as a child with inherited stdio, forwarding probe's signals to it, and
/// waits for it (at most `limit`: then SIGTERM, and SIGKILL after a grace period). The
/// child dies with probe (PR_SET_PDEATHSIG), so a killed probe leaves no orphan running.
/// Err is the exit code for a command that could not be started (126/127).
///
/// `watch` is called about every second while the child runs; when it returns false the
/// child is stopped the same way (SIGTERM, SIGKILL after the grace period): `Stopped`.
pub fn run_child(
    command: &[String],
    limit: Option<std::time::Duration>,
    watch: &mut dyn FnMut() -> bool,
) -> Result<Ended, Exit> {
    use std::os::unix::process::ExitStatusExt;

    let (program, args) = command.split_first().ok_or(Exit::Usage)?;
    crate::signals::install(&crate::signals::FORWARDED);
    let mut child_command = Command::new(program);
    child_command.args(args);
    // SAFETY: prctl is async-signal-safe and touches only the child's own state.
    unsafe {
        child_command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = child_command.spawn().map_err(|error| {
        eprintln!(
            "probe: cannot run {program}: {}",
            crate::net::io_reason(&error)
        );
        failure_exit(error.kind())
    })?;
    let pid = child.id();
    crate::signals::forward_to(pid);
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait());
    });
    let started = std::time::Instant::now();
    let stop = |why: Ended| {
        // SAFETY: plain kill(2) on our own child.
        unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        if receiver.recv_timeout(KILL_GRACE).is_err() {
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            let _ = receiver.recv();
        }
        crate::signals::stop_forwarding();
        Ok(why)
    };
    let status = loop {
        let left = limit.map(|limit| limit.saturating_sub(started.elapsed()));
        match receiver.recv_timeout(left.map_or(WATCH_EVERY, |left| left.min(WATCH_EVERY))) {
            Ok(status) => break Some(status),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break None,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if limit.is_some_and(|limit| started.elapsed() >= limit) {
                    return stop(Ended::TimedOut);
                }
                if !watch() {
                    return stop(Ended::Stopped);
                }
            }
        }
    };
    crate::signals::stop_forwarding();
    match status {
        Some(Ok(status)) => Ok(match (status.code(), status.signal()) {
            (Some(code), _) => Ended::Exited(code),
            (None, Some(signal)) => Ended::Signaled(signal),
            (None, None) => Ended::Exited(1),
        }),
        _ => Ok(Ended::Exited(1)),
    }
}
