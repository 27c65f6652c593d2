//! `probe redis` against real redis-server instances (plain, password, ACL users, a
//! replica, TLS and mutual TLS) and against fake peers for LOADING, garbage and silence.

use std::time::{Duration, Instant};

use crate::support::peer::{answers, Peer, Step};
use crate::support::redis::RedisServer;
use crate::support::{free_port, probe, probe_env, temp_dir, Run};

const PASSWORD: &str = "s3cret-Pa55";

/// A peer that reads PING and sends `reply`.
fn answers_ping(reply: &[u8]) -> Peer {
    Peer::tcp(answers(b"*1\r\n$4\r\nPING\r\n", reply))
}

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(run.stdout.trim()).unwrap_or_else(|_| panic!("not JSON: {run:#?}"))
}

#[test]
fn a_server_without_auth_is_healthy_over_tcp_and_unix_sockets() {
    let server = RedisServer::start(&[]);
    probe(&["redis", &server.url()])
        .code(0)
        .says("healthy: redis")
        .says("PONG")
        .short();
    let socket = server.socket();
    let socket = socket.to_str().unwrap();
    probe(&["redis", &format!("unix://{socket}")])
        .code(0)
        .says("PONG");
    probe(&["redis", &format!("redis+unix://{socket}?db=1")])
        .code(0)
        .says("PONG");
    // ?db= is honoured, not ignored: a database that does not exist fails the SELECT.
    probe(&["redis", &format!("redis+unix://{socket}?db=99")])
        .code(1)
        .says("SELECT 99 failed");
    probe(&["redis", &format!("{}/3", server.url())]).code(0);
    probe(&["redis", &format!("{}/99", server.url())])
        .code(1)
        .says("SELECT 99 failed: ERR DB index is out of range");

    let run = probe(&["redis", &server.url(), "--json"]);
    run.code(0);
    let value = json(&run);
    assert_eq!(value["check"], "redis");
    assert_eq!(value["healthy"], true);
    assert_eq!(value["detail"], "PONG");
}

#[test]
fn redis_url_from_the_environment_and_as_a_target() {
    let server = RedisServer::start(&[]);
    probe_env(&["redis"], &[("REDIS_URL", &server.url())])
        .code(0)
        .says(&server.url());
    probe(&["check", &server.url()]).code(0).says("PONG");
    let quoted = format!("redis {} --role master --timeout 2s", server.url());
    probe(&["check", &quoted]).code(0).says("role master");
    probe(&["check", &format!("redis {} --role replica", server.url())])
        .code(1)
        .says("role is master, expected replica");
}

#[test]
fn requirepass_without_password_is_fatal_noauth_and_with_it_healthy() {
    let server = RedisServer::start(&["--requirepass", PASSWORD]);
    let port = server.port;

    let run = probe(&["redis", &server.url(), "--json"]);
    run.code(1).short();
    let value = json(&run);
    assert_eq!(
        value["detail"],
        "NOAUTH authentication required (no password given)"
    );
    assert_eq!(value["fatal"], true);

    let good = format!("redis://:{PASSWORD}@127.0.0.1:{port}");
    probe(&["redis", &good])
        .code(0)
        .says("redis://:***@")
        .does_not_say(PASSWORD);
    probe(&["check", &good]).code(0).does_not_say(PASSWORD);

    let wrong = format!("redis://:not-{PASSWORD}@127.0.0.1:{port}");
    let run = probe(&["redis", &wrong, "--json"]);
    run.code(1).does_not_say(PASSWORD).short();
    let value = json(&run);
    assert_eq!(value["fatal"], true);
    assert!(
        value["detail"].as_str().unwrap().contains("WRONGPASS"),
        "{value}"
    );

    let dir = temp_dir();
    let secret = dir.path().join("redis_password");
    std::fs::write(&secret, format!("{PASSWORD}\n")).unwrap();
    let secret = secret.to_str().unwrap();
    probe(&["redis", &server.url(), "--password-file", secret])
        .code(0)
        .does_not_say(PASSWORD);
    probe(&["redis", &good, "--password-file", secret])
        .code(3)
        .says("given twice")
        .does_not_say(PASSWORD);
}

