//! Properties of probe's parsers, shared by the cargo-fuzz targets (`fuzz/`, which
//! `#[path]`-includes this file and the pure parser modules) and by the stable
//! `cargo test` that replays `fuzz/corpus/*` and runs a seeded random loop.
//!
//! Each property: no panic, bounded time (inputs are capped before parsing), and for
//! secret-bearing inputs, the rendered text and every error text never hold the secret.

use std::time::{Duration, Instant};

/// A password no other part of a generated input can spell: `!` and uppercase `Z` are
/// never produced for hosts, users, paths or variable names.
pub const MARK: &str = "PW!Z";

/// Longest input a property feeds a parser.
pub const MAX_INPUT: usize = 16 * 1024;

/// Time any single parse may take before the property fails.
pub const MAX_TIME: Duration = Duration::from_millis(500);

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(&data[..data.len().min(MAX_INPUT)]).into_owned()
}

fn timed<T>(what: &str, input: &str, run: impl FnOnce() -> T) -> T {
    timed_bytes(what, input.as_bytes(), run)
}

fn timed_bytes<T>(what: &str, input: &[u8], run: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let value = run();
    assert!(
        started.elapsed() < MAX_TIME,
        "{what} took {:?} on {} bytes",
        started.elapsed(),
        input.len()
    );
    value
}

fn capped(data: &[u8]) -> &[u8] {
    &data[..data.len().min(MAX_INPUT)]
}

/// Characters safe for the non-secret parts of a generated URL.
fn plain(data: &[u8], fallback: &str) -> String {
    let out: String = data
        .iter()
        .map(|b| b"abcdefghijklmnopqrstuvwxyz0123456789.-"[*b as usize % 38] as char)
        .collect();
    if out.is_empty() {
        fallback.into()
    } else {
        out
    }
}

/// A password: the mark, then any bytes but those that end a URL in free text (space,
/// quotes) or that a URL can never hold (controls).
fn password(data: &[u8]) -> String {
    let tail: String = String::from_utf8_lossy(data)
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control() && !"\"'`<>\\".contains(*c))
        .collect();
    format!("{MARK}{tail}")
}

/// `text` with no mark left in it: removing one can join two halves into a new one
/// (`PW!PW!ZZ`), which a property would then take for a leaked password (found by fuzzing).
fn without_mark(text: &str) -> String {
    let mut text = text.to_string();
    while text.contains(MARK) {
        text = text.replace(MARK, "");
    }
    text
}

/// Splits fuzz data into `n` parts at 0xff bytes.
fn parts(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out: Vec<&[u8]> = data.splitn(n, |b| *b == 0xff).collect();
    out.resize(n, &[]);
    out
}

const SCHEMES: &[&str] = &[
    "http",
    "https",
    "tcp",
    "postgres",
    "postgresql+asyncpg",
    "redis",
    "rediss",
    "unix",
    "amqp",
    "mysql",
    "grpc",
    "x-unknown",
];

/// Every URL form: arbitrary text parses or fails without panicking; a URL built with a
/// password in its userinfo or `?password=` never shows it, parsed or not.
pub fn url(data: &[u8]) {
    let raw = text(data);
    let parsed = timed("Url::parse", &raw, || crate::url::Url::parse(&raw));
    if let Ok(url) = &parsed {
        let _ = url.query_pairs();
        let _ = url.shown();
    }
    timed("mask", &raw, || crate::url::mask(&raw));
    let _ = crate::url::percent_decode(&raw);

    let p = parts(data, 6);
    let scheme = SCHEMES[p[0].first().map_or(0, |b| *b as usize) % SCHEMES.len()];
    let secret = password(p[2]);
    let port = match p[4].first() {
        None => String::new(),
        Some(b) if b % 4 == 0 => ":".into(),
        Some(_) => format!(":{}", without_mark(&password(p[4])[MARK.len()..])),
    };
    // In a query an unencoded `&` or `;` starts the next parameter, by definition.
    let query_secret = secret.replace(['&', ';'], "");
    let built = format!(
        "{scheme}://{}:{secret}@{}{port}/{}?sslmode=x&password={query_secret}",
        plain(p[1], "u"),
        plain(p[3], "h"),
        plain(p[5], ""),
    );
    let mut shown = vec![crate::url::mask(&built)];
    match crate::url::Url::parse(&built) {
        Ok(url) => {
            shown.push(url.shown());
            assert_eq!(url.password.as_deref().map(|_| ()), Some(()), "{built}");
            if let Err(error) = url.query_pairs() {
                shown.push(error);
            }
        }
        Err(error) => shown.push(error),
    }
    for text in shown {
        assert!(!text.contains(MARK), "{built:?} shown as {text:?}");
    }
}

