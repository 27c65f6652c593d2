//! `probe file` against heartbeat files with set modification times.

use std::fs::{self, File};
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::support::{probe, temp_dir};

/// Writes `contents` to `path` and sets its modification time to `now + offset_secs`.
fn heartbeat(path: &Path, contents: &[u8], offset_secs: i64) {
    fs::write(path, contents).unwrap();
    let now = SystemTime::now();
    let offset = Duration::from_secs(offset_secs.unsigned_abs());
    let when = if offset_secs < 0 {
        now - offset
    } else {
        now + offset
    };
    File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(when)
        .unwrap();
}

/// The N of "modified Ns ago" in a report line.
fn seconds_ago(line: &str) -> u64 {
    let after = line
        .split("modified ")
        .nth(1)
        .unwrap_or_else(|| panic!("no age in {line:?}"));
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    assert!(
        after[digits.len()..].starts_with("s ago"),
        "not seconds: {line:?}"
    );
    digits.parse().unwrap()
}

#[test]
fn fresh_stale_and_future_heartbeats() {
    let dir = temp_dir();
    let path = dir.path().join("heartbeat");
    let arg = path.to_str().unwrap();

    heartbeat(&path, b"", -3);
    let fresh = probe(&["file", arg, "--max-age", "1m"]);
    fresh.code(0).says("healthy: file").short();
    // 3s old when written; a loaded machine may take a second or two to run the check.
    let age = seconds_ago(&fresh.stdout);
    assert!((3..=6).contains(&age), "age {age}s: {fresh:#?}");
    probe(&["file", arg]).code(0).says("exists");

    heartbeat(&path, b"", -192);
    probe(&["file", arg, "--max-age", "1m"])
        .code(1)
        .says("stale: modified 3m12s ago (max 1m)")
        .short();
    probe(&["file", arg, "--max-age", "5m"]).code(0);
    probe(&["file", arg]).code(0);

    heartbeat(&path, b"", 120);
    probe(&["file", arg, "--max-age", "1m"])
        .code(1)
        .says("modified 2m in the future: check the clocks")
        .short();

    // Within the allowed skew a clock a little ahead is fine.
    heartbeat(&path, b"", 2);
    probe(&["file", arg, "--max-age", "1m"]).code(0);
}

#[test]
fn missing_files_and_directories() {
    let dir = temp_dir();
    let missing = dir.path().join("missing");
    probe(&["file", missing.to_str().unwrap(), "--max-age", "1m"])
        .code(1)
        .says("unhealthy: file")
        .says(": missing");
    probe(&["file", missing.to_str().unwrap(), "--json"])
        .code(1)
        .says("\"fatal\":false");

    let directory = dir.path().to_str().unwrap();
    probe(&["file", directory, "--max-age", "1m"])
        .code(1)
        .says("is a directory, not a file");
    probe(&["file", directory, "--json"])
        .code(1)
        .says("\"fatal\":true");

    let below_a_file = dir.path().join("heartbeat");
    fs::write(&below_a_file, "").unwrap();
    probe(&["file", below_a_file.join("x").to_str().unwrap()])
        .code(1)
        .says("not a directory");
}

#[test]
fn size_and_contents() {
    let dir = temp_dir();
    let path = dir.path().join("status");
    let arg = path.to_str().unwrap();
    heartbeat(&path, b"state: ready\n", 0);
    probe(&["file", arg, "--min-size", "1"])
        .code(0)
        .says("13 bytes");
    probe(&["file", arg, "--min-size", "1k"])
        .code(1)
        .says("too small: 13 bytes (min 1KiB)");
    probe(&["file", arg, "--contains", "ready", "--max-age", "10s"])
        .code(0)
        .says("contains \"ready\"");
    probe(&["file", arg, "--contains", "starting"])
        .code(1)
        .says("does not contain \"starting\"");

    // Only the first MiB is read.
    let mut big = vec![b'.'; 2 << 20];
    big.extend_from_slice(b"ready");
    heartbeat(&path, &big, 0);
    probe(&["file", arg, "--contains", "ready"])
        .code(1)
        .says("does not contain \"ready\" in its first 1MiB");
}

#[test]
fn file_targets_work_inside_check() {
    let dir = temp_dir();
    let path = dir.path().join("heartbeat");
    heartbeat(&path, b"ok", -1);
    let target = format!("file {} --max-age 60s", path.display());
    probe(&["check", &target]).code(0);
    let stale = format!("file {} --max-age 500ms", path.display());
    probe(&["check", &target, &stale]).code(1).says("stale");
}

#[test]
fn bad_file_arguments_are_usage_errors() {
    probe(&["file"]).code(3);
    probe(&["file", "/tmp/x", "--max-age", "60"])
        .code(3)
        .says("invalid duration");
    probe(&["file", "/tmp/x", "--max-age", "0"])
        .code(3)
        .says("--max-age must be more than 0");
    probe(&["file", "/tmp/x", "--min-size", "big"])
        .code(3)
        .says("invalid size");
    probe(&["file", "/tmp/x", "--contains", ""])
        .code(3)
        .says("--contains needs some text");
}
