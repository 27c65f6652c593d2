//! MongoDB's message framing: the 16-byte header, OP_MSG (every server since 3.6) and the
//! legacy OP_QUERY/OP_REPLY pair, used only for `isMaster` on servers that close the
//! connection on an OP_MSG. Pure functions over bytes (std and [`super::bson`] only),
//! fuzzed with the BSON reader by `fuzz/fuzz_targets/bson.rs`.

use super::bson::{self, Doc};

/// Replies longer than this are refused: a `hello` or `ping` reply is under a kilobyte,
/// a `hello` from a 50-member replica set a few kilobytes.
pub const MAX_MESSAGE: usize = 1 << 20;

const HEADER: usize = 16;
const OP_REPLY: i32 = 1;
const OP_QUERY: i32 = 2004;
const OP_COMPRESSED: i32 = 2012;
const OP_MSG: i32 = 2013;
/// OP_MSG's flag bit: a CRC-32C follows the sections.
const CHECKSUM_PRESENT: u32 = 1;

fn header(out: &mut Vec<u8>, request_id: i32, op_code: i32) {
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&request_id.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&op_code.to_le_bytes());
}

fn finish(mut out: Vec<u8>) -> Vec<u8> {
    let length = out.len() as u32;
    out[..4].copy_from_slice(&length.to_le_bytes());
    out
}

/// An OP_MSG with `command` as its one body section (the command names its `$db`).
pub fn op_msg(request_id: i32, command: &Doc) -> Vec<u8> {
    let mut out = Vec::new();
    header(&mut out, request_id, OP_MSG);
    out.extend_from_slice(&0u32.to_le_bytes());
    out.push(0);
    out.extend_from_slice(&command.encode());
    finish(out)
}

/// A legacy OP_QUERY of `command` on `db.$cmd`, asking for one reply document.
pub fn op_query(request_id: i32, db: &str, command: &Doc) -> Vec<u8> {
    let mut out = Vec::new();
    header(&mut out, request_id, OP_QUERY);
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend(db.bytes().filter(|b| *b != 0));
    out.extend_from_slice(b".$cmd\0");
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&(-1i32).to_le_bytes());
    out.extend_from_slice(&command.encode());
    finish(out)
}

/// The length of the message starting `buffer` once its length is there (`None`: not
/// yet), checked against the header's size and `max` (at most [`MAX_MESSAGE`]).
pub fn message_len(buffer: &[u8], max: usize) -> Result<Option<usize>, String> {
    let Some(length) = bson::i32_at(buffer, 0) else {
        return Ok(None);
    };
    match usize::try_from(length) {
        Ok(length) if (HEADER + 5..=max.min(MAX_MESSAGE)).contains(&length) => Ok(Some(length)),
        _ if looks_like_text(buffer) => Err(format!(
            "not a MongoDB reply: {:?}",
            String::from_utf8_lossy(&buffer[..buffer.len().min(24)])
        )),
        Ok(length) if length > HEADER => Err(format!(
            "reply length {length} out of bounds (probe reads at most {} KiB)",
            max.min(MAX_MESSAGE) / 1024
        )),
        _ => Err(format!("reply length {length} out of bounds")),
    }
}

/// An HTTP, SSH or SMTP server's first bytes, shown as text in the reason.
fn looks_like_text(buffer: &[u8]) -> bool {
    buffer[..4]
        .iter()
        .all(|b| b.is_ascii_graphic() || *b == b' ')
}

/// The reply document of one whole message (`message` is exactly [`message_len`] long),
/// which must answer `request_id`.
pub fn reply(message: &[u8], request_id: i32) -> Result<Doc, String> {
    bson::decode(body(message, request_id)?)
}

/// The bytes of the reply document of one whole message, its framing checked (the
/// document itself only measured).
pub fn body(message: &[u8], request_id: i32) -> Result<&[u8], String> {
    if message.len() < HEADER {
        return Err("reply shorter than its header".into());
    }
    let response_to = bson::i32_at(message, 8).unwrap_or_default();
    let op_code = bson::i32_at(message, 12).unwrap_or_default();
    if response_to != request_id {
        return Err(format!(
            "reply to request {response_to}, expected {request_id}"
        ));
    }
    let body = &message[HEADER..];
    match op_code {
        OP_MSG => op_msg_body(body),
        OP_REPLY => op_reply_body(body),
        OP_COMPRESSED => Err("compressed reply (probe asks for none)".into()),
        other => Err(format!("reply with unknown opcode {other}")),
    }
}

