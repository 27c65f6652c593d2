//! Termination signals while probe waits or runs a child.
//!
//! A PID 1 process gets no default signal actions: without a handler, `docker stop`'s
//! SIGTERM is ignored and the container is killed after the grace period. So probe installs
//! handlers for SIGTERM, SIGINT, SIGQUIT (and, while a child runs, the other signals worth
//! forwarding). The handler does only async-signal-safe things: with a child registered it
//! forwards the signal with kill(2); without one it writes a fixed message and `_exit`s with
//! 128+S. Nothing is left to clean up: the waiting threads die with the process, and the
//! command is never exec'd.
//!
//! execve(2) resets handled signals to their defaults, so the exec'd app starts clean.

use std::sync::atomic::{AtomicI32, Ordering};

/// The pid signals are forwarded to; 0 while there is no child.
static CHILD: AtomicI32 = AtomicI32::new(0);
/// The last terminating signal forwarded to a child; 0 if none. A migration that exits 0
/// after `docker stop` must not lead to starting the app.
static STOP_REQUESTED: AtomicI32 = AtomicI32::new(0);

/// Signals that end a wait.
pub const TERMINATING: [i32; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGQUIT];

/// Signals forwarded to a running child (a migration), so that it can shut down cleanly.
pub const FORWARDED: [i32; 6] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGHUP,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

extern "C" fn on_signal(signal: libc::c_int) {
    let child = CHILD.load(Ordering::SeqCst);
    if child > 0 {
        if TERMINATING.contains(&signal) {
            STOP_REQUESTED.store(signal, Ordering::SeqCst);
        }
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(child, signal) };
        return;
    }
    let mut message = *b"probe: stopped by signal    \n";
    let mut at = 27;
    let mut number = signal;
    loop {
        message[at] = b'0' + (number % 10) as u8;
        number /= 10;
        if number == 0 {
            break;
        }
        at -= 1;
    }
    let start = &message[..25];
    let digits = &message[at..];
    // SAFETY: write and _exit are async-signal-safe; the buffers live on this stack.
    unsafe {
        libc::write(2, start.as_ptr().cast(), start.len());
        libc::write(2, digits.as_ptr().cast(), digits.len());
        libc::_exit(128 + signal);
    }
}

/// Installs the handler for `signals`. Idempotent.
pub fn install(signals: &[i32]) {
    for &signal in signals {
        // SAFETY: a zeroed sigaction with a valid handler and an empty mask is a valid
        // argument; the handler is async-signal-safe.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// From now on, signals go to `pid` instead of ending probe.
pub fn forward_to(pid: u32) {
    CHILD.store(pid as i32, Ordering::SeqCst);
}

/// Stops forwarding: the next terminating signal ends probe again.
pub fn stop_forwarding() {
    CHILD.store(0, Ordering::SeqCst);
}

/// The terminating signal forwarded to a child, if one was.
pub fn stop_requested() -> Option<i32> {
    Some(STOP_REQUESTED.load(Ordering::SeqCst)).filter(|&signal| signal != 0)
}
