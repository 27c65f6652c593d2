//! Real programs: `/bin/sh -c` scripts as the checked program, `true`, `false`, `sleep`,
//! missing and non-executable files in temporary directories.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use super::run::{self, End, KEEP};
use super::*;
use crate::outcome::Verdict;

fn settings(words: &[&str]) -> ExecSettings {
    ExecSettings {
        command: words.iter().map(OsString::from).collect(),
        expect_output: None,
    }
}

fn check(words: &[&str]) -> ExecCheck {
    ExecCheck::new(settings(words)).unwrap()
}

fn expecting(words: &[&str], text: &str) -> ExecCheck {
    ExecCheck::new(ExecSettings {
        expect_output: Some(text.into()),
        ..settings(words)
    })
    .unwrap()
}

/// Runs `check` with a budget of `timeout`: the outcome and how long it took.
fn run_for(check: &ExecCheck, timeout: Duration) -> (Outcome, Duration) {
    let started = Instant::now();
    let outcome = check.run(&Deadline::start(timeout));
    (outcome, started.elapsed())
}

fn outcome(words: &[&str]) -> Outcome {
    run_for(&check(words), Duration::from_secs(10)).0
}

fn sh(script: &str) -> Outcome {
    outcome(&["/bin/sh", "-c", script])
}

fn usage_error(words: &[&str]) -> String {
    ExecCheck::new(settings(words)).unwrap_err().0
}

/// `run::run` of a shell script directly, for what the outcome does not show.
fn ran(script: &str, timeout: Duration) -> run::Ran {
    let argv: Vec<OsString> = ["sh", "-c", script].iter().map(OsString::from).collect();
    run::run(Path::new("/bin/sh"), &argv, None, &Deadline::start(timeout)).unwrap()
}

#[track_caller]
fn assert_outcome(outcome: &Outcome, verdict: Verdict, detail: &str) {
    assert_eq!(
        (outcome.verdict, outcome.detail.as_str()),
        (verdict, detail),
        "{outcome:?}"
    );
}

#[test]
fn exit_0_is_healthy() {
    let (outcome, took) = run_for(&check(&["true"]), Duration::from_secs(5));
    assert_outcome(&outcome, Verdict::Healthy, "exited 0");
    assert!(took < Duration::from_millis(500), "{took:?}");
    assert_outcome(
        &sh("echo starting; echo; echo ready"),
        Verdict::Healthy,
        "exited 0: ready",
    );
}

#[test]
fn another_code_is_unhealthy_with_the_last_line_of_stderr_else_stdout() {
    assert_outcome(&outcome(&["false"]), Verdict::Unhealthy, "exited 1");
    assert_outcome(
        &sh("echo fine; echo 'connection to db:5432 refused' >&2; echo >&2; exit 1"),
        Verdict::Unhealthy,
        "exited 1: connection to db:5432 refused",
    );
    assert_outcome(
        &sh("echo 'only stdout'; echo '  '; exit 4"),
        Verdict::Unhealthy,
        "exited 4: only stdout",
    );
    assert_outcome(&sh("exit 255"), Verdict::Unhealthy, "exited 255");
}

#[test]
fn a_signal_is_named() {
    assert_outcome(
        &sh("echo 'about to go' >&2; kill -KILL $$"),
        Verdict::Unhealthy,
        "killed by SIGKILL: about to go",
    );
    assert_outcome(
        &sh("kill -SEGV $$"),
        Verdict::Unhealthy,
        "killed by SIGSEGV",
    );
}

