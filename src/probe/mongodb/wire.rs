//! The one place `probe mongodb` touches the socket: a request out, its reply in, every
//! read and write bounded by the check's deadline and every reply by a byte limit.

use super::bson::Doc;
use super::frame;
use crate::deadline::Deadline;
use crate::outcome::Outcome;
use crate::stream::{MessageStream, Stream};

/// Longest reply to `hello`, the login and `ping`: a `hello` from a 50-member replica set
/// is a few KiB. Their replies are read into a tree (a value costs tens of bytes), so
/// this also bounds what a reply of tiny values can cost.
pub const MAX_REPLY: usize = 64 * 1024;

/// An open connection: its messages, and the ID of the last request.
pub struct Wire {
    /// `closed` says whether the server closed it (for the fallback to OP_QUERY).
    pub link: MessageStream,
    next_id: i32,
}

impl Wire {
    pub fn new(stream: Stream) -> Wire {
        Wire {
            link: MessageStream::new(stream, "server"),
            next_id: 1,
        }
    }

    /// Sends `command` as an OP_MSG and reads its reply. `name` says what it was in
    /// reasons; it never holds a command's arguments, so no password leaks through it.
    pub fn call(&mut self, command: &Doc, name: &str, deadline: &Deadline) -> Result<Doc, Outcome> {
        let id = self.id();
        let message = self.exchange(&frame::op_msg(id, command), name, deadline, MAX_REPLY)?;
        frame::reply(&message, id).map_err(|why| malformed(name, why))
    }

    /// Sends `command` as an OP_MSG and returns its whole reply message, up to `max`
    /// bytes, unread: for `--query`, whose reply is read without a tree
    /// ([`frame::body`], [`super::bson::to_json`]). Returns the request's ID too.
    pub fn call_raw(
        &mut self,
        command: &Doc,
        name: &str,
        deadline: &Deadline,
        max: usize,
    ) -> Result<(i32, Vec<u8>), Outcome> {
        let id = self.id();
        let message = self.exchange(&frame::op_msg(id, command), name, deadline, max)?;
        Ok((id, message))
    }

    /// Sends `command` as a legacy OP_QUERY on `admin.$cmd`.
    pub fn legacy(
        &mut self,
        command: &Doc,
        name: &str,
        deadline: &Deadline,
    ) -> Result<Doc, Outcome> {
        let id = self.id();
        let query = frame::op_query(id, "admin", command);
        let message = self.exchange(&query, name, deadline, MAX_REPLY)?;
        frame::reply(&message, id).map_err(|why| malformed(name, why))
    }

    fn id(&mut self) -> i32 {
        self.next_id = self.next_id.wrapping_add(1);
        self.next_id
    }

    /// Writes `message` and reads one whole reply message of at most `max` bytes.
    fn exchange(
        &mut self,
        message: &[u8],
        name: &str,
        deadline: &Deadline,
        max: usize,
    ) -> Result<Vec<u8>, Outcome> {
        self.link.exchange(message, name, deadline, |received| {
            frame::message_len(received, max).map_err(|why| malformed(name, why))
        })
    }
}

/// A reply that is not what the protocol allows, named after the request.
pub fn malformed(name: &str, why: String) -> Outcome {
    Outcome::unhealthy(format!("{name}: {why}"))
}