#[test]
fn acl_users_authenticate_and_their_limits_are_fatal() {
    let server = RedisServer::start(&[
        "--requirepass",
        PASSWORD,
        "--user",
        "app",
        "on",
        ">app-pass",
        "~*",
        "&*",
        "+@all",
        "--user",
        "monitor",
        "on",
        ">mon-pass",
        "+ping",
        "+info",
        "--user",
        "nobody",
        "on",
        ">nobody-pass",
        "-@all",
    ]);
    let port = server.port;
    probe(&["redis", &format!("redis://app:app-pass@127.0.0.1:{port}")])
        .code(0)
        .does_not_say("app-pass");

    let dir = temp_dir();
    let secret = dir.path().join("app_password");
    std::fs::write(&secret, "app-pass").unwrap();
    let secret = secret.to_str().unwrap();
    probe(&[
        "redis",
        &server.url(),
        "--user",
        "app",
        "--password-file",
        secret,
    ])
    .code(0);
    probe(&[
        "redis",
        &server.url(),
        "--user",
        "monitor",
        "--password-file",
        secret,
    ])
    .code(1)
    .says("AUTH failed: WRONGPASS")
    .does_not_say("app-pass");
    probe(&["redis", &server.url(), "--user", "app"])
        .code(3)
        .says("needs a password");

    // ROLE is not allowed for this user: INFO replication answers instead.
    probe(&[
        "redis",
        &format!("redis://monitor:mon-pass@127.0.0.1:{port}"),
        "--role",
        "master",
    ])
    .code(0)
    .says("role master");

    let run = probe(&[
        "redis",
        &format!("redis://nobody:nobody-pass@127.0.0.1:{port}"),
        "--json",
    ]);
    run.code(1);
    let value = json(&run);
    assert_eq!(value["fatal"], true);
    assert!(
        value["detail"].as_str().unwrap().starts_with("NOPERM"),
        "{value}"
    );
}

