//! `probe wait-for` against servers that come late, never, or flap; signals as PID 1;
//! exec and its failures.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::http::{Response, Server, Tls};
use crate::support::pki::pki;
use crate::support::{command, finish, free_port, probe, probe_env, run, temp_dir, Pid1};

#[test]
fn runs_the_command_as_the_same_process_soon_after_a_late_server_starts() {
    let dir = temp_dir();
    let pid_file = dir.path().join("pid");
    let port = free_port();
    let script = format!("echo $$ > {}", pid_file.display());
    let child = command(&[
        "wait-for",
        &format!("tcp://127.0.0.1:{port}"),
        "--timeout",
        "20s",
        "--",
        "sh",
        "-c",
        &script,
    ])
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let probe_pid = child.id();
    std::thread::sleep(Duration::from_millis(1500));
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let opened = Instant::now();
    let output = finish(child, Duration::from_secs(30));
    let ran_after = opened.elapsed();
    drop(listener);
    assert!(output.status.success(), "{output:?}");
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(
        pid, probe_pid,
        "the command must replace probe (same PID), not run as a child"
    );
    assert!(
        ran_after < Duration::from_secs(2),
        "ran {ran_after:?} after the port opened"
    );
}

#[test]
fn a_server_that_never_comes_fails_after_the_timeout_without_running_the_command() {
    let dir = temp_dir();
    let marker = dir.path().join("ran");
    let closed = format!("tcp://127.0.0.1:{}", free_port());
    let started = Instant::now();
    probe(&[
        "wait-for",
        &closed,
        "--timeout",
        "1500ms",
        "--",
        "touch",
        marker.to_str().unwrap(),
    ])
    .code(1)
    .says("not ready after")
    .says("connection refused")
    .short();
    assert!(started.elapsed() >= Duration::from_millis(1400));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!marker.exists(), "the command ran after a failed wait");
}

#[test]
fn fatal_results_stop_the_wait_at_once() {
    let pki = pki();
    let server = Server::https(
        Tls {
            cert: &pki.server,
            client_ca: None,
        },
        |_| Response::new(200, ""),
    );
    let url = format!("https://localhost:{}/", server.port);
    probe(&["wait-for", &url, "--timeout", "30s", "--", "true"])
        .code(1)
        .says("unknown issuer")
        .says("--retry-fatal")
        .within(Duration::from_secs(5));
    probe(&["wait-for", &url, "--timeout", "1s", "--retry-fatal"])
        .code(1)
        .says("not ready after")
        .within(Duration::from_secs(5));
}

#[test]
fn any_needs_one_target_and_no_command_exits_0() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let open = format!("tcp://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let closed = format!("tcp://127.0.0.1:{}", free_port());
    // Ready as soon as the open one answers, long before the 30s timeout.
    probe(&["wait-for", "--any", &closed, &open, "--timeout", "30s"])
        .code(0)
        .says("ready after")
        .within(Duration::from_secs(5));
    probe(&["wait-for", &closed, &open, "--timeout", "1s"])
        .code(1)
        .says("not ready after")
        .says("connection refused")
        .within(Duration::from_secs(5));
}

#[test]
fn successes_in_a_row_ride_out_a_flapping_server() {
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    let flapping = Server::http(move |_| match counter.fetch_add(1, Ordering::Relaxed) % 2 {
        0 => Response::new(200, ""),
        _ => Response::new(503, ""),
    });
    let url = flapping.url("/health");
    probe(&["wait-for", &url, "--successes", "3", "--timeout", "1500ms"])
        .code(1)
        .says("status 503");
    probe(&["wait-for", &url, "--successes", "1", "--timeout", "5s"]).code(0);
    let steady = Server::http(|_| Response::new(200, ""));
    probe(&[
        "wait-for",
        &steady.url("/"),
        "--successes",
        "3",
        "--timeout",
        "5s",
    ])
    .code(0);
}

#[test]
fn sigterm_ends_the_wait_promptly_even_as_pid_1() {
    let closed = format!("tcp://127.0.0.1:{}", free_port());
    let probe = Pid1::spawn(&["wait-for", &closed, "--timeout", "60s", "--", "true"]);
    std::thread::sleep(Duration::from_millis(500));
    let sent = Instant::now();
    let status = probe.terminate();
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "took {:?}",
        sent.elapsed()
    );
    assert_eq!(status.code(), Some(143), "{status:?}");
}

