//! RESP2 replies read from a buffer the caller fills: the pure core of the Redis wire
//! (`wire.rs` fills it from the socket, bounded by the deadline; the fuzz target and
//! `src/props.rs` fill it from bytes).

use crate::outcome::Outcome;

/// Longest line (status, error, number) and largest bulk string accepted; INFO replication
/// and ROLE replies are far smaller.
const MAX_LINE: usize = 64 * 1024;
const MAX_BULK: usize = 1024 * 1024;
const MAX_ITEMS: usize = 4096;
const MAX_DEPTH: usize = 4;
/// The budget of one whole reply, nested arrays included: each element costs its size in
/// memory plus its payload. 4096 arrays of 4096 integers would otherwise be 542 MiB.
const MAX_REPLY: usize = 2 * 1024 * 1024;

/// A RESP2 reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Status(String),
    Error(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// A bulk or status reply as text.
    pub fn text(&self) -> Option<String> {
        match self {
            Reply::Status(text) => Some(text.clone()),
            Reply::Bulk(Some(bytes)) => Some(String::from_utf8_lossy(bytes).into_owned()),
            Reply::Integer(number) => Some(number.to_string()),
            _ => None,
        }
    }
}

/// Appends what the peer sent next to the buffer (an error ends the reply).
pub type Source<'s> = dyn FnMut(&mut Vec<u8>) -> Result<(), Outcome> + 's;

/// The read buffer of one connection and the budget of the reply being read.
pub struct Reader {
    buffer: Vec<u8>,
    start: usize,
    /// What the reply being read may still cost (see [`MAX_REPLY`]).
    budget: usize,
}

impl Reader {
    pub fn new() -> Reader {
        Reader {
            buffer: Vec::with_capacity(512),
            start: 0,
            budget: MAX_REPLY,
        }
    }

    /// Reads one whole reply, asking `source` for more bytes as needed.
    pub fn reply(&mut self, phase: Phase, source: &mut Source) -> Result<Reply, Outcome> {
        self.budget = MAX_REPLY;
        self.read_reply(0, source, phase)
    }

    /// Charges `cost` bytes to the reply being read.
    fn charge(&mut self, cost: usize, phase: Phase) -> Result<(), Outcome> {
        match self.budget.checked_sub(cost) {
            Some(left) => {
                self.budget = left;
                Ok(())
            }
            None => Err(phase.too_large()),
        }
    }

    /// Reads more bytes into the buffer.
    fn fill(&mut self, source: &mut Source) -> Result<(), Outcome> {
        if self.start > 0 {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        source(&mut self.buffer)
    }

    /// One line without its CRLF.
    fn line(&mut self, source: &mut Source, phase: Phase) -> Result<Vec<u8>, Outcome> {
        loop {
            if let Some(at) = find_crlf(&self.buffer[self.start..]) {
                let line = self.buffer[self.start..self.start + at].to_vec();
                self.start += at + 2;
                return Ok(line);
            }
            if self.buffer.len() - self.start > MAX_LINE {
                return Err(phase.garbage(&self.buffer[self.start..]));
            }
            self.fill(source)?;
        }
    }

    fn read_reply(
        &mut self,
        depth: usize,
        source: &mut Source,
        phase: Phase,
    ) -> Result<Reply, Outcome> {
        // Look at the first byte as soon as it arrives: a peer that is not Redis (an HTTP
        // server, a TLS port) is named at once instead of waiting for a CRLF.
        while self.buffer.len() == self.start {
            self.fill(source)?;
        }
        if !matches!(self.buffer[self.start], b'+' | b'-' | b':' | b'$' | b'*') {
            return Err(phase.garbage(&self.buffer[self.start..]));
        }
        let line = self.line(source, phase)?;
        self.charge(std::mem::size_of::<Reply>() + line.len(), phase)?;
        let (kind, rest) = (line[0], &line[1..]);
        let text = || String::from_utf8_lossy(rest).into_owned();
        let number = || {
            std::str::from_utf8(rest)
                .ok()
                .and_then(|digits| digits.parse::<i64>().ok())
                .ok_or_else(|| phase.garbage(&line))
        };
        Ok(match kind {
            b'+' => Reply::Status(text()),
            b'-' => Reply::Error(text()),
            b':' => Reply::Integer(number()?),
            b'$' => match number()? {
                -1 => Reply::Bulk(None),
                length if (0..=MAX_BULK as i64).contains(&length) => {
                    let length = length as usize;
                    self.charge(length, phase)?;
                    while self.buffer.len() - self.start < length + 2 {
                        self.fill(source)?;
                    }
                    let body = self.buffer[self.start..self.start + length].to_vec();
                    if &self.buffer[self.start + length..self.start + length + 2] != b"\r\n" {
                        return Err(phase.garbage(&line));
                    }
                    self.start += length + 2;
                    Reply::Bulk(Some(body))
                }
                _ => return Err(phase.garbage(&line)),
            },
            _ => match number()? {
                -1 => Reply::Array(None),
                count if depth < MAX_DEPTH && (0..=MAX_ITEMS as i64).contains(&count) => {
                    self.charge(count as usize * std::mem::size_of::<Reply>(), phase)?;
                    let mut items = Vec::with_capacity(count as usize);
                    for _ in 0..count {
                        items.push(self.read_reply(depth + 1, source, phase)?);
                    }
                    Reply::Array(Some(items))
                }
                _ => return Err(phase.garbage(&line)),
            },
        })
    }
}

/// (For the fuzz target and `src/props.rs`.) The replies in `bytes`, fed `chunk` bytes at a time, until the first error (which
/// ends the list) or the end of the input ("connection closed").
#[cfg(any(test, fuzzing))]
pub fn replies(bytes: &[u8], chunk: usize, name: &str) -> Vec<Result<Reply, Outcome>> {
    let mut reader = Reader::new();
    let mut pieces = bytes.chunks(chunk.max(1));
    let mut out = Vec::new();
    loop {
        let reply = reader.reply(Phase(name), &mut |buffer| match pieces.next() {
            Some(piece) => {
                buffer.extend_from_slice(piece);
                Ok(())
            }
            None => Err(Outcome::unhealthy("connection closed by the server")),
        });
        let failed = reply.is_err();
        out.push(reply);
        if failed {
            return out;
        }
    }
}

fn find_crlf(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|pair| pair == b"\r\n")
}

/// The command whose reply is awaited, for reasons.
#[derive(Clone, Copy)]
pub struct Phase<'a>(pub &'a str);

impl Phase<'_> {
    pub fn waiting(self) -> String {
        format!("waiting for the reply to {}", self.0)
    }

    pub fn during(self) -> String {
        format!("before the reply to {}", self.0)
    }

    fn too_large(self) -> Outcome {
        Outcome::unhealthy(format!(
            "the reply to {} is larger than {} MiB, the most probe reads",
            self.0,
            MAX_REPLY >> 20
        ))
    }

    /// The peer sent something that is not RESP: quote the start of it.
    fn garbage(self, bytes: &[u8]) -> Outcome {
        let shown: String = String::from_utf8_lossy(&bytes[..bytes.len().min(40)])
            .chars()
            .take_while(|c| *c != '\r' && *c != '\n')
            .collect();
        Outcome::unhealthy(format!(
            "not a Redis reply to {}: {shown:?} (is this a Redis port?)",
            self.0
        ))
    }
}
