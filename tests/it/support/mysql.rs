//! Real MySQL-protocol servers for the tests.
//!
//! - MariaDB (Debian's `mariadbd`): a private datadir from `mariadb-install-db`, on a free
//!   port and its own socket, TLS with the test PKI's server certificate, and an
//!   `--init-file` that gives root a password and creates `app` (mysql_native_password)
//!   with the database `appdb`. Started once and shared (it takes a few seconds); a shell
//!   watchdog stops it when the test process is gone, since statics are never dropped.
//! - `caching_sha2_server.py`: mysql-mimic with a caching_sha2_password plugin behaving like
//!   a freshly started MySQL 8 (empty cache: the first login takes the full path, later
//!   ones the fast path), one per test so that each starts with an empty cache.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::{free_port, pki::pki, temp_dir, wait_for_port};

pub const USER: &str = "app";
pub const PASSWORD: &str = "app-secret-9d2b4e";
pub const ROOT_PASSWORD: &str = "root-secret-51c7aa";
pub const DB: &str = "appdb";

pub struct Mariadb {
    pub port: u16,
    pub socket: PathBuf,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
    _watchdog: Child,
}

/// The shared MariaDB server.
pub fn mariadb() -> &'static Mariadb {
    static SERVER: OnceLock<Mariadb> = OnceLock::new();
    SERVER.get_or_init(Mariadb::start)
}

impl Mariadb {
    fn start() -> Mariadb {
        let dir = temp_dir();
        let data = dir.path().join("data");
        let socket = dir.path().join("mysqld.sock");
        let log = dir.path().join("server.log");
        let user: &[&str] = if super::is_root() {
            &["--user=root"]
        } else {
            &[]
        };
        let output = Command::new("mariadb-install-db")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .args(user)
            .stdin(Stdio::null())
            .output()
            .expect("run mariadb-install-db (apt-get install mariadb-server)");
        assert!(
            output.status.success(),
            "mariadb-install-db: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let init = dir.path().join("init.sql");
        std::fs::write(
            &init,
            format!(
                "ALTER USER 'root'@'localhost' IDENTIFIED BY '{ROOT_PASSWORD}';\n\
                 CREATE USER '{USER}'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('{PASSWORD}');\n\
                 CREATE USER '{USER}'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('{PASSWORD}');\n\
                 CREATE DATABASE {DB};\n\
                 GRANT ALL ON {DB}.* TO '{USER}'@'%';\n\
                 GRANT ALL ON {DB}.* TO '{USER}'@'localhost';\n\
                 CREATE TABLE {DB}.migrations (version varchar(40));\n\
                 INSERT INTO {DB}.migrations VALUES ('abc123');\n\
                 CREATE TABLE {DB}.empty (id int);\n"
            ),
        )
        .unwrap();
        let pki = pki();
        let port = free_port();
        let mut args = vec![
            "/usr/sbin/mariadbd".to_string(),
            "--no-defaults".into(),
            format!("--datadir={}", data.display()),
            format!("--socket={}", socket.display()),
            format!("--port={port}"),
            "--bind-address=127.0.0.1".into(),
            format!("--init-file={}", init.display()),
            format!("--pid-file={}", dir.path().join("mysqld.pid").display()),
            "--skip-log-bin".into(),
            "--innodb-buffer-pool-size=16M".into(),
            "--max-connections=40".into(),
            format!("--ssl-cert={}", pki.server.cert.display()),
            format!("--ssl-key={}", pki.server.key.display()),
        ];
        args.extend(user.iter().map(|word| word.to_string()));
        let quoted: Vec<String> = args.iter().map(|word| format!("'{word}'")).collect();
        let script = format!(
            "{} >'{}' 2>&1 </dev/null & server=$!\n\
             while kill -0 {} 2>/dev/null && kill -0 $server 2>/dev/null; do sleep 0.3; done\n\
             kill -TERM $server 2>/dev/null\n\
             wait",
            quoted.join(" "),
            log.display(),
            std::process::id(),
        );
        let watchdog = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mariadbd");
        let server = Mariadb {
            port,
            socket,
            log,
            _dir: dir,
            _watchdog: watchdog,
        };
        let started = Instant::now();
        while !server.log_text().contains("ready for connections") {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "mariadbd did not start:\n{}",
                server.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// `mysql://app:PASSWORD@127.0.0.1:PORT/appdb` plus `extra` (e.g. `?ssl-mode=DISABLED`).
    pub fn url(&self, extra: &str) -> String {
        format!(
            "mysql://{USER}:{PASSWORD}@127.0.0.1:{}/{DB}{extra}",
            self.port
        )
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// A mysql-mimic server with caching_sha2_password, stopped on Drop.
pub struct CachingSha2 {
    pub port: u16,
    child: Child,
}

pub const SHA2_USER: &str = "sha2user";
pub const SHA2_PASSWORD: &str = "sha2-secret-0e4f";

impl CachingSha2 {
    /// `tls`: offer TLS with the test PKI's server certificate.
    pub fn start(tls: bool) -> CachingSha2 {
        let port = free_port();
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/it/support/caching_sha2_server.py"
        );
        let mut command = Command::new("python3");
        command
            .arg(script)
            .args(["--port", &port.to_string()])
            .args(["--user", SHA2_USER, "--password", SHA2_PASSWORD])
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        if tls {
            let pki = pki();
            command.arg("--cert").arg(&pki.server.cert);
            command.arg("--key").arg(&pki.server.key);
        }
        let child = command
            .spawn()
            .expect("python3 with mysql-mimic (pip install mysql-mimic)");
        wait_for_port(port, Duration::from_secs(20));
        CachingSha2 { port, child }
    }

    pub fn url(&self, extra: &str) -> String {
        format!(
            "mysql://{SHA2_USER}:{SHA2_PASSWORD}@127.0.0.1:{}{extra}",
            self.port
        )
    }
}

impl Drop for CachingSha2 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
