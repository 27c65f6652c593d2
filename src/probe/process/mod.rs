//! `probe process`: a matching live process exists. Replaces `pgrep -f` (which needs procps,
//! absent from slim and scratch images) by reading /proc directly.
//!
//! What counts:
//! - a process matches NAME when its kernel name (`comm`) or the basename of its `argv[0]`
//!   equals NAME, and `--cmdline TEXT` when TEXT is part of its command line (arguments
//!   joined by spaces); with both, both must hold. `--pid`/`--pidfile` check one pid, and
//!   NAME/`--cmdline` then guard against that pid having been reused by another program;
//! - zombies (and dead tasks) never count; stopped or traced processes count only with
//!   `--allow-stopped`: neither does any work.
//!
//! The self-match rule (the `pgrep -f` trap): the command line of the check itself contains
//! TEXT, and so does the shell or wrapper that runs it (`sh -c 'probe process --cmdline
//! celery'`, `timeout 5 probe ...`), and so does another probe running at the same time
//! (a liveness and a readiness check). None of them may count, or the check would be healthy
//! with no worker at all. So a process never counts when it is
//! - this probe (its own pid);
//! - an ancestor that runs this probe: walking up from the parent for as long as the command
//!   line holds all of this probe's own arguments as written, or the program's name followed
//!   by its first argument (`probe process`), which catches `sh -c`, `bash -c`, `timeout`,
//!   `env` and the like, however they spell the path;
//! - for `--cmdline`, any process in whose command line TEXT first appears after a word naming
//!   the probe program: another probe, or a wrapper of one, that merely carries TEXT as an
//!   argument. The program names are the basenames of probe's own `argv[0]` and executable,
//!   matched as command words (`/bin/probe` and `'probe'` are, `probe_x`, `--probe` and the
//!   directory in `/srv/probe/app` are not).
//!
//! A real worker whose own command line contains TEXT before any mention of probe still
//! counts, even when it is an ancestor that does not run probe itself.

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::deadline::Deadline;
use crate::outcome::io_reason;
use crate::outcome::{usage, Outcome, UsageError};
use crate::probe::{find_bytes, Probe};
use crate::size::human_bytes;

mod spec;
pub use spec::{ProcessSettings, CHECK};

const PROC: &str = "/proc";

/// Command lines are read up to this length: enough for any TEXT worth matching, bounded
/// for processes with megabytes of arguments.
const CMDLINE_LIMIT: u64 = 128 << 10;

/// Reading up to here is enough to know argv\[0\].
const ARGV0_LIMIT: u64 = 4096;

/// Matches listed in a reason; the rest are counted.
const LISTED: usize = 5;

/// Ancestors examined for wrappers: far more than any real chain of shells.
const MAX_ANCESTORS: usize = 64;

#[derive(Clone)]
pub struct ProcessCheck {
    name: Option<String>,
    cmdline: Option<String>,
    pid: Option<PidSource>,
    min: u32,
    max: Option<u32>,
    allow_stopped: bool,
    max_rss: Option<u64>,
}

#[derive(Clone)]
enum PidSource {
    Pid(u32),
    File(PathBuf),
}

impl ProcessCheck {
    pub fn new(args: &ProcessSettings) -> Result<Self, UsageError> {
        let pid = match (args.pid, &args.pidfile) {
            (Some(_), Some(_)) => return usage("--pid and --pidfile cannot be used together"),
            (Some(0), None) => return usage("--pid must be a process id, 1 or more"),
            (Some(pid), None) => Some(PidSource::Pid(pid)),
            (None, Some(path)) if path.as_os_str().is_empty() => {
                return usage("--pidfile needs a path")
            }
            (None, Some(path)) => Some(PidSource::File(path.clone())),
            (None, None) => None,
        };
        if args.name.is_none() && args.cmdline.is_none() && pid.is_none() {
            return usage("process needs a NAME, --cmdline TEXT, --pidfile PATH or --pid N");
        }
        if let Some(name) = &args.name {
            if name.is_empty() || name.contains('/') {
                return usage(format!(
                    "NAME {name:?} must be an executable name without a path, e.g. celery \
                     (use --cmdline to match a path)"
                ));
            }
        }
        if args.cmdline.as_deref() == Some("") {
            return usage("--cmdline needs some text");
        }
        if pid.is_some() && (args.min.is_some() || args.max.is_some()) {
            return usage(
                "--min and --max count matches, but --pid and --pidfile check one process",
            );
        }
        let min = args.min.unwrap_or(if args.max == Some(0) { 0 } else { 1 });
        if let Some(max) = args.max.filter(|&max| max < min) {
            return usage(format!("--min {min} is more than --max {max}"));
        }
        if !proc_mounted(Path::new(PROC)) {
            return usage("/proc is not mounted, and process checks read it");
        }
        Ok(ProcessCheck {
            name: args.name.clone(),
            cmdline: args.cmdline.clone(),
            pid,
            min,
            max: args.max,
            allow_stopped: args.allow_stopped,
            max_rss: args.max_rss.map(|size| size.0),
        })
    }

