//! `probe serve`: endpoints that follow real PostgreSQL and Redis servers going down and
//! up, fixed answers that echo nothing, `/metrics` read by promtool; the hostile-client
//! table (`serve/hostile.rs`) and supervision as PID 1 (`serve/pid1.rs`).

mod hostile;
mod pid1;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::postgres::{self, PASSWORD};
use crate::support::redis::RedisServer;
use crate::support::{command, temp_dir};

/// The interval of the down-and-up test: short, so that the test is quick and a lag of
/// one interval is visible.
const INTERVAL: &str = "300ms";
/// How soon an endpoint must follow a server going down or up: a check starts at most
/// 1.1 intervals after the last one (jitter) and runs within its deadline; this allows two
/// intervals and a margin for a shared machine (and the debug build's SCRAM login).
const FOLLOWS_WITHIN: Duration = Duration::from_millis(2 * 300 + 400);
/// Waits that only bound a test that would otherwise hang (never the assertion itself).
const PATIENCE: Duration = Duration::from_secs(20);
const REDIS_PASSWORD: &str = "serve-redis-secret-41d2";

/// `probe serve --listen 127.0.0.1:0 ARGS...`, its port read from its first line; killed
/// when dropped. Its stderr is kept for the tests to read.
pub struct Served {
    child: Option<Child>,
    pub port: u16,
    stderr: Arc<Mutex<String>>,
}

impl Served {
    pub fn start(args: &[&str]) -> Served {
        Self::start_with(None, args)
    }

