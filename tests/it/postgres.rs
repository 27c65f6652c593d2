//! `probe postgres` against real PostgreSQL servers (plain and TLS), and fake peers for
//! what a real server cannot be made to do on demand (57P03, silence, garbage).

use std::time::Duration;

use crate::support::peer::{Frame, Peer, Step};
use crate::support::pgbouncer::pgbouncer;
use crate::support::postgres::{plain, replica, tls, DB, PASSWORD, TLS_ONLY_USER, USER};
use crate::support::{free_port, pki::pki, probe, probe_env, temp_dir};

#[test]
fn default_mode_is_up_without_credentials_and_sends_no_password() {
    let server = plain();
    // A role that does not exist: scram-sha-256 still asks for a password (a mock
    // exchange), so a sent password would log a failed login naming the role.
    let url = format!("postgres://quiet_probe_role@127.0.0.1:{}/{DB}", server.port);
    probe(&["postgres", &url])
        .code(0)
        .says("healthy: postgres postgres://quiet_probe_role@127.0.0.1")
        .says("up; asks user quiet_probe_role for a password (none given, none sent)")
        .short();
    std::thread::sleep(Duration::from_millis(300));
    let log = server.log_text();
    assert!(
        !log.contains("quiet_probe_role"),
        "the server logged the check:\n{log}"
    );
}

#[test]
fn default_mode_logs_in_when_given_a_password() {
    probe(&["postgres", &plain().url("")])
        .code(0)
        .says("accepting connections (logged in as app)")
        .does_not_say(PASSWORD)
        .short();
}

/// Credentials given means login required: a wrong password is fatal in every mode, from
/// the URL, PGPASSWORD or --password-file alike.
#[test]
fn a_wrong_password_is_fatal_in_every_mode() {
    let url = format!(
        "postgres://{USER}:not-the-password-xyz@127.0.0.1:{}/{DB}",
        plain().port
    );
    for args in [
        vec!["postgres", &url],
        vec!["postgres", &url, "--query", "select 1"],
    ] {
        let mut args = args.clone();
        args.push("--json");
        let run = probe(&args);
        run.code(1)
            .says("login failed for user app: password authentication failed (28P01)")
            .does_not_say("not-the-password-xyz")
            .short();
        let line: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
        assert_eq!(line["healthy"], false);
        assert_eq!(line["fatal"], true);
    }
    let without = plain().url_without_password("");
    probe_env(
        &["postgres", &without],
        &[("PGPASSWORD", "not-the-password-xyz")],
    )
    .code(1)
    .says("unhealthy (fatal)")
    .says("28P01")
    .does_not_say("not-the-password-xyz");
    let dir = temp_dir();
    let file = dir.path().join("pw");
    std::fs::write(&file, "not-the-password-xyz\n").unwrap();
    probe(&[
        "postgres",
        &without,
        "--password-file",
        file.to_str().unwrap(),
    ])
    .code(1)
    .says("28P01")
    .does_not_say("not-the-password-xyz");
    // wait-for never starts the command on it.
    probe(&["wait-for", &url, "--timeout", "10s", "--", "true"])
        .code(1)
        .says("28P01")
        .within(Duration::from_secs(5));
}

#[test]
fn unknown_database_is_up_without_a_password_and_fatal_with_one() {
    let url = format!(
        "postgres://{USER}:{PASSWORD}@127.0.0.1:{}/no_such_db",
        plain().port
    );
    probe(&["postgres", &url])
        .code(1)
        .says("unhealthy (fatal)")
        .says("login failed for user app: database \"no_such_db\" does not exist (3D000)");
    probe(&["postgres", &url, "--query", "select 1"])
        .code(1)
        .says("unhealthy (fatal)")
        .says("3D000")
        .does_not_say(PASSWORD);
}

#[test]
fn a_query_needs_a_password_when_the_server_asks() {
    probe(&[
        "postgres",
        &plain().url_without_password(""),
        "--query",
        "select 1",
    ])
    .code(1)
    .says("unhealthy (fatal)")
    .says("wants a password for user app");
}

#[test]
fn queries_need_a_row_and_the_expected_value() {
    let url = plain().url("");
    probe(&["postgres", &url, "--query", "select 1"])
        .code(0)
        .says("query returned 1");
    probe(&["postgres", &url, "--query", "select 1 where false"])
        .code(1)
        .says("query returned no rows");
    probe(&[
        "postgres",
        &url,
        "--query",
        "select version from migrations",
        "--expect",
        "abc123",
    ])
    .code(0)
    .says("query returned abc123");
    probe(&[
        "postgres",
        &url,
        "--query",
        "select version from migrations",
        "--expect",
        "def456",
    ])
    .code(1)
    .says("expected def456, got abc123");
    probe(&["postgres", &url, "--query", "select * from empty"])
        .code(1)
        .says("no rows");
}

