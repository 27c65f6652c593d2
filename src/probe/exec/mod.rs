//! `probe exec -- CMD [ARGS...]`: the program exits 0 within the deadline.
//!
//! For what has no check of its own (`pg_isready`, `celery inspect ping`, an app's own
//! `healthcheck` subcommand) without a shell in the image: the program is run directly, found
//! in `PATH` as `execvp` finds it, with probe's whole environment (probe reads only a few
//! variables of it, but hands children all of them) and stdin `/dev/null`. [`run`] says how
//! it is timed, stopped and read.
//!
//! The verdict:
//! - exit 0 is healthy (with `--expect-output TEXT`, only if TEXT also appeared anywhere in
//!   its stdout or stderr: for tools that exit 0 when they fail);
//! - any other code is unhealthy, "exited 1: <last line>", the last non-empty line of stderr
//!   (else stdout), cleaned of control characters and escape sequences, secrets masked, at
//!   most [`MAX_LINE`] characters. A line whose start was dropped with the output beyond
//!   the kept [`run::KEEP`] bytes is never shown: its cut could split a secret;
//! - a signal is named: "killed by SIGSEGV";
//! - the deadline: "timed out after 5s, stopped with SIGTERM" (or "killed with SIGKILL");
//!   a program that ends after SIGTERM timed out whatever its status.
//!
//! A program that is not there or cannot be executed is a usage error of [`ExecCheck::new`]
//! (exit 3, nothing run), found the way `execvp` would. Should it disappear afterwards (a
//! wait-for), the attempt is fatal: waiting will not bring it back.

mod run;
mod spec;

pub use spec::CHECK;

use std::ffi::OsString;
use std::path::PathBuf;

use crate::deadline::Deadline;
use crate::outcome::{io_reason, usage, Outcome, UsageError};
use crate::probe::Probe;
use crate::redact;

/// Longest reason line taken from the program's output, in characters.
const MAX_LINE: usize = 200;

/// Longest `--expect-output` text, in bytes: it is searched across reads with a window of
/// its length.
const MAX_EXPECT: usize = 1024;

/// Longest `--expect-output` text quoted in a reason, in characters.
const SHOWN_EXPECT: usize = 60;

/// Longest command shown as the target, in bytes: a longer one loses its middle.
const MAX_TARGET: usize = 256;

/// What `probe exec` is given.
#[derive(Clone, Debug, Default)]
pub struct ExecSettings {
    /// The program and its arguments, as written after `--`: never expanded, never split.
    pub command: Vec<OsString>,
    /// Healthy only if this text appears in the output too.
    pub expect_output: Option<String>,
}

#[derive(Clone, Debug)]
pub struct ExecCheck {
    /// Where the program was found.
    program: PathBuf,
    /// The command as written, `argv[0]` first.
    argv: Vec<OsString>,
    expect_output: Option<String>,
}

impl ExecCheck {
    pub fn new(settings: ExecSettings) -> Result<Self, UsageError> {
        let ExecSettings {
            command,
            expect_output,
        } = settings;
        let Some(name) = command.first() else {
            return usage("exec needs a command after --");
        };
        if name.is_empty() {
            return usage("exec needs a command after --, and its program name is empty");
        }
        match expect_output.as_deref() {
            Some("") => return usage("--expect-output needs some text"),
            Some(text) if text.len() > MAX_EXPECT => {
                return usage(format!("--expect-output is longer than {MAX_EXPECT} bytes"))
            }
            _ => {}
        }
        // The program gets the whole environment, and may print a secret of it.
        crate::env::register_secret_variables();
        let program = crate::exec::find_program(name)
            .map_err(|error| UsageError::new(cannot_run(&name.to_string_lossy(), &error)))?;
        Ok(ExecCheck {
            program,
            argv: command,
            expect_output,
        })
    }

