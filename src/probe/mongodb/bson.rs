//! The little BSON `probe mongodb` needs: documents of strings, numbers, booleans, binary
//! data, null and nested documents and arrays, written for commands and read from replies.
//! The other types a reply may hold (ObjectId, dates, timestamps, decimals, regular
//! expressions, code) are skipped by their known sizes and kept as [`Value::Other`]; an
//! unknown type byte is an error, since its size cannot be known.
//!
//! Every length is checked against what is left of its enclosing document before it is
//! used, nesting is bounded ([`MAX_DEPTH`]), and the reader allocates only what the input
//! holds: no input can make it panic, loop or reserve memory it was not given. Pure
//! functions over bytes, fuzzed by `fuzz/fuzz_targets/bson.rs` (std only, so the fuzz
//! crate includes this file by path).

/// Documents nested deeper than this are refused (a `hello` reply nests four deep).
pub const MAX_DEPTH: usize = 32;

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Double(f64),
    String(String),
    Doc(Doc),
    Array(Vec<Value>),
    /// Subtype and bytes.
    Binary(u8, Vec<u8>),
    Bool(bool),
    Null,
    Int32(i32),
    Int64(i64),
    /// A value of another known type, skipped: its type byte.
    Other(u8),
}

impl Value {
    /// The value as a number, whichever of BSON's number types it is (`ok` is 1, 1.0 or 1L).
    pub fn number(&self) -> Option<f64> {
        match self {
            Value::Double(number) => Some(*number),
            Value::Int32(number) => Some(f64::from(*number)),
            Value::Int64(number) => Some(*number as f64),
            _ => None,
        }
    }

    /// The value as a boolean, numbers read as drivers read them (`ismaster: 1`).
    pub fn truthy(&self) -> bool {
        match self {
            Value::Bool(flag) => *flag,
            other => other.number().is_some_and(|number| number != 0.0),
        }
    }

    pub fn text(&self) -> Option<&str> {
        match self {
            Value::String(text) => Some(text),
            _ => None,
        }
    }
}

/// A document: its fields in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Doc(pub Vec<(String, Value)>);

impl Doc {
    pub fn new() -> Doc {
        Doc(Vec::new())
    }

    /// The document with one more field.
    pub fn with(mut self, key: &str, value: Value) -> Doc {
        self.0.push((key.to_string(), value));
        self
    }

    /// The first field named `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value)
    }

    /// The document as BSON. Keys are probe's own and hold no NUL; one that did would be
    /// cut at it.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        for (key, value) in &self.0 {
            encode_value(out, key, value);
        }
        out.push(0);
        let length = (out.len() - start) as u32;
        out[start..start + 4].copy_from_slice(&length.to_le_bytes());
    }
}

fn encode_value(out: &mut Vec<u8>, key: &str, value: &Value) {
    let tag = match value {
        Value::Double(_) => 0x01,
        Value::String(_) => 0x02,
        Value::Doc(_) => 0x03,
        Value::Array(_) => 0x04,
        Value::Binary(..) => 0x05,
        Value::Bool(_) => 0x08,
        Value::Null | Value::Other(_) => 0x0a,
        Value::Int32(_) => 0x10,
        Value::Int64(_) => 0x12,
    };
    out.push(tag);
    out.extend(key.bytes().take_while(|b| *b != 0));
    out.push(0);
    match value {
        Value::Double(number) => out.extend_from_slice(&number.to_le_bytes()),
        Value::String(text) => {
            out.extend_from_slice(&(text.len() as u32 + 1).to_le_bytes());
            out.extend_from_slice(text.as_bytes());
            out.push(0);
        }
        Value::Doc(doc) => doc.encode_into(out),
        Value::Array(items) => Doc(items
            .iter()
            .enumerate()
            .map(|(index, item)| (index.to_string(), item.clone()))
            .collect())
        .encode_into(out),
        Value::Binary(subtype, bytes) => {
            out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            out.push(*subtype);
            out.extend_from_slice(bytes);
        }
        Value::Bool(flag) => out.push(u8::from(*flag)),
        Value::Null | Value::Other(_) => {}
        Value::Int32(number) => out.extend_from_slice(&number.to_le_bytes()),
        Value::Int64(number) => out.extend_from_slice(&number.to_le_bytes()),
    }
}