#[test]
fn sql_errors_name_the_sqlstate() {
    let url = plain().url("");
    // A missing table may be created by a migration still running: retryable.
    let run = probe(&[
        "postgres",
        &url,
        "--query",
        "select * from not_migrated_yet",
        "--json",
    ]);
    run.code(1).says("42P01");
    let line: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(line["fatal"], false);
    probe(&["postgres", &url, "--query", "selec 1"])
        .code(1)
        .says("unhealthy (fatal)")
        .says("42601");
}

/// A real streaming replica (pg_basebackup -R from the test primary): each flag is healthy
/// on its own kind of server and unhealthy on the other.
#[test]
fn primary_and_replica_ask_the_server() {
    let url = plain().url("");
    probe(&["postgres", &url, "--primary"])
        .code(0)
        .says("server is the primary");
    probe(&["postgres", &url, "--replica"])
        .code(1)
        .says("server is the primary, not a replica");
    let standby = format!(
        "postgres://{USER}:{PASSWORD}@127.0.0.1:{}/{DB}",
        replica().port
    );
    probe(&["postgres", &standby, "--replica"])
        .code(0)
        .says("server is a replica");
    probe(&["postgres", &standby, "--primary"])
        .code(1)
        .says("server is a replica (in recovery), not the primary");
}

#[test]
fn a_stopped_server_is_refused() {
    let url = format!("postgres://app@127.0.0.1:{}/", free_port());
    probe(&["postgres", &url])
        .code(1)
        .says("connection refused")
        .short();
}

#[test]
fn database_url_and_libpq_variables() {
    let server = plain();
    probe_env(
        &["postgres", "--query", "select 1"],
        &[("DATABASE_URL", &server.url(""))],
    )
    .code(0)
    .does_not_say(PASSWORD);
    let port = server.port.to_string();
    probe_env(
        &[
            "postgres",
            "--query",
            "select current_user || '@' || current_database()",
        ],
        &[
            ("PGHOST", "127.0.0.1"),
            ("PGPORT", &port),
            ("PGUSER", USER),
            ("PGPASSWORD", PASSWORD),
            ("PGDATABASE", DB),
            ("PGSSLMODE", "disable"),
            ("PGAPPNAME", "probe-env-test"),
        ],
    )
    .code(0)
    .says("query returned app@appdb")
    .does_not_say(PASSWORD);
    // The URL leaves the password out; PGPASSWORD fills it in, as with libpq.
    probe_env(
        &[
            "postgres",
            &server.url_without_password(""),
            "--query",
            "select current_setting('application_name')",
        ],
        &[("PGPASSWORD", PASSWORD)],
    )
    .code(0)
    .says("query returned probe");
    // PGAPPNAME and PGSSLMODE take effect: the server sees the name, and the mode.
    probe_env(
        &[
            "postgres",
            &server.url_without_password(""),
            "--query",
            "select current_setting('application_name')",
        ],
        &[("PGPASSWORD", PASSWORD), ("PGAPPNAME", "probe-env-test")],
    )
    .code(0)
    .says("query returned probe-env-test");
    let ssl_used = "select ssl from pg_stat_ssl where pid = pg_backend_pid()";
    for (mode, ssl) in [("disable", "f"), ("require", "t")] {
        probe_env(
            &["postgres", &tls().url(""), "--query", ssl_used],
            &[("PGSSLMODE", mode)],
        )
        .code(0)
        .says(&format!("query returned {ssl}"));
    }
    probe_env(&["postgres", &server.url("")], &[("PGSSLMODE", "require")])
        .code(1)
        .says("does not support TLS");
}

#[test]
fn password_file_with_a_trailing_newline() {
    let dir = temp_dir();
    let file = dir.path().join("db_password");
    std::fs::write(&file, format!("{PASSWORD}\n")).unwrap();
    probe(&[
        "postgres",
        &plain().url_without_password(""),
        "--password-file",
        file.to_str().unwrap(),
        "--query",
        "select 1",
    ])
    .code(0)
    .does_not_say(PASSWORD);
}

#[test]
fn unix_socket_directory_in_the_url() {
    let server = plain();
    let url = format!(
        "postgres://{USER}@:{}/{DB}?host={}",
        server.port,
        server.socket_dir.display()
    );
    probe(&["postgres", &url, "--query", "select 1"])
        .code(0)
        .says("?host=");
}

