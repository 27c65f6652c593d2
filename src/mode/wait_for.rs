//! `probe wait-for TARGET... [-- CMD ARGS...]`: wait until the targets are ready, then
//! become CMD (execve), or exit 0 without one. Replaces wait-for-it.sh, `dockerize -wait`
//! and `until pg_isready; do sleep 2; done` loops.
//!
//! Each target waits on its own thread with the shared retry loop; this thread collects
//! their events, prints progress at a bounded rate, and decides: ready, fatal, timed out.
//! Signals end the wait at once (see `signals`); CMD never runs after a failed wait.

use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::duration::human;
use crate::mode::retry::{self, Backoff, Event, Policy, RealClock};
use crate::outcome::{Exit, Outcome};
use crate::redact;
use crate::report::{Format, Report};
use crate::target::Target;

/// Progress lines about a target that is not ready come at most this often.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
const STRAGGLER_GRACE: Duration = Duration::from_millis(500);

pub struct Wait {
    pub targets: Vec<Target>,
    pub policy: Policy,
    /// Ready when one target is, instead of all.
    pub any: bool,
    pub format: Format,
}

/// Where one target stands.
struct Standing {
    last: Option<Outcome>,
    attempts: u32,
    ready: bool,
    given_up: bool,
    reported_at: Option<Instant>,
}

/// Waits; true when ready. Prints progress and the verdict to stderr.
pub fn wait(wait: Wait) -> bool {
    let started = Instant::now();
    let targets = Arc::new(wait.targets);
    let (sender, events) = mpsc::channel();
    for index in 0..targets.len() {
        let (targets, sender, policy) = (Arc::clone(&targets), sender.clone(), wait.policy);
        std::thread::spawn(move || {
            let mut backoff = Backoff::new(policy.max_interval, retry::seed() ^ index as u64);
            retry::wait_until_ready(
                &targets[index],
                &policy,
                &RealClock,
                started,
                &mut backoff,
                &mut |event| {
                    let _ = sender.send((index, event));
                },
            );
        });
    }
    drop(sender);

    let mut standings: Vec<Standing> = targets
        .iter()
        .map(|_| Standing {
            last: None,
            attempts: 0,
            ready: false,
            given_up: false,
            reported_at: None,
        })
        .collect();
    let say = |line: String| {
        if wait.format != Format::Quiet {
            eprintln!("{}", redact::scrub(&line));
        }
    };
    let line = |index: usize, outcome: &Outcome, elapsed: Duration, prefix: &str| {
        let target = &targets[index];
        let report = Report {
            check: target.probe.kind(),
            target: &target.probe.target(),
            outcome,
            elapsed,
        };
        match wait.format {
            Format::Text => report
                .render(Format::Text)
                .map(|text| format!("{prefix}{text}")),
            other => report.render(other),
        }
    };

    // The threads enforce the timeout themselves; this guard only bounds an attempt that
    // overruns its own deadline.
    let give_up_at = wait
        .policy
        .timeout
        .map(|total| started + total + STRAGGLER_GRACE);
    loop {
        let tick = match give_up_at {
            Some(at) if Instant::now() >= at => break,
            Some(at) => PROGRESS_EVERY.min(at - Instant::now()),
            None => PROGRESS_EVERY,
        };
        let Ok((index, event)) = events.recv_timeout(tick) else {
            if standings
                .iter()
                .all(|standing| standing.ready || standing.given_up)
            {
                break;
            }
            continue;
        };
        let elapsed = started.elapsed();
        let standing = &mut standings[index];
        match event {
            Event::Attempt { outcome, attempts } => {
                standing.attempts = attempts;
                let due = standing
                    .reported_at
                    .is_none_or(|at| at.elapsed() >= PROGRESS_EVERY);
                if due {
                    standing.reported_at = Some(Instant::now());
                    let prefix = format!("waiting {} (attempt {attempts}): ", human(elapsed));
                    if let Some(text) = line(index, &outcome, elapsed, &prefix) {
                        say(text);
                    }
                }
                standing.last = Some(outcome);
            }
            Event::Ready { outcome, attempts } => {
                standing.attempts = attempts;
                standing.ready = true;
                standing.last = Some(outcome);
            }
            Event::Fatal { outcome, attempts } => {
                standing.attempts = attempts;
                standing.given_up = true;
                if let Some(text) = line(index, &outcome, elapsed, "") {
                    say(text);
                }
                standing.last = Some(outcome);
                let all_given_up = standings.iter().all(|standing| standing.given_up);
                if !wait.any || all_given_up {
                    say("probe: not waiting any longer: waiting cannot fix this (--retry-fatal keeps waiting)".into());
                    return false;
                }
            }
            Event::TimedOut => standings[index].given_up = true,
        }
        let ready_count = standings.iter().filter(|standing| standing.ready).count();
        if (wait.any && ready_count > 0) || ready_count == standings.len() {
            let names: Vec<String> = standings
                .iter()
                .zip(targets.iter())
                .filter(|(standing, _)| standing.ready)
                .map(|(_, target)| format!("{} {}", target.probe.kind(), target.probe.target()))
                .collect();
            say(match wait.format {
                Format::Json => serde_json::json!({
                    "ready": true,
                    "elapsed_ms": (elapsed.as_secs_f64() * 1e6).round() / 1e3,
                    "targets": names,
                })
                .to_string(),
                _ => format!(
                    "ready after {}: {}",
                    human(elapsed),
                    crate::report::middle(&names.join(", "), crate::report::MAX_TARGETS)
                ),
            });
            return true;
        }
        if standings
            .iter()
            .all(|standing| standing.ready || standing.given_up)
        {
            break;
        }
    }

    let elapsed = started.elapsed();
    for (index, standing) in standings.iter().enumerate() {
        if standing.ready {
            continue;
        }
        let outcome = standing
            .last
            .clone()
            .unwrap_or_else(|| Outcome::unhealthy("no attempt finished"));
        let prefix = format!(
            "not ready after {} ({} attempts): ",
            human(elapsed),
            standing.attempts
        );
        if let Some(text) = line(index, &outcome, elapsed, &prefix) {
            say(text);
        }
    }
    false
}

/// wait-for as a whole: wait, then exec `command` (or exit 0 without one).
pub fn run(wait_spec: Wait, command: &[std::ffi::OsString]) -> Exit {
    // Before the targets' threads: they inherit its signal mask.
    crate::signals::install();
    if !wait(wait_spec) {
        return Exit::Unhealthy;
    }
    if command.is_empty() {
        return Exit::Healthy;
    }
    crate::exec::exec(command)
}
