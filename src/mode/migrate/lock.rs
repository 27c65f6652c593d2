//! migrate-then-exec's `--lock`: a PostgreSQL session advisory lock on a dedicated
//! connection, so that replicas starting together run their migration one at a time.
//!
//! It lives with the migration, not with the postgres check: the check's session serves a
//! small API that knows nothing of modes (open a logged-in session from settings, run a
//! query, keep the connection alive, close it), and this module builds the lock on it.
//! The command line picks the server (`app.rs`: `--lock-url`, else the first postgres
//! `--wait` target, else the environment).
//!
//! A session lock dies with its connection, so a replica killed while holding it cannot
//! block the others: the server releases it when the socket closes. That same property
//! makes it meaningless through a connection pooler such as PgBouncer (in transaction
//! pooling the next statement may run on another server connection), so before taking the
//! lock probe compares `pg_backend_pid()` with the process id the server announced at
//! login (a pooler announces its own) and refuses a pooled connection; after taking it,
//! it checks through `pg_locks` that its own backend holds it.
//!
//! And the same property means the lock can be lost while the migration runs (the backend
//! terminated, `idle_session_timeout`, a failover, a dropped NAT entry): the lock
//! connection gets TCP keepalive, and [`MigrationLock::check`] runs the `pg_locks` query
//! about every second; migrate-then-exec stops the migration when it fails. The release
//! is checked too: `pg_advisory_unlock` must return true.

use std::time::Duration;

use super::MigrationLock;
use crate::deadline::Deadline;
use crate::duration::human;
use crate::outcome::Outcome;
use crate::probe::postgres::{Server, Session};

/// The lock key when none is given: a hash of this name.
const DEFAULT_KEY_NAME: &str = "probe-migrate";
/// Limit of one connect or one lock query (within --lock-timeout, which stays the only
/// clock of the whole wait).
const ATTEMPT: Duration = Duration::from_secs(5);
/// Limit of one watch round trip while the migration runs: past it the lock counts as lost.
const WATCH_ROUND_TRIP: Duration = Duration::from_secs(3);
/// TCP keepalive idle time of the lock connection.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(5);
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const LONGEST_PAUSE: Duration = Duration::from_secs(1);

pub struct AdvisoryLock {
    server: Server,
    key: i64,
    session: Option<Session>,
}

impl AdvisoryLock {
    /// The lock on `server` (see `app.rs` for which one), under `key` (`--lock-key`).
    pub fn new(server: Server, key: Option<&str>) -> Self {
        AdvisoryLock {
            server,
            key: lock_key(key.unwrap_or(DEFAULT_KEY_NAME)),
            session: None,
        }
    }

    /// A pooler between probe and the server announces a backend process id of its own.
    fn refuse_a_pooler(session: &Session, deadline: &Deadline) -> Result<(), Outcome> {
        let actual = session.first_value("select pg_backend_pid()", deadline)?;
        let announced = session.announced_pid().map(|pid| pid.to_string());
        match actual.flatten() {
            Some(pid) if Some(&pid) == announced.as_ref() => Ok(()),
            pid => Err(Outcome::fatal(format!(
                "the lock connection goes through a connection pooler (PgBouncer?): the server \
                 announced backend {} but runs as backend {}; a session advisory lock needs a \
                 direct connection to PostgreSQL: give one with --lock-url",
                announced.as_deref().unwrap_or("(none)"),
                pid.as_deref().unwrap_or("(none)"),
            ))),
        }
    }

    /// Does this connection's backend hold the lock? pg_locks shows a bigint advisory key
    /// as classid (high half) and objid (low half).
    fn holds(&self, session: &Session, deadline: &Deadline) -> Result<bool, Outcome> {
        let (high, low) = ((self.key as u64 >> 32) as u32, self.key as u64 as u32);
        let held = session.first_value(
            &format!(
                "select count(*) from pg_locks where locktype = 'advisory' and granted \
                 and pid = pg_backend_pid() and classid = {high} and objid = {low} and objsubid = 1"
            ),
            deadline,
        )?;
        Ok(held == Some(Some("1".to_string())))
    }