#[test]
fn check_and_targets_take_postgres_urls() {
    probe(&["check", &plain().url("")])
        .code(0)
        .says("healthy: postgres")
        .does_not_say(PASSWORD);
    probe(&[
        "check",
        &format!(
            "postgres {} --query 'select 1 where false'",
            plain().url("")
        ),
    ])
    .code(1)
    .says("no rows");
}

#[test]
fn bad_urls_and_flags_are_usage_errors() {
    for args in [
        vec!["postgres", "mysql://db/"],
        vec!["postgres", "postgres://db:99999/"],
        vec!["postgres", "postgres://db/?sslmode=sometimes"],
        vec!["postgres", "--expect", "x"],
        vec!["postgres", "--primary", "--replica"],
        vec!["postgres", "--password-file", "/nonexistent/secret"],
        vec!["postgres", "--ca-file", "/nonexistent/ca.pem"],
    ] {
        probe(&args).code(3);
    }
    probe(&["postgres", "postgres://u:hunter2@db:port/"])
        .code(3)
        .does_not_say("hunter2");
}

// --- TLS -------------------------------------------------------------------------------

#[test]
fn tls_verify_full_against_the_test_ca() {
    let server = tls();
    let ca = pki().ca.cert.to_str().unwrap();
    let ssl_used = "select ssl from pg_stat_ssl where pid = pg_backend_pid()";
    probe(&[
        "postgres",
        &server.url("?sslmode=verify-full"),
        "--ca-file",
        ca,
        "--query",
        ssl_used,
        "--expect",
        "t",
    ])
    .code(0);
    // A CA file alone means verify-full.
    probe(&["postgres", &server.url(""), "--ca-file", ca]).code(0);
    // sslrootcert in the URL works like --ca-file.
    probe(&[
        "postgres",
        &server.url(&format!("?sslmode=verify-full&sslrootcert={ca}")),
    ])
    .code(0);
    // prefer (the default) and require encrypt without verifying.
    probe(&[
        "postgres",
        &server.url(""),
        "--query",
        ssl_used,
        "--expect",
        "t",
    ])
    .code(0);
    probe(&["postgres", &server.url("?sslmode=require")]).code(0);
}

#[test]
fn tls_rejects_an_unknown_ca_and_a_wrong_name() {
    let server = tls();
    let other = pki().other_ca.cert.to_str().unwrap();
    let ca = pki().ca.cert.to_str().unwrap();
    probe(&[
        "postgres",
        &server.url("?sslmode=verify-full"),
        "--ca-file",
        other,
    ])
    .code(1)
    .says("unhealthy (fatal)")
    .says("unknown issuer")
    .does_not_say("error performing TLS handshake")
    .does_not_say(PASSWORD);
    // Without --ca-file the built-in web roots do not know the test CA either.
    probe(&["postgres", &server.url("?sslmode=verify-full")])
        .code(1)
        .says("unknown issuer");
    let wrong_name = format!(
        "postgres://{USER}:{PASSWORD}@127.0.0.2:{}/{DB}",
        server.port
    );
    probe(&[
        "postgres",
        &wrong_name,
        "--sslmode",
        "verify-full",
        "--ca-file",
        ca,
    ])
    .code(1)
    .says("unhealthy (fatal)")
    .says("not valid for name 127.0.0.2");
    // verify-ca checks the chain only, and so does require with a root certificate
    // (libpq's rule).
    for mode in ["verify-ca", "require"] {
        probe(&["postgres", &wrong_name, "--sslmode", mode, "--ca-file", ca]).code(0);
        probe(&[
            "postgres",
            &wrong_name,
            "--sslmode",
            mode,
            "--ca-file",
            other,
        ])
        .code(1)
        .says("unhealthy (fatal)")
        .says("unknown issuer");
    }
}

/// libpq's allow tries plain text first; prefer tries TLS first.
#[test]
fn sslmode_allow_is_plain_first_and_prefer_tls_first() {
    let ssl_used = "select ssl from pg_stat_ssl where pid = pg_backend_pid()";
    for (mode, ssl) in [("allow", "f"), ("prefer", "t")] {
        probe(&[
            "postgres",
            &tls().url(&format!("?sslmode={mode}")),
            "--query",
            ssl_used,
        ])
        .code(0)
        .says(&format!("query returned {ssl}"));
    }
}

