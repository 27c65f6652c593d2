//! `probe migrate-then-exec`: migration as a child, its exit status, signals, then exec.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{command, free_port, probe, temp_dir, Pid1};

#[test]
fn a_successful_migration_is_followed_by_the_app_in_probes_place() {
    let dir = temp_dir();
    let (log, pid) = (dir.path().join("log"), dir.path().join("pid"));
    let migration = format!("sh -c 'echo migrated >> {}'", log.display());
    let app = format!(
        "echo app >> {0}; echo $$ > {1}",
        log.display(),
        pid.display()
    );
    let child = command(&[
        "migrate-then-exec",
        "--migrate",
        &migration,
        "--",
        "sh",
        "-c",
        &app,
    ])
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let probe_pid = child.id();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "migrated\napp\n");
    let app_pid: u32 = std::fs::read_to_string(&pid)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(app_pid, probe_pid, "the app must replace probe");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("migration ran in") && stderr.contains("exec'ing the app"),
        "{stderr}"
    );
}

#[test]
fn a_failing_migration_passes_its_exit_code_and_the_app_never_starts() {
    let dir = temp_dir();
    let marker = dir.path().join("app-started");
    let app = ["--", "touch", marker.to_str().unwrap()];
    let mut args = vec!["migrate-then-exec", "--migrate", "sh -c 'exit 7'"];
    args.extend(app);
    probe(&args)
        .code(7)
        .says("exit code 7")
        .says("not starting the app");
    assert!(!marker.exists());

    let mut args = vec![
        "migrate-then-exec",
        "--migrate",
        "no-such-migration-tool upgrade",
    ];
    args.extend(app);
    probe(&args).code(127).says("no-such-migration-tool");
    assert!(!marker.exists());

    let mut args = vec![
        "migrate-then-exec",
        "--migrate",
        "sleep 30",
        "--migrate-timeout",
        "500ms",
    ];
    args.extend(app);
    probe(&args)
        .code(1)
        .says("still running after 500ms")
        .within(Duration::from_secs(5));
    assert!(!marker.exists());
}

#[test]
fn sigterm_is_forwarded_to_the_migration_and_its_status_returned() {
    let dir = temp_dir();
    let marker = dir.path().join("app-started");
    let started_file = dir.path().join("migration-started");
    // The migration exits 0 on SIGTERM: the app must still not start after a stop request.
    let migration = format!(
        "sh -c 'trap \"exit 0\" TERM; touch {}; while true; do sleep 0.05; done'",
        started_file.display()
    );
    let child = command(&[
        "migrate-then-exec",
        "--migrate",
        &migration,
        "--",
        "touch",
        marker.to_str().unwrap(),
    ])
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let begun = Instant::now();
    while !started_file.exists() {
        assert!(
            begun.elapsed() < Duration::from_secs(5),
            "migration did not start"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(143), "{output:?}");
    assert!(!marker.exists(), "the app started after a stop request");

    // A migration killed by the forwarded signal: 128+15 as well.
    let child = command(&["migrate-then-exec", "--migrate", "sleep 30", "--", "true"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(child.wait_with_output().unwrap().status.code(), Some(143));
}

#[test]
fn the_wait_phase_runs_first_and_a_failed_wait_skips_the_migration() {
    let dir = temp_dir();
    let migrated = dir.path().join("migrated");
    let migration = format!("touch {}", migrated.display());
    let closed = format!("tcp://127.0.0.1:{}", free_port());
    probe(&[
        "migrate-then-exec",
        "--wait",
        &closed,
        "--timeout",
        "1s",
        "--migrate",
        &migration,
    ])
    .code(1)
    .says("not ready")
    .says("did not run");
    assert!(!migrated.exists());

    let port = free_port();
    let late = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(800));
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        std::thread::sleep(Duration::from_secs(3));
        drop(listener);
    });
    probe(&[
        "migrate-then-exec",
        "--wait",
        &format!("tcp://127.0.0.1:{port}"),
        "--timeout",
        "10s",
        "--migrate",
        &migration,
    ])
    .code(0)
    .says("ready after");
    assert!(migrated.exists());
    late.join().unwrap();
}

#[test]
fn bad_input_exits_3() {
    probe(&["migrate-then-exec", "--", "true"]).code(3);
    probe(&["migrate-then-exec", "--migrate", "", "--", "true"])
        .code(3)
        .says("--migrate");
    probe(&[
        "migrate-then-exec",
        "--migrate",
        "'unbalanced",
        "--",
        "true",
    ])
    .code(3);
    probe(&["migrate-then-exec", "--migrate", "true", "--lock-key", "x"])
        .code(3)
        .says("need --lock");
    probe(&[
        "migrate-then-exec",
        "--migrate",
        "true",
        "--wait",
        "tcp://db",
    ])
    .code(3);
}

#[test]
fn as_pid_1_signals_still_reach_the_migration() {
    let mut probe = Pid1::spawn(&["migrate-then-exec", "--migrate", "sleep 30", "--", "true"]);
    std::thread::sleep(Duration::from_millis(500));
    let sent = Instant::now();
    probe.kill("TERM");
    let status = probe.unshare.wait().unwrap();
    assert!(
        sent.elapsed() < Duration::from_secs(3),
        "took {:?}",
        sent.elapsed()
    );
    assert_eq!(status.code(), Some(143), "{status:?}");
}
