//! The lines users already write, as they write them: nc's `HOST PORT`, pg_isready's and
//! redis-cli's flags, the shared flags before the command, `--timeout 0`, a forgotten `--`.
//! Real PostgreSQL and Redis servers for the flag forms.

use std::net::TcpListener;

use crate::support::peer::{Peer, Step};
use crate::support::postgres::{plain, DB, PASSWORD, USER};
use crate::support::redis::RedisServer;
use crate::support::{free_port, probe, probe_env, temp_dir};

#[test]
fn tcp_takes_nc_style_host_and_port() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    probe(&["tcp", "127.0.0.1", &port])
        .code(0)
        .says(&format!("tcp 127.0.0.1:{port}"));
    // Mixed with HOST:PORT targets; each pair is one target.
    let both = format!("127.0.0.1:{port}");
    probe(&["tcp", &both, "127.0.0.1", &port]).code(0);
    probe(&["tcp", "127.0.0.1", &free_port().to_string()])
        .code(1)
        .says("connection refused");
    // A port after a complete HOST:PORT is not silently joined.
    probe(&["tcp", &both, "5432"]).code(3).says("\"5432\"");
    // The same form inside a command-line target.
    probe(&["check", &format!("tcp 127.0.0.1 {port}")]).code(0);
}

#[test]
fn postgres_takes_pg_isready_flags() {
    let server = plain();
    let port = server.port.to_string();
    probe(&[
        "postgres",
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-U",
        USER,
        "-d",
        DB,
        "-t",
        "3",
    ])
    .code(0)
    .says(&format!("postgres://{USER}@127.0.0.1:{port}/{DB}"))
    .says("up; asks user app for a password");
    probe(&[
        "postgres",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--username",
        USER,
        "--dbname",
        DB,
    ])
    .code(0);
    // -q as pg_isready writes it: nothing printed.
    let quiet = probe(&["postgres", "-h", "127.0.0.1", "-p", &port, "-q"]);
    quiet.code(0);
    assert_eq!(quiet.output(), "");
    // Flags beat PG* variables, and with PGPASSWORD the login must work.
    probe_env(
        &[
            "postgres",
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-U",
            USER,
            "-d",
            DB,
            "--query",
            "select 1",
        ],
        &[
            ("PGHOST", "192.0.2.1"),
            ("PGPORT", "1"),
            ("PGPASSWORD", PASSWORD),
        ],
    )
    .code(0)
    .says("query returned 1");
    // Flags beat DATABASE_URL too (pg_isready never reads it).
    probe_env(
        &["postgres", "-h", "127.0.0.1", "-p", &port],
        &[("DATABASE_URL", "postgres://x@127.0.0.9:1/x")],
    )
    .code(0);
    probe(&[
        "postgres",
        "-h",
        "127.0.0.1",
        "-p",
        &free_port().to_string(),
        "-t",
        "2",
    ])
    .code(1)
    .says("connection refused");
}

#[test]
fn postgres_flags_that_contradict_the_url_are_usage_errors() {
    let url = plain().url("");
    probe(&["postgres", &url, "-p", "1"])
        .code(3)
        .says("the port is given twice")
        .says("-p")
        .does_not_say(PASSWORD);
    probe(&["postgres", &url, "-U", "other"])
        .code(3)
        .says("\"other\" with -U");
    // Repeating what the URL says is fine.
    probe(&["postgres", &url, "-U", USER, "-h", "127.0.0.1"]).code(0);
}

#[test]
fn postgres_timeout_is_seconds_as_pg_isready_writes_it() {
    // A peer that accepts and never answers: -t 1 gives up after about a second.
    let silent = Peer::tcp(vec![Step::Silent]);
    let port = silent.port().to_string();
    probe(&["postgres", "-h", "127.0.0.1", "-p", &port, "-t", "1"])
        .code(1)
        .says("timed out after 1s")
        .within(std::time::Duration::from_secs(4));
    silent.finish();
    probe(&["postgres", "-t", "0"]).code(3).says("no limit");
}

