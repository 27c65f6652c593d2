//! `probe migrate-then-exec`: migration as a child, its exit status, signals, then exec.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{command, free_port, probe, temp_dir, wait_for_path, Pid1};

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
    let received = dir.path().join("migration-got-term");
    // The migration exits 0 on SIGTERM: the app must still not start after a stop request.
    let migration = format!(
        "sh -c 'trap \"touch {}; exit 0\" TERM; touch {}; while true; do sleep 0.05; done'",
        received.display(),
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
    // The migration has started (and installed its TERM trap).
    wait_for_path(&started_file, Duration::from_secs(5));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(143), "{output:?}");
    assert!(!marker.exists(), "the app started after a stop request");
    // The migration itself got the SIGTERM (not just the kernel's SIGKILL when probe died).
    assert!(received.exists(), "the migration never received SIGTERM");

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
    let dir = temp_dir();
    let started_file = dir.path().join("migration-started");
    let received = dir.path().join("migration-got-term");
    let migration = format!(
        "sh -c 'trap \"touch {}; exit 0\" TERM; touch {}; while true; do sleep 0.05; done'",
        received.display(),
        started_file.display()
    );
    let mut probe = Pid1::spawn(&["migrate-then-exec", "--migrate", &migration, "--", "true"]);
    wait_for_path(&started_file, Duration::from_secs(5));
    let sent = Instant::now();
    probe.kill("TERM");
    let status = probe.unshare.wait().unwrap();
    assert!(
        sent.elapsed() < Duration::from_secs(3),
        "took {:?}",
        sent.elapsed()
    );
    assert_eq!(status.code(), Some(143), "{status:?}");
    assert!(received.exists(), "the migration never received SIGTERM");
}

/// (start, end) of each migration run recorded in `log` as "R start NANOS" / "R end NANOS".
fn migration_runs(log: &std::path::Path) -> Vec<(u128, u128)> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut starts = std::collections::HashMap::new();
    let mut runs = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (replica, event, at) = (words[0], words[1], words[2].parse::<u128>().unwrap());
        match event {
            "start" => {
                starts.insert(replica.to_string(), at);
            }
            _ => runs.push((starts[replica], at)),
        }
    }
    runs.sort();
    runs
}

fn overlaps(runs: &[(u128, u128)]) -> usize {
    runs.windows(2).filter(|pair| pair[1].0 < pair[0].1).count()
}

/// Starts `count` replicas at once, each recording its migration in `log` and its app in `apps`.
fn start_replicas(
    count: usize,
    lock_args: &[&str],
    log: &std::path::Path,
    apps: &std::path::Path,
) -> Vec<std::process::Child> {
    let server = crate::support::postgres::plain();
    let migration = format!(
        "sh -c 'echo \"$REPLICA start $(date +%s%N)\" >> {0}; sleep 0.2; echo \"$REPLICA end $(date +%s%N)\" >> {0}'",
        log.display()
    );
    let app = format!("echo $REPLICA >> {}", apps.display());
    let wait = server.url("");
    (0..count)
        .map(|replica| {
            let mut args = vec![
                "migrate-then-exec",
                "--wait",
                &wait,
                "--migrate",
                &migration,
            ];
            args.extend(lock_args);
            args.extend(["--", "sh", "-c", &app]);
            let mut replica_command = command(&args);
            replica_command
                .env("REPLICA", replica.to_string())
                .stderr(Stdio::piped());
            replica_command.spawn().unwrap()
        })
        .collect()
}

