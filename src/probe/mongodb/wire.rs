//! The one place `probe mongodb` touches the socket: a request out, its reply in, every
//! read and write bounded by the check's deadline and every reply by a byte limit.

use std::io::{self, Write};

use super::bson::Doc;
use super::frame;
use crate::deadline::Deadline;
use crate::outcome::Outcome;
use crate::stream::Stream;

/// Longest reply to `hello`, the login and `ping`: a `hello` from a 50-member replica set
/// is a few KiB. Their replies are read into a tree (a value costs tens of bytes), so
/// this also bounds what a reply of tiny values can cost.
pub const MAX_REPLY: usize = 64 * 1024;

/// An open connection with its read buffer.
pub struct Wire {
    pub stream: Stream,
    buffer: Vec<u8>,
    next_id: i32,
    /// The server closed the connection (for the fallback to OP_QUERY).
    pub closed: bool,
}

impl Wire {
    pub fn new(stream: Stream) -> Wire {
        Wire {
            stream,
            buffer: Vec::new(),
            next_id: 1,
            closed: false,
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
        self.arm(name, deadline)?;
        self.stream
            .write_all(message)
            .and_then(|()| self.stream.flush())
            .map_err(|error| self.failure(error, name, deadline))?;
        loop {
            let length =
                frame::message_len(&self.buffer, max).map_err(|why| malformed(name, why))?;
            if let Some(length) = length.filter(|length| self.buffer.len() >= *length) {
                let rest = self.buffer.split_off(length);
                return Ok(std::mem::replace(&mut self.buffer, rest));
            }
            self.arm(name, deadline)?;
            self.stream
                .read_message_part(&mut self.buffer, length)
                .map_err(|error| self.failure(error, name, deadline))?;
        }
    }

    fn arm(&mut self, name: &str, deadline: &Deadline) -> Result<(), Outcome> {
        self.stream.arm_for(name, deadline)
    }

    fn failure(&mut self, error: io::Error, name: &str, deadline: &Deadline) -> Outcome {
        let (outcome, closed) = crate::stream::reply_failure(error, "server", name, deadline);
        self.closed |= closed;
        outcome
    }
}

/// A reply that is not what the protocol allows, named after the request.
pub fn malformed(name: &str, why: String) -> Outcome {
    Outcome::unhealthy(format!("{name}: {why}"))
}
