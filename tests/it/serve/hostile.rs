//! The hostile-client table: while each attack runs against `probe serve`, a normal
//! client's GET /readyz is answered within 100 ms, and the server's peak RSS stays within
//! its budget.
//!
//! The latency assertion, made flake-free on a shared 2-core machine: 20 requests per row,
//! 50 ms apart; the median must be under the 100 ms goal and every one under 500 ms. A
//! server that an attack can stall shows it in every request (the median), and a blocked
//! accept queue or a held thread costs a whole second or more (SYN retransmission, the 5 s
//! request limit): a scheduler hiccup of a busy machine is neither.
//!
//! The peak RSS (VmHWM, reset before each row through /proc/PID/clear_refs) is compared with
//! the process's RSS before the attacks: what the attacks add must stay within
//! [`GROWTH_BUDGET_KIB`]. Against the release binary (`HOSTILE_PROBE=path`, as
//! bench/hostile.sh runs the table) the whole process must also stay within 8 MiB.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{get, Served};
use crate::support::temp_dir;

/// What an attack may add to the server's peak RSS: the release binary starts at about
/// 1.5 MiB, and the whole must stay within 8 MiB.
const GROWTH_BUDGET_KIB: i64 = 6 * 1024;
const MAX_RSS_KIB: i64 = 8 * 1024;
const GOAL: Duration = Duration::from_millis(100);
const CEILING: Duration = Duration::from_millis(500);
const SAMPLES: usize = 20;

#[derive(Clone, Copy, Debug)]
enum Attack {
    /// 600 connections (past the limit of 512), each sending its head one byte a second.
    Slowloris,
    /// 1,200 connections that say nothing.
    Idle,
    /// Heads of 1 MiB, over and over from 4 clients.
    HugeHeader,
    /// Random bytes (newlines included), over and over from 4 clients.
    Garbage,
    /// 5,000 connections a second (two clients, 25 every 10 ms each), opened and closed.
    /// Paced, not as fast as the clients can: on a shared 2-core machine that measures the
    /// CPU the attacking threads take from the server (a flood at the machine's limit kept
    /// 4,096 connections queued for accept, about 300 ms of them), not the server.
    ConnectFlood,
    /// GET /metrics with a receive buffer of a few bytes, never read, 1,000 kept open.
    NeverReads,
    /// 600 connections that each send a head of 8,000 bytes (just under the limit) and then
    /// a byte a second: every slot holds the most a head may take.
    FullHeads,
}

const ROWS: [Attack; 7] = [
    Attack::Slowloris,
    Attack::FullHeads,
    Attack::Idle,
    Attack::HugeHeader,
    Attack::Garbage,
    Attack::ConnectFlood,
    Attack::NeverReads,
];

fn connect(port: u16) -> Option<TcpStream> {
    let stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
    let _ = stream.set_nonblocking(false);
    Some(stream)
}

/// A connection whose receive buffer is as small as the kernel allows, set before the
/// handshake so that the window it announces is small from the start.
fn connect_tiny_window(port: u16) -> Option<TcpStream> {
    // SAFETY: plain socket calls on a descriptor this function owns; the address is a
    // valid sockaddr_in for 127.0.0.1:port.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return None;
        }
        let stream = TcpStream::from_raw_fd(fd);
        let size: libc::c_int = 1;
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        let address = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
            },
            sin_zero: [0; 8],
        };
        let connected = libc::connect(
            fd,
            (&address as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        (connected == 0).then_some(stream)
    }
}