#[test]
fn replicas_started_together_migrate_one_at_a_time_under_the_lock() {
    let dir = temp_dir();
    let (log, apps) = (
        dir.path().join("locked.log"),
        dir.path().join("locked.apps"),
    );
    let replicas = start_replicas(8, &["--lock", "--lock-key", "test-serial"], &log, &apps);
    for replica in replicas {
        let output = replica.wait_with_output().unwrap();
        assert!(output.status.success(), "{output:?}");
    }
    let runs = migration_runs(&log);
    assert_eq!(runs.len(), 8);
    assert_eq!(
        overlaps(&runs),
        0,
        "migrations overlapped under --lock: {runs:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&apps).unwrap().lines().count(),
        8,
        "every replica starts its app"
    );

    // The same without --lock overlaps, so the check above can fail.
    let (log, apps) = (dir.path().join("free.log"), dir.path().join("free.apps"));
    for replica in start_replicas(8, &[], &log, &apps) {
        assert!(replica.wait_with_output().unwrap().status.success());
    }
    assert!(
        overlaps(&migration_runs(&log)) > 0,
        "expected overlaps without --lock"
    );
}

#[test]
fn a_replica_killed_while_holding_the_lock_does_not_block_the_others() {
    let server = crate::support::postgres::plain();
    let dir = temp_dir();
    let started = dir.path().join("first-started");
    let lock_url = server.url("");
    let holder_migration = format!("sh -c 'touch {}; exec sleep 31.25'", started.display());
    let mut holder = command(&[
        "migrate-then-exec",
        "--lock",
        "--lock-url",
        &lock_url,
        "--lock-key",
        "test-killed",
        "--migrate",
        &holder_migration,
        "--",
        "true",
    ])
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // The first replica holds the lock and is migrating.
    wait_for_path(&started, Duration::from_secs(10));
    let second = command(&[
        "migrate-then-exec",
        "--lock",
        "--lock-url",
        &lock_url,
        "--lock-key",
        "test-killed",
        "--timeout",
        "20s",
        "--migrate",
        "true",
        "--",
        "true",
    ])
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // Kill the holder only once the second replica has found the lock taken.
    let mut second = second;
    let stderr = std::io::BufReader::new(second.stderr.take().unwrap());
    let (lines, seen) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in stderr.lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let mut said = Vec::new();
    while !said
        .iter()
        .any(|line: &String| line.contains("another replica holds the migration lock"))
    {
        let line = seen
            .recv_timeout(Duration::from_secs(15))
            .expect("the second replica never waited for the lock");
        said.push(line);
    }
    holder.kill().unwrap();
    holder.wait().unwrap();
    let killed = Instant::now();
    let status = second.wait().unwrap();
    assert!(status.success(), "{status:?}: {said:?}");
    assert!(killed.elapsed() < Duration::from_secs(10));
    // The killed replica's migration died with it (PR_SET_PDEATHSIG).
    std::thread::sleep(Duration::from_millis(200));
    let orphans = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
        .filter(|cmdline| String::from_utf8_lossy(cmdline).contains("31.25"))
        .count();
    assert_eq!(orphans, 0, "the migration outlived its killed probe");
}

#[test]
fn the_database_coming_up_late_is_waited_for_and_never_is_a_failure() {
    let server = crate::support::postgres::plain();
    let dir = temp_dir();
    let migrated = dir.path().join("migrated");
    let migration = format!("touch {}", migrated.display());
    let late_port = free_port();
    crate::support::forward_later(late_port, server.port, Duration::from_millis(1200));
    let late = format!(
        "postgres://{}:{}@127.0.0.1:{late_port}/{}",
        crate::support::postgres::USER,
        crate::support::postgres::PASSWORD,
        crate::support::postgres::DB
    );
    probe(&[
        "migrate-then-exec",
        "--wait",
        &late,
        "--lock",
        "--lock-key",
        "test-late",
        "--timeout",
        "20s",
        "--migrate",
        &migration,
    ])
    .code(0)
    .says("ready after")
    .says("lock acquired")
    .does_not_say(crate::support::postgres::PASSWORD);
    assert!(migrated.exists());

    std::fs::remove_file(&migrated).unwrap();
    let never = format!("postgres://app@127.0.0.1:{}/appdb", free_port());
    probe(&[
        "migrate-then-exec",
        "--wait",
        &never,
        "--lock",
        "--timeout",
        "1s",
        "--migrate",
        &migration,
    ])
    .code(1)
    .says("did not run");
    assert!(!migrated.exists());

    let wrong = format!(
        "postgres://app:wrong-password@127.0.0.1:{}/appdb",
        server.port
    );
    probe(&[
        "migrate-then-exec",
        "--lock",
        "--lock-url",
        &wrong,
        "--migrate",
        &migration,
    ])
    .code(1)
    .says("password authentication failed")
    .does_not_say("wrong-password");
    assert!(!migrated.exists());
}

