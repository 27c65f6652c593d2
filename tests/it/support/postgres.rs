//! Real PostgreSQL servers for the tests: `initdb` + `postgres` from the Debian packages in a
//! temp dir, on a free port, scram-sha-256 over TCP (trust on the Unix socket, used to set
//! up the role `app` and the database `appdb`), and a second one with TLS from the test PKI.
//!
//! PostgreSQL refuses to run as root: when the tests run as root (CI), the server runs as
//! the `postgres` system user (created by the Debian package) via `runuser`, with its
//! directories chowned to it. [`replica`] is a streaming replica of [`plain`]
//! (`pg_basebackup -R`), for `--replica`. Servers are shared across tests and stopped when the test
//! process exits: a small shell watchdog sends SIGINT (fast shutdown) once the test
//! process is gone, since statics are never dropped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::{free_port, pki::pki, temp_dir};

pub const USER: &str = "app";
pub const PASSWORD: &str = "app-secret-7f3a9c";
pub const DB: &str = "appdb";
/// On the [`tls`] server, a role whose plain-text logins pg_hba.conf rejects.
pub const TLS_ONLY_USER: &str = "tls_only";

pub struct Postgres {
    pub port: u16,
    /// The directory of the Unix socket (`-k`).
    pub socket_dir: PathBuf,
    /// The server's stderr: what it logs.
    pub log: PathBuf,
    _dir: tempfile::TempDir,
    /// The data directory and the `-c` settings: what [`Postgres::start_again`] needs.
    data: PathBuf,
    settings: Vec<String>,
    /// The shell that stops the server once the test process is gone.
    watchdog: std::process::Child,
}

/// The shared plain-text server.
pub fn plain() -> &'static Postgres {
    static SERVER: OnceLock<Postgres> = OnceLock::new();
    SERVER.get_or_init(|| Postgres::start(false))
}

/// The shared server with ssl=on (certificate for localhost / 127.0.0.1 from the test CA),
/// listening on 127.0.0.1 and 127.0.0.2 (a name its certificate does not cover).
pub fn tls() -> &'static Postgres {
    static SERVER: OnceLock<Postgres> = OnceLock::new();
    SERVER.get_or_init(|| Postgres::start(true))
}

/// A plain-text server of the caller's own, which it may [`Postgres::stop`] and
/// [`Postgres::start_again`] on the same port (the shared ones must stay up).
pub fn own() -> Postgres {
    Postgres::start(false)
}

/// A streaming replica of [`plain`], made with `pg_basebackup -R`.
pub fn replica() -> &'static Postgres {
    static SERVER: OnceLock<Postgres> = OnceLock::new();
    SERVER.get_or_init(|| Postgres::start_replica(plain()))
}

fn bin(name: &str) -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed (apt-get install postgresql)")
        .filter_map(|entry| entry.ok().map(|entry| entry.path().join("bin").join(name)))
        .filter(|path| path.exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .unwrap_or_else(|| panic!("no {name} under /usr/lib/postgresql/*/bin"))
}

