//! `probe mongodb` from the command line against a real SecantusDB: as a one-shot check,
//! a `mongodb://` TARGET and in wait-for; `mongodb+srv://` with its SRV and TXT records in
//! a real dnsmasq; TLS (implied by `mongodb+srv://`). The unit tests in
//! src/probe/mongodb/ hold the logins (SCRAM-SHA-256 and SHA-1), `--query` and the
//! scripted peers; the hostile table and the secrets audit have mongodb rows too.

use crate::support::dnsmasq::Dnsmasq;
use crate::support::mongodb::Secantus;
use crate::support::pki::pki;
use crate::support::{free_port, probe, probe_env};

#[test]
fn up_as_a_check_a_target_and_in_wait_for() {
    let server = Secantus::start();
    let url = server.url();
    probe(&["mongodb", &url])
        .code(0)
        .says("hello ok: primary of replica set secantus");
    probe_env(&["mongodb"], &[("MONGODB_URL", &url)]).code(0);
    probe(&["check", &url]).code(0);
    probe(&["wait-for", "-q", "--timeout", "10s", &url]).code(0);
    probe(&[
        "check",
        &format!("mongodb {url} --query '{{\"ping\":1}}' --expect /ok=1"),
    ])
    .code(0)
    .says("ping ok, /ok is 1");
    probe(&[
        "mongodb",
        &url,
        "--query",
        r#"{"replSetGetStatus":1}"#,
        "--expect",
        "/set=rs9",
    ])
    .code(1)
    .says(r#"replSetGetStatus: /set is "secantus" (expected "rs9")"#);
    probe(&["mongodb", &url, "--role", "secondary", "--json"])
        .code(1)
        .says(r#""healthy":false"#)
        .says("expected a secondary");
    let closed = format!("mongodb://127.0.0.1:{}/", free_port());
    probe(&["mongodb", &closed]).code(1).says("refused");
    // Bad input: exit 3 before anything is sent.
    probe(&["mongodb", &url, "--expect", "/ok=1"])
        .code(3)
        .says("--expect needs --query");
    probe(&["mongodb", &url, "--query", "{ping:1}"])
        .code(3)
        .says("--query is not JSON");
    probe(&["mongodb", &url, "--dns-server", "127.0.0.1"])
        .code(3)
        .says("mongodb+srv://");
}

/// dnsmasq with the records of `mongodb+srv://` names under test.internal, pointing to
/// `port` (plain) and `tls_port` (TLS) on 127.0.0.1.
fn dns(port: u16, tls_port: u16) -> Dnsmasq {
    let records = [
        "--host-record=db1.test.internal,127.0.0.1".to_string(),
        "--host-record=db2.test.internal,127.0.0.1".into(),
        "--host-record=db.other.internal,127.0.0.1".into(),
        format!("--srv-host=_mongodb._tcp.cluster.test.internal,db1.test.internal,{port}"),
        "--txt-record=cluster.test.internal,replicaSet=secantus&authSource=admin".into(),
        format!("--srv-host=_mongodb._tcp.tls.test.internal,db2.test.internal,{tls_port}"),
        format!("--srv-host=_mongodb._tcp.evil.test.internal,db.other.internal,{port}"),
        format!("--srv-host=_mongodb._tcp.badtxt.test.internal,db1.test.internal,{port}"),
        "--txt-record=badtxt.test.internal,tls=false".into(),
        format!("--srv-host=_mongodb._tcp.otherset.test.internal,db1.test.internal,{port}"),
        "--txt-record=otherset.test.internal,replicaSet=rs9".into(),
        format!("--srv-host=_custom._tcp.svc.test.internal,db1.test.internal,{port}"),
    ];
    Dnsmasq::start("test.internal", &records)
}

#[test]
fn srv_records_give_the_hosts_and_txt_the_options() {
    let server = Secantus::start();
    let tls = Secantus::tls(&pki().server.cert, &pki().server.key);
    let dns = dns(server.port, tls.port);
    let at = dns.server();
    let srv = |name: &str, args: &[&str]| {
        let mut words = vec![
            "mongodb".to_string(),
            name.to_string(),
            "--dns-server".into(),
            at.clone(),
        ];
        words.extend(args.iter().map(|arg| arg.to_string()));
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        probe(&words)
    };
    srv("mongodb+srv://cluster.test.internal/?tls=false", &[])
        .code(0)
        .says("hello ok: primary of replica set secantus");
    // The TXT record's replicaSet is checked; the URL's own wins over it.
    srv("mongodb+srv://otherset.test.internal/?tls=false", &[])
        .code(1)
        .says(r#"expected replica set "rs9""#);
    srv(
        "mongodb+srv://otherset.test.internal/?tls=false&replicaSet=secantus",
        &[],
    )
    .code(0);
    srv(
        "mongodb+srv://svc.test.internal/?tls=false&srvServiceName=custom",
        &[],
    )
    .code(0);
    // The spec's refusals: a host outside the name's domain, a TXT option it may not set.
    srv("mongodb+srv://evil.test.internal/?tls=false", &[])
        .code(1)
        .says("points to db.other.internal, outside its domain");
    srv("mongodb+srv://badtxt.test.internal/?tls=false", &[])
        .code(1)
        .says("TXT record of badtxt.test.internal: option tls");
    srv("mongodb+srv://nothing.test.internal/?tls=false", &[])
        .code(1)
        .says("NXDOMAIN for _mongodb._tcp.nothing.test.internal");
    // mongodb+srv:// means TLS: a plain server does not answer the handshake, a TLS one
    // does, its certificate checked against the SRV host's name (the test PKI's server
    // certificate is for localhost, so only -k accepts it).
    srv("mongodb+srv://cluster.test.internal/", &["--timeout", "2s"])
        .code(1)
        .says("TLS");
    srv("mongodb+srv://tls.test.internal/", &["-k"])
        .code(0)
        .says("primary of replica set secantus");
    srv(
        "mongodb+srv://tls.test.internal/",
        &["--ca-file", pki().ca.cert.to_str().unwrap()],
    )
    .code(1)
    .says("db2.test.internal");
    // As a TARGET line and in wait-for.
    let line = format!("mongodb mongodb+srv://cluster.test.internal/?tls=false --dns-server {at}");
    probe(&["check", &line]).code(0);
    probe(&["wait-for", "-q", "--timeout", "10s", &line]).code(0);
    // A DNS server that does not answer: the check's own deadline.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent = silent.local_addr().unwrap().to_string();
    probe(&[
        "mongodb",
        "mongodb+srv://cluster.test.internal/?tls=false",
        "--dns-server",
        &silent,
        "--timeout",
        "500ms",
    ])
    .code(1)
    .says("timed out after 500ms");
}
