//! The retry loop every entrypoint mode shares: run one target until it is ready (N
//! healthy results in a row), fatal, or out of time, pausing between attempts on a
//! schedule that notices readiness fast and costs little CPU over long waits.
//!
//! Time comes through [`Clock`], so the loop is tested in virtual time (no sleeping).

use std::time::{Duration, Instant};

use crate::deadline::Deadline;
use crate::outcome::{Outcome, Verdict};
use crate::target::Target;

/// Attempts poll this often while a wait is young: a dependency that comes up within
/// [`FAST_PHASE`] is noticed within about this long.
const FAST_INTERVAL: Duration = Duration::from_millis(100);
const FIRST_INTERVAL: Duration = Duration::from_millis(50);
const FAST_PHASE: Duration = Duration::from_secs(10);
const GROWTH: f64 = 1.5;
/// Pauses vary by ±20% so that replicas started together do not probe in lockstep.
const JITTER: f64 = 0.2;

/// How one target is waited for.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// Overall limit, `None` for forever.
    pub timeout: Option<Duration>,
    /// Limit of one attempt, unless the target has its own `--timeout`.
    pub attempt_timeout: Duration,
    /// Longest pause between attempts.
    pub max_interval: Duration,
    /// Healthy results in a row needed.
    pub successes: u32,
    /// Keep trying after fatal verdicts.
    pub retry_fatal: bool,
}

pub trait Clock: Send + Sync {
    fn now(&self) -> Instant;
    fn sleep(&self, pause: Duration);
}

pub struct RealClock;

impl Clock for RealClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, pause: Duration) {
        std::thread::sleep(pause);
    }
}

/// What the loop tells its caller as it goes.
#[derive(Debug)]
pub enum Event {
    /// An attempt that did not (yet) make the target ready.
    Attempt { outcome: Outcome, attempts: u32 },
    /// Ready: the last `successes` attempts were healthy.
    Ready { outcome: Outcome, attempts: u32 },
    /// A fatal verdict, and fatal verdicts are not retried.
    Fatal { outcome: Outcome, attempts: u32 },
    /// The overall timeout passed.
    TimedOut,
}

/// The pause schedule: 50ms, then 100ms for the first 10s, then growing by half to the
/// maximum interval; each pause jittered.
pub struct Backoff {
    max: Duration,
    previous: Option<Duration>,
    jitter: Jitter,
}

/// Spreads pauses so that replicas started together do not probe in lockstep.
pub struct Jitter(u64);

impl Jitter {
    pub fn new(seed: u64) -> Self {
        Jitter(seed | 1)
    }

    /// `base`, varied by up to `fraction` of it either way.
    pub fn spread(&mut self, base: Duration, fraction: f64) -> Duration {
        base.mul_f64(1.0 + fraction * (2.0 * self.random() - 1.0))
    }

    /// xorshift64: jitter needs spread, not cryptography.
    fn random(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Backoff {
    pub fn new(max: Duration, seed: u64) -> Self {
        Backoff {
            max,
            previous: None,
            jitter: Jitter::new(seed),
        }
    }

    /// The pause before the next attempt, `elapsed` into the wait.
    pub fn next(&mut self, elapsed: Duration) -> Duration {
        let base = match self.previous {
            None => FIRST_INTERVAL,
            Some(_) if elapsed < FAST_PHASE => FAST_INTERVAL,
            Some(previous) => previous.mul_f64(GROWTH).max(FAST_INTERVAL),
        }
        .min(self.max);
        self.previous = Some(base);
        self.jitter.spread(base, JITTER)
    }
}

/// A seed that differs between processes and runs.
pub fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| since.as_nanos() as u64)
        .unwrap_or(0);
    nanos ^ (u64::from(std::process::id()) << 32)
}

/// The least time left worth a last attempt before the overall deadline.
const LAST_ATTEMPT_MIN: Duration = Duration::from_millis(50);