#[test]
fn redis_takes_redis_cli_flags() {
    let pw = "cli-Pa55-word";
    let server = RedisServer::start(&[
        "--requirepass",
        pw,
        "--user",
        "probe",
        "on",
        ">probe-Pa55",
        "+ping",
    ]);
    let port = server.port.to_string();
    probe(&["redis", "-h", "127.0.0.1", "-p", &port, "-a", pw, "-n", "2"])
        .code(0)
        .says("PONG")
        .does_not_say(pw);
    // Without -a: NOAUTH, fatal.
    probe(&["redis", "-h", "127.0.0.1", "-p", &port])
        .code(1)
        .says("NOAUTH");
    // A wrong -a is never printed, even in JSON.
    probe(&[
        "redis",
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-a",
        "wrong-Pa55",
        "--json",
    ])
    .code(1)
    .does_not_say("wrong-Pa55");
    // The flags replace REDIS_URL entirely.
    probe_env(
        &["redis", "-p", &port, "-a", pw],
        &[("REDIS_URL", "redis://127.0.0.9:1")],
    )
    .code(0);
    // ACL user as redis-cli --user writes it.
    probe(&["redis", "-p", &port, "--user", "probe", "-a", "probe-Pa55"])
        .code(0)
        .does_not_say("probe-Pa55");
}

#[test]
fn redis_flags_that_contradict_the_url_are_usage_errors() {
    let secret = "url-Pa55-word";
    let url = format!("redis://:{secret}@127.0.0.1:6390/1");
    for (args, fragment) in [
        (vec!["-p", "6391"], "\"6391\" with -p"),
        (vec!["-h", "cache"], "\"cache\" with -h"),
        (vec!["-n", "2"], "\"2\" with -n"),
        (vec!["--tls"], "--tls"),
        (vec!["-a", "other-Pa55"], "in the URL and with -a"),
    ] {
        let mut all = vec!["redis", url.as_str()];
        all.extend(args);
        probe(&all)
            .code(3)
            .says(fragment)
            .does_not_say(secret)
            .does_not_say("other-Pa55");
    }
    let dir = temp_dir();
    let file = dir.path().join("pw");
    std::fs::write(&file, "x\n").unwrap();
    probe(&[
        "redis",
        "-a",
        "cli-Pa55",
        "--password-file",
        file.to_str().unwrap(),
    ])
    .code(3)
    .says("with -a and with --password-file")
    .does_not_say("cli-Pa55");
}

#[test]
fn redis_tls_flag_is_rediss() {
    // --tls against a plain-text server: the TLS handshake fails (the flag took effect).
    let server = RedisServer::start(&[]);
    probe(&[
        "redis",
        "-p",
        &server.port.to_string(),
        "--tls",
        "-k",
        "--timeout",
        "2s",
    ])
    .code(1)
    .does_not_say("PONG");
}

#[test]
fn shared_flags_work_before_the_command() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    let quiet = probe(&["-q", "tcp", &target]);
    quiet.code(0);
    assert_eq!(quiet.output(), "");
    probe(&["--json", "--timeout", "2s", "tcp", &target])
        .code(0)
        .says("\"healthy\":true");
    probe(&["--json", "check", &format!("tcp://{target}")])
        .code(0)
        .says("\"check\":\"tcp\"");
    probe(&["-q", "wait-for", &format!("tcp://{target}"), "--", "true"]).code(0);
    // wait-for's --timeout before the command is wait-for's: 0 waits forever, accepted.
    probe(&["--timeout", "0", "wait-for", &format!("tcp://{target}")]).code(0);
}

#[test]
fn timeout_0_means_no_limit_or_is_refused() {
    for args in [
        vec!["tcp", "127.0.0.1:1", "--timeout", "0"],
        vec!["http", "http://127.0.0.1:1/", "--timeout", "0"],
        vec!["check", "tcp://127.0.0.1:1", "--timeout", "0"],
        vec!["file", "/", "--timeout", "0"],
        vec!["check", "tcp 127.0.0.1:1 --timeout 0"],
    ] {
        probe(&args).code(3).says("--timeout").says("no limit");
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = format!("tcp://127.0.0.1:{}", listener.local_addr().unwrap().port());
    probe(&["wait-for", &target, "--timeout", "0"]).code(0);
}

#[test]
fn a_forgotten_dashdash_gets_a_hint() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = format!("tcp://127.0.0.1:{}", listener.local_addr().unwrap().port());
    probe(&["wait-for", &target, "echo", "hi"])
        .code(3)
        .says("did you mean `-- echo hi`?");
    probe(&["migrate-then-exec", "--migrate", "true", "./app", "--serve"])
        .code(3)
        .says("did you mean `-- ./app --serve`?");
    // With the `--`, it just works.
    probe(&["wait-for", &target, "--", "echo", "hi"])
        .code(0)
        .says("hi");
}

