//! `probe exec`'s options and the settings read from them.

use std::ffi::OsString;

use super::{ExecCheck, ExecSettings};
use crate::options::blocks::{self, OUTPUT};
use crate::options::{Arity, Opt, Positional, Spec, Words};
use crate::registry::Check;

pub static CHECK: Check = Check {
    spec: Spec {
        name: "exec",
        about: "Run a program (no shell, found in PATH) and be healthy when it exits 0 before \
                the deadline. At the deadline its whole process group is stopped: SIGTERM, \
                then SIGKILL. The reason is the last line it printed. The command after -- is \
                run as written: never expanded, never parsed.",
        positional: Positional {
            name: "CMD",
            arity: Arity::Command,
            help: "the program and its arguments, after --",
        },
        options: &[OWN, OUTPUT],
        foreign: &[],
        usage: None,
        notes: &[],
        examples: &[
            "probe exec -- /app healthcheck",
            "probe exec --expect-output pong --timeout 10s -- celery -A app inspect ping",
        ],
    },
    timeout: blocks::check_timeout,
    build: |words| {
        Ok(vec![Box::new(ExecCheck::new(ExecSettings::from_words(
            words,
        ))?)])
    },
};

const OWN: &[Opt] = &[
    Opt::value(
        "expect-output",
        "also require TEXT somewhere in the program's stdout or stderr (for tools that exit 0 when they fail)",
    ),
    Opt::value(
        "timeout",
        "time limit for the program, start to exit, e.g. 2s or 500ms (default 5s; not 0)",
    ),
];

impl ExecSettings {
    pub fn from_words(words: &Words) -> ExecSettings {
        ExecSettings {
            command: words
                .positionals()
                .into_iter()
                .map(OsString::from)
                .collect(),
            expect_output: words.text("expect-output"),
        }
    }
}
