//! `probe mysql` against a real MariaDB server (native passwords, TLS, a Unix socket), a
//! caching_sha2_password server (checked first with PyMySQL's client), and fake peers for
//! what no server does on demand (1040, 1129, a shutdown, silence, garbage).

use std::time::Duration;

use crate::support::mysql::{
    mariadb, CachingSha2, DB, PASSWORD, ROOT_PASSWORD, SHA2_PASSWORD, SHA2_USER, USER,
};
use crate::support::peer::{Frame, Peer, Step};
use crate::support::{pki::pki, probe, probe_env, temp_dir};

#[test]
fn mysql_default_mode_is_up_when_a_login_without_password_is_refused() {
    let server = mariadb();
    let url = format!("mysql://127.0.0.1:{}", server.port);
    probe(&["mysql", &url])
        .code(0)
        .says("healthy: mysql mysql://127.0.0.1:")
        .says("is up; login refused without a password: Access denied for user 'root'")
        .says("(1045)")
        .short();
    // As a --query it must log in: no password is fatal, and says where one goes.
    let run = probe(&["mysql", &url, "--query", "select 1", "--json"]);
    run.code(1).says("no password was given");
    let line: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(line["fatal"], true);
}

#[test]
fn mysql_logs_in_and_pings_with_a_native_password() {
    let server = mariadb();
    for extra in ["", "?ssl-mode=DISABLED", "?ssl-mode=REQUIRED"] {
        probe(&["mysql", &server.url(extra)])
            .code(0)
            .says("MariaDB 10.")
            .says("is alive (logged in as app, ping answered)")
            .does_not_say(PASSWORD)
            .short();
    }
    let root = format!("mysql://root:{ROOT_PASSWORD}@127.0.0.1:{}", server.port);
    probe(&["mysql", &root])
        .code(0)
        .says("logged in as root")
        .does_not_say(ROOT_PASSWORD);
}

#[test]
fn mysql_a_refused_password_is_fatal() {
    let url = format!(
        "mysql://{USER}:not-the-password-xyz@127.0.0.1:{}/{DB}",
        mariadb().port
    );
    let run = probe(&["mysql", &url, "--json"]);
    run.code(1)
        .says("login failed for user app: Access denied for user 'app'")
        .says("(1045)")
        .does_not_say("not-the-password-xyz")
        .short();
    let line: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(line["healthy"], false);
    assert_eq!(line["fatal"], true);
    assert_eq!(line["check"], "mysql");
}

#[test]
fn mysql_password_from_env_and_file_and_unix_socket() {
    let server = mariadb();
    let socket = server.socket.display().to_string();
    let unix = format!("mysql+unix://{socket}");
    probe_env(
        &["mysql", &unix, "--user", USER],
        &[("MYSQL_PWD", PASSWORD)],
    )
    .code(0)
    .says("logged in as app")
    .does_not_say(PASSWORD);
    let dir = temp_dir();
    let file = dir.path().join("pw");
    std::fs::write(&file, format!("{PASSWORD}\n")).unwrap();
    let with_socket = format!("mysql://{USER}@localhost/{DB}?socket={socket}");
    probe(&[
        "mysql",
        &with_socket,
        "--password-file",
        file.to_str().unwrap(),
        "--query",
        "select count(*) from migrations",
        "--expect",
        "1",
    ])
    .code(0)
    .says("query returned 1");
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "wrong-secret-3a\n").unwrap();
    probe(&[
        "mysql",
        &unix,
        "-u",
        USER,
        "--password-file",
        wrong.to_str().unwrap(),
    ])
    .code(1)
    .says("login failed")
    .does_not_say("wrong-secret-3a");
}

#[test]
fn mysql_query_and_expect() {
    let url = mariadb().url("");
    probe(&[
        "mysql",
        &url,
        "--query",
        "select version from migrations",
        "--expect",
        "abc123",
    ])
    .code(0)
    .says("query returned abc123");
    probe(&[
        "mysql",
        &url,
        "--query",
        "select version from migrations",
        "--expect",
        "zzz",
    ])
    .code(1)
    .says("expected zzz, got abc123");
    probe(&["mysql", &url, "--query", "select null"])
        .code(0)
        .says("query returned NULL");
    probe(&["mysql", &url, "--query", "select id from empty"])
        .code(1)
        .says("query returned no rows");
    // A table a migration has yet to create: worth waiting for; bad SQL is not.
    let missing = probe(&["mysql", &url, "--query", "select * from later", "--json"]);
    missing.code(1).says("(1146)");
    let line: serde_json::Value = serde_json::from_str(missing.stdout.trim()).unwrap();
    assert_eq!(line["fatal"], false);
    let syntax = probe(&["mysql", &url, "--query", "selec 1", "--json"]);
    syntax.code(1).says("(1064)");
    let line: serde_json::Value = serde_json::from_str(syntax.stdout.trim()).unwrap();
    assert_eq!(line["fatal"], true);
}

