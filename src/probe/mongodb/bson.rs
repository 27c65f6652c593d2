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

/// The length a document at the start of `bytes` says it has, checked against `bytes`.
pub fn doc_len(bytes: &[u8]) -> Result<usize, String> {
    let length = i32_at(bytes, 0).ok_or("BSON document cut short")?;
    match usize::try_from(length) {
        Ok(length) if (5..=bytes.len()).contains(&length) => Ok(length),
        _ => Err(format!("BSON document length {length} out of bounds")),
    }
}

/// One document at the start of `bytes`, and the bytes it used.
fn read_doc(bytes: &[u8], depth: usize) -> Result<(Doc, usize), String> {
    if depth >= MAX_DEPTH {
        return Err(format!("BSON documents nested deeper than {MAX_DEPTH}"));
    }
    let length = doc_len(bytes)?;
    if bytes[length - 1] != 0 {
        return Err("BSON document does not end with NUL".into());
    }
    // The elements, without the length and the final NUL.
    let mut rest = &bytes[4..length - 1];
    let mut doc = Doc::new();
    while let Some((&tag, after)) = rest.split_first() {
        let (key, after) = cstring(after)?;
        let (value, used) = read_value(tag, after, depth)?;
        doc.0.push((key.to_string(), value));
        rest = &after[used..];
    }
    Ok((doc, length))
}

/// The value of type `tag` at the start of `bytes`, and the bytes it used.
fn read_value(tag: u8, bytes: &[u8], depth: usize) -> Result<(Value, usize), String> {
    let fixed = |size: usize, value: Value| {
        if bytes.len() < size {
            Err(format!("BSON value of type {tag:#04x} cut short"))
        } else {
            Ok((value, size))
        }
    };
    match tag {
        0x01 => fixed(8, Value::Double(f64::from_le_bytes(array8(bytes)))),
        0x02 => {
            let (text, used) = string(bytes)?;
            Ok((Value::String(text.to_string()), used))
        }
        0x03 => read_doc(bytes, depth + 1).map(|(doc, used)| (Value::Doc(doc), used)),
        0x04 => read_doc(bytes, depth + 1).map(|(doc, used)| {
            let items = doc.0.into_iter().map(|(_, value)| value).collect();
            (Value::Array(items), used)
        }),
        0x05 => {
            let length = i32_at(bytes, 0).ok_or("BSON binary cut short")?;
            let length = usize::try_from(length)
                .ok()
                .filter(|length| bytes.len() >= 5 && *length <= bytes.len() - 5)
                .ok_or_else(|| format!("BSON binary length {length} out of bounds"))?;
            let subtype = bytes[4];
            Ok((
                Value::Binary(subtype, bytes[5..5 + length].to_vec()),
                5 + length,
            ))
        }
        0x06 | 0x7f | 0xff => Ok((Value::Other(tag), 0)),
        0x07 => fixed(12, Value::Other(tag)),
        0x08 => match bytes.first() {
            Some(0) => Ok((Value::Bool(false), 1)),
            Some(1) => Ok((Value::Bool(true), 1)),
            Some(other) => Err(format!("BSON boolean {other}")),
            None => Err("BSON boolean cut short".into()),
        },
        0x09 | 0x11 => fixed(8, Value::Other(tag)),
        0x0a => Ok((Value::Null, 0)),
        0x0b => {
            let (_, after) = cstring(bytes)?;
            let (_, rest) = cstring(after)?;
            Ok((Value::Other(tag), bytes.len() - rest.len()))
        }
        0x0c => {
            let (_, used) = string(bytes)?;
            if bytes.len() - used < 12 {
                return Err("BSON DBPointer cut short".into());
            }
            Ok((Value::Other(tag), used + 12))
        }
        0x0d | 0x0e => string(bytes).map(|(_, used)| (Value::Other(tag), used)),
        0x0f => {
            // Code with scope: its own total length, then a string and a document.
            let length = i32_at(bytes, 0).ok_or("BSON code cut short")?;
            let length = usize::try_from(length)
                .ok()
                .filter(|length| (14..=bytes.len()).contains(length))
                .ok_or_else(|| format!("BSON code length {length} out of bounds"))?;
            let inner = &bytes[4..length];
            let (_, used) = string(inner)?;
            let (_, scope) = read_doc(&inner[used..], depth + 1)?;
            if used + scope != inner.len() {
                return Err("BSON code with scope has a wrong length".into());
            }
            Ok((Value::Other(tag), length))
        }
        0x10 => fixed(4, Value::Int32(i32_at(bytes, 0).unwrap_or_default())),
        0x12 => fixed(8, Value::Int64(i64::from_le_bytes(array8(bytes)))),
        0x13 => fixed(16, Value::Other(tag)),
        other => Err(format!("unknown BSON type {other:#04x}")),
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
