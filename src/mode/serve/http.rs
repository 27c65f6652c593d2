//! The smallest HTTP/1.1 server that can be exposed: GET and HEAD, one request per
//! connection, answers computed from memory.
//!
//! One thread, one `poll(2)` over the listener and every connection, so a client that
//! sends slowly (slowloris), says nothing, or never reads its answer holds one slot, never
//! the thread: every other client is answered as soon as its request is in. The bounds:
//! [`Limits::max_connections`] open at once (a new one evicts the oldest, so a flood of
//! idle connections cannot lock anyone out), [`Limits::max_request`] bytes of request
//! head, and [`Limits::request_time`] from accept to the last byte of the answer. Nothing
//! of a request is ever copied into an answer.
//!
//! Requests are parsed by [`parse`], a pure function (fuzzed: `fuzz/fuzz_targets/serve_request.rs`).

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_connections: usize,
    pub max_request: usize,
    pub request_time: Duration,
}

/// Kubelet's probe requests are about 150 bytes; browsers' and curl's well under 1 KiB.
pub const LIMITS: Limits = Limits {
    max_connections: 512,
    max_request: 8 * 1024,
    request_time: Duration::from_secs(5),
};

/// What a complete request asks for.
#[derive(Debug, PartialEq, Eq)]
pub struct Request<'a> {
    pub head: bool,
    pub path: &'a str,
    pub query: &'a str,
}

/// How far the bytes received so far go.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// Not a whole request head yet.
    Incomplete,
    Request(Request<'a>),
    /// Answer this status and close: malformed (400), a method other than GET and HEAD
    /// (405), too long (431), not HTTP/1.x (505).
    Refused(u16),
}

/// Reads a request head from the start of `bytes`, of at most `max` bytes.
pub fn parse(bytes: &[u8], max: usize) -> Parsed<'_> {
    let Some(line_end) = bytes.iter().position(|&b| b == b'\n') else {
        return match bytes.len() > max {
            true => Parsed::Refused(431),
            false => Parsed::Incomplete,
        };
    };
    if line_end > max {
        return Parsed::Refused(431);
    }
    // The request line decides at once: garbage is refused without waiting for more.
    let line = &bytes[..line_end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let Ok(line) = std::str::from_utf8(line) else {
        return Parsed::Refused(400);
    };
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Parsed::Refused(400);
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Parsed::Refused(400);
    }
    match version.strip_prefix("HTTP/") {
        Some("1.0" | "1.1") => {}
        Some(other) if other.starts_with(|c: char| c.is_ascii_digit()) => {
            return Parsed::Refused(505)
        }
        _ => return Parsed::Refused(400),
    }
    // origin-form, or absolute-form (`GET http://host:8086/readyz`, RFC 9112 3.2.2).
    let target = match target.split_once("://") {
        Some((_, rest)) => &rest[rest.find('/').unwrap_or(rest.len())..],
        None => target,
    };
    let target = if target.is_empty() { "/" } else { target };
    if !target.starts_with('/') || !target.bytes().all(|b| b.is_ascii_graphic()) {
        return Parsed::Refused(400);
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let head = match method {
        "GET" => false,
        "HEAD" => true,
        _ => return Parsed::Refused(405),
    };
    // The head ends at an empty line; its size is bounded whether or not it has ended.
    match head_end(bytes) {
        Some(end) if end <= max => Parsed::Request(Request { head, path, query }),
        Some(_) => Parsed::Refused(431),
        None if bytes.len() > max => Parsed::Refused(431),
        None => Parsed::Incomplete,
    }
}

/// The length of the head through its empty line, once that line is in.
fn head_end(bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    for (index, line) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
        at += line.len();
        if index > 0 && (line == b"\r\n" || line == b"\n") {
            return Some(at);
        }
    }
    None
}

/// One answer: status, content type and body (left out for HEAD).
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Answer {
    pub fn text(status: u16, body: String) -> Answer {
        Answer {
            status,
            content_type: "text/plain; charset=utf-8",
            body,
        }
    }

    fn bytes(&self, head: bool) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n{}Connection: close\r\n\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len(),
            if self.status == 405 { "Allow: GET, HEAD\r\n" } else { "" },
        )
        .into_bytes();
        if !head {
            out.extend_from_slice(self.body.as_bytes());
        }
        out
    }
}

/// The answer to a refused request: fixed text, nothing of the request in it.
fn refusal(status: u16) -> Answer {
    let body = match status {
        405 => "method not allowed\n",
        431 => "request header fields too large\n",
        505 => "http version not supported\n",
        _ => "bad request\n",
    };
    Answer::text(status, body.into())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    }
}

struct Connection {
    stream: TcpStream,
    opened: Instant,
    received: Vec<u8>,
    /// The answer, once the request is in, and how much of it is written.
    answer: Option<(Vec<u8>, usize)>,
}

