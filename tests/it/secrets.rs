//! Secrets never reach the output: every command × every secret-bearing input form ×
//! text, `--json`, `-q`, usage errors, wait-for progress and migrate lines. And headers
//! stay with their origin across redirects.

use std::sync::{Arc, Mutex};

use crate::support::http::{Response, Server};
use crate::support::{command, free_port, probe, probe_env, run, temp_dir};

const SECRET: &str = "Zq9hunter2x";

/// A case: its name, probe's arguments, extra environment.
type Case = (String, Vec<String>, Vec<(String, String)>);
/// Headers the second server of a redirect pair saw.
type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// One way a secret reaches probe: the target text (with `{S}` for the secret and
/// `{P}` for a closed port), extra words, environment.
struct Form {
    name: &'static str,
    target: &'static str,
    env: &'static [(&'static str, &'static str)],
    /// Flags for the one-shot command (`http`, `redis`, ...), if it has one.
    flags: &'static [&'static str],
}

const FORMS: &[Form] = &[
    // mysqladmin's glued -pPASSWORD, and curl's -u USER:PASSWORD.
    Form {
        name: "mysql -pPASSWORD",
        target: "mysql://u@127.0.0.1:{P}/app",
        env: &[],
        flags: &["-p{S}"],
    },
    Form {
        name: "mysql --password PASSWORD",
        target: "mysql://u@127.0.0.1:{P}/app",
        env: &[],
        flags: &["--password", "{S}"],
    },
    Form {
        name: "http -u user:password",
        target: "http://127.0.0.1:{P}/",
        env: &[],
        flags: &["-u", "elastic:{S}"],
    },
    Form {
        name: "http -uuser:password glued",
        target: "http://127.0.0.1:{P}/",
        env: &[],
        flags: &["-uelastic:{S}"],
    },
    // --send is never printed (it may log in: `AUTH pw`), nor a bad escape after it.
    Form {
        name: "tcp --send",
        target: "tcp://127.0.0.1:{P}",
        env: &[],
        flags: &["--send", "AUTH {S}\\r\\n", "--expect", "+OK"],
    },
    Form {
        name: "tcp --send bad escape",
        target: "tcp://127.0.0.1:{P}",
        env: &[],
        flags: &["--send", "AUTH {S}\\q", "--expect", "+OK"],
    },
    Form {
        name: "http userinfo",
        target: "http://u:{S}@127.0.0.1:{P}/",
        env: &[],
        flags: &[],
    },
    Form {
        name: "http # in password",
        target: "http://u:Hash#{S}@127.0.0.1:{P}/",
        env: &[],
        flags: &[],
    },
    Form {
        name: "http / in password",
        target: "http://u:a/{S}@127.0.0.1:{P}/",
        env: &[],
        flags: &[],
    },
    Form {
        name: "http ? in password",
        target: "http://u:q?{S}@127.0.0.1:{P}/",
        env: &[],
        flags: &[],
    },
    Form {
        name: "http bad port",
        target: "http://u:{S}@127.0.0.1:65536/",
        env: &[],
        flags: &[],
    },
    Form {
        name: "http api key header",
        target: "http://127.0.0.1:{P}/",
        env: &[],
        flags: &["-H", "X-Api-Key: {S}"],
    },
    Form {
        name: "http bearer header",
        target: "http://127.0.0.1:{P}/",
        env: &[],
        flags: &["-H", "Authorization: Bearer {S}"],
    },
    Form {
        name: "http malformed header",
        target: "http://127.0.0.1:{P}/",
        env: &[],
        flags: &["-H", "Authorization Bearer {S}"],
    },
    Form {
        name: "http malformed header with a colon",
        target: "http://127.0.0.1:{P}/",
        env: &[],
        flags: &["-H", "Authorization Bearer {S}:0"],
    },
    Form {
        name: "redis userinfo",
        target: "redis://:{S}@127.0.0.1:{P}/0",
        env: &[],
        flags: &[],
    },
    Form {
        name: "redis query password",
        target: "redis://127.0.0.1:{P}/?password={S}",
        env: &[],
        flags: &[],
    },
    Form {
        name: "redis query password, bad url",
        target: "redis://127.0.0.1:{P}/x?password={S}",
        env: &[],
        flags: &[],
    },
    Form {
        name: "redis ${VAR}",
        target: "redis://:${DB_PASSWORD}@127.0.0.1:{P}/",
        env: &[("DB_PASSWORD", "{S}")],
        flags: &[],
    },
    Form {
        name: "redis $VAR",
        target: "redis://:$DB_PASSWORD@127.0.0.1:{P}/",
        env: &[("DB_PASSWORD", "{S}")],
        flags: &[],
    },
    Form {
        name: "unclosed ${",
        target: "redis://:{S}${X@127.0.0.1:{P}/",
        env: &[],
        flags: &[],
    },
    Form {
        name: "postgres userinfo",
        target: "postgres://u:{S}@127.0.0.1:{P}/app",
        env: &[],
        flags: &[],
    },
    Form {
        name: "postgres driver scheme",
        target: "postgresql+asyncpg://u:{S}@127.0.0.1:{P}/app",
        env: &[],
        flags: &[],
    },
    Form {
        name: "postgres query password, bad param",
        target: "postgres://127.0.0.1:{P}/app?password={S}&nope=1",
        env: &[],
        flags: &[],
    },
    Form {
        name: "postgres PGPASSWORD",
        target: "postgres://u@127.0.0.1:{P}/app",
        env: &[("PGPASSWORD", "{S}")],
        flags: &[],
    },
    Form {
        name: "postgres password file",
        target: "postgres://u@127.0.0.1:{P}/app",
        env: &[],
        flags: &["--password-file", "{F}"],
    },
    Form {
        name: "unknown scheme",
        target: "kafka://u:{S}@127.0.0.1:{P}/",
        env: &[],
        flags: &[],
    },
    Form {
        name: "mysql userinfo",
        target: "mysql://u:{S}@127.0.0.1:{P}/app",
        env: &[],
        flags: &[],
    },
    Form {
        name: "mysql # / ? in password",
        target: "mysql://u:a#/?{S}@127.0.0.1:{P}/app",
        env: &[],
        flags: &[],
    },
    Form {
        name: "mysql bad ssl-mode",
        target: "mariadb://u:{S}@127.0.0.1:{P}/?ssl-mode=nope",
        env: &[],
        flags: &[],
    },
    Form {
        name: "mysql bad port",
        target: "mysql://u:{S}@127.0.0.1:99999/app",
        env: &[],
        flags: &[],
    },
    Form {
        name: "mysql MYSQL_PWD",
        target: "mysql://u@127.0.0.1:{P}/app",
        env: &[("MYSQL_PWD", "{S}")],
        flags: &[],
    },
    Form {
        name: "mysql password file",
        target: "mysql://u@127.0.0.1:{P}/app",
        env: &[],
        flags: &["--password-file", "{F}"],
    },
    Form {
        name: "amqp userinfo",
        target: "amqp://u:{S}@127.0.0.1:{P}/",
        env: &[],
        flags: &[],
    },
    Form {
        name: "amqp # / in password",
        target: "amqp://u:x#/{S}@127.0.0.1:{P}/vh",
        env: &[],
        flags: &[],
    },
    Form {
        name: "amqps bad port",
        target: "amqps://u:{S}@127.0.0.1:99999/",
        env: &[],
        flags: &[],
    },
    Form {
        name: "amqp password file",
        target: "amqp://u@127.0.0.1:{P}/",
        env: &[],
        flags: &["--password-file", "{F}"],
    },
    // More `@`s than one reading explains: the password may run to the last one, so a
    // quoted path or parameter name may be a piece of it (found by fuzzing).
    Form {
        name: "postgres ambiguous @, piece in a parameter name",
        target: "postgres://u:a@b/c@127.0.0.1:{P}/db?x{S}=1",
        env: &[],
        flags: &[],
    },
    Form {
        name: "redis ambiguous @, piece in the database",
        target: "redis://u:a@b/{S}@127.0.0.1:{P}",
        env: &[],
        flags: &[],
    },
    Form {
        name: "mysql ambiguous @, piece in a parameter name",
        target: "mysql://u:a@b/c@127.0.0.1:{P}/app?x{S}=1",
        env: &[],
        flags: &[],
    },
    Form {
        name: "amqp ambiguous @, piece in the vhost",
        target: "amqp://u:a@b/{S}@127.0.0.1:{P}/vh",
        env: &[],
        flags: &[],
    },
    #[cfg(feature = "kafka")]
    Form {
        name: "kafka userinfo",
        target: "kafka://u:{S}@127.0.0.1:{P}",
        env: &[],
        flags: &[],
    },
    #[cfg(feature = "kafka")]
    Form {
        name: "kafka userinfo, several hosts",
        target: "kafka://u:{S}@127.0.0.1:{P},127.0.0.1:{P}",
        env: &[],
        flags: &[],
    },
    #[cfg(feature = "kafka")]
    Form {
        name: "kafka # / in password",
        target: "kafka://u:x#/{S}@127.0.0.1:{P}",
        env: &[],
        flags: &[],
    },
    #[cfg(feature = "kafka")]
    Form {
        name: "kafka space in password",
        target: "kafka://u:spa ce-{S}@127.0.0.1:{P}",
        env: &[],
        flags: &[],
    },
    #[cfg(feature = "kafka")]
    Form {
        name: "kafka bad port",
        target: "kafka://u:{S}@127.0.0.1:99999",
        env: &[],
        flags: &[],
    },
    #[cfg(feature = "kafka")]
    Form {
        name: "kafka password file",
        target: "kafka://127.0.0.1:{P}",
        env: &[],
        flags: &["--user", "u", "--password-file", "{F}"],
    },
    #[cfg(feature = "kafka")]
    Form {
        name: "kafka KAFKA_SASL_PASSWORD",
        target: "kafka://127.0.0.1:{P}",
        env: &[("KAFKA_SASL_USERNAME", "u"), ("KAFKA_SASL_PASSWORD", "{S}")],
        flags: &[],
    },
    #[cfg(feature = "kafka")]
    Form {
        name: "kafka KAFKA_SASL_PASSWORD, bad mechanism",
        target: "kafka://127.0.0.1:{P}",
        env: &[
            ("KAFKA_SASL_USERNAME", "u"),
            ("KAFKA_SASL_PASSWORD", "{S}"),
            ("KAFKA_SASL_MECHANISM", "GSSAPI"),
        ],
        flags: &[],
    },
    Form {
        name: "grpc bearer metadata",
        target: "grpc://127.0.0.1:{P}",
        env: &[],
        flags: &["-H", "authorization: Bearer {S}"],
    },
    Form {
        name: "grpc api key metadata",
        target: "grpc://127.0.0.1:{P}",
        env: &[],
        flags: &["-H", "x-api-key: {S}"],
    },
    Form {
        name: "grpc malformed metadata",
        target: "grpc://127.0.0.1:{P}",
        env: &[],
        flags: &["-H", "authorization Bearer {S}"],
    },
    Form {
        name: "grpcs userinfo",
        target: "grpcs://u:{S}@127.0.0.1:{P}",
        env: &[],
        flags: &[],
    },
    // Passwords as people write them: spaces, `$`, quotes, `#`, non-ASCII, in every
    // scheme, and values that `${VAR}` puts in a password's place.
    Form {
        name: "http space in password",
        target: "http://u:spa ce-{S}@127.0.0.1:{P}/",
        env: &[],
        flags: &[],
    },
    Form {
        name: "redis space in password",
        target: "redis://:spa ce-{S}@127.0.0.1:{P}/0",
        env: &[],
        flags: &[],
    },
    Form {
        name: "postgres space in password",
        target: "postgres://u:spa ce-{S}@127.0.0.1:{P}/app",
        env: &[],
        flags: &[],
    },
    Form {
        name: "mysql space in password",
        target: "mysql://u:spa ce-{S}@127.0.0.1:{P}/app",
        env: &[],
        flags: &[],
    },
    Form {
        name: "amqp space in password",
        target: "amqp://u:spa ce-{S}@127.0.0.1:{P}/",
        env: &[],
        flags: &[],
    },
    Form {
        name: "redis $ in password",
        target: "redis://:S3cr3t$Passw0rd-{S}@127.0.0.1:{P}",
        env: &[],
        flags: &[],
    },
    Form {
        name: "postgres $ and # in password",
        target: "postgres://u:pa$word1#{S}@127.0.0.1:{P}/app",
        env: &[],
        flags: &[],
    },
    Form {
        name: "http quotes in password",
        target: "http://u:it's-\"{S}\"@127.0.0.1:{P}/",
        env: &[],
        flags: &[],
    },
    Form {
        name: "mysql non-ASCII password",
        target: "mysql://u:pässwörd-{S}-ü@127.0.0.1:{P}/app",
        env: &[],
        flags: &[],
    },
    Form {
        name: "redis ${PW} with a space, PW not named like a secret",
        target: "redis://:${PW}@127.0.0.1:{P}/",
        env: &[("PW", "spa ce-{S}")],
        flags: &[],
    },
    Form {
        name: "postgres $PW, PW not named like a secret",
        target: "postgres://u:$PW@127.0.0.1:{P}/app",
        env: &[("PW", "{S}#x y")],
        flags: &[],
    },
    Form {
        name: "redis --password=$... (a literal $, no such variable), bad flag in the line",
        target: "redis://127.0.0.1:{P}/0",
        env: &[],
        flags: &["--password=$ecret-{S}", "--bogus"],
    },
    Form {
        name: "http ?api_key=",
        target: "http://127.0.0.1:{P}/health?api_key={S}",
        env: &[],
        flags: &[],
    },
    Form {
        name: "http ?auth= and ?sig=",
        target: "http://127.0.0.1:{P}/health?auth={S}&sig={S}",
        env: &[],
        flags: &[],
    },
    Form {
        name: "http ?X-Amz-Signature=",
        target: "http://127.0.0.1:{P}/o?X-Amz-Credential=a&X-Amz-Signature={S}",
        env: &[],
        flags: &[],
    },
    Form {
        name: "http ?key= and ?apikey=",
        target: "http://127.0.0.1:{P}/?key={S}&apikey={S}",
        env: &[],
        flags: &[],
    },
    #[cfg(feature = "mongodb")]
    Form {
        name: "mongodb userinfo",
        target: "mongodb://u:{S}@127.0.0.1:{P}/app",
        env: &[],
        flags: &[],
    },
    #[cfg(feature = "mongodb")]
    Form {
        name: "mongodb # / ? in password, several hosts",
        target: "mongodb://u:a#/?{S}@127.0.0.1:{P},127.0.0.1:{P}/app?authSource=admin",
        env: &[],
        flags: &[],
    },
    // The secret percent-encoded in the URL ("Z" is %5A): probe masks what it decodes.
    #[cfg(feature = "mongodb")]
    Form {
        name: "mongodb percent-encoded password",
        target: "mongodb://u:%5Aq9hunter2x@127.0.0.1:{P}/",
        env: &[],
        flags: &[],
    },
    #[cfg(feature = "mongodb")]
    Form {
        name: "mongodb bad port",
        target: "mongodb://u:{S}@127.0.0.1:99999/",
        env: &[],
        flags: &[],
    },
    #[cfg(feature = "mongodb")]
    Form {
        name: "mongodb space in password",
        target: "mongodb://u:spa ce-{S}@127.0.0.1:{P}/",
        env: &[],
        flags: &[],
    },
    #[cfg(feature = "mongodb")]
    Form {
        name: "mongodb ambiguous @, piece in the database",
        target: "mongodb://u:a@b/{S}@127.0.0.1:{P}/app",
        env: &[],
        flags: &[],
    },
    #[cfg(feature = "mongodb")]
    Form {
        name: "mongodb password file",
        target: "mongodb://u@127.0.0.1:{P}/",
        env: &[],
        flags: &["--password-file", "{F}", "--query", "{\"ping\":1}"],
    },
    #[cfg(feature = "mongodb")]
    Form {
        name: "mongodb+srv userinfo, DNS refused",
        target: "mongodb+srv://u:{S}@cluster.test.internal/?tls=false",
        env: &[],
        flags: &["--dns-server", "127.0.0.1:{P}"],
    },
    #[cfg(feature = "mongodb")]
    Form {
        name: "mongodb ${VAR}",
        target: "mongodb://u:${MONGO_PASSWORD}@127.0.0.1:{P}/",
        env: &[("MONGO_PASSWORD", "{S}")],
        flags: &[],
    },
];