/// Runs `attack` on threads of its own until `stop` is set.
fn launch(attack: Attack, port: u16, stop: &Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<()>> {
    let spawn = |work: Box<dyn Fn(&AtomicBool) + Send>| {
        let stop = Arc::clone(stop);
        std::thread::spawn(move || work(&stop))
    };
    match attack {
        Attack::Slowloris => vec![spawn(Box::new(move |stop| {
            let head = b"GET /readyz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
            let mut clients: Vec<(TcpStream, usize)> = (0..600)
                .filter_map(|_| connect(port).map(|s| (s, 0)))
                .collect();
            while !stop.load(Ordering::Relaxed) {
                for (stream, sent) in clients.iter_mut() {
                    // Closed by the server (its time is up, or it was evicted): again.
                    if stream.write_all(&head[*sent % head.len()..][..1]).is_err() {
                        if let Some(fresh) = connect(port) {
                            *stream = fresh;
                        }
                    }
                    *sent += 1;
                }
                sleep_unless(stop, Duration::from_secs(1));
            }
        }))],
        Attack::FullHeads => vec![spawn(Box::new(move |stop| {
            let mut head = b"GET /readyz HTTP/1.1\r\nX-Full: ".to_vec();
            head.resize(8000, b'a');
            let open = || {
                let mut stream = connect(port)?;
                stream.write_all(&head).ok()?;
                Some(stream)
            };
            let mut clients: Vec<TcpStream> = (0..600).filter_map(|_| open()).collect();
            while !stop.load(Ordering::Relaxed) {
                for stream in clients.iter_mut() {
                    if stream.write_all(b"a").is_err() {
                        if let Some(fresh) = open() {
                            *stream = fresh;
                        }
                    }
                }
                sleep_unless(stop, Duration::from_secs(1));
            }
        }))],
        Attack::Idle => vec![spawn(Box::new(move |stop| {
            let clients: Vec<TcpStream> = (0..1200).filter_map(|_| connect(port)).collect();
            assert!(clients.len() >= 1000, "{} idle connections", clients.len());
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }))],
        Attack::HugeHeader => (0..4)
            .map(|_| {
                spawn(Box::new(move |stop| {
                    let mut head = b"GET /readyz HTTP/1.1\r\nX-Huge: ".to_vec();
                    head.resize(1024 * 1024, b'a');
                    while !stop.load(Ordering::Relaxed) {
                        if let Some(mut stream) = connect(port) {
                            let _ = stream.write_all(&head);
                            let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
                            let _ = stream.read(&mut [0u8; 512]);
                        }
                    }
                }))
            })
            .collect(),
        Attack::Garbage => (0..4u64)
            .map(|seed| {
                spawn(Box::new(move |stop| {
                    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ seed;
                    while !stop.load(Ordering::Relaxed) {
                        let garbage: Vec<u8> = (0..4096)
                            .map(|_| {
                                state ^= state << 13;
                                state ^= state >> 7;
                                state ^= state << 17;
                                state as u8
                            })
                            .collect();
                        if let Some(mut stream) = connect(port) {
                            let _ = stream.write_all(&garbage);
                            let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
                            let _ = stream.read_to_end(&mut Vec::new());
                        }
                    }
                }))
            })
            .collect(),
        Attack::ConnectFlood => (0..2)
            .map(|_| {
                spawn(Box::new(move |stop| {
                    let started = Instant::now();
                    let mut opened = 0u32;
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..25 {
                            opened += u32::from(TcpStream::connect(("127.0.0.1", port)).is_ok());
                        }
                        let due = started + Duration::from_millis(10) * (opened / 25);
                        std::thread::sleep(due.saturating_duration_since(Instant::now()));
                    }
                    let rate = f64::from(opened) / started.elapsed().as_secs_f64();
                    assert!(rate > 1500.0, "the flood reached {rate:.0} connections/s");
                }))
            })
            .collect(),
        Attack::NeverReads => vec![spawn(Box::new(move |stop| {
            let mut kept = std::collections::VecDeque::new();
            while !stop.load(Ordering::Relaxed) {
                if let Some(mut stream) = connect_tiny_window(port) {
                    let _ = stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
                    kept.push_back(stream);
                    if kept.len() > 1000 {
                        kept.pop_front();
                    }
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }))],
    }
}

fn sleep_unless(stop: &AtomicBool, time: Duration) {
    let until = Instant::now() + time;
    while !stop.load(Ordering::Relaxed) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// VmHWM or VmRSS of `pid`, in KiB.
fn status_kib(pid: u32, field: &str) -> i64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(-1)
}

/// Resets the peak RSS (VmHWM) of `pid` to its current RSS.
fn reset_peak(pid: u32) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("write /proc/PID/clear_refs");
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * fraction).round() as usize]
}

