//! `probe file PATH`: a file exists and, with `--max-age`, was modified recently. Replaces
//! the heartbeat snippets `test $(( $(date +%s) - $(stat -c %Y f) )) -lt 60` of workers
//! that touch a file while they are alive (Celery, SAQ, cron-like schedulers).
//!
//! A modification time in the future is a clock problem (a host and a container disagree, a
//! file copied with its mtime); beyond [`FUTURE_SKEW`] it is unhealthy, because a heartbeat
//! dated tomorrow would otherwise look fresh until tomorrow whatever the worker does.

use std::fs::{self, Metadata};
use std::io;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::deadline::Deadline;
use crate::duration::{human, Span};
use crate::options::blocks::{self, OUTPUT};
use crate::options::{Arity, Opt, Positional, Spec, Words};
use crate::outcome::io_reason;
use crate::outcome::{usage, Outcome, UsageError};
use crate::probe::{find_bytes, Probe};
use crate::registry::Check;
use crate::size::{human_bytes, Size};

pub static CHECK: Check = Check {
    spec: Spec {
        name: "file",
        about: "Check a file, e.g. a worker's heartbeat: healthy when it exists and (with \
                --max-age) was modified recently enough. A modification time more than 5s in \
                the future is unhealthy.",
        positional: Positional {
            name: "PATH",
            arity: Arity::One,
            help: "the file, e.g. /tmp/worker-heartbeat",
        },
        options: &[OWN, OUTPUT],
        foreign: &[],
        usage: None,
        notes: &[],
        examples: &[],
    },
    timeout: blocks::check_timeout,
    build: |words| {
        Ok(vec![Box::new(FileCheck::new(&FileSettings::from_words(
            words,
        )?)?)])
    },
};

const OWN: &[Opt] = &[
    Opt::value(
        "timeout",
        "time limit for reading the file (default 5s; not 0)",
    ),
    Opt::value(
        "max-age",
        "the file must have been modified within this long, e.g. 60s or 2m",
    ),
    Opt::value(
        "min-size",
        "the file must hold at least this many bytes, e.g. 1 or 4k",
    ),
    Opt::value("contains", "the file's first MiB must contain this text"),
];

/// What `probe file` is told.
pub struct FileSettings {
    pub path: PathBuf,
    pub max_age: Option<Span>,
    pub min_size: Option<Size>,
    pub contains: Option<String>,
}

impl FileSettings {
    pub fn from_words(words: &Words) -> Result<FileSettings, UsageError> {
        Ok(FileSettings {
            path: words.positional().map(PathBuf::from).unwrap_or_default(),
            max_age: words.parsed("max-age")?,
            min_size: words.parsed("min-size")?,
            contains: words.text("contains"),
        })
    }
}

/// How far in the future a modification time may be before it is a clock problem: writers on
/// another host (a shared volume) or a coarse filesystem clock may be a little ahead.
pub const FUTURE_SKEW: Duration = Duration::from_secs(5);

/// `--contains` reads at most this much of the file: status files are small, and a check
/// must not read a multi-gigabyte log into memory.
pub const CONTAINS_LIMIT: u64 = 1 << 20;

pub struct FileCheck {
    path: PathBuf,
    max_age: Option<Duration>,
    min_size: Option<u64>,
    contains: Option<String>,
}

impl FileCheck {
    pub fn new(args: &FileSettings) -> Result<Self, UsageError> {
        if args.path.as_os_str().is_empty() {
            return usage("file needs a PATH");
        }
        if args.max_age.is_some_and(|span| span.0.is_zero()) {
            return usage("--max-age must be more than 0");
        }
        if args.contains.as_deref() == Some("") {
            return usage("--contains needs some text");
        }
        Ok(FileCheck {
            path: args.path.clone(),
            max_age: args.max_age.map(|span| span.0),
            min_size: args.min_size.map(|size| size.0),
            contains: args.contains.clone(),
        })
    }

