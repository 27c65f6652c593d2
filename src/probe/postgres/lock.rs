//! migrate-then-exec's `--lock`: a PostgreSQL session advisory lock on a dedicated
//! connection, so that replicas starting together run their migration one at a time.
//!
//! A session lock dies with its connection, so a replica killed while holding it cannot
//! block the others: the server releases it when the socket closes. That same property
//! makes it meaningless through a PgBouncer in transaction pooling mode (the next statement
//! may run on another server connection), so after taking the lock probe checks, through
//! `pg_locks`, that its own backend holds it, and says what is wrong if not.

use std::time::{Duration, Instant};

use argh::FromArgs;

use super::session::{Server, Session};
use crate::cli::{Cli, Command};
use crate::deadline::Deadline;
use crate::duration::human;
use crate::mode::migrate::MigrationLock;
use crate::outcome::{usage, Outcome, UsageError};
use crate::target;

/// The lock key when none is given: a hash of this name.
const DEFAULT_KEY_NAME: &str = "probe-migrate";
/// Limit of one connect or one lock query.
const ATTEMPT: Duration = Duration::from_secs(5);
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const LONGEST_PAUSE: Duration = Duration::from_secs(1);

pub struct AdvisoryLock {
    server: Server,
    key: i64,
    session: Option<Session>,
}

impl AdvisoryLock {
    /// The lock's connection: `--lock-url`, else the first postgres `--wait` target (with
    /// all its options, e.g. `--password-file`), else DATABASE_URL and the PG* variables.
    pub fn new(
        lock_url: Option<&str>,
        wait_targets: &[String],
        key: Option<&str>,
    ) -> Result<Self, UsageError> {
        let words = match lock_url {
            Some(url) => vec!["postgres".to_string(), url.to_string()],
            None => {
                let mut found = None;
                for text in wait_targets {
                    let words = target::words(text)?;
                    if words.first().map(String::as_str) == Some("postgres") {
                        found = Some(words);
                        break;
                    }
                }
                found.unwrap_or_else(|| vec!["postgres".to_string()])
            }
        };
        let args = match parse_postgres_words(&words)? {
            Some(args) => args,
            None => return usage("--lock-url must be a postgres:// URL"),
        };
        let env = |name: &str| std::env::var(name).ok();
        Ok(AdvisoryLock {
            server: super::server_from_args(&args, &env)?,
            key: lock_key(key.unwrap_or(DEFAULT_KEY_NAME)),
            session: None,
        })
    }

    /// Tries once; `Ok(true)` when this connection now holds the lock.
    fn try_lock(&self, session: &Session) -> Result<bool, Outcome> {
        let deadline = Deadline::start(ATTEMPT);
        let taken = session.first_value(
            &format!("select pg_try_advisory_lock({})", self.key),
            &deadline,
        )?;
        if taken != Some(Some("t".to_string())) {
            return Ok(false);
        }
        // pg_locks shows a bigint advisory key as classid (high half) and objid (low half).
        let (high, low) = ((self.key as u64 >> 32) as u32, self.key as u64 as u32);
        let held = session.first_value(
            &format!(
                "select count(*) from pg_locks where locktype = 'advisory' and granted \
                 and pid = pg_backend_pid() and classid = {high} and objid = {low} and objsubid = 1"
            ),
            &deadline,
        )?;
        if held != Some(Some("1".to_string())) {
            return Err(Outcome::fatal(
                "the advisory lock was granted but this connection does not hold it: a PgBouncer \
                 in transaction pooling mode? --lock needs a direct connection (or session pooling)",
            ));
        }
        Ok(true)
    }
}

impl MigrationLock for AdvisoryLock {
    fn acquire(
        &mut self,
        limit: Option<Duration>,
        waiting: &mut dyn FnMut(String),
    ) -> Result<(), Outcome> {
        let started = Instant::now();
        let mut pause = FIRST_PAUSE;
        let mut session: Option<Session> = None;
        let mut told = false;
        loop {
            let result = match &session {
                Some(open) => self.try_lock(open),
                None => match self.server.connect(&Deadline::start(ATTEMPT)) {
                    Ok(open) => {
                        let result = self.try_lock(&open);
                        session = Some(open);
                        result
                    }
                    Err(outcome) => Err(outcome),
                },
            };
            match result {
                Ok(true) => {
                    self.session = session;
                    return Ok(());
                }
                Ok(false) if !told => {
                    told = true;
                    waiting("another replica holds the migration lock; waiting for it".into());
                }
                Ok(false) => {}
                Err(outcome) if outcome.is_fatal() => return Err(outcome),
                Err(outcome) => {
                    // The connection broke: open a new one on the next round.
                    session = None;
                    waiting(format!(
                        "lock connection failed, retrying: {}",
                        outcome.detail
                    ));
                }
            }
            if let Some(limit) = limit {
                if started.elapsed() >= limit {
                    return Err(Outcome::unhealthy(format!(
                        "the migration lock was still held by another replica after {}",
                        human(limit)
                    )));
                }
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(LONGEST_PAUSE);
        }
    }

    fn release(mut self: Box<Self>) {
        if let Some(session) = self.session.take() {
            let deadline = Deadline::start(ATTEMPT);
            let _ = session.execute(
                &format!("select pg_advisory_unlock({})", self.key),
                &deadline,
            );
            session.close(&deadline);
        }
    }
}

/// `probe postgres` arguments from check words, if the words are a postgres check.
fn parse_postgres_words(words: &[String]) -> Result<Option<crate::cli::PostgresArgs>, UsageError> {
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let cli =
        Cli::from_args(&["probe"], &words).map_err(|exit| target::argh_error(&exit.output))?;
    Ok(match cli.command {
        Some(Command::Postgres(args)) => Some(args),
        _ => None,
    })
}

/// `--lock-key`: an integer is the key; any other text is hashed (FNV-1a, 64 bits), so
/// every replica derives the same key from the same name.
pub fn lock_key(text: &str) -> i64 {
    if let Ok(key) = text.trim().parse::<i64>() {
        return key;
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_integers_or_stable_hashes_of_names() {
        assert_eq!(lock_key("42"), 42);
        assert_eq!(lock_key("-7"), -7);
        assert_eq!(lock_key("probe-migrate"), lock_key("probe-migrate"));
        assert_ne!(lock_key("probe-migrate"), lock_key("other-app"));
        // FNV-1a of "a", a published test vector.
        assert_eq!(lock_key("a") as u64, 0xaf63_dc4c_8601_ec8c);
    }
}
