//! A real RabbitMQ broker for the tests: the Debian `rabbitmq-server` started as a private
//! node (its own node name, AMQP, TLS and distribution ports on 127.0.0.1, data, logs,
//! config and Erlang cookie in a temp dir, no plugins), with a user and a vhost created by
//! `rabbitmqctl`. One broker is shared by all tests (start-up takes seconds) and stopped
//! once the test process is gone, by a small shell watchdog, since statics are never
//! dropped.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::{free_port, pki::pki, temp_dir, wait_for_port};

pub const USER: &str = "probe-app";
pub const PASSWORD: &str = "amqp-s3cret-9d2e";
pub const VHOST: &str = "probe-vhost";
/// A user that may log in but has no permissions on [`VHOST`].
pub const STRANGER: &str = "stranger";

pub struct RabbitMq {
    pub port: u16,
    pub tls_port: u16,
    pub node: String,
    home: PathBuf,
    dir: tempfile::TempDir,
    _watchdog: std::process::Child,
}

const SBIN: &str = "/usr/lib/rabbitmq/bin";

/// The shared broker.
pub fn broker() -> &'static RabbitMq {
    static BROKER: OnceLock<RabbitMq> = OnceLock::new();
    BROKER.get_or_init(RabbitMq::start)
}

impl RabbitMq {
    fn start() -> RabbitMq {
        assert!(
            Path::new(SBIN).join("rabbitmq-server").exists(),
            "rabbitmq-server is installed (apt-get install rabbitmq-server)"
        );
        let dir = temp_dir();
        let home = dir.path().join("home");
        std::fs::create_dir(&home).unwrap();
        let cookie = home.join(".erlang.cookie");
        std::fs::write(&cookie, format!("probe-test-cookie-{}", std::process::id())).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cookie, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(dir.path().join("enabled_plugins"), "").unwrap();
        std::fs::write(dir.path().join("rabbitmq-env.conf"), "").unwrap();

        let (port, tls_port, dist_port) = (free_port(), free_port(), free_port());
        let pki = pki();
        let config = format!(
            "listeners.tcp.default = 127.0.0.1:{port}\n\
             listeners.ssl.default = 127.0.0.1:{tls_port}\n\
             ssl_options.cacertfile = {}\n\
             ssl_options.certfile = {}\n\
             ssl_options.keyfile = {}\n\
             ssl_options.verify = verify_none\n\
             ssl_options.fail_if_no_peer_cert = false\n",
            pki.ca.cert.display(),
            pki.server.cert.display(),
            pki.server.key.display(),
        );
        std::fs::write(dir.path().join("rabbitmq.conf"), config).unwrap();

        let node = format!("probe-test-{port}@localhost");
        let log = dir.path().join("server.out");
        let script = format!(
            "{SBIN}/rabbitmq-server >'{}' 2>&1 </dev/null & server=$!\n\
             while kill -0 {} 2>/dev/null && kill -0 $server 2>/dev/null; do sleep 0.3; done\n\
             kill -TERM $server 2>/dev/null\n\
             wait",
            log.display(),
            std::process::id(),
        );
        let mut watchdog = Command::new("sh");
        watchdog
            .args(["-c", &script])
            .env("RABBITMQ_DIST_PORT", dist_port.to_string())
            .env("RABBITMQ_NODE_PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        environment(&mut watchdog, dir.path(), &home, &node);
        let broker = RabbitMq {
            _watchdog: watchdog.spawn().expect("start rabbitmq-server"),
            port,
            tls_port,
            node,
            home,
            dir,
        };
        wait_for_port(port, Duration::from_secs(90));
        broker.set_up();
        broker
    }

    /// Runs `rabbitmqctl -n NODE args...`, asserting success.
    pub fn ctl(&self, args: &[&str]) -> Output {
        let mut command = Command::new(Path::new(SBIN).join("rabbitmqctl"));
        command.args(["-n", &self.node]).args(args);
        environment(&mut command, self.dir.path(), &self.home, &self.node);
        let output = command
            .stdin(Stdio::null())
            .output()
            .expect("run rabbitmqctl");
        assert!(
            output.status.success(),
            "rabbitmqctl {args:?}: {}{}\nlog:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            self.log_text()
        );
        output
    }

    fn set_up(&self) {
        let started = Instant::now();
        self.ctl(&["await_startup", "--timeout", "60"]);
        self.ctl(&["add_user", USER, PASSWORD]);
        self.ctl(&["add_vhost", VHOST]);
        self.ctl(&["set_permissions", "-p", VHOST, USER, ".*", ".*", ".*"]);
        self.ctl(&["set_permissions", "-p", "/", USER, ".*", ".*", ".*"]);
        self.ctl(&["add_user", STRANGER, PASSWORD]);
        eprintln!("rabbitmq set up in {:?}", started.elapsed());
    }

    /// `amqp://USER:PASSWORD@127.0.0.1:PORT/VHOST`.
    pub fn url(&self) -> String {
        format!("amqp://{USER}:{PASSWORD}@127.0.0.1:{}/{VHOST}", self.port)
    }

    /// `amqp://127.0.0.1:PORT`: no credentials.
    pub fn bare_url(&self) -> String {
        format!("amqp://127.0.0.1:{}", self.port)
    }

    pub fn log_text(&self) -> String {
        let log = self
            .dir
            .path()
            .join("log")
            .join(format!("{}.log", self.node));
        std::fs::read_to_string(log).unwrap_or_default()
    }
}

/// The variables that make a node (and rabbitmqctl) private to one broker.
fn environment(command: &mut Command, dir: &Path, home: &Path, node: &str) {
    command
        .env("HOME", home)
        .env("RABBITMQ_NODENAME", node)
        .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
        .env("RABBITMQ_MNESIA_BASE", dir.join("mnesia"))
        .env("RABBITMQ_LOG_BASE", dir.join("log"))
        .env("RABBITMQ_CONFIG_FILE", dir.join("rabbitmq.conf"))
        .env("RABBITMQ_CONF_ENV_FILE", dir.join("rabbitmq-env.conf"))
        .env("RABBITMQ_ENABLED_PLUGINS_FILE", dir.join("enabled_plugins"))
        .env("RABBITMQ_PID_FILE", dir.join("rabbitmq.pid"))
        .env(
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
            "-kernel inet_dist_use_interface {127,0,0,1}",
        )
        .env("ERL_EPMD_ADDRESS", "127.0.0.1");
}
