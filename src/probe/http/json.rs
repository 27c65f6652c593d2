//! `--expect-json` without a value tree: the body is parsed once per pointer by serde_json's
//! own parser, descending only along the pointer and passing over everything else, so a
//! 1 MiB body costs its bytes and a few KiB, never the 16x of a `serde_json::Value` tree
//! (an array of 500,000 zeros is 16 MiB of `Value`s).
//!
//! The verdict and every text are those of the tree it replaces (`Value::pointer`, then the
//! value's text compared and shown): the same parser calls (`deserialize_any` everywhere,
//! never serde's `IgnoredAny`, whose skipping checks less) give the same errors at the same
//! line and column; a repeated key means its last value, as when it is inserted into a map;
//! a value is shown as `Value::to_string` prints it (object keys sorted), at most
//! [`SHOWN_CHARS`] characters. Objects are the one place where that needs care: their keys
//! print sorted, so [`Canon`] keeps, per object, only the smallest keys whose text can
//! still fall within the [`CAP`] bytes it builds. A value too long to show whole is compared
//! by a second pass ([`Equals`]) against the expected value, parsed from the rule.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// Characters of a value that a reason shows before "...".
pub const SHOWN_CHARS: usize = 80;

/// Bytes of a value's text built to show it: [`SHOWN_CHARS`] characters of up to 4 bytes,
/// and slack for the few bytes a cut at a character boundary loses.
const CAP: usize = 4 * SHOWN_CHARS + 80;

/// What a pointer names in a document.
pub struct Found {
    /// As `Value::to_string` prints it, shortened to [`SHOWN_CHARS`] characters and "...".
    pub shown: String,
    /// One of the accepted texts is the value's (a string's own text, else its JSON).
    pub accepted: bool,
}

/// Looks `pointer` (RFC 6901, as `Value::pointer` reads it) up in `body`: `Ok(None)` when
/// nothing is there, `Err` when the body is not JSON.
pub fn find(body: &[u8], pointer: &str, accepted: &[String]) -> Result<Option<Found>, String> {
    let tokens: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|token| token.replace("~1", "/").replace("~0", "~"))
        .collect();
    let Some(held) = walk(body, &tokens, Canon { cap: CAP })? else {
        return Ok(None);
    };
    let is_string = held.text.starts_with('"');
    let accepted = if !held.cut {
        let own = match is_string {
            true => serde_json::from_str::<String>(&held.text).unwrap_or_default(),
            false => held.text.clone(),
        };
        accepted.contains(&own)
    } else {
        // Too long to hold: only an expected value whose JSON starts with the part held can
        // be it, and a second pass compares the rest as it goes by.
        let mut any = false;
        for expected in accepted {
            let expected = match is_string {
                true => Value::String(expected.clone()),
                false => match serde_json::from_str::<Value>(expected) {
                    Ok(value) if !value.is_string() && text(&value) == *expected => value,
                    _ => continue,
                },
            };
            if expected.to_string().starts_with(&held.text)
                && walk(body, &tokens, Equals(Some(&expected)))? == Some(true)
            {
                any = true;
                break;
            }
        }
        any
    };
    Ok(Some(Found {
        shown: shorten(&held.text),
        accepted,
    }))
}

/// The first [`SHOWN_CHARS`] characters and "...", or the whole text.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

/// Parses the whole body, running `at` on the value the tokens name.
fn walk<'de, S>(body: &'de [u8], tokens: &[String], at: S) -> Result<Option<S::Value>, String>
where
    S: DeserializeSeed<'de> + Clone,
{
    let mut parser = serde_json::Deserializer::from_slice(body);
    let found = Along { tokens, at }
        .deserialize(&mut parser)
        .and_then(|found| parser.end().map(|()| found));
    found.map_err(|error| format!("body is not JSON ({error})"))
}

/// `Value::pointer`'s array index: digits, no sign, no leading zero.
fn array_index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
        return None;
    }
    token.parse().ok()
}

/// Every visitor here takes what serde_json's `deserialize_any` hands out: the same calls
/// as a `Value` gets, so the same errors.
macro_rules! scalars {
    (|$self:ident, $value:ident| $body:expr) => {
        fn visit_bool<E>($self, $value: bool) -> Result<Self::Value, E> {
            let $value = Value::from($value);
            Ok($body)
        }
        fn visit_i64<E>($self, $value: i64) -> Result<Self::Value, E> {
            let $value = Value::from($value);
            Ok($body)
        }
        fn visit_u64<E>($self, $value: u64) -> Result<Self::Value, E> {
            let $value = Value::from($value);
            Ok($body)
        }
        fn visit_f64<E>($self, $value: f64) -> Result<Self::Value, E> {
            let $value = Value::from($value);
            Ok($body)
        }
        fn visit_unit<E>($self) -> Result<Self::Value, E> {
            let $value = Value::Null;
            Ok($body)
        }
    };
}