/// A command run as the postgres user when we are root.
fn as_server_user(program: &Path) -> Command {
    if super::is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn chown_to_server_user(path: &Path) {
    if super::is_root() {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(path)
            .status()
            .unwrap();
        assert!(status.success(), "chown {}", path.display());
    }
}

impl Postgres {
    fn start(ssl: bool) -> Postgres {
        let dir = temp_dir();
        let data = dir.path().join("data");
        let socket_dir = dir.path().join("socket");
        let log = dir.path().join("server.log");
        std::fs::create_dir(&socket_dir).unwrap();
        chown_to_server_user(dir.path());

        let output = as_server_user(&bin("initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ])
            .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
            .stdin(Stdio::null())
            .output()
            .expect("run initdb");
        assert!(
            output.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&output.stderr)
        );

        let port = free_port();
        let mut settings = Self::settings(&socket_dir);
        settings.extend(["max_wal_senders=4".into(), "wal_level=replica".into()]);
        if ssl {
            let pki = pki();
            std::fs::write(data.join("server.crt"), &pki.server.cert_pem).unwrap();
            std::fs::write(data.join("server.key"), &pki.server.key_pem).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                data.join("server.key"),
                std::fs::Permissions::from_mode(0o600),
            )
            .unwrap();
            chown_to_server_user(&data);
            settings[0] = "listen_addresses=127.0.0.1,127.0.0.2".into();
            settings.extend([
                "ssl=on".into(),
                "ssl_cert_file=server.crt".into(),
                "ssl_key_file=server.key".into(),
            ]);
            // TLS_ONLY_USER may log in over TLS only, as with a `hostssl`-only pg_hba.conf.
            let hba = data.join("pg_hba.conf");
            let rules = std::fs::read_to_string(&hba).unwrap();
            std::fs::write(
                &hba,
                format!("hostnossl all {TLS_ONLY_USER} all reject\n{rules}"),
            )
            .unwrap();
        }
        let server = Self::launch(dir, data, socket_dir, log, port, &settings);
        server.set_up();
        if ssl {
            server.psql(
                "postgres",
                "postgres",
                &format!("create role {TLS_ONLY_USER} login password '{PASSWORD}'"),
            );
        }
        server
    }

    /// `pg_basebackup -R` from `primary` over its (trusted) Unix socket, then a server in
    /// standby mode on its own port.
    fn start_replica(primary: &Postgres) -> Postgres {
        let dir = temp_dir();
        let data = dir.path().join("data");
        let socket_dir = dir.path().join("socket");
        let log = dir.path().join("server.log");
        std::fs::create_dir(&socket_dir).unwrap();
        chown_to_server_user(dir.path());
        let output = as_server_user(&bin("pg_basebackup"))
            .arg("-h")
            .arg(&primary.socket_dir)
            .args(["-p", &primary.port.to_string(), "-U", "postgres", "-D"])
            .arg(&data)
            .args(["-R", "-X", "stream", "--no-sync", "--checkpoint=fast"])
            .stdin(Stdio::null())
            .output()
            .expect("run pg_basebackup");
        assert!(
            output.status.success(),
            "pg_basebackup: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let mut settings = Self::settings(&socket_dir);
        settings.push("hot_standby=on".into());
        let server = Self::launch(dir, data, socket_dir, log, free_port(), &settings);
        // Up once it answers over the socket (as a standby, it accepts read-only logins).
        server.query("select 1");
        server
    }

    fn settings(socket_dir: &Path) -> Vec<String> {
        let settings = vec![
            "listen_addresses=127.0.0.1".to_string(),
            format!("unix_socket_directories={}", socket_dir.display()),
            "fsync=off".into(),
            "synchronous_commit=off".into(),
            "full_page_writes=off".into(),
            "shared_buffers=16MB".into(),
            "max_connections=40".into(),
        ];
        settings
    }

    fn launch(
        dir: tempfile::TempDir,
        data: PathBuf,
        socket_dir: PathBuf,
        log: PathBuf,
        port: u16,
        settings: &[String],
    ) -> Postgres {
        Postgres {
            watchdog: Self::watchdog(&data, &log, port, settings),
            port,
            socket_dir,
            log,
            data,
            settings: settings.to_vec(),
            _dir: dir,
        }
    }

    /// Starts the server under a shell that stops it (fast shutdown) when the test process
    /// is gone, or ends when the server does.
    fn watchdog(data: &Path, log: &Path, port: u16, settings: &[String]) -> std::process::Child {
        let mut postgres = vec![
            bin("postgres").display().to_string(),
            "-D".into(),
            data.display().to_string(),
        ];
        postgres.extend(["-p".into(), port.to_string()]);
        for setting in settings {
            postgres.extend(["-c".into(), setting.clone()]);
        }
        let run_as = if super::is_root() {
            "runuser -u postgres -- "
        } else {
            ""
        };
        let quoted: Vec<String> = postgres.iter().map(|word| format!("'{word}'")).collect();
        let script = format!(
            "{run_as}{} >>'{}' 2>&1 </dev/null & server=$!\n\
             while kill -0 {} 2>/dev/null && kill -0 $server 2>/dev/null; do sleep 0.3; done\n\
             kill -INT $server 2>/dev/null; pid=$(head -1 '{}/postmaster.pid' 2>/dev/null) && kill -INT $pid 2>/dev/null\n\
             wait",
            quoted.join(" "),
            log.display(),
            std::process::id(),
            data.display(),
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start postgres")
    }

    /// Stops the server (fast shutdown: clients are disconnected, new ones refused) and
    /// waits until it is gone. For servers of [`own`] only.
    pub fn stop(&mut self) {
        let pid_file = self.data.join("postmaster.pid");
        let pid = std::fs::read_to_string(&pid_file).unwrap_or_default();
        if let Some(pid) = pid.lines().next() {
            let _ = Command::new("kill").args(["-INT", pid]).status();
        }
        let _ = self.watchdog.wait();
        let started = Instant::now();
        while pid_file.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "postgres did not stop"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts a stopped server again on its port; returns once it accepts logins.
    pub fn start_again(&mut self) {
        self.watchdog = Self::watchdog(&self.data, &self.log, self.port, &self.settings);
        self.query("select 1");
    }

    /// Runs `sql` as the superuser over the Unix socket (waiting for the server to be up)
    /// and returns psql's unaligned output.
    pub fn query(&self, sql: &str) -> String {
        self.psql_output("postgres", "postgres", sql)
    }

    /// Creates the role and the database with psql over the (trusted) Unix socket, once the
    /// server accepts connections.
    fn set_up(&self) {
        // One statement per psql: CREATE DATABASE cannot run in a transaction block.
        self.psql(
            "postgres",
            "postgres",
            &format!("create role {USER} login password '{PASSWORD}'"),
        );
        self.psql(
            "postgres",
            "postgres",
            &format!("create database {DB} owner {USER}"),
        );
        self.psql(
            USER,
            DB,
            "create table migrations (version text); insert into migrations values ('abc123'); \
             create table empty (id int);",
        );
    }

    fn psql(&self, user: &str, db: &str, sql: &str) {
        self.psql_output(user, db, sql);
    }

    fn psql_output(&self, user: &str, db: &str, sql: &str) -> String {
        let started = Instant::now();
        loop {
            let output = Command::new("psql")
                .arg("-h")
                .arg(&self.socket_dir)
                .args(["-p", &self.port.to_string(), "-U", user, "-d", db])
                .args(["-v", "ON_ERROR_STOP=1", "-X", "-q", "-tA", "-c", sql])
                .env_remove("PGPASSWORD")
                .stdin(Stdio::null())
                .output()
                .expect("run psql");
            if output.status.success() {
                return String::from_utf8_lossy(&output.stdout).trim().to_string();
            }
            let stderr = String::from_utf8_lossy(&output.stderr);
            // A standby refuses logins ("not yet accepting connections") until its recovery
            // reaches a consistent state, a moment after it starts listening.
            let not_up_yet = stderr.contains("starting up")
                || stderr.contains("not yet accepting connections")
                || stderr.contains("No such file");
            assert!(
                not_up_yet && started.elapsed() < Duration::from_secs(30),
                "psql {sql}: {}\nserver log:\n{}",
                String::from_utf8_lossy(&output.stderr),
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `postgres://app:PASSWORD@127.0.0.1:PORT/appdb` plus `extra` (e.g. `?sslmode=disable`).
    pub fn url(&self, extra: &str) -> String {
        format!(
            "postgres://{USER}:{PASSWORD}@127.0.0.1:{}/{DB}{extra}",
            self.port
        )
    }

    /// The same without the password.
    pub fn url_without_password(&self, extra: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{DB}{extra}", self.port)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Postgres {
    /// A server of [`own`] stops with its test (the shared ones are statics: never dropped).
    fn drop(&mut self) {
        if matches!(self.watchdog.try_wait(), Ok(None)) {
            self.stop();
        }
    }
}

/// A TCP proxy from a free port to `to_port` that the test can cut: [`Proxy::sever`]
/// shuts down every connection through it at once, as a dropped NAT entry or a failover
/// would (the server's side of the connection is closed too).
pub struct Proxy {
    pub port: u16,
    connections: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl Proxy {
    pub fn start(to_port: u16) -> Proxy {
        use std::net::{TcpListener, TcpStream};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = connections.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(upstream) = TcpStream::connect(("127.0.0.1", to_port)) else {
                    continue;
                };
                {
                    let mut kept = kept.lock().unwrap();
                    kept.push(client.try_clone().unwrap());
                    kept.push(upstream.try_clone().unwrap());
                }
                let (mut client_read, mut upstream_write) =
                    (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                std::thread::spawn(move || std::io::copy(&mut client_read, &mut upstream_write));
                let (mut upstream_read, mut client_write) = (upstream, client);
                std::thread::spawn(move || std::io::copy(&mut upstream_read, &mut client_write));
            }
        });
        Proxy { port, connections }
    }

    /// Cuts every connection made through the proxy so far.
    pub fn sever(&self) {
        for connection in self.connections.lock().unwrap().drain(..) {
            let _ = connection.shutdown(std::net::Shutdown::Both);
        }
    }
}