    fn check(&self, metadata: &Metadata, now: SystemTime) -> Outcome {
        if metadata.is_dir() {
            return Outcome::fatal("is a directory, not a file");
        }
        // A FIFO, socket or device is not a heartbeat (and reading one could block).
        if let Some(what) = crate::fsread::not_regular(&metadata.file_type()) {
            return Outcome::unhealthy(format!("is {what}, not a regular file"));
        }
        let mut said = Vec::new();
        match (self.max_age, metadata.modified()) {
            (Some(max), Ok(modified)) => match age(modified, now) {
                Age::Ahead(ahead) => {
                    return Outcome::unhealthy(format!(
                        "modified {} in the future: check the clocks",
                        rounded(ahead)
                    ))
                }
                Age::Ago(age) if age > max => {
                    return Outcome::unhealthy(format!(
                        "stale: modified {} ago (max {})",
                        rounded(age),
                        human(max)
                    ))
                }
                Age::Ago(age) => said.push(format!("modified {} ago", rounded(age))),
            },
            (Some(_), Err(error)) => {
                return Outcome::fatal(format!("no modification time: {}", io_reason(&error)))
            }
            (None, _) => said.push("exists".to_string()),
        }
        if let Some(min) = self.min_size {
            if metadata.len() < min {
                return Outcome::unhealthy(format!(
                    "too small: {} (min {})",
                    human_bytes(metadata.len()),
                    human_bytes(min)
                ));
            }
            said.push(human_bytes(metadata.len()));
        }
        if let Some(text) = &self.contains {
            if !metadata.is_file() {
                return Outcome::fatal("not a regular file: --contains cannot read it");
            }
            match crate::fsread::read_head(&self.path, CONTAINS_LIMIT) {
                Ok(head) if find_bytes(&head, text.as_bytes()).is_some() => {
                    said.push(format!("contains {text:?}"))
                }
                Ok(head) if head.len() as u64 >= CONTAINS_LIMIT => {
                    return Outcome::unhealthy(format!(
                        "does not contain {text:?} in its first {}",
                        human_bytes(CONTAINS_LIMIT)
                    ))
                }
                Ok(_) => return Outcome::unhealthy(format!("does not contain {text:?}")),
                Err(crate::fsread::ReadError::Io(error)) => return read_failure(&error),
                Err(error) => return Outcome::unhealthy(error.reason()),
            }
        }
        Outcome::healthy(said.join(", "))
    }
}

impl Probe for FileCheck {
    fn kind(&self) -> &'static str {
        "file"
    }

    fn target(&self) -> String {
        self.path.display().to_string()
    }

    fn run(&self, _deadline: &Deadline) -> Outcome {
        match fs::metadata(&self.path) {
            Ok(metadata) => self.check(&metadata, SystemTime::now()),
            Err(error) => read_failure(&error),
        }
    }
}

/// Missing is "not yet" (the worker has not written it); a path that can never be read as
/// this file (permissions, a file where a directory should be) is fatal.
fn read_failure(error: &io::Error) -> Outcome {
    match error.kind() {
        io::ErrorKind::NotFound => Outcome::unhealthy("missing"),
        io::ErrorKind::PermissionDenied => Outcome::fatal("permission denied"),
        io::ErrorKind::NotADirectory => Outcome::fatal("a parent in the path is not a directory"),
        io::ErrorKind::IsADirectory => Outcome::fatal("is a directory, not a file"),
        _ => Outcome::unhealthy(io_reason(error)),
    }
}

enum Age {
    /// Modified this long ago (a time up to [`FUTURE_SKEW`] ahead counts as just now).
    Ago(Duration),
    /// Modified this far in the future, beyond the skew.
    Ahead(Duration),
}

fn age(modified: SystemTime, now: SystemTime) -> Age {
    match now.duration_since(modified) {
        Ok(age) => Age::Ago(age),
        Err(ahead) if ahead.duration() <= FUTURE_SKEW => Age::Ago(Duration::ZERO),
        Err(ahead) => Age::Ahead(ahead.duration()),
    }
}

/// Whole seconds from one second up: `3m12s`, not `3m12.48s`.
fn rounded(duration: Duration) -> String {
    if duration >= Duration::from_secs(1) {
        human(Duration::from_secs(duration.as_secs_f64().round() as u64))
    } else {
        human(duration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn ages_allow_a_small_skew_into_the_future() {
        let now = SystemTime::now();
        assert!(matches!(age(now - secs(192), now), Age::Ago(d) if d == secs(192)));
        assert!(matches!(age(now + secs(3), now), Age::Ago(d) if d.is_zero()));
        assert!(matches!(age(now + secs(120), now), Age::Ahead(d) if d == secs(120)));
        assert_eq!(rounded(Duration::from_millis(192_480)), "3m12s");
        assert_eq!(rounded(Duration::from_millis(119_990)), "2m");
        assert_eq!(rounded(Duration::from_millis(250)), "250ms");
    }
}
