//! AMQP 0-9-1 framing and the few connection-class methods a health check needs, as pure
//! functions over bytes: no sockets here, so every parser can be fed arbitrary input.
//!
//! Only what `probe amqp` speaks is decoded: Connection.Start, Secure, Tune, OpenOk, Close,
//! CloseOk, Blocked and Unblocked, Channel.OpenOk and Channel.Close. Every other method is
//! reported by its class and method ids. Field tables are parsed with bounds on every length
//! and a nesting limit; a frame larger than the caller's limit is an error before its
//! payload is buffered.

/// What a client sends first: "AMQP", 0, then protocol version 0-9-1.
pub const PROTOCOL_HEADER: [u8; 8] = *b"AMQP\x00\x00\x09\x01";

pub const FRAME_METHOD: u8 = 1;
pub const FRAME_HEADER: u8 = 2;
pub const FRAME_BODY: u8 = 3;
pub const FRAME_HEARTBEAT: u8 = 8;
const FRAME_END: u8 = 0xCE;

/// The largest frame probe asks for in Tune-Ok, and accepts at any time: RabbitMQ's default
/// frame-max. The spec's minimum, 4096, applies before Tune; servers keep to it.
pub const MAX_FRAME: u32 = 128 * 1024;

/// Field tables nest (capabilities inside server properties); deeper is garbage.
const MAX_DEPTH: usize = 8;

/// A problem with the bytes the peer sent, as a short reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireError(pub String);

fn error<T>(reason: impl Into<String>) -> Result<T, WireError> {
    Err(WireError(reason.into()))
}

/// What the start of a read buffer holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// The server's own protocol header: it does not speak 0-9-1. The four bytes after
    /// "AMQP" (e.g. 0, 0, 9, 1 or 1, 1, 0, 10 for AMQP 1.0).
    ProtocolHeader([u8; 4]),
    Frame(Frame<'a>),
}

#[derive(Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    pub kind: u8,
    pub channel: u16,
    pub payload: &'a [u8],
}

/// Parses the first frame (or protocol header) of `bytes`: `Ok(None)` when more bytes are
/// needed, else what was found and how many bytes it used. `max_frame` bounds the payload.
pub fn parse(bytes: &[u8], max_frame: u32) -> Result<Option<(Incoming<'_>, usize)>, WireError> {
    if bytes.first() == Some(&b'A') {
        let shown = &bytes[..bytes.len().min(4)];
        if !b"AMQP".starts_with(shown) {
            return error(format!("not an AMQP frame: {}", quote(bytes)));
        }
        return Ok(bytes.get(4..8).map(|version| {
            let version = [version[0], version[1], version[2], version[3]];
            (Incoming::ProtocolHeader(version), 8)
        }));
    }
    let Some(head) = bytes.get(..7) else {
        return match bytes.first() {
            Some(kind) if !known_kind(*kind) => {
                error(format!("not an AMQP frame: {}", quote(bytes)))
            }
            _ => Ok(None),
        };
    };
    let kind = head[0];
    if !known_kind(kind) {
        return error(format!("not an AMQP frame: {}", quote(bytes)));
    }
    let channel = u16::from_be_bytes([head[1], head[2]]);
    let size = u32::from_be_bytes([head[3], head[4], head[5], head[6]]);
    if size > max_frame {
        return error(format!(
            "frame of {size} bytes is larger than the limit of {max_frame}"
        ));
    }
    let end = 7 + size as usize;
    let Some(&terminator) = bytes.get(end) else {
        return Ok(None);
    };
    if terminator != FRAME_END {
        return error("frame does not end with 0xCE (not AMQP 0-9-1?)");
    }
    let payload = &bytes[7..end];
    Ok(Some((
        Incoming::Frame(Frame {
            kind,
            channel,
            payload,
        }),
        end + 1,
    )))
}

fn known_kind(kind: u8) -> bool {
    matches!(
        kind,
        FRAME_METHOD | FRAME_HEADER | FRAME_BODY | FRAME_HEARTBEAT
    )
}

