//! The smallest HTTP/2 client a gRPC health check needs: one request on stream 1 over any
//! `Read + Write` (TCP with prior knowledge, or TLS after ALPN `h2`), no sockets in here.
//!
//! The client sends the preface, its SETTINGS, one HEADERS and one DATA frame (END_STREAM),
//! then reads frames until stream 1 ends: SETTINGS are acknowledged, PINGs answered,
//! WINDOW_UPDATE and PRIORITY ignored (the request is one small DATA frame, and the reply
//! fits in the default 64 KiB window, so flow control never has to be driven), GOAWAY and
//! RST_STREAM end the exchange with their error code. HPACK is `loona-hpack`'s (a
//! maintained fork of `hpack` whose decoder did not panic on 300,000 random blocks, where
//! `hpack` 0.3 panicked 219 times and `httlib-hpack` 5,282 times).
//!
//! Memory is bounded: frames larger than the 16 KiB we advertise are refused, a header block
//! (with CONTINUATIONs) is at most 64 KiB and decodes to at most 64 KiB of headers, the
//! dynamic table is capped at 4 KiB, the body at 64 KiB and the whole reply at 1 MiB.
//! Time is bounded by the caller: `arm` runs before every blocking read and write.

use std::borrow::Cow;
use std::io::{self, Read, Write};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PUSH_PROMISE: u8 = 0x5;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const WINDOW_UPDATE: u8 = 0x8;
const CONTINUATION: u8 = 0x9;

const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;

const SETTINGS_HEADER_TABLE_SIZE: u16 = 0x1;
const SETTINGS_ENABLE_PUSH: u16 = 0x2;
const SETTINGS_MAX_FRAME_SIZE: u16 = 0x5;
const SETTINGS_MAX_HEADER_LIST_SIZE: u16 = 0x6;

/// What we advertise and enforce.
const MAX_FRAME: usize = 16 * 1024;
const TABLE_SIZE: usize = 4096;
const MAX_HEADER_BLOCK: usize = 64 * 1024;
const MAX_HEADER_LIST: usize = 64 * 1024;
const MAX_BODY: usize = 64 * 1024;
const MAX_TOTAL: usize = 1024 * 1024;

const STREAM: u32 = 1;

/// One POST on stream 1.
pub struct Request<'a> {
    pub scheme: &'a str,
    pub authority: &'a str,
    pub path: &'a str,
    /// Further headers (lowercase names), after the pseudo-headers.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// What came back on stream 1.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Response {
    /// The first header block (`:status`, `content-type`, ... ; in a trailers-only reply
    /// also `grpc-status`).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The second header block, if any (`grpc-status`, `grpc-message`).
    pub trailers: Vec<(String, String)>,
}

impl Response {
    /// A header's value, trailers first (gRPC puts its status there).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.trailers
            .iter()
            .chain(&self.headers)
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// When the exchange stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Sending,
    Receiving,
}

#[derive(Debug)]
pub enum Error {
    Io(io::Error, Phase),
    /// The peer answered, but not in HTTP/2 (an HTTP/1.x status line, a banner, garbage).
    NotHttp2(String),
    /// The peer closed the connection before stream 1 ended.
    Closed {
        got_settings: bool,
    },
    /// A protocol violation or a limit exceeded.
    Protocol(String),
    GoAway {
        code: u32,
        debug: String,
    },
    Reset(u32),
}

/// Sends `request` and reads the response, calling `arm` before every blocking step (to set
/// the time left on the socket, or fail with `TimedOut`).
pub fn exchange<S: Read + Write>(
    io: &mut S,
    request: &Request,
    arm: &mut dyn FnMut(&mut S) -> io::Result<()>,
) -> Result<Response, Error> {
    let sending = |error| Error::Io(error, Phase::Sending);
    let out = request_bytes(request)?;
    arm(io).map_err(sending)?;
    io.write_all(&out)
        .and_then(|()| io.flush())
        .map_err(sending)?;

    let mut conn = Connection::new();
    loop {
        arm(io).map_err(|error| Error::Io(error, Phase::Receiving))?;
        let frame = read_frame(io, &mut conn)?;
        let reply = conn.handle(frame)?;
        if !reply.is_empty() {
            arm(io).map_err(sending)?;
            io.write_all(&reply)
                .and_then(|()| io.flush())
                .map_err(sending)?;
        }
        if conn.done {
            return Ok(conn.response);
        }
    }
}

