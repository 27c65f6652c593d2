//! The dns check against a real dnsmasq (with dig as the referee of the codec) and a
//! scripted UDP peer for silence, garbage, wrong IDs, pointer loops and endless truncation.

mod support;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use self::support::{reply_to, Dnsmasq, Peer, MANY, ONE_A};
use super::*;
use crate::deadline::Deadline;

const TYPE_NAMES: [&str; 7] = ["A", "AAAA", "CNAME", "MX", "SRV", "TXT", "NS"];

fn settings(name: &str, record_type: &str, server: Option<&str>, expect: &[&str]) -> DnsSettings {
    DnsSettings {
        record_type: Some(record_type.into()),
        server: server.map(String::from),
        expect: expect.iter().map(|value| value.to_string()).collect(),
        resolv_conf: PathBuf::from("/nonexistent/resolv.conf"),
        hosts: PathBuf::from("/nonexistent/hosts"),
        ..DnsSettings::new(name)
    }
}

fn run(check: &DnsCheck, budget: Duration) -> (Outcome, Duration) {
    let started = Instant::now();
    let outcome = check.run(&Deadline::start(budget));
    (outcome, started.elapsed())
}

/// dnsmasq rotates the order of api.probe.test's two addresses.
fn in_order(detail: &str) -> String {
    detail.replace("10.0.0.6, 10.0.0.5", "10.0.0.5, 10.0.0.6")
}

fn check(name: &str, record_type: &str, server: &str, expect: &[&str]) -> Outcome {
    let check = DnsCheck::new(settings(name, record_type, Some(server), expect)).unwrap();
    run(&check, Duration::from_secs(5)).0
}

#[test]
fn the_codec_reads_what_dig_reads() {
    let server = Dnsmasq::start();
    let addr: SocketAddr = server.server().parse().unwrap();
    let cases = [
        ("api.probe.test", "A"),
        ("many.probe.test", "A"),
        ("www.probe.test", "A"),
        ("v6.probe.test", "AAAA"),
        ("www.probe.test", "CNAME"),
        ("probe.test", "MX"),
        ("_http._tcp.probe.test", "SRV"),
        ("txt.probe.test", "TXT"),
        ("ns.probe.test", "NS"),
    ];
    for (name, type_name) in cases {
        let qtype = TYPES.iter().find(|(t, _)| *t == type_name).unwrap().1;
        let deadline = Deadline::start(Duration::from_secs(5));
        let reply = exchange::ask(addr, name, qtype, &deadline).unwrap();
        let mut ours: Vec<String> = reply
            .of_type(qtype)
            .map(|data| match data {
                Data::Txt(text) => String::from_utf8(text.clone()).unwrap(),
                other => show(other),
            })
            .collect();
        let mut digs = server.dig(name, type_name);
        ours.sort();
        digs.sort();
        assert!(!digs.is_empty(), "{name} {type_name}: dig found nothing");
        assert_eq!(ours, digs, "{name} {type_name}");
    }
}

#[test]
fn every_type_answers_through_the_check() {
    let server = Dnsmasq::start();
    let at = server.server();
    let healthy = [
        ("api.probe.test", "a", vec!["10.0.0.6", "10.0.0.5"]),
        ("v6.probe.test", "AAAA", vec!["fd00:0::5"]),
        ("www.probe.test", "Cname", vec!["API.probe.test."]),
        (
            "probe.test",
            "MX",
            vec!["10 mail.probe.test", "mail.probe.test."],
        ),
        (
            "_http._tcp.probe.test",
            "SRV",
            vec![
                "1 5 8080 api.probe.test",
                "www.probe.test:8081",
                "api.probe.test",
            ],
        ),
        ("txt.probe.test", "TXT", vec!["v=spf1 -allsecond part"]),
        ("ns.probe.test", "NS", vec!["ns1.probe.test"]),
    ];
    for (name, record_type, expect) in healthy {
        let outcome = check(name, record_type, &at, &expect);
        assert!(outcome.is_healthy(), "{name} {record_type}: {outcome:?}");
        assert!(!outcome.is_fatal());
    }
    let outcome = check("www.probe.test", "A", &at, &[]);
    assert_eq!(
        in_order(&outcome.detail),
        format!("A 10.0.0.5, 10.0.0.6 from {at}")
    );
    let outcome = check("txt.probe.test", "TXT", &at, &[]);
    assert_eq!(
        outcome.detail,
        format!("TXT \"v=spf1 -allsecond part\" from {at}")
    );
}