/// The first bytes of what the peer sent, for a reason: printable text quoted, else hex.
pub fn quote(bytes: &[u8]) -> String {
    let start = &bytes[..bytes.len().min(24)];
    if start
        .iter()
        .all(|byte| byte.is_ascii_graphic() || *byte == b' ' || *byte == b'\r' || *byte == b'\n')
    {
        let text: String = String::from_utf8_lossy(start)
            .chars()
            .take_while(|c| *c != '\r' && *c != '\n')
            .collect();
        format!("{text:?}")
    } else {
        let hex: Vec<String> = start.iter().map(|byte| format!("{byte:02x}")).collect();
        hex.join(" ")
    }
}

/// A field-table value, as far as probe needs to tell them apart.
#[derive(Clone, Debug, PartialEq)]
pub enum Field {
    Bool(bool),
    Int(i64),
    Text(String),
    Table(Table),
    Array(Vec<Field>),
    /// Floats, decimals, timestamps, void and byte arrays: parsed past, not kept.
    Other,
}

/// A field table: names and values in the order sent.
pub type Table = Vec<(String, Field)>;

/// Looks a name up in a table.
pub fn lookup<'t>(table: &'t Table, name: &str) -> Option<&'t Field> {
    table
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

/// The methods probe tells apart.
#[derive(Debug, PartialEq)]
pub enum Method {
    Start {
        major: u8,
        minor: u8,
        properties: Table,
        mechanisms: String,
    },
    Secure,
    Tune {
        channel_max: u16,
        frame_max: u32,
        heartbeat: u16,
    },
    OpenOk,
    Close(Close),
    CloseOk,
    Blocked {
        reason: String,
    },
    Unblocked,
    ChannelOpenOk,
    ChannelClose(Close),
    Other {
        class: u16,
        method: u16,
    },
}

impl Method {
    /// The method's name, for reasons.
    pub fn name(&self) -> String {
        match self {
            Method::Start { .. } => "Connection.Start".into(),
            Method::Secure => "Connection.Secure".into(),
            Method::Tune { .. } => "Connection.Tune".into(),
            Method::OpenOk => "Connection.Open-Ok".into(),
            Method::Close(_) => "Connection.Close".into(),
            Method::CloseOk => "Connection.Close-Ok".into(),
            Method::Blocked { .. } => "Connection.Blocked".into(),
            Method::Unblocked => "Connection.Unblocked".into(),
            Method::ChannelOpenOk => "Channel.Open-Ok".into(),
            Method::ChannelClose(_) => "Channel.Close".into(),
            Method::Other { class, method } => format!("method {class}.{method}"),
        }
    }
}

/// Connection.Close or Channel.Close: why the server ends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Close {
    pub code: u16,
    pub text: String,
    pub class: u16,
    pub method: u16,
}

/// Decodes the payload of a method frame.
pub fn method(payload: &[u8]) -> Result<Method, WireError> {
    let mut at = Cursor { bytes: payload };
    let class = at.u16()?;
    let id = at.u16()?;
    Ok(match (class, id) {
        (10, 10) => Method::Start {
            major: at.u8()?,
            minor: at.u8()?,
            properties: at.table(0)?,
            mechanisms: String::from_utf8_lossy(at.long()?).into_owned(),
        },
        (10, 20) => Method::Secure,
        (10, 30) => Method::Tune {
            channel_max: at.u16()?,
            frame_max: at.u32()?,
            heartbeat: at.u16()?,
        },
        (10, 41) => Method::OpenOk,
        (10, 50) => Method::Close(at.close()?),
        (10, 51) => Method::CloseOk,
        (10, 60) => Method::Blocked {
            // Older servers send Blocked without a reason.
            reason: if at.bytes.is_empty() {
                String::new()
            } else {
                at.short()?
            },
        },
        (10, 61) => Method::Unblocked,
        (20, 11) => Method::ChannelOpenOk,
        (20, 40) => Method::ChannelClose(at.close()?),
        (class, method) => Method::Other { class, method },
    })
}