    /// Whether `pid` matches NAME and `--cmdline`; `None` when it does not (or is gone).
    /// `me` is given when scanning, to skip probes and their wrappers. Reads as little as
    /// it can: the command line only when `--cmdline` or an unmatched `comm` needs it.
    fn examine(&self, pid: u32, me: Option<&Me>, reader: &mut Reader) -> Option<Found> {
        let mut command_line = None;
        if let Some(text) = &self.cmdline {
            let line = command_line.insert(reader.cmdline(pid).ok()?);
            let at = find_bytes(&line.text, text.as_bytes())?;
            if me.is_some_and(|me| me.runs_probe_before(&line.text, at)) {
                return None;
            }
        }
        if let Some(name) = &self.name {
            let name = name.as_bytes();
            let matched = reader.comm_is(pid, name).ok()?
                || match &command_line {
                    Some(line) => line.program == name,
                    None => reader.argv0_is(pid, name).ok()?,
                };
            if !matched {
                return None;
            }
        }
        let stat = reader.stat(pid).ok()?;
        Some(Found {
            pid,
            comm: stat.comm,
            state: stat.state,
        })
    }

    fn scan(&self, deadline: &Deadline) -> Outcome {
        let mut reader = Reader::default();
        let me = Me::discover(&mut reader);
        let entries = match fs::read_dir(PROC) {
            Ok(entries) => entries,
            Err(error) => {
                return Outcome::unhealthy(format!("cannot list /proc: {}", io_reason(&error)))
            }
        };
        let mut tally = Tally::default();
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse::<u32>().ok())
            else {
                continue;
            };
            if deadline.expired() {
                return deadline.timed_out("scanning /proc");
            }
            if pid == me.pid || me.wrappers.contains(&pid) {
                continue;
            }
            if let Some(found) = self.examine(pid, Some(&me), &mut reader) {
                tally.add(found, self.allow_stopped);
            }
        }
        tally.live.sort_by_key(|found| found.pid);
        self.judge(&tally, &mut reader)
    }

    fn judge(&self, tally: &Tally, reader: &mut Reader) -> Outcome {
        let count = tally.live.len();
        let listed = list(&tally.live);
        let ignored = tally.ignored();
        if count < self.min as usize {
            return Outcome::unhealthy(match count {
                0 => format!("no matching process{ignored}"),
                _ => format!(
                    "{count} matching, want at least {}: {listed}{ignored}",
                    self.min
                ),
            });
        }
        if let Some(max) = self.max.filter(|&max| count > max as usize) {
            return Outcome::unhealthy(format!(
                "{count} matching, want at most {max}: {listed}{ignored}"
            ));
        }
        if let Some(outcome) = self.over_memory(&tally.live, reader) {
            return outcome;
        }
        match count {
            0 => Outcome::healthy(format!("no matching process{ignored}")),
            _ => Outcome::healthy(format!("{count} matching: {listed}{ignored}")),
        }
    }

    fn over_memory(&self, live: &[Found], reader: &mut Reader) -> Option<Outcome> {
        let max = self.max_rss?;
        live.iter().find_map(|found| {
            let rss = reader.rss(found.pid).ok()?;
            (rss > max).then(|| {
                Outcome::unhealthy(format!(
                    "pid {} {} uses {} of memory (max {})",
                    found.pid,
                    found.comm,
                    human_bytes(rss),
                    human_bytes(max)
                ))
            })
        })
    }

    fn by_pid(&self, source: &PidSource) -> Outcome {
        let pid = match source {
            PidSource::Pid(pid) => *pid,
            PidSource::File(path) => match read_pidfile(path) {
                Ok(pid) => pid,
                Err(outcome) => return outcome,
            },
        };
        let mut reader = Reader::default();
        let me = Me::discover(&mut reader);
        if pid == me.pid {
            return Outcome::unhealthy(format!("pid {pid} is this probe itself (a stale pid?)"));
        }
        if me.wrappers.contains(&pid) {
            return Outcome::unhealthy(format!(
                "pid {pid} is the shell running this probe (a stale pid?)"
            ));
        }
        let stat = match reader.stat(pid) {
            Ok(stat) => stat,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Outcome::unhealthy(format!("pid {pid} is not running"))
            }
            Err(error) => return Outcome::unhealthy(format!("pid {pid}: {}", io_reason(&error))),
        };
        let (comm, state) = (stat.comm.clone(), stat.state);
        if is_dead(state) {
            return Outcome::unhealthy(format!("pid {pid} {comm} is a zombie"));
        }
        if is_stopped(state) && !self.allow_stopped {
            return Outcome::unhealthy(format!("pid {pid} {comm} is stopped"));
        }
        if (self.name.is_some() || self.cmdline.is_some())
            && self.examine(pid, None, &mut reader).is_none()
        {
            return Outcome::unhealthy(format!(
                "pid {pid} is {comm}, which does not match {}: the pid was reused?",
                self.selector()
            ));
        }
        let found = Found { pid, comm, state };
        if let Some(outcome) = self.over_memory(std::slice::from_ref(&found), &mut reader) {
            return outcome;
        }
        Outcome::healthy(format!("pid {pid} {} is running", found.comm))
    }

    /// NAME and `--cmdline` as the user wrote them.
    fn selector(&self) -> String {
        let mut words = Vec::new();
        if let Some(name) = &self.name {
            words.push(name.clone());
        }
        if let Some(text) = &self.cmdline {
            words.push(format!("--cmdline {}", quoted(text)));
        }
        words.join(" ")
    }
}

