//! `probe serve`: deep checks behind Kubernetes' cheap httpGet probes.
//!
//! Each target runs on a thread of its own, every `--interval` (jittered, so replicas do
//! not probe a database in lockstep), each run under its own deadline; results go to the
//! [`cache::Cache`]. The endpoints answer from that cache alone (`http` serves them), so the
//! kubelet's probes cost a GET, not a process, and a request flood cannot reach a
//! dependency. With `-- CMD`, probe stays PID 1 and supervises the app the way tini does:
//! signals forwarded to it, orphans reaped, its exit code returned; `--wait` starts it only
//! once the ready checks pass, as `wait-for` would.

pub mod cache;
pub mod http;

use std::ffi::OsString;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use self::cache::{App, Cache, Entry};
use self::http::{Answer, Request};
use crate::deadline::Deadline;
use crate::exec;
use crate::mode::retry::{self, Jitter};
use crate::mode::wait_for::{self, Wait};
use crate::outcome::{Exit, UsageError};
use crate::redact;
use crate::report::{Format, Report};
use crate::target::Target;

/// Pauses between runs vary by this fraction either way.
const JITTER: f64 = 0.1;
/// How often orphans are reaped.
const REAP_EVERY: Duration = Duration::from_secs(1);

/// One target and the endpoints it counts for.
pub struct Served {
    pub target: Target,
    pub groups: u8,
}

pub struct Serve {
    pub listen: Vec<SocketAddr>,
    /// `--listen` as given, for messages.
    pub listen_shown: String,
    pub checks: Vec<Served>,
    pub interval: Duration,
    /// The ready targets again, for `--wait` (a wait has its own schedule).
    pub wait: Option<Wait>,
    pub format: Format,
}

/// `--listen`: `:8086` (every address), `127.0.0.1:8086`, `[::1]:8086`, `localhost:8086`.
pub fn listen_addresses(text: &str) -> Result<Vec<SocketAddr>, UsageError> {
    let bad = |why: &str| UsageError::new(format!("--listen {text:?}: {why}"));
    if let Some(port) = text.strip_prefix(':') {
        let port: u16 = port.parse().map_err(|_| bad("not a port"))?;
        // Both stacks where IPv6 exists (Linux's [::] takes IPv4 too), else IPv4 alone.
        return Ok(vec![
            SocketAddr::from(([0u16; 8], port)),
            SocketAddr::from(([0u8; 4], port)),
        ]);
    }
    if text.parse::<u16>().is_ok() {
        return Err(bad("write :PORT for every address, or HOST:PORT"));
    }
    match text.to_socket_addrs() {
        Ok(addresses) => {
            let addresses: Vec<SocketAddr> = addresses.collect();
            match addresses.is_empty() {
                true => Err(bad("no address")),
                false => Ok(addresses),
            }
        }
        Err(error) => Err(bad(&crate::outcome::io_reason(&error))),
    }
}

/// The first address that can be bound.
fn bind(addresses: &[SocketAddr]) -> std::io::Result<TcpListener> {
    let mut last = None;
    for address in addresses {
        match TcpListener::bind(address) {
            Ok(listener) => return Ok(listener),
            Err(error) => last = Some(error),
        }
    }
    Err(last.unwrap_or_else(|| std::io::ErrorKind::AddrNotAvailable.into()))
}

