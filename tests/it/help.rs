//! Help that teaches: every --help is true for its command, `probe help COMMAND` works,
//! usage errors name what is missing or wrong.

use crate::support::probe;

const COMMANDS: [&str; 9] = [
    "http",
    "tcp",
    "postgres",
    "redis",
    "process",
    "file",
    "check",
    "wait-for",
    "migrate-then-exec",
];

#[test]
fn every_command_has_help_and_help_command_is_the_same() {
    for command in COMMANDS {
        let help = probe(&[command, "--help"]);
        help.code(0).says(&format!("Usage: probe {command}"));
        let same = probe(&["help", command]);
        same.code(0);
        assert_eq!(same.stdout, help.stdout, "probe help {command}");
    }
    probe(&["help"])
        .code(0)
        .says("Usage: probe")
        .says("wait-for");
}

#[test]
fn each_timeout_text_is_true_for_its_command() {
    for command in ["file", "process"] {
        probe(&[command, "--help"])
            .code(0)
            .does_not_say("DNS")
            .says("not 0");
    }
    for command in ["http", "tcp", "redis", "postgres", "check"] {
        probe(&[command, "--help"])
            .code(0)
            .says("--timeout")
            .says("not 0");
    }
    probe(&["postgres", "--help"])
        .says("-t, --timeout")
        .says("pg_isready -t");
    for command in ["wait-for", "migrate-then-exec"] {
        probe(&[command, "--help"]).says("0: no limit, waits forever");
    }
}

#[test]
fn usage_lines_show_the_command_after_dashdash() {
    probe(&["wait-for", "--help"])
        .says("Usage: probe wait-for [TARGET...] [options] [-- CMD [ARGS...]]");
    probe(&["migrate-then-exec", "--help"])
        .says("Usage: probe migrate-then-exec --migrate CMD [options] -- CMD [ARGS...]");
}

#[test]
fn drop_in_flags_are_in_the_help() {
    probe(&["postgres", "--help"])
        .says("-h, --host")
        .says("-p, --port")
        .says("-U, --username")
        .says("-d, --dbname")
        .says("-q, --quiet");
    probe(&["redis", "--help"])
        .says("-h, --host")
        .says("-p, --port")
        .says("-a, --password")
        .says("--password-file")
        .says("ps")
        .says("-n, --db")
        .says("--tls")
        .says("--user");
    probe(&["tcp", "--help"]).says("probe tcp db 5432");
}

#[test]
fn usage_errors_give_their_reason() {
    let table: &[(&[&str], &str)] = &[
        (&[], "missing a command"),
        (&["http"], "not provided: URL"),
        (&["file"], "not provided: PATH"),
        (&["migrate-then-exec"], "not provided: --migrate"),
        (&["tcp"], "at least one HOST:PORT"),
        (&["tcp", "db"], "HOST:PORT"),
        (&["tcp", "db:1", "--timeout", "5"], "invalid duration"),
        (&["tcp", "db:1", "--timeout", "0"], "no limit"),
        (&["postgres", "-t", "0"], "pg_isready's -t 0"),
        (&["postgres", "-t", "x"], "invalid duration"),
        (&["postgres", "-p", "0"], "--port"),
        (&["postgres", "-p", "70000"], "-p"),
        (&["postgres", "-U", "a", "--user", "b"], "given twice"),
        (&["redis", "-p", "0"], "-p 0"),
        (&["redis", "unix:///tmp/r.sock", "-h", "x"], "socket"),
        (&["redis", "-h", "a/b"], "invalid -h"),
        (&["-q"], "-q"),
        (&["tcp", "--bogus", "x:1"], "--bogus"),
        (
            &["http", "http://x/", "--", "echo"],
            "unrecognized argument: echo",
        ),
        (&["wait-for"], "at least one TARGET"),
        (
            &["wait-for", "tcp://x:1", "./app"],
            "did you mean `-- ./app`?",
        ),
    ];
    for (args, fragment) in table {
        let run = probe(args);
        run.code(3).says(fragment);
        assert_eq!(run.output().lines().count(), 1, "one line: {run:#?}");
    }
}