/// Reads exactly one document that fills `bytes`.
pub fn decode(bytes: &[u8]) -> Result<Doc, String> {
    let (doc, used) = read_doc(bytes, 0)?;
    if used != bytes.len() {
        return Err("bytes after the BSON document".into());
    }
    Ok(doc)
}

/// The fields named `keys` at the top level of the one document that fills `bytes`, the
/// rest checked but not kept, nested documents and arrays not built (kept as
/// [`Value::Other`] of their type): the fields a command's reply is judged by (`ok`,
/// `errmsg`, `code`), whatever the size of the rest.
pub fn decode_top(bytes: &[u8], keys: &[&str]) -> Result<Doc, String> {
    let (elements, used) = elements(bytes)?;
    if used != bytes.len() {
        return Err("bytes after the BSON document".into());
    }
    let mut doc = Doc::new();
    for element in elements {
        let (key, raw) = element?;
        let value = match raw {
            Raw::Doc(inner) | Raw::Array(inner) if !keys.contains(&key) => {
                check_doc(inner, 1)?;
                continue;
            }
            _ if !keys.contains(&key) => {
                owned_scalar_check(raw)?;
                continue;
            }
            Raw::Doc(inner) | Raw::Array(inner) => {
                check_doc(inner, 1)?;
                Value::Other(if matches!(raw, Raw::Doc(_)) {
                    0x03
                } else {
                    0x04
                })
            }
            other => owned(other, 0)?,
        };
        doc.0.push((key.to_string(), value));
    }
    Ok(doc)
}

/// Checks what [`owned`] would check of a value that is not a document, without keeping it.
fn owned_scalar_check(raw: Raw) -> Result<(), String> {
    match raw {
        Raw::Other(0x0f, code) => check_code_with_scope(code, 0),
        _ => Ok(()),
    }
}

/// The length a document at the start of `bytes` says it has, checked against `bytes`.
pub fn doc_len(bytes: &[u8]) -> Result<usize, String> {
    let length = i32_at(bytes, 0).ok_or("BSON document cut short")?;
    match usize::try_from(length) {
        Ok(length) if (5..=bytes.len()).contains(&length) => Ok(length),
        _ => Err(format!("BSON document length {length} out of bounds")),
    }
}

