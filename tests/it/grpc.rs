//! `probe grpc` against real grpcio servers (health service SERVING, a named service
//! switched to NOT_SERVING, a server without the health service, TLS and mutual TLS with
//! the test CA) and against fakes for silence, garbage, an HTTP status other than 200 and
//! a TLS server that chose no ALPN protocol.

use std::time::Duration;

use crate::support::grpc::{settings_then, GrpcServer};
use crate::support::http::{Response, Server};
use crate::support::peer::{replies, tls_config, Peer, Step};
use crate::support::pki::pki;
use crate::support::{command, free_port, probe, Run};

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(run.stdout.trim()).unwrap_or_else(|_| panic!("not JSON: {run:#?}"))
}

#[test]
fn overall_health_serving_is_healthy_as_command_and_target() {
    let server = GrpcServer::start();
    probe(&["grpc", &server.addr()])
        .code(0)
        .says("healthy: grpc grpc://127.0.0.1:")
        .says("SERVING")
        .short();
    probe(&["grpc", &format!("grpc://localhost:{}", server.port)]).code(0);
    probe(&["check", &format!("grpc://{}", server.addr())])
        .code(0)
        .says("SERVING");
    let quoted = format!("grpc {} --service probe.Test --timeout 2s", server.addr());
    probe(&["wait-for", &quoted, "--timeout", "10s"]).code(0);

    let run = probe(&["grpc", &server.addr(), "--json"]);
    run.code(0);
    let value = json(&run);
    assert_eq!(value["check"], "grpc");
    assert_eq!(value["healthy"], true);
    assert_eq!(value["detail"], "SERVING");
}

