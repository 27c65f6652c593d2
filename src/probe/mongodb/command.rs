//! `--query`'s command document: JSON text as the user writes it (`{"ping":1}`,
//! `{"replSetGetStatus":1}`) read into BSON with its keys in order, since a command's name
//! is its first key (serde_json's own map would sort them).
//!
//! Numbers become what mongosh makes of them: an integer that fits in 32 bits an Int32,
//! a larger one an Int64, anything else a Double. Strings, booleans, null, arrays and
//! objects map one to one; Extended JSON's `$`-wrappers are not read (a command that
//! needs an ObjectId or a date is not a health check). The text is bounded
//! ([`MAX_TEXT`]) and so is its nesting ([`super::bson::MAX_DEPTH`]). Pure functions,
//! fuzzed with the BSON reader (`fuzz/fuzz_targets/bson.rs`).

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};

use super::bson::{Doc, Value, MAX_DEPTH};

/// Longest `--query` text: a health check's command is a few dozen bytes.
pub const MAX_TEXT: usize = 16 * 1024;

/// The command document `text` holds, or why it is not one.
pub fn parse(text: &str) -> Result<Doc, String> {
    if text.len() > MAX_TEXT {
        return Err(format!("is longer than {} KiB", MAX_TEXT / 1024));
    }
    // from_slice: the reader `--expect-json` already instantiates (a second is KBs more).
    let mut parser = serde_json::Deserializer::from_slice(text.as_bytes());
    let value = Seed { depth: 0 }
        .deserialize(&mut parser)
        .and_then(|value| parser.end().map(|()| value))
        .map_err(|error| format!("is not JSON ({error})"))?;
    match value {
        Value::Doc(doc) if doc.0.is_empty() => {
            Err("is an empty document (write e.g. {\"ping\":1})".into())
        }
        Value::Doc(doc) => Ok(doc),
        _ => Err("is not a JSON object (write e.g. {\"ping\":1})".into()),
    }
}

/// One JSON value at nesting `depth`.
#[derive(Clone, Copy)]
struct Seed {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Seed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Seed {
    fn inner<E: serde::de::Error>(self) -> Result<Seed, E> {
        match self.depth + 1 < MAX_DEPTH {
            true => Ok(Seed {
                depth: self.depth + 1,
            }),
            false => Err(E::custom(format!("nested deeper than {MAX_DEPTH}"))),
        }
    }
}

impl<'de> Visitor<'de> for Seed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, flag: bool) -> Result<Value, E> {
        Ok(Value::Bool(flag))
    }

    fn visit_i64<E>(self, number: i64) -> Result<Value, E> {
        Ok(integer(number))
    }

    fn visit_u64<E>(self, number: u64) -> Result<Value, E> {
        Ok(match i64::try_from(number) {
            Ok(signed) => integer(signed),
            Err(_) => Value::Double(number as f64),
        })
    }

    fn visit_f64<E>(self, number: f64) -> Result<Value, E> {
        Ok(Value::Double(number))
    }

    fn visit_str<E>(self, text: &str) -> Result<Value, E> {
        Ok(Value::String(text.to_string()))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Value, A::Error> {
        let seed = self.inner()?;
        let mut out = Vec::new();
        while let Some(item) = items.next_element_seed(seed)? {
            out.push(item);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut fields: A) -> Result<Value, A::Error> {
        let seed = self.inner()?;
        let mut doc = Doc::new();
        while let Some(key) = fields.next_key::<String>()? {
            if key.contains('\0') {
                return Err(A::Error::custom("a key holds a NUL character"));
            }
            if doc.get(&key).is_some() {
                return Err(A::Error::custom(format!("the key {key:?} is given twice")));
            }
            let value = fields.next_value_seed(seed)?;
            doc.0.push((key, value));
        }
        Ok(Value::Doc(doc))
    }
}

/// An integer as mongosh types it: Int32 when it fits, else Int64.
fn integer(number: i64) -> Value {
    match i32::try_from(number) {
        Ok(small) => Value::Int32(small),
        Err(_) => Value::Int64(number),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_order_and_mongosh_number_types() {
        let doc = parse(
            r#"{"replSetGetStatus": 1, "b": 3000000000, "a": [1.5, null, "x", {"t": true}]}"#,
        )
        .unwrap();
        assert_eq!(
            doc,
            Doc::new()
                .with("replSetGetStatus", Value::Int32(1))
                .with("b", Value::Int64(3_000_000_000))
                .with(
                    "a",
                    Value::Array(vec![
                        Value::Double(1.5),
                        Value::Null,
                        Value::String("x".into()),
                        Value::Doc(Doc::new().with("t", Value::Bool(true))),
                    ])
                )
        );
        assert_eq!(
            parse(r#"{"n": 18446744073709551615}"#).unwrap().get("n"),
            Some(&Value::Double(18446744073709551615.0))
        );
    }

    #[test]
    fn refuses_what_is_not_one_command() {
        for (text, why) in [
            ("", "not JSON"),
            ("[1]", "not a JSON object"),
            ("{}", "empty document"),
            ("{\"ping\":1} x", "not JSON"),
            ("{\"a\":1,\"a\":2}", "twice"),
            ("{\"a\\u0000\":1}", "NUL"),
        ] {
            let error = parse(text).unwrap_err();
            assert!(error.contains(why), "{text}: {error}");
        }
        let deep = format!("{}1{}", "{\"a\":".repeat(40), "}".repeat(40));
        assert!(parse(&deep).unwrap_err().contains("nested deeper"));
        let long = format!("{{\"ping\":\"{}\"}}", "x".repeat(MAX_TEXT));
        assert!(parse(&long).unwrap_err().contains("longer"));
    }
}