/// A polite goodbye after the exchange (GOAWAY, NO_ERROR): what a server logs as a clean
/// close rather than a dropped connection.
pub fn goaway() -> Vec<u8> {
    encode_frame(GOAWAY, 0, 0, &[0; 8])
}

/// Everything the client sends first: preface, SETTINGS, HEADERS, DATA.
pub fn request_bytes(request: &Request) -> Result<Vec<u8>, Error> {
    let mut out = PREFACE.to_vec();
    let mut settings = Vec::new();
    for (id, value) in [
        (SETTINGS_HEADER_TABLE_SIZE, TABLE_SIZE as u32),
        (SETTINGS_ENABLE_PUSH, 0),
        (SETTINGS_MAX_FRAME_SIZE, MAX_FRAME as u32),
        (SETTINGS_MAX_HEADER_LIST_SIZE, MAX_HEADER_LIST as u32),
    ] {
        settings.extend_from_slice(&id.to_be_bytes());
        settings.extend_from_slice(&value.to_be_bytes());
    }
    out.extend(encode_frame(SETTINGS, 0, 0, &settings));

    let pseudo = [
        (":method", "POST"),
        (":scheme", request.scheme),
        (":path", request.path),
        (":authority", request.authority),
    ];
    let headers = pseudo.into_iter().chain(
        request
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
    );
    let block = loona_hpack::Encoder::new()
        .encode(headers.map(|(name, value)| (name.as_bytes(), value.as_bytes())));
    // 16 KiB is every server's minimum frame size; one frame keeps CONTINUATION out.
    if block.len() > MAX_FRAME || request.body.len() > MAX_FRAME {
        return Err(Error::Protocol(
            "the request headers are too large (over 16 KiB)".into(),
        ));
    }
    out.extend(encode_frame(HEADERS, END_HEADERS, STREAM, &block));
    out.extend(encode_frame(DATA, END_STREAM, STREAM, request.body));
    Ok(out)
}

fn encode_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

#[derive(Debug, PartialEq, Eq)]
pub struct Frame {
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
    pub payload: Vec<u8>,
}

/// Reads one frame; the first one must be the server's SETTINGS, which is what tells an
/// HTTP/2 server from an HTTP/1.1 one (that answers the preface with a status line).
fn read_frame<R: Read>(io: &mut R, conn: &mut Connection) -> Result<Frame, Error> {
    let mut head = [0u8; 9];
    read_exact(io, &mut head, conn)?;
    if !conn.got_settings && (head[3] != SETTINGS || head[4] & ACK != 0) {
        return Err(Error::NotHttp2(not_http2(&head)));
    }
    let length = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    if length > MAX_FRAME {
        return Err(Error::Protocol(format!(
            "the server sent a {length}-byte frame (limit {MAX_FRAME})"
        )));
    }
    let mut payload = vec![0u8; length];
    read_exact(io, &mut payload, conn)?;
    Ok(Frame {
        kind: head[3],
        flags: head[4],
        stream: u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff,
        payload,
    })
}

fn read_exact<R: Read>(io: &mut R, buf: &mut [u8], conn: &mut Connection) -> Result<(), Error> {
    conn.total += buf.len();
    if conn.total > MAX_TOTAL {
        return Err(Error::Protocol("the server sent more than 1 MiB".into()));
    }
    io.read_exact(buf).map_err(|error| match error.kind() {
        io::ErrorKind::UnexpectedEof => Error::Closed {
            got_settings: conn.got_settings,
        },
        _ => Error::Io(error, Phase::Receiving),
    })
}