#[test]
fn mysql_tls_modes_verify_the_certificate() {
    let server = mariadb();
    let pki = pki();
    let ca = pki.ca.cert.to_str().unwrap();
    for mode in ["VERIFY_CA", "VERIFY_IDENTITY"] {
        probe(&[
            "mysql",
            &server.url(""),
            "--ssl-mode",
            mode,
            "--ca-file",
            ca,
        ])
        .code(0)
        .says("is alive");
    }
    let other = pki.other_ca.cert.to_str().unwrap();
    let run = probe(&[
        "mysql",
        &server.url("?ssl-mode=VERIFY_CA"),
        "--ca-file",
        other,
        "--json",
    ]);
    run.code(1).says("certificate");
    let line: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(line["fatal"], true);
    // The bundled web roots do not know the test CA.
    probe(&["mysql", &server.url("?ssl-mode=VERIFY_IDENTITY")])
        .code(1)
        .says("certificate");
}

#[test]
fn mysql_and_mariadb_targets_in_check_and_wait_for() {
    let server = mariadb();
    let mariadb_url = format!("mariadb://127.0.0.1:{}", server.port);
    probe(&["check", &server.url(""), &mariadb_url])
        .code(0)
        .says("mysql mariadb://127.0.0.1");
    probe(&["wait-for", "--timeout", "10s", &server.url("")]).code(0);
    let wrong = format!("mysql://{USER}:bad-pass-77@127.0.0.1:{}", server.port);
    // Fatal: wait-for stops at once instead of waiting out its timeout.
    probe(&["wait-for", "--timeout", "20s", &wrong])
        .code(1)
        .does_not_say("bad-pass-77")
        .within(Duration::from_secs(10));
}