/// A TARGET line (`'http http://u:pw@x -H "X-Api-Key: pw"'`): registering its secrets,
/// then rendering any text about it, never shows the password. `parse` is the crate's
/// `target::parse` where it is reachable (cargo test), else only the word splitting.
pub fn target_line(data: &[u8], parse: &dyn Fn(&str) -> Result<String, String>) {
    #[cfg(fuzzing)]
    crate::redact::forget_all();
    let raw = text(data);
    crate::redact::register_arguments(std::slice::from_ref(&raw));
    let _ = timed("target parse", &raw, || parse(&raw));

    let p = parts(data, 3);
    let secret = password(p[1]);
    let quoted = secret.replace('\'', "");
    let line = match p[0].first().map_or(0, |b| b % 4) {
        0 => format!("http http://u:{quoted}@h/ -H 'X-Api-Key: {quoted}'"),
        1 => format!("redis redis://:{quoted}@h:{}", plain(p[2], "1")),
        2 => format!(
            "postgres 'postgresql+asyncpg://u:{quoted}@h/{}'",
            plain(p[2], "d")
        ),
        _ => format!("http http://h/ -H 'Authorization Bearer {quoted}'"),
    };
    crate::redact::register_arguments(std::slice::from_ref(&line));
    let error = match parse(&line) {
        Ok(shown) => shown,
        Err(error) => error,
    };
    for text in [error, format!("target {line:?}: failed")] {
        let scrubbed = crate::redact::scrub(&text);
        // The whole secret, or its start (the mark), which no other part can spell.
        assert!(
            !scrubbed.contains(&quoted) && !scrubbed.contains(MARK),
            "{line:?} printed as {scrubbed:?}"
        );
    }
}

/// Durations: never a panic or an overflow; accepted values are at most a year.
pub fn duration(data: &[u8]) {
    let raw = text(data);
    if let Ok(duration) = timed("duration", &raw, || crate::duration::parse(&raw)) {
        assert!(duration <= crate::duration::MAX, "{raw:?}");
        let _ = crate::duration::human(duration);
    }
}

/// Sizes: never a panic or an overflow.
pub fn size(data: &[u8]) {
    let raw = text(data);
    if let Ok(bytes) = timed("size", &raw, || crate::size::parse(&raw)) {
        let _ = crate::size::human_bytes(bytes);
    }
}

/// `${}` expansion: linear, bounded, and an error never quotes the text (which may hold
/// a secret that a missing `}` left unexpanded).
pub fn expand(data: &[u8]) {
    let raw = text(data);
    let env = |name: &str| -> Result<Option<String>, ()> {
        match name {
            "HOST" => Ok(Some("db".into())),
            "EMPTY" => Ok(Some(String::new())),
            "BINARY" => Err(()),
            _ if name.len().is_multiple_of(3) => Ok(Some(name.repeat(3))),
            _ => Ok(None),
        }
    };
    let _ = timed("expand", &raw, || crate::expand::expand_with(&raw, &env));
    let with_secret = format!("{raw}{MARK}secret{raw}");
    if let Err(error) = timed("expand", &with_secret, || {
        crate::expand::expand_with(&with_secret, &env)
    }) {
        assert!(!error.0.contains(MARK), "{with_secret:?}: {error}");
    }
}

/// `--expect-json` rules and bodies: the first line is a rule, the rest the body.
pub fn expect_json(data: &[u8]) {
    let raw = text(data);
    let (rule, body) = raw.split_once('\n').unwrap_or((&raw, ""));
    let rules = crate::probe::http::expect::BodyRules::parse(&[], &[rule.to_string()]);
    if let Ok(rules) = rules {
        timed("expect-json", &raw, || rules.check(body.as_bytes()).is_ok());
    }
    let _ = crate::probe::http::expect::StatusSet::parse(rule);
}