/// The rows of docs/reference.md's "Drop-in flags" table: tool, flags, meaning, example.
fn drop_in_table() -> Vec<(String, Vec<String>, String, String)> {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/reference.md"))
        .expect("docs/reference.md");
    let section = docs
        .split("## Drop-in flags")
        .nth(1)
        .expect("a Drop-in flags section");
    let section = section.split("\n## ").next().unwrap();
    let code = |cell: &str| -> Vec<String> {
        cell.split('`')
            .skip(1)
            .step_by(2)
            .map(String::from)
            .collect()
    };
    section
        .lines()
        .filter(|line| line.starts_with("| ") && !line.starts_with("| tool"))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").collect();
            assert_eq!(cells.len(), 4, "{line}");
            let example = code(cells[3]).pop().expect("an example");
            (
                cells[0].trim().to_string(),
                code(cells[1]),
                cells[2].to_string(),
                example,
            )
        })
        .collect()
}

/// Every row of the drop-in table does what it says: an accepted flag passes a dry run,
/// a refused one is a usage error naming it and its tool. And the table and each check's
/// `--help` list the same foreign flags.
#[test]
fn every_drop_in_flag_does_what_the_table_says() {
    let pki = crate::support::pki::pki();
    let rows = drop_in_table();
    assert!(rows.len() > 60, "the table: {} rows", rows.len());
    for (tool, flags, meaning, example) in &rows {
        let example = example
            .replace("{ca}", &pki.ca.cert.display().to_string())
            .replace("{cert}", &pki.client.cert.display().to_string())
            .replace("{key}", &pki.client.key.display().to_string());
        let words = shlex::split(&example).expect("an example splits");
        assert_eq!(words[0], "probe", "{example}");
        let run = probe_env(
            &words[1..].iter().map(String::as_str).collect::<Vec<_>>(),
            &[("PROBE_DRY_RUN", "1")],
        );
        if meaning.contains("not taken") {
            run.code(3).says(&format!("{tool}'s {}", flags[0]));
        } else {
            run.code(0);
        }
    }
    // Each foreign row appears in its check's --help, and each --help drop-in flag here.
    for check in ["http", "tcp", "grpc", "mysql", "redis"] {
        let help = probe(&[check, "--help"]).stdout.clone();
        let listed = help.split("Drop-in flags").nth(1).unwrap_or_default();
        let listed: Vec<&str> = listed
            .lines()
            .skip(1)
            .take_while(|line| !line.is_empty())
            .flat_map(|line| line.split_whitespace())
            .map(|word| word.trim_matches(|c| c == '(' || c == ')'))
            .filter(|word| word.starts_with('-'))
            .collect();
        for flag in &listed {
            assert!(
                rows.iter()
                    .any(|(_, flags, _, example)| flags.iter().any(|f| f == flag)
                        && example.starts_with(&format!("probe {check} "))),
                "{check} --help lists {flag}, which the table lacks"
            );
        }
        for (_, flags, meaning, example) in &rows {
            let foreign = meaning.starts_with('=')
                || meaning.starts_with("accepted")
                || meaning.contains("not taken");
            if foreign && example.starts_with(&format!("probe {check} ")) {
                assert!(
                    listed.contains(&flags[0].as_str()),
                    "the table has {check} {}, which its --help lacks",
                    flags[0]
                );
            }
        }
    }
}

#[test]
fn glued_values_and_go_style_flags_work_against_real_servers() {
    let server = RedisServer::start(&["--requirepass", PASSWORD]);
    let port = server.port.to_string();
    probe(&[
        "redis",
        "-h127.0.0.1",
        &format!("-p{port}"),
        &format!("-a{PASSWORD}"),
        "--no-auth-warning",
        "ping",
    ])
    .code(0)
    .does_not_say(PASSWORD);
    let pg = plain();
    probe(&[
        "postgres",
        "-h127.0.0.1",
        &format!("-p{}", pg.port),
        &format!("-U{USER}"),
        &format!("-d{DB}"),
        "-t5",
    ])
    .code(0);
}

