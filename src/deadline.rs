//! One time budget per check, shared by every phase: DNS, connect, TLS handshake, request,
//! reading. A check asks the deadline for what is left before each blocking step, so the
//! sum of the steps can never exceed `--timeout`, and it reports its own timeout (naming the
//! phase) before an orchestrator has to kill it.

use std::time::{Duration, Instant};

use crate::duration::human;
use crate::outcome::Outcome;

#[derive(Clone, Copy, Debug)]
pub struct Deadline {
    started: Instant,
    budget: Duration,
}

impl Deadline {
    pub fn start(budget: Duration) -> Self {
        Deadline {
            started: Instant::now(),
            budget,
        }
    }

    /// The same end as `self`, or earlier when `cap` ends sooner (a target's own
    /// `--timeout` inside `check`, or one attempt inside wait-for). Whichever wins keeps
    /// its own budget for messages: "timed out after 2s" names what the user wrote.
    pub fn capped(&self, cap: Duration) -> Self {
        let remaining = self.remaining().unwrap_or(Duration::ZERO);
        if cap < remaining {
            Deadline::start(cap)
        } else {
            *self
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Time left, or `None` once the budget is spent (never a zero timeout: std treats
    /// `Some(ZERO)` socket timeouts as an error).
    pub fn remaining(&self) -> Option<Duration> {
        self.budget
            .checked_sub(self.elapsed())
            .filter(|left| !left.is_zero())
    }

    pub fn expired(&self) -> bool {
        self.remaining().is_none()
    }

    /// The unhealthy outcome "timed out after 5s during TLS handshake".
    pub fn timed_out(&self, phase: &str) -> Outcome {
        Outcome::unhealthy(format!("timed out after {} {phase}", human(self.budget)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_never_extends() {
        let deadline = Deadline::start(Duration::from_millis(100));
        assert_eq!(
            deadline.capped(Duration::from_secs(10)).budget,
            Duration::from_millis(100)
        );
        assert_eq!(
            deadline.capped(Duration::from_millis(10)).budget,
            Duration::from_millis(10)
        );
    }

    #[test]
    fn an_empty_budget_has_no_remaining_time() {
        let deadline = Deadline::start(Duration::ZERO);
        assert!(deadline.expired());
        assert_eq!(
            deadline.timed_out("connecting").detail,
            "timed out after 0s connecting"
        );
    }
}
