//! Running the checked program once, under the check's deadline, with bounded output.
//!
//! The program is spawned directly (no shell) in a process group of its own, stdin
//! `/dev/null`, and with probe's environment as probe received it. One `poll(2)` waits on
//! three things at once: its stdout, its stderr, and a pipe that closes when it ends
//! ([`crate::exec::when_ended`]): so neither stream can block the other, a program that
//! closes its streams but runs on is still timed, and one that ends while a background
//! process it started holds the streams open does not hang the check.
//!
//! Time: the deadline is the verdict's, so the stop comes out of it. SIGTERM goes to the
//! whole group at `deadline - grace` (grace = the smaller of 1s and a fifth of the budget),
//! SIGKILL at the deadline; the child is then reaped within a few milliseconds
//! ([`REAP_WAIT`] at most, for a process stuck in the kernel). A program that ends after
//! SIGTERM, even with status 0, timed out.
//!
//! When the program ends, whatever it left running in its group is killed (a health check
//! leaves nothing behind), and its streams are read until they close, [`DRAIN`] at most.
//!
//! Memory: each stream keeps its last [`KEEP`] bytes (the reason is the last line); the
//! rest is read and dropped, searched on the way for `--expect-output`'s text.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::deadline::Deadline;
use crate::probe::find_bytes;
use crate::signals::signal_group;

/// Bytes kept of each stream: its end, where the last line is.
pub const KEEP: usize = 4096;

/// Bytes read at once.
const CHUNK: usize = 16 * 1024;

/// How long the streams are read after the program ended, for output still in the pipes
/// when a process outside its group (which the kill does not reach) holds them open.
const DRAIN: Duration = Duration::from_millis(100);

/// How long a killed program gets to be reaped before the verdict is given without it.
const REAP_WAIT: Duration = Duration::from_millis(50);

/// Longest time between SIGTERM and SIGKILL at the deadline.
const MAX_GRACE: Duration = Duration::from_secs(1);

/// Longest budget counted with: `Instant + Duration` must not overflow.
const MAX_BUDGET: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The last [`KEEP`] bytes of one stream, and whether the text looked for went by.
#[derive(Debug)]
pub struct Tail {
    kept: Vec<u8>,
    /// Bytes were dropped before `kept`: its first line may have lost its start.
    pub cut: bool,
    pub found: bool,
}

impl Tail {
    pub(super) fn new() -> Self {
        Tail {
            kept: Vec::with_capacity(KEEP + CHUNK),
            cut: false,
            found: false,
        }
    }

    pub fn kept(&self) -> &[u8] {
        &self.kept
    }

    /// Appends `chunk`, looking for `needle` (at most [`KEEP`] bytes) across the seam with
    /// what was kept, then drops all but the last [`KEEP`] bytes.
    pub(super) fn push(&mut self, chunk: &[u8], needle: Option<&[u8]>) {
        let seam = self
            .kept
            .len()
            .saturating_sub(needle.map_or(0, |needle| needle.len().saturating_sub(1)));
        self.kept.extend_from_slice(chunk);
        if let Some(needle) = needle.filter(|_| !self.found) {
            self.found = find_bytes(&self.kept[seam..], needle).is_some();
        }
        if self.kept.len() > KEEP {
            self.kept.drain(..self.kept.len() - KEEP);
            self.cut = true;
        }
    }

    #[cfg(test)]
    pub fn capacity(&self) -> usize {
        self.kept.capacity()
    }
}

/// How the program ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Exited(i32),
    Signaled(i32),
    /// Still running at `deadline - grace`: stopped with SIGTERM, and `killed` when it
    /// took SIGKILL at the deadline.
    TimedOut {
        killed: bool,
    },
}

#[derive(Debug)]
pub struct Ran {
    pub end: End,
    pub stdout: Tail,
    pub stderr: Tail,
}

