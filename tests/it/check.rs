//! `probe check` with several targets: one deadline for all, every target reported.

use std::time::Duration;

use crate::hostile::{spawn_measured, JsonServer, JSON_SHAPES};
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

/// Runs `mode` over `count` JSON targets, cycling through `shapes`, and again over as many
/// small bodies: the exit code, the output, and the peak RSS (KiB) the 1 MiB bodies added.
/// Each target costs a thread and its buffers whatever its body; the bodies' share is what
/// the shared budget bounds.
fn json_targets(mode: &str, count: usize, shapes: &[&str]) -> (Option<i32>, String, i64) {
    let server = JsonServer::start();
    let run = |shapes: &[&str]| {
        let targets: Vec<String> = (0..count)
            .map(|n| {
                let url = server.url(shapes[n % shapes.len()]);
                format!("http {url}/{n} --expect-json /status=ok")
            })
            .collect();
        let mut args = vec![mode, "--timeout", "20s"];
        args.extend(targets.iter().map(String::as_str));
        spawn_measured(&args)
    };
    let (_, _, small_kib, _) = run(&["small"]);
    let (status, _, large_kib, output) = run(shapes);
    eprintln!("{mode} x{count}: peak RSS {large_kib} KiB, {small_kib} KiB with small bodies");
    (status.code(), output, large_kib - small_kib)
}

/// What 1 MiB bodies may add to any number of targets: the large bodies held at once (two)
/// and what their parse holds beside them.
const BODIES_KIB: i64 = 4 * 1024;

#[test]
fn json_targets_of_one_check_share_one_memory_budget() {
    // Sixteen bodies of 1 MiB, each 7-16 MiB as a value tree: every one read, parsed and
    // reported, for the cost of two.
    let (code, output, bodies_kib) = json_targets("check", 16, JSON_SHAPES);
    assert_eq!(code, Some(1), "{output}");
    assert_eq!(
        output.matches("status 200, /status is ").count(),
        16,
        "{output}"
    );
    assert!(
        bodies_kib <= BODIES_KIB,
        "bodies added {bodies_kib} KiB\n{output}"
    );
}

#[test]
fn json_targets_of_one_wait_share_one_memory_budget() {
    let (code, output, bodies_kib) = json_targets("wait-for", 16, &["ok-padded"]);
    assert_eq!(code, Some(0), "{output}");
    assert!(
        bodies_kib <= BODIES_KIB,
        "bodies added {bodies_kib} KiB\n{output}"
    );
}

#[test]
fn a_long_target_keeps_its_reason_within_dockers_log() {
    // A 7 KiB URL: its middle goes, never the reason at the end of the line.
    let url = format!("http://127.0.0.1:1/{}/tail", "a".repeat(7 * 1024));
    let lines = |run: &crate::support::Run| -> Vec<String> {
        run.output().lines().map(String::from).collect()
    };
    for run in [
        probe(&["http", &url, "--timeout", "2s"]),
        probe(&["check", &url, &url, "--timeout", "2s"]),
    ] {
        run.code(1);
        for line in lines(&run) {
            assert!(line.len() < 4096, "{} bytes: {line}", line.len());
            assert!(line.contains("/tail: connection refused ("), "{line}");
        }
    }
    // wait-for's progress and final lines too.
    let run = probe(&["wait-for", &url, "--timeout", "1s"]);
    run.code(1);
    let progress = lines(&run);
    assert!(progress.len() >= 2, "{run:#?}");
    for line in progress.iter().filter(|line| line.contains("127.0.0.1:1/")) {
        assert!(line.len() < 4096, "{} bytes: {line}", line.len());
        assert!(line.contains("/tail: connection refused ("), "{line}");
    }
}

#[test]
fn wait_fors_ready_line_stays_within_dockers_log() {
    let server =
        crate::support::http::Server::http(|_| crate::support::http::Response::new(200, "ok"));
    let long = server.url(&format!("/{}/tail", "a".repeat(3 * 1024)));
    let run = probe(&["wait-for", &long, &long, &long, "--timeout", "5s"]);
    run.code(0);
    let ready: Vec<String> = run
        .output()
        .lines()
        .filter(|line| line.starts_with("ready after"))
        .map(String::from)
        .collect();
    assert_eq!(ready.len(), 1, "{run:#?}");
    assert!(ready[0].len() < 4096, "{} bytes", ready[0].len());
    assert!(
        ready[0].ends_with("/tail"),
        "the last target's end is kept: {}",
        &ready[0][ready[0].len() - 40..]
    );
}

#[test]
fn a_duration_that_rounds_to_zero_is_a_usage_error_everywhere() {
    // 0.1ns is no time at all, and not `0` (wait-for: forever) either.
    for args in [
        &["wait-for", "127.0.0.1:1", "--timeout", "0.0000000001s"][..],
        &["check", "127.0.0.1:1", "--timeout", "0.0000000001s"],
        &["tcp", "127.0.0.1:1", "--timeout", "0.0000000001s"],
        &[
            "wait-for",
            "127.0.0.1:1",
            "--interval",
            "0.0001us",
            "--timeout",
            "1s",
        ],
    ] {
        probe(args)
            .code(3)
            .says("shorter than 1ns")
            .within(Duration::from_secs(5));
    }
}