/// RESP replies from a peer: any bytes, fed in chunks of 1-64 bytes (the first byte says
/// how many), give replies or one error, never a panic; each reply used input.
pub fn resp(data: &[u8]) {
    let data = capped(data);
    let chunk = data.first().map_or(1, |b| usize::from(*b % 64) + 1);
    let replies = timed_bytes("resp", data, || {
        crate::probe::redis::resp::replies(data, chunk, "PING")
    });
    assert!(
        replies.len() <= data.len() / 3 + 1,
        "{} replies",
        replies.len()
    );
}

/// PostgreSQL backend messages: the framing over any bytes, each message's fields (error
/// fields, a DataRow's first column), and framing that judges each prefix the same way
/// the whole is judged (a complete message's prefixes need more bytes, or fail alike).
pub fn pg_message(data: &[u8]) {
    use crate::probe::postgres::session::message::{first_column, split, DbError};
    const TAGS: &[u8] = b"RSKZENCDTIt123sncGHWAVv";
    let data = capped(data);
    timed_bytes("pg messages", data, || {
        let mut rest = data;
        loop {
            let whole = split(rest, TAGS, 1 << 20);
            let complete = match whole {
                Ok(Some((_, end))) => end,
                _ => rest.len(),
            };
            for cut in 0..complete.min(64) {
                match (split(&rest[..cut], TAGS, 1 << 20), &whole) {
                    (Ok(None), _) => {}
                    (Err(a), Err(b)) if a == *b => {}
                    (prefix, whole) => panic!("prefix {cut}: {prefix:?}, whole: {whole:?}"),
                }
            }
            let Ok(Some((tag, end))) = whole else { break };
            assert!(
                (5..=rest.len()).contains(&end),
                "end {end} of {}",
                rest.len()
            );
            let body = &rest[5..end];
            match tag {
                b'E' | b'N' => {
                    let _ = DbError::parse(body);
                }
                b'D' => {
                    let _ = first_column(body);
                }
                _ => {}
            }
            rest = &rest[end..];
        }
    });
}

/// MySQL packets: every payload parser (greeting, OK/ERR/EOF, auth switch, row) over any
/// bytes, and the packet reader over any stream (each packet costs its length against
/// the budget). No secret passes through them: the password is only ever scrambled.
pub fn mysql(data: &[u8]) {
    use crate::probe::mysql::packet::*;
    let data = capped(data);
    timed_bytes("mysql packets", data, || {
        let _ = parse_greeting(data);
        let _ = parse_error(data);
        let _ = parse_auth_reply(data);
        let _ = parse_ok_or_error(data);
        let _ = is_eof(data);
        let _ = first_column(data);
        let _ = printable(data);
        let mut reader = data;
        let mut budget = 4 * 1024 * 1024;
        let mut packets = 0;
        while let Ok((_, payload)) = read_packet(&mut reader, &mut budget) {
            let _ = parse_greeting(&payload);
            let _ = parse_ok_or_error(&payload);
            let _ = first_column(&payload);
            packets += 1;
        }
        assert!(packets <= data.len() / 4, "{packets} packets");
    });
}

/// AMQP 0-9-1: frames, methods and field tables over any bytes; a Connection.StartOk
/// carrying a password, read back, never shows it in a method name or an error.
pub fn amqp(data: &[u8]) {
    use crate::probe::amqp::wire::{method, parse, start_ok, Incoming};
    let data = capped(data);
    let read = |bytes: &[u8]| -> Vec<String> {
        let mut texts = Vec::new();
        let mut rest = bytes;
        loop {
            match parse(rest, 64 * 1024) {
                Ok(Some((incoming, used))) => {
                    assert!((1..=rest.len()).contains(&used), "used {used}");
                    if let Incoming::Frame(frame) = incoming {
                        match method(frame.payload) {
                            Ok(method) => texts.push(method.name()),
                            Err(error) => texts.push(error.0),
                        }
                    }
                    rest = &rest[used..];
                }
                Ok(None) => return texts,
                Err(error) => {
                    texts.push(error.0);
                    return texts;
                }
            }
        }
    };
    timed_bytes("amqp frames", data, || read(data));
    let p = parts(data, 2);
    let secret = password(p[0]);
    let mut login = start_ok(&plain(p[1], "u"), &secret);
    for text in read(&login) {
        assert!(!text.contains(MARK), "StartOk read back as {text:?}");
    }
    login.truncate(login.len() / 2);
    for text in read(&login) {
        assert!(!text.contains(MARK), "half a StartOk read back as {text:?}");
    }
}