#[test]
fn sigint_ends_a_plain_wait_with_130() {
    let closed = format!("tcp://127.0.0.1:{}", free_port());
    let child = command(&["wait-for", &closed, "--timeout", "60s"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let output = finish(child, Duration::from_secs(10));
    assert_eq!(output.status.code(), Some(130));
    assert!(String::from_utf8_lossy(&output.stderr).contains("stopped by signal 2"));
}

#[test]
fn commands_that_cannot_run_exit_126_or_127() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let open = format!("tcp://127.0.0.1:{}", listener.local_addr().unwrap().port());
    probe(&["wait-for", &open, "--", "no-such-command-anywhere"])
        .code(127)
        .says("no-such-command-anywhere");
    let dir = temp_dir();
    let script = dir.path().join("not-executable");
    std::fs::write(&script, "#!/bin/sh\n").unwrap();
    probe(&["wait-for", &open, "--", script.to_str().unwrap()]).code(126);
    // The command gets its arguments as written: ${VAR} belongs to probe's own arguments.
    probe_env(
        &[
            "wait-for",
            &open,
            "-q",
            "--",
            "echo",
            "${PROBE_TEST_X}",
            "$$",
        ],
        &[("PROBE_TEST_X", "expanded")],
    )
    .code(0)
    .says("${PROBE_TEST_X} $$");
}

#[test]
fn environment_variables_configure_entrypoints_without_arguments() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = Server::http(|_| Response::new(200, r#"{"status":"ok"}"#));
    let targets = format!(
        "tcp://127.0.0.1:{port},'http {} --expect-json /status=ok'",
        server.url("/")
    );
    probe_env(
        &["wait-for", "--", "echo", "started"],
        &[("PROBE_WAIT_TARGETS", &targets)],
    )
    .code(0)
    .says("started")
    .says("ready after");
    let closed = format!("tcp://127.0.0.1:{}", free_port());
    probe_env(
        &["wait-for"],
        &[
            ("PROBE_WAIT_TARGETS", &closed),
            ("PROBE_WAIT_TIMEOUT", "1s"),
        ],
    )
    .code(1)
    .says("not ready after 1")
    .within(Duration::from_secs(5));
    probe_env(
        &["wait-for"],
        &[
            ("PROBE_WAIT_TARGETS", &closed),
            ("PROBE_WAIT_TIMEOUT", "soon"),
        ],
    )
    .code(3)
    .says("PROBE_WAIT_TIMEOUT");
    probe_env(&["wait-for"], &[("PROBE_WAIT_TARGETS", "")])
        .code(3)
        .says("at least one TARGET");
}

#[test]
fn bad_input_exits_3_before_waiting() {
    for (args, reason) in [
        (
            vec!["wait-for", "tcp://db:1", "--timeout", "10"],
            "invalid duration",
        ),
        (
            vec!["wait-for", "tcp://db:1", "--interval", "0"],
            "--interval must be more than 0",
        ),
        (
            vec!["wait-for", "tcp://db:1", "--successes", "0"],
            "--successes must be at least 1",
        ),
        (vec!["wait-for", "tcp://db"], "tcp://db"),
        (vec!["wait-for"], "at least one TARGET"),
        (vec!["tcp", "db:1", "--", "echo"], "echo"),
    ] {
        probe(&args)
            .code(3)
            .says(reason)
            .within(Duration::from_secs(2));
    }
}

#[test]
fn dry_run_validates_without_probing() {
    let closed = format!("tcp://127.0.0.1:{}", free_port());
    let mut dry = command(&["wait-for", &closed, "--timeout", "60s", "--", "false"]);
    dry.env("PROBE_DRY_RUN", "1");
    run(dry).code(0).within(Duration::from_secs(2));
    probe_env(&["http", "not a url"], &[("PROBE_DRY_RUN", "1")]).code(3);
}

#[test]
fn real_postgres_and_redis_coming_up_late_are_waited_for_in_parallel() {
    use crate::support::postgres::{plain, DB, PASSWORD, USER};
    use crate::support::redis::RedisServer;
    let postgres = plain();
    let redis = RedisServer::start(&[]);
    // Real servers, reachable only through ports that open 0.5s and 1s from now, and
    // every connection through them is held 2s before it reaches the server. Waited for
    // in parallel, both are ready after about 3s; one after the other, not before 4.5s.
    let (pg_port, redis_port) = (free_port(), free_port());
    let held = Duration::from_secs(2);
    crate::support::forward_slowly(pg_port, postgres.port, Duration::from_millis(500), held);
    crate::support::forward_slowly(redis_port, redis.port, Duration::from_secs(1), held);
    let pg_url = format!("postgres://{USER}:{PASSWORD}@127.0.0.1:{pg_port}/{DB}");
    let pg_target = format!("postgres {pg_url} --query 'select 1'");
    let redis_url = format!("redis://127.0.0.1:{redis_port}");
    let dir = temp_dir();
    let pid_file = dir.path().join("pid");
    let script = format!("echo $$ > {}", pid_file.display());
    let started = Instant::now();
    let child = command(&[
        "wait-for",
        &pg_target,
        &redis_url,
        "--timeout",
        "20s",
        "--",
        "sh",
        "-c",
        &script,
    ])
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let probe_pid = child.id();
    let output = finish(child, Duration::from_secs(30));
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        elapsed >= Duration::from_millis(2900),
        "ran before redis was reachable: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_millis(4300),
        "not waited for in parallel (or noticed late): {elapsed:?}\n{stderr}"
    );
    assert!(
        stderr.contains("ready after") && !stderr.contains(PASSWORD),
        "{stderr}"
    );
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(pid, probe_pid);
}

#[test]
fn a_signal_that_ends_a_wait_is_named_with_all_its_digits() {
    // Two-digit and one-digit signals: the handler formats the number by hand (it may not
    // allocate), so both lengths are checked to the newline.
    for (signal, number) in [("TERM", 15), ("QUIT", 3)] {
        let closed = format!("tcp://127.0.0.1:{}", free_port());
        let child = command(&["wait-for", &closed, "--timeout", "60s"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        let output = finish(child, Duration::from_secs(10));
        assert_eq!(output.status.code(), Some(128 + number), "{output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.ends_with(&format!("probe: stopped by signal {number}\n")),
            "{stderr:?}"
        );
    }
}

#[test]
fn progress_lines_come_at_most_every_5s_and_json_says_ready_as_json() {
    // About 20 attempts in 2 s, but one progress line (the next is due after 5 s).
    let closed = format!("tcp://127.0.0.1:{}", free_port());
    let run = probe(&["wait-for", &closed, "--timeout", "2s"]);
    run.code(1).says("not ready after");
    let waiting = run
        .output()
        .lines()
        .filter(|line| line.starts_with("waiting "))
        .count();
    assert_eq!(waiting, 1, "{run:#?}");

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let open = format!("tcp://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let run = probe(&["--json", "wait-for", &open, "--timeout", "5s"]);
    run.code(0);
    let last = run.output().lines().last().unwrap_or_default().to_string();
    let value: serde_json::Value = serde_json::from_str(&last).expect(&last);
    assert_eq!(value["ready"], true, "{last}");
    // -q: nothing at all.
    let run = probe(&["-q", "wait-for", &open, "--timeout", "5s"]);
    run.code(0);
    assert_eq!(run.output().trim(), "", "{run:#?}");
}

#[test]
fn one_fatal_target_ends_a_wait_for_all_but_not_a_wait_for_any() {
    let pki = pki();
    let server = Server::https(
        Tls {
            cert: &pki.server,
            client_ca: None,
        },
        |_| Response::new(200, ""),
    );
    let fatal = format!("https://localhost:{}/", server.port);
    let closed = format!("tcp://127.0.0.1:{}", free_port());
    // All needed: the fatal one can never be, so the wait ends at once.
    probe(&["wait-for", &fatal, &closed, "--timeout", "30s"])
        .code(1)
        .says("unknown issuer")
        .says("not waiting any longer")
        .within(Duration::from_secs(5));
    // Any: the other target may still come, so the wait goes on to the timeout.
    let started = Instant::now();
    probe(&["wait-for", "--any", &fatal, &closed, "--timeout", "1500ms"])
        .code(1)
        .says("not ready after")
        .does_not_say("not waiting any longer");
    assert!(started.elapsed() >= Duration::from_millis(1400));
    // Any still needs one ready target: none ready is no success.
    let other = format!("tcp://127.0.0.1:{}", free_port());
    probe(&["wait-for", "--any", &closed, &other, "--timeout", "1s"])
        .code(1)
        .says("not ready after");
}

/// The signals blocked by the process whose /proc/PID/status this is (hex mask).
pub fn blocked_signals(status: &str) -> &str {
    status
        .lines()
        .find_map(|line| line.strip_prefix("SigBlk:"))
        .map_or("missing", str::trim)
}

#[test]
fn the_command_gets_its_arguments_as_bytes_and_no_blocked_signal() {
    use std::os::unix::ffi::OsStrExt;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let open = format!("tcp://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let dir = temp_dir();
    let out = dir.path().join("out");
    // A Latin-1 argument, as tini and exec pass it: not UTF-8, passed on byte for byte.
    let latin1 = std::ffi::OsStr::from_bytes(b"caf\xe9");
    let mut cmd = command(&["wait-for", &open, "-q", "--", "sh", "-c"]);
    cmd.args(["printf %s \"$1\" > \"$2\"", "sh"])
        .arg(latin1)
        .arg(&out);
    run(cmd).code(0);
    assert_eq!(std::fs::read(&out).unwrap(), b"caf\xe9");

    // The app starts with no signal blocked (probe blocks them while it waits).
    let status = probe(&["wait-for", &open, "-q", "--", "cat", "/proc/self/status"]);
    status.code(0);
    assert_eq!(blocked_signals(&status.stdout), "0000000000000000");

    // probe's own arguments must still be UTF-8, and are never quoted; after `--` for a
    // subcommand that runs no command, too.
    let mut cmd = command(&["wait-for"]);
    cmd.arg(std::ffi::OsStr::from_bytes(b"tcp://caf\xe9:1"))
        .args(["--", "true"]);
    run(cmd)
        .code(3)
        .says("argument 2 is not valid UTF-8")
        .does_not_say("caf");
    let mut cmd = command(&["tcp", "--"]);
    cmd.arg(latin1);
    run(cmd).code(3).says("argument 3 is not valid UTF-8");
}

/// The app gets probe's whole environment, even after an http target (whose client is
/// configured with the environment hidden from it) and in a 300-variable environment.
#[test]
fn the_app_gets_the_whole_environment_after_an_http_target() {
    let server =
        crate::support::http::Server::http(|_| crate::support::http::Response::new(200, "ok"));
    let mut env: Vec<(String, String)> = (0..300)
        .map(|i| {
            (
                format!("SVC{i}_SERVICE_HOST"),
                format!("10.0.0.{}", i % 250),
            )
        })
        .collect();
    env.push(("PROBE_MARK".into(), "still-here".into()));
    env.push((
        "HTTP_PROXY".into(),
        format!("http://127.0.0.1:{}", free_port()),
    ));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let url = server.url("/health");
    let script = "printf '%s %s\\n' \"$PROBE_MARK\" \"$SVC299_SERVICE_HOST\"";
    probe_env(&["wait-for", &url, "--", "sh", "-c", script], &env)
        .code(0)
        .says("still-here 10.0.0.49");
}

/// `HOST PORT`, as wait-for-it and nc write it, is one TARGET of wait-for and check too, and
/// a forgotten `--` is pointed out at the program, never at the host.
#[test]
fn host_port_pairs_are_targets_of_wait_for_and_check() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    probe(&[
        "wait-for",
        "127.0.0.1",
        &port,
        "--timeout",
        "5s",
        "--",
        "true",
    ])
    .code(0);
    probe(&["check", "127.0.0.1", &port])
        .code(0)
        .says(&format!("tcp 127.0.0.1:{port}"));
    probe_env(
        &["wait-for", "--timeout", "5s"],
        &[("PROBE_WAIT_TARGETS", &format!("127.0.0.1 {port}"))],
    )
    .code(0);
    probe(&["wait-for", "127.0.0.1", &port, "--timeout", "0", "./app"])
        .code(3)
        .says("did you mean `-- ./app`?")
        .does_not_say("-- 127.0.0.1");
}
