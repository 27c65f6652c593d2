//! `probe serve -- CMD` supervising an app, as PID 1 of a PID namespace where it matters
//! (signals, orphans) as in a container: signals reach the app, its exit code is probe's,
//! orphans are reaped but `exec` targets' children are not, the app's death ends /livez at
//! once, and `--wait` holds the app back until the ready targets pass.

use std::net::TcpListener;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::{get, Reply};
use crate::support::{command, finish, free_port, temp_dir, wait_for_path, wait_for_port, Pid1};

/// `serve --listen 127.0.0.1:PORT ARGS -- CMD...` as PID 1 of a new PID namespace.
fn pid1(port: u16, args: &[&str], app: &[&str]) -> Pid1 {
    let listen = format!("127.0.0.1:{port}");
    let mut words = vec!["serve", "--listen", &listen];
    words.extend(args);
    words.push("--");
    words.extend(app);
    let probe = Pid1::spawn(&words);
    wait_for_port(port, Duration::from_secs(10));
    probe
}

/// Kills probe (and with it, PID 1, its namespace) when a test ends early: a failed
/// assertion must not leave a server running that holds the test's output open.
struct KillOnDrop(String);

impl KillOnDrop {
    fn new(probe: &Pid1) -> KillOnDrop {
        KillOnDrop(probe.pid.clone())
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", self.0)).unwrap_or_default();
        // Still probe serve (a pid that ended may be reused by anything).
        if String::from_utf8_lossy(&cmdline).contains("serve") {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &self.0])
                .status();
        }
    }
}

/// A `file` target that stays healthy for the test's life.
fn heartbeat(dir: &Path) -> String {
    let file = dir.join("heartbeat");
    std::fs::write(&file, "").unwrap();
    format!("file {} --max-age 1h", file.display())
}

#[test]
fn sigterm_reaches_the_app_and_its_exit_code_is_probes() {
    let dir = temp_dir();
    let started = dir.path().join("started");
    let app = format!(
        "trap 'exit 42' TERM; : > {}; while :; do sleep 0.05; done",
        started.display()
    );
    let port = free_port();
    let live = heartbeat(dir.path());
    let probe = pid1(
        port,
        &["--live", &live, "--interval", "200ms"],
        &["sh", "-c", &app],
    );
    let _kill = KillOnDrop::new(&probe);
    wait_for_path(&started, Duration::from_secs(5));
    let started = Instant::now();
    let mut livez = get(port, "/livez?verbose");
    while livez.status != 200 && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
        livez = get(port, "/livez?verbose");
    }
    assert_eq!(livez.status, 200, "{}", livez.body);
    assert!(
        livez.body.contains("[+] app: the app is running"),
        "{}",
        livez.body
    );
    let sent = Instant::now();
    let status = probe.terminate();
    assert!(
        sent.elapsed() < Duration::from_secs(3),
        "took {:?}",
        sent.elapsed()
    );
    assert_eq!(
        status.code(),
        Some(42),
        "the app's trap's exit code: {status:?}"
    );
}

#[test]
fn an_app_without_a_trap_ends_with_the_signal_as_pid_1() {
    let port = free_port();
    let dir = temp_dir();
    let live = heartbeat(dir.path());
    let probe = pid1(port, &["--live", &live], &["sleep", "30"]);
    let _kill = KillOnDrop::new(&probe);
    let status = probe.terminate();
    assert_eq!(status.code(), Some(143), "{status:?}");
}

