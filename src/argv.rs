//! argv before it is parsed (crate::cli), and its errors after: the habits a plain option
//! table does not serve.
//!
//! - `probe help COMMAND` is `probe COMMAND --help`.
//! - The flags every command shares (`--timeout V`, `--json`, `-q`) may come before the
//!   command (`probe -q http URL`): they are moved to just after it, where it reads them.
//! - A command written without its `--` (`probe wait-for db:5432 ./app`) gets a hint.

use crate::outcome::UsageError;

/// Subcommands that take a command to run after `--`.
pub const RUNS_A_COMMAND: [&str; 3] = ["wait-for", "migrate-then-exec", "serve"];

/// A bare number of seconds as a duration (`15` → `15s`); anything else as it is.
fn seconds(mut value: String) -> String {
    if !value.is_empty() && value != "0" && value.bytes().all(|b| b.is_ascii_digit()) {
        value.push('s');
    }
    value
}

/// wait-for-it's `--timeout=15` (its spelling, always seconds) for `wait-for`, before
/// `--name=value` is split. probe's own `--timeout 15` still asks for a unit: a bare number
/// there could mean seconds or milliseconds.
fn wait_for_it_timeout(args: Vec<String>) -> Vec<String> {
    let mut in_wait_for = false;
    args.into_iter()
        .map(|arg| {
            if arg == "--" {
                in_wait_for = false;
            }
            in_wait_for |= arg == "wait-for";
            match arg.strip_prefix("--timeout=") {
                Some(value) if in_wait_for => format!("--timeout={}", seconds(value.into())),
                _ => arg,
            }
        })
        .collect()
}

/// Flags that take a value in wait-for and migrate-then-exec (to skip that value).
const VALUE_FLAGS: [&str; 11] = [
    "--timeout",
    "--interval",
    "--attempt-timeout",
    "--successes",
    "--migrate",
    "--wait",
    "--lock-url",
    "--lock-key",
    "--lock-timeout",
    "--migrate-timeout",
    "-t",
];

/// Rewrites `help COMMAND` and moves the shared flags written before the command to just
/// after it. Nothing after the command's name is touched.
pub fn prepare(args: Vec<String>) -> Vec<String> {
    let args = wait_for_it_timeout(args);
    let mut args = crate::target::split_long_values(args);
    if args.first().is_some_and(|first| first == "help") {
        args.remove(0);
        args.truncate(1);
        args.push("--help".into());
        return args;
    }
    let mut before = Vec::new();
    let mut shared = Vec::new();
    let mut words = args.into_iter();
    let mut command = None;
    while let Some(word) = words.next() {
        match word.as_str() {
            "--json" | "-q" | "--quiet" => shared.push(word),
            "--timeout" => {
                shared.push(word);
                shared.extend(words.next());
            }
            "--" => {
                before.push(word);
                break;
            }
            flag if crate::options::is_flag(flag) => before.push(word),
            _ => {
                command = Some(word);
                break;
            }
        }
    }
    match command {
        Some(command) => {
            let rest: Vec<String> = shared.into_iter().chain(words).collect();
            let rest = match command.as_str() {
                "wait-for" => wait_for_it(rest),
                _ => rest,
            };
            before.into_iter().chain([command]).chain(rest).collect()
        }
        None => before.into_iter().chain(shared).chain(words).collect(),
    }
}

/// wait-for-it.sh's flags as wait-for's: `-h HOST -p PORT` (or `--host`, `--port`) is the
/// target `HOST:PORT`, `-t N` is `--timeout Ns`, and `-s`/`--strict` is what wait-for always
/// does (the command never runs after a failed wait). Nothing after `--` is touched.
fn wait_for_it(words: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(words.len());
    let (mut host, mut port) = (None, None);
    let mut words = words.into_iter();
    while let Some(word) = words.next() {
        match word.as_str() {
            "--" => {
                out.push(word);
                break;
            }
            "-h" | "--host" => host = words.next(),
            "-p" | "--port" => port = words.next(),
            "-s" | "--strict" => {}
            "-t" => {
                out.push("--timeout".into());
                out.extend(words.next().map(seconds));
            }
            _ => out.push(word),
        }
    }
    match (host, port) {
        (Some(host), Some(port)) => out.insert(0, format!("{host}:{port}")),
        // One without the other is left for wait-for to refuse by name.
        (Some(_), None) => out.insert(0, "-h".into()),
        (None, Some(_)) => out.insert(0, "-p".into()),
        (None, None) => {}
    }
    out.extend(words);
    out
}

