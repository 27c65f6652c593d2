//! `probe check TARGET...` and every one-shot subcommand: run each target once, in
//! parallel, under one deadline, and print one line per target.

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use crate::deadline::Deadline;
use crate::outcome::{Exit, Outcome};
use crate::report::{Format, Report};
use crate::target::Target;

/// Grace after the deadline before a check that has not returned is reported as stuck. The
/// checks honour the deadline themselves; this only bounds a library that does not.
const STRAGGLER_GRACE: Duration = Duration::from_millis(250);

/// What one run of one target produced.
pub struct Finished {
    pub outcome: Outcome,
    pub elapsed: Duration,
}

/// Runs one target under `deadline`, capped by the target's own `--timeout`.
pub fn run_one(target: &Target, deadline: &Deadline) -> Finished {
    let deadline = match target.timeout {
        Some(cap) => deadline.capped(cap),
        None => *deadline,
    };
    let outcome = target.probe.run(&deadline);
    Finished {
        outcome,
        elapsed: deadline.elapsed(),
    }
}

/// Runs every target once, in parallel; results come back in target order. A single
/// target runs on the calling thread: most health checks have one, and a thread costs
/// start-up time.
pub fn run_all(targets: &Arc<Vec<Target>>, deadline: &Deadline) -> Vec<Finished> {
    if targets.len() == 1 {
        return vec![run_one(&targets[0], deadline)];
    }
    let (sender, receiver) = mpsc::channel();
    for index in 0..targets.len() {
        let (targets, sender, deadline) = (Arc::clone(targets), sender.clone(), *deadline);
        std::thread::spawn(move || {
            let _ = sender.send((index, run_one(&targets[index], &deadline)));
        });
    }
    drop(sender);
    let mut results: Vec<Option<Finished>> = targets.iter().map(|_| None).collect();
    let give_up = Deadline::start(deadline.remaining().unwrap_or_default() + STRAGGLER_GRACE);
    while results.iter().any(Option::is_none) {
        let Some(wait) = give_up.remaining() else {
            break;
        };
        match receiver.recv_timeout(wait) {
            Ok((index, finished)) => results[index] = Some(finished),
            Err(_) => break,
        }
    }
    results
        .into_iter()
        .map(|result| {
            result.unwrap_or_else(|| Finished {
                outcome: deadline.timed_out("(the check did not return)"),
                elapsed: deadline.elapsed(),
            })
        })
        .collect()
}

/// Runs the targets once, prints a line for each, and returns the exit code.
pub fn run(targets: Vec<Target>, budget: Duration, format: Format, any: bool) -> Exit {
    let targets = Arc::new(targets);
    let deadline = Deadline::start(budget);
    let finished = run_all(&targets, &deadline);
    for (target, result) in targets.iter().zip(&finished) {
        let report = Report {
            check: target.probe.kind(),
            target: &target.probe.target(),
            outcome: &result.outcome,
            elapsed: result.elapsed,
        };
        if let Some(line) = report.render(format) {
            println!("{line}");
        }
    }
    let healthy = if any {
        finished.iter().any(|result| result.outcome.is_healthy())
    } else {
        finished.iter().all(|result| result.outcome.is_healthy())
    };
    Exit::from_healthy(healthy)
}