#[test]
fn the_apps_own_exit_code_is_returned() {
    let dir = temp_dir();
    let live = heartbeat(dir.path());
    for (script, code) in [("exit 0", 0), ("exit 7", 7), ("kill -KILL $$", 137)] {
        let child = command(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--live",
            &live,
            "--",
            "sh",
            "-c",
            script,
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        let output = finish(child, Duration::from_secs(10));
        assert_eq!(output.status.code(), Some(code), "{script}: {output:?}");
    }
}

#[test]
fn the_apps_death_ends_livez_at_once() {
    let dir = temp_dir();
    let ending = dir.path().join("ending");
    let app = format!("sleep 1; : > {}; exit 5", ending.display());
    let port = free_port();
    let live = heartbeat(dir.path());
    let probe = pid1(
        port,
        &["--live", &live, "--interval", "200ms"],
        &["sh", "-c", &app],
    );
    let _kill = KillOnDrop::new(&probe);
    // Up while the app runs...
    let mut last = get(port, "/livez");
    let started = Instant::now();
    while last.status != 200 && started.elapsed() < Duration::from_secs(5) {
        last = get(port, "/livez");
    }
    assert_eq!(last.status, 200);
    // ...and not a moment after it ended: 503, or nothing listening.
    while !ending.exists() {
        assert_eq!(
            get(port, "/livez").status,
            200,
            "/livez failed while the app ran"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let ended = Instant::now();
    let failed_after = loop {
        let reply: Reply = get(port, "/livez");
        if reply.status != 200 {
            break ended.elapsed();
        }
        assert!(ended.elapsed() < Duration::from_secs(5), "/livez still 200");
        std::thread::sleep(Duration::from_millis(5));
    };
    eprintln!("serve: the app ended -> /livez failed after {failed_after:?}");
    assert!(
        failed_after < Duration::from_millis(300),
        "/livez answered 200 for {failed_after:?} after the app ended"
    );
    let status = finish(probe.unshare, Duration::from_secs(10)).status;
    assert_eq!(status.code(), Some(5), "{status:?}");
}

/// The states (from /proc/PID/stat) of every child of `pid`, with their command lines.
fn children(pid: &str) -> Vec<(char, String)> {
    let mut found = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return found;
    };
    for task in tasks.flatten() {
        let list = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for child in list.split_whitespace() {
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|rest| rest.trim_start().chars().next())
                .unwrap_or('?');
            let cmdline = std::fs::read(format!("/proc/{child}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            found.push((state, format!("{child} {}", cmdline.trim())));
        }
    }
    found
}

#[test]
fn orphans_of_the_app_are_reaped_as_pid_1() {
    let dir = temp_dir();
    let live = heartbeat(dir.path());
    let port = free_port();
    // The subshell starts `sleep 0.7` and exits: the sleep is orphaned and passes to PID 1,
    // probe, whose zombie it becomes when it ends. The app itself lives on.
    let probe = pid1(
        port,
        &["--live", &live],
        &["sh", "-c", "(sleep 0.7 &); exec sleep 30"],
    );
    let _kill = KillOnDrop::new(&probe);
    let started = Instant::now();
    let adopted = loop {
        let kids = children(&probe.pid);
        if kids.iter().any(|(_, line)| line.ends_with("sleep 0.7")) {
            break kids;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the orphan never became probe's child: {kids:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(
        adopted.iter().any(|(_, line)| line.ends_with("sleep 30")),
        "{adopted:?}"
    );
    // Reaped within a round of the reaper (about a second) after it ends: no zombie left.
    let started = Instant::now();
    loop {
        let kids = children(&probe.pid);
        let orphan = kids.iter().find(|(_, line)| line.contains("sleep 0.7"));
        let zombies = kids.iter().filter(|(state, _)| *state == 'Z').count();
        if orphan.is_none() && zombies == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "an orphan is left unreaped under probe: {kids:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = probe.terminate();
    assert_eq!(status.code(), Some(143));
}

/// A sidecar (no app) as PID 1 reaps too: an `exec` target's program whose child it never
/// waits for leaves that child to PID 1 when the check stops what is left of its group.
#[test]
fn a_sidecar_as_pid_1_reaps_what_exec_targets_leave() {
    let listen = format!("127.0.0.1:{}", free_port());
    let probe = Pid1::spawn(&[
        "serve",
        "--listen",
        &listen,
        "--live",
        "exec -- sh -c 'sleep 5 & exit 0'",
        "--interval",
        "1s",
    ]);
    let _kill = KillOnDrop::new(&probe);
    let zombies = || {
        children(&probe.pid)
            .iter()
            .filter(|(state, _)| *state == 'Z')
            .count()
    };
    // The first orphan arrives (a zombie of probe's until reaped)...
    let started = Instant::now();
    while zombies() == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no orphan ever reached probe: {:?}",
            children(&probe.pid)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // ...and none stays: one per run would pile up unreaped.
    let started = Instant::now();
    while zombies() != 0 {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "zombies pile up under probe: {:?}",
            children(&probe.pid)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = probe.terminate();
    assert_eq!(status.code(), Some(143));
}

/// The reaper must leave the children of `exec` targets to their checks: a target whose
/// program exits while a grandchild (in a session of its own, so the check's stop does not
/// reach it) keeps its output open is an ended, unreaped child for the 100 ms the check
/// drains its output; reaped by the reaper, the check would lose its exit status.
#[test]
fn exec_targets_keep_their_verdicts_as_pid_1() {
    let port = free_port();
    let probe = pid1(
        port,
        &[
            "--ready",
            "exec -- sh -c 'setsid sleep 1 & exit 0'",
            "--startup",
            "exec -- sh -c 'setsid sleep 1 & exit 3'",
            "--interval",
            "150ms",
        ],
        &["sleep", "30"],
    );
    let _kill = KillOnDrop::new(&probe);
    let started = Instant::now();
    while get(port, "/readyz").status != 200 {
        assert!(started.elapsed() < Duration::from_secs(10), "never ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Four rounds of the reaper, the checks running about 25 times each.
    let watched = Instant::now();
    let mut polls = 0;
    while watched.elapsed() < Duration::from_secs(4) {
        let ready = get(port, "/readyz?verbose");
        assert_eq!(
            ready.status, 200,
            "the exit-0 target lost its verdict: {}",
            ready.body
        );
        let startup = get(port, "/startupz?verbose");
        assert_eq!(startup.status, 503, "{}", startup.body);
        assert!(
            startup.body.contains("exit 3") || startup.body.contains("exit status 3"),
            "the exit-3 target lost its exit status: {}",
            startup.body
        );
        polls += 1;
        std::thread::sleep(Duration::from_millis(30));
    }
    assert!(polls > 20, "{polls} polls");
    let status = probe.terminate();
    assert_eq!(status.code(), Some(143));
}

#[test]
fn wait_never_starts_the_app_when_the_ready_targets_do_not_pass() {
    let dir = temp_dir();
    let ran = dir.path().join("ran");
    let closed = format!("tcp://127.0.0.1:{}", free_port());
    let app = format!(": > {}", ran.display());
    let child = command(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--ready",
        &closed,
        "--wait",
        "--timeout",
        "1s",
        "--",
        "sh",
        "-c",
        &app,
    ])
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let started = Instant::now();
    let output = finish(child, Duration::from_secs(10));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert!(stderr.contains("the app was not started"), "{stderr}");
    assert!(!ran.exists(), "the app ran after a failed wait");
}

#[test]
fn wait_starts_the_app_once_the_ready_targets_pass() {
    let dir = temp_dir();
    let ran = dir.path().join("ran");
    let late = free_port();
    let port = free_port();
    let app = format!(": > {}; exec sleep 30", ran.display());
    let target = format!("tcp://127.0.0.1:{late}");
    let probe = pid1(
        port,
        &[
            "--ready",
            &target,
            "--wait",
            "--timeout",
            "20s",
            "--interval",
            "200ms",
        ],
        &["sh", "-c", &app],
    );
    let _kill = KillOnDrop::new(&probe);
    // While it waits: alive, not ready, and the app has not run.
    std::thread::sleep(Duration::from_millis(600));
    let ready = get(port, "/readyz?verbose");
    assert_eq!(ready.status, 503);
    assert!(
        ready
            .body
            .contains("[-] app: the app has not started: waiting for the ready checks"),
        "{}",
        ready.body
    );
    assert_eq!(get(port, "/livez").status, 200);
    assert!(
        !ran.exists(),
        "the app started before its ready target passed"
    );
    let listener = TcpListener::bind(("127.0.0.1", late)).unwrap();
    wait_for_path(&ran, Duration::from_secs(5));
    let started = Instant::now();
    while get(port, "/readyz").status != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "not ready once the app runs"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = probe.terminate();
    assert_eq!(status.code(), Some(143));
    drop(listener);
}

#[test]
fn sigterm_during_the_wait_ends_it_without_the_app_as_pid_1() {
    let dir = temp_dir();
    let ran = dir.path().join("ran");
    let closed = format!("tcp://127.0.0.1:{}", free_port());
    let app = format!(": > {}", ran.display());
    let port = free_port();
    let probe = pid1(
        port,
        &["--ready", &closed, "--wait", "--timeout", "60s"],
        &["sh", "-c", &app],
    );
    let _kill = KillOnDrop::new(&probe);
    std::thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    let status = probe.terminate();
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "took {:?}",
        sent.elapsed()
    );
    assert_eq!(status.code(), Some(143), "{status:?}");
    assert!(!ran.exists(), "the app ran after an interrupted wait");
}