/// DNS replies: any bytes, read as the reply to the question they hold themselves (so the
/// fuzzer gets past the ID and question checks), give records or one reason, in bounded
/// time; every name, wherever it starts, decodes to at most 255 wire bytes shown as
/// printable ASCII with no space (a reason stays one line); and a query probe builds,
/// answered with QR set, reads back as the answer to itself.
pub fn dns(data: &[u8]) {
    use crate::probe::dns::wire::{parse, query, read_name, Data};
    let data = capped(data);
    let one_line = |name: &str| {
        assert!(name.len() <= 4 * 255, "{} bytes", name.len());
        assert!(name.bytes().all(|b| b.is_ascii_graphic()), "{name:?}");
    };
    let id = u16::from_be_bytes([*data.first().unwrap_or(&0), *data.get(1).unwrap_or(&0)]);
    let (name, qtype) = match read_name(data, 12) {
        Ok((name, end)) => match data.get(end..end + 2) {
            Some(qtype) => (name, u16::from_be_bytes([qtype[0], qtype[1]])),
            None => (name, 1),
        },
        Err(_) => ("x".to_string(), 1),
    };
    let reply = timed_bytes("dns reply", data, || parse(data, id, &name, qtype));
    if let Ok(reply) = reply {
        assert!(reply.answers.len() <= data.len() / 11, "{reply:?}");
        for record in &reply.answers {
            match &record.data {
                Data::Name(name)
                | Data::Mx { exchange: name, .. }
                | Data::Srv { target: name, .. } => one_line(name),
                Data::Txt(text) => assert!(text.len() < data.len()),
                Data::Ip(_) | Data::Other => {}
            }
        }
    }
    timed_bytes("dns names", data, || {
        for at in 0..data.len().min(128) {
            if let Ok((name, end)) = read_name(data, at) {
                one_line(&name);
                assert!(end > at && end <= data.len(), "{at}..{end}");
            }
        }
    });
    // A name as the check validates them: no empty label.
    let asked = plain(&data[..data.len().min(40)], "x");
    let asked: Vec<&str> = asked.split('.').filter(|label| !label.is_empty()).collect();
    let asked = asked.join(".");
    if !asked.is_empty() {
        let mut answer = query(id, &asked, qtype);
        answer[2] |= 0x80;
        let read = parse(&answer, id, &asked.to_ascii_uppercase(), qtype);
        assert_eq!(read.map(|reply| reply.answers.len()), Ok(0), "{asked:?}");
    }
}

/// SASLprep gives the `stringprep` crate's answer on any text: the prepared password, or
/// its raw bytes where SASLprep fails (src/saslprep.rs).
#[cfg(any(feature = "postgres", feature = "mongodb", fuzzing))]
pub fn saslprep(data: &[u8]) {
    let password = text(data);
    let expected = match stringprep::saslprep(&password) {
        Ok(prepared) => prepared.into_owned().into_bytes(),
        Err(_) => password.as_bytes().to_vec(),
    };
    let ours = timed("saslprep", &password, || {
        crate::saslprep::saslprep(&password)
    });
    assert!(ours == expected, "{password:?}: {ours:?}, not {expected:?}");
}

