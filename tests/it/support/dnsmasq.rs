//! A real dnsmasq on a free port of 127.0.0.1 (UDP and TCP), authoritative for one domain
//! and holding the records a test gives it, stopped on Drop.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, temp_dir};

pub struct Dnsmasq {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Dnsmasq {
    /// Answers for `domain` (NXDOMAIN for names it does not hold) from `records`, dnsmasq
    /// options such as `--host-record=db.app.test,10.0.0.5`.
    pub fn start(domain: &str, records: &[String]) -> Dnsmasq {
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
                &format!("--local=/{domain}/"),
                &format!("--log-facility={}", dir.path().join("log").display()),
            ])
            .args(records)
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

    /// `127.0.0.1:PORT`, for `--server` and `--dns-server`.
    pub fn server(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