/// Runs `target` until ready, fatal or out of time, reporting each step to `report`.
/// The final event is `Ready`, `Fatal` or `TimedOut`.
pub fn wait_until_ready(
    target: &Target,
    policy: &Policy,
    clock: &dyn Clock,
    started: Instant,
    backoff: &mut Backoff,
    report: &mut dyn FnMut(Event),
) {
    let mut attempts = 0;
    let mut in_a_row = 0;
    let mut last_failure: Option<String> = None;
    loop {
        let elapsed = clock.now().saturating_duration_since(started);
        let left = match policy.timeout {
            Some(total) => match total.checked_sub(elapsed).filter(|left| !left.is_zero()) {
                // A last attempt with a sliver of time left can only time out, and its
                // "timed out after 0.0ms resolving the name" would replace the reason the
                // wait failed for: the sliver is waited out instead.
                Some(left) if left < LAST_ATTEMPT_MIN && attempts > 0 => {
                    clock.sleep(left);
                    return report(Event::TimedOut);
                }
                Some(left) => left,
                None => return report(Event::TimedOut),
            },
            None => Duration::MAX,
        };
        let attempt_limit = target.timeout.unwrap_or(policy.attempt_timeout).min(left);
        let outcome = target.probe.run(&Deadline::start(attempt_limit));
        attempts += 1;
        let outcome = match outcome.verdict {
            Verdict::Healthy => {
                in_a_row += 1;
                if in_a_row >= policy.successes {
                    return report(Event::Ready { outcome, attempts });
                }
                // Healthy, but not yet ready: say so, and what broke the last streak.
                let broken_by = last_failure
                    .as_deref()
                    .map(|reason| format!("; before that: {reason}"))
                    .unwrap_or_default();
                Outcome::unhealthy(format!(
                    "{} ({in_a_row} of {} healthy results in a row{broken_by})",
                    outcome.detail, policy.successes
                ))
            }
            Verdict::Fatal if !policy.retry_fatal => {
                return report(Event::Fatal { outcome, attempts })
            }
            _ => {
                in_a_row = 0;
                last_failure = Some(outcome.detail.clone());
                outcome
            }
        };
        report(Event::Attempt { outcome, attempts });
        let pause = backoff.next(clock.now().saturating_duration_since(started));
        match policy.timeout {
            // Never sleep past the overall deadline: wake for one last check instead.
            Some(total) => {
                let left = total.saturating_sub(clock.now().saturating_duration_since(started));
                clock.sleep(pause.min(left));
            }
            None => clock.sleep(pause),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::probe::Probe;

    /// Virtual time: sleeping only moves the clock forward.
    struct FakeClock {
        start: Instant,
        offset: Mutex<Duration>,
        pauses: Mutex<Vec<Duration>>,
        /// A sleep ends this much early (a timer's rounding), leaving a sliver of time.
        early: Duration,
    }

    impl FakeClock {
        fn new() -> Self {
            FakeClock {
                start: Instant::now(),
                offset: Mutex::new(Duration::ZERO),
                pauses: Mutex::new(Vec::new()),
                early: Duration::ZERO,
            }
        }
    }

    impl Clock for FakeClock {
        fn now(&self) -> Instant {
            self.start + *self.offset.lock().unwrap()
        }

        fn sleep(&self, pause: Duration) {
            // Early only for sleeps longer than that: a sleep never ends at once.
            let slept = match pause > self.early {
                true => pause - self.early,
                false => pause,
            };
            *self.offset.lock().unwrap() += slept;
            self.pauses.lock().unwrap().push(pause);
        }
    }

    /// Answers from a script, then repeats its last answer.
    struct Scripted(Mutex<Vec<Verdict>>);

    impl Probe for Scripted {
        fn kind(&self) -> &'static str {
            "scripted"
        }

        fn target(&self) -> String {
            "x".into()
        }

        fn run(&self, _: &Deadline) -> Outcome {
            let mut script = self.0.lock().unwrap();
            let verdict = if script.len() > 1 {
                script.remove(0)
            } else {
                script[0]
            };
            Outcome {
                verdict,
                detail: format!("{verdict:?}"),
            }
        }
    }

    fn policy() -> Policy {
        Policy {
            timeout: Some(Duration::from_secs(60)),
            attempt_timeout: Duration::from_secs(5),
            max_interval: Duration::from_secs(1),
            successes: 1,
            retry_fatal: false,
        }
    }

    fn wait(script: &[Verdict], policy: Policy) -> (Vec<Event>, FakeClock) {
        wait_with(script, policy, FakeClock::new())
    }

    fn wait_with(script: &[Verdict], policy: Policy, clock: FakeClock) -> (Vec<Event>, FakeClock) {
        use Verdict::*;
        let _ = (Healthy, Unhealthy, Fatal);
        let target = Target {
            probe: Box::new(Scripted(Mutex::new(script.to_vec()))),
            timeout: None,
        };
        let mut events = Vec::new();
        let mut backoff = Backoff::new(policy.max_interval, 42);
        wait_until_ready(
            &target,
            &policy,
            &clock,
            clock.now(),
            &mut backoff,
            &mut |e| events.push(e),
        );
        (events, clock)
    }

    use Verdict::{Fatal, Healthy, Unhealthy};

    /// A wake just before the overall deadline starts no attempt that could only time out:
    /// the wait ends with the last real reason.
    #[test]
    fn no_last_attempt_in_a_sliver_of_time() {
        let policy = Policy {
            timeout: Some(Duration::from_secs(1)),
            ..policy()
        };
        let clock = FakeClock {
            early: Duration::from_millis(1),
            ..FakeClock::new()
        };
        let (events, clock) = wait_with(&[Unhealthy], policy, clock);
        assert!(matches!(events.last(), Some(Event::TimedOut)));
        // The sliver was waited out: the wait lasted its whole timeout.
        assert!(clock.now().duration_since(clock.start) >= Duration::from_secs(1) - clock.early);
        let attempts = events
            .iter()
            .filter(|event| matches!(event, Event::Attempt { .. }))
            .count();
        let (exact, _) = wait(&[Unhealthy], policy);
        let exact_attempts = exact
            .iter()
            .filter(|event| matches!(event, Event::Attempt { .. }))
            .count();
        assert!(attempts <= exact_attempts, "{attempts} > {exact_attempts}");
    }

    #[test]
    fn ready_after_the_first_healthy_result() {
        let (events, clock) = wait(&[Unhealthy, Unhealthy, Healthy], policy());
        assert!(matches!(
            events.last(),
            Some(Event::Ready { attempts: 3, .. })
        ));
        let pauses = clock.pauses.lock().unwrap();
        assert_eq!(pauses.len(), 2);
        assert!(pauses[0] >= Duration::from_millis(40) && pauses[0] <= Duration::from_millis(60));
        assert!(pauses[1] >= Duration::from_millis(80) && pauses[1] <= Duration::from_millis(120));
    }

    #[test]
    fn successes_must_come_in_a_row() {
        let policy = Policy {
            successes: 3,
            ..policy()
        };
        let (events, _) = wait(&[Healthy, Unhealthy, Healthy, Healthy, Healthy], policy);
        assert!(matches!(
            events.last(),
            Some(Event::Ready { attempts: 5, .. })
        ));
    }

    #[test]
    fn fatal_stops_unless_retried() {
        let (events, _) = wait(&[Unhealthy, Fatal, Healthy], policy());
        assert!(matches!(
            events.last(),
            Some(Event::Fatal { attempts: 2, .. })
        ));
        let retrying = Policy {
            retry_fatal: true,
            ..policy()
        };
        let (events, _) = wait(&[Unhealthy, Fatal, Healthy], retrying);
        assert!(matches!(
            events.last(),
            Some(Event::Ready { attempts: 3, .. })
        ));
    }

    #[test]
    fn gives_up_at_the_timeout_and_backs_off_to_the_interval() {
        let (events, clock) = wait(&[Unhealthy], policy());
        assert!(matches!(events.last(), Some(Event::TimedOut)));
        let elapsed = clock.now() - clock.start;
        assert_eq!(
            elapsed,
            Duration::from_secs(60),
            "sleeps stop exactly at the deadline"
        );
        let pauses = clock.pauses.lock().unwrap();
        let max = pauses.iter().max().unwrap();
        assert!(*max <= Duration::from_millis(1200), "{max:?}");
        // Fast at first (about 100 attempts in the first 10s), then about one a second.
        assert!(
            pauses.len() > 100 && pauses.len() < 200,
            "{} attempts",
            pauses.len()
        );
    }

    #[test]
    fn waits_forever_with_no_timeout() {
        let policy = Policy {
            timeout: None,
            ..policy()
        };
        let mut script = vec![Unhealthy; 5000];
        script.push(Healthy);
        let (events, clock) = wait(&script, policy);
        assert!(matches!(events.last(), Some(Event::Ready { .. })));
        assert!(clock.now() - clock.start > Duration::from_secs(3600));
    }

    #[test]
    fn jitter_spreads_pauses_over_the_whole_band() {
        // Past the fast phase every base pause is the 1s maximum: what varies is jitter.
        let mut backoff = Backoff::new(Duration::from_secs(1), 7);
        // Growing by half from 100ms, the base reaches the maximum within 10 pauses.
        for _ in 0..10 {
            backoff.next(Duration::from_secs(60));
        }
        let pauses: Vec<f64> = (0..2000)
            .map(|_| backoff.next(Duration::from_secs(60)).as_secs_f64())
            .collect();
        let (low, high) = (1.0 - JITTER, 1.0 + JITTER);
        assert!(pauses
            .iter()
            .all(|p| (low - 1e-6..=high + 1e-6).contains(p)));
        // Both ends of the band are reached and the middle is not favoured.
        assert!(pauses.iter().any(|p| *p < low + 0.02));
        assert!(pauses.iter().any(|p| *p > high - 0.02));
        let below = pauses.iter().filter(|p| **p < 1.0).count();
        assert!((800..1200).contains(&below), "{below} of 2000 below 1s");
        let mut distinct = pauses.clone();
        distinct.sort_by(f64::total_cmp);
        distinct.dedup();
        assert!(distinct.len() > 1900, "{} distinct pauses", distinct.len());
    }

    #[test]
    fn pauses_grow_only_once_the_fast_phase_is_over() {
        let mut backoff = Backoff::new(Duration::from_secs(10), 7);
        assert!(backoff.next(Duration::ZERO) <= FIRST_INTERVAL.mul_f64(1.0 + JITTER));
        let fast = backoff.next(FAST_PHASE - Duration::from_millis(1));
        assert!(fast <= FAST_INTERVAL.mul_f64(1.0 + JITTER), "{fast:?}");
        // From the end of the fast phase on, each pause is half as long again.
        let grown = backoff.next(FAST_PHASE);
        assert!(grown > FAST_INTERVAL.mul_f64(1.0 + JITTER), "{grown:?}");
    }

    #[test]
    fn seeds_differ_between_calls_and_give_different_schedules() {
        let first = seed();
        std::thread::sleep(Duration::from_millis(1));
        assert_ne!(first, seed());
        let schedule = |seed| {
            let mut backoff = Backoff::new(Duration::from_secs(1), seed);
            (0..8)
                .map(|_| backoff.next(Duration::from_secs(60)))
                .collect::<Vec<_>>()
        };
        assert_ne!(schedule(1), schedule(2));
    }

    #[test]
    fn the_real_clock_really_sleeps() {
        let before = Instant::now();
        RealClock.sleep(Duration::from_millis(30));
        assert!(before.elapsed() >= Duration::from_millis(30));
    }
}