/// Descends along the tokens, passing over every other value.
struct Along<'t, S> {
    tokens: &'t [String],
    at: S,
}

impl<'de, S> DeserializeSeed<'de> for Along<'_, S>
where
    S: DeserializeSeed<'de> + Clone,
{
    type Value = Option<S::Value>;

    fn deserialize<D: Deserializer<'de>>(self, parser: D) -> Result<Self::Value, D::Error> {
        match self.tokens.is_empty() {
            true => self.at.deserialize(parser).map(Some),
            false => parser.deserialize_any(self),
        }
    }
}

impl<'de, S> Visitor<'de> for Along<'_, S>
where
    S: DeserializeSeed<'de> + Clone,
{
    type Value = Option<S::Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    scalars!(|self, _value| None);

    fn visit_str<E>(self, _text: &str) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Self::Value, A::Error> {
        let wanted = array_index(&self.tokens[0]);
        let mut found = None;
        for index in 0.. {
            if Some(index) == wanted {
                let next = Along {
                    tokens: &self.tokens[1..],
                    at: self.at.clone(),
                };
                match items.next_element_seed(next)? {
                    Some(value) => found = value,
                    None => break,
                }
            } else if items.next_element_seed(Skip)?.is_none() {
                break;
            }
        }
        Ok(found)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut fields: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(hit) = fields.next_key_seed(KeyIs(&self.tokens[0]))? {
            if hit {
                // A repeated key: its last value is the one a map keeps.
                found = fields.next_value_seed(Along {
                    tokens: &self.tokens[1..],
                    at: self.at.clone(),
                })?;
            } else {
                fields.next_value_seed(Skip)?;
            }
        }
        Ok(found)
    }
}

/// Whether an object's key is this one.
struct KeyIs<'t>(&'t str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, parser: D) -> Result<bool, D::Error> {
        parser.deserialize_str(self)
    }
}

impl Visitor<'_> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E>(self, key: &str) -> Result<bool, E> {
        Ok(key == self.0)
    }
}

/// Passes over a value, checking it as a `Value` would be.
#[derive(Clone, Copy)]
struct Skip;

impl<'de> DeserializeSeed<'de> for Skip {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, parser: D) -> Result<(), D::Error> {
        parser.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    scalars!(|self, _value| ());

    fn visit_str<E>(self, _text: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        while items.next_element_seed(Skip)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut fields: A) -> Result<(), A::Error> {
        while fields.next_key_seed(Skip)?.is_some() {
            fields.next_value_seed(Skip)?;
        }
        Ok(())
    }
}

/// The start of a value's text as `Value::to_string` prints it: at most `cap` bytes, and
/// `cut` when the whole text is longer. A cut text holds at least `cap - 4` bytes.
#[derive(Clone, Debug, Default)]
struct Capped {
    text: String,
    cap: usize,
    cut: bool,
}

impl Capped {
    fn new(cap: usize) -> Self {
        Capped {
            text: String::new(),
            cap,
            cut: false,
        }
    }

    fn room(&self) -> usize {
        self.cap.saturating_sub(self.text.len())
    }

    fn push(&mut self, part: &str) {
        if self.cut {
            return;
        }
        let room = self.room();
        if part.len() <= room {
            self.text.push_str(part);
        } else {
            self.text.push_str(&part[..floor_boundary(part, room)]);
            self.cut = true;
        }
    }

    /// A value's text built with the room left (`Canon { cap: self.room() }`).
    fn push_capped(&mut self, part: &Capped) {
        self.push(&part.text);
        self.cut |= part.cut;
    }
}

fn floor_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// A value's text as `Value::to_string` prints it: what rules compare, where equal
/// numbers can differ (`0.0`, `-0.0`).
fn text(value: &Value) -> String {
    value.to_string()
}

/// JSON text of a string, quoted and escaped as serde_json writes it.
fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// Builds a value's text, at most `cap` bytes (see [`Capped`]).
#[derive(Clone, Copy)]
struct Canon {
    cap: usize,
}

impl<'de> DeserializeSeed<'de> for Canon {
    type Value = Capped;