/// curl's `-u USER:PASSWORD`, and a login from files (`--user-file`, `--password-file`),
/// which need no percent-encoding: the server sees the same Basic header either way, and
/// no password is printed.
#[test]
fn http_basic_auth_without_the_url() {
    use crate::support::http::{Response, Server};
    let password = "p@ss:w/rd#1";
    let expected = format!(
        "Basic {}",
        base64_encode(format!("elastic:{password}").as_bytes())
    );
    let server = Server::http(move |request| match request.header("authorization") {
        Some(value) if value == expected => Response::new(200, "ok"),
        _ => Response::new(401, "who are you"),
    });
    let url = server.url("/_cluster/health");
    probe(&["http", "-u", &format!("elastic:{password}"), &url])
        .code(0)
        .does_not_say(password);
    let dir = temp_dir();
    let (user_file, password_file) = (dir.path().join("user"), dir.path().join("password"));
    std::fs::write(&user_file, "elastic\n").unwrap();
    std::fs::write(&password_file, format!("{password}\n")).unwrap();
    let (user_file, password_file) = (
        user_file.display().to_string(),
        password_file.display().to_string(),
    );
    probe(&[
        "http",
        "--user-file",
        &user_file,
        "--password-file",
        &password_file,
        &url,
    ])
    .code(0);
    probe(&[
        "http",
        "-u",
        "elastic",
        "--password-file",
        &password_file,
        &url,
    ])
    .code(0);
    probe(&["http", "-u", "elastic:wrong", &url])
        .code(1)
        .says("401")
        .does_not_say("wrong");
    // Usage errors: a user without a password, a login given twice.
    probe(&["http", "-u", "elastic", &url])
        .code(3)
        .says("needs a password");
    probe(&["http", "-u", "a:b", &format!("http://c:d@127.0.0.1:{}/", 1)])
        .code(3)
        .says("given twice")
        .does_not_say(":d@");
}

fn base64_encode(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// mysqladmin's line as users paste it (`ping -uroot -pPW -h HOST -P PORT --protocol=tcp`,
/// or `-S` for the socket), and user names from a file, against the real MariaDB.
#[test]
fn mysqladmin_flags_and_user_files_against_mariadb() {
    use crate::support::mysql::{mariadb, PASSWORD, USER};
    let server = mariadb();
    let port = server.port.to_string();
    probe(&[
        "mysql",
        "ping",
        &format!("-u{USER}"),
        &format!("-p{PASSWORD}"),
        "-h",
        "127.0.0.1",
        &format!("-P{port}"),
        "--protocol=tcp",
        "--skip-ssl",
    ])
    .code(0)
    .does_not_say(PASSWORD);
    let socket = server.socket.display().to_string();
    probe(&["mysql", "-u", USER, &format!("-p{PASSWORD}"), "-S", &socket]).code(0);
    // A wrong password given must fail, and never show.
    probe(&[
        "mysql",
        "-u",
        USER,
        "-pnot-it-7f3e",
        "-h",
        "127.0.0.1",
        "-P",
        &port,
    ])
    .code(1)
    .does_not_say("not-it-7f3e");
    // --user-file and --password-file: nothing in ps, nothing percent-encoded.
    let dir = temp_dir();
    let (user_file, password_file) = (dir.path().join("user"), dir.path().join("password"));
    std::fs::write(&user_file, format!("{USER}\n")).unwrap();
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    probe(&[
        "mysql",
        "-S",
        &socket,
        "--user-file",
        &user_file.display().to_string(),
        "--password-file",
        &password_file.display().to_string(),
    ])
    .code(0);
    // A URL and location flags together are refused, naming both.
    probe(&["mysql", "mysql://127.0.0.1/", "-h", "db"])
        .code(3)
        .says("given twice");
    probe(&[
        "mysql",
        "-u",
        "a",
        "--user-file",
        &user_file.display().to_string(),
    ])
    .code(3)
    .says("given twice");
}

/// `--user-file` for postgres and amqp too: the user name comes from a Docker secret.
#[test]
fn postgres_user_from_a_file() {
    let pg = plain();
    let dir = temp_dir();
    let (user_file, password_file) = (dir.path().join("user"), dir.path().join("password"));
    std::fs::write(&user_file, format!("{USER}\n")).unwrap();
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    probe(&[
        "postgres",
        "-h",
        "127.0.0.1",
        "-p",
        &pg.port.to_string(),
        "-d",
        DB,
        "--user-file",
        &user_file.display().to_string(),
        "--password-file",
        &password_file.display().to_string(),
        "--query",
        "select 1",
    ])
    .code(0);
    probe(&["amqp", "--user-file", "/nonexistent/user"])
        .code(3)
        .says("--user-file");
}