#[test]
fn absent_names_records_and_values_are_named() {
    let server = Dnsmasq::start();
    let at = server.server();
    let outcome = check("nope.probe.test", "A", &at, &[]);
    assert_eq!(
        outcome.detail,
        format!("NXDOMAIN for nope.probe.test from {at}")
    );
    assert!(!outcome.is_healthy() && !outcome.is_fatal());
    let outcome = check("api.probe.test", "MX", &at, &[]);
    assert_eq!(
        outcome.detail,
        format!("no MX record for api.probe.test from {at}")
    );
    let outcome = check(
        "api.probe.test",
        "A",
        &at,
        &["10.0.0.5", "10.0.0.9", "10.0.0.8"],
    );
    assert_eq!(
        in_order(&outcome.detail),
        format!("expected 10.0.0.9, 10.0.0.8, got A 10.0.0.5, 10.0.0.6 from {at}")
    );
    let outcome = check("probe.test", "MX", &at, &["20 mail.probe.test"]);
    assert!(!outcome.is_healthy(), "{outcome:?}");
    let outcome = check(
        "_http._tcp.probe.test",
        "SRV",
        &at,
        &["api.probe.test:8081"],
    );
    assert!(!outcome.is_healthy(), "{outcome:?}");
    // Outside dnsmasq's local domain, with no upstream: REFUSED.
    let outcome = check("example.com", "A", &at, &[]);
    assert_eq!(outcome.detail, format!("REFUSED for example.com from {at}"));
}

#[test]
fn a_long_answer_is_asked_again_over_tcp() {
    let server = Dnsmasq::start();
    let outcome = check("many.probe.test", "A", &server.server(), &["10.1.0.59"]);
    assert!(outcome.is_healthy(), "{outcome:?}");
    assert!(
        outcome
            .detail
            .ends_with(&format!(" and {} more from {}", MANY - 5, server.server())),
        "{outcome:?}"
    );
}

#[test]
fn resolv_conf_search_and_hosts_as_musl_applies_them() {
    let server = Dnsmasq::start();
    let dir = tempfile::tempdir().unwrap();
    let resolv_conf = dir.path().join("resolv.conf");
    std::fs::write(
        &resolv_conf,
        "nameserver 127.0.0.1\nsearch nothing.probe.test probe.test\noptions ndots:2\n",
    )
    .unwrap();
    let hosts = dir.path().join("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n10.9.9.9 api.probe.test\n").unwrap();
    let system = |name: &str, record_type: &str| {
        let mut check = DnsCheck::new(DnsSettings {
            resolv_conf: resolv_conf.clone(),
            hosts: hosts.clone(),
            ..settings(name, record_type, None, &[])
        })
        .unwrap();
        check.dns_port = server.port;
        run(&check, Duration::from_secs(5)).0
    };
    let from = format!("127.0.0.1:{}", server.port);
    // The hosts file answers first, and only for A and AAAA.
    assert_eq!(
        system("api.probe.test", "A").detail,
        format!("A 10.9.9.9 from {}", hosts.display())
    );
    let outcome = system("api.probe.test", "AAAA");
    assert_eq!(
        outcome.detail,
        format!("no AAAA record for api.probe.test from {}", hosts.display())
    );
    assert_eq!(
        system("www.probe.test", "CNAME").detail,
        format!("CNAME api.probe.test from {from}")
    );
    // Fewer dots than ndots: the search list, past its NXDOMAIN, then the name.
    assert_eq!(
        in_order(&system("www", "A").detail),
        format!("www.probe.test A 10.0.0.5, 10.0.0.6 from {from}")
    );
    assert_eq!(
        system("nope", "A").detail,
        format!("NXDOMAIN for nope.nothing.probe.test, nope.probe.test, nope from {from}")
    );
    // As many dots as ndots: asked as written only.
    assert_eq!(
        in_order(&system("www.probe.test", "A").detail),
        format!("A 10.0.0.5, 10.0.0.6 from {from}")
    );
    // A trailing dot: no search list (which would find www.probe.test).
    assert_eq!(
        system("www.", "A").detail,
        format!("NXDOMAIN for www from {from}")
    );
}

