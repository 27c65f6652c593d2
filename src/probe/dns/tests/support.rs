//! A real dnsmasq on a free port of 127.0.0.1 (UDP and TCP), authoritative for
//! `probe.test`, stopped on Drop; `dig` as the reference client; and a scripted UDP peer
//! for what dnsmasq cannot be made to do (stay silent, send garbage or loops).

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub struct Dnsmasq {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

/// How many A records `many.probe.test` has: 60 × 16 bytes, far past 512.
pub const MANY: usize = 60;

/// `ns.probe.test NS ns1.probe.test`: dnsmasq serves NS only as a raw record (hex RDATA).
/// (`ns1.probe.test` without its root label, which the argument adds.)
const NS_RDATA: &str = "036e73310570726f62650474657374";

impl Dnsmasq {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let hosts = dir.path().join("hosts");
        let mut lines = String::from("10.0.0.5 api.probe.test\n10.0.0.6 api.probe.test\n");
        for n in 0..MANY {
            writeln!(lines, "10.1.0.{n} many.probe.test").unwrap();
        }
        std::fs::write(&hosts, lines).unwrap();
        let port = free_port();
        let log = dir.path().join("log");
        let args = [
            "--keep-in-foreground".to_string(),
            "--conf-file=/dev/null".into(),
            "--pid-file=".into(),
            "--user=root".into(),
            format!("--port={port}"),
            "--listen-address=127.0.0.1".into(),
            "--bind-interfaces".into(),
            "--no-resolv".into(),
            "--no-hosts".into(),
            "--local=/probe.test/".into(),
            // Names without a dot are local too: NXDOMAIN, not REFUSED.
            "--domain-needed".into(),
            format!("--addn-hosts={}", hosts.display()),
            format!("--log-facility={}", log.display()),
            "--host-record=v6.probe.test,fd00::5".into(),
            "--host-record=mail.probe.test,10.0.0.25".into(),
            "--cname=www.probe.test,api.probe.test".into(),
            "--mx-host=probe.test,mail.probe.test,10".into(),
            "--srv-host=_http._tcp.probe.test,api.probe.test,8080,1,5".into(),
            "--srv-host=_http._tcp.probe.test,www.probe.test,8081,2,0".into(),
            "--txt-record=txt.probe.test,v=spf1 -all,second part".into(),
            format!("--dns-rr=ns.probe.test,2,{NS_RDATA}00"),
        ];
        let child = Command::new("dnsmasq")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dnsmasq (scripts/test installs dnsmasq-base)");
        let server = Dnsmasq {
            child,
            port,
            _dir: dir,
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "dnsmasq not up"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    pub fn server(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// dig's answer records of `rtype` for `name`, rdata as dig prints it, trailing dots
    /// of names removed, TXT strings joined.
    pub fn dig(&self, name: &str, rtype: &str) -> Vec<String> {
        let output = Command::new("dig")
            .args([
                "@127.0.0.1",
                "-p",
                &self.port.to_string(),
                "+noall",
                "+answer",
                "+tries=1",
                "+time=5",
                name,
                rtype,
            ])
            .output()
            .expect("run dig (scripts/test installs bind9-dnsutils)");
        assert!(output.status.success(), "dig {name} {rtype} failed");
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                (fields.len() >= 5 && fields[3] == rtype).then(|| {
                    let rdata = fields[4..].join(" ");
                    if rtype == "TXT" {
                        // "a" "b" → ab (no escapes in these fixtures).
                        rdata.trim_matches('"').split("\" \"").collect()
                    } else {
                        rdata.replace(". ", " ").trim_end_matches('.').to_string()
                    }
                })
            })
            .collect()
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free for both UDP and TCP on 127.0.0.1.
pub fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// What the scripted peer does with each query it receives (the query's bytes in, the
/// datagram to send back out, or nothing).
pub type Script = Box<dyn Fn(usize, &[u8]) -> Option<Vec<u8>> + Send>;

/// A scripted UDP server on 127.0.0.1 (and TCP on the same port when `tcp` is given),
/// answering for at most 5 seconds.
pub struct Peer {
    pub addr: SocketAddr,
    pub queries: Arc<AtomicUsize>,
    /// Stops by itself within 5 seconds; tests do not wait for it.
    _thread: JoinHandle<()>,
}

impl Peer {
    pub fn start(script: Script, tcp: Option<Script>) -> Self {
        let (socket, listener) = loop {
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            let port = socket.local_addr().unwrap().port();
            if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) {
                break (socket, listener);
            }
        };
        let addr = socket.local_addr().unwrap();
        let queries = Arc::new(AtomicUsize::new(0));
        let counted = queries.clone();
        if let Some(tcp) = tcp {
            std::thread::spawn(move || {
                listener.set_nonblocking(false).unwrap();
                if let Ok((mut stream, _)) = listener.accept() {
                    stream
                        .set_read_timeout(Some(Duration::from_secs(5)))
                        .unwrap();
                    let mut length = [0u8; 2];
                    if stream.read_exact(&mut length).is_ok() {
                        let mut query = vec![0; usize::from(u16::from_be_bytes(length))];
                        if stream.read_exact(&mut query).is_ok() {
                            if let Some(reply) = tcp(0, &query) {
                                let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
                                framed.extend(reply);
                                let _ = stream.write_all(&framed);
                            }
                        }
                    }
                }
            });
        } else {
            drop(listener);
        }
        let thread = std::thread::spawn(move || {
            socket
                .set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            let started = Instant::now();
            let mut buffer = [0u8; 1024];
            while started.elapsed() < Duration::from_secs(5) {
                if let Ok((length, from)) = socket.recv_from(&mut buffer) {
                    let index = counted.fetch_add(1, Ordering::SeqCst);
                    if let Some(reply) = script(index, &buffer[..length]) {
                        let _ = socket.send_to(&reply, from);
                    }
                }
            }
        });
        Peer {
            addr,
            queries,
            _thread: thread,
        }
    }
}

/// The reply to `query` (ID and question echoed) with `flags` and these answer records
/// (each: the bytes after the question), `ancount` as given.
pub fn reply_to(query: &[u8], flags: [u8; 2], ancount: u16, answers: &[u8]) -> Vec<u8> {
    let mut out = query[..2].to_vec();
    out.extend_from_slice(&flags);
    out.extend_from_slice(&[0, 1]);
    out.extend_from_slice(&ancount.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&query[12..]);
    out.extend_from_slice(answers);
    out
}

/// One A record for the question's name (a pointer to it), 192.0.2.1.
pub const ONE_A: &[u8] = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x01";
