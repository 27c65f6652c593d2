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