#[test]
fn a_silent_nameserver_gives_way_to_the_next() {
    let server = Dnsmasq::start();
    // A silent peer on 127.0.0.2 at dnsmasq's port (resolv.conf has no ports).
    let silent = std::net::UdpSocket::bind(("127.0.0.2", server.port)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let resolv_conf = dir.path().join("resolv.conf");
    std::fs::write(&resolv_conf, "nameserver 127.0.0.2\nnameserver 127.0.0.1\n").unwrap();
    let mut check = DnsCheck::new(DnsSettings {
        resolv_conf,
        ..settings("api.probe.test", "A", None, &[])
    })
    .unwrap();
    check.dns_port = server.port;
    let (outcome, elapsed) = run(&check, Duration::from_secs(2));
    assert!(outcome.is_healthy(), "{outcome:?}");
    assert!(elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(2));
    drop(silent);
}

#[test]
fn silence_is_a_timeout_within_the_deadline() {
    let peer = Peer::start(Box::new(|_, _| None), None);
    let check = DnsCheck::new(settings("x.test", "A", Some(&peer.addr.to_string()), &[])).unwrap();
    let (outcome, elapsed) = run(&check, Duration::from_millis(400));
    assert_eq!(
        outcome.detail,
        format!(
            "timed out after 400ms waiting for {} to answer for x.test",
            peer.addr
        )
    );
    assert!(elapsed < Duration::from_millis(480), "{elapsed:?}");
}

#[test]
fn a_lost_datagram_is_sent_again() {
    let answer_second =
        |index: usize, query: &[u8]| (index == 1).then(|| reply_to(query, [0x81, 0x80], 1, ONE_A));
    let peer = Peer::start(Box::new(answer_second), None);
    let check = DnsCheck::new(settings("x.test", "A", Some(&peer.addr.to_string()), &[])).unwrap();
    let (outcome, elapsed) = run(&check, Duration::from_secs(3));
    assert_eq!(outcome.detail, format!("A 192.0.2.1 from {}", peer.addr));
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
    assert_eq!(peer.queries.load(Ordering::SeqCst), 2);
}

#[test]
fn replies_that_are_not_ours_are_dropped_and_reported() {
    type Forge = fn(&[u8]) -> Vec<u8>;
    let forged: [(Forge, &str); 5] = [
        (
            |query| {
                let mut reply = reply_to(query, [0x81, 0x80], 1, ONE_A);
                reply[0] ^= 0xff;
                reply
            },
            "a reply with another ID",
        ),
        (
            |_| b"\xde\xad\xbe\xef garbage".to_vec(),
            "a reply with another ID",
        ),
        (|query| query.to_vec(), "not a reply (QR bit clear)"),
        (
            // An answer whose name points at itself.
            |query| {
                let at = query.len() as u8;
                let record = [0xc0, at, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4];
                reply_to(query, [0x81, 0x80], 1, &record)
            },
            "a compression pointer loop",
        ),
        (
            |query| reply_to(query, [0x81, 0x80], 3, ONE_A),
            "truncated name",
        ),
    ];
    for (forge, why) in forged {
        let peer = Peer::start(Box::new(move |_, query| Some(forge(query))), None);
        let check =
            DnsCheck::new(settings("x.test", "A", Some(&peer.addr.to_string()), &[])).unwrap();
        let (outcome, elapsed) = run(&check, Duration::from_millis(300));
        assert_eq!(
            outcome.detail,
            format!("malformed reply from {}: {why}", peer.addr)
        );
        assert!(elapsed < Duration::from_millis(380), "{elapsed:?}");
    }
}

#[test]
fn truncated_forever_ends_over_tcp() {
    let truncated = |_: usize, query: &[u8]| Some(reply_to(query, [0x83, 0x80], 0, b""));
    let peer = Peer::start(Box::new(truncated), Some(Box::new(truncated)));
    let check = DnsCheck::new(settings("x.test", "A", Some(&peer.addr.to_string()), &[])).unwrap();
    let (outcome, _) = run(&check, Duration::from_secs(2));
    assert_eq!(
        outcome.detail,
        format!(
            "truncated reply over UDP, then over TCP: malformed reply from {}: truncated over TCP too",
            peer.addr
        )
    );
    // No TCP listener: the refusal is the reason.
    let peer = Peer::start(Box::new(truncated), None);
    let check = DnsCheck::new(settings("x.test", "A", Some(&peer.addr.to_string()), &[])).unwrap();
    let (outcome, _) = run(&check, Duration::from_secs(2));
    assert_eq!(
        outcome.detail,
        format!(
            "truncated reply over UDP, then over TCP: connection refused ({})",
            peer.addr
        )
    );
}

#[test]
fn settings_are_checked_before_anything_is_sent() {
    let bad = |name: &str, record_type: &str, server: Option<&str>, expect: &[&str]| {
        DnsCheck::new(settings(name, record_type, server, expect))
            .err()
            .unwrap_or_else(|| panic!("{name} {record_type} {server:?} {expect:?} accepted"))
            .0
    };
    let long_label = "a".repeat(64);
    let long_name = ["a".repeat(63).as_str(); 4].join(".");
    for name in [
        "",
        ".",
        "a..b",
        ".a",
        "a b",
        "bücher.de",
        &long_label,
        &long_name,
        "a/b",
    ] {
        assert!(
            bad(name, "A", None, &[]).starts_with("dns: name "),
            "{name:?}"
        );
    }
    assert!(bad("10.0.0.1", "A", None, &[]).contains("reverse lookups"));
    assert_eq!(
        bad("x", "PTR", None, &[]),
        "dns: unknown --type \"PTR\" (A, AAAA, CNAME, MX, SRV, TXT or NS)"
    );
    assert!(bad("x", "A", Some("[::1"), &[]).starts_with("dns: --server"));
    assert!(bad("x", "A", Some("a b"), &[]).starts_with("dns: --server"));
    assert!(bad("x", "A", Some("10.0.0.1:0"), &[]).starts_with("dns: --server"));
    assert!(bad("x", "A", None, &["::1"]).contains("not an IPv4 address"));
    assert!(bad("x", "AAAA", None, &["10.0.0.1"]).contains("not an IPv6 address"));
    assert!(bad("x", "MX", None, &["x 10"]).contains("PREF HOST"));
    assert!(bad("x", "SRV", None, &["a:b"]).contains("HOST:PORT"));
    assert!(bad("x", "CNAME", None, &["a b"]).contains("a name"));

    for type_name in TYPE_NAMES {
        let lower = type_name.to_lowercase();
        assert!(DnsCheck::new(settings("_x._tcp.Example-1.com.", &lower, None, &[])).is_ok());
    }
    let check = DnsCheck::new(settings("db", "srv", Some("::1"), &[])).unwrap();
    assert_eq!(
        (check.kind(), check.target()),
        ("dns", "db SRV".to_string())
    );
    assert_eq!(check.server, Some(("::1".into(), 53)));
    let check = DnsCheck::new(settings("db", "A", Some("[::1]:5353"), &[])).unwrap();
    assert_eq!(
        (check.target(), check.server),
        ("db".into(), Some(("::1".into(), 5353)))
    );
    assert_eq!(listed(&["a"; 8]), "a, a, a, a, a and 3 more");
}
