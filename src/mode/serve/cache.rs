//! What the checks last found, and what the endpoints make of it.
//!
//! The checks' threads write here; requests only read. An answer is never the result of
//! running a check, so a flood of requests cannot multiply the load on a dependency. A
//! result older than [`Cache::stale_after`] counts as failing: a check stuck past its own
//! deadline must not leave a green light on.

use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::duration::human;
use crate::outcome::Outcome;
use crate::report::{Format, Report};

/// The probe kinds of Kubernetes, as bits: a target can belong to several.
pub const LIVE: u8 = 1;
pub const READY: u8 = 2;
pub const STARTUP: u8 = 4;
pub const ALL: u8 = LIVE | READY | STARTUP;

/// One check's last result.
#[derive(Clone)]
pub struct Result {
    pub outcome: Outcome,
    pub elapsed: Duration,
    pub at: Instant,
    /// Seconds since the epoch, for `probe_last_run_timestamp_seconds`.
    pub unix: f64,
}

pub struct Entry {
    pub kind: &'static str,
    /// The target as typed, passwords masked: the label and the verbose line show it.
    pub shown: String,
    pub groups: u8,
    pub last: Option<Result>,
    pub failures: u64,
}

/// Where the supervised app stands (`serve -- CMD`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum App {
    /// No app: a sidecar.
    None,
    /// Waiting for the ready checks before it starts (`--wait`).
    Waiting,
    Running,
    Ended,
}

pub struct Cache {
    entries: Mutex<Vec<Entry>>,
    app: Mutex<App>,
    pub stale_after: Duration,
}

/// An endpoint's verdict and the lines `?verbose` shows.
pub struct Verdict {
    pub healthy: bool,
    pub lines: Vec<String>,
}