/// One value, borrowed from the bytes it is read from: nested documents and arrays are
/// their bytes (read when they are walked), other known types their type byte and bytes.
#[derive(Clone, Copy, Debug)]
pub enum Raw<'a> {
    Double(f64),
    String(&'a str),
    Doc(&'a [u8]),
    Array(&'a [u8]),
    Binary(u8, &'a [u8]),
    Bool(bool),
    Null,
    Int32(i32),
    Int64(i64),
    Other(u8, &'a [u8]),
}

/// The elements of one document, read one at a time: [`elements`].
pub struct Elements<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Elements<'a> {
    type Item = Result<(&'a str, Raw<'a>), String>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&tag, after) = self.rest.split_first()?;
        let element = cstring(after).and_then(|(key, after)| {
            let (value, used) = read_value(tag, after)?;
            Ok((key, value, &after[used..]))
        });
        Some(match element {
            Ok((key, value, rest)) => {
                self.rest = rest;
                Ok((key, value))
            }
            Err(why) => {
                // One error ends the walk.
                self.rest = &[];
                Err(why)
            }
        })
    }
}

/// The document at the start of `bytes`: its elements (each checked as it is read) and the
/// bytes it uses (its length and final NUL checked now).
pub fn elements(bytes: &[u8]) -> Result<(Elements<'_>, usize), String> {
    let length = doc_len(bytes)?;
    if bytes[length - 1] != 0 {
        return Err("BSON document does not end with NUL".into());
    }
    // The elements, without the length and the final NUL.
    let rest = &bytes[4..length - 1];
    Ok((Elements { rest }, length))
}

/// One document at the start of `bytes`, and the bytes it used.
fn read_doc(bytes: &[u8], depth: usize) -> Result<(Doc, usize), String> {
    if depth >= MAX_DEPTH {
        return Err(format!("BSON documents nested deeper than {MAX_DEPTH}"));
    }
    let (elements, length) = elements(bytes)?;
    let mut doc = Doc::new();
    for element in elements {
        let (key, raw) = element?;
        doc.0.push((key.to_string(), owned(raw, depth)?));
    }
    Ok((doc, length))
}

/// Walks a whole document (nesting bounded) without keeping it.
fn check_doc(bytes: &[u8], depth: usize) -> Result<usize, String> {
    if depth >= MAX_DEPTH {
        return Err(format!("BSON documents nested deeper than {MAX_DEPTH}"));
    }
    let (elements, length) = elements(bytes)?;
    for element in elements {
        match element? {
            (_, Raw::Doc(inner) | Raw::Array(inner)) => {
                check_doc(inner, depth + 1)?;
            }
            (_, Raw::Other(0x0f, code)) => check_code_with_scope(code, depth)?,
            _ => {}
        }
    }
    Ok(length)
}

/// A value read from its bytes, nested documents built (`depth` is the enclosing one's).
fn owned(raw: Raw, depth: usize) -> Result<Value, String> {
    Ok(match raw {
        Raw::Double(number) => Value::Double(number),
        Raw::String(text) => Value::String(text.to_string()),
        Raw::Doc(bytes) => Value::Doc(read_doc(bytes, depth + 1)?.0),
        Raw::Array(bytes) => {
            let (Doc(items), _) = read_doc(bytes, depth + 1)?;
            Value::Array(items.into_iter().map(|(_, value)| value).collect())
        }
        Raw::Binary(subtype, bytes) => Value::Binary(subtype, bytes.to_vec()),
        Raw::Bool(flag) => Value::Bool(flag),
        Raw::Null => Value::Null,
        Raw::Int32(number) => Value::Int32(number),
        Raw::Int64(number) => Value::Int64(number),
        Raw::Other(0x0f, code) => {
            check_code_with_scope(code, depth)?;
            Value::Other(0x0f)
        }
        Raw::Other(tag, _) => Value::Other(tag),
    })
}

/// Code with scope: its own total length, then a string and a document, filling it.
fn check_code_with_scope(bytes: &[u8], depth: usize) -> Result<(), String> {
    let inner = &bytes[4..];
    let (_, used) = string(inner)?;
    let scope = check_doc(&inner[used..], depth + 1)?;
    if used + scope != inner.len() {
        return Err("BSON code with scope has a wrong length".into());
    }
    Ok(())
}

/// The value of type `tag` at the start of `bytes`, and the bytes it used. Nested
/// documents are measured here and read by whoever walks them.
fn read_value(tag: u8, bytes: &[u8]) -> Result<(Raw<'_>, usize), String> {
    let fixed = |size: usize| {
        if bytes.len() < size {
            Err(format!("BSON value of type {tag:#04x} cut short"))
        } else {
            Ok((Raw::Other(tag, &bytes[..size]), size))
        }
    };
    match tag {
        0x01 => fixed(8).map(|(_, used)| (Raw::Double(f64::from_le_bytes(array8(bytes))), used)),
        0x02 => {
            let (text, used) = string(bytes)?;
            Ok((Raw::String(text), used))
        }
        0x03 | 0x04 => {
            let length = doc_len(bytes)?;
            let inner = &bytes[..length];
            Ok((
                if tag == 0x03 {
                    Raw::Doc(inner)
                } else {
                    Raw::Array(inner)
                },
                length,
            ))
        }
        0x05 => {
            let length = i32_at(bytes, 0).ok_or("BSON binary cut short")?;
            let length = usize::try_from(length)
                .ok()
                .filter(|length| bytes.len() >= 5 && *length <= bytes.len() - 5)
                .ok_or_else(|| format!("BSON binary length {length} out of bounds"))?;
            Ok((Raw::Binary(bytes[4], &bytes[5..5 + length]), 5 + length))
        }
        0x06 | 0x7f | 0xff => fixed(0),
        0x07 => fixed(12),
        0x08 => match bytes.first() {
            Some(0) => Ok((Raw::Bool(false), 1)),
            Some(1) => Ok((Raw::Bool(true), 1)),
            Some(other) => Err(format!("BSON boolean {other}")),
            None => Err("BSON boolean cut short".into()),
        },
        0x09 | 0x11 => fixed(8),
        0x0a => Ok((Raw::Null, 0)),
        0x0b => {
            let (_, after) = cstring(bytes)?;
            let (_, rest) = cstring(after)?;
            fixed(bytes.len() - rest.len())
        }
        0x0c => {
            let (_, used) = string(bytes)?;
            if bytes.len() - used < 12 {
                return Err("BSON DBPointer cut short".into());
            }
            fixed(used + 12)
        }
        0x0d | 0x0e => string(bytes).and_then(|(_, used)| fixed(used)),
        0x0f => {
            // Code with scope: checked by whoever walks it (its scope is a document).
            let length = i32_at(bytes, 0).ok_or("BSON code cut short")?;
            let length = usize::try_from(length)
                .ok()
                .filter(|length| (14..=bytes.len()).contains(length))
                .ok_or_else(|| format!("BSON code length {length} out of bounds"))?;
            fixed(length)
        }
        0x10 => fixed(4).map(|(_, used)| (Raw::Int32(i32_at(bytes, 0).unwrap_or_default()), used)),
        0x12 => fixed(8).map(|(_, used)| (Raw::Int64(i64::from_le_bytes(array8(bytes))), used)),
        0x13 => fixed(16),
        other => Err(format!("unknown BSON type {other:#04x}")),
    }
}

/// The one document that fills `bytes` as JSON text, written as it is walked (no tree):
/// MongoDB's relaxed Extended JSON (as pymongo's `json_util` writes it), but that a double
/// without a fraction is written as an integer (`ok: 1.0` is `1`, as mongosh shows it),
/// dates in their canonical form (`{"$date":{"$numberLong":"ms"}}`, no calendar here),
/// and DBPointers and decimals only named (`{"$bsonType":"decimal"}`). Fails when the
/// text would pass `limit` bytes.
pub fn to_json(bytes: &[u8], limit: usize) -> Result<String, String> {
    // Measured first, then written into exactly its size: the text costs its own bytes
    // and never a larger buffer (a string escaped sixfold is refused before it is written).
    let mut count = Count(0);
    let used = write_doc(bytes, 0, false, &mut count, limit)?;
    if used != bytes.len() {
        return Err("bytes after the BSON document".into());
    }
    if count.0 > limit {
        return Err(too_long(limit));
    }
    let mut out = Vec::with_capacity(count.0);
    write_doc(bytes, 0, false, &mut out, limit)?;
    // Every piece written is UTF-8: keys and strings were checked, the rest is ASCII.
    String::from_utf8(out).map_err(|_| "BSON text is not UTF-8".into())
}

fn too_long(limit: usize) -> String {
    format!("reply longer than {} KiB as JSON", limit / 1024)
}

/// Where JSON text goes: its bytes, or only their count.
trait Text {
    fn add(&mut self, bytes: &[u8]);
    fn len(&self) -> usize;
}

impl Text for Vec<u8> {
    fn add(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }

    fn len(&self) -> usize {
        Vec::len(self)
    }
}

/// The first pass of [`to_json`]: how long the text is.
struct Count(usize);

impl Text for Count {
    fn add(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }

    fn len(&self) -> usize {
        self.0
    }
}

/// A [`Text`] as a writer, for formatting and for serde_json's string escaping.
struct Writer<'a>(&'a mut dyn Text);

