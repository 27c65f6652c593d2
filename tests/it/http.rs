//! `probe http` against real HTTP(S) servers and hostile peers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::http::{unix_server, Response, Server, Tls};
use crate::support::peer::{replies, Peer, Step};
use crate::support::pki::pki;
use crate::support::{probe, probe_env, temp_dir};

fn json(status: u16, body: &str) -> Response {
    Response::new(status, body).header("Content-Type", "application/json")
}

#[test]
fn status_decides_by_default() {
    let server = Server::http(|request| match request.path.as_str() {
        "/ok" => Response::new(200, "fine"),
        "/moved" => Response::new(302, "").header("Location", "/ok"),
        _ => Response::new(503, "down"),
    });
    probe(&["http", &server.url("/ok")])
        .code(0)
        .says("healthy: http")
        .says("status 200");
    probe(&["http", &server.url("/down")])
        .code(1)
        .says("status 503")
        .short();
    probe(&["http", &server.url("/down"), "--expect-status", "500-503"]).code(0);
    // A redirect is not followed unless asked: by default 3xx counts, like curl -f.
    probe(&["http", &server.url("/moved")])
        .code(0)
        .says("status 302");
    probe(&["http", &server.url("/moved"), "--expect-status", "200"])
        .code(1)
        .says("status 302, redirect to /ok");
    probe(&[
        "http",
        &server.url("/moved"),
        "--expect-status",
        "200",
        "-L",
    ])
    .code(0)
    .says("status 200");
}