/// How many connections the kernel may hold for `accept` (capped by
/// net.core.somaxconn). std listens with 128: a connect flood overflowed that between two
/// rounds of the loop, and the kernel then dropped other clients' SYNs, which cost them a
/// 1 s retransmission (tests/it/serve/hostile.rs, ConnectFlood).
const BACKLOG: i32 = 4096;

/// Serves forever on `listener`, answering each request with `answer`.
pub fn serve(
    listener: &TcpListener,
    limits: Limits,
    answer: &dyn Fn(&Request) -> Answer,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let fd = listener.as_raw_fd();
    // SAFETY: listen(2) again on a listening socket only changes its backlog (Linux), and
    // setsockopt reads one int.
    unsafe {
        libc::listen(fd, BACKLOG);
        // A connection reaches accept once its request does (or, silent, after about the
        // request time): one wake-up per request instead of two, and connections that
        // say nothing take a slot only once the kernel gives up waiting for them.
        let seconds = limits.request_time.as_secs().max(1) as libc::c_int;
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            (&seconds as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
    let mut connections: Vec<Connection> = Vec::new();
    let mut fds: Vec<libc::pollfd> = Vec::new();
    let mut chunk = [0u8; 2048];
    loop {
        let now = Instant::now();
        connections.retain(|connection| now < connection.opened + limits.request_time);
        fds.clear();
        fds.push(pollfd(listener.as_raw_fd(), libc::POLLIN));
        for connection in &connections {
            let events = match connection.answer {
                Some(_) => libc::POLLOUT,
                None => libc::POLLIN,
            };
            fds.push(pollfd(connection.stream.as_raw_fd(), events));
        }
        // With no connection open, nothing is due: sleep until one comes (-1), rather than
        // waking every second for nothing.
        let next_expiry = connections
            .iter()
            .map(|connection| connection.opened + limits.request_time)
            .min()
            .map_or(-1, |at| {
                // Rounded up: woken a moment early, the loop would spin until it is due.
                let left = at.saturating_duration_since(now) + Duration::from_micros(999);
                left.as_millis().clamp(1, 1000) as i32
            });
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd entries.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, next_expiry) };
        if ready < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }
        // Connections first (their slots were polled), then new ones.
        let mut polled = fds[1..].iter().map(|fd| fd.revents != 0);
        connections.retain_mut(|connection| {
            !polled.next().unwrap_or(false) || advance(connection, &mut chunk, limits, answer)
        });
        if fds[0].revents != 0 {
            accept_all(listener, &mut connections, &mut chunk, limits, answer);
        }
    }
}

/// Accepts what is waiting; at the limit, the oldest connection makes room. Each new
/// connection is read at once: a client's request is usually in already (answered without
/// waiting for the next round), and a connection already closed (a connect flood) is gone
/// without costing a slot in the next `poll`.
fn accept_all(
    listener: &TcpListener,
    connections: &mut Vec<Connection>,
    chunk: &mut [u8],
    limits: Limits,
    answer: &dyn Fn(&Request) -> Answer,
) {
    // Bounded per round, so that a connect flood cannot starve the connections' answers.
    for _ in 0..64 {
        match accept(listener) {
            Ok(stream) => {
                let mut connection = Connection {
                    stream,
                    opened: Instant::now(),
                    received: Vec::new(),
                    answer: None,
                };
                if !advance(&mut connection, chunk, limits, answer) {
                    continue;
                }
                if connections.len() >= limits.max_connections {
                    evict_oldest(connections);
                }
                connections.push(connection);
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                // Out of descriptors (EMFILE) or memory: free a slot, and give the system
                // a moment instead of spinning on a listener that stays readable.
                if !evict_oldest(connections) {
                    std::thread::sleep(Duration::from_millis(10));
                }
                return;
            }
        }
    }
}