/// Runs `program` (found already) with `argv` (`argv[0]` as written) until it ends or the
/// deadline passes. Err: it could not be started (the error of execve, fork or pipe).
pub fn run(
    program: &Path,
    argv: &[OsString],
    needle: Option<&[u8]>,
    deadline: &Deadline,
) -> io::Result<Ran> {
    let budget = deadline.remaining().unwrap_or_default().min(MAX_BUDGET);
    let started = Instant::now();
    let end = started + budget;
    let term_at = end - MAX_GRACE.min(budget / 5);

    let (ended_read, ended_write) = io::pipe()?;
    let mut command = Command::new(program);
    if let Some((arg0, args)) = argv.split_first() {
        command.arg0(arg0).args(args);
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    crate::exec::in_own_group(&mut command, false);
    let mut child = crate::exec::spawn_tracked(&mut command)?;
    let pid = child.id() as i32;
    crate::exec::when_ended(pid, Box::new(move || drop(ended_write)));

    let mut streams = [
        (
            child
                .stdout
                .take()
                .map(|out| File::from(OwnedFd::from(out))),
            Tail::new(),
        ),
        (
            child
                .stderr
                .take()
                .map(|err| File::from(OwnedFd::from(err))),
            Tail::new(),
        ),
    ];
    let mut ended = false;
    // Stopped by probe: SIGTERM at `term_at`, or SIGKILL at `end`.
    let mut stopped = false;
    let mut drain_until = end;
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let now = Instant::now();
        if ended && (now >= drain_until || streams.iter().all(|(open, _)| open.is_none())) {
            break;
        }
        if !ended && now >= end {
            signal_group(pid, libc::SIGKILL);
            stopped = true;
            break;
        }
        if !ended && !stopped && now >= term_at {
            signal_group(pid, libc::SIGTERM);
            stopped = true;
        }
        let wake = match (ended, stopped) {
            (true, _) => drain_until,
            (false, true) => end,
            (false, false) => term_at,
        };
        let mut fds = [pollfd(-1); 3];
        let mut count = 0;
        let watched = streams.iter().filter_map(|(open, _)| open.as_ref());
        for fd in watched
            .map(AsRawFd::as_raw_fd)
            .chain((!ended).then(|| ended_read.as_raw_fd()))
        {
            fds[count] = pollfd(fd);
            count += 1;
        }
        let fds = &mut fds[..count];
        match wait(fds, wake.saturating_duration_since(now)) {
            Ok(true) => {}
            Ok(false) => continue,
            // Never with three valid fds; the child must not outlive the check anyway.
            Err(_) => {
                signal_group(pid, libc::SIGKILL);
                break;
            }
        }
        let mut ready = fds.iter().map(|fd| fd.revents != 0);
        for (open, tail) in &mut streams {
            let Some(stream) = open else { continue };
            if !ready.next().unwrap_or(false) {
                continue;
            }
            match stream.read(&mut chunk) {
                Ok(0) => *open = None,
                Ok(read) => tail.push(&chunk[..read], needle),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => *open = None,
            }
        }
        if !ended && ready.next().unwrap_or(false) {
            ended = true;
            // What the program left running: the streams close when it dies.
            signal_group(pid, libc::SIGKILL);
            drain_until = (Instant::now() + DRAIN).min(end);
        }
    }
    for (open, _) in &mut streams {
        *open = None;
    }
    let status = reap(child, &ended_read, ended);
    let [(_, stdout), (_, stderr)] = streams;
    let end = match status {
        _ if stopped => End::TimedOut {
            killed: !ended || status.is_none(),
        },
        None => End::TimedOut { killed: true },
        Some(status) => match (status.code(), status.signal()) {
            (Some(code), _) => End::Exited(code),
            (None, Some(signal)) => End::Signaled(signal),
            (None, None) => End::Exited(1),
        },
    };
    Ok(Ran {
        end,
        stdout,
        stderr,
    })
}

/// Reaps the child once it has ended (`ended`, or within [`REAP_WAIT`] of the kill). One
/// stuck in the kernel is left to a thread that reaps it whenever it ends: `None`.
fn reap(
    mut child: Child,
    ended_read: &io::PipeReader,
    ended: bool,
) -> Option<std::process::ExitStatus> {
    if !ended {
        let mut fds = [pollfd(ended_read.as_raw_fd())];
        let until = Instant::now() + REAP_WAIT;
        loop {
            match wait(&mut fds, until.saturating_duration_since(Instant::now())) {
                Ok(true) => break,
                Ok(false) if Instant::now() < until => continue,
                _ => {
                    let pid = child.id() as i32;
                    crate::exec::when_ended(
                        pid,
                        Box::new(move || {
                            drop(child.wait());
                            crate::exec::untrack(pid);
                        }),
                    );
                    return None;
                }
            }
        }
    }
    let status = child.wait().ok();
    crate::exec::untrack(child.id() as i32);
    status
}

fn pollfd(fd: i32) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// Polls `fds` for at most `timeout` (rounded up to a millisecond): whether one is ready
/// (readable, closed or failed). Interrupted counts as nothing ready.
fn wait(fds: &mut [libc::pollfd], timeout: Duration) -> io::Result<bool> {
    let millis = timeout.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32;
    // SAFETY: `fds` is a valid array of `fds.len()` pollfd entries.
    let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, millis) };
    if ready < 0 {
        let error = io::Error::last_os_error();
        return match error.kind() {
            io::ErrorKind::Interrupted => Ok(false),
            _ => Err(error),
        };
    }
    Ok(ready > 0)
}