#[test]
fn a_200_with_an_unhealthy_body_is_unhealthy() {
    let server = Server::http(|request| match request.path.as_str() {
        "/health" => json(200, r#"{"status":"unhealthy","checks":{"db":"down"}}"#),
        "/es" => json(200, r#"{"status":"yellow","timed_out":false}"#),
        _ => Response::new(200, "<html>ok</html>"),
    });
    probe(&[
        "http",
        &server.url("/health"),
        "--expect-json",
        "/status=ok",
    ])
    .code(1)
    .says(r#"/status is "unhealthy""#);
    probe(&[
        "http",
        &server.url("/health"),
        "--expect-json",
        "/checks/db=up",
    ])
    .code(1)
    .says(r#"/checks/db is "down""#);
    probe(&[
        "http",
        &server.url("/es"),
        "--expect-json",
        "/status=green",
        "--expect-json",
        "/status=yellow",
    ])
    .code(0)
    .says(r#"/status is "yellow""#);
    probe(&[
        "http",
        &server.url("/es"),
        "--expect-json",
        "/timed_out=false",
        "--expect-json",
        "/status=green",
    ])
    .code(1)
    .says(r#"expected "green""#);
    probe(&["http", &server.url("/page"), "--body-contains", "ok"]).code(0);
    probe(&["http", &server.url("/page"), "--body-contains", "healthy"])
        .code(1)
        .says(r#"body lacks "healthy""#);
    probe(&["http", &server.url("/page"), "--expect-json", "/status=ok"])
        .code(1)
        .says("body is not JSON");
}

#[test]
fn method_headers_host_and_body_reach_the_server() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let server = Server::http(move |request| {
        record.lock().unwrap().push(request.clone());
        Response::new(200, "")
    });
    probe(&["http", &server.url("/a")]).code(0);
    probe(&["http", &server.url("/b"), "-X", "HEAD"]).code(0);
    probe(&[
        "http",
        &server.url("/c"),
        "-X",
        "POST",
        "-d",
        "ping",
        "-H",
        "X-Probe: yes",
        "--host",
        "api.internal",
    ])
    .code(0);
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen[0].method, "GET",
        "GET by default, not HEAD like wget --spider"
    );
    assert_eq!(seen[1].method, "HEAD");
    assert_eq!(seen[2].method, "POST");
    assert_eq!(seen[2].header("x-probe"), Some("yes"));
    assert_eq!(seen[2].header("host"), Some("api.internal"));
    assert_eq!(seen[2].header("content-length"), Some("4"));
}

#[test]
fn url_credentials_become_basic_auth_and_never_appear_in_output() {
    let server = Server::http(|request| match request.header("authorization") {
        // base64("app:s3cr3t!")
        Some("Basic YXBwOnMzY3IzdCE=") => Response::new(200, ""),
        _ => Response::new(401, ""),
    });
    let with_password = format!("http://app:s3cr3t%21@127.0.0.1:{}/", server.port);
    probe(&["http", &with_password])
        .code(0)
        .does_not_say("s3cr3t");
    let wrong = format!("http://app:wr0ngpass@127.0.0.1:{}/", server.port);
    for run in [probe(&["http", &wrong]), probe(&["http", &wrong, "--json"])] {
        run.code(1)
            .says("status 401")
            .says("app:***@")
            .does_not_say("wr0ngpass");
    }
    probe(&[
        "http",
        &server.url("/"),
        "-H",
        "Authorization: Bearer t0psecrettoken",
        "--expect-status",
        "204",
    ])
    .code(1)
    .does_not_say("t0psecrettoken");
}

#[test]
fn proxies_from_the_environment_are_ignored_unless_asked() {
    let target = Server::http(|_| Response::new(200, "direct"));
    let proxy = Server::http(|request| match request.header("x-tunnel") {
        Some("service.invalid:80") => Response::new(200, "via proxy"),
        _ => Response::new(400, ""),
    });
    let closed = format!("http://127.0.0.1:{}", crate::support::free_port());
    let env = [
        ("HTTP_PROXY", closed.as_str()),
        ("http_proxy", closed.as_str()),
        ("ALL_PROXY", closed.as_str()),
    ];
    probe_env(&["http", &target.url("/")], &env).code(0);
    probe(&[
        "http",
        "http://service.invalid/health",
        "--proxy",
        &proxy.url(""),
        "--body-contains",
        "via proxy",
    ])
    .code(0);
}

/// The issue's proxy: `200 OK` and a header line that never ends, a byte every 0.2 s.
/// Every byte of the reply to CONNECT is read within the deadline, for http and https
/// targets alike, and the reason names the proxy.
#[test]
fn a_proxy_that_trickles_its_reply_is_timed_out_and_named() {
    for target in ["http://svc.invalid/health", "https://svc.invalid/health"] {
        let mut reply = b"HTTP/1.1 200 OK\r\nX-A: ".to_vec();
        reply.extend([b'a'; 100]);
        let proxy = Peer::tcp(vec![
            Step::Receive,
            Step::Trickle(reply, Duration::from_millis(200)),
        ]);
        let proxy_url = format!("http://127.0.0.1:{}", proxy.port());
        probe(&["http", target, "--proxy", &proxy_url, "--timeout", "2s"])
            .code(1)
            .says("timed out after 2s waiting for the proxy")
            .within(Duration::from_millis(2300));
        proxy.finish();
    }
}

/// The CONNECT request carries the proxy URL's credentials (never printed); a refusal is
/// the proxy's, in its own words; only http:// and https:// proxies are accepted.
#[test]
fn a_proxy_gets_its_credentials_and_its_refusal_is_named() {
    let expected = format!(
        "CONNECT svc.invalid:80 HTTP/1.1\r\nHost: svc.invalid:80\r\nUser-Agent: probe/{}\r\n\
         Proxy-Authorization: Basic dXNlcjpwcjB4eS1zM2NyZXQ=\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    let proxy = Peer::tcp(vec![
        Step::Expect(expected.into_bytes()),
        Step::Send(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n".to_vec()),
        Step::Shutdown,
    ]);
    let proxy_url = format!("http://user:pr0xy-s3cret@127.0.0.1:{}", proxy.port());
    probe(&["http", "http://svc.invalid/", "--proxy", &proxy_url])
        .code(1)
        .says("the proxy refused the tunnel: 407 Proxy Authentication Required")
        .does_not_say("pr0xy-s3cret")
        .short();
    proxy.finish();

    probe(&[
        "http",
        "http://svc.invalid/",
        "--proxy",
        "socks5://user:pr0xy-s3cret@127.0.0.1:1080",
    ])
    .code(3)
    .says("use an http:// or https:// proxy")
    .does_not_say("pr0xy-s3cret");
}

/// An https:// proxy is spoken to over TLS, its certificate verified.
#[test]
fn an_https_proxy_is_verified() {
    let proxy = Server::https(
        Tls {
            cert: &pki().server,
            client_ca: None,
        },
        |_| Response::new(200, "via proxy"),
    );
    probe(&[
        "http",
        "http://svc.invalid/",
        "--proxy",
        &format!("https://localhost:{}", proxy.port),
    ])
    .code(1)
    .says("fatal")
    .says("unknown issuer");
}

#[test]
fn https_verifies_certificates_with_clear_reasons() {
    let pki = pki();
    let ca = pki.ca.cert.to_str().unwrap();
    let good = Server::https(
        Tls {
            cert: &pki.server,
            client_ca: None,
        },
        |_| Response::new(200, "ok"),
    );
    let url = format!("https://localhost:{}/", good.port);
    probe(&["http", &url, "--ca-file", ca]).code(0);
    // The built-in web roots do not know the test CA.
    probe(&["http", &url])
        .code(1)
        .says("unknown issuer")
        .says("(fatal)");
    probe(&[
        "http",
        &url,
        "--ca-file",
        pki.other_ca.cert.to_str().unwrap(),
    ])
    .code(1)
    .says("unknown issuer");
    probe(&["http", &url, "--insecure"]).code(0);
    probe(&["http", &url, "--json"])
        .code(1)
        .says(r#""fatal":true"#);

    let wrong = Server::https(
        Tls {
            cert: &pki.wrong_name,
            client_ca: None,
        },
        |_| Response::new(200, ""),
    );
    let url = format!("https://localhost:{}/", wrong.port);
    probe(&["http", &url, "--ca-file", ca])
        .code(1)
        .says("not valid for name localhost");
    // --connect-to keeps the URL's name for SNI and verification, like curl --connect-to.
    let url = format!("https://wrong.example:{}/", wrong.port);
    probe(&[
        "http",
        &url,
        "--ca-file",
        ca,
        "--connect-to",
        &format!("127.0.0.1:{}", wrong.port),
    ])
    .code(0);

    let expired = Server::https(
        Tls {
            cert: &pki.expired,
            client_ca: None,
        },
        |_| Response::new(200, ""),
    );
    let url = format!("https://localhost:{}/", expired.port);
    probe(&["http", &url, "--ca-file", ca])
        .code(1)
        .says("expired");
}

#[test]
fn mutual_tls_sends_the_client_certificate() {
    let pki = pki();
    let server = Server::https(
        Tls {
            cert: &pki.server,
            client_ca: Some(&pki.ca),
        },
        |_| Response::new(200, ""),
    );
    let url = format!("https://localhost:{}/", server.port);
    let ca = pki.ca.cert.to_str().unwrap();
    probe(&[
        "http",
        &url,
        "--ca-file",
        ca,
        "--cert",
        pki.client.cert.to_str().unwrap(),
        "--key",
        pki.client.key.to_str().unwrap(),
    ])
    .code(0);
    probe(&["http", &url, "--ca-file", ca]).code(1).says("TLS");
    // A key that does not belong to the certificate is a usage error, before any probe.
    probe(&[
        "http",
        &url,
        "--ca-file",
        ca,
        "--cert",
        pki.client.cert.to_str().unwrap(),
        "--key",
        pki.server.key.to_str().unwrap(),
    ])
    .code(3);
    probe(&["http", &url, "--cert", pki.client.cert.to_str().unwrap()])
        .code(3)
        .says("--cert needs --key");
    probe(&["http", &url, "--ca-file", "/nonexistent/ca.pem"])
        .code(3)
        .says("cannot read --ca-file");
}

#[test]
fn unix_sockets_carry_http() {
    let dir = temp_dir();
    let socket = dir.path().join("app.sock");
    unix_server(&socket, |request| {
        Response::new(
            200,
            format!("host={}", request.header("host").unwrap_or("")),
        )
    });
    probe(&[
        "http",
        "http://localhost/health",
        "--unix-socket",
        socket.to_str().unwrap(),
        "--body-contains",
        "host=localhost",
    ])
    .code(0);
    probe(&[
        "http",
        "http://localhost/",
        "--unix-socket",
        dir.path().join("none.sock").to_str().unwrap(),
    ])
    .code(1)
    .says("no such file");
}

#[test]
fn hostile_peers_cannot_stretch_the_deadline() {
    let limit = Duration::from_secs(5);
    let silent = Peer::each(None, vec![Step::Silent]);
    probe(&["http", &url(&silent, "/"), "--timeout", "1s"])
        .code(1)
        .says("timed out after 1s waiting for the response")
        .within(limit)
        .short();
    let tls_silent = format!("https://localhost:{}/", silent.port());
    probe(&["http", &tls_silent, "--timeout", "1s"])
        .code(1)
        .says("timed out after 1s during TLS handshake")
        .within(limit);
    silent.finish();

    let slow = Peer::tcp(vec![Step::Trickle(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789012345678901234567890123456789"
            .to_vec(),
        Duration::from_millis(50),
    )]);
    probe(&["http", &url(&slow, "/"), "--timeout", "1s"])
        .code(1)
        .says("timed out after 1s")
        .within(limit);
    slow.finish();

    let cookie = format!(
        "HTTP/1.1 200 OK\r\nSet-Cookie: {}\r\n\r\n",
        "x".repeat(20_000)
    );
    let big_headers = Peer::tcp(replies(cookie));
    probe(&["http", &url(&big_headers, "/")])
        .code(1)
        .says("response headers larger than")
        .within(limit);
    big_headers.finish();

    let garbage = Peer::tcp(replies(
        &b"\x00\x01\x02 this is not HTTP \xff\xfe\r\n\r\n"[..],
    ));
    probe(&["http", &url(&garbage, "/")])
        .code(1)
        .says("not a valid HTTP response")
        .short();
    garbage.finish();

    let huge = Peer::each(
        None,
        vec![
            Step::Receive,
            Step::Send(b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n".to_vec()),
            Step::Flood(vec![b'x'; 64 * 1024]),
        ],
    );
    // Without body rules the body is never read; with them, at most 1 MiB is.
    probe(&["http", &url(&huge, "/")]).code(0).within(limit);
    probe(&["http", &url(&huge, "/"), "--body-contains", "ok"])
        .code(1)
        .says("body larger than 1024 KiB")
        .within(limit);
    huge.finish();
}

/// The URL of `path` on a fake peer.
fn url(peer: &Peer, path: &str) -> String {
    format!("http://127.0.0.1:{}{path}", peer.port())
}

#[test]
fn redirect_loops_and_unresolvable_names_fail_with_reasons() {
    let server = Server::http(|_| Response::new(302, "").header("Location", "/again"));
    probe(&["http", &server.url("/"), "-L"])
        .code(1)
        .says("too many redirects");
    probe(&["http", "http://no-such-host.invalid/", "--timeout", "3s"])
        .code(1)
        .says("does not resolve")
        .within(Duration::from_secs(6));
    probe(&[
        "http",
        &format!("http://127.0.0.1:{}/", crate::support::free_port()),
    ])
    .code(1)
    .says("connection refused");
}

#[test]
fn malformed_input_is_a_usage_error() {
    for (args, reason) in [
        (
            vec!["http", "localhost:8000/health"],
            "localhost:8000/health",
        ),
        (vec!["http", "ftp://x/"], "http://"),
        (
            vec!["http", "http://x/", "--expect-status", "2xx"],
            "--expect-status",
        ),
        (
            vec!["http", "http://x/", "--expect-json", "status=ok"],
            "did you mean /status=ok",
        ),
        (vec!["http", "http://x/", "-H", "no colon"], "Name: value"),
        (
            vec!["http", "http://x/", "-X", "HEAD", "--body-contains", "x"],
            "HEAD gets no body",
        ),
        (vec!["http", "http://x/", "-d", "body"], "-X POST"),
        // -k on http:// is harmless (curl users write it), a certificate file is a mistake.
        (
            vec!["http", "http://x/", "--ca-file", "/ca.pem"],
            "need an https:// URL",
        ),
        (
            vec!["http", "http://x/", "--timeout", "soon"],
            "invalid duration",
        ),
    ] {
        probe(&args).code(3).says(reason).short();
    }
}

#[test]
fn check_runs_targets_in_parallel_under_one_deadline() {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let slow = Server::http(move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(1000));
        Response::new(200, "")
    });
    let targets: Vec<String> = (0..10).map(|i| slow.url(&format!("/{i}"))).collect();
    let mut args = vec!["check"];
    args.extend(targets.iter().map(String::as_str));
    let run = probe(&args);
    run.code(0).within(Duration::from_secs(5));
    assert_eq!(run.stdout.lines().count(), 10, "{run:#?}");
    assert_eq!(hits.load(Ordering::Relaxed), 10);

    let closed = format!("tcp://127.0.0.1:{}", crate::support::free_port());
    let fast = slow.url("/x");
    probe(&["check", &fast, &closed])
        .code(1)
        .says("connection refused");
    probe(&["check", "--any", &fast, &closed]).code(0);
    let quoted = format!("http {} --expect-status 200 --timeout 2s", slow.url("/q"));
    probe(&["check", &quoted, "--json"])
        .code(0)
        .says(r#""check":"http""#);

    // One bad target: nothing is probed at all.
    let before = hits.load(Ordering::Relaxed);
    probe(&["check", &fast, "tcp://db"]).code(3);
    assert_eq!(hits.load(Ordering::Relaxed), before);
}

#[test]
fn check_deadline_bounds_every_target() {
    let silent = Peer::each(None, vec![Step::Silent]);
    let run = probe(&[
        "check",
        "--timeout",
        "1s",
        &url(&silent, "/a"),
        &format!("tcp://127.0.0.1:{}", silent.port()),
    ]);
    run.code(1)
        .says("timed out after 1s")
        .within(Duration::from_secs(5));
    silent.finish();
}