impl Probe for ProcessCheck {
    fn kind(&self) -> &'static str {
        "process"
    }

    fn target(&self) -> String {
        let mut words = vec![self.selector()];
        match &self.pid {
            Some(PidSource::Pid(pid)) => words.push(format!("--pid {pid}")),
            Some(PidSource::File(path)) => words.push(format!("--pidfile {}", path.display())),
            None => {}
        }
        words.retain(|word| !word.is_empty());
        words.join(" ")
    }

    /// Reading /proc/PID/cmdline of a process in uninterruptible sleep (D state, e.g. on
    /// a hung NFS mount) can block in the kernel on that process's memory map, and no
    /// flag makes such a read non-blocking. So the reading runs on a helper thread; at
    /// the deadline the check reports its timeout and the thread is left behind.
    fn run(&self, deadline: &Deadline) -> Outcome {
        let Some(left) = deadline.remaining() else {
            return deadline.timed_out("scanning /proc");
        };
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        let (check, owned) = (self.clone(), *deadline);
        let spawned = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || {
                let outcome = match &check.pid {
                    Some(source) => check.by_pid(source),
                    None => check.scan(&owned),
                };
                let _ = sender.send(outcome);
            });
        if let Err(error) = spawned {
            return Outcome::unhealthy(format!("cannot start the scan: {error}"));
        }
        receiver
            .recv_timeout(left)
            .unwrap_or_else(|_| deadline.timed_out("reading /proc"))
    }
}

fn proc_mounted(root: &Path) -> bool {
    root.join("self/stat").exists()
}

/// The pid in a pidfile: its first word. A missing or half-written file is "not yet"; a
/// directory or an unreadable file will not become a pidfile by waiting.
fn read_pidfile(path: &Path) -> Result<u32, Outcome> {
    use crate::fsread::ReadError;
    // Opened without blocking: a FIFO given as --pidfile is refused, not waited on.
    let head = match crate::fsread::read_head(path, 4096) {
        Ok(head) => head,
        Err(ReadError::NotRegular("a directory")) => {
            return Err(Outcome::fatal("pidfile is a directory, not a file"))
        }
        Err(ReadError::NotRegular(what)) => {
            return Err(Outcome::fatal(format!(
                "pidfile is {what}, not a regular file"
            )))
        }
        Err(ReadError::Io(error)) => {
            return Err(match error.kind() {
                io::ErrorKind::NotFound => Outcome::unhealthy("pidfile missing"),
                io::ErrorKind::IsADirectory => Outcome::fatal("pidfile is a directory, not a file"),
                io::ErrorKind::PermissionDenied => Outcome::fatal("pidfile: permission denied"),
                _ => Outcome::unhealthy(format!("pidfile: {}", io_reason(&error))),
            })
        }
    };
    let text = String::from_utf8_lossy(&head);
    let Some(word) = text.split_whitespace().next() else {
        return Err(Outcome::unhealthy("pidfile is empty"));
    };
    match word.parse::<u32>() {
        Ok(pid) if pid > 0 => Ok(pid),
        _ => {
            let shown: String = word.chars().take(20).collect();
            Err(Outcome::unhealthy(format!(
                "pidfile holds {shown:?}, not a pid"
            )))
        }
    }
}

