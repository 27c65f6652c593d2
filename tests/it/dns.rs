//! `probe dns` from the command line, as a `dns://` TARGET and in wait-for, against a
//! real dnsmasq (the unit tests in src/probe/dns/ hold the codec's oracle, dig, and the
//! scripted peers).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{free_port, probe, temp_dir};

struct Dnsmasq {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Dnsmasq {
    fn start() -> Dnsmasq {
        let dir = temp_dir();
        let port = free_port();
        let child = Command::new("dnsmasq")
            .args([
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--pid-file=",
                "--user=root",
                &format!("--port={port}"),
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--no-resolv",
                "--no-hosts",
                "--local=/app.test/",
                "--host-record=db.app.test,10.0.0.5",
                "--srv-host=_pg._tcp.app.test,db.app.test,5432",
                &format!("--log-facility={}", dir.path().join("log").display()),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dnsmasq (scripts/test installs dnsmasq-base)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "dnsmasq not up"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Dnsmasq {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn names_records_and_expectations_through_every_door() {
    let dns = Dnsmasq::start();
    let server = format!("127.0.0.1:{}", dns.port);
    probe(&["dns", "db.app.test", "--server", &server])
        .code(0)
        .says("A 10.0.0.5");
    probe(&[
        "dns",
        "db.app.test",
        "--server",
        &server,
        "--expect",
        "10.0.0.5",
    ])
    .code(0);
    probe(&[
        "dns",
        "db.app.test",
        "--server",
        &server,
        "--expect",
        "10.0.0.9",
    ])
    .code(1)
    .says("expected 10.0.0.9");
    probe(&[
        "dns",
        "_pg._tcp.app.test",
        "--server",
        &server,
        "--type",
        "srv",
        "--expect",
        "db.app.test:5432",
    ])
    .code(0);
    probe(&["dns", "nope.app.test", "--server", &server])
        .code(1)
        .says("NXDOMAIN");
    // As a URL TARGET (RFC 4501's dns://SERVER/NAME?type=), a command-line TARGET, and in
    // wait-for.
    let url = format!("dns://{server}/_pg._tcp.app.test?type=SRV");
    probe(&["check", &url]).code(0).says("SRV");
    probe(&[
        "check",
        &format!("dns db.app.test --server {server} --expect 10.0.0.5"),
    ])
    .code(0);
    probe(&[
        "wait-for",
        "-q",
        "--timeout",
        "5s",
        &format!("dns://{server}/db.app.test"),
    ])
    .code(0);
    // Bad input is a usage error before anything is sent.
    probe(&["dns", "10.0.0.1"]).code(3).says("IP address");
    probe(&["dns", "db", "--type", "PTR"])
        .code(3)
        .says("unknown --type");
    probe(&["dns", "a..b"]).code(3);
}

#[test]
fn a_silent_server_is_timed_out_and_named() {
    // A UDP socket that never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let server = silent.local_addr().unwrap().to_string();
    probe(&[
        "dns",
        "db.app.test",
        "--server",
        &server,
        "--timeout",
        "500ms",
    ])
    .code(1)
    .says("timed out after 500ms")
    .within(Duration::from_millis(1200));
}