/// A reader over a payload that never reads past its end.
struct Cursor<'a> {
    bytes: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if n > self.bytes.len() {
            return error("truncated method arguments");
        }
        let (taken, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(taken)
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, WireError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn i64(&mut self) -> Result<i64, WireError> {
        let b = self.take(8)?;
        let mut array = [0u8; 8];
        array.copy_from_slice(b);
        Ok(i64::from_be_bytes(array))
    }

    fn short(&mut self) -> Result<String, WireError> {
        let length = self.u8()? as usize;
        Ok(String::from_utf8_lossy(self.take(length)?).into_owned())
    }

    fn long(&mut self) -> Result<&'a [u8], WireError> {
        let length = self.u32()? as usize;
        self.take(length)
    }

    fn close(&mut self) -> Result<Close, WireError> {
        Ok(Close {
            code: self.u16()?,
            text: self.short()?,
            class: self.u16()?,
            method: self.u16()?,
        })
    }

    fn table(&mut self, depth: usize) -> Result<Table, WireError> {
        if depth > MAX_DEPTH {
            return error("field tables nested too deeply");
        }
        let mut inner = Cursor {
            bytes: self.long()?,
        };
        let mut table = Vec::new();
        while !inner.bytes.is_empty() {
            let name = inner.short()?;
            let value = inner.field(depth)?;
            table.push((name, value));
        }
        Ok(table)
    }

    /// One typed value (RabbitMQ's type letters, which differ from the 0-9-1 spec's errata
    /// only where no server uses the spec's).
    fn field(&mut self, depth: usize) -> Result<Field, WireError> {
        Ok(match self.u8()? {
            b't' => Field::Bool(self.u8()? != 0),
            b'b' => Field::Int(self.u8()? as i8 as i64),
            b'B' => Field::Int(self.u8()? as i64),
            b's' => Field::Int(self.u16()? as i16 as i64),
            b'u' => Field::Int(self.u16()? as i64),
            b'I' => Field::Int(self.u32()? as i32 as i64),
            b'i' => Field::Int(self.u32()? as i64),
            b'l' | b'L' => Field::Int(self.i64()?),
            b'f' => self.skip(4)?,
            b'd' | b'T' => self.skip(8)?,
            b'D' => self.skip(5)?,
            b'V' => Field::Other,
            b'S' => Field::Text(String::from_utf8_lossy(self.long()?).into_owned()),
            b'x' => {
                self.long()?;
                Field::Other
            }
            b'F' => Field::Table(self.table(depth + 1)?),
            b'A' => {
                if depth >= MAX_DEPTH {
                    return error("field tables nested too deeply");
                }
                let mut inner = Cursor {
                    bytes: self.long()?,
                };
                let mut items = Vec::new();
                while !inner.bytes.is_empty() {
                    items.push(inner.field(depth + 1)?);
                }
                Field::Array(items)
            }
            other => return error(format!("unknown field type 0x{other:02x}")),
        })
    }

    fn skip(&mut self, n: usize) -> Result<Field, WireError> {
        self.take(n)?;
        Ok(Field::Other)
    }
}

// Encoding: only what probe sends, built from values it controls or has bounded.

/// Appends a short string; `None` when it is longer than 255 bytes.
fn put_short(out: &mut Vec<u8>, text: &str) -> Option<()> {
    out.push(u8::try_from(text.len()).ok()?);
    out.extend_from_slice(text.as_bytes());
    Some(())
}