/// The check a form's URL picks as a one-shot command.
fn check_of(target: &str) -> Option<&'static str> {
    let scheme = target.split("://").next()?;
    match scheme {
        "http" => Some("http"),
        "redis" => Some("redis"),
        "postgres" | "postgresql+asyncpg" => Some("postgres"),
        "mysql" | "mariadb" => Some("mysql"),
        "amqp" | "amqps" => Some("amqp"),
        "grpc" | "grpcs" => Some("grpc"),
        "mongodb" | "mongodb+srv" => Some("mongodb"),
        "kafka" => Some("kafka"),
        "tcp" => Some("tcp"),
        _ => None,
    }
}

fn fill(text: &str, port: u16, file: &str) -> String {
    text.replace("{S}", SECRET)
        .replace("{P}", &port.to_string())
        .replace("{F}", file)
}

/// The shell-quoted target line `check` and `wait-for` take for a form with flags.
fn target_line(check: &str, target: &str, flags: &[String]) -> String {
    let mut words = vec![check.to_string(), target.to_string()];
    words.extend(flags.iter().cloned());
    shlex::try_join(words.iter().map(String::as_str)).unwrap()
}

#[test]
fn no_secret_in_any_output() {
    let dir = temp_dir();
    let file = dir.path().join("pw");
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    let file = file.display().to_string();
    let port = free_port();
    let mut cases: Vec<Case> = Vec::new();
    for form in FORMS {
        let target = fill(form.target, port, &file);
        let flags: Vec<String> = form.flags.iter().map(|f| fill(f, port, &file)).collect();
        let env: Vec<(String, String)> = form
            .env
            .iter()
            .map(|(k, v)| (k.to_string(), fill(v, port, &file)))
            .collect();
        let as_target = match (check_of(&target), flags.is_empty()) {
            (_, true) => target.clone(),
            (Some(check), false) => target_line(check, &target, &flags),
            (None, false) => continue,
        };
        for mode in ["", "--json", "-q"] {
            for usage_error in [false, true] {
                let mut commands: Vec<Vec<String>> = Vec::new();
                if let Some(check) = check_of(&target) {
                    let mut words = vec![check.to_string(), target.clone()];
                    words.extend(flags.iter().cloned());
                    commands.push(words);
                }
                // A usage error inside the TARGET too (its line is printed with it), on its
                // own: an error outside it would come first.
                let inner_error = vec!["check".to_string(), format!("{as_target} --no-such-flag")];
                commands.push(vec!["check".into(), as_target.clone()]);
                commands.push(vec![
                    "wait-for".into(),
                    as_target.clone(),
                    "--timeout".into(),
                    "300ms".into(),
                ]);
                commands.push(vec![
                    "migrate-then-exec".into(),
                    "--wait".into(),
                    as_target.clone(),
                    "--timeout".into(),
                    "300ms".into(),
                    "--migrate".into(),
                    "true".into(),
                ]);
                for mut words in commands {
                    if !mode.is_empty() {
                        words.insert(1, mode.into());
                    }
                    if usage_error {
                        words.push("--no-such-flag".into());
                        words.push(target.clone());
                    }
                    let words = match usage_error && words[0] == "check" {
                        true => {
                            let mut inner = inner_error.clone();
                            if !mode.is_empty() {
                                inner.insert(1, mode.into());
                            }
                            inner
                        }
                        false => words,
                    };
                    let name = format!(
                        "{} | {} {mode}{}",
                        form.name,
                        words[0],
                        if usage_error { " (usage error)" } else { "" }
                    );
                    cases.push((name, words, env.clone()));
                }
            }
        }
    }
    // Migration lines: the command is printed as written, before expansion.
    for migrate in [
        "true --password=${DB_PASSWORD}",
        "true --password=$DB_PASSWORD",
        "true postgres://u:${DB_PASSWORD}@db/app",
    ] {
        for mode in ["", "--json"] {
            let mut words = vec!["migrate-then-exec".to_string()];
            if !mode.is_empty() {
                words.push(mode.into());
            }
            words.extend([
                "--migrate".to_string(),
                migrate.to_string(),
                "--".into(),
                "true".into(),
            ]);
            cases.push((
                format!("migrate line {migrate:?} {mode}"),
                words,
                vec![("DB_PASSWORD".into(), SECRET.into())],
            ));
        }
    }

    let leaks = Arc::new(Mutex::new(Vec::new()));
    let count = cases.len();
    let cases = Arc::new(Mutex::new(cases));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let cases = cases.clone();
            let leaks = leaks.clone();
            std::thread::spawn(move || loop {
                let Some((name, words, env)) = cases.lock().unwrap().pop() else {
                    break;
                };
                let args: Vec<&str> = words.iter().map(String::as_str).collect();
                let mut cmd = command(&args);
                cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                let ran = run(cmd);
                if ran.output().contains(SECRET) || ran.code == 2 || ran.code < 0 {
                    leaks
                        .lock()
                        .unwrap()
                        .push(format!("{name}: {words:?}\n{}", ran.output()));
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let leaks = leaks.lock().unwrap();
    println!("secrets audit: {count} cases, {} leaks", leaks.len());
    assert!(
        leaks.is_empty(),
        "{} of {count} cases leaked:\n{}",
        leaks.len(),
        leaks.join("\n\n")
    );
}

#[test]
fn a_one_character_password_is_masked_only_in_its_place() {
    let port = free_port();
    let url = format!("redis://:e@127.0.0.1:{port}/");
    probe(&["redis", &url])
        .code(1)
        .says("redis://:***@127.0.0.1")
        .says("connection refused")
        .does_not_say(":e@");
    probe(&["check", &url, "--no-such-flag"])
        .code(3)
        .does_not_say(":e@");
}

#[test]
fn bad_ports_are_usage_errors_even_in_dry_runs() {
    for url in [
        "http://localhost:65536/",
        "http://localhost:-1/",
        "http://localhost:99999999/",
        "http://localhost:0/",
    ] {
        probe(&["http", url]).code(3).says("invalid port");
        let mut dry = command(&["http", url]);
        dry.env("PROBE_DRY_RUN", "1");
        let ran = run(dry);
        ran.code(3);
    }
    let mut dry = command(&["http", "http://localhost:/"]);
    dry.env("PROBE_DRY_RUN", "1");
    run(dry).code(0);
}

#[test]
fn overflowing_durations_and_non_utf8_environment_are_usage_errors() {
    let huge = "10000000000000000000s";
    probe(&["http", "http://127.0.0.1:1/", "--timeout", huge]).code(3);
    probe(&["wait-for", "127.0.0.1:1", "--timeout", huge]).code(3);
    probe(&["migrate-then-exec", "--migrate", "true", "--timeout", huge]).code(3);
    let mut env = command(&["wait-for", "127.0.0.1:1"]);
    env.env("PROBE_WAIT_TIMEOUT", huge);
    run(env).code(3).says("PROBE_WAIT_TIMEOUT");
    use std::os::unix::ffi::OsStrExt;
    for var in [
        "PROBE_DRY_RUN",
        "PROBE_WAIT_TIMEOUT",
        "PGPASSWORD",
        "DATABASE_URL",
        "REDIS_URL",
    ] {
        let mut cmd = command(&["tcp", "127.0.0.1:1"]);
        cmd.env(var, std::ffi::OsStr::from_bytes(b"1s\xff"));
        run(cmd).code(3).says(var);
    }
    let mut cmd = command(&["tcp", "127.0.0.1:${X}"]);
    cmd.env("X", std::ffi::OsStr::from_bytes(b"\xff"));
    run(cmd).code(3).says("not valid UTF-8");
}

#[test]
fn bare_host_port_and_driver_schemes_are_targets() {
    let server = Server::http(|_| Response::new(200, "ok"));
    let target = format!("127.0.0.1:{}", server.port);
    probe(&["check", &target]).code(0);
    probe(&["wait-for", &target, "--timeout", "5s", "--", "true"]).code(0);
    let closed = format!("postgresql+asyncpg://u@127.0.0.1:{}/app", free_port());
    probe(&["check", &closed]).code(1).says("postgres");
}

/// Two servers on different ports: the first redirects to the second, which records
/// what it was sent.
fn redirect_pair() -> (Server, Server, Seen) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorder = seen.clone();
    let other = Server::http(move |request| {
        *recorder.lock().unwrap() = request.headers.clone();
        Response::new(200, "ok")
    });
    let to = other.url("/landed");
    let first = Server::http(move |request| match request.path.as_str() {
        "/same" => Response::new(302, "").header("Location", "/here"),
        "/here" => Response::new(200, "ok"),
        _ => Response::new(302, "").header("Location", &to),
    });
    (first, other, seen)
}

fn sent(seen: &Mutex<Vec<(String, String)>>, name: &str) -> bool {
    seen.lock()
        .unwrap()
        .iter()
        .any(|(key, _)| key.eq_ignore_ascii_case(name))
}

#[test]
fn headers_and_credentials_stay_with_their_origin_unless_location_trusted() {
    let (first, _other, seen) = redirect_pair();
    let with_credentials = format!("http://u:pw@127.0.0.1:{}/away", first.port);
    let args = [
        "http",
        with_credentials.as_str(),
        "-L",
        "-H",
        "X-Api-Key: k3y",
        "--host",
        "example.test",
    ];
    probe(&args).code(0);
    assert!(!sent(&seen, "X-Api-Key"), "{:?}", seen.lock().unwrap());
    assert!(!sent(&seen, "Authorization"), "{:?}", seen.lock().unwrap());
    let host = seen
        .lock()
        .unwrap()
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("host"))
        .cloned();
    assert_ne!(host.map(|(_, v)| v), Some("example.test".into()));

    let mut trusted = args.to_vec();
    trusted.push("--location-trusted");
    probe(&trusted).code(0);
    assert!(sent(&seen, "X-Api-Key"), "{:?}", seen.lock().unwrap());
    assert!(sent(&seen, "Authorization"), "{:?}", seen.lock().unwrap());

    // Without -L the redirect is the answer, as before.
    probe(&["http", &first.url("/away")])
        .code(0)
        .says("status 302");
    // A same-origin redirect is followed with the headers.
    probe(&["http", &first.url("/same"), "-L", "-H", "X-Api-Key: k3y"])
        .code(0)
        .says("status 200");
}

/// The variables probe reads by name, holding passwords written every way: spaces, `$`,
/// quotes, URLs; as the one-shot check's default, in `check` and in `wait-for`.
#[test]
fn no_secret_from_the_variables_probe_reads() {
    let port = free_port().to_string();
    let pg_flags = ["postgres", "-h", "127.0.0.1", "-p", &port];
    let cases: Vec<(&[&str], &str, String)> = vec![
        (
            &["postgres"],
            "DATABASE_URL",
            format!("postgres://u:spa ce-{SECRET}@127.0.0.1:{port}/app"),
        ),
        (
            &["postgres"],
            "DATABASE_URL",
            format!("postgresql+asyncpg://u:pa$word#{SECRET}@127.0.0.1:{port}/app"),
        ),
        (
            &["redis"],
            "REDIS_URL",
            format!("redis://:spa ce-{SECRET}@127.0.0.1:{port}/0"),
        ),
        (
            &["redis"],
            "REDIS_URL",
            format!("redis://:it's-\"{SECRET}\"@127.0.0.1:{port}:x"),
        ),
        (&pg_flags, "PGPASSWORD", format!("spa ce-{SECRET}")),
        (
            &["mysql", "mysql://u@127.0.0.1:1/"],
            "MYSQL_PWD",
            format!("$x-{SECRET}"),
        ),
        #[cfg(feature = "mongodb")]
        (
            &["mongodb"],
            "MONGODB_URL",
            format!("mongodb://u:spa ce-{SECRET}@127.0.0.1:{port}/app"),
        ),
        #[cfg(feature = "mongodb")]
        (
            &["mongodb", "--timeout", "300ms"],
            "MONGO_URL",
            format!("mongodb://u:it's-\"{SECRET}\"@127.0.0.1:{port},127.0.0.1:x/"),
        ),
        (
            &["wait-for", "--timeout", "300ms"],
            "PROBE_WAIT_TARGETS",
            format!(
                "'redis://:spa ce-{SECRET}@127.0.0.1:{port}' http://u:{SECRET}@127.0.0.1:{port}/"
            ),
        ),
    ];
    for (args, name, value) in cases {
        for extra in [&[][..], &["--json"], &["--no-such-flag"]] {
            let mut words = args.to_vec();
            words.extend_from_slice(extra);
            let ran = probe_env(&words, &[(name, &value)]);
            let output = ran.output();
            assert!(
                !output.contains(SECRET) && ran.code != 2,
                "{words:?} with {name}={value:?} printed:\n{output}"
            );
        }
    }
}

/// What is not a secret is shown as typed: the working directory, an unused `API_KEY`,
/// a fingerprint, a `DB_PASSWORD` probe was not asked to use. The line names the target
/// as written, less its password.
#[test]
fn only_secrets_are_masked() {
    let server = Server::http(|_| Response::new(200, "ok"));
    let dir = temp_dir();
    let heartbeat = dir.path().join("hb");
    std::fs::write(&heartbeat, "").unwrap();
    let heartbeat = heartbeat.display().to_string();
    let workdir = dir.path().display().to_string();
    let fingerprint = "A035C8C19219BA821ECEA86B64E628F8D684696D";
    let health = server.url("/health");
    let fingerprint_url = server.url(&format!("/{fingerprint}"));
    let plain_env = [
        ("PWD", workdir.as_str()),
        ("API_KEY", "health"),
        ("GPG_KEY", fingerprint),
        ("DB_PASSWORD", "127.0.0.1"),
        ("SOME_TOKEN_FILE", heartbeat.as_str()),
    ];
    let closed = free_port();
    let with_password = format!("postgres://app:{SECRET}@127.0.0.1:{closed}/app");
    // postgres shows its URL without the password.
    let shown_password = format!("postgres://app@127.0.0.1:{closed}/app");
    let rows: Vec<(Vec<&str>, &str)> = vec![
        (vec!["file", &heartbeat], &heartbeat),
        (vec!["http", &health], &health),
        (vec!["http", &fingerprint_url], &fingerprint_url),
        (vec!["postgres", &with_password], &shown_password),
    ];
    for (words, shown) in &rows {
        let target = words[1..].join(" ");
        let line = shlex::try_join(words.iter().copied()).unwrap();
        for command in [
            words.clone(),
            vec!["check", &line],
            vec!["wait-for", "--timeout", "300ms", &line],
        ] {
            let ran = probe_env(&command, &plain_env);
            let output = ran.output();
            assert!(
                output.contains(shown) && !output.contains(SECRET),
                "{command:?} (target {target}) should show {shown:?}:\n{output}"
            );
        }
    }
}

/// A `$` that names no variable stays as written: lines that worked before `$VAR` was
/// expanded keep working. `${VAR}` (braces) of an unset variable is an error naming only
/// the variable; `$$` writes a `$` before a set variable's name.
#[test]
fn dollars_that_name_no_variable_stay_literal() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorder = seen.clone();
    let server = Server::http(move |request| {
        let auth = request
            .headers
            .iter()
            .find(|(k, _)| {
                k.eq_ignore_ascii_case("authorization") || k.eq_ignore_ascii_case("if-match")
            })
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        recorder.lock().unwrap().push((request.path.clone(), auth));
        Response::new(200, "ok")
    });
    let odata = server.url("/odata/$metadata");
    probe(&["http", &odata]).code(0).says("/odata/$metadata");
    probe(&["check", &format!("http {odata} -H 'If-Match: $etag'")]).code(0);
    let password = format!("http://u:pa$word1@127.0.0.1:{}/p", server.port);
    probe(&["http", &password]).code(0).does_not_say("pa$word1");
    probe_env(
        &["http", &server.url("/$HOST_X/$$HOST_X")],
        &[("HOST_X", "h")],
    )
    .code(0)
    .says("/h/$HOST_X");
    let seen = seen.lock().unwrap();
    assert!(
        seen.iter().any(|(path, _)| path == "/odata/$metadata"),
        "{seen:?}"
    );
    assert!(seen.iter().any(|(_, v)| v == "$etag"), "{seen:?}");
    // Basic auth carries the password as written: u:pa$word1.
    assert!(
        seen.iter().any(|(_, v)| v == "Basic dTpwYSR3b3JkMQ=="),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|(path, _)| path == "/h/$HOST_X"),
        "{seen:?}"
    );
    drop(seen);
    probe(&["process", "--cmdline", "worker $QUEUE"])
        .code(1)
        .does_not_say("not set");
    probe(&["redis", "redis://:S3cr3t$Passw0rd@127.0.0.1:1"])
        .code(1)
        .does_not_say("Passw0rd");
    probe(&["redis", "redis://:${PW_UNSET}@127.0.0.1:1"])
        .code(3)
        .says("${PW_UNSET} is not set");
}

