//! A real MongoDB wire-protocol server: SecantusDB (PyPI), on a free port with its data in
//! a temp dir, optionally TLS-only with the test PKI's server certificate; stopped on Drop.
//! pymongo was checked against it: it logs in with SCRAM, checks the server's proof and is
//! refused a wrong password (src/probe/mongodb/tests.rs holds those tests).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{free_port, temp_dir, wait_for_port};

pub struct Secantus {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Secantus {
    pub fn start() -> Secantus {
        Self::with_args(&[])
    }

    /// TLS only, with `cert` and `key` (PEM).
    pub fn tls(cert: &Path, key: &Path) -> Secantus {
        Self::with_args(&[
            "--tls-cert-file",
            cert.to_str().unwrap(),
            "--tls-key-file",
            key.to_str().unwrap(),
        ])
    }

    fn with_args(args: &[&str]) -> Secantus {
        let dir = temp_dir();
        let port = free_port();
        let child = Command::new("secantusd-py")
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .arg("--storage-path")
            .arg(dir.path().join("data"))
            .args(["--log-level", "ERROR"])
            .args(args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("secantusd-py (pip install secantusdb; see scripts/test)");
        wait_for_port(port, Duration::from_secs(30));
        Secantus {
            child,
            port,
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        format!("mongodb://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Secantus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
