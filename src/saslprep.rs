//! SASLprep (RFC 4013, the stringprep profile of RFC 3454) for SCRAM passwords, as the
//! `stringprep` crate computes it, in under a third of its size: the crate (with
//! unicode-normalization's and unicode-bidi's tables) was 143 KB of the release binary, this
//! module and its tables (36 KB of them) are 41 KB.
//!
//! The steps: non-ASCII spaces (C.1.2) become a space and B.1's characters are dropped;
//! NFKC; then the output fails on a prohibited character (C.1.2, C.2.1, C.2.2, C.3 to C.9),
//! on bidirectional text that breaks RFC 3454's section 6, and on a code point unassigned
//! in Unicode 3.2 (A.1). PostgreSQL (and libpq, and postgres-protocol) then use the
//! password's raw bytes, so [`saslprep`] does too.
//!
//! Why the tables are small: an output character that is unassigned in Unicode 3.2 fails
//! the whole password, and a composition holding such a character is one too (a character
//! is always encoded after the characters it decomposes to). So NFKC only ever needs the
//! decompositions, combining classes and compositions of characters assigned in Unicode
//! 3.2, plus the decompositions of newer characters that decompose to those: anything else
//! fails as soon as it appears in the decomposed text. `tables.rs` is generated from the
//! `stringprep` and `unicode-normalization` crates themselves (the test
//! `tables_are_generated_from_the_crates` rebuilds it and checks those premises), and the
//! tests compare [`saslprep`] with `stringprep::saslprep` on every code point and on
//! random strings; so does the `saslprep` fuzz target.

// Generated (see the module's comment), and so not formatted.
#[rustfmt::skip]
#[path = "saslprep/tables.rs"]
mod tables;
#[cfg(test)]
#[path = "saslprep/tests.rs"]
mod tests;

use self::tables::{AT, COMPOSITIONS, KEYS, PLANES, POOL, PROPERTIES, RUNS};

/// The password as SCRAM hashes it: its SASLprep form, or its raw bytes when it is not a
/// valid SASLprep input (a prohibited or unassigned character, or bad bidirectional text).
pub fn saslprep(password: &str) -> Vec<u8> {
    // Every ASCII password is its own SASLprep form, or invalid (a control character) and
    // so used raw: the same bytes either way.
    if password.is_ascii() {
        return password.as_bytes().to_vec();
    }
    match prepare(password) {
        Some(prepared) => prepared.into_bytes(),
        None => password.as_bytes().to_vec(),
    }
}

/// RFC 4013's steps; `None` where SASLprep fails.
fn prepare(password: &str) -> Option<String> {
    // 2.1 Mapping, then 2.2 NFKC: decomposition, canonical order, composition.
    let mut decomposed = Vec::with_capacity(password.len());
    for c in password.chars() {
        if non_ascii_space(c) {
            decomposed.push(' ');
        } else if !mapped_to_nothing(c) {
            decompose(c, &mut decomposed)?;
        }
    }
    reorder(&mut decomposed);
    let prepared = compose(decomposed);
    // 2.3 Prohibited output, 2.4 bidirectional characters, 2.5 unassigned code points.
    let classes: Vec<Class> = prepared.iter().map(|&c| properties(c).0).collect();
    if classes.contains(&Class::Unassigned) || prepared.iter().any(|&c| prohibited(c)) {
        return None;
    }
    if classes.contains(&Class::RightToLeft)
        && (classes.contains(&Class::LeftToRight)
            || classes.first() != Some(&Class::RightToLeft)
            || classes.last() != Some(&Class::RightToLeft))
    {
        return None;
    }
    Some(prepared.into_iter().collect())
}

/// C.1.2, mapped to a space (U+200B is in B.1 too: the space wins, as in the crate).
fn non_ascii_space(c: char) -> bool {
    matches!(
        c,
        '\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200b}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
    )
}

/// B.1, commonly mapped to nothing.
fn mapped_to_nothing(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{34f}'
            | '\u{1806}'
            | '\u{180b}'..='\u{180d}'
            | '\u{200b}'..='\u{200d}'
            | '\u{2060}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{feff}'
    )
}

/// C.1.2, C.2.1, C.2.2 and C.3 to C.9 (C.5, the surrogates, cannot be in a `str`).
fn prohibited(c: char) -> bool {
    let n = c as u32;
    non_ascii_space(c)
        || n < 0x20
        || (0x7f..=0x9f).contains(&n)
        || matches!(
            c,
            '\u{6dd}'
                | '\u{70f}'
                | '\u{180e}'
                | '\u{200c}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2063}'
                | '\u{206a}'..='\u{206f}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffd}'
                | '\u{1d173}'..='\u{1d17a}'
                | '\u{340}'
                | '\u{341}'
                | '\u{2ff0}'..='\u{2ffb}'
                | '\u{e0001}'
                | '\u{e0020}'..='\u{e007f}'
        )
        // C.3 private use.
        || (0xe000..=0xf8ff).contains(&n)
        || n >= 0xf0000 && n & 0xffff <= 0xfffd
        // C.4 non-characters.
        || (0xfdd0..=0xfdef).contains(&n)
        || n & 0xfffe == 0xfffe
}

/// What the checks after NFKC need to know of a character: unassigned in Unicode 3.2
/// (A.1), else its bidirectional class as RFC 3454's section 6 groups them (D.1, D.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Unassigned,
    LeftToRight,
    RightToLeft,
    Other,
}