#[test]
fn a_missing_or_unrunnable_program_is_a_usage_error() {
    assert_eq!(usage_error(&[]), "exec needs a command after --");
    assert!(usage_error(&[""]).starts_with("exec needs a command after --"));
    assert_eq!(
        usage_error(&["no-such-program-for-probe", "--version"]),
        "cannot run no-such-program-for-probe: not found in PATH"
    );
    assert_eq!(
        usage_error(&["/nonexistent/program"]),
        "cannot run /nonexistent/program: no such file"
    );
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("check.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let script = script.to_str().unwrap();
    assert_eq!(
        usage_error(&[script]),
        format!("cannot run {script}: not executable")
    );
    let dir_path = dir.path().to_str().unwrap();
    assert_eq!(
        usage_error(&[dir_path]),
        format!("cannot run {dir_path}: not executable")
    );
}

#[test]
fn a_program_gone_since_it_was_found_is_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("check.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let check = check(&[script.to_str().unwrap()]);
    std::fs::remove_file(&script).unwrap();
    let (outcome, _) = run_for(&check, Duration::from_secs(5));
    assert_eq!(outcome.verdict, Verdict::Fatal, "{outcome:?}");
    assert!(
        outcome.detail.ends_with("check.sh: no such file"),
        "{outcome:?}"
    );
}

#[test]
fn expect_output_flags_are_checked() {
    let with = |text: &str| {
        ExecCheck::new(ExecSettings {
            expect_output: Some(text.into()),
            ..settings(&["true"])
        })
        .map(|_| ())
        .map_err(|error| error.0)
    };
    assert_eq!(with(""), Err("--expect-output needs some text".into()));
    assert_eq!(
        with(&"x".repeat(MAX_EXPECT + 1)),
        Err("--expect-output is longer than 1024 bytes".into())
    );
    assert_eq!(with(&"x".repeat(MAX_EXPECT)), Ok(()));
}

#[test]
fn the_program_is_found_in_path_and_keeps_its_name_stdin_is_null_and_it_leads_a_group() {
    // argv[0] as written (`sh`, not the path found), stdin /dev/null, its own group.
    assert_outcome(
        &outcome(&[
            "sh",
            "-c",
            r#"[ "$(readlink /proc/self/fd/0)" = /dev/null ] || exit 5
               set -- $(cat /proc/$$/stat); [ "$5" = "$$" ] || exit 6
               tr '\0' ' ' < /proc/$$/cmdline | cut -c1-6"#,
        ]),
        Verdict::Healthy,
        "exited 0: sh -c",
    );
}

#[test]
fn the_child_gets_the_whole_environment() {
    // The same shell line through std's Command (which passes `environ` on) and through
    // the check: the same variables, whatever probe reads of them.
    let script = "env | LC_ALL=C sort | cksum";
    let expected = std::process::Command::new("/bin/sh")
        .args(["-c", script])
        .output()
        .unwrap();
    let expected = String::from_utf8(expected.stdout).unwrap();
    assert!(std::env::vars_os().count() > 3);
    assert_outcome(
        &sh(script),
        Verdict::Healthy,
        &format!("exited 0: {}", expected.trim()),
    );
    let path = std::env::var("PATH").unwrap();
    assert_outcome(
        &outcome(&["sh", "-c", r#"[ "$PATH" = "$1" ]"#, "sh", &path]),
        Verdict::Healthy,
        "exited 0",
    );
}

#[test]
fn at_the_deadline_sigterm_then_the_verdict() {
    // `sleep` ends on SIGTERM, sent a fifth of the budget (at most 1s) before the end.
    let (outcome, took) = run_for(&check(&["sleep", "100"]), Duration::from_secs(1));
    assert_outcome(
        &outcome,
        Verdict::Unhealthy,
        "timed out after 1s, stopped with SIGTERM",
    );
    assert!(
        took >= Duration::from_millis(790) && took < Duration::from_millis(950),
        "{took:?}"
    );
}

#[test]
fn a_program_that_ignores_sigterm_is_killed_at_the_deadline() {
    let check = check(&[
        "/bin/sh",
        "-c",
        "trap '' TERM; echo 'still busy' >&2; sleep 100; echo never",
    ]);
    let (outcome, took) = run_for(&check, Duration::from_secs(1));
    assert_outcome(
        &outcome,
        Verdict::Unhealthy,
        "timed out after 1s, killed with SIGKILL: still busy",
    );
    assert!(
        took >= Duration::from_millis(990) && took < Duration::from_millis(1100),
        "{took:?}"
    );
}

#[test]
fn a_program_that_exits_0_on_sigterm_still_timed_out() {
    let check = check(&["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 100 & wait"]);
    let (outcome, took) = run_for(&check, Duration::from_millis(500));
    assert_outcome(
        &outcome,
        Verdict::Unhealthy,
        "timed out after 500ms, stopped with SIGTERM",
    );
    assert!(took < Duration::from_millis(550), "{took:?}");
}

#[test]
fn a_background_process_holding_the_streams_neither_hangs_the_check_nor_survives_it() {
    let started = Instant::now();
    let ran = ran("sleep 100 & echo $!; echo ok", Duration::from_secs(10));
    assert!(started.elapsed() < Duration::from_millis(500), "{ran:?}");
    assert_eq!(ran.end, End::Exited(0));
    let stdout = String::from_utf8_lossy(ran.stdout.kept()).into_owned();
    let pid: u32 = stdout.lines().next().unwrap().parse().unwrap();
    // Killed with the group: gone, or a zombie that its new parent has not reaped yet.
    let gone = || match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.contains(") Z "),
        Err(_) => true,
    };
    let waited = Instant::now();
    while !gone() && waited.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(gone(), "sleep {pid} survived");
    assert_outcome(&sh("sleep 100 & echo ok"), Verdict::Healthy, "exited 0: ok");
}

#[test]
fn a_program_that_closes_its_streams_is_still_timed() {
    let (outcome, took) = run_for(
        &check(&["/bin/sh", "-c", "exec >&- 2>&-; sleep 0.3; exit 3"]),
        Duration::from_secs(5),
    );
    assert_outcome(&outcome, Verdict::Unhealthy, "exited 3");
    assert!(took >= Duration::from_millis(300), "{took:?}");
    let (outcome, _) = run_for(
        &check(&["/bin/sh", "-c", "exec >&- 2>&-; sleep 100"]),
        Duration::from_millis(500),
    );
    assert_outcome(
        &outcome,
        Verdict::Unhealthy,
        "timed out after 500ms, stopped with SIGTERM",
    );
}

#[test]
fn huge_output_stays_bounded() {
    let ran = ran(
        "yes | head -c 100000000; echo last >&2",
        Duration::from_secs(30),
    );
    assert_eq!(ran.end, End::Exited(0));
    assert_eq!(ran.stdout.kept().len(), KEEP);
    assert!(ran.stdout.cut);
    assert!(
        ran.stdout.capacity() <= KEEP + 16 * 1024,
        "{}",
        ran.stdout.capacity()
    );
    assert_eq!(ran.stderr.kept(), b"last\n");
}

#[test]
fn a_line_longer_than_what_is_kept_is_not_shown() {
    assert_outcome(
        &sh("echo first >&2; head -c 10000 /dev/zero | tr '\\0' a >&2; exit 1"),
        Verdict::Unhealthy,
        "exited 1",
    );
    // Even when what is left of it is short: its start, a secret perhaps, is gone (here
    // "ret-value" is kept, which the scrubber cannot know for a secret's end).
    redact::register("hunter2-secret-value");
    assert_outcome(
        &sh(&format!(
            "head -c 5000 /dev/zero >&2; echo ' hunter2-secret-value' >&2; \
             head -c {} /dev/zero | tr '\\0' '\\n' >&2; exit 1",
            KEEP - 10
        )),
        Verdict::Unhealthy,
        "exited 1",
    );
}

#[test]
fn expect_output_is_searched_in_everything_read() {
    let script = "echo starting; echo 'status: ready'; echo done";
    let (healthy, _) = run_for(
        &expecting(&["/bin/sh", "-c", script], "ready"),
        Duration::from_secs(5),
    );
    assert_outcome(&healthy, Verdict::Healthy, "exited 0: done");
    let (missing, _) = run_for(
        &expecting(&["/bin/sh", "-c", script], "green"),
        Duration::from_secs(5),
    );
    assert_outcome(
        &missing,
        Verdict::Unhealthy,
        "exited 0 without \"green\" in its output: done",
    );
    // In stderr, and long gone from what is kept.
    let buried = "echo 'all systems READY' >&2; yes | head -c 2000000 >&2";
    let (found, _) = run_for(
        &expecting(&["/bin/sh", "-c", buried], "systems READY"),
        Duration::from_secs(10),
    );
    assert_eq!(found.verdict, Verdict::Healthy, "{found:?}");
    // The text is not enough without exit 0.
    let (failed, _) = run_for(
        &expecting(&["/bin/sh", "-c", "echo ready; exit 1"], "ready"),
        Duration::from_secs(5),
    );
    assert_outcome(&failed, Verdict::Unhealthy, "exited 1: ready");
}

#[test]
fn expect_output_is_found_across_reads_and_drops() {
    let mut tail = run::Tail::new();
    tail.push(b"xxxx rea", Some(b"ready"));
    assert!(!tail.found);
    tail.push(b"dy", Some(b"ready"));
    assert!(tail.found);
    let mut tail = run::Tail::new();
    tail.push(&vec![b'y'; KEEP * 3], Some(b"needle"));
    tail.push(b"nee", Some(b"needle"));
    tail.push(b"", Some(b"needle"));
    tail.push(b"dle", Some(b"needle"));
    assert!(tail.found);
    assert_eq!(tail.kept().len(), KEEP);
}

#[test]
fn secrets_never_reach_the_reason_or_the_target() {
    redact::register("hunter2-secret-value");
    let check = check(&[
        "/bin/sh",
        "-c",
        "echo \"login failed for $1\" >&2; exit 1",
        "sh",
        "hunter2-secret-value",
    ]);
    let (outcome, _) = run_for(&check, Duration::from_secs(5));
    assert_outcome(
        &outcome,
        Verdict::Unhealthy,
        "exited 1: login failed for ***",
    );
    assert!(!check.target().contains("hunter2"), "{}", check.target());
    // Hidden by colours, or cut by the cap.
    assert_outcome(
        &sh("printf 'token \\033[1mhunter2-secret-value\\033[0m rejected\\n' >&2; exit 1"),
        Verdict::Unhealthy,
        "exited 1: token *** rejected",
    );
    let long = format!(
        "printf '%0{}d hunter2-secret-value\\n' 0 >&2; exit 1",
        MAX_LINE - 8
    );
    let outcome = sh(&long);
    assert!(!outcome.detail.contains("hunter"), "{outcome:?}");
}

#[test]
fn the_reason_is_one_clean_short_line() {
    assert_outcome(
        &sh("printf '\\033[31mERROR\\033[0m:\\tbad\\001thing \\033]0;title\\007\\n' >&2; exit 2"),
        Verdict::Unhealthy,
        "exited 2: ERROR: bad thing",
    );
    // A progress bar: its last state.
    assert_outcome(
        &sh("printf '10%%\\r50%%\\rfailed at 50%%\\r\\n' >&2; exit 2"),
        Verdict::Unhealthy,
        "exited 2: failed at 50%",
    );
    let outcome = sh("head -c 1000 /dev/zero | tr '\\0' x >&2; echo >&2; exit 1");
    assert_eq!(
        outcome.detail,
        format!("exited 1: {}...", "x".repeat(MAX_LINE))
    );
    let outcome = sh("printf 'caf\\351 \\342\\200\\256evil\\n' >&2; exit 1");
    assert_eq!(outcome.detail, "exited 1: caf\u{fffd} evil");
}

#[test]
fn the_target_is_the_command_as_a_shell_would_quote_it() {
    assert_eq!(
        check(&["/bin/sh", "-c", "exit 1"]).target(),
        "/bin/sh -c 'exit 1'"
    );
    assert_eq!(check(&["true"]).kind(), "exec");
    let long = "x".repeat(1000);
    assert!(check(&["echo", &long]).target().len() <= MAX_TARGET);
}

#[test]
fn a_spent_deadline_runs_nothing() {
    let outcome = check(&["true"]).run(&Deadline::start(Duration::ZERO));
    assert_eq!(outcome.verdict, Verdict::Unhealthy, "{outcome:?}");
    assert!(
        outcome.detail.starts_with("timed out after 0s"),
        "{outcome:?}"
    );
}

#[test]
fn the_child_gets_sigpipe_back() {
    // probe ignores SIGPIPE (as the test harness does): ignored signals survive execve,
    // and `yes | head` would then never end `yes` by SIGPIPE.
    let ran = ran(
        "set -- $(grep SigIgn /proc/$$/status); echo $2",
        Duration::from_secs(5),
    );
    let mask = String::from_utf8_lossy(ran.stdout.kept())
        .trim()
        .to_string();
    let mask = u64::from_str_radix(&mask, 16).unwrap();
    assert_eq!(mask & 1 << (libc::SIGPIPE - 1), 0, "{mask:x}");
}
