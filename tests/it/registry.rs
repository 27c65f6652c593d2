//! Every check in the registry runs the same way in every place a check can be written: as
//! `probe X`, as a `check 'X ...'` TARGET, as a URL TARGET where it has a scheme, and in
//! `wait-for`. The list of checks is read from `probe --help`, so a check added to the
//! registry without a row here fails, and a row here for a check the registry lost fails.

use crate::support::{free_port, probe, probe_env};

/// A line for each check that is unhealthy without any server: a closed port, a missing
/// file, a process that does not exist. `{port}` is a port nothing listens on.
const LINES: &[(&str, &str, Option<&str>)] = &[
    (
        "http",
        "http http://127.0.0.1:{port}/health",
        Some("http://127.0.0.1:{port}/health"),
    ),
    (
        "tcp",
        "tcp 127.0.0.1:{port}",
        Some("tcp://127.0.0.1:{port}"),
    ),
    ("process", "process no-such-process-name-xyz", None),
    ("file", "file /nonexistent/heartbeat", None),
    (
        "dns",
        "dns db.invalid --server 127.0.0.1:{port}",
        Some("dns://127.0.0.1:{port}/db.invalid"),
    ),
    ("exec", "exec -- false", None),
    (
        "redis",
        "redis redis://127.0.0.1:{port}",
        Some("redis://127.0.0.1:{port}"),
    ),
    (
        "postgres",
        "postgres postgres://127.0.0.1:{port}/db",
        Some("postgres://127.0.0.1:{port}/db"),
    ),
    (
        "amqp",
        "amqp amqp://127.0.0.1:{port}",
        Some("amqp://127.0.0.1:{port}"),
    ),
    (
        "grpc",
        "grpc 127.0.0.1:{port}",
        Some("grpc://127.0.0.1:{port}"),
    ),
    (
        "mysql",
        "mysql mysql://127.0.0.1:{port}",
        Some("mysql://127.0.0.1:{port}"),
    ),
    (
        "mongodb",
        "mongodb mongodb://127.0.0.1:{port}",
        Some("mongodb://127.0.0.1:{port}"),
    ),
];

/// The checks `probe --help` says this binary lacks (a feature left out of the build).
fn not_built() -> Vec<String> {
    let help = probe(&["--help"]).stdout.clone();
    let mut missing = Vec::new();
    let mut current = None;
    for line in help.split("Commands:").nth(1).unwrap_or_default().lines() {
        if line.starts_with("  ") && !line.starts_with("   ") {
            current = line.split_whitespace().next().map(String::from);
        }
        if line.contains("not built into this binary") {
            missing.extend(current.clone());
        }
    }
    missing
}

const MODES: [&str; 4] = ["check", "wait-for", "migrate-then-exec", "serve"];

/// The command names `probe --help` lists, checks and modes.
fn listed_commands() -> Vec<String> {
    let help = probe(&["--help"]).stdout.clone();
    let commands = help.split("Commands:").nth(1).expect("a Commands section");
    commands
        .lines()
        .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next())
        .map(String::from)
        .collect()
}

#[test]
fn every_listed_check_has_a_line_here_and_every_line_is_listed() {
    let checks: Vec<String> = listed_commands()
        .into_iter()
        .filter(|name| !MODES.contains(&name.as_str()))
        .collect();
    let here: Vec<&str> = LINES.iter().map(|(name, _, _)| *name).collect();
    assert_eq!(
        checks, here,
        "probe --help's checks, in order, against this table"
    );
}

#[test]
fn each_check_runs_alike_as_a_command_a_target_and_in_wait_for() {
    let port = free_port().to_string();
    let missing = not_built();
    for (name, line, url) in LINES {
        let line = line.replace("{port}", &port);
        if missing.iter().any(|m| m == name) {
            // Its row stays: every door says the feature is missing, as a usage error.
            let built_without = format!("built without the \"{name}\" feature");
            probe(&line.split(' ').collect::<Vec<_>>())
                .code(3)
                .says(&built_without);
            probe(&["check", &line]).code(3).says(&built_without);
            if let Some(url) = url {
                probe(&["check", &url.replace("{port}", &port)])
                    .code(3)
                    .says(&built_without);
            }
            continue;
        }
        let words: Vec<&str> = line.split(' ').collect();
        // Flags go right after the check's name: exec's command after `--` takes the rest.
        let with =
            |flags: &[&'static str]| -> Vec<&str> { [&words[..1], flags, &words[1..]].concat() };
        let alone = probe(&with(&["--timeout", "2s"]));
        alone.code(1).says(name);
        probe(&["check", "--timeout", "2s", &line])
            .code(1)
            .says(name);
        probe(&["wait-for", "--timeout", "300ms", "-q", &line]).code(1);
        probe_env(&words, &[("PROBE_DRY_RUN", "1")]).code(0);
        // The check's own help, and its usage errors, come from the same table.
        probe(&[name, "--help"])
            .code(0)
            .says(&format!("Usage: probe {name}"));
        probe(&with(&["--no-such-flag"]))
            .code(3)
            .says("unrecognized argument: --no-such-flag");
        probe(&["check", &with(&["--no-such-flag"]).join(" ")])
            .code(3)
            .says("unrecognized argument: --no-such-flag");
        if let Some(url) = url {
            let url = url.replace("{port}", &port);
            probe(&["check", "--timeout", "2s", &url])
                .code(1)
                .says(name);
        }
    }
}

#[test]
fn modes_are_not_targets_and_unknown_checks_name_the_known_ones() {
    let run = probe(&["check", "wait-for x:1"]);
    run.code(3).says("not a check").says("http, tcp");
    probe(&["wait-for", "--timeout", "1s", "db:1", "grpc"])
        .code(3)
        .says("TARGET")
        .does_not_say("did you mean");
}
