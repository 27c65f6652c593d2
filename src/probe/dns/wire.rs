//! DNS messages (RFC 1035) as the dns check needs them: one query out, one reply in.
//!
//! Hand-written, not hickory-proto: that crate (0.25, `default-features = false`, `std`)
//! added 311 KB to the release binary for building a query and reading a reply, which
//! probe's 2.5 MB budget cannot take; this file adds a few KB. `dig` is its referee in the
//! tests (the answers of both are compared for the same server) and `fuzz/fuzz_targets/dns.rs`
//! feeds [`parse`] any bytes.
//!
//! A reply is trusted only when it is the answer to our question: same ID, QR set, opcode
//! QUERY, and the question echoed (name compared case-insensitively, type and class).
//! Only the answer section is read. Names are decoded with compression pointers that must
//! point strictly before the place they were jumped from, so a pointer loop is impossible
//! and every name costs at most 255 bytes and 127 jumps. Every read is checked against the
//! message's end and every record's data against its RDLENGTH.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const TYPE_A: u16 = 1;
pub const TYPE_NS: u16 = 2;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_MX: u16 = 15;
pub const TYPE_TXT: u16 = 16;
pub const TYPE_AAAA: u16 = 28;
pub const TYPE_SRV: u16 = 33;
pub const CLASS_IN: u16 = 1;

pub const NOERROR: u8 = 0;
pub const NXDOMAIN: u8 = 3;

/// A reply's records, decoded. `Other` is a record of a type or class probe does not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Data {
    Ip(IpAddr),
    /// CNAME and NS: the name, in presentation form without the trailing dot.
    Name(String),
    Mx {
        preference: u16,
        exchange: String,
    },
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: String,
    },
    /// The character-strings of a TXT record joined with nothing between them (how SPF
    /// and DKIM records are read).
    Txt(Vec<u8>),
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub rtype: u16,
    pub data: Data,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub truncated: bool,
    pub rcode: u8,
    pub answers: Vec<Record>,
}

impl Reply {
    /// The records of type `rtype` in the answer (a CNAME chain before them is skipped, as
    /// getaddrinfo does).
    pub fn of_type(&self, rtype: u16) -> impl Iterator<Item = &Data> {
        self.answers
            .iter()
            .filter(move |record| record.rtype == rtype && record.data != Data::Other)
            .map(|record| &record.data)
    }
}

/// The RCODE's mnemonic (RFC 6895), as dig prints it.
pub fn rcode_name(rcode: u8) -> String {
    match rcode {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        other => format!("RCODE {other}"),
    }
}

/// A standard query with recursion desired and no EDNS0 (as musl asks): a server keeps its
/// UDP reply within 512 bytes (RFC 1035 4.2.1) and sets TC on a longer one, which is then
/// asked again over TCP. For `name` (already validated: ASCII labels of
/// 1-63 bytes, at most 253 bytes; a trailing dot is ignored).
pub fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(18 + name.len());
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        out.push(label.len().min(63) as u8);
        out.extend_from_slice(&label.as_bytes()[..label.len().min(63)]);
    }
    out.push(0);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out
}

/// Reads the reply to the query `(id, name, qtype)`. `Err` says why the bytes are not that
/// reply (over UDP such a datagram is dropped and the wait goes on).
pub fn parse(message: &[u8], id: u16, name: &str, qtype: u16) -> Result<Reply, &'static str> {
    let header = message.get(..12).ok_or("shorter than a DNS header")?;
    if u16::from_be_bytes([header[0], header[1]]) != id {
        return Err("a reply with another ID");
    }
    if header[2] & 0x80 == 0 {
        return Err("not a reply (QR bit clear)");
    }
    if header[2] & 0x78 != 0 {
        return Err("not a reply to a standard query");
    }
    let truncated = header[2] & 0x02 != 0;
    let rcode = header[3] & 0x0f;
    let count = |at: usize| u16::from_be_bytes([header[at], header[at + 1]]);
    let mut at = 12;
    match count(4) {
        // A server that cannot parse a query may leave the question out of its error.
        0 if rcode != NOERROR && rcode != NXDOMAIN => {}
        1 => {
            let (qname, end) = read_name(message, at)?;
            let fixed = message.get(end..end + 4).ok_or("truncated question")?;
            let echoed = qname.eq_ignore_ascii_case(name.trim_end_matches('.'))
                || (qname == "." && name.trim_end_matches('.').is_empty());
            if !echoed
                || u16::from_be_bytes([fixed[0], fixed[1]]) != qtype
                || u16::from_be_bytes([fixed[2], fixed[3]]) != CLASS_IN
            {
                return Err("a reply to another question");
            }
            at = end + 4;
        }
        _ => return Err("a reply without our question"),
    }
    let mut answers = Vec::new();
    for _ in 0..count(6) {
        let (_, end) = read_name(message, at)?;
        let fixed = message.get(end..end + 10).ok_or("truncated record")?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let class = u16::from_be_bytes([fixed[2], fixed[3]]);
        let length = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        let start = end + 10;
        let rdata = message
            .get(start..start + length)
            .ok_or("truncated record data")?;
        let data = match class {
            CLASS_IN => decode(message, start, rdata, rtype)?,
            _ => Data::Other,
        };
        answers.push(Record { rtype, data });
        at = start + length;
    }
    Ok(Reply {
        truncated,
        rcode,
        answers,
    })
}