/// gRPC: the HTTP/2 exchange against any server bytes (frames, HPACK header blocks,
/// SETTINGS, PING, GOAWAY), the health response protobuf, and `-H` metadata that carries
/// a secret: nothing probe shows depends on it.
pub fn grpc(data: &[u8]) {
    use crate::probe::grpc::{h2, proto};
    use std::io::{Read, Write};
    struct Peer<'a> {
        input: &'a [u8],
        written: usize,
    }
    impl Read for Peer<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.input.read(buf)
        }
    }
    impl Write for Peer<'_> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.written += buf.len();
            if self.written > 1 << 20 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let data = capped(data);
    let p = parts(data, 3);
    // What probe shows for each server input, given the secret in the request's metadata.
    let shown = |secret: &str| -> Vec<String> {
        let headers = vec![
            ("authorization".to_string(), format!("Bearer {secret}")),
            (plain(p[2], "x-key"), secret.to_string()),
        ];
        let request = h2::Request {
            scheme: "http",
            authority: "h:1",
            path: "/grpc.health.v1.Health/Check",
            headers: &headers,
            body: &proto::encode_request("svc"),
        };
        // The server's bytes: as given, after a valid preface-answering SETTINGS frame, and
        // an HPACK block of stream 1 from the fuzz data, then END_STREAM.
        let settings = b"\0\0\0\x04\0\0\0\0\0";
        let after_settings = [&settings[..], p[0]].concat();
        let block = &p[1][..p[1].len().min(16 * 1024 - 9)];
        let mut headers_frame = settings.to_vec();
        headers_frame.extend_from_slice(&(block.len() as u32).to_be_bytes()[1..]);
        headers_frame.extend_from_slice(&[1, 5, 0, 0, 0, 1]);
        headers_frame.extend_from_slice(block);
        let mut texts = Vec::new();
        for input in [data, p[0], &after_settings[..], &headers_frame[..]] {
            let mut peer = Peer { input, written: 0 };
            let result = timed_bytes("h2 exchange", input, || {
                h2::exchange(&mut peer, &request, &mut |_| Ok(()))
            });
            texts.push(match result {
                Ok(response) => {
                    let _ = proto::decode_response(&response.body);
                    format!("{response:?}")
                }
                Err(error) => format!("{error:?}"),
            });
        }
        texts
    };
    // The server's bytes may themselves hold the mark (literally or Huffman-coded in HPACK,
    // found by fuzzing), so the property is that the secret changes nothing probe shows:
    // the same exchange with a decoy of the same length must read back the same.
    let secret = password(p[2]);
    let decoy = "q".repeat(secret.len());
    let (with_secret, with_decoy) = (shown(&secret), shown(&decoy));
    assert_eq!(
        with_secret, with_decoy,
        "the request's secret reached what is shown"
    );
    timed_bytes("health protobuf", p[1], || proto::decode_response(p[1])).ok();
}

#[cfg(any(feature = "mongodb", fuzzing))]
/// MongoDB replies: BSON documents (bounded nesting, every length checked; what decodes
/// encodes and decodes again), the same bytes as JSON for `--expect` (valid JSON exactly
/// when the document decodes, within its byte limit) and as a reply's top level, the
/// message framing around them; and `--query` text read into a command document.
pub fn bson(data: &[u8]) {
    use crate::probe::mongodb::{bson, command, frame};
    let data = capped(data);
    fn count(value: &bson::Value) -> usize {
        match value {
            bson::Value::Doc(doc) => 1 + doc.0.iter().map(|(_, v)| count(v)).sum::<usize>(),
            bson::Value::Array(items) => 1 + items.iter().map(count).sum::<usize>(),
            _ => 1,
        }
    }
    let decoded = timed_bytes("bson", data, || bson::decode(data));
    let json = timed_bytes("bson as json", data, || bson::to_json(data, 1 << 20));
    let top = timed_bytes("bson top level", data, || {
        let all = bson::decode_top(data, &["ok", "a", "b", "", "$err"]);
        assert_eq!(all.is_ok(), bson::decode_top(data, &[]).is_ok());
        all
    });
    assert_eq!(decoded.is_ok(), json.is_ok(), "{decoded:?} {json:?}");
    assert_eq!(decoded.is_ok(), top.is_ok(), "{decoded:?} {top:?}");
    if let Ok(doc) = decoded {
        let values: usize = doc.0.iter().map(|(_, v)| count(v)).sum();
        assert!(values <= data.len() / 2, "{values} values");
        let again = bson::decode(&doc.encode());
        assert!(again.is_ok(), "{again:?}");
        let text = json.unwrap_or_default();
        let parsed = serde_json::from_str::<serde_json::Value>(&text);
        assert!(parsed.is_ok(), "{text}: {parsed:?}");
        // A limit below the text's length is an error, never a cut document.
        if !text.is_empty() {
            assert!(bson::to_json(data, text.len() / 2).is_err() || text.len() < 4);
        }
    }
    timed_bytes("mongodb frame", data, || {
        if let Ok(Some(length)) = frame::message_len(data, frame::MAX_MESSAGE) {
            if let Some(message) = data.get(..length) {
                let id = bson::i32_at(message, 8).unwrap_or_default();
                let _ = frame::reply(message, id);
            }
        }
        // The same bytes as an OP_MSG and an OP_REPLY body behind a valid header.
        for op in [2013i32, 1] {
            let mut message = ((data.len() + 16) as u32).to_le_bytes().to_vec();
            message.extend_from_slice(&[0; 8]);
            message.extend_from_slice(&op.to_le_bytes());
            message.extend_from_slice(data);
            let _ = frame::reply(&message, 0);
        }
    });
    // The bytes as `--query` text: a command, when read, encodes to BSON that decodes to
    // the same document and renders as JSON.
    let raw = text(data);
    if let Ok(command) = timed("mongodb --query", &raw, || command::parse(&raw)) {
        let bytes = command.encode();
        assert_eq!(bson::decode(&bytes).as_ref(), Ok(&command));
        let shown = bson::to_json(&bytes, 1 << 20).unwrap_or_default();
        assert!(
            serde_json::from_str::<serde_json::Value>(&shown).is_ok(),
            "{shown}"
        );
    }
}