    /// With `program` instead of the binary built for the tests (the release binary).
    pub fn start_with(program: Option<&str>, args: &[&str]) -> Served {
        let mut words = vec!["serve", "--listen", "127.0.0.1:0"];
        words.extend(args);
        let mut command = command(&words);
        if let Some(program) = program {
            let mut other = std::process::Command::new(program);
            other.args(&words).stdin(Stdio::null());
            for var in crate::support::AMBIENT_VARS {
                other.env_remove(var);
            }
            command = other;
        }
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start probe serve");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (port_sender, port_receiver) = std::sync::mpsc::channel();
        let lines = BufReader::new(child.stderr.take().unwrap());
        let kept = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in lines.lines() {
                let Ok(line) = line else { break };
                if let Some((_, address)) = line.split_once(" and /metrics on ") {
                    let port = address.rsplit(':').next().and_then(|p| p.parse().ok());
                    let _ = port_sender.send(port.unwrap_or(0u16));
                }
                let mut kept = kept.lock().unwrap();
                kept.push_str(&line);
                kept.push('\n');
            }
        });
        let port = port_receiver.recv_timeout(Duration::from_secs(10));
        let served = Served {
            child: Some(child),
            port: port.unwrap_or(0),
            stderr,
        };
        assert!(
            served.port != 0,
            "probe serve did not say where it listens: {}",
            served.stderr()
        );
        served
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn get(&self, path: &str) -> Reply {
        get(self.port, path)
    }

    /// Polls `path` until it answers `status`; returns how long that took. Every answer on
    /// the way is passed to `each` (the tests check /livez alongside).
    #[track_caller]
    pub fn until_status(&self, path: &str, status: u16, each: &mut dyn FnMut()) -> Duration {
        let started = Instant::now();
        loop {
            let reply = self.get(path);
            each();
            if reply.status == status {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < PATIENCE,
                "{path} still answers {} after {PATIENCE:?}: {}\nstderr: {}",
                reply.status,
                reply.body,
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops probe with SIGTERM; its exit status and everything it printed.
    pub fn stop(mut self) -> (ExitStatus, String) {
        let mut child = self.child.take().unwrap();
        signal(child.id(), "TERM");
        let status = child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        (status, self.stderr())
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn signal(pid: u32, name: &str) {
    std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap();
}

/// One answer, as a client sees it.
#[derive(Debug, Clone)]
pub struct Reply {
    /// 0 when nothing came back (refused, reset, closed without an answer).
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    pub fn text(&self) -> String {
        format!("{}\r\n\r\n{}", self.head, self.body)
    }
}

pub fn get(port: u16, path: &str) -> Reply {
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: kube-probe/1.31\r\nAccept: */*\r\nConnection: close\r\n\r\n");
    exchange(port, request.as_bytes())
}

/// Sends `request` whole and reads the answer to its end (5 s at most).
pub fn exchange(port: u16, request: &[u8]) -> Reply {
    let mut bytes = Vec::new();
    if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
        if stream.write_all(request).is_ok() {
            let _ = stream.read_to_end(&mut bytes);
        }
    }
    parse_reply(&bytes)
}

fn parse_reply(bytes: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    Reply {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

#[track_caller]
fn assert_no_secret(what: &str, text: &str) {
    for secret in [PASSWORD, REDIS_PASSWORD] {
        assert!(!text.contains(secret), "{what} holds a password: {text}");
    }
}

/// The verbose line of the check whose target starts with `target`.
#[track_caller]
fn line_of<'a>(reply: &'a Reply, target: &str) -> &'a str {
    reply
        .body
        .lines()
        .find(|line| line.contains(target))
        .unwrap_or_else(|| panic!("no line names {target}: {}", reply.body))
}

#[test]
fn readyz_follows_postgres_and_redis_going_down_and_up_within_an_interval() {
    let mut db = postgres::own();
    let redis = RedisServer::start(&["--requirepass", REDIS_PASSWORD]);
    let redis_port = redis.port;
    let dir = temp_dir();
    let heartbeat = dir.path().join("heartbeat");
    std::fs::write(&heartbeat, "").unwrap();
    let db_url = db.url("");
    let redis_url = format!("redis://:{REDIS_PASSWORD}@127.0.0.1:{redis_port}");
    let live = format!("file {} --max-age 1h", heartbeat.display());
    let serve = Served::start(&[
        "--ready",
        &db_url,
        "--ready",
        &redis_url,
        "--live",
        &live,
        "--interval",
        INTERVAL,
    ]);
    let shown_db = format!("postgres://app@127.0.0.1:{}/appdb", db.port);
    let shown_redis = format!("redis://:***@127.0.0.1:{redis_port}");
    let mut answers = String::new();
    serve.until_status("/livez", 200, &mut || {});
    // /livez counts the heartbeat only: it must stay 200 whatever the databases do.
    let mut livez_stays_up = || {
        let live = serve.get("/livez?verbose");
        assert_eq!(live.status, 200, "/livez failed: {}", live.body);
    };

    serve.until_status("/readyz", 200, &mut livez_stays_up);
    let ready = serve.get("/readyz?verbose");
    assert_eq!(ready.status, 200);
    assert!(line_of(&ready, &shown_db).starts_with("[+] healthy: postgres "));
    assert!(line_of(&ready, &shown_redis).starts_with("[+] healthy: redis "));
    assert_eq!(ready.body.lines().last(), Some("ok"), "{}", ready.body);
    assert!(
        !ready.body.contains("heartbeat"),
        "a live check in /readyz: {}",
        ready.body
    );
    answers.push_str(&ready.text());

    // Redis goes down (killed, reaped: its port is closed), then comes back on its port.
    drop(redis);
    let took = serve.until_status("/readyz", 503, &mut livez_stays_up);
    let down = serve.get("/readyz?verbose");
    eprintln!("serve: redis down -> /readyz 503 after {took:?}");
    assert!(took < FOLLOWS_WITHIN, "/readyz turned 503 after {took:?}");
    assert!(
        line_of(&down, &shown_redis).starts_with("[-] unhealthy: redis "),
        "{}",
        down.body
    );
    assert!(line_of(&down, &shown_db).starts_with("[+] "));
    assert_eq!(down.body.lines().last(), Some("failed"));
    answers.push_str(&down.text());
    let redis = RedisServer::start_on(redis_port, &["--requirepass", REDIS_PASSWORD]);
    let took = serve.until_status("/readyz", 200, &mut livez_stays_up);
    eprintln!("serve: redis up -> /readyz 200 after {took:?}");
    assert!(took < FOLLOWS_WITHIN, "/readyz turned 200 after {took:?}");

    // PostgreSQL goes down (fast shutdown) and starts again on its port.
    db.stop();
    let took = serve.until_status("/readyz", 503, &mut livez_stays_up);
    eprintln!("serve: postgres down -> /readyz 503 after {took:?}");
    assert!(took < FOLLOWS_WITHIN, "/readyz turned 503 after {took:?}");
    let down = serve.get("/readyz?verbose");
    assert!(
        line_of(&down, &shown_db).starts_with("[-] unhealthy: postgres "),
        "{}",
        down.body
    );
    answers.push_str(&down.text());
    db.start_again();
    let took = serve.until_status("/readyz", 200, &mut livez_stays_up);
    eprintln!("serve: postgres up -> /readyz 200 after {took:?}");
    assert!(took < FOLLOWS_WITHIN, "/readyz turned 200 after {took:?}");

    // /healthz is all of them; the metrics counted the failures.
    let health = serve.get("/healthz?verbose");
    assert_eq!(health.status, 200, "{}", health.body);
    assert!(health.body.contains("heartbeat") && health.body.contains(&shown_db));
    let metrics = serve.get("/metrics");
    for (kind, target) in [("postgres", &shown_db), ("redis", &shown_redis)] {
        let series = format!("{{check=\"{kind}\",target=\"{target}\"}}");
        assert!(
            metrics.body.contains(&format!("probe_success{series} 1\n")),
            "{}",
            metrics.body
        );
        let failures = metrics
            .body
            .lines()
            .find_map(|line| line.strip_prefix(&format!("probe_failures_total{series} ")))
            .and_then(|value| value.parse::<f64>().ok())
            .unwrap_or(0.0);
        assert!(failures >= 1.0, "{kind}: {failures} failures counted");
    }
    answers.push_str(&health.text());
    answers.push_str(&metrics.text());
    drop(redis);
    let (_, stderr) = serve.stop();
    // Each change of health said once, on stderr, passwords masked.
    assert!(
        stderr.contains(&format!("unhealthy: redis {shown_redis}: ")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("unhealthy: postgres {shown_db}: ")),
        "{stderr}"
    );
    assert_no_secret("an answer", &answers);
    assert_no_secret("stderr", &stderr);
}

/// A marker no answer may hold: nothing of a request is reflected.
const MARKER: &str = "zq7xMARKERx9";

#[test]
fn answers_are_fixed_text_and_nothing_of_a_request_comes_back() {
    let dir = temp_dir();
    let heartbeat = dir.path().join("heartbeat");
    std::fs::write(&heartbeat, "").unwrap();
    let live = format!("file {} --max-age 1h", heartbeat.display());
    let serve = Served::start(&["--live", &live, "--interval", "200ms"]);
    serve.until_status("/livez", 200, &mut || {});
    let mut answers = Vec::new();
    let mut ask = |request: String| {
        let reply = exchange(serve.port, request.as_bytes());
        answers.push(reply.text());
        reply
    };

    let got = ask("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n".into());
    assert_eq!((got.status, got.body.as_str()), (200, "ok\n"));
    assert_eq!(got.header("Content-Length"), Some("3"));
    assert_eq!(got.header("Connection"), Some("close"));
    assert_eq!(got.header("Cache-Control"), Some("no-store"));
    // HEAD: the same head, no body.
    for path in ["/livez", "/readyz?verbose", "/metrics", "/nowhere"] {
        let full = ask(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"));
        let head = ask(format!("HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert_eq!(head.status, full.status, "{path}");
        assert!(
            head.body.is_empty(),
            "HEAD {path} has a body: {:?}",
            head.body
        );
        let length = head.header("Content-Length").unwrap_or_default();
        if path != "/metrics" {
            assert_eq!(length, full.body.len().to_string(), "HEAD {path}");
        }
    }
    // Every endpoint, and those with no check in them (no startup target: 200).
    for (path, status) in [
        ("/readyz", 200),
        ("/startupz", 200),
        ("/healthz", 200),
        ("/metrics", 200),
    ] {
        assert_eq!(
            ask(format!("GET {path} HTTP/1.0\r\n\r\n")).status,
            status,
            "{path}"
        );
    }
    // Absolute-form, as a proxy would send it.
    let got = ask("GET http://pod:8086/livez HTTP/1.1\r\n\r\n".into());
    assert_eq!(got.status, 200);
    // Methods other than GET and HEAD, whatever their path.
    for method in ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"] {
        let got = ask(format!(
            "{method} /readyz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        ));
        assert_eq!(got.status, 405, "{method}: {}", got.text());
        assert_eq!(got.header("Allow"), Some("GET, HEAD"));
    }
    // The marker in every part of a request: path, query, headers, method, version, garbage.
    let refused = [
        (format!("GET /{MARKER} HTTP/1.1\r\n\r\n"), 404),
        (format!("GET /livez/{MARKER}?{MARKER} HTTP/1.1\r\n\r\n"), 404),
        (format!("GET /readyz?verbose&{MARKER}=1 HTTP/1.1\r\nHost: {MARKER}\r\nX-{MARKER}: {MARKER}\r\n\r\n"), 200),
        (format!("{MARKER} /livez HTTP/1.1\r\n\r\n"), 400),
        (format!("PUT /{MARKER} HTTP/1.1\r\n\r\n"), 405),
        (format!("GET /livez HTTP/{MARKER}\r\n\r\n"), 400),
        (format!("GET /livez HTTP/2{MARKER}\r\n\r\n"), 505),
        (format!("GET /{MARKER}\r\n\r\n"), 400),
        (format!("\x16\x03\x01{MARKER}\n"), 400),
        (format!("GET /{MARKER} HTTP/1.1\r\nX: {}\r\n\r\n", "y".repeat(9000)), 431),
    ];
    for (request, status) in refused {
        let got = ask(request.clone());
        assert_eq!(got.status, status, "{request:?}: {}", got.text());
    }
    for answer in &answers {
        assert!(
            !answer.contains(MARKER),
            "an answer echoes the request: {answer}"
        );
        assert!(!answer
            .to_ascii_lowercase()
            .contains(&MARKER.to_ascii_lowercase()));
    }
    let (_, stderr) = serve.stop();
    assert!(
        !stderr.contains(MARKER),
        "stderr echoes a request: {stderr}"
    );
}

/// `promtool check metrics` (Debian's prometheus package: scripts/test installs it) reads
/// the exposition and lints it; label values with quotes and backslashes included.
#[test]
fn metrics_pass_promtool() {
    let dir = temp_dir();
    let heartbeat = dir.path().join("heartbeat");
    std::fs::write(&heartbeat, "").unwrap();
    let live = format!("file {} --max-age 1h", heartbeat.display());
    let closed = format!("tcp://127.0.0.1:{}", crate::support::free_port());
    let quoted = r#"process --cmdline 'no "such" \ worker'"#;
    let db = postgres::plain();
    let db_url = db.url("");
    let serve = Served::start(&[
        "--live",
        &live,
        "--ready",
        &closed,
        "--ready",
        &db_url,
        "--startup",
        quoted,
        "--startup",
        &live,
        "--interval",
        "200ms",
    ]);
    // Every check has a result: each one's last-run timestamp is there.
    let started = Instant::now();
    let metrics = loop {
        let metrics = serve.get("/metrics");
        if metrics
            .body
            .matches("probe_last_run_timestamp_seconds{")
            .count()
            == 4
        {
            break metrics;
        }
        assert!(started.elapsed() < PATIENCE, "{}", metrics.body);
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(metrics.status, 200);
    assert_eq!(
        metrics.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let body = &metrics.body;
    assert_no_secret("/metrics", body);
    assert!(
        body.contains(r#"{check="process",target="--cmdline 'no \"such\" \\ worker'"} 0"#),
        "quotes and backslashes escaped: {body}"
    );
    for family in [
        "probe_success",
        "probe_duration_seconds",
        "probe_last_run_timestamp_seconds",
        "probe_failures_total",
    ] {
        assert_eq!(
            body.lines()
                .filter(|line| line.starts_with(&format!("{family}{{")))
                .count(),
            4,
            "{family}: {body}"
        );
    }
    let file = dir.path().join("metrics.txt");
    std::fs::write(&file, body).unwrap();
    let output = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .expect("promtool (Debian's prometheus package; scripts/test installs it)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && said.trim().is_empty(),
        "promtool check metrics: {:?} {said}\n{body}",
        output.status
    );
}