fn decode(message: &[u8], start: usize, rdata: &[u8], rtype: u16) -> Result<Data, &'static str> {
    let end = start + rdata.len();
    // A name inside record data must end exactly where the data ends.
    let name_at = |offset: usize| -> Result<String, &'static str> {
        match read_name(message, start + offset)? {
            (name, stop) if stop == end => Ok(name),
            _ => Err("record data length mismatch"),
        }
    };
    let u16_at = |offset: usize| u16::from_be_bytes([rdata[offset], rdata[offset + 1]]);
    Ok(match rtype {
        TYPE_A => match <[u8; 4]>::try_from(rdata) {
            Ok(octets) => Data::Ip(IpAddr::V4(Ipv4Addr::from(octets))),
            Err(_) => return Err("an A record that is not 4 bytes"),
        },
        TYPE_AAAA => match <[u8; 16]>::try_from(rdata) {
            Ok(octets) => Data::Ip(IpAddr::V6(Ipv6Addr::from(octets))),
            Err(_) => return Err("an AAAA record that is not 16 bytes"),
        },
        TYPE_CNAME | TYPE_NS => Data::Name(name_at(0)?),
        TYPE_MX if rdata.len() > 2 => Data::Mx {
            preference: u16_at(0),
            exchange: name_at(2)?,
        },
        TYPE_SRV if rdata.len() > 6 => Data::Srv {
            priority: u16_at(0),
            weight: u16_at(2),
            port: u16_at(4),
            target: name_at(6)?,
        },
        TYPE_MX | TYPE_SRV => return Err("record data too short"),
        TYPE_TXT => {
            let mut text = Vec::with_capacity(rdata.len());
            let mut rest = rdata;
            while let Some((&length, tail)) = rest.split_first() {
                let piece = tail
                    .get(..usize::from(length))
                    .ok_or("record data length mismatch")?;
                text.extend_from_slice(piece);
                rest = &tail[piece.len()..];
            }
            Data::Txt(text)
        }
        _ => Data::Other,
    })
}

/// The name at `at`, in presentation form (dig's escapes, no trailing dot; the root is
/// "."), and where the name ends in the message (after its first pointer, if any).
pub fn read_name(message: &[u8], at: usize) -> Result<(String, usize), &'static str> {
    const TRUNCATED: &str = "truncated name";
    let mut text = String::new();
    let mut position = at;
    // Each pointer must point before the start of the run of labels it ends.
    let mut run_start = at;
    let mut end = None;
    let mut wire_length = 1;
    let mut jumps = 0;
    loop {
        let length = usize::from(*message.get(position).ok_or(TRUNCATED)?);
        match length & 0xc0 {
            0x00 if length == 0 => break,
            0x00 => {
                let label = message
                    .get(position + 1..position + 1 + length)
                    .ok_or(TRUNCATED)?;
                wire_length += length + 1;
                if wire_length > 255 {
                    return Err("a name longer than 255 bytes");
                }
                if !text.is_empty() {
                    text.push('.');
                }
                escape_label(label, &mut text);
                position += 1 + length;
            }
            0xc0 => {
                let low = usize::from(*message.get(position + 1).ok_or(TRUNCATED)?);
                let target = (length & 0x3f) << 8 | low;
                jumps += 1;
                if target >= run_start || jumps > 127 {
                    return Err("a compression pointer loop");
                }
                end.get_or_insert(position + 2);
                run_start = target;
                position = target;
            }
            _ => return Err("an unknown label type"),
        }
    }
    if text.is_empty() {
        text.push('.');
    }
    Ok((text, end.unwrap_or(position + 1)))
}

