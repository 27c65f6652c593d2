//! Becoming the app: `execve` with a shell-like PATH lookup, so the app keeps probe's PID
//! (PID 1 in a container, where `docker stop` signals it directly). Only a failure returns,
//! as the exit code a shell would give: 127 not found, 126 not executable.
//!
//! And running the migration as a child in its own process group: a stop (time limit,
//! signal, lost lock) is for everything it started, not only the process probe spawned.
//! `probe exec` runs its program with the same pieces ([`in_own_group`], [`when_ended`],
//! [`find_program`]), its output piped and its time bounded by the check's deadline.

use std::ffi::OsString;
use std::io::ErrorKind;
use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::outcome::Exit;
use crate::signals;

/// Most children reaped before exec: bounds the loop if something keeps making zombies.
const MAX_REAPED: usize = 4096;

/// Replaces the process with `command`, its words passed on as bytes, exactly as given.
/// Returns only if that was impossible, after printing why.
pub fn exec(command: &[OsString]) -> Exit {
    let Some((program, args)) = command.split_first() else {
        return Exit::Healthy;
    };
    reap_ended();
    signals::unblock();
    let error = Command::new(program).args(args).exec();
    cannot_run(&program.to_string_lossy(), &error)
}

/// Reaps every child that has already ended, never waiting for one that runs: as PID 1 (or a
/// subreaper) probe adopts the migration's orphans, and their zombies would pass to the app,
/// which did not make them and may never reap them.
fn reap_ended() {
    for _ in 0..MAX_REAPED {
        // SAFETY: waitpid with a null status pointer is valid; WNOHANG never blocks.
        if unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) } <= 0 {
            break;
        }
    }
}

/// Says why `program` could not be started; its exit code.
fn cannot_run(program: &str, error: &std::io::Error) -> Exit {
    eprintln!(
        "{}",
        crate::redact::scrub(&format!(
            "probe: cannot run {program}: {}",
            crate::outcome::io_reason(error)
        ))
    );
    failure_exit(error.kind())
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

/// Runs `command` as a child with inherited stdio in its own process group, forwarding
/// probe's signals to it, and waits for it (at most `limit`: then SIGTERM to the group, and
/// SIGKILL after a grace period). The child dies with probe (PR_SET_PDEATHSIG), so a killed
/// probe leaves no orphan running. Err is the exit code for a command that could not be
/// started (126/127).
///
/// `watch` is called about every second while the child runs; when it returns false the
/// child is stopped the same way (SIGTERM, SIGKILL after the grace period): `Stopped`.
/// After a stop (these two, or a terminating signal forwarded), what is left of the group
/// when the child ends is killed.
///
/// When probe's group is in the foreground of the terminal on stdin, the child's group takes
/// the foreground while it runs (a shell's job control does the same): the child gets the
/// terminal's Ctrl-C and can read a prompt's answer; probe takes the terminal back after.
pub fn run_child<S: AsRef<std::ffi::OsStr>>(
    command: &[S],
    limit: Option<std::time::Duration>,
    watch: &mut dyn FnMut() -> bool,
) -> Result<Ended, Exit> {
    use std::os::unix::process::ExitStatusExt;
    use std::sync::mpsc::RecvTimeoutError;

    let (program, args) = command.split_first().ok_or(Exit::Usage)?;
    signals::install();
    let terminal = owns_terminal();
    let mut child_command = Command::new(program);
    child_command.args(args);
    in_own_group(&mut child_command, terminal);
    let mut child = signals::forward_to(
        || spawn_tracked(&mut child_command),
        std::process::Child::id,
    )
    .map_err(|error| cannot_run(&program.as_ref().to_string_lossy(), &error))?;
    let pid = child.id() as i32;
    let (sender, receiver) = std::sync::mpsc::channel();
    when_ended(
        pid,
        Box::new(move || {
            let _ = sender.send(());
        }),
    );
    let started = std::time::Instant::now();
    let mut stopped = None;
    loop {
        let left = limit.map(|limit| limit.saturating_sub(started.elapsed()));
        match receiver.recv_timeout(left.map_or(WATCH_EVERY, |left| left.min(WATCH_EVERY))) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {
                if limit.is_some_and(|limit| started.elapsed() >= limit) {
                    stopped = Some(Ended::TimedOut);
                } else if !watch() {
                    stopped = Some(Ended::Stopped);
                } else {
                    continue;
                }
                signals::signal_group(pid, libc::SIGTERM);
                if receiver.recv_timeout(KILL_GRACE).is_err() {
                    signals::signal_group(pid, libc::SIGKILL);
                    let _ = receiver.recv();
                }
                break;
            }
        }
    }
    if stopped.is_some() || signals::stop_requested().is_some() {
        signals::signal_group(pid, libc::SIGKILL);
    }
    signals::stop_forwarding();
    if terminal {
        take_terminal();
    }
    let status = child.wait();
    untrack(pid);
    if let Some(why) = stopped {
        return Ok(why);
    }
    Ok(match status {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => Ended::Exited(code),
            (None, Some(signal)) => Ended::Signaled(signal),
            (None, None) => Ended::Exited(1),
        },
        Err(_) => Ended::Exited(1),
    })
}

/// The children probe spawned and will reap itself ([`spawn_tracked`]): [`reap_orphans`]
/// leaves them alone, or their owner's `wait` would find nothing and lose the exit status.
static TRACKED: std::sync::Mutex<Vec<i32>> = std::sync::Mutex::new(Vec::new());

fn tracked() -> std::sync::MutexGuard<'static, Vec<i32>> {
    TRACKED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Spawns `command`, its pid tracked from before [`reap_orphans`] could see it end.
