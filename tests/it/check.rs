//! `probe check` with several targets: one deadline for all, every target reported.

use std::time::Duration;

use crate::support::peer::{Peer, Step};
use crate::support::probe;

#[test]
fn a_deadline_shorter_than_the_straggler_grace_still_reports_every_target() {
    // The collector waits for the deadline plus a grace of 250 ms; a budget below the
    // grace must still give one "timed out" line per target, not a crash.
    let silent = Peer::each(None, vec![Step::Silent]);
    let url = |path: &str| format!("http://127.0.0.1:{}{path}", silent.port());
    let run = probe(&["check", "--timeout", "100ms", &url("/a"), &url("/b")]);
    run.code(1)
        .says("timed out after 100ms")
        .within(Duration::from_secs(3));
    assert_eq!(run.stdout.lines().count(), 2, "{run:#?}");
    silent.finish();
}