#[cfg(any(feature = "kafka", fuzzing))]
/// Kafka replies: every parser, at every version probe speaks, over any bytes, as a body
/// and behind a frame header; what parses holds no more entries than its bytes can encode,
/// and every kept text is one short line.
pub fn kafka(data: &[u8]) {
    use crate::probe::kafka::wire::{self, Reader};
    let data = capped(data);
    let short = |text: &str| {
        assert!(text.len() <= 256, "{} bytes", text.len());
        assert!(!text.chars().any(char::is_control), "{text:?}");
    };
    timed_bytes("kafka replies", data, || {
        for version in [0, 3] {
            if let Ok(versions) = wire::api_versions_reply(Reader::new(data), version) {
                assert!(versions.apis.len() <= data.len() / 6, "{versions:?}");
                let _ = versions.pick(wire::METADATA, wire::METADATA_VERSIONS);
            }
        }
        if let Ok((_, mechanisms)) = wire::sasl_handshake_reply(Reader::new(data)) {
            mechanisms.iter().for_each(|m| short(m));
        }
        for version in 0..=2 {
            if let Ok(reply) = wire::sasl_authenticate_reply(Reader::new(data), version) {
                assert!(reply.auth_bytes.len() <= data.len());
                reply.error_message.iter().for_each(|m| short(m));
            }
        }
        let (min, max) = wire::METADATA_VERSIONS;
        for version in min..=max {
            if let Ok(metadata) = wire::metadata_reply(Reader::new(data), version) {
                assert!(metadata.brokers.len() <= data.len() / 10, "{metadata:?}");
                let partitions: usize = metadata.topics.iter().map(|t| t.partitions.len()).sum();
                assert!(partitions <= data.len() / 14, "{partitions} partitions");
                metadata.brokers.iter().for_each(|b| short(&b.host));
                metadata
                    .topics
                    .iter()
                    .flat_map(|t| &t.name)
                    .for_each(|n| short(n));
            }
        }
        // Behind a frame: the size checked, the correlation id and header tags read.
        if let Ok(Some(length)) = wire::frame_len(data) {
            assert!(length <= wire::MAX_REPLY + 4);
            if let Some(frame) = data.get(..length) {
                for (key, version) in [(wire::API_VERSIONS, 3), (wire::METADATA, 12)] {
                    let _ = wire::reply_body(frame, key, version, 1)
                        .and_then(|r| wire::metadata_reply(r, version).map(drop));
                }
            }
        }
    });
}