/// allow: a plain-text login the server refuses (a `hostssl`-only pg_hba.conf) is tried
/// again over TLS, as libpq does; disable is refused, naming pg_hba.conf's reason.
#[test]
fn sslmode_allow_retries_a_refused_plain_login_over_tls() {
    let url = |mode: &str| {
        format!(
            "postgres://{TLS_ONLY_USER}:{PASSWORD}@127.0.0.1:{}/{DB}?sslmode={mode}",
            tls().port
        )
    };
    probe(&[
        "postgres",
        &url("allow"),
        "--query",
        "select ssl from pg_stat_ssl where pid = pg_backend_pid()",
    ])
    .code(0)
    .says("query returned t");
    probe(&["postgres", &url("disable")])
        .code(1)
        .says("unhealthy (fatal)")
        .says("pg_hba.conf rejects connection")
        .says("no encryption")
        .does_not_say(PASSWORD);
}

/// On a Unix socket there is no TLS to retry with: allow's refused login is the answer
/// (the peer takes one connection; a second attempt would find nobody listening).
#[test]
fn sslmode_allow_on_a_unix_socket_does_not_retry() {
    let dir = temp_dir();
    let script = vec![
        Step::Message(Frame::Startup, PROTOCOL_3.to_vec()),
        Step::Send(error_response("28000", "pg_hba.conf rejects connection")),
        Step::Close,
    ];
    let peer = Peer::unix(&dir.path().join(".s.PGSQL.5432"), script);
    let url = format!(
        "postgres://{USER}@/{DB}?host={}&sslmode=allow",
        dir.path().display()
    );
    probe(&["postgres", &url])
        .code(0)
        .says("up; login failed for user app: pg_hba.conf rejects connection (28000)");
    peer.finish();
}

/// prefer: a TLS handshake that fails (here the peer answers 'S' and then sends no TLS) is
/// retried once in plain text on a new connection, as libpq does; require is not.
#[test]
fn sslmode_prefer_falls_back_to_plain_when_the_handshake_fails() {
    // AuthenticationCleartextPassword: the probe has none and hangs up.
    let asks_a_password = vec![
        Step::Message(Frame::Startup, PROTOCOL_3.to_vec()),
        Step::Send(b"R\0\0\0\x08\0\0\0\x03".to_vec()),
        Step::Silent,
    ];
    let peer = Peer::series(vec![tls_then_garbage(), asks_a_password]);
    let url = format!("postgres://app@127.0.0.1:{}/db?sslmode=prefer", peer.port());
    probe(&["postgres", &url])
        .code(0)
        .says("asks user app for a password");
    peer.finish();
    let peer = Peer::tcp(tls_then_garbage());
    let url = format!(
        "postgres://app@127.0.0.1:{}/db?sslmode=require",
        peer.port()
    );
    probe(&["postgres", &url]).code(1).does_not_say("password");
    peer.finish();
}

/// A peer that accepts the SSLRequest and then answers the ClientHello with text.
fn tls_then_garbage() -> Vec<Step> {
    vec![
        Step::Expect(SSL_REQUEST.to_vec()),
        Step::Send(b"S".to_vec()),
        Step::Expect(vec![0x16]),
        Step::Receive,
        Step::Send(b"this is not TLS\n".to_vec()),
        Step::Close,
    ]
}

/// COPY FROM STDIN in --query: probe has no data to send, so it answers CopyFail and the
/// server's error (57014) is the verdict, at once (the server would otherwise wait).
#[test]
fn copy_from_stdin_in_a_query_fails_at_once() {
    probe(&[
        "postgres",
        &plain().url(""),
        "--query",
        "create temp table t (a int); copy t from stdin",
        "--timeout",
        "10s",
    ])
    .code(1)
    .says("probe sends no COPY data")
    .says("57014")
    .within(Duration::from_secs(5));
}

/// SCRAM-SHA-256-PLUS against the real server over TLS (PostgreSQL offers it), and the
/// refusals of channel_binding=require and require_auth.
#[test]
fn channel_binding_and_require_auth_against_the_real_server() {
    probe(&[
        "postgres",
        &tls().url("?sslmode=require&channel_binding=require"),
        "--query",
        "select 1",
    ])
    .code(0)
    .says("query returned 1");
    probe(&[
        "postgres",
        &tls().url("?sslmode=disable&channel_binding=require"),
    ])
    .code(1)
    .says("unhealthy (fatal)")
    .says("channel_binding=require, but the connection is not TLS");
    probe(&["postgres", &plain().url("?require_auth=scram-sha-256")])
        .code(0)
        .says("logged in as app");
    probe(&["postgres", &plain().url("?require_auth=md5,password")])
        .code(1)
        .says("unhealthy (fatal)")
        .says("require_auth=md5,password: the server asked for SCRAM-SHA-256")
        .does_not_say(PASSWORD);
    probe(&["postgres", &plain().url("?require_auth=!scram-sha-256")])
        .code(1)
        .says("asked for SCRAM-SHA-256");
    probe(&["postgres", &plain().url("?require_auth=md5,!password")])
        .code(3)
        .says("cannot be mixed");
    probe(&["postgres", &plain().url("?channel_binding=maybe")])
        .code(3)
        .says("invalid channel_binding");
    // A non-ASCII password goes through SASLprep, as PostgreSQL expects.
    plain().query("create role saslprep_user login password 'I\u{ad}X\u{2168}'");
    let url = format!(
        "postgres://saslprep_user:I%C2%ADX%E2%85%A8@127.0.0.1:{}/{DB}",
        plain().port
    );
    probe(&["postgres", &url, "--query", "select 1"])
        .code(0)
        .says("query returned 1");
}