/// This probe, as far as self-matching goes: see the module docs.
struct Me {
    pid: u32,
    /// Names this program was run as (basenames of argv\[0\] and of the executable).
    programs: Vec<Vec<u8>>,
    /// This probe's own arguments as it received them (before `${VAR}` expansion).
    args: Vec<Vec<u8>>,
    /// Ancestors that run this probe: shells and wrappers.
    wrappers: Vec<u32>,
}

impl Me {
    fn discover(reader: &mut Reader) -> Me {
        let mut programs: Vec<Vec<u8>> = Vec::new();
        let argv0 = crate::env::argv().first().cloned();
        let exe = std::env::current_exe().ok();
        let names = [argv0.as_deref(), exe.as_deref().and_then(Path::file_name)];
        for name in names.into_iter().flatten() {
            let name = basename(name.as_bytes());
            let name = name.strip_suffix(b" (deleted)").unwrap_or(name);
            if !name.is_empty() && !programs.iter().any(|known| known == name) {
                programs.push(name.to_vec());
            }
        }
        let args = crate::env::argv()
            .iter()
            .skip(1)
            .map(|arg| arg.as_bytes().to_vec())
            .collect();
        let mut me = Me {
            pid: std::process::id(),
            programs,
            args,
            wrappers: Vec::new(),
        };
        let mut pid = me.pid;
        for _ in 0..MAX_ANCESTORS {
            let Ok(parent) = reader.stat(pid).map(|stat| stat.ppid) else {
                break;
            };
            if parent == 0 || me.wrappers.contains(&parent) {
                break;
            }
            match reader.cmdline(parent) {
                Ok(line) if me.runs_me(&line.text) => me.wrappers.push(parent),
                _ => break,
            }
            pid = parent;
        }
        me
    }

    /// Whether an ancestor's command line runs this probe: it holds all of this probe's
    /// arguments as written (`sh -c '"$PROBE" process --cmdline celery'`), or the program's
    /// name followed by its first argument (`sh -c 'probe process --pid $$'`).
    fn runs_me(&self, line: &[u8]) -> bool {
        let Some(first) = self.args.first() else {
            return false;
        };
        let has_all_args = self.args.iter().all(|arg| find_bytes(line, arg).is_some());
        let invoked = self.program_words(line).any(|end| {
            let rest = &line[end..];
            let rest = &rest[rest
                .iter()
                .take_while(|&&b| b == b'\'' || b == b'"')
                .count()..];
            let spaces = rest.iter().take_while(|b| b.is_ascii_whitespace()).count();
            spaces > 0 && rest[spaces..].starts_with(first)
        });
        has_all_args || invoked
    }

    /// Whether a command line names the probe program before `at` (where TEXT starts).
    fn runs_probe_before(&self, line: &[u8], at: usize) -> bool {
        self.program_words(line).any(|end| end <= at)
    }

    /// The ends of the words in `line` that name this program as a command: `probe`,
    /// `/bin/probe`, `'probe'`; not `probe_x`, `--probe` or the directory in `/probe/x`.
    fn program_words<'a>(&'a self, line: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
        let inside_word =
            |byte: u8| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'.');
        let ends_command =
            |byte: u8| byte.is_ascii_whitespace() || matches!(byte, b'\'' | b'"' | b';');
        self.programs.iter().flat_map(move |program| {
            let mut from = 0;
            std::iter::from_fn(move || {
                while let Some(found) = find_bytes(&line[from..], program) {
                    let (start, end) = (from + found, from + found + program.len());
                    from = start + 1;
                    let before = start.checked_sub(1).map(|i| line[i]);
                    let after = line.get(end).copied();
                    if !before.is_some_and(inside_word) && after.is_none_or(ends_command) {
                        return Some(end);
                    }
                }
                None
            })
        })
    }
}

/// A process that matched.
struct Found {
    pid: u32,
    comm: String,
    state: u8,
}