/// `probe serve`'s request heads, as a client may send them: any bytes give a request, a
/// refusal or "not yet" without panicking, within the head limit (the first byte picks
/// it); a decision, once made on a prefix, is the decision on every longer input (the
/// server answers as soon as it can, never on a guess that more bytes would change); a
/// request is GET or HEAD for a path of printable ASCII that starts with `/`.
pub fn serve_request(data: &[u8]) {
    use crate::mode::serve::http::{parse, Parsed};
    let data = capped(data);
    let (max, head) = match data.split_first() {
        Some((first, rest)) => (16 + usize::from(*first) * 32, rest),
        None => (64, data),
    };
    // The server keeps at most max + 1 bytes of a head.
    let head = &head[..head.len().min(max + 1)];
    let whole = timed_bytes("serve request", head, || parse(head, max));
    if let Parsed::Request(request) = &whole {
        assert!(request.path.starts_with('/'), "{request:?}");
        assert!(!request.path.contains('?'), "{request:?}");
        for part in [request.path, request.query] {
            assert!(part.bytes().all(|b| b.is_ascii_graphic()), "{request:?}");
        }
    }
    if let Parsed::Refused(status) = whole {
        assert!([400, 405, 431, 505].contains(&status), "{status}");
    }
    for end in 0..head.len() {
        let prefix = parse(&head[..end], max);
        assert!(
            prefix == Parsed::Incomplete || prefix == whole,
            "{:?} decided {prefix:?}, the whole {whole:?}",
            String::from_utf8_lossy(&head[..end])
        );
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    type Property = fn(&[u8]);

    fn target_line(data: &[u8]) {
        super::target_line(data, &|text| match crate::target::parse(text) {
            Ok(targets) => Ok(targets.iter().map(|t| t.probe.target()).collect()),
            Err(error) => Err(error.0),
        });
    }

    const PROPERTIES: &[(&str, Property)] = &[
        ("url", super::url),
        ("target_line", target_line),
        ("duration", super::duration),
        ("size", super::size),
        ("expand", super::expand),
        ("expect_json", super::expect_json),
        ("resp", super::resp),
        ("pg_message", super::pg_message),
        ("mysql", super::mysql),
        ("amqp", super::amqp),
        ("grpc", super::grpc),
        ("dns", super::dns),
        #[cfg(any(feature = "postgres", feature = "mongodb", fuzzing))]
        ("saslprep", super::saslprep),
        ("serve_request", super::serve_request),
        #[cfg(any(feature = "mongodb", fuzzing))]
        ("bson", super::bson),
        #[cfg(any(feature = "kafka", fuzzing))]
        ("kafka", super::kafka),
    ];

    /// Seeded xorshift: the same inputs on every run.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    fn corpus(name: &str) -> Vec<Vec<u8>> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        files
            .iter()
            .map(|file| std::fs::read(file).unwrap())
            .collect()
    }

    #[test]
    fn the_fuzz_corpora_replay_cleanly() {
        for (name, property) in PROPERTIES {
            let seeds = corpus(name);
            assert!(!seeds.is_empty(), "fuzz/corpus/{name} is empty");
            for seed in &seeds {
                property(seed);
            }
        }
    }

    /// Mutations of the corpus (byte flips, inserts of syntax characters, splices).
    #[test]
    fn seeded_mutations_hold_every_property() {
        const SYNTAX: &[u8] = b"$${}:-@/?#%[]&=+.0123456789 '\"\\\xff";
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for (name, property) in PROPERTIES {
            let seeds = corpus(name);
            for _ in 0..1500 {
                let mut input = seeds[rng.next() as usize % seeds.len()].clone();
                for _ in 0..1 + rng.next() % 6 {
                    let at = rng.next() as usize % (input.len() + 1);
                    match rng.next() % 4 {
                        0 if at < input.len() => input[at] ^= 1 << (rng.next() % 8),
                        1 => input.insert(at, SYNTAX[rng.next() as usize % SYNTAX.len()]),
                        2 => {
                            let other = &seeds[rng.next() as usize % seeds.len()];
                            input.splice(at..at, other.iter().copied());
                        }
                        _ if at < input.len() => {
                            input.remove(at);
                        }
                        _ => {}
                    }
                }
                input.truncate(super::MAX_INPUT);
                property(&input);
            }
        }
    }
}