// --- PgBouncer -------------------------------------------------------------------------

/// Checks through Debian's PgBouncer in transaction pooling mode work as they do directly.
#[test]
fn checks_through_pgbouncer_work() {
    let url = pgbouncer().url("?sslmode=disable");
    probe(&["postgres", &url])
        .code(0)
        .says("accepting connections (logged in as app)");
    probe(&[
        "postgres",
        &url,
        "--query",
        "select version from migrations",
        "--expect",
        "abc123",
    ])
    .code(0)
    .says("query returned abc123");
}

#[test]
fn require_against_a_server_without_tls_is_fatal() {
    probe(&["postgres", &plain().url("?sslmode=require")])
        .code(1)
        .says("unhealthy (fatal)")
        .says("does not support TLS");
}

// --- fake peers ------------------------------------------------------------------------

/// The SSLRequest probe sends first under sslmode=prefer and require (code 80877103).
const SSL_REQUEST: &[u8] = &[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// Protocol 3.0, how a StartupMessage body starts.
const PROTOCOL_3: [u8; 4] = 196608u32.to_be_bytes();

/// A startup the peer declines TLS for: SSLRequest, 'N', then the StartupMessage.
fn startup() -> Vec<Step> {
    vec![
        Step::Expect(SSL_REQUEST.to_vec()),
        Step::Send(b"N".to_vec()),
        Step::Message(Frame::Startup, PROTOCOL_3.to_vec()),
    ]
}

fn error_response(code: &str, message: &str) -> Vec<u8> {
    let mut fields = Vec::new();
    for (tag, value) in [
        (b'S', "FATAL"),
        (b'V', "FATAL"),
        (b'C', code),
        (b'M', message),
    ] {
        fields.push(tag);
        fields.extend_from_slice(value.as_bytes());
        fields.push(0);
    }
    fields.push(0);
    let mut packet = vec![b'E'];
    packet.extend_from_slice(&(fields.len() as u32 + 4).to_be_bytes());
    packet.extend_from_slice(&fields);
    packet
}

#[test]
fn a_server_starting_up_is_unhealthy_and_retryable() {
    for code_and_message in [
        ("57P03", "the database system is starting up"),
        ("53300", "sorry, too many clients already"),
    ] {
        let (code, message) = code_and_message;
        let mut script = startup();
        script.push(Step::Send(error_response(code, message)));
        let peer = Peer::tcp(script);
        let run = probe(&[
            "postgres",
            &format!("postgres://app@127.0.0.1:{}/", peer.port()),
            "--json",
        ]);
        peer.finish();
        run.code(1).says(code).short();
        let line: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
        assert_eq!(line["fatal"], false, "{run:?}");
        if code == "57P03" {
            run.says("server is starting up (57P03)");
        }
    }
}

#[test]
fn a_silent_peer_cannot_outlast_the_deadline() {
    let peer = Peer::tcp(vec![Step::Silent]);
    probe(&[
        "postgres",
        &format!("postgres://app@127.0.0.1:{}/", peer.port()),
        "--timeout",
        "1s",
    ])
    .code(1)
    .says("timed out after 1s during startup")
    .within(Duration::from_secs(4));
    peer.finish();
}

#[test]
fn garbage_is_not_a_postgres_server() {
    let mut script = startup();
    script.push(Step::Send(
        b"!\x00\x00\x00\x08garbage and more garbage".to_vec(),
    ));
    script.push(Step::Silent);
    let peer = Peer::tcp(script);
    probe(&[
        "postgres",
        &format!("postgres://app@127.0.0.1:{}/", peer.port()),
        "--timeout",
        "3s",
    ])
    .code(1)
    .says("not a PostgreSQL server")
    .short()
    .within(Duration::from_secs(6));
    peer.finish();
}