#[test]
fn replica_roles_and_a_lost_master() {
    let master = RedisServer::start(&[]);
    let replica = RedisServer::start(&["--replicaof", "127.0.0.1", &master.port.to_string()]);
    replica.wait_until("ROLE", "connected", Duration::from_secs(20));

    probe(&["redis", &replica.url(), "--role", "replica"])
        .code(0)
        .says(&format!(
            "role replica of 127.0.0.1:{}, link up",
            master.port
        ));
    probe(&["redis", &replica.url(), "--role", "master"])
        .code(1)
        .says("role is replica, expected master");
    probe(&["redis", &master.url(), "--role", "master"]).code(0);
    probe(&["redis", &master.url(), "--role", "replica"])
        .code(1)
        .says("role is master, expected replica");
    probe(&["redis", &master.url(), "--role", "leader"])
        .code(3)
        .says("--role");

    drop(master);
    let started = Instant::now();
    let run = loop {
        let run = probe(&["redis", &replica.url(), "--role", "replica", "--json"]);
        if run.code != 0 || started.elapsed() > Duration::from_secs(10) {
            break run;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    run.code(1);
    let value = json(&run);
    assert!(
        value["detail"]
            .as_str()
            .unwrap()
            .contains("replica's link to its master is down"),
        "{value}"
    );
    assert_eq!(value["fatal"], false);
    // Without --role, a replica that answers PONG is healthy.
    probe(&["redis", &replica.url()]).code(0);
}

#[test]
fn a_stopped_server_is_refused() {
    let server = RedisServer::start(&[]);
    let url = server.url();
    let socket = server.socket();
    drop(server);
    probe(&["redis", &url])
        .code(1)
        .says("connection refused")
        .short();
    probe(&["redis", &format!("unix://{}", socket.display())])
        .code(1)
        .says("no such file or directory");
}

#[test]
fn loading_is_unhealthy_but_retryable() {
    let peer = answers_ping(b"-LOADING Redis is loading the dataset in memory\r\n");
    let run = probe(&[
        "redis",
        &format!("redis://127.0.0.1:{}", peer.port()),
        "--json",
    ]);
    peer.finish();
    run.code(1).short();
    let value = json(&run);
    assert!(
        value["detail"]
            .as_str()
            .unwrap()
            .contains("loading the dataset in memory"),
        "{value}"
    );
    assert_eq!(value["fatal"], false);

    let peer = answers_ping(b"-BUSY Redis is busy running a script\r\n");
    probe(&["redis", &format!("redis://127.0.0.1:{}", peer.port())])
        .code(1)
        .says("BUSY");
    peer.finish();
}

#[test]
fn garbage_and_silence_are_unhealthy_within_the_deadline() {
    let peer = answers_ping(b"HTTP/1.1 400 Bad Request\r\n\r\n");
    probe(&["redis", &format!("redis://127.0.0.1:{}", peer.port())])
        .code(1)
        .says("not a Redis reply to PING")
        .short();
    peer.finish();

    let silent = Peer::each(None, vec![Step::Silent]);
    let port = silent.port();
    probe(&[
        "redis",
        &format!("redis://127.0.0.1:{port}"),
        "--timeout",
        "1s",
    ])
    .code(1)
    .says("timed out")
    .says("waiting for the reply to PING")
    .within(Duration::from_secs(4));
    let url = format!("redis://:{PASSWORD}@127.0.0.1:{port}");
    probe(&["redis", &url, "--timeout", "1s"])
        .code(1)
        .says("reply to AUTH")
        .does_not_say(PASSWORD)
        .within(Duration::from_secs(4));
    #[cfg(feature = "tls")]
    probe(&[
        "redis",
        &format!("rediss://127.0.0.1:{port}"),
        "--timeout",
        "1s",
        "-k",
    ])
    .code(1)
    .says("during TLS handshake")
    .within(Duration::from_secs(4));
    silent.finish();
}

#[test]
fn bad_urls_and_flags_are_usage_errors() {
    let port = free_port();
    probe(&["redis", "cache:6379"])
        .code(3)
        .says("invalid Redis URL");
    probe(&["redis", "redis://cache/x"])
        .code(3)
        .says("database");
    probe(&["redis", "redis://u:hunter2@cache:99999"])
        .code(3)
        .does_not_say("hunter2");
    probe(&[
        "redis",
        &format!("redis://127.0.0.1:{port}"),
        "--ca-file",
        "/nope",
    ])
    .code(3)
    .says("rediss://");
    #[cfg(feature = "tls")]
    probe(&[
        "redis",
        "rediss://localhost",
        "--ca-file",
        "/nonexistent.pem",
    ])
    .code(3)
    .says("--ca-file");
    probe(&["redis", "--password-file", "/nonexistent"])
        .code(3)
        .says("--password-file");
    probe(&["check", "redis://cache:0"]).code(3);
    #[cfg(not(feature = "tls"))]
    probe(&["redis", "rediss://localhost"])
        .code(3)
        .says("without the \"tls\" feature");
}

#[cfg(feature = "tls")]
#[test]
fn tls_with_the_test_ca_and_mutual_tls() {
    use crate::support::pki::pki;

    let pki = pki();
    let tls_args = |auth_clients: &'static str| {
        vec![
            "--tls-cert-file".to_string(),
            pki.server.cert.to_str().unwrap().to_string(),
            "--tls-key-file".into(),
            pki.server.key.to_str().unwrap().into(),
            "--tls-ca-cert-file".into(),
            pki.ca.cert.to_str().unwrap().into(),
            "--tls-auth-clients".into(),
            auth_clients.into(),
        ]
    };
    let args = tls_args("no");
    let server = RedisServer::start_tls(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let port = server.port;
    let ca = pki.ca.cert.to_str().unwrap();

    probe(&[
        "redis",
        &format!("rediss://localhost:{port}"),
        "--ca-file",
        ca,
    ])
    .code(0)
    .says("PONG");
    probe(&[
        "redis",
        &format!("rediss://127.0.0.1:{port}"),
        "--ca-file",
        ca,
    ])
    .code(0);
    probe(&["redis", &format!("rediss://127.0.0.1:{port}"), "-k"]).code(0);
    probe(&[
        "redis",
        &format!("rediss://127.0.0.1:{port}?ssl_cert_reqs=none"),
    ])
    .code(0);
    probe(&[
        "check",
        &format!("redis rediss://localhost:{port} --ca-file {ca}"),
    ])
    .code(0);

    let run = probe(&["redis", &format!("rediss://127.0.0.1:{port}"), "--json"]);
    run.code(1);
    let value = json(&run);
    assert_eq!(value["fatal"], true);
    assert!(
        value["detail"].as_str().unwrap().contains("unknown issuer"),
        "{value}"
    );
    probe(&[
        "redis",
        &format!("rediss://127.0.0.1:{port}"),
        "--ca-file",
        pki.other_ca.cert.to_str().unwrap(),
    ])
    .code(1)
    .says("unknown issuer");
    // Plain RESP to a TLS port: the server drops the connection.
    probe(&[
        "redis",
        &format!("redis://127.0.0.1:{port}"),
        "--timeout",
        "2s",
    ])
    .code(1)
    .within(Duration::from_secs(4));

    let args = tls_args("yes");
    let mutual = RedisServer::start_tls(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let url = format!("rediss://localhost:{}", mutual.port);
    let (cert, key) = (
        pki.client.cert.to_str().unwrap(),
        pki.client.key.to_str().unwrap(),
    );
    probe(&["redis", &url, "--ca-file", ca, "--cert", cert, "--key", key])
        .code(0)
        .says("PONG");
    let run = probe(&["redis", &url, "--ca-file", ca, "--json"]);
    run.code(1).short();
    let value = json(&run);
    assert_eq!(value["fatal"], true, "{value}");
    assert!(
        value["detail"].as_str().unwrap().contains("certificate"),
        "{value}"
    );
    probe(&["redis", &url, "--ca-file", ca, "--cert", cert])
        .code(3)
        .says("--key");
}