#[test]
fn every_attack_leaves_others_answered_within_100ms_and_rss_bounded() {
    raise_fd_limit();
    let dir = temp_dir();
    let heartbeat = dir.path().join("heartbeat");
    std::fs::write(&heartbeat, "").unwrap();
    let ready = format!("file {} --max-age 1h", heartbeat.display());
    let release = std::env::var("HOSTILE_PROBE")
        .ok()
        .filter(|path| !path.is_empty());
    let serve = Served::start_with(
        release.as_deref(),
        &["--ready", &ready, "--live", &ready, "--interval", "1s"],
    );
    let pid = serve.pid();
    serve.until_status("/readyz", 200, &mut || {});
    for _ in 0..20 {
        assert_eq!(serve.get("/metrics").status, 200);
    }
    let baseline_kib = status_kib(pid, "VmRSS:");
    let mut failures = Vec::new();
    // HOSTILE_ROWS=Idle,Garbage runs those rows only.
    let only = std::env::var("HOSTILE_ROWS").unwrap_or_default();
    for attack in ROWS {
        let name = format!("{attack:?}");
        if !only.is_empty() && !only.split(',').any(|row| name.contains(row)) {
            continue;
        }
        reset_peak(pid);
        let stop = Arc::new(AtomicBool::new(false));
        let threads = launch(attack, serve.port, &stop);
        // The attack under way (1,200 connections take a moment to open).
        std::thread::sleep(Duration::from_millis(1000));
        let mut times = Vec::new();
        let mut wrong = Vec::new();
        for _ in 0..SAMPLES {
            let started = Instant::now();
            let reply = get(serve.port, "/readyz");
            times.push(started.elapsed());
            if reply.status != 200 {
                wrong.push(format!("{} {:?}", reply.status, reply.body));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Slowloris heads outlive the 5 s limit only if the limit does not hold.
        if matches!(attack, Attack::Slowloris) {
            std::thread::sleep(Duration::from_secs(5));
            let started = Instant::now();
            let reply = get(serve.port, "/readyz");
            times.push(started.elapsed());
            if reply.status != 200 {
                wrong.push(format!("{} {:?}", reply.status, reply.body));
            }
        }
        stop.store(true, Ordering::Relaxed);
        for thread in threads {
            thread.join().unwrap();
        }
        let peak_kib = status_kib(pid, "VmHWM:");
        times.sort();
        let (median, p90, max) = (
            percentile(&times, 0.5),
            percentile(&times, 0.9),
            *times.last().unwrap(),
        );
        // One line per row for bench/serve.sh (seen with --nocapture).
        eprintln!(
            "serve-hostile\t{name}\t{:.1}\t{:.1}\t{:.1}\t{peak_kib}\t{baseline_kib}",
            median.as_secs_f64() * 1000.0,
            p90.as_secs_f64() * 1000.0,
            max.as_secs_f64() * 1000.0,
        );
        let problems: Vec<String> = [
            (!wrong.is_empty()).then(|| format!("answers: {wrong:?}")),
            (median >= GOAL).then(|| format!("median {median:?}")),
            (max >= CEILING).then(|| format!("slowest {max:?}")),
            (peak_kib - baseline_kib > GROWTH_BUDGET_KIB)
                .then(|| format!("peak RSS {peak_kib} KiB, {baseline_kib} KiB before")),
            (release.is_some() && peak_kib > MAX_RSS_KIB)
                .then(|| format!("peak RSS {peak_kib} KiB")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !problems.is_empty() {
            failures.push(format!("{name}: {}", problems.join(", ")));
        }
    }
    // Still serving, and nothing of it printed.
    assert_eq!(serve.get("/readyz").status, 200);
    let (_, stderr) = serve.stop();
    assert!(
        !stderr.contains("serving stopped"),
        "the server stopped: {stderr}"
    );
    assert!(
        failures.is_empty(),
        "attacks that got through:\n{}",
        failures.join("\n")
    );
}

/// 1,200 idle connections and the server's 512 need more descriptors than a default soft
/// limit of 1,024: raised to the hard limit for this process and the probe it starts.
fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit on a valid struct.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max.min(65536);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