/// What the first 9 bytes were, when they were not an HTTP/2 SETTINGS frame.
fn not_http2(head: &[u8]) -> String {
    if head.starts_with(b"HTTP/") {
        let line: String = String::from_utf8_lossy(head).chars().take(8).collect();
        return format!("it answered {line}...");
    }
    if head[3] == GOAWAY {
        return "it sent GOAWAY before SETTINGS".into();
    }
    let printable = head
        .iter()
        .all(|byte| byte.is_ascii_graphic() || *byte == b' ');
    if printable {
        format!("it sent {:?}", String::from_utf8_lossy(head))
    } else {
        format!("it sent {} instead of a SETTINGS frame", hex(head))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The receiving side: HPACK state, the header block being assembled, the response.
struct Connection {
    decoder: loona_hpack::Decoder<'static>,
    got_settings: bool,
    /// A header block waiting for its CONTINUATION frames, and whether it ends the stream.
    partial: Option<(Vec<u8>, bool)>,
    response: Response,
    header_blocks: usize,
    total: usize,
    done: bool,
}

impl Connection {
    fn new() -> Self {
        let mut decoder = loona_hpack::Decoder::new();
        decoder.set_max_allowed_table_size(TABLE_SIZE);
        Connection {
            decoder,
            got_settings: false,
            partial: None,
            response: Response::default(),
            header_blocks: 0,
            total: 0,
            done: false,
        }
    }

    /// Takes one frame in; returns the bytes to send back (ACKs), possibly none.
    fn handle(&mut self, frame: Frame) -> Result<Vec<u8>, Error> {
        let protocol = |text: &str| Err(Error::Protocol(text.into()));
        if self.partial.is_some() && frame.kind != CONTINUATION {
            return protocol("a header block was interrupted by another frame");
        }
        match frame.kind {
            SETTINGS if frame.stream != 0 || !frame.payload.len().is_multiple_of(6) => {
                protocol("malformed SETTINGS frame")
            }
            SETTINGS if frame.flags & ACK != 0 => Ok(Vec::new()),
            SETTINGS => {
                self.got_settings = true;
                Ok(encode_frame(SETTINGS, ACK, 0, &[]))
            }
            PING if frame.payload.len() != 8 => protocol("malformed PING frame"),
            PING if frame.flags & ACK != 0 => Ok(Vec::new()),
            PING => Ok(encode_frame(PING, ACK, 0, &frame.payload)),
            GOAWAY if frame.payload.len() < 8 => protocol("malformed GOAWAY frame"),
            GOAWAY => {
                let last = be32(&frame.payload[0..4]) & 0x7fff_ffff;
                let code = be32(&frame.payload[4..8]);
                // A graceful shutdown that still covers stream 1: keep reading.
                if code == 0 && last >= STREAM {
                    return Ok(Vec::new());
                }
                let debug = String::from_utf8_lossy(&frame.payload[8..])
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(200)
                    .collect();
                Err(Error::GoAway { code, debug })
            }
            RST_STREAM if frame.stream == STREAM => match frame.payload.get(..4) {
                Some(code) => Err(Error::Reset(be32(code))),
                None => protocol("malformed RST_STREAM frame"),
            },
            PUSH_PROMISE => protocol("the server sent PUSH_PROMISE, which we disabled"),
            HEADERS if frame.stream == STREAM => {
                let fragment = strip_padding(&frame)?;
                let fragment = if frame.flags & PRIORITY != 0 {
                    fragment
                        .get(5..)
                        .ok_or(Error::Protocol("malformed HEADERS frame".into()))?
                } else {
                    fragment
                };
                let ends = frame.flags & END_STREAM != 0;
                if frame.flags & END_HEADERS != 0 {
                    self.header_block(fragment, ends)?;
                } else {
                    self.partial = Some((fragment.to_vec(), ends));
                }
                Ok(Vec::new())
            }
            CONTINUATION => {
                let Some((mut block, ends)) = self.partial.take() else {
                    return protocol("CONTINUATION without HEADERS");
                };
                if frame.stream != STREAM {
                    return protocol("CONTINUATION on another stream");
                }
                block.extend_from_slice(&frame.payload);
                if block.len() > MAX_HEADER_BLOCK {
                    return protocol("the response headers are larger than 64 KiB");
                }
                if frame.flags & END_HEADERS != 0 {
                    self.header_block(&block, ends)?;
                } else {
                    self.partial = Some((block, ends));
                }
                Ok(Vec::new())
            }
            DATA if frame.stream == STREAM => {
                if self.header_blocks == 0 {
                    return protocol("DATA before the response headers");
                }
                let data = strip_padding(&frame)?;
                if self.response.body.len() + data.len() > MAX_BODY {
                    return protocol("the response body is larger than 64 KiB");
                }
                self.response.body.extend_from_slice(data);
                self.done = frame.flags & END_STREAM != 0;
                Ok(Vec::new())
            }
            WINDOW_UPDATE if frame.payload.len() != 4 => protocol("malformed WINDOW_UPDATE frame"),
            // WINDOW_UPDATE, PRIORITY, unknown types, and frames of other streams.
            _ => Ok(Vec::new()),
        }
    }

    /// Decodes a complete header block: the response headers first, then trailers.
    fn header_block(&mut self, block: &[u8], ends: bool) -> Result<(), Error> {
        let mut headers = Vec::new();
        let mut size = 0usize;
        self.decoder
            .decode_with_cb(block, |name: Cow<[u8]>, value: Cow<[u8]>| {
                size += name.len() + value.len() + 32;
                if size <= MAX_HEADER_LIST {
                    headers.push((
                        String::from_utf8_lossy(&name).into_owned(),
                        String::from_utf8_lossy(&value).into_owned(),
                    ));
                }
            })
            .map_err(|error| Error::Protocol(format!("bad HPACK header block ({error})")))?;
        if size > MAX_HEADER_LIST {
            return Err(Error::Protocol(
                "the response headers are larger than 64 KiB".into(),
            ));
        }
        self.header_blocks += 1;
        match self.header_blocks {
            1 => self.response.headers = headers,
            2 => self.response.trailers = headers,
            _ => return Err(Error::Protocol("more than two header blocks".into())),
        }
        if ends {
            self.done = true;
        } else if self.header_blocks == 2 {
            return Err(Error::Protocol("trailers without END_STREAM".into()));
        }
        Ok(())
    }
}

fn be32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// The payload of a DATA or HEADERS frame without its padding.
fn strip_padding(frame: &Frame) -> Result<&[u8], Error> {
    if frame.flags & PADDED == 0 {
        return Ok(&frame.payload);
    }
    let malformed = || Error::Protocol("malformed padding".into());
    let (&pad, rest) = frame.payload.split_first().ok_or_else(malformed)?;
    rest.len()
        .checked_sub(pad as usize)
        .map(|end| &rest[..end])
        .ok_or_else(malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scripted peer: reads go to `input`, writes collect in `output`.
    struct Peer {
        input: io::Cursor<Vec<u8>>,
        output: Vec<u8>,
    }

    impl Read for Peer {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.input.read(buf)
        }
    }

    impl Write for Peer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.output.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn request() -> Request<'static> {
        Request {
            scheme: "http",
            authority: "localhost:50051",
            path: "/grpc.health.v1.Health/Check",
            headers: &[],
            body: b"\0\0\0\0\0",
        }
    }

    fn run(input: Vec<u8>) -> (Result<Response, Error>, Vec<u8>) {
        let mut peer = Peer {
            input: io::Cursor::new(input),
            output: Vec::new(),
        };
        let result = exchange(&mut peer, &request(), &mut |_| Ok(()));
        (result, peer.output)
    }

    fn headers(list: &[(&str, &str)]) -> Vec<u8> {
        loona_hpack::Encoder::new().encode(
            list.iter()
                .map(|(name, value)| (name.as_bytes(), value.as_bytes())),
        )
    }

    fn server_settings() -> Vec<u8> {
        encode_frame(SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 100])
    }

    #[test]
    fn the_request_starts_with_the_preface_settings_headers_and_data() {
        let bytes = request_bytes(&request()).unwrap();
        assert!(bytes.starts_with(PREFACE));
        let rest = &bytes[PREFACE.len()..];
        assert_eq!(rest[3], SETTINGS);
        let settings_len = 9 + 24;
        assert_eq!(rest[settings_len + 3], HEADERS);
        let block_len = be32(&[
            0,
            rest[settings_len],
            rest[settings_len + 1],
            rest[settings_len + 2],
        ]);
        let block = &rest[settings_len + 9..settings_len + 9 + block_len as usize];
        let decoded = loona_hpack::Decoder::new().decode(block).unwrap();
        assert_eq!(decoded[0], (b":method".to_vec(), b"POST".to_vec()));
        assert_eq!(decoded[2].1, b"/grpc.health.v1.Health/Check");
        let data = &rest[settings_len + 9 + block_len as usize..];
        assert_eq!(data, encode_frame(DATA, END_STREAM, 1, b"\0\0\0\0\0"));
    }

    #[test]
    fn reads_headers_data_and_trailers_answering_settings_and_ping() {
        let mut input = server_settings();
        input.extend(encode_frame(PING, 0, 0, b"12345678"));
        input.extend(encode_frame(SETTINGS, ACK, 0, &[]));
        input.extend(encode_frame(WINDOW_UPDATE, 0, 0, &[0, 0, 1, 0]));
        input.extend(encode_frame(
            HEADERS,
            END_HEADERS,
            1,
            &headers(&[(":status", "200"), ("content-type", "application/grpc")]),
        ));
        // Padded DATA: one pad-length byte, the message, two bytes of padding.
        input.extend(encode_frame(
            DATA,
            PADDED,
            1,
            &[2, 0, 0, 0, 0, 2, 8, 1, 0, 0],
        ));
        let trailers = headers(&[("grpc-status", "0")]);
        input.extend(encode_frame(HEADERS, END_STREAM, 1, &trailers[..1]));
        input.extend(encode_frame(CONTINUATION, END_HEADERS, 1, &trailers[1..]));
        let (result, output) = run(input);
        let response = result.unwrap();
        assert_eq!(response.body, [0, 0, 0, 0, 2, 8, 1]);
        assert_eq!(response.get("grpc-status"), Some("0"));
        assert_eq!(response.get(":status"), Some("200"));
        let sent_after = &output[request_bytes(&request()).unwrap().len()..];
        let mut expected = encode_frame(SETTINGS, ACK, 0, &[]);
        expected.extend(encode_frame(PING, ACK, 0, b"12345678"));
        assert_eq!(sent_after, expected);
    }

    #[test]
    fn a_trailers_only_reply_ends_with_its_headers() {
        let mut input = server_settings();
        input.extend(encode_frame(
            HEADERS,
            END_HEADERS | END_STREAM,
            1,
            &headers(&[(":status", "200"), ("grpc-status", "12")]),
        ));
        let response = run(input).0.unwrap();
        assert_eq!(response.get("grpc-status"), Some("12"));
        assert!(response.body.is_empty());
    }

    #[test]
    fn an_http1_server_is_named_as_such() {
        let (result, _) = run(b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec());
        match result {
            Err(Error::NotHttp2(text)) => assert!(text.contains("HTTP/1.1"), "{text}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(run(vec![0xff; 20]).0, Err(Error::NotHttp2(_))));
        assert!(matches!(
            run(Vec::new()).0,
            Err(Error::Closed {
                got_settings: false
            })
        ));
    }

    #[test]
    fn goaway_reset_and_limits_end_the_exchange() {
        let mut input = server_settings();
        input.extend(encode_frame(
            GOAWAY,
            0,
            0,
            &[0, 0, 0, 0, 0, 0, 0, 11, b'b', b'y'],
        ));
        match run(input).0 {
            Err(Error::GoAway { code: 11, debug }) => assert_eq!(debug, "by"),
            other => panic!("{other:?}"),
        }
        let mut input = server_settings();
        input.extend(encode_frame(RST_STREAM, 0, 1, &[0, 0, 0, 7]));
        assert!(matches!(run(input).0, Err(Error::Reset(7))));

        let mut input = server_settings();
        input.extend_from_slice(&[0x01, 0, 0, DATA, 0, 0, 0, 0, 1]);
        assert!(matches!(run(input).0, Err(Error::Protocol(_))));

        let mut input = server_settings();
        for _ in 0..100 {
            input.extend(encode_frame(PING, 0, 0, b"12345678"));
        }
        input.truncate(input.len() - 3);
        assert!(matches!(
            run(input).0,
            Err(Error::Closed { got_settings: true })
        ));
    }

    #[test]
    fn decoded_headers_are_bounded() {
        // One 4000-byte header in the dynamic table, then indexed 1000 times (4 MB decoded).
        let mut block = headers(&[("x", &"y".repeat(4000))]);
        let index = 62u8 | 0x80;
        block.extend(std::iter::repeat_n(index, 1000));
        let mut input = server_settings();
        for (i, chunk) in block.chunks(MAX_FRAME).enumerate() {
            let kind = if i == 0 { HEADERS } else { CONTINUATION };
            let last = (i + 1) * MAX_FRAME >= block.len();
            input.extend(encode_frame(
                kind,
                if last { END_HEADERS } else { 0 },
                1,
                chunk,
            ));
        }
        match run(input).0 {
            Err(Error::Protocol(text)) => assert!(text.contains("64 KiB"), "{text}"),
            other => panic!("{other:?}"),
        }
    }
}