impl Cache {
    pub fn new(entries: Vec<Entry>, stale_after: Duration, app: App) -> Cache {
        Cache {
            entries: Mutex::new(entries),
            app: Mutex::new(app),
            stale_after,
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores a result; returns the previous one's health (None: the first).
    pub fn record(&self, index: usize, outcome: Outcome, elapsed: Duration) -> Option<bool> {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |since| since.as_secs_f64());
        let mut entries = self.entries();
        let entry = &mut entries[index];
        if !outcome.is_healthy() {
            entry.failures += 1;
        }
        let before = entry.last.as_ref().map(|last| last.outcome.is_healthy());
        entry.last = Some(Result {
            outcome,
            elapsed,
            at: Instant::now(),
            unix,
        });
        before
    }

    pub fn set_app(&self, app: App) {
        *self.app.lock().unwrap_or_else(PoisonError::into_inner) = app;
    }

    pub fn app(&self) -> App {
        *self.app.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The verdict of the checks in `groups` (healthy when every one is), with the app's
    /// state for liveness and readiness; each one's line only for `?verbose`: a kubelet's
    /// GET asks for the status alone, and formatting every line was most of its work.
    pub fn verdict(&self, groups: u8, verbose: bool) -> Verdict {
        let now = Instant::now();
        let mut lines = Vec::new();
        let mut healthy = true;
        let app = self.app();
        let app_line = match app {
            App::Ended if groups & (LIVE | READY) != 0 => Some((false, "the app has exited")),
            App::Waiting if groups & READY != 0 => Some((
                false,
                "the app has not started: waiting for the ready checks",
            )),
            App::Running => Some((true, "the app is running")),
            _ => None,
        };
        if let Some((ok, text)) = app_line {
            healthy &= ok;
            if verbose {
                lines.push(format!("[{}] app: {text}", if ok { '+' } else { '-' }));
            }
        }
        for entry in self
            .entries()
            .iter()
            .filter(|entry| entry.groups & groups != 0)
        {
            let ok = entry_ok(entry, now, self.stale_after);
            healthy &= ok;
            if verbose {
                lines.push(entry_line(entry, now, self.stale_after, ok));
            }
        }
        Verdict { healthy, lines }
    }

    /// The Prometheus text exposition of every check's last result.
    pub fn metrics(&self) -> String {
        let now = Instant::now();
        let entries = self.entries();
        let mut out = String::new();
        let families: [(&str, &str, &str); 4] = [
            (
                "probe_success",
                "gauge",
                "Whether the check's last result is healthy and fresh (1) or not (0).",
            ),
            (
                "probe_duration_seconds",
                "gauge",
                "How long the check's last run took.",
            ),
            (
                "probe_last_run_timestamp_seconds",
                "gauge",
                "When the check's last run ended, in seconds since the epoch.",
            ),
            (
                "probe_failures_total",
                "counter",
                "Runs of the check that were not healthy.",
            ),
        ];
        for (name, kind, help) in families {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for entry in entries.iter() {
                let value = match (name, &entry.last) {
                    ("probe_failures_total", _) => entry.failures as f64,
                    ("probe_success", _) => {
                        f64::from(u8::from(entry_ok(entry, now, self.stale_after)))
                    }
                    (_, None) => continue,
                    ("probe_duration_seconds", Some(last)) => last.elapsed.as_secs_f64(),
                    (_, Some(last)) => last.unix,
                };
                let _ = writeln!(
                    out,
                    "{name}{{check=\"{}\",target=\"{}\"}} {value}",
                    label(entry.kind),
                    label(&entry.shown)
                );
            }
        }
        out
    }
}

/// Whether one check counts as healthy now: its last result healthy, and fresh.
fn entry_ok(entry: &Entry, now: Instant, stale_after: Duration) -> bool {
    entry.last.as_ref().is_some_and(|last| {
        last.outcome.is_healthy() && now.saturating_duration_since(last.at) <= stale_after
    })
}

/// One check's `?verbose` line; `ok` is [`entry_ok`]'s answer.
fn entry_line(entry: &Entry, now: Instant, stale_after: Duration, ok: bool) -> String {
    let Some(last) = &entry.last else {
        return format!(
            "[-] {} {}: no result yet",
            entry.kind,
            crate::redact::scrub(&entry.shown)
        );
    };
    let age = now.saturating_duration_since(last.at);
    let line = Report {
        check: entry.kind,
        target: &entry.shown,
        outcome: &last.outcome,
        elapsed: last.elapsed,
    }
    .render(Format::Text)
    .unwrap_or_default();
    let when = match age > stale_after {
        true => format!(
            "; stale: {} old, the check has not finished since",
            human(age)
        ),
        false => format!(", {} ago", human(age)),
    };
    format!("[{}] {line}{when}", if ok { '+' } else { '-' })
}

/// A label value in the exposition format: backslash, quote and newline escaped.
fn label(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in crate::redact::scrub(text).chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The status of `groups`, which must not depend on whether the lines are asked for.
    fn healthy(cache: &Cache, groups: u8) -> bool {
        let plain = cache.verdict(groups, false);
        let verbose = cache.verdict(groups, true);
        assert!(plain.lines.is_empty(), "{:?}", plain.lines);
        assert_eq!(plain.healthy, verbose.healthy, "{:?}", verbose.lines);
        plain.healthy
    }

    fn cache() -> Cache {
        let entry = |kind, shown: &str, groups| Entry {
            kind,
            shown: shown.into(),
            groups,
            last: None,
            failures: 0,
        };
        Cache::new(
            vec![
                entry("postgres", "postgres://db/app", READY),
                entry("process", "app \"x\"\\y", LIVE),
            ],
            Duration::from_secs(20),
            App::None,
        )
    }

    #[test]
    fn no_result_yet_is_failing() {
        let cache = cache();
        let ready = cache.verdict(READY, true);
        assert!(!ready.healthy);
        assert_eq!(
            ready.lines,
            ["[-] postgres postgres://db/app: no result yet"]
        );
        cache.record(0, Outcome::healthy("accepting connections"), Duration::ZERO);
        assert!(healthy(&cache, READY));
        assert!(!healthy(&cache, ALL));
        assert!(healthy(&cache, STARTUP), "no startup checks: healthy");
    }

    #[test]
    fn a_stale_result_is_failing() {
        let mut cache = cache();
        cache.stale_after = Duration::ZERO;
        cache.record(0, Outcome::healthy("ok"), Duration::ZERO);
        std::thread::sleep(Duration::from_millis(2));
        let ready = cache.verdict(READY, true);
        assert!(!ready.healthy);
        assert!(ready.lines[0].contains("stale"), "{:?}", ready.lines);
    }

    /// A check that stopped finishing fails everywhere: its endpoint and `probe_success`,
    /// while its last result still says healthy.
    #[test]
    fn a_stale_result_fails_in_the_metrics_too() {
        let mut cache = cache();
        cache.record(0, Outcome::healthy("ok"), Duration::ZERO);
        let fresh = cache.metrics();
        assert!(
            fresh.contains("probe_success{check=\"postgres\",target=\"postgres://db/app\"} 1\n")
        );
        cache.stale_after = Duration::ZERO;
        std::thread::sleep(Duration::from_millis(2));
        let stale = cache.metrics();
        assert!(
            stale.contains("probe_success{check=\"postgres\",target=\"postgres://db/app\"} 0\n")
        );
        assert!(stale
            .contains("probe_failures_total{check=\"postgres\",target=\"postgres://db/app\"} 0\n"));
        let verbose = cache.verdict(READY, true).lines;
        assert!(
            verbose[0].starts_with("[-] healthy: postgres postgres://db/app: ok"),
            "{verbose:?}"
        );
        assert!(verbose[0].contains("; stale: "), "{verbose:?}");
    }

    #[test]
    fn the_app_counts_for_liveness_and_readiness() {
        let cache = cache();
        cache.record(0, Outcome::healthy("ok"), Duration::ZERO);
        cache.record(1, Outcome::healthy("ok"), Duration::ZERO);
        cache.set_app(App::Waiting);
        assert!(healthy(&cache, LIVE));
        assert!(!healthy(&cache, READY));
        cache.set_app(App::Running);
        assert!(healthy(&cache, ALL));
        cache.set_app(App::Ended);
        assert!(!healthy(&cache, LIVE));
        assert!(healthy(&cache, STARTUP));
    }

    #[test]
    fn metrics_escape_their_labels() {
        let cache = cache();
        assert_eq!(
            cache.record(
                1,
                Outcome::unhealthy("no such process"),
                Duration::from_millis(3)
            ),
            None
        );
        let text = cache.metrics();
        assert!(text.contains("# TYPE probe_failures_total counter\n"));
        assert!(text.contains("probe_success{check=\"process\",target=\"app \\\"x\\\"\\\\y\"} 0\n"));
        assert!(text
            .contains("probe_failures_total{check=\"process\",target=\"app \\\"x\\\"\\\\y\"} 1\n"));
        assert!(text.contains(
            "probe_duration_seconds{check=\"process\",target=\"app \\\"x\\\"\\\\y\"} 0.003\n"
        ));
        assert!(!text.contains("probe_duration_seconds{check=\"postgres\""));
    }
}