/// Adds "did you mean `-- ./app`?" when wait-for or migrate-then-exec was given no `--` and
/// the error is about a word that looks like a program rather than a TARGET.
pub fn with_dashdash_hint(error: UsageError, args: &[String], has_command: bool) -> UsageError {
    let Some(at) = args.iter().position(|arg| !arg.starts_with('-')) else {
        return error;
    };
    if has_command || !RUNS_A_COMMAND.contains(&args[at].as_str()) {
        return error;
    }
    let after = &args[at + 1..];
    let is_port = |word: &str| !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit());
    let mut previous: Option<&str> = None;
    for (index, word) in after.iter().enumerate() {
        let is_value = previous.is_some_and(|flag| VALUE_FLAGS.contains(&flag));
        previous = Some(word);
        // A host before a port word is a TARGET (`db 5432`), and a port is never a program.
        let is_host = after.get(index + 1).is_some_and(|next| is_port(next));
        if is_value
            || word.starts_with('-')
            || is_host
            || is_port(word)
            || !looks_like_a_program(word)
        {
            continue;
        }
        if !error.0.contains(word.as_str()) {
            return error;
        }
        let mut shown: Vec<&str> = after[index..].iter().take(4).map(String::as_str).collect();
        if after.len() - index > 4 {
            shown.push("...");
        }
        return UsageError::new(format!(
            "{}; did you mean `-- {}`?",
            error.0,
            shown.join(" ")
        ));
    }
    error
}

/// `./app`, `gunicorn`, `/usr/bin/env`: no scheme, no port, no spaces, not a check name
/// (a TARGET may be a check's command line: `wait-for 'grpc api:50051'`).
fn looks_like_a_program(word: &str) -> bool {
    !word.is_empty()
        && !word.contains([':', ' ', '\t', '='])
        && word != "check"
        && crate::registry::find(word).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    fn prepared(text: &str) -> String {
        prepare(words(text)).join(" ")
    }

    #[test]
    fn shared_flags_move_after_the_command() {
        assert_eq!(prepared("-q http http://x"), "http -q http://x");
        assert_eq!(
            prepared("--timeout 2s --json tcp db:1"),
            "tcp --timeout 2s --json db:1"
        );
        assert_eq!(
            prepared("-q wait-for db:1 -- app -q"),
            "wait-for -q db:1 -- app -q"
        );
        assert_eq!(prepared("--version"), "--version");
        assert_eq!(prepared("-q"), "-q");
        assert_eq!(prepared("http -q x"), "http -q x");
    }

    #[test]
    fn long_options_take_their_value_after_an_equals_sign() {
        assert_eq!(prepared("tcp db:1 --timeout=2s"), "tcp db:1 --timeout 2s");
        assert_eq!(prepared("--timeout=2s tcp db:1"), "tcp --timeout 2s db:1");
        assert_eq!(
            crate::target::split_long_values(words(
                "http x --expect-json=/status=ok --header=A:b=c"
            )),
            words("http x --expect-json /status=ok --header A:b=c")
        );
        assert_eq!(
            crate::target::split_long_values(words("--timeout=")),
            ["--timeout", ""]
        );
        // Not a long option's name: left as written.
        for word in ["--=x", "--X=y", "-t=5", "x=--y", "--a_b=1"] {
            assert_eq!(crate::target::split_long_values(words(word)), [word]);
        }
    }

    #[test]
    fn wait_for_it_flags_become_wait_for_s() {
        assert_eq!(
            prepared("wait-for -h db -p 5432 -t 15 -s -- app -h x"),
            "wait-for db:5432 --timeout 15s -- app -h x"
        );
        assert_eq!(
            prepared("wait-for --host=db --port=1 --timeout=2m"),
            "wait-for db:1 --timeout 2m"
        );
        assert_eq!(
            prepared("wait-for db:1 --timeout 0"),
            "wait-for db:1 --timeout 0"
        );
        assert!(prepared("wait-for -h db").contains("-h"));
    }

    #[test]
    fn help_command_is_command_help() {
        assert_eq!(prepared("help wait-for"), "wait-for --help");
        assert_eq!(prepared("help"), "--help");
    }

    #[test]
    fn a_forgotten_dashdash_is_pointed_out() {
        let hint = |text: &str, error: &str| {
            with_dashdash_hint(UsageError::new(error), &words(text), false).0
        };
        assert_eq!(
            hint("wait-for db:1 echo hi", "target \"echo\": nope"),
            "target \"echo\": nope; did you mean `-- echo hi`?"
        );
        assert_eq!(
            hint(
                "migrate-then-exec --migrate x --timeout 1s ./app a b c d",
                "unrecognized argument: ./app"
            ),
            "unrecognized argument: ./app; did you mean `-- ./app a b c ...`?"
        );
        assert_eq!(hint("wait-for http://x", "other"), "other");
        // `HOST PORT` is a target: the hint names the program after it, never the host.
        assert_eq!(
            hint("wait-for db 5432 ./app", "target \"./app\": nope"),
            "target \"./app\": nope; did you mean `-- ./app`?"
        );
        assert_eq!(
            hint(
                "wait-for 127.0.0.1 13306 --timeout 0 app",
                "target \"app\": nope"
            ),
            "target \"app\": nope; did you mean `-- app`?"
        );
        assert_eq!(hint("http echo", "echo"), "echo");
        let with_command =
            with_dashdash_hint(UsageError::new("echo"), &words("wait-for echo"), true);
        assert_eq!(with_command.0, "echo");
    }
}