fn put_long(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// Wraps a payload into a frame.
pub fn frame(kind: u8, channel: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.push(kind);
    out.extend_from_slice(&channel.to_be_bytes());
    put_long(&mut out, payload);
    out.push(FRAME_END);
    out
}

fn method_frame(channel: u16, class: u16, id: u16, arguments: &[u8]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(arguments.len() + 4);
    payload.extend_from_slice(&class.to_be_bytes());
    payload.extend_from_slice(&id.to_be_bytes());
    payload.extend_from_slice(arguments);
    frame(FRAME_METHOD, channel, &payload)
}

/// Connection.Start-Ok with a PLAIN login. The client properties name probe and announce
/// the capabilities that make RabbitMQ say why it refuses a login (instead of closing the
/// socket) and tell of resource alarms (Connection.Blocked).
pub fn start_ok(user: &str, password: &str) -> Vec<u8> {
    let mut capabilities = Vec::new();
    for name in ["authentication_failure_close", "connection.blocked"] {
        put_short(&mut capabilities, name);
        capabilities.extend_from_slice(b"t\x01");
    }
    let mut properties = Vec::new();
    put_short(&mut properties, "product");
    properties.push(b'S');
    put_long(&mut properties, b"probe");
    put_short(&mut properties, "version");
    properties.push(b'S');
    put_long(&mut properties, env!("CARGO_PKG_VERSION").as_bytes());
    put_short(&mut properties, "capabilities");
    properties.push(b'F');
    put_long(&mut properties, &capabilities);

    let mut arguments = Vec::new();
    put_long(&mut arguments, &properties);
    put_short(&mut arguments, "PLAIN");
    let mut response = Vec::with_capacity(user.len() + password.len() + 2);
    response.push(0);
    response.extend_from_slice(user.as_bytes());
    response.push(0);
    response.extend_from_slice(password.as_bytes());
    put_long(&mut arguments, &response);
    put_short(&mut arguments, "en_US");
    method_frame(0, 10, 11, &arguments)
}

/// Connection.Tune-Ok: at most one channel, frames up to [`MAX_FRAME`], no heartbeats
/// (a check lasts seconds).
pub fn tune_ok(server_frame_max: u32) -> Vec<u8> {
    // Every server allows channel 1 (its channel-max is 0, "no limit", or at least 1).
    let channel_max: u16 = 1;
    let frame_max = match server_frame_max {
        0 => MAX_FRAME,
        max => max.min(MAX_FRAME),
    };
    let mut arguments = Vec::new();
    arguments.extend_from_slice(&channel_max.to_be_bytes());
    arguments.extend_from_slice(&frame_max.to_be_bytes());
    arguments.extend_from_slice(&0u16.to_be_bytes());
    method_frame(0, 10, 31, &arguments)
}

/// Connection.Open of a virtual host; `None` when its name is longer than 255 bytes.
pub fn open(vhost: &str) -> Option<Vec<u8>> {
    let mut arguments = Vec::new();
    put_short(&mut arguments, vhost)?;
    put_short(&mut arguments, "")?;
    arguments.push(0);
    Some(method_frame(0, 10, 40, &arguments))
}

/// Connection.Close with reply 200 (a normal close).
pub fn close() -> Vec<u8> {
    let mut arguments = Vec::new();
    arguments.extend_from_slice(&200u16.to_be_bytes());
    put_short(&mut arguments, "probe: check done");
    arguments.extend_from_slice(&[0, 0, 0, 0]);
    method_frame(0, 10, 50, &arguments)
}

/// Connection.Close-Ok, the answer to the server's Close.
pub fn close_ok() -> Vec<u8> {
    method_frame(0, 10, 51, &[])
}

/// Channel.Open of channel 1.
pub fn channel_open() -> Vec<u8> {
    method_frame(1, 20, 10, &[0])
}

/// Basic.Publish of an empty message on channel 1 to the default exchange, with a routing
/// key no queue can have (clients cannot declare queues named `amq.*`, and server-named
/// ones are `amq.gen-*`): the broker drops it. Method frame and content header.
pub fn publish_unroutable() -> Vec<u8> {
    let mut arguments = Vec::new();
    arguments.extend_from_slice(&0u16.to_be_bytes());
    put_short(&mut arguments, "");
    put_short(&mut arguments, "amq.probe.alarm-check");
    arguments.push(0);
    let mut out = method_frame(1, 60, 40, &arguments);
    let mut header = Vec::new();
    header.extend_from_slice(&60u16.to_be_bytes());
    header.extend_from_slice(&0u16.to_be_bytes());
    header.extend_from_slice(&0u64.to_be_bytes());
    header.extend_from_slice(&0u16.to_be_bytes());
    out.extend(frame(FRAME_HEADER, 1, &header));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Connection.Start as RabbitMQ 3.10 sends it (server properties shortened).
    fn start_frame() -> Vec<u8> {
        let mut capabilities = Vec::new();
        put_short(&mut capabilities, "connection.blocked");
        capabilities.extend_from_slice(b"t\x01");
        let mut properties = Vec::new();
        put_short(&mut properties, "capabilities");
        properties.push(b'F');
        put_long(&mut properties, &capabilities);
        put_short(&mut properties, "product");
        properties.push(b'S');
        put_long(&mut properties, b"RabbitMQ");
        put_short(&mut properties, "version");
        properties.push(b'S');
        put_long(&mut properties, b"3.10.8");
        put_short(&mut properties, "numbers");
        properties.push(b'A');
        put_long(&mut properties, b"I\xff\xff\xff\xfeT\0\0\0\0\0\0\0\x01");
        let mut arguments = vec![0, 9];
        put_long(&mut arguments, &properties);
        put_long(&mut arguments, b"AMQPLAIN PLAIN");
        put_long(&mut arguments, b"en_US");
        method_frame(0, 10, 10, &arguments)
    }

    #[test]
    fn parses_connection_start() {
        let bytes = start_frame();
        let (incoming, used) = parse(&bytes, 4096).unwrap().unwrap();
        assert_eq!(used, bytes.len());
        let Incoming::Frame(frame) = incoming else {
            panic!("{incoming:?}")
        };
        assert_eq!((frame.kind, frame.channel), (FRAME_METHOD, 0));
        let Method::Start {
            major,
            minor,
            properties,
            mechanisms,
        } = method(frame.payload).unwrap()
        else {
            panic!()
        };
        assert_eq!((major, minor), (0, 9));
        assert_eq!(mechanisms, "AMQPLAIN PLAIN");
        assert_eq!(
            lookup(&properties, "product"),
            Some(&Field::Text("RabbitMQ".into()))
        );
        let Some(Field::Table(capabilities)) = lookup(&properties, "capabilities") else {
            panic!()
        };
        assert_eq!(
            lookup(capabilities, "connection.blocked"),
            Some(&Field::Bool(true))
        );
        assert_eq!(
            lookup(&properties, "numbers"),
            Some(&Field::Array(vec![Field::Int(-2), Field::Other]))
        );
    }

    #[test]
    fn needs_more_bytes_until_the_frame_is_whole() {
        let bytes = start_frame();
        for cut in 0..bytes.len() {
            assert_eq!(parse(&bytes[..cut], 4096), Ok(None), "cut at {cut}");
        }
    }

    #[test]
    fn a_protocol_header_names_the_servers_version() {
        assert_eq!(
            parse(b"AMQP\x00\x01\x00\x0a", 4096),
            Ok(Some((Incoming::ProtocolHeader([0, 1, 0, 10]), 8)))
        );
        assert_eq!(parse(b"AMQ", 4096), Ok(None));
        assert!(parse(b"ABCD1234", 4096).is_err());
    }

    #[test]
    fn rejects_garbage_and_huge_frames() {
        let garbage = parse(b"HTTP/1.1 400 Bad Request\r\n", 4096).unwrap_err();
        assert_eq!(garbage.0, "not an AMQP frame: \"HTTP/1.1 400 Bad Request\"");
        assert!(parse(b"\x16\x03\x01", 4096)
            .unwrap_err()
            .0
            .contains("16 03 01"));
        let huge = parse(b"\x01\x00\x00\xff\xff\xff\xff", 4096).unwrap_err();
        assert!(huge.0.contains("larger than the limit"), "{huge:?}");
        let mut bad_end = frame(FRAME_METHOD, 0, &[0, 10, 0, 51]);
        *bad_end.last_mut().unwrap() = 0;
        assert!(parse(&bad_end, 4096).is_err());
    }

    #[test]
    fn decodes_close_blocked_and_tune() {
        let mut arguments = 403u16.to_be_bytes().to_vec();
        put_short(&mut arguments, "ACCESS_REFUSED - Login was refused");
        arguments.extend_from_slice(&[0, 10, 0, 11]);
        let close = method_frame(0, 10, 50, &arguments);
        let Ok(Some((Incoming::Frame(frame), _))) = parse(&close, 4096) else {
            panic!()
        };
        assert_eq!(
            method(frame.payload).unwrap(),
            Method::Close(Close {
                code: 403,
                text: "ACCESS_REFUSED - Login was refused".into(),
                class: 10,
                method: 11
            })
        );
        let mut blocked = vec![0, 10, 0, 60];
        put_short(&mut blocked, "low on memory");
        assert_eq!(
            method(&blocked).unwrap(),
            Method::Blocked {
                reason: "low on memory".into()
            }
        );
        assert_eq!(
            method(&[0, 10, 0, 30, 0, 0, 0, 2, 0, 0, 0, 60]).unwrap(),
            Method::Tune {
                channel_max: 0,
                frame_max: 131072,
                heartbeat: 60
            }
        );
        assert_eq!(
            method(&[0, 60, 0, 80]).unwrap(),
            Method::Other {
                class: 60,
                method: 80
            }
        );
    }

    #[test]
    fn encodes_what_probe_sends() {
        let start_ok = start_ok("app", "pw");
        let Ok(Some((Incoming::Frame(frame), used))) = parse(&start_ok, MAX_FRAME) else {
            panic!()
        };
        assert_eq!(used, start_ok.len());
        assert_eq!(&frame.payload[..4], &[0, 10, 0, 11]);
        assert!(
            crate::probe::find_bytes(frame.payload, b"\x05PLAIN\x00\x00\x00\x07\x00app\x00pw")
                .is_some()
        );
        let mut at = Cursor {
            bytes: &frame.payload[4..],
        };
        let properties = at.table(0).unwrap();
        assert_eq!(
            lookup(&properties, "product"),
            Some(&Field::Text("probe".into()))
        );
        assert_eq!(
            tune_ok(0),
            method_frame(0, 10, 31, &[0, 1, 0, 2, 0, 0, 0, 0])
        );
        assert_eq!(
            tune_ok(4096),
            method_frame(0, 10, 31, &[0, 1, 0, 0, 16, 0, 0, 0])
        );
        assert!(open(&"v".repeat(256)).is_none());
        assert_eq!(
            open("/").unwrap(),
            method_frame(0, 10, 40, &[1, b'/', 0, 0])
        );
        let publish = publish_unroutable();
        let Ok(Some((Incoming::Frame(first), used))) = parse(&publish, MAX_FRAME) else {
            panic!()
        };
        assert_eq!(
            (first.channel, &first.payload[..4]),
            (1, &[0, 60, 0, 40][..])
        );
        let Ok(Some((Incoming::Frame(header), _))) = parse(&publish[used..], MAX_FRAME) else {
            panic!()
        };
        assert_eq!(header.kind, FRAME_HEADER);
    }

    /// A cheap stand-in for a fuzzer: every truncation and many byte flips of real frames,
    /// and pseudo-random input, must parse to a value or an error, never a panic.
    #[test]
    fn parsers_survive_mangled_input() {
        let mut seed: u32 = 0x2545_f491;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        let start = start_frame();
        for round in 0..20_000 {
            let mut bytes = start.clone();
            for _ in 0..1 + round % 4 {
                let at = next() as usize % bytes.len();
                bytes[at] = next() as u8;
            }
            bytes.truncate(next() as usize % (bytes.len() + 1));
            if let Ok(Some((Incoming::Frame(frame), _))) = parse(&bytes, MAX_FRAME) {
                let _ = method(frame.payload);
            }
            let _ = method(&bytes[bytes.len().min(7)..]);
            let random: Vec<u8> = (0..next() % 64).map(|_| next() as u8).collect();
            let _ = parse(&random, MAX_FRAME);
            let _ = method(&random);
        }
        // Deep nesting is refused, not recursed into without end.
        let mut nested = Vec::new();
        for _ in 0..100 {
            let mut outer = Vec::new();
            put_short(&mut outer, "x");
            outer.push(b'F');
            put_long(&mut outer, &nested);
            nested = outer;
        }
        let mut arguments = vec![0, 9];
        put_long(&mut arguments, &nested);
        let mut payload = vec![0, 10, 0, 10];
        payload.extend(arguments);
        assert!(method(&payload).is_err());
    }
}
