//! `probe tcp` against real listening and closed ports.

use std::net::TcpListener;
use std::time::Duration;

use crate::support::{free_port, probe, probe_env};

#[test]
fn listening_port_is_healthy_and_closed_port_is_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let open = listener.local_addr().unwrap().port().to_string();
    let closed = free_port().to_string();
    probe(&["tcp", &format!("127.0.0.1:{open}")])
        .code(0)
        .says("healthy: tcp");
    probe(&["tcp", &format!("127.0.0.1:{closed}")])
        .code(1)
        .says("connection refused")
        .short();
}

#[test]
fn variables_expand_in_arguments() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    probe_env(
        &["tcp", "${PROBE_TEST_HOST:-127.0.0.1}:${PROBE_TEST_PORT}"],
        &[("PROBE_TEST_PORT", &port)],
    )
    .code(0);
}

#[test]
fn unresolvable_names_say_so() {
    probe(&["tcp", "no-such-host.invalid:80", "--timeout", "3s"])
        .code(1)
        .says("does not resolve")
        .within(Duration::from_secs(6));
}

/// A real memcached on a free port, stopped when dropped.
struct Memcached {
    child: std::process::Child,
    port: u16,
}

impl Memcached {
    fn start() -> Memcached {
        let port = free_port();
        let mut command = std::process::Command::new("memcached");
        command.args([
            "-l",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "0",
            "-m",
            "16",
        ]);
        if crate::support::is_root() {
            command.args(["-u", "root"]);
        }
        let child = command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("memcached (Debian's memcached package; scripts/test installs it)");
        crate::support::wait_for_port(port, Duration::from_secs(10));
        Memcached { child, port }
    }
}

impl Drop for Memcached {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn send_and_expect_ask_memcached_as_a_command_a_target_and_in_wait_for() {
    let server = Memcached::start();
    let target = format!("127.0.0.1:{}", server.port);
    probe(&[
        "tcp",
        &target,
        "--send",
        r"version\r\n",
        "--expect",
        "VERSION",
    ])
    .code(0)
    .says(r#"reply "VERSION 1."#);
    let line = format!(r"tcp {target} --send 'stats\r\n' --expect END");
    probe(&["check", &line]).code(0).says("STAT pid");
    probe(&["wait-for", "-q", &line, "--timeout", "5s"]).code(0);
    // memcached keeps the connection open: a reply without the text ends at the deadline,
    // with what came in the reason.
    probe(&[
        "tcp",
        &target,
        "--send",
        r"version\r\n",
        "--expect",
        "imok",
        "--timeout",
        "500ms",
    ])
    .code(1)
    .says(r#"waiting for "imok" in the reply (got "VERSION"#)
    .within(Duration::from_secs(2));
    // A plain connect still needs nothing more, and TLS options need --tls.
    probe(&["tcp", &target]).code(0).says("connected to");
    probe(&["tcp", &target, "-k"]).code(3).says("need --tls");
    probe(&["tcp", &target, "--send", r"\q"])
        .code(3)
        .says(r"unknown escape \q");
}

/// A server started by hand on a free port of 127.0.0.1, stopped when dropped.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn daemon(program: &str, args: &[&str], port: u16) -> Daemon {
    let child = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|error| panic!("{program} (scripts/test installs it): {error}"));
    let daemon = Daemon(child);
    crate::support::wait_for_port(port, Duration::from_secs(10));
    daemon
}

/// MQTT, a binary protocol, with escapes: CONNECT (clean session, empty client id),
/// then DISCONNECT; healthy on CONNACK "accepted". A real mosquitto.
#[test]
fn mqtt_connect_is_answered_by_mosquitto() {
    let port = free_port();
    let dir = crate::support::temp_dir();
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\n"),
    )
    .unwrap();
    let _broker = daemon(
        "/usr/sbin/mosquitto",
        &["-c", &conf.display().to_string()],
        port,
    );
    let target = format!("127.0.0.1:{port}");
    probe(&[
        "tcp",
        &target,
        "--send",
        r"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00\xe0\x00",
        "--expect",
        r"\x20\x02\x00\x00",
    ])
    .code(0)
    .says(r#"reply " \x02\0\0""#);
    // A broker that refuses anonymous clients answers CONNACK 5 (not authorized).
    let port = free_port();
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous false\n"),
    )
    .unwrap();
    let _strict = daemon(
        "/usr/sbin/mosquitto",
        &["-c", &conf.display().to_string()],
        port,
    );
    probe(&[
        "tcp",
        &format!("127.0.0.1:{port}"),
        "--send",
        r"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00",
        "--expect",
        r"\x20\x02\x00\x00",
        "--timeout",
        "1s",
    ])
    .code(1)
    .says(r"\x05");
}

/// LDAP: an anonymous simple bind (BindRequest, LDAPv3), healthy on BindResponse
/// "success". No unbind in the same send: slapd may act on it before it answers the bind. A real slapd with a configuration of its own in a temp dir
/// (no database: an anonymous bind needs none, and the system's is left alone).
#[test]
fn ldap_anonymous_bind_is_answered_by_slapd() {
    let port = free_port();
    let url = format!("ldap://127.0.0.1:{port}/");
    let dir = crate::support::temp_dir();
    let conf = dir.path().join("slapd.conf");
    std::fs::write(
        &conf,
        format!(
            "pidfile {0}/slapd.pid\nargsfile {0}/slapd.args\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let _slapd = daemon(
        "/usr/sbin/slapd",
        &["-h", &url, "-f", &conf.display().to_string(), "-d", "0"],
        port,
    );
    let bind = r"\x30\x0c\x02\x01\x01\x60\x07\x02\x01\x03\x04\x00\x80\x00";
    let line = format!(r"tcp 127.0.0.1:{port} --send '{bind}' --expect '\x61\x07\x0a\x01\x00'");
    // slapd listens before it serves (connections in between are closed): the recipe in
    // wait-for is how a user waits for it, and then holds as a one-shot check.
    probe(&["wait-for", "-q", "--timeout", "10s", &line]).code(0);
    probe(&["check", &line]).code(0).says(r"a\x07\n\x01\0");
}