    fn deserialize<D: Deserializer<'de>>(self, parser: D) -> Result<Capped, D::Error> {
        parser.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Canon {
    type Value = Capped;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    scalars!(|self, value| {
        let mut text = Capped::new(self.cap);
        text.push(&value.to_string());
        text
    });

    fn visit_str<E>(self, value: &str) -> Result<Capped, E> {
        let mut text = Capped::new(self.cap);
        // Escaping never shortens: `cap` bytes of the string are enough to fill the text.
        let head = &value[..floor_boundary(value, value.len().min(self.cap))];
        let json = quoted(head);
        if head.len() == value.len() {
            text.push(&json);
        } else {
            text.push(&json[..json.len() - 1]);
            text.cut = true;
        }
        Ok(text)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Capped, A::Error> {
        let mut text = Capped::new(self.cap);
        text.push("[");
        let mut first = true;
        loop {
            if text.cut {
                if items.next_element_seed(Skip)?.is_none() {
                    break;
                }
                continue;
            }
            if !first {
                // Only written once the element is known to exist.
                let room = text.room().saturating_sub(1);
                match items.next_element_seed(Canon { cap: room })? {
                    Some(item) => {
                        text.push(",");
                        text.push_capped(&item);
                    }
                    None => break,
                }
            } else {
                match items.next_element_seed(Canon { cap: text.room() })? {
                    Some(item) => text.push_capped(&item),
                    None => break,
                }
                first = false;
            }
        }
        text.push("]");
        Ok(text)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut fields: A) -> Result<Capped, A::Error> {
        // Keys print sorted, so which come first is known only at the end. A key can only
        // appear within `cap` if the keys before it, each at least `"key":0,`, leave room:
        // the others are dropped, which keeps this to a few dozen short entries.
        let mut kept: Vec<Entry> = Vec::new();
        let mut dropped = false;
        while let Some(key) = fields.next_key::<String>()? {
            let at = kept.partition_point(|entry| entry.key < key);
            let start = 1 + kept[..at].iter().map(|entry| entry.least).sum::<usize>();
            if start >= self.cap {
                dropped = true;
                fields.next_value_seed(Skip)?;
                continue;
            }
            let quoted_len = quoted(&key).len();
            let room = (self.cap - start).saturating_sub(quoted_len + 1);
            let value = fields.next_value_seed(Canon { cap: room })?;
            match kept.get_mut(at) {
                Some(entry) if entry.key == key => entry.value = value,
                _ => kept.insert(
                    at,
                    Entry {
                        key,
                        least: quoted_len + 3,
                        value,
                    },
                ),
            }
            let mut start = 1;
            let fits = kept
                .iter()
                .take_while(|entry| {
                    let fits = start < self.cap;
                    start += entry.least;
                    fits
                })
                .count();
            if fits < kept.len() {
                kept.truncate(fits);
                dropped = true;
            }
        }
        let mut text = Capped::new(self.cap);
        text.push("{");
        for (index, entry) in kept.iter().enumerate() {
            if index > 0 {
                text.push(",");
            }
            text.push(&quoted(&entry.key));
            text.push(":");
            text.push_capped(&entry.value);
        }
        if dropped {
            // What follows is `,"` and the first key dropped.
            text.push(",\"");
            text.cut = true;
        } else {
            text.push("}");
        }
        Ok(text)
    }
}

/// One key of an object being shown, and the start of its last value's text.
struct Entry {
    key: String,
    /// The fewest bytes the entry takes in the text: `"key":0,`.
    least: usize,
    value: Capped,
}

/// Whether a value's text is the expected value's (`None`: it cannot be; the value is
/// still checked to its end).
#[derive(Clone, Copy)]
struct Equals<'v>(Option<&'v Value>);

impl<'de> DeserializeSeed<'de> for Equals<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, parser: D) -> Result<bool, D::Error> {
        parser.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Equals<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    // By text: 0.0 and -0.0 are equal numbers but print differently.
    scalars!(
        |self, value| self.0.is_some_and(|expected| !expected.is_array()
            && !expected.is_object()
            && text(expected) == text(&value))
    );

    fn visit_str<E>(self, value: &str) -> Result<bool, E> {
        Ok(self.0.and_then(Value::as_str) == Some(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<bool, A::Error> {
        let expected = self.0.and_then(Value::as_array);
        let mut equal = expected.is_some();
        let mut count = 0;
        while let Some(same) =
            items.next_element_seed(Equals(expected.and_then(|list| list.get(count))))?
        {
            equal &= same;
            count += 1;
        }
        Ok(equal && expected.is_some_and(|list| list.len() == count))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut fields: A) -> Result<bool, A::Error> {
        let expected: Vec<(&String, &Value)> = self
            .0
            .and_then(Value::as_object)
            .map(|object| object.iter().collect())
            .unwrap_or_default();
        let mut equal = self.0.is_some_and(Value::is_object);
        // Per expected key: whether its last value so far is the expected one.
        let mut seen: Vec<Option<bool>> = vec![None; expected.len()];
        while let Some(index) = fields.next_key_seed(KeyIndex(&expected))? {
            let want = index.map(|index| expected[index].1);
            let same = fields.next_value_seed(Equals(want))?;
            match index {
                Some(index) => seen[index] = Some(same),
                None => equal = false,
            }
        }
        Ok(equal && seen.iter().all(|same| *same == Some(true)))
    }
}

/// Which of the expected keys an object's key is.
struct KeyIndex<'a, 'v>(&'a [(&'v String, &'v Value)]);

impl<'de> DeserializeSeed<'de> for KeyIndex<'_, '_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, parser: D) -> Result<Option<usize>, D::Error> {
        parser.deserialize_str(self)
    }
}

impl Visitor<'_> for KeyIndex<'_, '_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E>(self, key: &str) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|(known, _)| known.as_str() == key))
    }
}