#[test]
fn mysql_caching_sha2_fake_is_validated_by_pymysql() {
    // The reference client, through every path: RSA full path, fast path, TLS full path.
    for tls in [false, true] {
        let server = CachingSha2::start(tls);
        let ssl = if tls {
            "ssl=__import__('ssl')._create_unverified_context()"
        } else {
            "ssl_disabled=True"
        };
        let script = format!(
            "import pymysql\n\
             for _ in range(2):\n\
             \x20   c = pymysql.connect(host='127.0.0.1', port={}, user='{SHA2_USER}', password='{SHA2_PASSWORD}', {ssl})\n\
             \x20   cur = c.cursor(); cur.execute('select 1'); assert cur.fetchone() == (1,); c.close()\n\
             try:\n\
             \x20   pymysql.connect(host='127.0.0.1', port={}, user='{SHA2_USER}', password='nope', {ssl})\n\
             \x20   raise SystemExit('a wrong password was accepted')\n\
             except pymysql.err.OperationalError as e:\n\
             \x20   assert e.args[0] == 1045, e\n",
            server.port, server.port
        );
        let output = std::process::Command::new("python3")
            .args(["-c", &script])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "PyMySQL (tls: {tls}): {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn mysql_caching_sha2_full_path_over_tls_then_fast_path() {
    let server = CachingSha2::start(true);
    // Fresh cache: full path (the password over TLS), then the fast path.
    for _ in 0..2 {
        probe(&[
            "mysql",
            &server.url(""),
            "--query",
            "select 1",
            "--expect",
            "1",
        ])
        .code(0)
        .says("query returned 1")
        .does_not_say(SHA2_PASSWORD);
    }
    probe(&["mysql", &server.url("?ssl-mode=DISABLED")])
        .code(0)
        .says("MySQL 8.0.36-fake is alive (logged in as sha2user, ping answered)");
    let run = probe(&[
        "mysql",
        &format!("mysql://{SHA2_USER}:nope-nope@127.0.0.1:{}", server.port),
    ]);
    run.code(1).says("login failed").says("(1045)");
}

#[test]
fn mysql_caching_sha2_full_path_without_tls_says_why() {
    let server = CachingSha2::start(false);
    let run = probe(&["mysql", &server.url(""), "--json"]);
    run.code(1)
        .says("caching_sha2_password full authentication needs TLS or the server's public key")
        .does_not_say(SHA2_PASSWORD);
    let line: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(line["fatal"], true);
    // Without a password the server is up all the same (mysqladmin ping's rule).
    let anonymous = format!("mysql://{SHA2_USER}@127.0.0.1:{}", server.port);
    probe(&["mysql", &anonymous])
        .code(0)
        .says("is up; login refused without a password");
    // TLS required but not offered: fatal.
    probe(&["mysql", &server.url("?ssl-mode=REQUIRED")])
        .code(1)
        .says("server does not support TLS");
}

/// A peer that sends `greeting`, then (when `after_login` is given) reads the handshake
/// response and sends that, then holds the connection until the client hangs up.
fn fake(greeting: Vec<u8>, after_login: Option<Vec<u8>>) -> Peer {
    let mut script = vec![Step::Send(greeting)];
    if let Some(reply) = after_login {
        script.extend([Step::Message(Frame::Mysql, Vec::new()), Step::Send(reply)]);
    }
    script.push(Step::Silent);
    Peer::tcp(script)
}

/// The URL of a fake peer.
fn url(peer: &Peer) -> String {
    format!("mysql://127.0.0.1:{}", peer.port())
}

fn packet(seq: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_le_bytes()[..3].to_vec();
    out.push(seq);
    out.extend_from_slice(payload);
    out
}

fn error(code: u16, text: &str) -> Vec<u8> {
    let mut payload = vec![0xFF];
    payload.extend_from_slice(&code.to_le_bytes());
    payload.extend_from_slice(text.as_bytes());
    payload
}

fn greeting() -> Vec<u8> {
    let mut payload = b"\x0a8.0.36\0\x01\0\0\0abcdefgh\0".to_vec();
    let caps: u32 = 0x0008 | 0x0200 | 0x8000 | 0x8_0000 | 0x20_0000;
    payload.extend_from_slice(&(caps as u16).to_le_bytes());
    payload.extend_from_slice(&[45, 2, 0]);
    payload.extend_from_slice(&((caps >> 16) as u16).to_le_bytes());
    payload.push(21);
    payload.extend_from_slice(&[0; 10]);
    payload.extend_from_slice(b"ijklmnopqrst\0mysql_native_password\0");
    packet(0, &payload)
}

#[test]
fn mysql_greeting_errors_are_unhealthy_with_the_servers_text() {
    let peer = fake(packet(0, &error(1040, "Too many connections")), None);
    let run = probe(&["mysql", &url(&peer), "--json"]);
    run.code(1)
        .says("server refused the connection: Too many connections (1040)");
    let line: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(line["fatal"], false);
    let blocked = error(
        1129,
        "Host '127.0.0.1' is blocked because of many connection errors; unblock with 'mariadb-admin flush-hosts'",
    );
    peer.finish();
    let peer = fake(packet(0, &blocked), None);
    probe(&["mysql", &url(&peer)])
        .code(1)
        .says("is blocked because of many connection errors")
        .says("(1129)");
    // A server shutting down answers the login with 1053: unhealthy even without a password.
    let mut shutdown = error(1053, "#08S01Server shutdown in progress");
    shutdown = packet(2, &shutdown);
    peer.finish();
    let peer = fake(greeting(), Some(shutdown));
    let run = probe(&["mysql", &url(&peer), "--json"]);
    run.code(1).says("Server shutdown in progress (1053)");
    let line: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(line["fatal"], false);
    peer.finish();
}

#[test]
fn mysql_silence_and_garbage_are_bounded() {
    let peer = fake(Vec::new(), None);
    probe(&["mysql", &url(&peer), "--timeout", "1s"])
        .code(1)
        .says("timed out after 1s waiting for the server's greeting")
        .within(Duration::from_secs(4));
    peer.finish();
    let peer = fake(b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec(), None);
    probe(&["mysql", &url(&peer)])
        .code(1)
        .says("not a MySQL server?");
    // A greeting that declares a 16 MiB packet is refused before it is read.
    peer.finish();
    let peer = fake(vec![0xFF, 0xFF, 0xFF, 0], None);
    probe(&["mysql", &url(&peer)])
        .code(1)
        .says("not a MySQL server? a packet of 16777215 bytes");
    // A greeting, then silence during the login.
    peer.finish();
    let peer = fake(greeting(), Some(Vec::new()));
    probe(&["mysql", &url(&peer), "--timeout", "1s"])
        .code(1)
        .says("timed out after 1s during the login")
        .within(Duration::from_secs(4));
    peer.finish();
}

#[test]
fn mysql_bad_arguments_are_usage_errors() {
    for args in [
        vec!["mysql", "mysql://db:0"],
        vec!["mysql", "mysql://db?ssl-mode=SOMETIMES"],
        vec!["mysql", "mysql://db", "--expect", "1"],
        vec!["mysql", "mysql://u:hunter2-secret@db?bogus=1"],
    ] {
        probe(&args).code(3).does_not_say("hunter2-secret");
    }
}