/// dig's presentation form: `.` and the characters special in zone files escaped with `\`,
/// other bytes outside printable ASCII as `\DDD`. Keeps a reason on one line whatever a
/// server puts in a label.
fn escape_label(label: &[u8], out: &mut String) {
    for &byte in label {
        match byte {
            b'.' | b';' | b'\\' | b'(' | b')' | b'"' | b'@' | b'$' => {
                out.push('\\');
                out.push(char::from(byte));
            }
            0x21..=0x7e => out.push(char::from(byte)),
            _ => {
                out.push('\\');
                for digit in [byte / 100, byte / 10 % 10, byte % 10] {
                    out.push(char::from(b'0' + digit));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(question: &[u8], answers: &[u8], ancount: u16, flags: [u8; 2]) -> Vec<u8> {
        let mut out = vec![0x12, 0x34, flags[0], flags[1], 0, 1];
        out.extend_from_slice(&ancount.to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(question);
        out.extend_from_slice(answers);
        out
    }

    const QUESTION: &[u8] = b"\x03api\x07example\x00\x00\x01\x00\x01";

    #[test]
    fn queries_are_rfc_1035() {
        assert_eq!(
            query(0x1234, "api.example.", TYPE_A),
            b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03api\x07example\x00\x00\x01\x00\x01"
        );
    }

    #[test]
    fn reads_compressed_answers() {
        // CNAME api.example -> web.example (pointer into the question), then A of it.
        let answers = b"\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x06\x03web\xc0\x10\
                        \xc0\x29\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x0a\x00\x00\x05";
        let message = reply(QUESTION, answers, 2, [0x81, 0x80]);
        let parsed = parse(&message, 0x1234, "API.example", TYPE_A).unwrap();
        assert_eq!(parsed.rcode, NOERROR);
        assert_eq!(
            parsed.answers[0].data,
            Data::Name("web.example".into()),
            "{parsed:?}"
        );
        let ips: Vec<_> = parsed.of_type(TYPE_A).collect();
        assert_eq!(ips, [&Data::Ip("10.0.0.5".parse().unwrap())]);
    }

    #[test]
    fn refuses_what_is_not_our_reply() {
        let message = reply(QUESTION, b"", 0, [0x81, 0x83]);
        assert_eq!(
            parse(&message, 0x1234, "api.example", TYPE_A)
                .unwrap()
                .rcode,
            3
        );
        assert!(parse(&message, 0x1235, "api.example", TYPE_A).is_err());
        assert!(parse(&message, 0x1234, "web.example", TYPE_A).is_err());
        assert!(parse(&message, 0x1234, "api.example", TYPE_MX).is_err());
        let query = reply(QUESTION, b"", 0, [0x01, 0x00]);
        assert!(parse(&query, 0x1234, "api.example", TYPE_A).is_err());
        for cut in 0..message.len() {
            assert!(parse(&message[..cut], 0x1234, "api.example", TYPE_A).is_err());
        }
    }

    #[test]
    fn pointer_loops_are_rejected() {
        // A pointer to itself, and two pointing at each other.
        for answers in [&b"\xc0\x1d"[..], b"\x01a\xc0\x1d"] {
            let mut tail = answers.to_vec();
            tail.extend_from_slice(b"\x00\x01\x00\x01\x00\x00\x00\x00\x00\x04\x01\x02\x03\x04");
            let message = reply(QUESTION, &tail, 1, [0x81, 0x80]);
            assert_eq!(
                parse(&message, 0x1234, "api.example", TYPE_A),
                Err("a compression pointer loop")
            );
        }
        let forward = b"\x00\x00\xc0\x04\x01a\x00";
        assert!(read_name(forward, 2).is_err());
        assert_eq!(read_name(forward, 4).unwrap(), ("a".into(), 7));
    }

    #[test]
    fn odd_bytes_in_labels_stay_on_one_line() {
        let (name, _) = read_name(b"\x04a.\n\xff\x00", 0).unwrap();
        assert_eq!(name, "a\\.\\010\\255");
    }

    #[test]
    fn txt_strings_are_joined_and_bounded() {
        let txt_question = b"\x03api\x07example\x00\x00\x10\x00\x01";
        let answers = b"\xc0\x0c\x00\x10\x00\x01\x00\x00\x00\x3c\x00\x07\x02ab\x03cde";
        let message = reply(txt_question, answers, 1, [0x81, 0x80]);
        let parsed = parse(&message, 0x1234, "api.example", TYPE_TXT).unwrap();
        assert_eq!(parsed.answers[0].data, Data::Txt(b"abcde".to_vec()));
        let overlong = b"\xc0\x0c\x00\x10\x00\x01\x00\x00\x00\x3c\x00\x03\x05ab";
        let message = reply(txt_question, overlong, 1, [0x81, 0x80]);
        assert!(parse(&message, 0x1234, "api.example", TYPE_TXT).is_err());
    }
}
