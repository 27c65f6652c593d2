//! Debian's PgBouncer (`/usr/sbin/pgbouncer`) in transaction pooling mode in front of the
//! shared test PostgreSQL ([`super::postgres::plain`]), on a free port, with a userlist
//! file (`auth_type = scram-sha-256`, the plain password in the file, so PgBouncer also
//! logs in to the server with SCRAM). Like PostgreSQL it refuses to run as root: then it
//! runs as the `postgres` user. Stopped when the test process exits (a shell watchdog).

use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use super::postgres::{plain, DB, PASSWORD, USER};
use super::{free_port, temp_dir, wait_for_port};

pub struct PgBouncer {
    pub port: u16,
    _dir: tempfile::TempDir,
    _watchdog: std::process::Child,
}

/// The shared PgBouncer.
pub fn pgbouncer() -> &'static PgBouncer {
    static BOUNCER: OnceLock<PgBouncer> = OnceLock::new();
    BOUNCER.get_or_init(PgBouncer::start)
}

impl PgBouncer {
    fn start() -> PgBouncer {
        let server = plain();
        let dir = temp_dir();
        let port = free_port();
        let ini = dir.path().join("pgbouncer.ini");
        let users = dir.path().join("userlist.txt");
        std::fs::write(&users, format!("\"{USER}\" \"{PASSWORD}\"\n")).unwrap();
        std::fs::write(
            &ini,
            format!(
                "[databases]\n\
                 {DB} = host=127.0.0.1 port={} dbname={DB}\n\
                 [pgbouncer]\n\
                 listen_addr = 127.0.0.1\n\
                 listen_port = {port}\n\
                 unix_socket_dir =\n\
                 auth_type = scram-sha-256\n\
                 auth_file = {}\n\
                 pool_mode = transaction\n\
                 default_pool_size = 4\n\
                 logfile = {}\n",
                server.port,
                users.display(),
                dir.path().join("pgbouncer.log").display(),
            ),
        )
        .unwrap();
        if super::is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success());
        }
        let run_as = if super::is_root() {
            "runuser -u postgres -- "
        } else {
            ""
        };
        let script = format!(
            "{run_as}/usr/sbin/pgbouncer '{}' </dev/null >/dev/null 2>&1 & bouncer=$!\n\
             while kill -0 {} 2>/dev/null && kill -0 $bouncer 2>/dev/null; do sleep 0.3; done\n\
             kill -TERM $bouncer 2>/dev/null; wait",
            ini.display(),
            std::process::id(),
        );
        let watchdog = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pgbouncer (apt-get install pgbouncer)");
        wait_for_port(port, Duration::from_secs(10));
        PgBouncer {
            port,
            _dir: dir,
            _watchdog: watchdog,
        }
    }

    /// `postgres://app:PASSWORD@127.0.0.1:PORT/appdb` through PgBouncer, plus `extra`.
    pub fn url(&self, extra: &str) -> String {
        format!(
            "postgres://{USER}:{PASSWORD}@127.0.0.1:{}/{DB}{extra}",
            self.port
        )
    }
}
