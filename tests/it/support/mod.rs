//! Test support: run the built binary, find free ports, make temp dirs, a test PKI, and
//! start real servers (each stopped on Drop).

#![allow(dead_code)]

pub mod dnsmasq;
pub mod grpc;
pub mod http;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod mongodb;
pub mod mysql;
pub mod peer;
pub mod pgbouncer;
pub mod pki;
pub mod postgres;
pub mod rabbitmq;
pub mod redis;

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The probe binary cargo built for these tests.
pub fn probe_bin() -> &'static str {
    env!("CARGO_BIN_EXE_probe")
}

/// Variables that would change what probe does, removed from every run unless a test
/// sets them on purpose.
pub const AMBIENT_VARS: &[&str] = &[
    "DATABASE_URL",
    "REDIS_URL",
    "PGHOST",
    "PGPORT",
    "PGUSER",
    "PGPASSWORD",
    "PGDATABASE",
    "PGSSLMODE",
    "PGCONNECT_TIMEOUT",
    "PGAPPNAME",
    "MYSQL_PWD",
    "MONGODB_URL",
    "MONGO_URL",
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "KAFKA_SASL_MECHANISM",
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// What one probe run produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// Asserts the exit code, printing everything on failure.
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(self.code, expected, "unexpected exit code; run: {self:#?}");
        self
    }

    /// Asserts that stdout+stderr contains `text`.
    #[track_caller]
    pub fn says(&self, text: &str) -> &Self {
        assert!(
            self.output().contains(text),
            "output lacks {text:?}; run: {self:#?}"
        );
        self
    }

    #[track_caller]
    pub fn does_not_say(&self, text: &str) -> &Self {
        assert!(
            !self.output().contains(text),
            "output contains {text:?}; run: {self:#?}"
        );
        self
    }

    /// Docker keeps at most 4096 bytes of a health check's output.
    #[track_caller]
    pub fn short(&self) -> &Self {
        assert!(
            self.output().len() < 4096,
            "output is {} bytes",
            self.output().len()
        );
        self
    }

    /// Asserts the run ended within `limit` (a generous bound, never a tight timing).
    #[track_caller]
    pub fn within(&self, limit: Duration) -> &Self {
        assert!(
            self.elapsed < limit,
            "took {:?}, limit {limit:?}; run: {self:#?}",
            self.elapsed
        );
        self
    }
}

/// A probe command with a clean environment for probe's own variables.
pub fn command(args: &[&str]) -> Command {
    let mut command = Command::new(probe_bin());
    command.args(args).stdin(Stdio::null());
    for var in AMBIENT_VARS {
        command.env_remove(var);
    }
    command
}

/// Runs probe with `args` and waits for it.
pub fn probe(args: &[&str]) -> Run {
    run(command(args))
}

/// Runs probe with extra environment variables.
pub fn probe_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = command(args);
    command.envs(env.iter().copied());
    run(command)
}

/// No single probe run in these tests should come near this: a run that does (a lost
/// signal, a deadline that does not hold) is killed and fails its test instead of hanging
/// the suite.
pub const RUN_LIMIT: Duration = Duration::from_secs(90);

pub fn run(command: Command) -> Run {
    run_within(command, RUN_LIMIT)
}

/// Runs `command`, killing it and failing the test if it is still running after `limit`.
#[track_caller]
pub fn run_within(mut command: Command, limit: Duration) -> Run {
    let started = Instant::now();
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run probe");
    let Output {
        status,
        stdout,
        stderr,
    } = finish(child, limit);
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

/// Waits for a spawned child and collects its output; past `limit` it is killed and the
/// test fails, instead of the suite hanging on a lost signal.
#[track_caller]
pub fn finish(child: std::process::Child, limit: Duration) -> Output {
    let pid = child.id();
    let (done, finished) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let output = child.wait_with_output();
        let _ = done.send(());
        output
    });
    if finished.recv_timeout(limit).is_err() {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
        let output = waiter.join().unwrap().expect("wait for the child");
        panic!(
            "still running after {limit:?}, killed; stderr so far: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    waiter.join().unwrap().expect("wait for the child")
}

/// A port that nothing listens on right now (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something accepts connections on 127.0.0.1:`port`.
pub fn wait_for_port(port: u16, limit: Duration) {
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < limit,
            "nothing listens on port {port} after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until `path` exists (a Unix socket, a pid file).
pub fn wait_for_path(path: &Path, limit: Duration) {
    let started = Instant::now();
    while !path.exists() {
        assert!(
            started.elapsed() < limit,
            "{} did not appear after {limit:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether the tests run as root (chroot and `runuser` need it; CI runs as root).
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}

pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Probe running as PID 1 of a new PID namespace (`unshare --pid --fork`), as in a container.
pub struct Pid1 {
    /// The unshare process, which exits with probe's status.
    pub unshare: std::process::Child,
    /// Probe's pid as seen from here (for kill).
    pub pid: String,
}

impl Pid1 {
    pub fn spawn(args: &[&str]) -> Pid1 {
        let mut unshare = Command::new("unshare");
        unshare
            .args(["--pid", "--fork", "--kill-child", probe_bin()])
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::piped());
        let unshare = unshare
            .spawn()
            .expect("unshare (util-linux) must be installed");
        let started = Instant::now();
        let pid = loop {
            let children_file = format!("/proc/{0}/task/{0}/children", unshare.id());
            let children = std::fs::read_to_string(children_file).unwrap_or_default();
            if let Some(pid) = children.split_whitespace().next() {
                break pid.to_string();
            }
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "probe did not start"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        assert!(
            status
                .lines()
                .any(|line| line.starts_with("NSpid:") && line.trim_end().ends_with("\t1")),
            "probe is not PID 1 in its namespace: {status}"
        );
        Pid1 { unshare, pid }
    }

    /// Sends `signal` (e.g. "TERM") to probe.
    pub fn kill(&self, signal: &str) {
        Command::new("kill")
            .args([&format!("-{signal}"), &self.pid])
            .status()
            .unwrap();
    }

    /// Sends probe SIGTERM and waits for it to end (within 10 s, or the test fails): its
    /// exit status.
    pub fn terminate(self) -> std::process::ExitStatus {
        self.kill("TERM");
        finish(self.unshare, Duration::from_secs(10)).status
    }
}

/// Starts forwarding 127.0.0.1:`listen_port` to 127.0.0.1:`to_port` after `delay`: a real
/// server that comes up late, seen through a port that opens late.
pub fn forward_later(listen_port: u16, to_port: u16, delay: Duration) {
    forward_slowly(listen_port, to_port, delay, Duration::ZERO);
}

/// Like [`forward_later`], and each connection is held for `per_connection` before it is
/// forwarded: every attempt through it takes that long, so attempts made one after another
/// add up where attempts made in parallel do not.
pub fn forward_slowly(listen_port: u16, to_port: u16, delay: Duration, per_connection: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        let listener = TcpListener::bind(("127.0.0.1", listen_port)).unwrap();
        for client in listener.incoming().flatten() {
            std::thread::sleep(per_connection);
            let Ok(upstream) = TcpStream::connect(("127.0.0.1", to_port)) else {
                continue;
            };
            let (mut client_read, mut upstream_write) =
                (client.try_clone().unwrap(), upstream.try_clone().unwrap());
            std::thread::spawn(move || std::io::copy(&mut client_read, &mut upstream_write));
            let (mut upstream_read, mut client_write) = (upstream, client);
            std::thread::spawn(move || std::io::copy(&mut upstream_read, &mut client_write));
        }
    });
}