#[derive(Default)]
struct Tally {
    live: Vec<Found>,
    zombies: usize,
    stopped: usize,
}

impl Tally {
    fn add(&mut self, found: Found, allow_stopped: bool) {
        if is_dead(found.state) {
            self.zombies += 1;
        } else if is_stopped(found.state) && !allow_stopped {
            self.stopped += 1;
        } else {
            self.live.push(found);
        }
    }

    /// ` (1 zombie, 2 stopped ignored)`, or nothing.
    fn ignored(&self) -> String {
        let mut parts = Vec::new();
        match self.zombies {
            0 => {}
            1 => parts.push("1 zombie".to_string()),
            n => parts.push(format!("{n} zombies")),
        }
        if self.stopped > 0 {
            parts.push(format!("{} stopped", self.stopped));
        }
        match parts.is_empty() {
            true => String::new(),
            false => format!(" ({} ignored)", parts.join(", ")),
        }
    }
}

/// `pid 12 celery, pid 13 celery and 4 more`.
fn list(found: &[Found]) -> String {
    let mut text = found
        .iter()
        .take(LISTED)
        .map(|found| format!("pid {} {}", found.pid, found.comm))
        .collect::<Vec<_>>()
        .join(", ");
    if found.len() > LISTED {
        text.push_str(&format!(" and {} more", found.len() - LISTED));
    }
    text
}

/// Zombie (Z) or dead (X, x): exited, waiting to be reaped.
fn is_dead(state: u8) -> bool {
    matches!(state, b'Z' | b'X' | b'x')
}

/// Stopped by a signal (T) or by a tracer (t).
fn is_stopped(state: u8) -> bool {
    matches!(state, b'T' | b't')
}

fn quoted(text: &str) -> String {
    if text.contains('\'') {
        format!("{text:?}")
    } else {
        format!("'{text}'")
    }
}

fn argv0(cmdline: &[u8]) -> &[u8] {
    cmdline.split(|&byte| byte == 0).next().unwrap_or_default()
}

fn basename(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&byte| byte == b'/') {
        Some(slash) => &path[slash + 1..],
        None => path,
    }
}

struct Stat {
    comm: String,
    state: u8,
    ppid: u32,
}

struct CommandLine {
    /// basename of argv\[0\]
    program: Vec<u8>,
    /// the arguments joined by spaces
    text: Vec<u8>,
}

/// Reads /proc files into one reused buffer: a scan reads one or two small files per
/// process, and `stat` (the costly one) only for those that match.
#[derive(Default)]
struct Reader {
    buffer: Vec<u8>,
    path: String,
}

impl Reader {
    fn read(&mut self, pid: u32, file: &str, limit: u64) -> io::Result<&[u8]> {
        use std::fmt::Write;
        self.buffer.clear();
        self.path.clear();
        let _ = write!(self.path, "{PROC}/{pid}/{file}");
        File::open(&self.path)?
            .take(limit)
            .read_to_end(&mut self.buffer)?;
        Ok(&self.buffer)
    }

    fn stat(&mut self, pid: u32) -> io::Result<Stat> {
        let bytes = self.read(pid, "stat", 4096)?;
        parse_stat(bytes)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed stat"))
    }

    fn cmdline(&mut self, pid: u32) -> io::Result<CommandLine> {
        let bytes = self.read(pid, "cmdline", CMDLINE_LIMIT)?;
        let bytes = match bytes.iter().rposition(|&byte| byte != 0) {
            Some(last) => &bytes[..=last],
            None => &[],
        };
        Ok(CommandLine {
            program: basename(argv0(bytes)).to_vec(),
            text: bytes
                .iter()
                .map(|&byte| if byte == 0 { b' ' } else { byte })
                .collect(),
        })
    }

    /// Whether the kernel's name for `pid` is `name`: a cheap read, unlike `stat`.
    fn comm_is(&mut self, pid: u32, name: &[u8]) -> io::Result<bool> {
        let bytes = self.read(pid, "comm", 64)?;
        Ok(bytes.strip_suffix(b"\n").unwrap_or(bytes) == name)
    }

    /// Whether the basename of `pid`'s argv\[0\] is `name`.
    fn argv0_is(&mut self, pid: u32, name: &[u8]) -> io::Result<bool> {
        let bytes = self.read(pid, "cmdline", ARGV0_LIMIT)?;
        Ok(basename(argv0(bytes)) == name)
    }