/// accept4(2), the connection non-blocking from the start: a connect flood costs one
/// system call less per connection than std's accept and a separate ioctl. (No
/// TCP_NODELAY: each answer is one write followed by the close, which Nagle never holds.)
fn accept(listener: &TcpListener) -> io::Result<TcpStream> {
    use std::os::fd::FromRawFd;
    // SAFETY: null address pointers are allowed; the descriptor returned is new and owned
    // by the TcpStream alone.
    let fd = unsafe {
        libc::accept4(
            listener.as_raw_fd(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    };
    match fd {
        -1 => Err(io::Error::last_os_error()),
        // SAFETY: see above.
        fd => Ok(unsafe { TcpStream::from_raw_fd(fd) }),
    }
}

fn evict_oldest(connections: &mut Vec<Connection>) -> bool {
    let oldest = connections
        .iter()
        .enumerate()
        .min_by_key(|(_, connection)| connection.opened)
        .map(|(index, _)| index);
    match oldest {
        Some(index) => {
            connections.swap_remove(index);
            true
        }
        None => false,
    }
}

/// Reads or writes what the connection is ready for; false when it is done with.
fn advance(
    connection: &mut Connection,
    chunk: &mut [u8],
    limits: Limits,
    answer: &dyn Fn(&Request) -> Answer,
) -> bool {
    if connection.answer.is_none() {
        match connection.stream.read(chunk) {
            Ok(0) => return false,
            Ok(read) => {
                let room = (limits.max_request + 1).saturating_sub(connection.received.len());
                connection
                    .received
                    .extend_from_slice(&chunk[..read.min(room)]);
            }
            Err(error) => return retryable(&error),
        }
        let bytes = match parse(&connection.received, limits.max_request) {
            Parsed::Incomplete => return true,
            Parsed::Request(request) => answer(&request).bytes(request.head),
            Parsed::Refused(status) => refusal(status).bytes(false),
        };
        connection.received = Vec::new();
        connection.answer = Some((bytes, 0));
    }
    let Some((bytes, written)) = connection.answer.as_mut() else {
        return true;
    };
    match connection.stream.write(&bytes[*written..]) {
        Ok(count) => *written += count,
        Err(error) => return retryable(&error),
    }
    // Written whole: dropped, the connection closes (FIN).
    *written < bytes.len()
}

fn retryable(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

fn pollfd(fd: i32, events: i16) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(text: &str) -> Parsed<'_> {
        parse(text.as_bytes(), 8192)
    }

    #[test]
    fn a_kubelet_request_is_read() {
        let text = "GET /readyz HTTP/1.1\r\nHost: 10.0.0.7:8086\r\nUser-Agent: kube-probe/1.31\r\nAccept: */*\r\nConnection: close\r\n\r\n";
        assert_eq!(
            request(text),
            Parsed::Request(Request {
                head: false,
                path: "/readyz",
                query: ""
            })
        );
        assert_eq!(
            request("HEAD /livez?verbose HTTP/1.0\n\n"),
            Parsed::Request(Request {
                head: true,
                path: "/livez",
                query: "verbose"
            })
        );
        assert_eq!(
            request("GET http://pod:8086/metrics HTTP/1.1\r\n\r\n"),
            Parsed::Request(Request {
                head: false,
                path: "/metrics",
                query: ""
            })
        );
    }

    #[test]
    fn a_head_in_pieces_waits_for_its_end() {
        assert_eq!(request(""), Parsed::Incomplete);
        assert_eq!(request("GET /readyz HT"), Parsed::Incomplete);
        assert_eq!(
            request("GET /readyz HTTP/1.1\r\nHost: x\r\n"),
            Parsed::Incomplete
        );
        assert_eq!(
            request("GET /readyz HTTP/1.1\r\nHost: x\r\n\r"),
            Parsed::Incomplete
        );
    }

    #[test]
    fn garbage_is_refused_at_the_first_line() {
        assert_eq!(request("\x16\x03\x01\x02\x00\n"), Parsed::Refused(400));
        assert_eq!(request("GET /readyz\r\n"), Parsed::Refused(400));
        assert_eq!(request("get /readyz HTTP/1.1\r\n"), Parsed::Refused(400));
        assert_eq!(request("GET readyz HTTP/1.1\r\n"), Parsed::Refused(400));
        assert_eq!(request("GET /a b HTTP/1.1\r\n"), Parsed::Refused(400));
        assert_eq!(request("GET / SPDY/3\r\n"), Parsed::Refused(400));
        assert_eq!(request("GET / HTTP/2.0\r\n"), Parsed::Refused(505));
        assert_eq!(
            request("POST /readyz HTTP/1.1\r\n\r\n"),
            Parsed::Refused(405)
        );
        assert_eq!(request("DELETE / HTTP/1.1\r\n"), Parsed::Refused(405));
    }

    #[test]
    fn heads_are_bounded_ended_or_not() {
        let long_line = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(100));
        assert_eq!(parse(long_line.as_bytes(), 64), Parsed::Refused(431));
        let no_newline = "G".repeat(65);
        assert_eq!(parse(no_newline.as_bytes(), 64), Parsed::Refused(431));
        let many_headers = format!("GET / HTTP/1.1\r\n{}", "X: y\r\n".repeat(20));
        assert_eq!(parse(many_headers.as_bytes(), 64), Parsed::Refused(431));
        let ended_late = format!("GET / HTTP/1.1\r\n{}\r\n", "X: y\r\n".repeat(20));
        assert_eq!(parse(ended_late.as_bytes(), 64), Parsed::Refused(431));
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\nX: y\r\n\r\n", 64),
            Parsed::Request(_)
        ));
    }

    #[test]
    fn answers_say_their_length_and_close() {
        let answer = Answer::text(503, "unhealthy\n".into());
        let bytes = String::from_utf8(answer.bytes(false)).unwrap();
        assert!(bytes.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
        assert!(bytes.contains("Content-Length: 10\r\n"));
        assert!(bytes.contains("Connection: close\r\n"));
        assert!(bytes.ends_with("\r\n\r\nunhealthy\n"));
        let head = String::from_utf8(answer.bytes(true)).unwrap();
        assert!(head.ends_with("Content-Length: 10\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n"));
        assert!(String::from_utf8(refusal(405).bytes(false))
            .unwrap()
            .contains("Allow: GET, HEAD\r\n"));
    }
}
