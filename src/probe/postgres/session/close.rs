//! Closing a session: Terminate, TLS close_notify, then FIN, and a short wait for the
//! server to hang up too, reading what is left first, so that the server logs nothing (no
//! "unexpected EOF", no "connection reset by peer") and keeps no backend around. Dropping
//! a session does the same within a grace, so no path leaks a connection.
//!
//! Apart because every phase ends here, the failed ones too (a broken connection sends
//! nothing more, only the hang-up).

use std::io::Write;
use std::sync::PoisonError;
use std::time::Duration;

use super::message::terminate_message;
use super::{Conn, Session};
use crate::deadline::Deadline;

/// How long closing may take when a session is dropped without [`Session::close`].
const CLOSE_GRACE: Duration = Duration::from_millis(250);

impl Session {
    /// Sends Terminate and waits (within the deadline) for the connection to end.
    pub fn close(self, deadline: &Deadline) {
        let grace = deadline
            .remaining()
            .unwrap_or(Duration::from_millis(1))
            .min(CLOSE_GRACE);
        self.shut(grace);
    }

    fn shut(&self, grace: Duration) {
        let conn = self
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(conn) = conn {
            conn.finish(grace);
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.shut(CLOSE_GRACE);
    }
}

impl Conn {
    /// Terminate (unless the connection is broken), TLS close_notify, then FIN, and waits
    /// up to `grace` for the server to hang up too, so that nothing ends with a reset.
    pub(super) fn finish(mut self, grace: Duration) {
        let grace = grace.max(Duration::from_millis(1));
        self.stream.set_deadline(Deadline::start(grace));
        if !self.broken {
            let _ = self.stream.write_all(&terminate_message());
        }
        self.stream.close(!self.broken);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    /// A session closed while a notice it never read waits in the socket: read first,
    /// so the close is a FIN, not the reset Linux sends for unread data (servers log
    /// resets as "connection reset by peer").
    #[test]
    fn closing_reads_what_is_left_so_the_server_sees_no_reset() {
        let (session, peer) = logged_in(vec![
            Step::Pause(Duration::from_millis(100)),
            backend(b'N', b"SNOTICE\0Mnot read\0\0"),
            Step::Expect(b'X', Vec::new()),
            Step::ExpectEof,
        ]);
        // Long enough for the notice to arrive, even on a loaded machine.
        std::thread::sleep(Duration::from_secs(1));
        session.close(&Deadline::start(Duration::from_secs(5)));
        peer.done();
    }
}