/// A migration under --lock whose lock is lost while it runs: the migration gets SIGTERM,
/// probe exits 1 with "lock lost", the app never starts. `lose` breaks the lock.
fn lock_lost_stops_the_migration(lock_url: &str, lose: &dyn Fn()) {
    let dir = temp_dir();
    let started = dir.path().join("started");
    let received = dir.path().join("got-term");
    let app = dir.path().join("app");
    let migration = format!(
        // --migrate is one of probe's own arguments: `$$` is how a `$` reaches the shell.
        "sh -c 'trap \"touch {}; exit 0\" TERM; touch {}; i=0; while [ $$i -lt 120 ]; do sleep 0.05; i=$$((i+1)); done'",
        received.display(),
        started.display()
    );
    let child = command(&[
        "migrate-then-exec",
        "--lock",
        "--lock-url",
        lock_url,
        "--lock-key",
        "test-lost",
        "--migrate",
        &migration,
        "--",
        "touch",
        app.to_str().unwrap(),
    ])
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    wait_for_path(&started, Duration::from_secs(10));
    let lost_at = Instant::now();
    lose();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("lock lost"), "{stderr}");
    assert!(
        lost_at.elapsed() < Duration::from_secs(4),
        "noticed after {:?} (the migration takes 6s): {stderr}",
        lost_at.elapsed()
    );
    assert!(
        received.exists(),
        "the migration was not sent SIGTERM: {stderr}"
    );
    assert!(!app.exists(), "the app started after the lock was lost");
    assert!(!stderr.contains(crate::support::postgres::PASSWORD));
}

#[test]
fn a_lock_backend_terminated_during_the_migration_stops_it() {
    let server = crate::support::postgres::plain();
    let url = server.url("?application_name=probe-lock-terminated");
    lock_lost_stops_the_migration(&url, &|| {
        let killed = server.query(
            "select count(pg_terminate_backend(pid)) from pg_stat_activity \
             where application_name = 'probe-lock-terminated'",
        );
        assert_eq!(killed, "1");
    });
}

#[test]
fn a_lock_connection_cut_during_the_migration_stops_it() {
    let server = crate::support::postgres::plain();
    let proxy = crate::support::postgres::Proxy::start(server.port);
    let url = format!(
        "postgres://{}:{}@127.0.0.1:{}/{}",
        crate::support::postgres::USER,
        crate::support::postgres::PASSWORD,
        proxy.port,
        crate::support::postgres::DB
    );
    lock_lost_stops_the_migration(&url, &|| proxy.sever());
}

/// --lock-timeout is the only clock: a lock held elsewhere makes the wait end after it,
/// not after it plus one attempt's 5 s.
#[test]
fn lock_timeout_is_the_only_clock() {
    let server = crate::support::postgres::plain();
    let dir = temp_dir();
    let started = dir.path().join("holder-started");
    let url = server.url("");
    let holder_migration = format!("sh -c 'touch {}; sleep 8'", started.display());
    let mut holder = command(&[
        "migrate-then-exec",
        "--lock",
        "--lock-url",
        &url,
        "--lock-key",
        "test-lock-timeout",
        "--migrate",
        &holder_migration,
    ])
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    wait_for_path(&started, Duration::from_secs(10));
    probe(&[
        "migrate-then-exec",
        "--lock",
        "--lock-url",
        &url,
        "--lock-key",
        "test-lock-timeout",
        "--lock-timeout",
        "1500ms",
        "--migrate",
        "true",
    ])
    .code(1)
    .says("still held by another replica after")
    .within(Duration::from_millis(3000));
    let _ = holder.kill();
    let _ = holder.wait();
}

