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