    /// Tries once; `Ok(true)` when this connection now holds the lock.
    fn try_lock(&self, session: &Session, deadline: &Deadline) -> Result<bool, Outcome> {
        let taken = session.first_value(
            &format!("select pg_try_advisory_lock({})", self.key),
            deadline,
        )?;
        if taken != Some(Some("t".to_string())) {
            return Ok(false);
        }
        if !self.holds(session, deadline)? {
            return Err(Outcome::fatal(
                "the advisory lock was granted but this connection does not hold it: a PgBouncer \
                 in transaction pooling mode? --lock needs a direct connection (--lock-url)",
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
        // --lock-timeout is the only clock: every connect and query gets what is left of
        // it (at most ATTEMPT each), so the wait never overruns it.
        let overall = limit.map(Deadline::start);
        let attempt = || match &overall {
            Some(overall) => overall.capped(ATTEMPT),
            None => Deadline::start(ATTEMPT),
        };
        let mut pause = FIRST_PAUSE;
        let mut session: Option<Session> = None;
        let mut told = false;
        let mut last_failure: Option<String>;
        loop {
            let deadline = attempt();
            let result = match &session {
                Some(open) => self.try_lock(open, &deadline),
                None => match self.server.connect(&deadline) {
                    Ok(open) => {
                        let result = Self::refuse_a_pooler(&open, &deadline)
                            .and_then(|()| self.try_lock(&open, &deadline));
                        session = Some(open);
                        result
                    }
                    Err(outcome) => Err(outcome),
                },
            };
            match result {
                Ok(true) => {
                    if let Some(open) = &session {
                        if let Err(error) = open.keep_alive(KEEPALIVE_IDLE) {
                            waiting(format!(
                                "no TCP keepalive on the lock connection: {}",
                                crate::outcome::io_reason(&error)
                            ));
                        }
                    }
                    self.session = session;
                    return Ok(());
                }
                Ok(false) => {
                    last_failure = None;
                    if !told {
                        told = true;
                        waiting("another replica holds the migration lock; waiting for it".into());
                    }
                }
                Err(outcome) if outcome.is_fatal() => return Err(outcome),
                Err(outcome) => {
                    // The connection broke: open a new one on the next round.
                    session = None;
                    waiting(format!(
                        "lock connection failed, retrying: {}",
                        outcome.detail
                    ));
                    last_failure = Some(outcome.detail);
                }
            }
            let left = overall.as_ref().map(Deadline::remaining);
            std::thread::sleep(match left {
                Some(left) => pause.min(left.unwrap_or_default()),
                None => pause,
            });
            pause = (pause * 2).min(LONGEST_PAUSE);
            if let (Some(true), Some(limit)) = (overall.as_ref().map(Deadline::expired), limit) {
                return Err(Outcome::unhealthy(match last_failure {
                    Some(reason) => format!("no lock connection within {}: {reason}", human(limit)),
                    None => format!(
                        "the migration lock was still held by another replica after {}",
                        human(limit)
                    ),
                }));
            }
        }
    }

    fn check(&mut self) -> Result<(), String> {
        let session = self
            .session
            .as_ref()
            .ok_or("the lock connection is closed")?;
        match self.holds(session, &Deadline::start(WATCH_ROUND_TRIP)) {
            Ok(true) => Ok(()),
            Ok(false) => Err("the lock connection no longer holds the lock".into()),
            Err(outcome) => Err(format!("the lock connection failed: {}", outcome.detail)),
        }
    }

    fn release(mut self: Box<Self>) -> Result<(), String> {
        let Some(session) = self.session.take() else {
            return Ok(());
        };
        let deadline = Deadline::start(ATTEMPT);
        let unlocked = session.first_value(
            &format!("select pg_advisory_unlock({})", self.key),
            &deadline,
        );
        session.close(&deadline);
        match unlocked {
            Ok(Some(Some(value))) if value == "t" => Ok(()),
            Ok(_) => Err("pg_advisory_unlock returned false: the lock was no longer held".into()),
            Err(outcome) => Err(format!("releasing the lock failed: {}", outcome.detail)),
        }
    }
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

    const PROBE_MIGRATE_KEY: u64 = 0x7332_bc86_adaa_1469;

    #[test]
    fn keys_are_integers_or_stable_hashes_of_names() {
        assert_eq!(lock_key("42"), 42);
        assert_eq!(lock_key("-7"), -7);
        assert_eq!(lock_key(" 42 "), 42, "integers are trimmed");
        assert_ne!(lock_key("probe-migrate"), lock_key("other-app"));
        // FNV-1a 64 published test vectors: every replica, whatever its probe version or
        // platform, derives the same key from the same name.
        assert_eq!(lock_key("a") as u64, 0xaf63_dc4c_8601_ec8c);
        assert_eq!(lock_key("foobar") as u64, 0x8594_4171_f739_67e8);
        assert_eq!(lock_key("") as u64, 0xcbf2_9ce4_8422_2325);
        // The default key is fixed: replicas of different probe versions still exclude
        // each other.
        assert_eq!(lock_key(DEFAULT_KEY_NAME) as u64, PROBE_MIGRATE_KEY);
    }
}