/// OP_MSG's flags and sections: exactly one body (kind 0); document sequences (kind 1)
/// are skipped.
fn op_msg_body(body: &[u8]) -> Result<&[u8], String> {
    let flags = bson::i32_at(body, 0).ok_or("OP_MSG cut short")? as u32;
    let mut sections = &body[4..];
    if flags & CHECKSUM_PRESENT != 0 {
        let end = sections
            .len()
            .checked_sub(4)
            .ok_or("OP_MSG checksum cut short")?;
        sections = &sections[..end];
    }
    let mut found = None;
    while let Some((&kind, rest)) = sections.split_first() {
        match kind {
            0 => {
                let length = bson::doc_len(rest)?;
                if found.is_some() {
                    return Err("OP_MSG with two body sections".into());
                }
                found = Some(&rest[..length]);
                sections = &rest[length..];
            }
            1 => {
                let length = bson::i32_at(rest, 0)
                    .and_then(|length| usize::try_from(length).ok())
                    .filter(|length| (4..=rest.len()).contains(length))
                    .ok_or("OP_MSG document sequence length out of bounds")?;
                sections = &rest[length..];
            }
            other => return Err(format!("OP_MSG section of kind {other}")),
        }
    }
    found.ok_or_else(|| "OP_MSG without a body".into())
}

/// OP_REPLY: flags, cursor id, starting point, count, then the documents; the first is
/// the command's reply.
fn op_reply_body(body: &[u8]) -> Result<&[u8], String> {
    const FIXED: usize = 20;
    let flags = bson::i32_at(body, 0).ok_or("OP_REPLY cut short")?;
    if body.len() < FIXED {
        return Err("OP_REPLY cut short".into());
    }
    let doc = &body[FIXED..];
    let doc = &doc[..bson::doc_len(doc)?];
    // QueryFailure: the document is a `$err` document.
    if flags & 2 != 0 {
        let reply = bson::decode_top(doc, &["$err"])?;
        let reason = reply
            .get("$err")
            .and_then(bson::Value::text)
            .unwrap_or("query failure");
        return Err(format!("legacy query failed: {reason}"));
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::bson::Value;
    use super::*;

    fn ok_doc() -> Doc {
        Doc::new().with("ok", Value::Double(1.0))
    }

    /// The server's side: the same framing with `response_to` set.
    fn answer(op_code: i32, response_to: i32, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        header(&mut out, 99, op_code);
        out[8..12].copy_from_slice(&response_to.to_le_bytes());
        out.extend_from_slice(body);
        finish(out)
    }

    #[test]
    fn reads_op_msg_and_op_reply() {
        let mut body = 0u32.to_le_bytes().to_vec();
        body.push(0);
        body.extend_from_slice(&ok_doc().encode());
        let message = answer(OP_MSG, 7, &body);
        assert_eq!(
            message_len(&message, MAX_MESSAGE).unwrap(),
            Some(message.len())
        );
        assert_eq!(reply(&message, 7).unwrap(), ok_doc());
        assert!(reply(&message, 8).unwrap_err().contains("expected 8"));

        let mut legacy = vec![0; 20];
        legacy.extend_from_slice(&ok_doc().encode());
        assert_eq!(reply(&answer(OP_REPLY, 3, &legacy), 3).unwrap(), ok_doc());
    }

    #[test]
    fn requests_are_framed() {
        let hello = Doc::new()
            .with("hello", Value::Int32(1))
            .with("$db", Value::String("admin".into()));
        let message = op_msg(5, &hello);
        assert_eq!(bson::i32_at(&message, 0), Some(message.len() as i32));
        assert_eq!(bson::i32_at(&message, 12), Some(OP_MSG));
        assert_eq!(bson::decode(&message[21..]).unwrap(), hello);
        let query = op_query(6, "admin", &ok_doc());
        assert_eq!(&query[20..31], b"admin.$cmd\0");
    }

    #[test]
    fn refuses_what_is_not_a_reply() {
        assert!(message_len(b"HTTP/1.1 400", MAX_MESSAGE)
            .unwrap_err()
            .starts_with("not a MongoDB reply: \"HTTP"));
        assert!(message_len(b"\xff\xff\xff\x7f", MAX_MESSAGE).is_err());
        assert!(message_len(b"\x10\x00\x00\x00", MAX_MESSAGE).is_err());
        assert_eq!(message_len(b"\x10\x00", MAX_MESSAGE).unwrap(), None);
        let big = message_len(b"\x01\x00\x01\x00", 64 * 1024).unwrap_err();
        assert_eq!(
            big,
            "reply length 65537 out of bounds (probe reads at most 64 KiB)"
        );
        let message = answer(OP_MSG, 1, &[0, 0, 0, 0, 2]);
        assert!(reply(&message, 1).is_err());
    }
}
