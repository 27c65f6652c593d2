//! Termination signals while probe waits or runs a child.
//!
//! tini's design, made safe for threads: the signals probe cares about are blocked before
//! any thread is spawned (so every thread inherits the mask) and collected by one thread
//! with `sigwait`. A blocked signal stays pending until it is collected, so none is lost in
//! a window, and it is queued even for PID 1, which the kernel gives no default signal
//! actions (without this, `docker stop`'s SIGTERM would be ignored until the grace period
//! ends in SIGKILL).
//!
//! The collector decides under one lock: with a migration running, it forwards the signal
//! to it; without one, it prints a fixed message and exits with 128+S (the command is
//! never exec'd). `forward_to` holds that lock from before the spawn until the child's pid is
//! known, so a signal that arrives while the child starts waits for it instead of ending
//! probe (and the child with it, through PDEATHSIG).
//!
//! Children and the exec'd app must not inherit the mask: `unblock` undoes it (std keeps the
//! parent's mask across fork and execve).

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, Once, PoisonError};

/// The running child's pid, which is also its process group; 0 while there is none.
static CHILD: Mutex<i32> = Mutex::new(0);
/// The last terminating signal forwarded to a child; 0 if none. A migration that exits 0
/// after `docker stop` must not lead to starting the app.
static STOP_REQUESTED: AtomicI32 = AtomicI32::new(0);

/// Signals that stop a child, and end probe when there is none.
pub const TERMINATING: [i32; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGQUIT];

/// Signals collected: forwarded to a running child (a migration), so that it can shut down
/// cleanly; without a child, each ends probe, as its default action would.
pub const FORWARDED: [i32; 6] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGHUP,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

fn forwarded_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set; sigaddset with valid signal numbers. Both are
    // async-signal-safe, so this may run between fork and exec.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in FORWARDED {
            libc::sigaddset(&mut set, signal);
        }
        set
    }
}

/// Blocks the signals in the calling thread and starts their collector. Idempotent.
///
/// Must be called before probe spawns any thread: a thread spawned earlier keeps the
/// signals unblocked, and one delivered to it would take its default action.
pub fn install() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let set = forwarded_set();
        // SAFETY: a valid set; changes only this thread's mask.
        unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        std::thread::spawn(move || loop {
            let mut signal = 0;
            // SAFETY: `set` is blocked in every thread of the process; sigwait only writes
            // `signal`.
            if unsafe { libc::sigwait(&set, &mut signal) } == 0 {
                collected(signal);
            }
        });
    });
}

/// Undoes `install`'s mask in the calling thread (a child about to exec, or probe about to
/// become the app). Async-signal-safe.
pub fn unblock() {
    let set = forwarded_set();
    // SAFETY: a valid set; pthread_sigmask is async-signal-safe.
    unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
}

fn collected(signal: i32) {
    // Held while signalling: the child is reaped only after `stop_forwarding` took it.
    let guard = CHILD.lock().unwrap_or_else(PoisonError::into_inner);
    let child = *guard;
    if child > 0 {
        if TERMINATING.contains(&signal) {
            STOP_REQUESTED.store(signal, Ordering::SeqCst);
            // A stop is for the whole migration, as a terminal's Ctrl-C is for a job.
            signal_group(child, signal);
        } else {
            // SAFETY: plain kill(2) on a child that is not reaped yet.
            unsafe { libc::kill(child, signal) };
        }
        return;
    }
    eprintln!("probe: stopped by signal {signal}");
    // SAFETY: ends the process at once; the waiting threads have nothing to clean up.
    unsafe { libc::_exit(128 + signal) };
}

/// Sends `signal` to the process group `leader` leads, or to `leader` alone if it has left
/// its group.
pub fn signal_group(leader: i32, signal: i32) {
    // SAFETY: plain kill(2). The leader is not reaped yet, so its pid, the group's id, is
    // not reused.
    unsafe {
        if libc::kill(-leader, signal) != 0 {
            libc::kill(leader, signal);
        }
    }
}

/// Spawns a child with `spawn` and forwards signals to it from then on. Signals that arrive
/// while it starts wait, and go to the child as soon as its pid is known.
pub fn forward_to<T>(
    spawn: impl FnOnce() -> std::io::Result<T>,
    pid: impl Fn(&T) -> u32,
) -> std::io::Result<T> {
    let mut child = CHILD.lock().unwrap_or_else(PoisonError::into_inner);
    let spawned = spawn()?;
    *child = pid(&spawned) as i32;
    Ok(spawned)
}

/// Stops forwarding: the next signal ends probe again. Called before the child is reaped.
pub fn stop_forwarding() {
    *CHILD.lock().unwrap_or_else(PoisonError::into_inner) = 0;
}

/// The terminating signal forwarded to a child, if one was.
pub fn stop_requested() -> Option<i32> {
    Some(STOP_REQUESTED.load(Ordering::SeqCst)).filter(|&signal| signal != 0)
}

/// A signal's name as `kill -l` spells it (`SIGKILL`), or `signal 42` for one without.
pub fn name(signal: i32) -> String {
    let known = match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGSYS => "SIGSYS",
        _ => return format!("signal {signal}"),
    };
    known.to_string()
}
