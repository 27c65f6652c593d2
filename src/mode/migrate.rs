//! `probe migrate-then-exec`: wait for dependencies like wait-for, run the migration as a
//! child (one replica at a time under a PostgreSQL advisory lock with `--lock`), and if
//! it succeeds, become the app. Replaces the entrypoint.sh that does
//! `until pg_isready; do sleep 2; done; alembic upgrade head; exec "$@"`, without the races
//! of several replicas migrating at once, and without a shell.

#[cfg(feature = "postgres")]
pub mod lock;

use std::ffi::OsString;
use std::time::{Duration, Instant};

use crate::duration::human;
use crate::exec::{self, Ended};
use crate::mode::wait_for::{self, Wait};
use crate::outcome::{Exit, Outcome};
use crate::redact;
use crate::report::Format;
use crate::signals;

/// A lock that serialises migrations across replicas (`lock::AdvisoryLock`, with the
/// postgres feature).
pub trait MigrationLock {
    /// Blocks until the lock is held, or `limit` passes (`None`: forever), telling
    /// `waiting` what holds it up.
    fn acquire(
        &mut self,
        limit: Option<Duration>,
        waiting: &mut dyn FnMut(String),
    ) -> Result<(), Outcome>;
    /// One round trip proving the lock is still held, called about every second while
    /// the migration runs; `Err` says how it was lost.
    fn check(&mut self) -> Result<(), String>;
    /// Releases the lock and closes its connection, so that nothing leaks into the app;
    /// `Err` when the release shows the lock was no longer held.
    fn release(self: Box<Self>) -> Result<(), String>;
}

pub struct Migrate {
    pub wait: Option<Wait>,
    pub lock: Option<Box<dyn MigrationLock>>,
    pub lock_timeout: Option<Duration>,
    pub migration: Vec<String>,
    /// The migration command as the user wrote it, before `${VAR}` expansion: what is printed.
    pub shown: String,
    pub migrate_timeout: Option<Duration>,
    pub format: Format,
}

/// Runs the phases, then execs `app` (or exits 0 without one).
pub fn run(mut plan: Migrate, app: &[OsString]) -> Exit {
    // Before the wait's threads: they inherit its signal mask.
    signals::install();
    let started = Instant::now();
    let format = plan.format;
    let say = |phase: &str, line: String| match format {
        Format::Quiet => {}
        Format::Text => eprintln!("migrate: {}", redact::scrub(&line)),
        Format::Json => eprintln!(
            "{}",
            serde_json::json!({
                "phase": phase,
                "detail": redact::scrub(&line),
                "elapsed_ms": (started.elapsed().as_secs_f64() * 1e6).round() / 1e3,
            })
        ),
    };

    if let Some(wait) = plan.wait.take() {
        if !wait_for::wait(wait) {
            say(
                "wait",
                "dependencies not ready: the migration did not run".into(),
            );
            return Exit::Unhealthy;
        }
    }

    if let Some(lock) = plan.lock.as_mut() {
        let asked = Instant::now();
        if let Err(outcome) = lock.acquire(plan.lock_timeout, &mut |line| say("lock", line)) {
            say(
                "lock",
                format!("could not take the migration lock: {}", outcome.detail),
            );
            return Exit::Unhealthy;
        }
        say(
            "lock",
            format!("lock acquired after {}", human(asked.elapsed())),
        );
    }

    say("migrate", format!("running {}", plan.shown));
    let ran = Instant::now();
    let mut lost = None;
    let mut lock = plan.lock.take();
    // The lock is watched while the migration runs: a lost lock (the backend terminated,
    // the connection cut) means another replica may be migrating now.
    let ended = exec::run_child(&plan.migration, plan.migrate_timeout, &mut || match lock
        .as_deref_mut()
        .map(|lock| lock.check())
    {
        Some(Err(reason)) => {
            lost = Some(reason);
            false
        }
        _ => true,
    });
    let released = match lock {
        Some(lock) if lost.is_none() => lock.release(),
        _ => Ok(()),
    };
    if let Some(reason) = lost {
        say(
            "lock",
            format!(
                "lock lost while the migration ran ({reason}): migration stopped after {}, not starting the app",
                human(ran.elapsed())
            ),
        );
        return Exit::Unhealthy;
    }
    if let Err(reason) = &released {
        say("lock", format!("lock lost: {reason}"));
    }
    match ended {
        Err(exit) => return exit,
        Ok(Ended::Exited(0)) => {}
        Ok(Ended::TimedOut) => {
            say(
                "migrate",
                format!(
                    "migration killed: still running after {}",
                    human(plan.migrate_timeout.unwrap_or_default())
                ),
            );
            return Exit::Unhealthy;
        }
        Ok(ended) => {
            let how = match ended {
                Ended::Signaled(signal) => format!("killed by signal {signal}"),
                Ended::Exited(code) => format!("exit code {code}"),
                Ended::TimedOut | Ended::Stopped => "stopped by probe".to_string(),
            };
            say(
                "migrate",
                format!(
                    "migration failed ({how}) after {}: not starting the app",
                    human(ran.elapsed())
                ),
            );
            return ended.exit();
        }
    }
    if released.is_err() {
        say(
            "lock",
            "the migration may have run without the lock: not starting the app".into(),
        );
        return Exit::Unhealthy;
    }
    if let Some(signal) = signals::stop_requested() {
        say(
            "migrate",
            format!("stopped by signal {signal} during the migration: not starting the app"),
        );
        return Exit::signal(signal);
    }
    say(
        "migrate",
        format!("migration ran in {}", human(ran.elapsed())),
    );
    if app.is_empty() {
        return Exit::Healthy;
    }
    say(
        "exec",
        format!("exec'ing the app: {}", exec::shell_words(app)),
    );
    exec::exec(app)
}