    /// Resident memory in bytes (`VmRSS`; kernel threads have none: 0).
    fn rss(&mut self, pid: u32) -> io::Result<u64> {
        let bytes = self.read(pid, "status", 8192)?;
        let text = String::from_utf8_lossy(bytes);
        let kib = text
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| {
                value
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .unwrap_or(0);
        Ok(kib * 1024)
    }
}

/// `12 (celery worker) S 1 ...`: the name may hold spaces and parentheses, so it ends at
/// the last `)`.
fn parse_stat(bytes: &[u8]) -> Option<Stat> {
    let open = bytes.iter().position(|&byte| byte == b'(')?;
    let close = bytes.iter().rposition(|&byte| byte == b')')?;
    let comm = String::from_utf8_lossy(bytes.get(open + 1..close)?).into_owned();
    let mut fields = bytes
        .get(close + 1..)?
        .split(|&byte| byte == b' ')
        .filter(|f| !f.is_empty());
    let state = *fields.next()?.first()?;
    let ppid = std::str::from_utf8(fields.next()?).ok()?.parse().ok()?;
    Some(Stat { comm, state, ppid })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me(programs: &[&str], args: &[&str]) -> Me {
        Me {
            pid: 1,
            programs: programs.iter().map(|p| p.as_bytes().to_vec()).collect(),
            args: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
            wrappers: Vec::new(),
        }
    }

    #[test]
    fn stat_names_may_hold_spaces_and_parentheses() {
        let stat = parse_stat(b"42 (my (odd) name) T 7 42 42 0 -1").unwrap();
        assert_eq!(stat.comm, "my (odd) name");
        assert_eq!(stat.state, b'T');
        assert_eq!(stat.ppid, 7);
        assert!(parse_stat(b"garbage").is_none());
    }

    #[test]
    fn the_program_is_a_whole_command_word() {
        let me = me(&["probe"], &[]);
        let ends = |line: &[u8]| me.program_words(line).collect::<Vec<_>>();
        assert_eq!(ends(b"sh -c /probe process x"), [12]);
        assert_eq!(ends(b"sh -c 'probe' x; probe"), [12, 22]);
        assert!(ends(b"python probe_runner.py --probe x").is_empty());
        assert!(ends(b"myprobe x /srv/probe/bin/app").is_empty());
    }

    #[test]
    fn text_after_the_program_is_the_probes_own_argument() {
        let me = me(&["probe", "hc"], &[]);
        let wrapper = b"sh -c /probe process --cmdline 'celery worker'";
        let at = find_bytes(wrapper, b"celery worker").unwrap();
        assert!(me.runs_probe_before(wrapper, at));
        let other_name = b"timeout 5 hc check 'process --cmdline celery'";
        assert!(me.runs_probe_before(other_name, find_bytes(other_name, b"celery").unwrap()));
        let worker = b"celery worker -A app --probe probe";
        assert!(!me.runs_probe_before(worker, find_bytes(worker, b"celery worker").unwrap()));
    }

    #[test]
    fn ancestors_running_this_probe_are_recognised() {
        let me = me(&["probe"], &["process", "--cmdline", "celery worker"]);
        assert!(me.runs_me(b"sh -c \"$PROBE\" process --cmdline 'celery worker'"));
        assert!(me.runs_me(b"sh -c '/bin/probe' process --cmdline \"$WORKER\""));
        assert!(me.runs_me(b"timeout 5 probe process --cmdline celery worker"));
        assert!(!me.runs_me(b"celery worker -A app"));
        assert!(!me.runs_me(b"/srv/probe/bin/supervisor process"));
        assert!(!me.runs_me(b"sh /healthcheck.sh"));
    }

    #[test]
    fn a_missing_proc_is_noticed() {
        assert!(!proc_mounted(Path::new("/nonexistent-proc")));
        assert!(proc_mounted(Path::new(PROC)));
    }

    #[test]
    fn reasons_list_a_few_matches() {
        let found: Vec<Found> = (1..=7)
            .map(|pid| Found {
                pid,
                comm: "celery".into(),
                state: b'S',
            })
            .collect();
        assert_eq!(list(&found[..2]), "pid 1 celery, pid 2 celery");
        assert!(list(&found).ends_with("pid 5 celery and 2 more"));
        let tally = Tally {
            live: Vec::new(),
            zombies: 1,
            stopped: 2,
        };
        assert_eq!(tally.ignored(), " (1 zombie, 2 stopped ignored)");
    }
}
