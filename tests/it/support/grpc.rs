//! Real gRPC servers (grpcio, the reference implementation, via `grpc_server.py`) on free
//! ports, stopped on Drop; fakes only for silence and garbage.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use super::{free_port, wait_for_port};

pub struct GrpcServer {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    pub port: u16,
}

impl GrpcServer {
    /// Health service with "" and "probe.Test" SERVING.
    pub fn start() -> Self {
        Self::spawn(&[])
    }

    /// A gRPC server without the health service.
    pub fn without_health() -> Self {
        Self::spawn(&["--no-health"])
    }

    /// TLS with the test PKI's server certificate (and client certificates required when
    /// `mutual`).
    pub fn tls(mutual: bool) -> Self {
        let pki = super::pki::pki();
        let mut args = vec![
            "--tls".to_string(),
            pki.server.cert.display().to_string(),
            pki.server.key.display().to_string(),
        ];
        if mutual {
            args.push("--client-ca".into());
            args.push(pki.ca.cert.display().to_string());
        }
        Self::spawn(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    fn spawn(extra: &[&str]) -> Self {
        let port = free_port();
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/it/support/grpc_server.py"
        );
        let mut child = Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .args(extra)
            .env("GRPC_VERBOSITY", "NONE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 with grpcio and grpcio-health-checking (scripts/test installs them)");
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "grpc_server.py did not start");
        wait_for_port(port, Duration::from_secs(10));
        GrpcServer {
            child,
            stdin,
            stdout,
            port,
        }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Sets a service's status (SERVING, NOT_SERVING, UNKNOWN, SERVICE_UNKNOWN).
    pub fn set(&mut self, service: &str, status: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{service} {status}").unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ok");
    }
}

impl Drop for GrpcServer {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server's SETTINGS frame (empty) followed by `after`: an HTTP/2 peer that then
/// misbehaves.
pub fn settings_then(after: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 0, 0, 4, 0, 0, 0, 0, 0];
    bytes.extend_from_slice(after);
    bytes
}