/// [`Class`] and canonical combining class of `c`. `PROPERTIES` holds, sorted, the first
/// code point of each run of equal properties, `start << 11 | class << 8 | combining class`
/// (classes numbered as [`Class`] lists them).
fn properties(c: char) -> (Class, u8) {
    let n = c as u32;
    let entry = PROPERTIES[PROPERTIES.partition_point(|&entry| entry >> 11 <= n) - 1];
    let class = match entry >> 8 & 0b11 {
        0 => Class::Unassigned,
        1 => Class::LeftToRight,
        2 => Class::RightToLeft,
        _ => Class::Other,
    };
    (class, entry as u8)
}

/// Appends the full compatibility decomposition of `n` from the tables, if they have one.
/// `RUNS` first: consecutive code points that each decompose to one character, the same
/// one or consecutive ones (`[start | count << 21, first | step << 21]`). Then `KEYS`,
/// the low 16 bits of the other code points, sorted, plane by plane (`PLANES` holds where
/// each plane starts); entry `i` decomposes to `POOL[AT[i]..AT[i + 1]]`, UTF-16.
fn decomposition(n: u32, out: &mut Vec<char>) -> Option<()> {
    let run = RUNS.partition_point(|run| run[0] & 0x1f_ffff <= n);
    if let Some(&[head, first]) = run.checked_sub(1).map(|run| &RUNS[run]) {
        let offset = n - (head & 0x1f_ffff);
        if offset < head >> 21 {
            out.push(char::from_u32(
                (first & 0x1f_ffff) + offset * (first >> 21),
            )?);
            return Some(());
        }
    }
    let plane = n as usize >> 16;
    let (start, end) = (*PLANES.get(plane)?, *PLANES.get(plane + 1)?);
    let index = start + KEYS[start..end].binary_search(&(n as u16)).ok()?;
    let units = &POOL[AT[index] as usize..AT[index + 1] as usize];
    out.extend(char::decode_utf16(units.iter().copied()).filter_map(Result::ok));
    Some(())
}

const HANGUL: u32 = 0xac00;
const HANGUL_COUNT: u32 = 19 * 21 * 28;
const LEADING: u32 = 0x1100;
const VOWEL: u32 = 0x1161;
const TRAILING: u32 = 0x11a7;

/// Appends the full compatibility decomposition of `c`; `None` when it holds a code point
/// unassigned in Unicode 3.2 (SASLprep fails then, see the module's comment).
fn decompose(c: char, out: &mut Vec<char>) -> Option<()> {
    let n = c as u32;
    if (HANGUL..HANGUL + HANGUL_COUNT).contains(&n) {
        let index = n - HANGUL;
        let jamo = [
            LEADING + index / (21 * 28),
            VOWEL + index % (21 * 28) / 28,
            TRAILING + index % 28,
        ];
        let count = if index.is_multiple_of(28) { 2 } else { 3 };
        out.extend(jamo[..count].iter().filter_map(|&n| char::from_u32(n)));
        return Some(());
    }
    if decomposition(n, out).is_some() {
        return Some(());
    }
    if let Ok(at) = COMPOSITIONS.binary_search_by_key(&n, |entry| entry[2] as u32) {
        for part in &COMPOSITIONS[at][..2] {
            decompose(char::from_u32(*part as u32)?, out)?;
        }
        return Some(());
    }
    if properties(c).0 == Class::Unassigned {
        return None;
    }
    out.push(c);
    Some(())
}

/// Canonical ordering: each run of non-starters sorted by combining class, stably.
fn reorder(text: &mut [char]) {
    let mut start = 0;
    while start < text.len() {
        let end = start
            + text[start..]
                .iter()
                .position(|&c| properties(c).1 == 0)
                .unwrap_or(text.len() - start);
        text[start..end].sort_by_key(|&c| properties(c).1);
        start = end + 1;
    }
}

/// Canonical composition (UAX #15): each character joins the last starter unless blocked
/// by a character in between of the same or a higher combining class (or a starter).
fn compose(text: Vec<char>) -> Vec<char> {
    let mut out: Vec<char> = Vec::with_capacity(text.len());
    let mut starter: Option<usize> = None;
    let mut last_class: Option<u8> = None;
    for c in text {
        let class = properties(c).1;
        if let Some(at) = starter {
            if last_class.is_none_or(|last| last < class) {
                if let Some(joined) = pair(out[at], c) {
                    out[at] = joined;
                    continue;
                }
            }
        }
        if class == 0 {
            starter = Some(out.len());
            last_class = None;
        } else {
            last_class = Some(class);
        }
        out.push(c);
    }
    out
}

/// The primary composite of two characters, if any.
fn pair(first: char, second: char) -> Option<char> {
    let (a, b) = (first as u32, second as u32);
    if (LEADING..LEADING + 19).contains(&a) && (VOWEL..VOWEL + 21).contains(&b) {
        return char::from_u32(HANGUL + ((a - LEADING) * 21 + b - VOWEL) * 28);
    }
    let syllable = a.wrapping_sub(HANGUL);
    if syllable < HANGUL_COUNT
        && syllable.is_multiple_of(28)
        && (TRAILING + 1..TRAILING + 28).contains(&b)
    {
        return char::from_u32(a + b - TRAILING);
    }
    COMPOSITIONS
        .iter()
        .find(|entry| entry[0] as u32 == a && entry[1] as u32 == b)
        .and_then(|entry| char::from_u32(entry[2] as u32))
}