    fn name(&self) -> String {
        self.argv
            .first()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// "cannot run NAME: why", in the words of a shell.
fn cannot_run(name: &str, error: &std::io::Error) -> String {
    let why = match error.kind() {
        std::io::ErrorKind::NotFound if !name.contains('/') => "not found in PATH".into(),
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "not executable".into(),
        _ => io_reason(error),
    };
    format!("cannot run {name}: {why}")
}

impl Probe for ExecCheck {
    fn kind(&self) -> &'static str {
        "exec"
    }

    fn target(&self) -> String {
        let shown = redact::scrub(&crate::exec::shell_words(&self.argv));
        crate::report::middle(&shown, MAX_TARGET)
    }

    fn run(&self, deadline: &Deadline) -> Outcome {
        if deadline.expired() {
            return deadline.timed_out("before the program started");
        }
        let needle = self.expect_output.as_deref().map(str::as_bytes);
        let ran = match run::run(&self.program, &self.argv, needle, deadline) {
            Ok(ran) => ran,
            Err(error) => {
                let reason = cannot_run(&self.name(), &error);
                // Gone since it was found, or not a program after all: time will not help.
                // Out of processes or memory: it might.
                let lasting = matches!(
                    error.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
                ) || error.raw_os_error() == Some(libc::ENOEXEC);
                return if lasting {
                    Outcome::fatal(reason)
                } else {
                    Outcome::unhealthy(reason)
                };
            }
        };
        let (first, second) = match ran.end {
            run::End::Exited(0) => (&ran.stdout, &ran.stderr),
            _ => (&ran.stderr, &ran.stdout),
        };
        let line = last_line(first).or_else(|| last_line(second));
        let with_line = |head: String| match &line {
            Some(line) => format!("{head}: {line}"),
            None => head,
        };
        let found = ran.stdout.found || ran.stderr.found;
        match ran.end {
            run::End::Exited(0) => match &self.expect_output {
                Some(text) if !found => Outcome::unhealthy(with_line(format!(
                    "exited 0 without {:?} in its output",
                    cap(&redact::scrub(text), SHOWN_EXPECT)
                ))),
                _ => Outcome::healthy(with_line("exited 0".into())),
            },
            run::End::Exited(code) => Outcome::unhealthy(with_line(format!("exited {code}"))),
            run::End::Signaled(signal) => Outcome::unhealthy(with_line(format!(
                "killed by {}",
                crate::signals::name(signal)
            ))),
            run::End::TimedOut { killed } => {
                let timed_out = deadline.timed_out("");
                let how = if killed {
                    "killed with SIGKILL"
                } else {
                    "stopped with SIGTERM"
                };
                Outcome::unhealthy(with_line(format!("{}, {how}", timed_out.detail.trim_end())))
            }
        }
    }
}

/// The last line of `tail` with something to read in it: cleaned, secrets masked, capped.
/// Lines end at `\n` or `\r` (a progress bar's last state is its last `\r` piece).
fn last_line(tail: &run::Tail) -> Option<String> {
    let pieces: Vec<&[u8]> = tail
        .kept()
        .split(|&byte| byte == b'\n' || byte == b'\r')
        .collect();
    // The first piece of a cut tail lost its start, perhaps in the middle of a secret.
    let whole = &pieces[usize::from(tail.cut).min(pieces.len())..];
    whole.iter().rev().find_map(|piece| {
        // Scrubbed before cleaning (a secret may hold a tab) and after (escape sequences
        // inside one are gone), and before the cap, which could split one.
        // A program's own error may quote a credential probe was never told of
        // (`postgres://app:pw@db`, `password=...`): what stands in a secret position of
        // the line is registered first, as for probe's own arguments.
        let text = String::from_utf8_lossy(piece);
        redact::register_arguments(
            &text
                .split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>(),
        );
        let line = clean(&redact::scrub(&text));
        redact::register_arguments(
            &line
                .split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>(),
        );
        let line = redact::scrub(&line);
        (!line.is_empty()).then(|| cap(&line, MAX_LINE))
    })
}

/// `text` as plain words: terminal escape sequences removed, other control characters
/// and bidirectional overrides turned into spaces, runs of spaces folded, ends trimmed.
fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut space = false;
    while let Some(c) = chars.next() {
        let c = match c {
            '\u{1b}' => {
                match chars.next() {
                    // CSI: parameters up to a final byte in @..~ (colours, cursor moves).
                    Some('[') => {
                        for c in chars.by_ref() {
                            if ('@'..='~').contains(&c) {
                                break;
                            }
                        }
                    }
                    // OSC: up to BEL or ST (window titles, hyperlinks).
                    Some(']') => {
                        while let Some(c) = chars.next() {
                            if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some())
                            {
                                break;
                            }
                        }
                    }
                    _ => {}
                }
                continue;
            }
            c if c.is_control()
                || c.is_whitespace()
                || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
            {
                space = true;
                continue;
            }
            c => c,
        };
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        out.push(c);
    }
    out
}

/// At most `max` characters of `text`, "..." marking a cut.
fn cap(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests;
