//! `probe dns` from the command line, as a `dns://` TARGET and in wait-for, against a
//! real dnsmasq (the unit tests in src/probe/dns/ hold the codec's oracle, dig, and the
//! scripted peers).

use std::time::Duration;

use crate::support::dnsmasq::Dnsmasq;
use crate::support::probe;

fn app_test() -> Dnsmasq {
    Dnsmasq::start(
        "app.test",
        &[
            "--host-record=db.app.test,10.0.0.5".into(),
            "--srv-host=_pg._tcp.app.test,db.app.test,5432".into(),
        ],
    )
}

#[test]
fn names_records_and_expectations_through_every_door() {
    let dns = app_test();
    let server = format!("127.0.0.1:{}", dns.port);
    probe(&["dns", "db.app.test", "--server", &server])
        .code(0)
        .says("A 10.0.0.5");
    probe(&[
        "dns",
        "db.app.test",
        "--server",
        &server,
        "--expect",
        "10.0.0.5",
    ])
    .code(0);
    probe(&[
        "dns",
        "db.app.test",
        "--server",
        &server,
        "--expect",
        "10.0.0.9",
    ])
    .code(1)
    .says("expected 10.0.0.9");
    probe(&[
        "dns",
        "_pg._tcp.app.test",
        "--server",
        &server,
        "--type",
        "srv",
        "--expect",
        "db.app.test:5432",
    ])
    .code(0);
    probe(&["dns", "nope.app.test", "--server", &server])
        .code(1)
        .says("NXDOMAIN");
    // As a URL TARGET (RFC 4501's dns://SERVER/NAME?type=), a command-line TARGET, and in
    // wait-for.
    let url = format!("dns://{server}/_pg._tcp.app.test?type=SRV");
    probe(&["check", &url]).code(0).says("SRV");
    probe(&[
        "check",
        &format!("dns db.app.test --server {server} --expect 10.0.0.5"),
    ])
    .code(0);
    probe(&[
        "wait-for",
        "-q",
        "--timeout",
        "5s",
        &format!("dns://{server}/db.app.test"),
    ])
    .code(0);
    // Bad input is a usage error before anything is sent.
    probe(&["dns", "10.0.0.1"]).code(3).says("IP address");
    probe(&["dns", "db", "--type", "PTR"])
        .code(3)
        .says("unknown --type");
    probe(&["dns", "a..b"]).code(3);
}

#[test]
fn a_silent_server_is_timed_out_and_named() {
    // A UDP socket that never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let server = silent.local_addr().unwrap().to_string();
    probe(&[
        "dns",
        "db.app.test",
        "--server",
        &server,
        "--timeout",
        "500ms",
    ])
    .code(1)
    .says("timed out after 500ms")
    .within(Duration::from_millis(1200));
}