/// Through PgBouncer in transaction pooling mode a session lock means nothing: --lock is
/// refused with the reason; with --lock-url pointing at the server itself it works.
#[test]
fn lock_through_pgbouncer_is_refused_and_lock_url_routes_around_it() {
    let dir = temp_dir();
    let migrated = dir.path().join("migrated");
    let migration = format!("touch {}", migrated.display());
    let pooled = crate::support::pgbouncer::pgbouncer().url("?sslmode=disable");
    probe(&[
        "migrate-then-exec",
        "--wait",
        &pooled,
        "--lock",
        "--migrate",
        &migration,
    ])
    .code(1)
    .says("connection pooler (PgBouncer?)")
    .says("--lock-url")
    .does_not_say(crate::support::postgres::PASSWORD)
    // Refused at once, not retried until the 60 s --timeout runs out (lock.rs's fatal
    // guard: a mutant that retried it still printed the same reason, at the timeout).
    .within(Duration::from_secs(15));
    assert!(!migrated.exists());
    probe(&[
        "migrate-then-exec",
        "--wait",
        &pooled,
        "--lock",
        "--lock-url",
        &crate::support::postgres::plain().url(""),
        "--lock-key",
        "test-pgbouncer",
        "--migrate",
        &migration,
    ])
    .code(0)
    .says("lock acquired");
    assert!(migrated.exists());
}

#[test]
fn progress_lines_quote_the_commands_as_a_shell_would() {
    probe(&[
        "migrate-then-exec",
        "--migrate",
        "sh -c 'exit 0'",
        "--",
        "sh",
        "-c",
        "exit 0",
    ])
    .code(0)
    .says("running sh -c 'exit 0'")
    .says("exec'ing the app: sh -c 'exit 0'");
}

#[test]
fn a_migration_within_its_timeout_runs_to_the_end() {
    // Longer than one watch tick (1 s), shorter than --migrate-timeout: it must not be
    // stopped at the first tick.
    probe(&[
        "migrate-then-exec",
        "--migrate",
        "sleep 1.5",
        "--migrate-timeout",
        "20s",
    ])
    .code(0)
    .says("migration ran in")
    .within(Duration::from_secs(10));
}

#[test]
fn a_replica_waiting_for_the_lock_says_so_once() {
    let server = crate::support::postgres::plain();
    let dir = temp_dir();
    let started = dir.path().join("holder-started");
    let url = server.url("");
    let holder_migration = format!("sh -c 'touch {}; sleep 8'", started.display());
    let lock = ["--lock", "--lock-url", &url, "--lock-key", "test-says-once"];
    let mut args = vec!["migrate-then-exec"];
    args.extend(lock);
    args.extend(["--migrate", &holder_migration]);
    let mut holder = command(&args).stderr(Stdio::piped()).spawn().unwrap();
    wait_for_path(&started, Duration::from_secs(10));
    let mut args = vec!["migrate-then-exec"];
    args.extend(lock);
    args.extend(["--lock-timeout", "2s", "--migrate", "true"]);
    let run = probe(&args);
    run.code(1);
    let said = run
        .output()
        .matches("another replica holds the migration lock")
        .count();
    assert_eq!(said, 1, "{run:#?}");
    let _ = holder.kill();
    let _ = holder.wait();
}

#[test]
fn a_lock_server_that_comes_up_late_is_retried_within_the_lock_timeout() {
    // No wait phase: the lock connection itself meets a refused port first, and must retry.
    let server = crate::support::postgres::plain();
    let port = free_port();
    let late = server
        .url("")
        .replace(&format!(":{}/", server.port), &format!(":{port}/"));
    crate::support::forward_later(port, server.port, Duration::from_millis(1500));
    probe(&[
        "migrate-then-exec",
        "--lock",
        "--lock-url",
        &late,
        "--lock-key",
        "test-lock-late",
        "--lock-timeout",
        "20s",
        "--migrate",
        "true",
    ])
    .code(0)
    .says("lock connection failed, retrying")
    .says("lock acquired")
    .within(Duration::from_secs(15));
}
