//! `probe process` against real processes: renamed sleepers, a real zombie, a stopped
//! process, pidfiles, and the shells and probes whose command lines carry the search text.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::support::{probe, probe_bin, run, temp_dir};

/// A name no other process has: short enough (≤ 15 bytes) to be a whole `comm`.
fn unique(tag: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{tag}{}x{}",
        std::process::id() % 100_000,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A child process, killed and reaped on Drop.
struct Proc {
    child: Child,
    _dir: Option<TempDir>,
}

impl Proc {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn pid_text(&self) -> String {
        self.pid().to_string()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `program` under the file name `name` (a symlink: the kernel names the process after
/// the path it executed), so `comm` and argv\[0\] are both `name`.
fn renamed(program: &str, name: &str, args: &[&str]) -> Proc {
    let dir = temp_dir();
    let link = dir.path().join(name);
    std::os::unix::fs::symlink(which(program), &link).unwrap();
    let child = Command::new(&link)
        .args(args)
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn renamed program");
    Proc {
        child,
        _dir: Some(dir),
    }
}

fn sleeper(name: &str) -> Proc {
    renamed("sleep", name, &["300"])
}

fn which(program: &str) -> PathBuf {
    ["/usr/bin", "/bin"]
        .iter()
        .map(|dir| Path::new(dir).join(program))
        .find(|path| path.exists())
        .unwrap_or_else(|| panic!("{program} not found"))
}

/// A shell waiting on its stdin (no grandchild to leak): its command line is `script`.
fn shell(script: &str) -> Proc {
    let child = Command::new("sh")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn sh");
    Proc { child, _dir: None }
}

/// The process state letter from /proc/PID/stat.
fn state(pid: u32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}

fn wait_for_state(pid: u32, wanted: &[char]) {
    let started = Instant::now();
    while !state(pid).is_some_and(|s| wanted.contains(&s)) {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "pid {pid} is in state {:?}",
            state(pid)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A process named `name` that has exited and that this test process does not reap yet.
fn zombie(name: &str) -> Proc {
    let zombie = renamed("true", name, &[]);
    wait_for_state(zombie.pid(), &['Z']);
    zombie
}

/// A sleeper stopped with SIGSTOP.
fn stopped(name: &str) -> Proc {
    let proc = sleeper(name);
    let status = Command::new("kill")
        .args(["-STOP", &proc.pid_text()])
        .status()
        .unwrap();
    assert!(status.success());
    wait_for_state(proc.pid(), &['T']);
    proc
}

/// Runs probe through `sh -c SCRIPT`, where `$PROBE` and `{probe}` are the probe binary.
fn probe_in_shell(script: &str) -> crate::support::Run {
    let script = script.replace("{probe}", &format!("'{}'", probe_bin()));
    let mut command = Command::new("sh");
    command
        .args(["-c", &script])
        .env("PROBE", probe_bin())
        .stdin(Stdio::null());
    run(command)
}

#[test]
fn a_process_matches_by_its_name() {
    let name = unique("pn");
    let _worker = sleeper(&name);
    probe(&["process", &name])
        .code(0)
        .says("1 matching: pid")
        .says(&name)
        .short();
    probe(&["process", &unique("none")])
        .code(1)
        .says("no matching process")
        .short();
    probe(&["process", &name[..name.len() - 1]]).code(1);
}

#[test]
fn a_process_matches_by_the_basename_of_argv0() {
    // Longer than the 15 bytes the kernel keeps of a name, and not the executable's name.
    let name = format!("renamed-by-argv0-{}", unique("a"));
    let mut command = Command::new(which("sleep"));
    command
        .arg0(format!("/opt/app/{name}"))
        .arg("300")
        .stdin(Stdio::null());
    let _worker = Proc {
        child: command.spawn().unwrap(),
        _dir: None,
    };
    probe(&["process", &name]).code(0).says("pid").says("sleep");
}

#[test]
fn a_process_matches_by_its_command_line() {
    let name = unique("pc");
    let worker = sleeper(&name);
    let text = format!("{name} 300");
    probe(&["process", "--cmdline", &text])
        .code(0)
        .says(&format!("1 matching: pid {} {name}", worker.pid()));
    probe(&["process", &name, "--cmdline", "300"]).code(0);
    probe(&["process", "sleep", "--cmdline", &text]).code(1);
    probe(&["process", "--cmdline", &format!("{name} 301")])
        .code(1)
        .says("no matching process");
}

#[test]
fn min_and_max_bound_the_number_of_matches() {
    let name = unique("pm");
    let first = sleeper(&name);
    let second = sleeper(&name);
    let (low, high) = (first.pid().min(second.pid()), first.pid().max(second.pid()));
    probe(&["process", &name, "--min", "2"])
        .code(0)
        .says(&format!("2 matching: pid {low} {name}, pid {high} {name}"));
    probe(&["process", &name, "--max", "1"])
        .code(1)
        .says("2 matching, want at most 1");
    probe(&["process", &name, "--min", "3"])
        .code(1)
        .says("2 matching, want at least 3");
    probe(&["process", &unique("gone"), "--max", "0"])
        .code(0)
        .says("no matching process");
    probe(&["process", &name, "--max", "0"]).code(1);
}

#[test]
fn zombies_never_count() {
    let name = unique("pz");
    let zombie = zombie(&name);
    probe(&["process", &name])
        .code(1)
        .says("no matching process (1 zombie ignored)")
        .short();
    probe(&["process", "--pid", &zombie.pid_text()])
        .code(1)
        .says("is a zombie");
    assert_eq!(
        state(zombie.pid()),
        Some('Z'),
        "still a zombie after probing"
    );

    // A live process of the same name is healthy, and the zombie is still mentioned.
    let _live = sleeper(&name);
    probe(&["process", &name])
        .code(0)
        .says("1 matching")
        .says("(1 zombie ignored)");
}

#[test]
fn stopped_processes_count_only_when_allowed() {
    let name = unique("pt");
    let stopped = stopped(&name);
    probe(&["process", &name])
        .code(1)
        .says("no matching process (1 stopped ignored)");
    probe(&["process", &name, "--allow-stopped"])
        .code(0)
        .says("1 matching");
    probe(&["process", "--pid", &stopped.pid_text()])
        .code(1)
        .says("is stopped");
    probe(&["process", "--pid", &stopped.pid_text(), "--allow-stopped"]).code(0);
}

#[test]
fn the_probe_never_matches_its_own_shell() {
    let text = unique("self");
    // `sh -c` may exec a last simple command itself; `; exit $?` keeps the shell alive.
    for script in [
        format!("{{probe}} process --cmdline {text}"),
        format!("{{probe}} process --cmdline {text}; exit $?"),
        format!("\"$PROBE\" process --cmdline '{text}'; exit $?"),
        format!("timeout 20 {{probe}} process --cmdline {text}; exit $?"),
        format!("{{probe}} check 'process --cmdline {text}'; exit $?"),
        // The text before the probe's name: still the shell running this probe.
        format!(": {text}; {{probe}} process --cmdline {text}; exit $?"),
    ] {
        probe_in_shell(&script)
            .code(1)
            .says("no matching process")
            .short();
    }
    probe_in_shell("{probe} process --pid $$; exit $?")
        .code(1)
        .says("is the shell running this probe");
    // By name too: a shell named like the process sought, running `probe process NAME`.
    let dir = temp_dir();
    let name = unique("psh");
    let shell = dir.path().join(&name);
    std::os::unix::fs::symlink(which("sh"), &shell).unwrap();
    let mut command = Command::new(&shell);
    command
        .args(["-c", &format!("'{}' process {name}; exit $?", probe_bin())])
        .stdin(Stdio::null());
    run(command).code(1).says("no matching process");
}

#[test]
fn other_probes_and_their_wrappers_do_not_count_but_workers_do() {
    let text = unique("wrap");
    // Another health check running at the same time (not an ancestor): its command line
    // carries the text only after the probe's name.
    let _other_check = shell(&format!(
        "read line; : {} process --cmdline {text} --min 2",
        probe_bin()
    ));
    probe(&["process", "--cmdline", &text])
        .code(1)
        .says("no matching process");
    // A worker whose own command line holds the text counts, even if it mentions probe later.
    let worker = shell(&format!("read line; : {text} --probe x; : probe"));
    probe(&["process", "--cmdline", &text])
        .code(0)
        .says(&format!("1 matching: pid {} sh", worker.pid()));
    // And a shell-run probe sees that worker but not itself.
    probe_in_shell(&format!("\"$PROBE\" process --cmdline {text}; exit $?"))
        .code(0)
        .says("1 matching");
}

#[test]
fn pidfiles_point_at_live_dead_and_reused_pids() {
    let dir = temp_dir();
    let pidfile = dir.path().join("app.pid");
    let pidfile_arg = pidfile.to_str().unwrap();
    let name = unique("pp");
    let worker = sleeper(&name);

    fs::write(&pidfile, format!("{}\n", worker.pid())).unwrap();
    probe(&["process", "--pidfile", pidfile_arg])
        .code(0)
        .says(&format!("pid {} {name} is running", worker.pid()));
    probe(&["process", &name, "--pidfile", pidfile_arg]).code(0);
    probe(&[
        "process",
        "--cmdline",
        &format!("{name} 300"),
        "--pidfile",
        pidfile_arg,
    ])
    .code(0);

    // The pid now belongs to another program: NAME tells.
    probe(&["process", "celery", "--pidfile", pidfile_arg])
        .code(1)
        .says(&format!(
            "pid {} is {name}, which does not match celery: the pid was reused?",
            worker.pid()
        ))
        .short();

    let mut gone = Command::new("true").spawn().unwrap();
    gone.wait().unwrap();
    fs::write(&pidfile, gone.id().to_string()).unwrap();
    probe(&["process", "--pidfile", pidfile_arg])
        .code(1)
        .says(&format!("pid {} is not running", gone.id()));

    let zombie = zombie(&unique("pq"));
    fs::write(&pidfile, zombie.pid_text()).unwrap();
    probe(&["process", "--pidfile", pidfile_arg])
        .code(1)
        .says("is a zombie");

    fs::write(&pidfile, "not-a-pid\n").unwrap();
    probe(&["process", "--pidfile", pidfile_arg])
        .code(1)
        .says("pidfile holds \"not-a-pid\", not a pid");
    fs::write(&pidfile, "").unwrap();
    probe(&["process", "--pidfile", pidfile_arg])
        .code(1)
        .says("pidfile is empty");

    let missing = dir.path().join("missing.pid");
    probe(&["process", "--pidfile", missing.to_str().unwrap()])
        .code(1)
        .says("pidfile missing");

    let run = probe(&[
        "process",
        "--pidfile",
        dir.path().to_str().unwrap(),
        "--json",
    ]);
    run.code(1).says("\"fatal\":true").says("is a directory");
}

#[test]
fn pid_checks_the_one_process() {
    let name = unique("pd");
    let worker = sleeper(&name);
    probe(&["process", "--pid", &worker.pid_text()])
        .code(0)
        .says("is running");
    probe(&["process", &name, "--pid", &worker.pid_text()]).code(0);
    probe(&["process", "--pid", &std::process::id().to_string()]).code(0);
    probe(&["process", "--pid", "4194304"])
        .code(1)
        .says("is not running");
}

#[test]
fn max_rss_bounds_the_memory_of_matches() {
    let name = unique("pr");
    let worker = sleeper(&name);
    probe(&["process", &name, "--max-rss", "1G"]).code(0);
    probe(&["process", &name, "--max-rss", "1k"])
        .code(1)
        .says(&format!("pid {} {name} uses", worker.pid()))
        .says("of memory (max 1KiB)");
    probe(&["process", "--pid", &worker.pid_text(), "--max-rss", "1k"])
        .code(1)
        .says("of memory");
}

#[test]
fn process_targets_work_inside_check() {
    let name = unique("pk");
    let worker = sleeper(&name);
    probe(&[
        "check",
        &format!("process {name}"),
        &format!("process --pid {}", worker.pid()),
    ])
    .code(0);
    probe(&["check", &format!("process --cmdline '{name} 300' --min 2")]).code(1);
}

#[test]
fn bad_process_arguments_are_usage_errors() {
    probe(&["process"])
        .code(3)
        .says("needs a NAME, --cmdline TEXT, --pidfile PATH or --pid N");
    probe(&["process", "--pid", "1", "--pidfile", "/run/x.pid"])
        .code(3)
        .says("cannot be used together");
    probe(&["process", "x", "--min", "3", "--max", "1"])
        .code(3)
        .says("--min 3 is more than --max 1");
    probe(&["process", "--pid", "1", "--min", "2"])
        .code(3)
        .says("--min and --max");
    probe(&["process", "/usr/bin/celery"])
        .code(3)
        .says("without a path");
    probe(&["process", "--cmdline", ""])
        .code(3)
        .says("--cmdline needs some text");
    probe(&["process", "--pid", "0"]).code(3);
    probe(&["process", "--pid", "abc"]).code(3);
    probe(&["process", "x", "--max-rss", "lots"])
        .code(3)
        .says("invalid size");
    probe(&["process", "x", "--timeout", "5"])
        .code(3)
        .says("invalid duration");
}
