//! Usage errors, help and exit codes that do not depend on any server.

use crate::support::probe;

#[test]
fn help_exits_0_and_usage_errors_exit_3() {
    probe(&["--help"]).code(0).says("Usage: probe");
    probe(&["tcp", "--help"]).code(0).says("HOST:PORT");
    probe(&[]).code(3).says("missing a command");
    probe(&["tcp", "--bogus", "x:1"]).code(3).says("--bogus");
    probe(&["nope"]).code(3).says("nope");
}

#[test]
fn bad_values_name_what_is_wrong() {
    probe(&["tcp", "db"]).code(3).says("HOST:PORT");
    probe(&["tcp", "db:99999"]).code(3).says("invalid port");
    probe(&["tcp", "db:1", "--timeout", "5"])
        .code(3)
        .says("invalid duration");
    probe(&["check"]).code(3).says("at least one TARGET");
    probe(&["check", "ftp://x"]).code(3).says("ftp://x");
}

#[test]
fn unset_variables_are_usage_errors_not_empty_strings() {
    probe(&["tcp", "${PROBE_TEST_UNSET_HOST}:1"])
        .code(3)
        .says("PROBE_TEST_UNSET_HOST");
}

/// GNU's `--name=value` works for the long options of every command and inside TARGETs.
#[test]
fn long_options_take_values_after_an_equals_sign() {
    let server = crate::support::http::Server::http(|_| {
        crate::support::http::Response::new(200, r#"{"status":"ok"}"#)
    });
    let url = server.url("/health");
    let tcp = format!("127.0.0.1:{}", server.port);
    probe(&["tcp", &tcp, "--timeout=2s"]).code(0);
    probe(&["--timeout=2s", "tcp", &tcp]).code(0);
    probe(&[
        "http",
        &url,
        "--expect-status=200-299",
        "--expect-json=/status=ok",
    ])
    .code(0);
    probe(&["http", &url, "--expect-json=/status=down"])
        .code(1)
        .says("/status");
    probe(&[
        "check",
        &format!("http {url} --expect-json=/status=ok --timeout=2s"),
    ])
    .code(0);
    probe(&[
        "wait-for",
        &tcp,
        "--timeout=5s",
        "--interval=100ms",
        "--",
        "true",
    ])
    .code(0);
    probe(&[
        "migrate-then-exec",
        "--migrate=true",
        "--timeout=5s",
        "--",
        "true",
    ])
    .code(0);
    probe(&["tcp", &tcp, "--timeout=0"])
        .code(3)
        .says("--timeout");
}
