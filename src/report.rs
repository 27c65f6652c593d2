//! Turning outcomes into what people and machines read: one text line or one JSON object
//! per check, secrets scrubbed, always far below Docker's 4096-byte health-log limit.

use std::time::Duration;

use serde::Serialize;

use crate::duration::human;
use crate::outcome::{Outcome, Verdict};
use crate::redact;

/// Longest detail kept in a line; library errors and server messages can be long.
const MAX_DETAIL: usize = 400;

/// Longest target kept in a line, in bytes; a longer one loses its middle. With the detail
/// (at most [`MAX_DETAIL`] characters of up to 4 bytes) and a wait-for prefix, a line stays
/// far below Docker's 4096-byte health log, so the reason at its end is never cut.
const MAX_TARGET: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Quiet,
}

impl Format {
    pub fn from_flags(json: bool, quiet: bool) -> Self {
        match (json, quiet) {
            (_, true) => Format::Quiet,
            (true, false) => Format::Json,
            (false, false) => Format::Text,
        }
    }
}

/// One finished check, ready to print.
pub struct Report<'a> {
    pub check: &'a str,
    pub target: &'a str,
    pub outcome: &'a Outcome,
    pub elapsed: Duration,
}

#[derive(Serialize)]
struct JsonLine<'a> {
    check: &'a str,
    target: &'a str,
    healthy: bool,
    fatal: bool,
    detail: &'a str,
    elapsed_ms: f64,
}

impl Report<'_> {
    /// The line to print, or `None` for `-q`.
    pub fn render(&self, format: Format) -> Option<String> {
        if format == Format::Quiet {
            return None;
        }
        // Scrubbed whole first: a cut could split a secret where the scrubber would miss it.
        let target = middle(&redact::scrub(self.target), MAX_TARGET);
        let detail = shorten(&redact::scrub(&self.outcome.detail));
        match format {
            Format::Quiet => None,
            Format::Text => {
                // Pieces pushed, not format!: this runs in every health check, and the
                // formatting machinery costs more than the rest of the line.
                let verdict = verdict_word(self.outcome.verdict);
                let elapsed = human(self.elapsed);
                let mut line = String::with_capacity(
                    verdict.len() + self.check.len() + target.len() + detail.len() + 24,
                );
                for piece in [verdict, ": ", self.check, " ", &target, ": ", &detail, " ("] {
                    line.push_str(piece);
                }
                line.push_str(&elapsed);
                line.push(')');
                Some(line)
            }
            Format::Json => serde_json::to_string(&JsonLine {
                check: self.check,
                target: &target,
                healthy: self.outcome.is_healthy(),
                fatal: self.outcome.is_fatal(),
                detail: &detail,
                elapsed_ms: (self.elapsed.as_secs_f64() * 1e6).round() / 1e3,
            })
            .ok(),
        }
    }
}

pub fn verdict_word(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Healthy => "healthy",
        Verdict::Unhealthy => "unhealthy",
        Verdict::Fatal => "unhealthy (fatal)",
    }
}

/// One line, at most [`MAX_DETAIL`] characters: newlines from server messages are folded.
fn shorten(detail: &str) -> String {
    // Most details are one short ASCII line already.
    let plain = detail.len() <= MAX_DETAIL
        && detail.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        && !detail.starts_with(' ')
        && !detail.ends_with(' ')
        && !detail.contains("  ");
    if plain {
        return detail.to_string();
    }
    let single_line = detail.split_whitespace().collect::<Vec<_>>().join(" ");
    match single_line.char_indices().nth(MAX_DETAIL) {
        Some((cut, _)) => format!("{}...", &single_line[..cut]),
        None => single_line,
    }
}

/// Longest list of targets in one line (wait-for's "ready after ..."), in bytes.
pub const MAX_TARGETS: usize = 3 * 1024;

/// At most `max` bytes: the start and the end of `text` around "...".
pub fn middle(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let half = (max - 3) / 2;
    let mut head = half;
    while !text.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = text.len() - half;
    while !text.is_char_boundary(tail) {
        tail += 1;
    }
    format!("{}...{}", &text[..head], &text[tail..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(outcome: &Outcome) -> Report<'_> {
        Report {
            check: "http",
            target: "http://localhost:8000/health",
            outcome,
            elapsed: Duration::from_micros(1200),
        }
    }

    #[test]
    fn text_line_names_verdict_check_target_reason_and_time() {
        let outcome = Outcome::unhealthy("status 503");
        assert_eq!(
            report(&outcome).render(Format::Text).unwrap(),
            "unhealthy: http http://localhost:8000/health: status 503 (1.2ms)"
        );
        assert_eq!(report(&outcome).render(Format::Quiet), None);
    }

    #[test]
    fn json_line_has_the_contract_fields() {
        let outcome = Outcome::fatal("certificate rejected:\nunknown issuer");
        let line = report(&outcome).render(Format::Json).unwrap();
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["check"], "http");
        assert_eq!(value["healthy"], false);
        assert_eq!(value["fatal"], true);
        assert_eq!(value["detail"], "certificate rejected: unknown issuer");
        assert_eq!(value["elapsed_ms"], 1.2);
    }

    #[test]
    fn long_details_are_cut() {
        let outcome = Outcome::unhealthy("x".repeat(10_000));
        assert!(report(&outcome).render(Format::Text).unwrap().len() < 600);
    }

    #[test]
    fn long_targets_lose_their_middle_never_the_reason() {
        let url = format!("http://localhost:8000/{}/end", "é".repeat(3500));
        let outcome = Outcome::unhealthy("status 503");
        let report = Report {
            check: "http",
            target: &url,
            outcome: &outcome,
            elapsed: Duration::from_micros(1200),
        };
        let line = report.render(Format::Text).unwrap();
        assert!(line.len() <= MAX_TARGET + 64, "{} bytes", line.len());
        assert!(
            line.starts_with("unhealthy: http http://localhost:8000/é"),
            "{line}"
        );
        assert!(line.ends_with("éé/end: status 503 (1.2ms)"), "{line}");
        assert!(line.contains("é...é"), "{line}");
        let json = report.render(Format::Json).unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["detail"], "status 503");
        assert!(json.len() <= MAX_TARGET + 128, "{} bytes", json.len());
        // The longest detail and target, with a wait-for prefix, fit in Docker's log.
        let outcome = Outcome::unhealthy("\u{10ffff}".repeat(10_000));
        let longest = Report {
            outcome: &outcome,
            ..report
        };
        let line = longest.render(Format::Text).unwrap();
        assert!(line.len() + "not ready after 8784h0m0s (4294967295 attempts): ".len() < 4096);
        assert_eq!(middle("short", 5), "short");
        assert_eq!(middle("abcdefghij", 9), "abc...hij");
    }
}
