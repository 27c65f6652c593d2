//! Real `redis-server` instances on free ports, each in its own temp dir and stopped on
//! Drop. Fakes for what a real server will not do on demand (reply LOADING, reply garbage,
//! never reply) are scripted with support/peer.rs.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, temp_dir, wait_for_path, wait_for_port};

pub struct RedisServer {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// A server on a free port with `extra` arguments (`--requirepass x`, ...).
    pub fn start(extra: &[&str]) -> Self {
        Self::spawn(extra, false, free_port())
    }

    /// A server on `port` (one that another server of the test had, to bring it back).
    pub fn start_on(port: u16, extra: &[&str]) -> Self {
        Self::spawn(extra, false, port)
    }

    /// A server whose free port speaks only TLS (`extra` names the certificates).
    pub fn start_tls(extra: &[&str]) -> Self {
        Self::spawn(extra, true, free_port())
    }

    fn spawn(extra: &[&str], tls: bool, port: u16) -> Self {
        let dir = temp_dir();
        let port_text = port.to_string();
        let socket = dir.path().join("redis.sock");
        let log = dir.path().join("redis.log");
        let mut args: Vec<&str> = vec![
            "--bind",
            "127.0.0.1",
            "--dir",
            dir.path().to_str().unwrap(),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--logfile",
            log.to_str().unwrap(),
            "--unixsocket",
            socket.to_str().unwrap(),
            "--unixsocketperm",
            "700",
        ];
        if tls {
            args.extend(["--port", "0", "--tls-port", &port_text]);
        } else {
            args.extend(["--port", &port_text]);
        }
        args.extend(extra);
        let child = Command::new("redis-server")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server (is it installed?)");
        let server = RedisServer { child, port, dir };
        wait_for_port(port, Duration::from_secs(10));
        wait_for_path(&socket, Duration::from_secs(10));
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("redis.sock")
    }

    /// Sends an inline command over plain TCP (no AUTH) and returns the raw reply.
    pub fn raw(&self, command: &str) -> String {
        raw(self.port, command)
    }

    /// Waits until the raw reply to `command` contains `text`.
    pub fn wait_until(&self, command: &str, text: &str, limit: Duration) {
        let started = Instant::now();
        loop {
            let reply = self.raw(command);
            if reply.contains(text) {
                return;
            }
            assert!(
                started.elapsed() < limit,
                "{command}: no {text:?} after {limit:?}: {reply}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn raw(port: u16, command: &str) -> String {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let _ = stream.write_all(format!("{command}\r\n").as_bytes());
    let mut reply = vec![0u8; 16 * 1024];
    let n = stream.read(&mut reply).unwrap_or(0);
    String::from_utf8_lossy(&reply[..n]).into_owned()
}
