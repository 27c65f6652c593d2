//! Queries on an open session: the simple protocol (text results, several statements
//! allowed), the first column of the first row, read up to ReadyForQuery so that the
//! session can run another. An error is read to the end too; a FATAL one breaks the
//! session; COPY FROM STDIN is answered with CopyFail (probe has no data to send).
//!
//! Apart because this is the part checks and modes call on a session (`first_value`,
//! `execute`), each query bounded by its own deadline, not the one the session was opened
//! with (a session may be held far longer than its connect deadline).

use std::sync::PoisonError;

use super::message::{first_column, frame, query_message, DbError};
use super::verdict::classify_query;
use super::{Conn, Session, QUERY};
use crate::deadline::Deadline;
use crate::outcome::Outcome;

/// What the server may send in answer to a simple query.
const QUERY_TAGS: &[u8] = b"TDCIENSAZGHdc";

impl Session {
    /// Runs `sql` (simple protocol: text results, several statements allowed) and returns
    /// the first column of the first row: `Ok(None)` when there is no row, `Some(None)`
    /// for NULL.
    pub fn first_value(
        &self,
        sql: &str,
        deadline: &Deadline,
    ) -> Result<Option<Option<String>>, Outcome> {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        match conn.as_mut() {
            Some(conn) if !conn.broken => conn.simple_query(sql, deadline),
            _ => Err(Outcome::unhealthy(
                "the connection to the server was lost earlier",
            )),
        }
    }

    /// Runs `sql` for its effect (`select pg_advisory_lock(1)`), within the deadline.
    #[allow(dead_code)] // for migrate-then-exec's advisory lock
    pub fn execute(&self, sql: &str, deadline: &Deadline) -> Result<(), Outcome> {
        self.first_value(sql, deadline).map(drop)
    }
}

impl Conn {
    /// A simple query: the first column of the first row, after reading up to
    /// ReadyForQuery so that the session can run another.
    fn simple_query(
        &mut self,
        sql: &str,
        deadline: &Deadline,
    ) -> Result<Option<Option<String>>, Outcome> {
        if sql.contains('\0') {
            return Err(Outcome::fatal("query failed: the SQL contains a NUL byte"));
        }
        if deadline.expired() {
            return Err(deadline.timed_out("before the query"));
        }
        self.send(&query_message(sql), deadline, QUERY)?;
        let mut first = None;
        let mut failed = None;
        loop {
            let (tag, body) = self.message(QUERY_TAGS, deadline, QUERY)?;
            match tag {
                b'D' if first.is_none() => {
                    first = Some(first_column(&body).ok_or_else(|| self.malformed(QUERY))?)
                }
                b'E' => {
                    let error = DbError::parse(&body).ok_or_else(|| self.malformed(QUERY))?;
                    // After FATAL the server hangs up: no ReadyForQuery will come.
                    if error.fatal() {
                        self.broken = true;
                        return Err(classify_query(&error));
                    }
                    failed.get_or_insert(error);
                }
                // COPY FROM STDIN: nothing to send; the server answers with an error.
                b'G' => {
                    let mut reason = b"probe sends no COPY data".to_vec();
                    reason.push(0);
                    self.send(&frame(b'f', &reason), deadline, QUERY)?;
                }
                b'Z' => {
                    return match failed {
                        Some(error) => Err(classify_query(&error)),
                        None => Ok(first),
                    }
                }
                // RowDescription, further rows, CommandComplete, EmptyQueryResponse,
                // notices, parameter changes, notifications, COPY TO STDOUT data.
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use std::time::Duration;

    /// After a FATAL error the session is broken: nothing more is sent (not even
    /// Terminate), and later queries say the connection was lost.
    #[test]
    fn errors_reach_execute_and_a_fatal_one_breaks_the_session() {
        let (session, peer) = logged_in(vec![
            Step::Expect(b'Q', b"select 1/0\0".to_vec()),
            backend(b'E', b"SERROR\0VERROR\0C22012\0Mdivision by zero\0\0"),
            backend(b'Z', b"I"),
            Step::Expect(b'Q', b"select 2\0".to_vec()),
            backend(b'E', b"SFATAL\0VFATAL\0C57P01\0Mterminating connection\0\0"),
            Step::ExpectEof,
        ]);
        let deadline = Deadline::start(Duration::from_secs(5));
        let error = session.execute("select 1/0", &deadline).unwrap_err();
        assert!(error.detail.contains("22012"), "{error:?}");
        assert!(session.first_value("select 2", &deadline).is_err());
        let error = session.first_value("select 3", &deadline).unwrap_err();
        assert_eq!(
            error.detail,
            "the connection to the server was lost earlier"
        );
        session.close(&deadline);
        peer.done();
    }

    /// COPY FROM STDIN is answered with CopyFail (probe has no data to send), and the
    /// server's error ends the query; without it the server would wait forever.
    #[test]
    fn copy_from_stdin_is_refused_with_copy_fail() {
        let (session, peer) = logged_in(vec![
            Step::Expect(b'Q', b"copy t from stdin\0".to_vec()),
            backend(b'G', &[0, 0, 1, 0, 0]),
            Step::Expect(b'f', b"probe sends no COPY data\0".to_vec()),
            backend(b'E', b"SERROR\0VERROR\0C57014\0MCOPY from stdin failed\0\0"),
            backend(b'Z', b"I"),
            Step::Expect(b'X', Vec::new()),
        ]);
        let deadline = Deadline::start(Duration::from_secs(5));
        let error = session.execute("copy t from stdin", &deadline).unwrap_err();
        assert!(error.detail.contains("57014"), "{error:?}");
        session.close(&deadline);
        peer.done();
    }

    /// Each query is bounded by its own deadline, not the one the session was opened with
    /// (the lock of migrate-then-exec lives far longer than its connect deadline).
    #[test]
    fn a_query_is_bounded_by_its_own_deadline() {
        let (session, peer) = logged_in(vec![
            Step::Expect(b'Q', b"select pg_sleep(9)\0".to_vec()),
            Step::ExpectEof,
        ]);
        let started = std::time::Instant::now();
        let deadline = Deadline::start(Duration::from_millis(300));
        let error = session
            .first_value("select pg_sleep(9)", &deadline)
            .unwrap_err();
        assert!(error.detail.starts_with("timed out after"), "{error:?}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "took {:?}",
            started.elapsed()
        );
        drop(session);
        peer.done();
        // A deadline already gone: the query is not sent, and the session is intact (it
        // still ends with Terminate).
        let (session, peer) = logged_in(vec![Step::Expect(b'X', Vec::new())]);
        let gone = Deadline::start(Duration::ZERO);
        let error = session.first_value("select 1", &gone).unwrap_err();
        assert!(error.detail.starts_with("timed out after"), "{error:?}");
        drop(session);
        peer.done();
    }
}
