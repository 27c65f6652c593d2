//! `probe migrate-then-exec`: migration as a child, its exit status, signals, then exec.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{command, finish, free_port, probe, temp_dir, wait_for_path, Pid1};

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

/// A migration under --lock whose lock is lost while it runs: the migration gets SIGTERM
/// (with what it started), probe exits 1 with "lock lost", the app never starts. `lose` breaks the lock.
fn lock_lost_stops_the_migration(lock_url: &str, lose: &dyn Fn()) {
    let dir = temp_dir();
    let started = dir.path().join("started");
    let received = dir.path().join("got-term");
    let app = dir.path().join("app");
    let background = dir.path().join("background");
    let migration = format!(
        // --migrate is one of probe's own arguments: `$$` is how a `$` reaches the shell.
        "sh -c 'sleep 1000 >/dev/null 2>&1 & echo $$! > {}; trap \"touch {}; exit 0\" TERM; touch {}; i=0; while [ $$i -lt 120 ]; do sleep 0.05; i=$$((i+1)); done'",
        background.display(),
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
    assert!(has_ended(&background), "the migration's child survived");
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

/// Waits (3s at most) for the process whose pid `file` holds to end (gone, or a zombie no
/// one reaped yet). One still running is killed, so that a failing test leaves nothing.
fn has_ended(file: &Path) -> bool {
    wait_for_path(file, Duration::from_secs(5));
    let pid = std::fs::read_to_string(file).unwrap().trim().to_string();
    let started = Instant::now();
    loop {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return true;
        };
        let state = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .next();
        if state == Some("Z") {
            return true;
        }
        if started.elapsed() > Duration::from_secs(3) {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A migration that starts two background processes, one of them deaf to SIGTERM, writes
/// their pids to `dir`/plain and `dir`/deaf, touches `dir`/started and waits for them.
/// (Their output goes elsewhere: a survivor must not hold the test's pipes open.)
fn migration_with_children(dir: &Path) -> String {
    // --migrate is one of probe's own arguments: `$$` is how a `$` reaches the shell.
    format!(
        "sh -c 'sleep 1000 >/dev/null 2>&1 & echo $$! > {0}/plain; (trap \"\" TERM; exec sleep 1000 >/dev/null 2>&1) & echo $$! > {0}/deaf; touch {0}/started; wait'",
        dir.display()
    )
}

/// Both children of `migration_with_children` have ended (each one checked, and killed if
/// it has not).
fn children_ended(dir: &Path) -> [(&'static str, bool); 2] {
    [
        ("plain", has_ended(&dir.join("plain"))),
        ("deaf to SIGTERM", has_ended(&dir.join("deaf"))),
    ]
}

#[test]
fn a_timed_out_migration_is_stopped_with_everything_it_started() {
    let dir = temp_dir();
    let marker = dir.path().join("app-started");
    probe(&[
        "migrate-then-exec",
        "--migrate",
        &migration_with_children(dir.path()),
        "--migrate-timeout",
        "500ms",
        "--",
        "touch",
        marker.to_str().unwrap(),
    ])
    .code(1)
    .says("still running after 500ms")
    .within(Duration::from_secs(5));
    let ended = children_ended(dir.path());
    assert!(ended.iter().all(|(_, ended)| *ended), "{ended:?}");
    assert!(!marker.exists());
}

#[test]
fn a_stop_signal_stops_everything_the_migration_started() {
    let dir = temp_dir();
    let child = command(&[
        "migrate-then-exec",
        "--migrate",
        &migration_with_children(dir.path()),
        "--",
        "true",
    ])
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    wait_for_path(&dir.path().join("started"), Duration::from_secs(5));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let output = finish(child, Duration::from_secs(10));
    assert_eq!(output.status.code(), Some(143), "{output:?}");
    let ended = children_ended(dir.path());
    assert!(ended.iter().all(|(_, ended)| *ended), "{ended:?}");
}

#[test]
fn a_sigterm_as_the_migration_starts_reaches_it() {
    // The migration's program is found after 5,000 PATH entries: its exec takes a few
    // milliseconds, in which the spawn has begun and not returned. A SIGTERM sent then
    // must reach the migration, not end probe (and the migration by PDEATHSIG's SIGKILL).
    let path = (0..5000)
        .map(|i| format!("/x/{i}:"))
        .chain(std::env::var("PATH"))
        .collect::<String>();
    for _ in 0..5 {
        let child = command(&[
            "migrate-then-exec",
            "--migrate",
            "sh -c 'while :; do sleep 0.05; done'",
            "--",
            "true",
        ])
        .env("PATH", &path)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        let pid = child.id();
        let children = format!("/proc/{pid}/task/{pid}/children");
        let started = Instant::now();
        // The migration is forked: signal at once.
        while std::fs::read_to_string(&children)
            .unwrap_or_default()
            .trim()
            .is_empty()
        {
            assert!(started.elapsed() < Duration::from_secs(5), "no migration");
        }
        // SAFETY: kill(2) on the probe child this test spawned and has not reaped.
        unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        let output = finish(child, Duration::from_secs(10));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(143), "{stderr}");
        assert!(
            stderr.contains("migration failed (killed by signal 15)")
                || stderr.contains("stopped by signal 15 during the migration"),
            "the migration did not get the SIGTERM: {stderr}"
        );
    }
}

#[test]
fn as_pid_1_the_app_inherits_no_zombie_of_the_migration() {
    let dir = temp_dir();
    let out = dir.path().join("children");
    // The background `sleep 0` ends first and stays a zombie of `sleep 0.5`, which never
    // reaps; when that ends, the zombie passes to probe, PID 1.
    let migration = "sh -c 'sleep 0 & exec sleep 0.5'";
    // The app (probe's PID, host /proc) lists the state of each of its children.
    let app = format!(
        "for f in /proc/self/task/*/children; do read -r kids < \"$f\"; done; \
         for k in $kids; do read -r s < /proc/$k/stat; echo \"$s\"; done > {}",
        out.display()
    );
    let probe = Pid1::spawn(&[
        "migrate-then-exec",
        "--migrate",
        migration,
        "--",
        "sh",
        "-c",
        &app,
    ]);
    let output = finish(probe.unshare, Duration::from_secs(10));
    assert!(output.status.success(), "{output:?}");
    let children = std::fs::read_to_string(&out).unwrap();
    let zombies: Vec<&str> = children
        .lines()
        .filter(|stat| {
            stat.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .collect();
    assert!(zombies.is_empty(), "the app inherited zombies: {zombies:?}");
}

#[test]
fn the_app_gets_its_arguments_as_bytes_and_no_blocked_signal() {
    use std::os::unix::ffi::OsStrExt;
    let dir = temp_dir();
    let out = dir.path().join("out");
    let mut cmd = command(&["migrate-then-exec", "--migrate", "true", "--", "sh", "-c"]);
    cmd.args(["printf %s \"$1\" > \"$2\"", "sh"])
        .arg(std::ffi::OsStr::from_bytes(b"caf\xe9"))
        .arg(&out);
    crate::support::run(cmd)
        .code(0)
        .says("exec'ing the app: sh -c");
    assert_eq!(std::fs::read(&out).unwrap(), b"caf\xe9");

    // Neither the migration nor the app starts with a signal blocked.
    let migration = format!("cp /proc/self/status {}", out.display());
    let status = probe(&[
        "migrate-then-exec",
        "--migrate",
        &migration,
        "--",
        "cat",
        "/proc/self/status",
    ]);
    status.code(0);
    assert_eq!(
        crate::wait_for::blocked_signals(&std::fs::read_to_string(&out).unwrap()),
        "0000000000000000"
    );
    assert_eq!(
        crate::wait_for::blocked_signals(&status.stdout),
        "0000000000000000"
    );
}

/// Runs probe as the session leader of a new terminal, stdin on it (as `docker run -it` or
/// a shell would): the returned file is the terminal's other side, where a user types.
fn in_a_terminal(args: &[&str]) -> (std::process::Child, std::fs::File) {
    use std::os::fd::FromRawFd;
    use std::os::unix::process::CommandExt;
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty fills the two descriptors; the other arguments may be null.
    let opened = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(opened, 0, "openpty");
    // SAFETY: both descriptors are new and owned here.
    let (master, slave) = unsafe {
        (
            std::fs::File::from_raw_fd(master),
            std::fs::File::from_raw_fd(slave),
        )
    };
    let mut cmd = command(args);
    cmd.stdin(slave)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: setsid and ioctl are async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            libc::ioctl(0, libc::TIOCSCTTY, 0);
            Ok(())
        });
    }
    let child = cmd.spawn().unwrap();
    (child, master)
}

#[test]
fn in_a_terminal_the_migration_reads_it_and_ctrl_c_stops_it() {
    use std::io::Write;
    let dir = temp_dir();
    let (answer, app_read) = (dir.path().join("answer"), dir.path().join("app-read"));
    // A migration that asks, then an app that reads too: each must get the terminal.
    let migration = format!("sh -c 'read a; echo \"$$a\" > {}'", answer.display());
    let app = format!("read b; echo \"$b\" > {}", app_read.display());
    let (child, mut terminal) = in_a_terminal(&[
        "migrate-then-exec",
        "--migrate",
        &migration,
        "--",
        "sh",
        "-c",
        &app,
    ]);
    // Typed ahead: the terminal hands out one line per read.
    terminal.write_all(b"yes\nlater\n").unwrap();
    let output = finish(child, Duration::from_secs(10));
    assert!(output.status.success(), "{output:?}");
    assert_eq!(std::fs::read_to_string(&answer).unwrap(), "yes\n");
    assert_eq!(std::fs::read_to_string(&app_read).unwrap(), "later\n");

    // Ctrl-C (the terminal's SIGINT to its foreground) stops the migration, and the app
    // never starts.
    let started = dir.path().join("started");
    let marker = dir.path().join("app-started");
    let migration = format!(
        "sh -c 'touch {}; while :; do sleep 0.05; done'",
        started.display()
    );
    let (child, mut terminal) = in_a_terminal(&[
        "migrate-then-exec",
        "--migrate",
        &migration,
        "--",
        "touch",
        marker.to_str().unwrap(),
    ]);
    wait_for_path(&started, Duration::from_secs(5));
    terminal.write_all(b"\x03").unwrap();
    let output = finish(child, Duration::from_secs(10));
    assert_eq!(output.status.code(), Some(130), "{output:?}");
    assert!(!marker.exists(), "the app started after Ctrl-C");
}
