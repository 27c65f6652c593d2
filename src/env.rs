//! The environment variables probe reads, and nothing else of the environment.
//!
//! probe starts once per health check, every few seconds, in every container: its start-up
//! must cost the same in a 300-variable Kubernetes pod (seven service-link variables per
//! service in the namespace) as in an empty one. std's `env::vars_os()` copies every
//! variable, and each `env::var(name)` scans them all again. So probe walks `environ` once,
//! the first time it needs a variable, keeping only the names it reads (libpq's `PG*`, its
//! own `PROBE_*`, `DATABASE_URL`, `REDIS_URL`, `MYSQL_PWD`, `MONGODB_URL`, `MONGO_URL`, `KAFKA_BOOTSTRAP_SERVERS`
//! and `KAFKA_SASL_*`): one byte tells most names
//! apart, and nothing else is copied, parsed or registered as a secret.
//!
//! Secrets are found where they are read: a credential variable's value (`PGPASSWORD`,
//! `MYSQL_PWD`) and the password of a URL-valued one (`DATABASE_URL`) are registered with
//! [`crate::redact`] as they are handed out, before any caller can print them.

use std::ffi::{CStr, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::sync::OnceLock;

use crate::outcome::{usage, UsageError};

/// Variables whose values are credentials.
const CREDENTIALS: &[&str] = &["PGPASSWORD", "MYSQL_PWD", "KAFKA_SASL_PASSWORD"];

/// Variables probe reads by exact name (besides `PG*` and `PROBE_*`); [`read_name_len`]
/// spells them out too, and a test holds the two together.
const NAMED: &[&str] = &[
    "DATABASE_URL",
    "REDIS_URL",
    "MYSQL_PWD",
    "MONGODB_URL",
    "MONGO_URL",
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "KAFKA_SASL_MECHANISM",
];

/// Whether probe reads this variable: its own `PROBE_*`, libpq's `PG*` (upper case and
/// `_` after `PG`), and [`NAMED`].
pub fn is_read_by_probe(name: &[u8]) -> bool {
    let libpq = name.len() > 2
        && name.starts_with(b"PG")
        && name[2..]
            .iter()
            .all(|b| b.is_ascii_uppercase() || *b == b'_');
    libpq || name.starts_with(b"PROBE_") || NAMED.iter().any(|named| named.as_bytes() == name)
}

/// The length of the name of the `NAME=value` entry at `entry` when [`is_read_by_probe`]
/// accepts it. Most entries of a large environment are told apart by their first one or
/// two bytes, and no entry is measured or copied unless it is read.
///
/// # Safety
/// `entry` points to a NUL-terminated string. Every comparison below stops at the first
/// byte that differs, and the terminating NUL differs from every byte looked for, so no
/// byte past it is read.
unsafe fn read_name_len(entry: *const u8) -> Option<usize> {
    // Plain loops: this runs for every entry whose first byte could start a name probe
    // reads (`POSTGRES_SERVICE_HOST` and `REDIS_PORT` too), in every probe process.
    let name_end = |mut index: usize, libpq: bool| loop {
        match *entry.add(index) {
            b'=' => return Some(index),
            b'A'..=b'Z' | b'_' => {}
            0 => return None,
            _ if libpq => return None,
            _ => {}
        }
        index += 1;
    };
    let starts_with = |prefix: &[u8]| {
        let mut index = 0;
        while index < prefix.len() {
            if *entry.add(index) != prefix[index] {
                return false;
            }
            index += 1;
        }
        true
    };
    let named =
        |name: &[u8]| (starts_with(name) && *entry.add(name.len()) == b'=').then_some(name.len());
    match *entry {
        b'P' => match *entry.add(1) {
            b'G' => name_end(2, true).filter(|len| *len > 2),
            b'R' if starts_with(b"PROBE_") => name_end(6, false),
            _ => None,
        },
        b'D' => named(b"DATABASE_URL"),
        b'R' => named(b"REDIS_URL"),
        b'M' => match *entry.add(1) {
            b'Y' => named(b"MYSQL_PWD"),
            b'O' => named(b"MONGODB_URL").or_else(|| named(b"MONGO_URL")),
            _ => None,
        },
        // One byte picks the name to compare: KAFKA_SERVICE_HOST and the other service
        // links of a Kafka in the namespace are told apart without a whole comparison.
        b'K' if *entry.add(1) == b'A' && starts_with(b"KAFKA_") => match *entry.add(6) {
            b'B' => named(b"KAFKA_BOOTSTRAP_SERVERS"),
            b'S' if *entry.add(7) == b'A' && starts_with(b"KAFKA_SASL_") => match *entry.add(11) {
                b'U' => named(b"KAFKA_SASL_USERNAME"),
                b'P' => named(b"KAFKA_SASL_PASSWORD"),
                b'M' => named(b"KAFKA_SASL_MECHANISM"),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    }
}

/// Bit `n` is set when the letter `b'A' + n` starts a name probe reads: D, K, M, P, R.
const FIRST_LETTERS: u32 = 1 << (b'D' - b'A')
    | 1 << (b'K' - b'A')
    | 1 << (b'M' - b'A')
    | 1 << (b'P' - b'A')
    | 1 << (b'R' - b'A');

extern "C" {
    // The process environment as the C runtime keeps it (POSIX); probe changes it only in
    // `hidden`, and puts it back.
    static mut environ: *const *const std::ffi::c_char;
}

/// Runs `build` with the environment hidden from it: for a library that reads variables
/// probe overrides anyway (ureq's defaults read eight proxy variables, each a scan of the
/// whole environment). Only while probe is parsing its arguments, on its one thread; unit
/// tests run in parallel threads, so there it only runs `build`.
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub fn hidden<T>(build: impl FnOnce() -> T) -> T {
    #[cfg(not(test))]
    {
        struct Empty([*const std::ffi::c_char; 1]);
        // SAFETY: one null pointer, never written.
        unsafe impl Sync for Empty {}
        static EMPTY: Empty = Empty([std::ptr::null()]);
        // The variables probe reads are found before the environment is hidden, whatever
        // `build` does.
        captured();
        // SAFETY: probe parses on its main thread before any other thread starts, so no
        // one reads the environment while it is swapped; it is restored before returning
        // (a panic ends the process: panic = "abort", and the hook exits).
        unsafe {
            let saved = environ;
            environ = EMPTY.0.as_ptr();
            let value = build();
            environ = saved;
            value
        }
    }
    #[cfg(test)]
    build()
}

/// The variables probe reads, found in `environ` once: name and value, pointing into the
/// environment itself (copied only when read).
fn captured() -> &'static [(&'static [u8], &'static [u8])] {
    static CAPTURED: OnceLock<Vec<(&'static [u8], &'static [u8])>> = OnceLock::new();
    CAPTURED.get_or_init(|| {
        let mut found = Vec::new();
        // SAFETY: `environ` is a null-terminated array of NUL-terminated strings, and
        // nothing in probe calls setenv, so no entry changes while it is read. Each
        // entry is read up to its NUL only (the first byte first).
        unsafe {
            let mut entry = environ;
            if entry.is_null() {
                return found;
            }
            while !(*entry).is_null() {
                let text = (*entry).cast::<u8>();
                // The one test most entries get: does a name probe reads start so?
                let letter = (*text).wrapping_sub(b'A');
                if letter >= 32 || FIRST_LETTERS >> letter & 1 == 0 {
                    entry = entry.add(1);
                    continue;
                }
                if let Some(len) = read_name_len(text) {
                    let name = std::slice::from_raw_parts(text, len);
                    let value = CStr::from_ptr((*entry).add(len + 1)).to_bytes();
                    found.push((name, value));
                }
                entry = entry.add(1);
            }
        }
        found
    })
}

/// Registers the values of the credential-named variables of the whole environment (as
/// `${NAME}` expansions are: `*_PASSWORD`, `*_TOKEN`, `*_KEY`, ...), for `probe exec`,
/// whose program gets all of them and may print one. Only exec pays for this walk.
pub fn register_secret_variables() {
    for (name, value) in std::env::vars_os() {
        if let (Some(name), Some(value)) = (name.to_str(), value.to_str()) {
            crate::redact::register_expansion(name, value);
        }
    }
}

/// probe's own command line, as `main` received it (argv\[0\] included): std reads it only
/// in the runtime start-up that probe skips (src/main.rs).
static ARGV: OnceLock<Vec<std::ffi::OsString>> = OnceLock::new();

/// Keeps the command line for [`argv`]; the first call wins.
pub fn set_argv(argv: Vec<std::ffi::OsString>) {
    let _ = ARGV.set(argv);
}

/// The command line probe was started with, argv\[0\] first.
pub fn argv() -> &'static [std::ffi::OsString] {
    ARGV.get_or_init(|| std::env::args_os().collect())
}

/// Every variable probe reads must be UTF-8: checked once, up front, so that no check can
/// mistake a non-UTF-8 value for an unset one.
pub fn validate() -> Result<(), UsageError> {
    match captured()
        .iter()
        .find(|(_, value)| std::str::from_utf8(value).is_err())
    {
        // The name is ASCII: is_read_by_probe accepts nothing else.
        Some((name, _)) => usage(format!(
            "environment variable {} is not valid UTF-8",
            String::from_utf8_lossy(name)
        )),
        None => Ok(()),
    }
}

/// A variable probe reads: unset is `None`, non-UTF-8 an error naming it. Secrets in it
/// are registered before it is returned.
pub fn text(name: &str) -> Result<Option<String>, UsageError> {
    let value = match captured()
        .iter()
        .find(|(known, _)| *known == name.as_bytes())
    {
        Some((_, value)) => Some(OsStr::from_bytes(value).to_os_string()),
        // Not a name probe reads by rule: found the slow way, still correctly.
        None if !is_read_by_probe(name.as_bytes()) => std::env::var_os(name),
        None => None,
    };
    let Some(value) = value else {
        return Ok(None);
    };
    let value = value
        .into_string()
        .map_err(|_| UsageError::new(format!("environment variable {name} is not valid UTF-8")))?;
    if CREDENTIALS.contains(&name) {
        crate::redact::register(&value);
    }
    if value.contains("://") {
        crate::redact::register_arguments(std::slice::from_ref(&value));
    }
    Ok(Some(value))
}

/// [`text`] for the checks, which run after [`validate`]: a non-UTF-8 value cannot reach
/// them, so `None` means unset.
#[cfg_attr(
    not(any(
        feature = "postgres",
        feature = "redis",
        feature = "mysql",
        feature = "mongodb",
        feature = "kafka"
    )),
    allow(dead_code)
)]
pub fn get(name: &str) -> Option<String> {
    text(name).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_names_probe_reads_and_no_others() {
        for name in [
            "PGHOST",
            "PGPASSWORD",
            "PG_X",
            "PROBE_DRY_RUN",
            "PROBE_",
            "DATABASE_URL",
            "REDIS_URL",
            "MYSQL_PWD",
            "MONGODB_URL",
            "MONGO_URL",
            "KAFKA_BOOTSTRAP_SERVERS",
            "KAFKA_SASL_USERNAME",
            "KAFKA_SASL_PASSWORD",
            "KAFKA_SASL_MECHANISM",
        ] {
            assert!(is_read_by_probe(name.as_bytes()), "{name}");
            let entry = std::ffi::CString::new(format!("{name}=v")).unwrap();
            assert_eq!(
                unsafe { read_name_len(entry.as_ptr().cast()) },
                Some(name.len())
            );
        }
        for name in [
            "PG",
            "PGhost",
            "PWD",
            "PATH",
            "POSTGRES_SERVICE_HOST",
            "REDIS_PORT",
            "DATABASE_URL_X",
            "HOME",
            "API_KEY",
            "GPG_KEY",
            "KAFKA_HEAP_OPTS",
            "KAFKA_SASL",
            "",
        ] {
            assert!(!is_read_by_probe(name.as_bytes()), "{name}");
            let entry = std::ffi::CString::new(format!("{name}=v")).unwrap();
            assert_eq!(
                unsafe { read_name_len(entry.as_ptr().cast()) },
                None,
                "{name}"
            );
        }
    }
}