/// Runs until stopped (a sidecar) or until the app ends (its exit code).
pub fn run(plan: Serve, command: &[OsString]) -> Exit {
    // Before any thread: they inherit its signal mask.
    crate::signals::install();
    let format = plan.format;
    let say = move |line: String| {
        if format != Format::Quiet {
            eprintln!("{}", redact::scrub(&line));
        }
    };
    let listener = match bind(&plan.listen) {
        Ok(listener) => listener,
        Err(error) => {
            say(format!(
                "probe: cannot listen on {}: {}",
                plan.listen_shown,
                crate::outcome::io_reason(&error)
            ));
            return Exit::Unhealthy;
        }
    };
    // As PID 1 (a sidecar, the wait before the app, the app's life), probe adopts every
    // orphan in the container, the programs of `exec` targets' included: reaped here about
    // every second, as run_child's watch does while the app runs. Anywhere else no orphan
    // comes to probe, and nothing needs to wake.
    if adopts_orphans() {
        std::thread::spawn(|| loop {
            std::thread::sleep(REAP_EVERY);
            exec::reap_orphans();
        });
    }
    let app = match (command.is_empty(), plan.wait.is_some()) {
        (true, _) => App::None,
        (false, true) => App::Waiting,
        (false, false) => App::Running,
    };
    let mut entries: Vec<Entry> = Vec::new();
    for served in &plan.checks {
        let kind = served.target.probe.kind();
        let mut shown = served.target.probe.target();
        // Two targets that differ only in their flags would be one series in /metrics.
        let same = |entries: &[Entry], shown: &str| {
            entries
                .iter()
                .any(|entry| entry.kind == kind && entry.shown == shown)
        };
        if same(&entries, &shown) {
            let base = shown.clone();
            let mut count = 2;
            while same(&entries, &shown) {
                shown = format!("{base} ({count})");
                count += 1;
            }
        }
        entries.push(Entry {
            kind,
            shown,
            groups: served.groups,
            last: None,
            failures: 0,
        });
    }
    let cache = Arc::new(Cache::new(entries, plan.interval * 2, app));
    let seed = retry::seed();
    for (index, served) in plan.checks.into_iter().enumerate() {
        let cache = Arc::clone(&cache);
        let interval = plan.interval;
        std::thread::spawn(move || {
            keep_checking(
                &cache,
                index,
                &served.target,
                interval,
                seed ^ index as u64,
                format,
            )
        });
    }
    if let Ok(address) = listener.local_addr() {
        say(format!(
            "probe: serving /livez, /readyz, /startupz, /healthz and /metrics on {address}"
        ));
    }
    let server_cache = Arc::clone(&cache);
    let server = move || {
        let answer = |request: &Request| answer(&server_cache, request);
        http::serve(&listener, http::LIMITS, &answer)
    };
    if command.is_empty() {
        if let Err(error) = server() {
            say(format!(
                "probe: serving stopped: {}",
                crate::outcome::io_reason(&error)
            ));
        }
        return Exit::Unhealthy;
    }
    std::thread::spawn(move || {
        if let Err(error) = server() {
            eprintln!(
                "probe: serving stopped: {}",
                crate::outcome::io_reason(&error)
            );
            // The kubelet would see refused connections and no reason: end it here.
            std::process::exit(1);
        }
    });
    if let Some(wait) = plan.wait {
        if !wait_for::wait(wait) {
            say("probe: the ready checks did not pass: the app was not started".into());
            return Exit::Unhealthy;
        }
        cache.set_app(App::Running);
    }
    let ended = exec::run_child(command, None, &mut || {
        exec::reap_orphans();
        true
    });
    cache.set_app(App::Ended);
    exec::reap_orphans();
    match ended {
        Ok(ended) => ended.exit(),
        Err(exit) => exit,
    }
}

/// Whether the orphans of other processes become probe's children: as PID 1 of a PID
/// namespace (a container), or as a child subreaper.
fn adopts_orphans() -> bool {
    let mut subreaper: libc::c_int = 0;
    // SAFETY: getpid has no preconditions; PR_GET_CHILD_SUBREAPER writes one int.
    unsafe {
        libc::getpid() == 1
            || (libc::prctl(libc::PR_GET_CHILD_SUBREAPER, &mut subreaper) == 0 && subreaper != 0)
    }
}

/// Runs one target every `interval` forever, recording each result; says when its health
/// changes.
fn keep_checking(
    cache: &Cache,
    index: usize,
    target: &Target,
    interval: Duration,
    seed: u64,
    format: Format,
) {
    let mut jitter = Jitter::new(seed);
    // Results come at most 1.1 + 0.8 intervals apart: under the two that make one stale.
    let limit = target
        .timeout
        .unwrap_or(crate::app::DEFAULT_TIMEOUT)
        .min(interval.mul_f64(0.8));
    loop {
        let deadline = Deadline::start(limit);
        let outcome = target.probe.run(&deadline);
        let elapsed = deadline.elapsed();
        let healthy = outcome.is_healthy();
        let report = Report {
            check: target.probe.kind(),
            target: &target.probe.target(),
            outcome: &outcome,
            elapsed,
        };
        let line = report.render(format);
        let before = cache.record(index, outcome, elapsed);
        if before != Some(healthy) {
            if let Some(line) = line {
                eprintln!("{line}");
            }
        }
        // From start to start, so that a slow check does not drift.
        std::thread::sleep(jitter.spread(interval, JITTER).saturating_sub(elapsed));
    }
}

/// The answer to one request, from the cache alone.
fn answer(cache: &Cache, request: &Request) -> Answer {
    let groups = match request.path {
        "/livez" => cache::LIVE,
        "/readyz" => cache::READY,
        "/startupz" => cache::STARTUP,
        "/healthz" => cache::ALL,
        "/metrics" => {
            return Answer {
                status: 200,
                content_type: "text/plain; version=0.0.4; charset=utf-8",
                body: cache.metrics(),
            }
        }
        _ => {
            return Answer::text(
                404,
                "not found: try /livez, /readyz, /startupz, /healthz or /metrics\n".into(),
            )
        }
    };
    let verbose = request
        .query
        .split('&')
        .any(|pair| pair == "verbose" || pair.starts_with("verbose="));
    let verdict = cache.verdict(groups, verbose);
    let status = if verdict.healthy { 200 } else { 503 };
    let mut body = String::new();
    for line in &verdict.lines {
        body.push_str(line);
        body.push('\n');
    }
    body.push_str(if verdict.healthy { "ok\n" } else { "failed\n" });
    Answer::text(status, body)
}