impl std::io::Write for Writer<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.add(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn write_doc(
    bytes: &[u8],
    depth: usize,
    array: bool,
    out: &mut dyn Text,
    limit: usize,
) -> Result<usize, String> {
    if depth >= MAX_DEPTH {
        return Err(format!("BSON documents nested deeper than {MAX_DEPTH}"));
    }
    let (elements, length) = elements(bytes)?;
    out.add(&[if array { b'[' } else { b'{' }]);
    for (index, element) in elements.enumerate() {
        let (key, raw) = element?;
        if index > 0 {
            out.add(b",");
        }
        if !array {
            json_string(out, key);
            out.add(b":");
        }
        write_value(raw, depth, out, limit)?;
        if out.len() > limit {
            return Err(too_long(limit));
        }
    }
    out.add(&[if array { b']' } else { b'}' }]);
    Ok(length)
}

fn write_value(raw: Raw, depth: usize, out: &mut dyn Text, limit: usize) -> Result<(), String> {
    match raw {
        Raw::Double(number)
            if number.is_finite() && number.fract() == 0.0 && number.abs() < 9e15 =>
        {
            put(out, format_args!("{}", number as i64))
        }
        Raw::Double(number) if number.is_finite() => {
            // serde_json's float writer, already in the binary (core's is KBs more).
            let _ = serde_json::to_writer(Writer(out), &number);
        }
        Raw::Double(number) => {
            let name = match number {
                n if n.is_nan() => "NaN",
                n if n > 0.0 => "Infinity",
                _ => "-Infinity",
            };
            put(out, format_args!("{{\"$numberDouble\":\"{name}\"}}"))
        }
        Raw::String(text) => json_string(out, text),
        Raw::Doc(inner) => {
            write_doc(inner, depth + 1, false, out, limit)?;
        }
        Raw::Array(inner) => {
            write_doc(inner, depth + 1, true, out, limit)?;
        }
        Raw::Binary(subtype, bytes) => {
            out.add(b"{\"$binary\":{\"base64\":\"");
            base64(out, bytes);
            put(out, format_args!("\",\"subType\":\"{subtype:02x}\"}}}}"));
        }
        Raw::Bool(flag) => put(out, format_args!("{flag}")),
        Raw::Null => out.add(b"null"),
        Raw::Int32(number) => put(out, format_args!("{number}")),
        Raw::Int64(number) => put(out, format_args!("{number}")),
        Raw::Other(0x07, id) => {
            out.add(b"{\"$oid\":\"");
            for byte in id {
                put(out, format_args!("{byte:02x}"));
            }
            out.add(b"\"}");
        }
        Raw::Other(0x09, millis) => put(
            out,
            format_args!(
                "{{\"$date\":{{\"$numberLong\":\"{}\"}}}}",
                i64::from_le_bytes(array8(millis))
            ),
        ),
        Raw::Other(0x11, stamp) => put(
            out,
            format_args!(
                "{{\"$timestamp\":{{\"t\":{},\"i\":{}}}}}",
                i32_at(stamp, 4).unwrap_or_default() as u32,
                i32_at(stamp, 0).unwrap_or_default() as u32
            ),
        ),
        Raw::Other(0x0b, regex) => {
            let (pattern, after) = cstring(regex)?;
            let (options, _) = cstring(after)?;
            out.add(b"{\"$regularExpression\":{\"pattern\":");
            json_string(out, pattern);
            out.add(b",\"options\":");
            json_string(out, options);
            out.add(b"}}");
        }
        Raw::Other(0x0f, code) => {
            check_code_with_scope(code, depth)?;
            let (text, used) = string(&code[4..])?;
            out.add(b"{\"$code\":");
            json_string(out, text);
            out.add(b",\"$scope\":");
            write_doc(&code[4 + used..], depth + 1, false, out, limit)?;
            out.add(b"}");
        }
        Raw::Other(tag @ (0x0d | 0x0e), text) => {
            let (text, _) = string(text)?;
            let key = if tag == 0x0d { "$code" } else { "$symbol" };
            put(out, format_args!("{{\"{key}\":"));
            json_string(out, text);
            out.add(b"}");
        }
        Raw::Other(0x06, _) => out.add(br#"{"$undefined":true}"#),
        Raw::Other(0x7f, _) => out.add(br#"{"$maxKey":1}"#),
        Raw::Other(0xff, _) => out.add(br#"{"$minKey":1}"#),
        // DBPointer (deprecated since 1.x) and Decimal128, which no command probe knows of
        // answers with: named, not converted.
        Raw::Other(tag, _) => {
            let name = if tag == 0x0c { "dbPointer" } else { "decimal" };
            put(out, format_args!("{{\"$bsonType\":\"{name}\"}}"));
        }
    }
    Ok(())
}

fn put(out: &mut dyn Text, text: std::fmt::Arguments) {
    use std::io::Write as _;
    // Writing to a Text cannot fail.
    let _ = Writer(out).write_fmt(text);
}

/// `text` as a JSON string, escaped as serde_json escapes it.
fn json_string(out: &mut dyn Text, text: &str) {
    // Writing a &str to a Text cannot fail.
    let _ = serde_json::to_writer(Writer(out), text);
}

/// Standard base64 with padding, as Extended JSON writes binary data.
fn base64(out: &mut dyn Text, bytes: &[u8]) {
    const DIGITS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, byte)| n | u32::from(*byte) << (16 - 8 * i));
        for i in 0..4 {
            out.add(&[match i <= chunk.len() {
                true => DIGITS[(n >> (18 - 6 * i)) as usize & 63],
                false => b'=',
            }]);
        }
    }
}

/// A NUL-terminated UTF-8 key at the start of `bytes`, and what follows its NUL.
fn cstring(bytes: &[u8]) -> Result<(&str, &[u8]), String> {
    let end = bytes
        .iter()
        .position(|b| *b == 0)
        .ok_or("BSON key without its NUL")?;
    let text = std::str::from_utf8(&bytes[..end]).map_err(|_| "BSON key is not UTF-8")?;
    Ok((text, &bytes[end + 1..]))
}

/// A BSON string (length with its NUL, bytes, NUL) and the bytes it used.
fn string(bytes: &[u8]) -> Result<(&str, usize), String> {
    let length = i32_at(bytes, 0).ok_or("BSON string cut short")?;
    let length = usize::try_from(length)
        .ok()
        .filter(|length| (1..=bytes.len() - 4).contains(length))
        .ok_or_else(|| format!("BSON string length {length} out of bounds"))?;
    let body = &bytes[4..4 + length];
    if body[length - 1] != 0 {
        return Err("BSON string does not end with NUL".into());
    }
    let text = std::str::from_utf8(&body[..length - 1]).map_err(|_| "BSON string is not UTF-8")?;
    Ok((text, 4 + length))
}

pub fn i32_at(bytes: &[u8], at: usize) -> Option<i32> {
    let four = bytes.get(at..at.checked_add(4)?)?;
    Some(i32::from_le_bytes([four[0], four[1], four[2], four[3]]))
}

/// The first 8 bytes (zeros past the end; callers check the length first).
fn array8(bytes: &[u8]) -> [u8; 8] {
    let mut out = [0; 8];
    let n = bytes.len().min(8);
    out[..n].copy_from_slice(&bytes[..n]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_types_probe_writes() {
        let doc = Doc::new()
            .with("hello", Value::Int32(1))
            .with("d", Value::Double(1.5))
            .with("s", Value::String("admin".into()))
            .with(
                "sub",
                Value::Doc(Doc::new().with("skipEmptyExchange", Value::Bool(true))),
            )
            .with("a", Value::Array(vec![Value::Int64(-2), Value::Null]))
            .with("b", Value::Binary(0, b"n,,n=u".to_vec()));
        let bytes = doc.encode();
        assert_eq!(decode(&bytes).unwrap(), doc);
        // {"a": 1} as every BSON library writes it.
        assert_eq!(
            Doc::new().with("a", Value::Int32(1)).encode(),
            b"\x0c\x00\x00\x00\x10a\x00\x01\x00\x00\x00\x00"
        );
    }

    #[test]
    fn skips_known_types_and_refuses_unknown_ones() {
        // {oid: ObjectId, t: Timestamp, ok: 1.0}
        let mut body = vec![0x07];
        body.extend_from_slice(b"oid\0");
        body.extend_from_slice(&[7; 12]);
        body.push(0x11);
        body.extend_from_slice(b"t\0");
        body.extend_from_slice(&[1; 8]);
        body.push(0x01);
        body.extend_from_slice(b"ok\0");
        body.extend_from_slice(&1.0f64.to_le_bytes());
        let mut bytes = ((body.len() + 5) as u32).to_le_bytes().to_vec();
        bytes.extend_from_slice(&body);
        bytes.push(0);
        let doc = decode(&bytes).unwrap();
        assert_eq!(doc.get("oid"), Some(&Value::Other(0x07)));
        assert_eq!(doc.get("ok").and_then(Value::number), Some(1.0));
        bytes[4] = 0x42;
        assert!(decode(&bytes).unwrap_err().contains("unknown BSON type"));
    }

    /// Every BSON type as pymongo's encoder writes it, and a real server's `hello` reply
    /// (fuzz/corpus/bson, written by pymongo and SecantusDB).
    #[test]
    fn reads_what_pymongo_and_a_server_write() {
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/bson");
        let types = decode(&std::fs::read(corpus.join("types.bson")).unwrap()).unwrap();
        assert_eq!(types.get("d"), Some(&Value::Double(1.5)));
        assert_eq!(types.get("i"), Some(&Value::Int64(-5)));
        assert_eq!(types.get("bin"), Some(&Value::Binary(4, vec![1, 2])));
        let Some(Value::Doc(inner)) = types.get("o") else {
            panic!("{types:?}")
        };
        assert_eq!(
            inner.get("a"),
            Some(&Value::Array(vec![
                Value::Int32(1),
                Value::Int32(2),
                Value::Doc(Doc::new().with("b", Value::Null))
            ]))
        );
        for (key, tag) in [
            ("oid", 7),
            ("dt", 9),
            ("ts", 0x11),
            ("re", 0x0b),
            ("code", 0x0f),
        ] {
            assert_eq!(types.get(key), Some(&Value::Other(tag)), "{key}");
        }
        assert_eq!(types.0.len(), 14);
        let hello = decode(&std::fs::read(corpus.join("hello.bson")).unwrap()).unwrap();
        assert_eq!(hello.get("isWritablePrimary"), Some(&Value::Bool(true)));
    }

    /// As pymongo's `json_util.dumps(doc, json_options=RELAXED_JSON_OPTIONS)` writes
    /// types.bson, but the date (canonical), the decimal (named) and the spaces.
    #[test]
    fn writes_relaxed_extended_json() {
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/bson");
        let bytes = std::fs::read(corpus.join("types.bson")).unwrap();
        assert_eq!(
            to_json(&bytes, 1 << 20).unwrap(),
            r#"{"d":1.5,"s":"x","o":{"a":[1,2,{"b":null}]},"#.to_string()
                + r#""bin":{"$binary":{"base64":"AQI=","subType":"04"}},"t":true,"i":-5,"#
                + r#""oid":{"$oid":"6b15922e1e1dda4de3b11270"},"#
                + r#""dt":{"$date":{"$numberLong":"1577836800000"}},"#
                + r#""ts":{"$timestamp":{"t":1,"i":2}},"#
                + r#""re":{"$regularExpression":{"pattern":"a.*","options":"i"}},"#
                + r#""code":{"$code":"x","$scope":{"y":1}},"dec":{"$bsonType":"decimal"},"#
                + r#""min":{"$minKey":1},"max":{"$maxKey":1}}"#
        );
        let numbers = Doc::new()
            .with("ok", Value::Double(1.0))
            .with("big", Value::Double(1e300))
            .with("nan", Value::Double(f64::NAN))
            .with("s", Value::String("\"\u{1}é".into()))
            .encode();
        assert_eq!(
            to_json(&numbers, 1 << 20).unwrap(),
            r#"{"ok":1,"big":1e+300,"nan":{"$numberDouble":"NaN"},"s":"\"\u0001é"}"#
        );
        assert!(to_json(&numbers, 20).unwrap_err().contains("longer than"));
    }

    #[test]
    fn refuses_bad_lengths_and_deep_nesting() {
        assert!(decode(b"").is_err());
        assert!(decode(b"\x05\x00\x00\x00").is_err());
        assert!(decode(b"\xff\xff\xff\x7f\x00").is_err());
        assert!(decode(b"\x05\x00\x00\x00\x01").is_err());
        // A string claiming more than the document holds.
        assert!(decode(b"\x0e\x00\x00\x00\x02s\x00\xff\x00\x00\x00x\x00\x00").is_err());
        let mut doc = Doc::new();
        for _ in 0..MAX_DEPTH + 1 {
            doc = Doc::new().with("x", Value::Doc(doc));
        }
        assert!(decode(&doc.encode()).unwrap_err().contains("nested"));
    }
}