/// `probe exec`: what the program prints is masked where it is a secret of the command line
/// (a credential in its arguments) or of the environment it gets (credential-named
/// variables, which probe otherwise never reads).
#[test]
fn exec_output_masks_secrets_of_its_arguments_and_environment() {
    for (args, env) in [
        (
            vec![
                "exec",
                "--",
                "sh",
                "-c",
                "echo \"connecting with $1\" >&2; exit 1",
                "sh",
                "--password=Zq9hunter2x",
            ],
            vec![],
        ),
        (
            vec![
                "exec",
                "--",
                "sh",
                "-c",
                "echo 'cannot reach postgres://app:Zq9hunter2x@db/app: refused'; exit 2",
            ],
            vec![],
        ),
        (
            vec![
                "exec",
                "--",
                "sh",
                "-c",
                "echo password=$MYSTERY >&2; exit 1",
            ],
            vec![("MYSTERY", SECRET)],
        ),
        (
            vec![
                "exec",
                "--",
                "sh",
                "-c",
                "echo \"$APP_DB_PASSWORD\"; exit 1",
            ],
            vec![("APP_DB_PASSWORD", SECRET)],
        ),
        (
            vec![
                "exec",
                "--",
                "sh",
                "-c",
                "echo \"token: $API_TOKEN\"; exit 3",
            ],
            vec![("API_TOKEN", SECRET)],
        ),
    ] {
        for mode in ["", "--json"] {
            let mut words = args.clone();
            if !mode.is_empty() {
                words.insert(1, mode);
            }
            let run = probe_env(&words, &env);
            run.code(1).does_not_say(SECRET).says("exited");
            let line = format!(
                "exec -- {}",
                shlex::try_join(args[2..].iter().copied()).unwrap()
            );
            let check: Vec<&str> = ["check", mode, &line]
                .into_iter()
                .filter(|word| !word.is_empty())
                .collect();
            probe_env(&check, &env).code(1).does_not_say(SECRET);
        }
    }
}