pub fn spawn_tracked(command: &mut Command) -> std::io::Result<std::process::Child> {
    let mut tracked = tracked();
    let child = command.spawn()?;
    tracked.push(child.id() as i32);
    Ok(child)
}

/// Forgets a tracked child, once its owner has reaped it.
pub fn untrack(pid: i32) {
    tracked().retain(|&tracked| tracked != pid);
}

/// Reaps the children that ended and that nobody spawned through [`spawn_tracked`]: as
/// PID 1 (`probe serve -- CMD`), probe adopts every orphan of the app, and an init that
/// does not reap them fills the process table with zombies (tini's job). Never waits.
pub fn reap_orphans() {
    let tracked = tracked();
    for _ in 0..MAX_REAPED {
        // SAFETY: a zeroed siginfo_t is a valid buffer; WNOWAIT only looks, WNOHANG never
        // blocks.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let found = unsafe {
            libc::waitid(
                libc::P_ALL,
                0,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        // SAFETY: waitid filled `info` (si_pid 0: no child has ended).
        let pid = unsafe { info.si_pid() };
        // A tracked child is its owner's to reap; the others wait for the next round.
        if found != 0 || pid <= 0 || tracked.contains(&pid) {
            return;
        }
        // SAFETY: reaps exactly the child just seen ended.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
    }
}

/// Makes the child that `command` spawns the leader of a process group of its own, so that
/// a stop reaches everything it starts; with `terminal`, that group takes the terminal's
/// foreground. The child gets SIGKILL if the thread that spawned it ends first
/// (PR_SET_PDEATHSIG), and none of probe's blocked signals.
pub fn in_own_group(command: &mut Command, terminal: bool) {
    // SAFETY: setpgid, tcsetpgrp, sigprocmask and prctl are async-signal-safe and touch
    // only the child's own state.
    unsafe {
        command.pre_exec(move || {
            libc::setpgid(0, 0);
            if terminal {
                take_terminal();
            }
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            signals::unblock();
            Ok(())
        });
    }
}

/// Calls `ended`, from a thread of its own, once the child `pid` has ended. The child is
/// left unreaped (WNOWAIT): its pid, the id of its group, cannot be reused while probe may
/// still signal the group. The caller reaps it (`Child::wait`). Boxed: each closure type
/// would be another copy of std's thread start-up.
pub fn when_ended(pid: i32, ended: Box<dyn FnOnce() + Send>) {
    std::thread::spawn(move || {
        // SAFETY: a zeroed siginfo_t is a valid buffer for waitid.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        while unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        } != 0
            && std::io::Error::last_os_error().kind() == ErrorKind::Interrupted
        {}
        ended();
    });
}

/// Where `execvp` would find `program`: the path itself when it holds a `/`, else the
/// first executable regular file named so in a directory of `PATH` (musl's default
/// `/usr/local/bin:/bin:/usr/bin` when unset; an empty entry is the current directory).
/// Err of kind `NotFound` when there is none, `PermissionDenied` when the only candidates
/// cannot be executed (a directory, a file without the x bit): [`failure_exit`]'s 127 and
/// 126. Lets a command be checked before anything runs.
pub fn find_program(program: &std::ffi::OsStr) -> std::io::Result<std::path::PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    use std::path::{Path, PathBuf};

    let executable = |path: &Path| -> std::io::Result<()> {
        if std::fs::metadata(path)?.is_dir() {
            return Err(ErrorKind::PermissionDenied.into());
        }
        let name = std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::from(ErrorKind::InvalidInput))?;
        // SAFETY: a NUL-terminated path; access(2) only reads it.
        if unsafe { libc::access(name.as_ptr(), libc::X_OK) } == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    if program.is_empty() {
        return Err(ErrorKind::NotFound.into());
    }
    if program.as_bytes().contains(&b'/') {
        return executable(Path::new(program)).map(|()| PathBuf::from(program));
    }
    let path = std::env::var_os("PATH");
    let path = path
        .as_deref()
        .map_or(&b"/usr/local/bin:/bin:/usr/bin"[..], |path| path.as_bytes());
    let mut denied = false;
    for dir in path.split(|&byte| byte == b':') {
        let dir = if dir.is_empty() { &b"."[..] } else { dir };
        let candidate = Path::new(std::ffi::OsStr::from_bytes(dir)).join(program);
        match executable(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(error) => denied |= error.kind() == ErrorKind::PermissionDenied,
        }
    }
    Err(if denied {
        ErrorKind::PermissionDenied
    } else {
        ErrorKind::NotFound
    }
    .into())
}

/// Words as a shell would need them quoted, for progress lines and reports (bytes that are
/// not UTF-8 shown as U+FFFD).
pub fn shell_words(words: &[OsString]) -> String {
    let words: Vec<_> = words.iter().map(|word| word.to_string_lossy()).collect();
    shlex::try_join(words.iter().map(|word| &**word)).unwrap_or_else(|_| words.join(" "))
}

/// Whether stdin is a terminal whose foreground is probe's process group.
fn owns_terminal() -> bool {
    // SAFETY: plain queries of fd 0 and of probe's own group.
    unsafe { libc::isatty(0) == 1 && libc::tcgetpgrp(0) == libc::getpgrp() }
}

/// Makes the caller's process group the foreground of the terminal on stdin. A background
/// group asking for it gets SIGTTOU, blocked meanwhile. Async-signal-safe.
fn take_terminal() {
    // SAFETY: valid sets; sigemptyset, sigaddset, pthread_sigmask and tcsetpgrp are
    // async-signal-safe.
    unsafe {
        let mut ttou: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut ttou);
        libc::sigaddset(&mut ttou, libc::SIGTTOU);
        libc::pthread_sigmask(libc::SIG_BLOCK, &ttou, &mut old);
        libc::tcsetpgrp(0, libc::getpgrp());
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
    }
}