#[test]
fn a_named_service_follows_its_status() {
    let mut server = GrpcServer::start();
    let args = ["grpc", &server.addr(), "--service", "probe.Test"].map(String::from);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    probe(&args)
        .code(0)
        .says("service \"probe.Test\"")
        .says("SERVING");

    server.set("probe.Test", "NOT_SERVING");
    let run = probe(&[&args[..], &["--json"]].concat());
    run.code(1);
    let value = json(&run);
    assert_eq!(value["detail"], "NOT_SERVING");
    assert_eq!(value["fatal"], false);
    // The overall health is separate.
    probe(&["grpc", &server.addr()]).code(0);

    server.set("probe.Test", "UNKNOWN");
    probe(&args).code(1).says("UNKNOWN").does_not_say("fatal");

    // wait-for keeps waiting through NOT_SERVING and is ready once the service serves.
    server.set("probe.Test", "NOT_SERVING");
    let target = format!("grpc {} --service probe.Test", server.addr());
    let child = command(&["wait-for", &target, "--timeout", "20s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    server.set("probe.Test", "SERVING");
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
}

#[test]
fn an_unknown_service_is_fatal_and_names_it() {
    let server = GrpcServer::start();
    probe(&["grpc", &server.addr(), "--service", "no.Such"])
        .code(1)
        .says("fatal")
        .says("service \"no.Such\" is unknown")
        .says("NOT_FOUND");
    // wait-for stops at once on a fatal result.
    let target = format!("grpc {} --service no.Such", server.addr());
    probe(&["wait-for", &target, "--timeout", "30s"])
        .code(1)
        .within(Duration::from_secs(10));
}

#[test]
fn a_server_without_the_health_service_is_fatal_with_a_hint() {
    let server = GrpcServer::without_health();
    probe(&["grpc", &server.addr()])
        .code(1)
        .says("fatal")
        .says("no gRPC health service")
        .says("UNIMPLEMENTED")
        .says("grpc.health.v1.Health");
}

#[test]
fn tls_with_the_test_ca_client_certificates_and_rejections() {
    let pki = pki();
    let ca = pki.ca.cert.to_str().unwrap();
    let server = GrpcServer::tls(false);
    let local = format!("grpcs://localhost:{}", server.port);
    probe(&["grpc", &local, "--ca-file", ca])
        .code(0)
        .says("SERVING");
    probe(&["grpc", &server.addr(), "--tls", "--ca-file", ca]).code(0);
    probe(&["grpc", &server.addr(), "--tls", "--insecure"]).code(0);
    probe(&["check", &local]).code(1).says("unknown issuer");
    probe(&[
        "grpc",
        &local,
        "--ca-file",
        pki.other_ca.cert.to_str().unwrap(),
    ])
    .code(1)
    .says("fatal")
    .says("unknown issuer");
    probe(&[
        "grpc",
        &local,
        "--ca-file",
        ca,
        "--server-name",
        "wrong.example",
    ])
    .code(1)
    .says("fatal")
    .says("not valid for name wrong.example");
    // Cleartext against a TLS port: a reason, not garbage.
    probe(&["grpc", &server.addr()])
        .code(1)
        .does_not_say("fatal")
        .short();

    let mutual = GrpcServer::tls(true);
    let local = format!("grpcs://localhost:{}", mutual.port);
    probe(&["grpc", &local, "--ca-file", ca]).code(1);
    probe(&[
        "grpc",
        &local,
        "--ca-file",
        ca,
        "--cert",
        pki.client.cert.to_str().unwrap(),
        "--key",
        pki.client.key.to_str().unwrap(),
    ])
    .code(0)
    .says("SERVING");
}

#[test]
fn metadata_is_sent_and_never_printed() {
    let server = GrpcServer::start();
    let secret = "Bearer s3cret-t0ken";
    probe(&[
        "grpc",
        &server.addr(),
        "-H",
        &format!("authorization: {secret}"),
    ])
    .code(0);
    probe(&[
        "grpc",
        &server.addr(),
        "-H",
        &format!("authorization: {secret}"),
        "--service",
        "s3cret-t0ken",
    ])
    .code(1)
    .does_not_say("s3cret-t0ken");
    probe(&["grpc", &server.addr(), "-H", "bad key: s3cret-t0ken"])
        .code(3)
        .does_not_say("s3cret-t0ken");
}

#[test]
fn refused_is_retryable_and_silence_times_out() {
    let port = free_port();
    let run = probe(&["grpc", &format!("127.0.0.1:{port}"), "--json"]);
    run.code(1);
    let value = json(&run);
    assert_eq!(value["fatal"], false);
    assert!(value["detail"]
        .as_str()
        .unwrap()
        .contains("connection refused"));

    let silent = Peer::tcp(vec![Step::Silent]);
    probe(&[
        "grpc",
        &format!("127.0.0.1:{}", silent.port()),
        "--timeout",
        "1s",
    ])
    .code(1)
    .says("timed out after 1s waiting for the health response")
    .within(Duration::from_secs(3));
    silent.finish();
    // SETTINGS a byte at a time, forever: the deadline still holds.
    let trickle = Peer::tcp(vec![Step::Trickle(
        settings_then(&[0; 64]),
        Duration::from_millis(100),
    )]);
    probe(&[
        "grpc",
        &format!("127.0.0.1:{}", trickle.port()),
        "--timeout",
        "1s",
    ])
    .code(1)
    .says("timed out after 1s")
    .within(Duration::from_secs(3));
    trickle.finish();
    let tls_silent = Peer::tcp(vec![Step::Silent]);
    probe(&[
        "grpc",
        &format!("grpcs://127.0.0.1:{}", tls_silent.port()),
        "--timeout",
        "1s",
    ])
    .code(1)
    .says("timed out after 1s during TLS handshake");
    tls_silent.finish();
}

#[test]
fn an_http1_server_or_garbage_gets_a_clear_reason() {
    let rest = Server::http(|_| Response::new(200, "ok"));
    probe(&["grpc", &format!("127.0.0.1:{}", rest.port)])
        .code(1)
        .says("the server does not speak HTTP/2")
        .short();
    let http1 = Peer::tcp(replies(
        &b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"[..],
    ));
    probe(&["grpc", &format!("127.0.0.1:{}", http1.port())])
        .code(1)
        .says("the server does not speak HTTP/2 (it answered HTTP/1.1");
    let binary = Peer::tcp(replies(&b"\x00\x01\x02\x03\xff\xfe\xfd\xfc\xfb\xfa"[..]));
    probe(&["grpc", &format!("127.0.0.1:{}", binary.port())])
        .code(1)
        .says("does not speak HTTP/2")
        .short();
    // A 16 MiB frame announced: refused, not allocated.
    let huge = Peer::tcp(replies(settings_then(&[
        0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 1,
    ])));
    probe(&["grpc", &format!("127.0.0.1:{}", huge.port())])
        .code(1)
        .says("HTTP/2 error: the server sent a 16777215-byte frame");
    let calm = Peer::tcp(replies(settings_then(&[
        0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11,
    ])));
    probe(&["grpc", &format!("127.0.0.1:{}", calm.port())])
        .code(1)
        .says("GOAWAY ENHANCE_YOUR_CALM");
    let closed = Peer::tcp(replies(Vec::new()));
    probe(&["grpc", &format!("127.0.0.1:{}", closed.port())])
        .code(1)
        .says("closed by the server");
    for peer in [http1, binary, huge, calm, closed] {
        peer.finish();
    }
}

#[test]
fn bad_options_are_usage_errors() {
    for args in [
        &["grpc", "localhost"][..],
        &["grpc", "http://localhost:1"],
        &["grpc", "grpc://localhost:1", "--tls"],
        &["grpc", "localhost:1", "--ca-file", "/nonexistent"],
        &["grpc", "localhost:1", "--insecure"],
        &["grpc", "grpcs://localhost:1", "--ca-file", "/nonexistent"],
        &["grpc", "localhost:1", "-H", "novalue"],
    ] {
        probe(args).code(3);
    }
}

/// A SERVING reply on stream 1 whose HEADERS carry `:status` as the HPACK byte `status`
/// (0x88 is 200, 0x8e is 500): SETTINGS, HEADERS, the message, trailers `grpc-status: 0`.
fn serving_with_status(status: u8) -> Vec<u8> {
    let mut reply = settings_then(&[0, 0, 1, 1, 4, 0, 0, 0, 1, status]);
    reply.extend_from_slice(&[0, 0, 7, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 2, 8, 1]);
    reply.extend_from_slice(&[0, 0, 15, 1, 5, 0, 0, 0, 1, 0, 11]);
    reply.extend_from_slice(b"grpc-status\x010");
    reply
}

#[test]
fn an_http_status_other_than_200_is_unhealthy_whatever_the_body() {
    let ok = Peer::tcp(replies(serving_with_status(0x88)));
    probe(&["grpc", &format!("127.0.0.1:{}", ok.port())])
        .code(0)
        .says("SERVING");
    ok.finish();
    // A proxy or a failing server: :status 500, yet a SERVING body and grpc-status 0.
    let failing = Peer::tcp(replies(serving_with_status(0x8e)));
    probe(&["grpc", &format!("127.0.0.1:{}", failing.port())])
        .code(1)
        .says("unhealthy: ")
        .says("HTTP status 500, not 200")
        .short();
    failing.finish();
}

#[test]
fn grpcs_requires_alpn_h2() {
    let ca = pki().ca.cert.to_str().unwrap().to_string();
    let script = || replies(serving_with_status(0x88));
    // The scripted server answers SERVING either way: only ALPN differs.
    let h2 = Peer::tls(tls_config(&[b"h2"]), script());
    probe(&[
        "grpc",
        &format!("grpcs://localhost:{}", h2.port()),
        "--ca-file",
        &ca,
    ])
    .code(0)
    .says("SERVING");
    h2.finish();
    let none = Peer::tls(tls_config(&[]), script());
    probe(&[
        "grpc",
        &format!("grpcs://localhost:{}", none.port()),
        "--ca-file",
        &ca,
    ])
    .code(1)
    .says("the TLS server did not agree to HTTP/2 (no ALPN h2")
    .short();
    drop(none);
}
