//! The `stringprep` crate is the referee: `tables.rs` is generated from it (and from the
//! unicode-normalization crate it normalizes with), and [`saslprep`] must give its answer
//! on every code point and on random strings.

use std::collections::HashMap;
use std::fmt::Write as _;

use stringprep::tables as reference;
use unicode_normalization::char::{
    canonical_combining_class, compose as reference_compose, decompose_canonical,
    decompose_compatible,
};

use super::*;

/// What `stringprep::saslprep` makes of the password, as SCRAM hashes it.
fn expected(password: &str) -> Vec<u8> {
    match stringprep::saslprep(password) {
        Ok(prepared) => prepared.into_owned().into_bytes(),
        Err(_) => password.as_bytes().to_vec(),
    }
}

#[track_caller]
fn same(password: &str) {
    assert_eq!(
        saslprep(password),
        expected(password),
        "{password:?} ({:x?})",
        password.chars().map(|c| c as u32).collect::<Vec<_>>()
    );
}

fn assigned(c: char) -> bool {
    !reference::unassigned_code_point(c)
}

fn every_char() -> impl Iterator<Item = char> {
    (0..=0x10_ffff).filter_map(char::from_u32)
}

/// `tables.rs` as the crates give it. Checks the premises the module's comment relies on.
fn generate() -> String {
    // Compositions: for each character with a canonical decomposition, the pair it is
    // composed from (if it is a primary composite), found with the crate's `compose`.
    let mut canonical: HashMap<char, Vec<char>> = HashMap::new();
    let mut by_decomposition: HashMap<Vec<char>, Vec<char>> = HashMap::new();
    for c in every_char() {
        let mut parts = Vec::new();
        decompose_canonical(c, |part| parts.push(part));
        if parts != [c] {
            by_decomposition.entry(parts.clone()).or_default().push(c);
            canonical.insert(c, parts);
        }
    }
    let mut compositions = Vec::new();
    for (&composite, parts) in &canonical {
        let n = composite as u32;
        if parts.len() < 2 || (HANGUL..HANGUL + HANGUL_COUNT).contains(&n) {
            continue;
        }
        let (last, prefix) = parts.split_last().unwrap();
        let mut firsts = by_decomposition.get(prefix).cloned().unwrap_or_default();
        firsts.extend(prefix.first().filter(|_| prefix.len() == 1));
        for first in firsts {
            if reference_compose(first, *last) == Some(composite) {
                compositions.push((first, *last, composite));
            }
        }
    }
    compositions.sort_by_key(|&(_, _, composite)| composite);
    for &(first, second, composite) in &compositions {
        if !assigned(first) || !assigned(second) {
            // A composite holding a character unassigned in Unicode 3.2 is unassigned too.
            assert!(!assigned(composite), "{composite:?}");
        }
    }
    compositions.retain(|&(first, second, _)| assigned(first) && assigned(second));
    for &(first, second, composite) in &compositions {
        assert!(
            assigned(composite),
            "{composite:?} from assigned {first:?} {second:?}"
        );
        assert!(composite as u32 <= 0xffff && first as u32 <= 0xffff && second as u32 <= 0xffff);
    }

    // Decompositions: every character whose full compatibility decomposition holds only
    // characters assigned in Unicode 3.2, but for the primary composites (their pairs
    // give theirs) and Hangul (computed).
    let mut decompositions: Vec<(u32, Vec<char>)> = Vec::new();
    for c in every_char() {
        let mut parts = Vec::new();
        decompose_compatible(c, |part| parts.push(part));
        let n = c as u32;
        if parts == [c] || (HANGUL..HANGUL + HANGUL_COUNT).contains(&n) {
            continue;
        }
        if !parts.iter().all(|&part| assigned(part)) {
            // Such a character fails SASLprep whatever it decomposes to: it must be
            // unassigned itself.
            assert!(!assigned(c), "{c:?} decomposes to unassigned characters");
            continue;
        }
        if let Some(&(first, second, _)) = compositions.iter().find(|entry| entry.2 == c) {
            // What `decompose` does with a primary composite: its pair, decomposed.
            let mut again = Vec::new();
            decompose_compatible(first, |part| again.push(part));
            decompose_compatible(second, |part| again.push(part));
            assert_eq!(again, parts, "{c:?}");
            continue;
        }
        assert!(n <= 0x2_ffff, "{c:?}");
        decompositions.push((n, parts));
    }

    // Runs of at least three single-character decompositions, the same or consecutive.
    let mut runs: Vec<[u32; 2]> = Vec::new();
    let mut others: Vec<&(u32, Vec<char>)> = Vec::new();
    let single = |entry: &(u32, Vec<char>)| (entry.1.len() == 1).then(|| entry.1[0] as u32);
    let mut at = 0;
    while at < decompositions.len() {
        let (start, first) = (decompositions[at].0, single(&decompositions[at]));
        let second = decompositions.get(at + 1).and_then(single);
        let mut end = at + 1;
        let mut step = 0;
        if let (Some(first), Some(second)) = (first, second) {
            step = second.wrapping_sub(first);
            while end < decompositions.len()
                && step <= 1
                && decompositions[end].0 == start + (end - at) as u32
                && single(&decompositions[end]) == Some(first + step * (end - at) as u32)
            {
                end += 1;
            }
        }
        if end - at >= 3 {
            assert!(end - at < 1 << 11);
            runs.push([
                start | ((end - at) as u32) << 21,
                first.unwrap() | step << 21,
            ]);
            at = end;
        } else {
            others.push(&decompositions[at]);
            at += 1;
        }
    }
    let mut planes = [0usize; 4];
    for (plane, start) in planes.iter_mut().enumerate() {
        *start = others.partition_point(|entry| (entry.0 >> 16) < plane as u32);
    }
    let mut pool: Vec<u16> = Vec::new();
    let mut offsets: Vec<u16> = vec![0];
    for (_, parts) in &others {
        for part in parts {
            pool.extend(part.encode_utf16(&mut [0; 2]).iter());
        }
        offsets.push(pool.len().try_into().unwrap());
    }

    // Properties: runs of equal class and combining class. Unassigned characters all get
    // combining class 0 (NFKC never meets them: they fail first).
    let mut properties: Vec<u32> = Vec::new();
    let mut last = u32::MAX;
    for c in every_char() {
        let class = match () {
            _ if !assigned(c) => 0,
            _ if reference::bidi_l(c) => 1,
            _ if reference::bidi_r_or_al(c) => 2,
            _ => 3,
        };
        let combining = match class {
            0 => 0,
            _ => canonical_combining_class(c) as u32,
        };
        let value = class << 8 | combining;
        if value != last {
            properties.push((c as u32) << 11 | value);
            last = value;
        }
    }

    let mut text = String::from(
        "//! Generated by `PROBE_SASLPREP_TABLES=write cargo test saslprep` from the stringprep\n\
         //! and unicode-normalization crates (src/saslprep/tests.rs): do not edit.\n\n",
    );
    let _ = writeln!(
        text,
        "// unicode-normalization: Unicode {:?}.\n",
        unicode_normalization::UNICODE_VERSION
    );
    list(&mut text, "PROPERTIES", "u32", &properties, |n| {
        format!("{n:#x}")
    });
    list(&mut text, "RUNS", "[u32; 2]", &runs, |[a, b]| {
        format!("[{a:#x}, {b:#x}]")
    });
    let _ = writeln!(text, "pub const PLANES: [usize; 4] = {planes:?};\n");
    let keys: Vec<u16> = others.iter().map(|entry| entry.0 as u16).collect();
    list(&mut text, "KEYS", "u16", &keys, |n| format!("{n:#x}"));
    list(&mut text, "AT", "u16", &offsets, |n| n.to_string());
    list(&mut text, "POOL", "u16", &pool, |n| format!("{n:#x}"));
    let compositions: Vec<[u16; 3]> = compositions
        .iter()
        .map(|&(a, b, c)| [a as u16, b as u16, c as u16])
        .collect();
    list(
        &mut text,
        "COMPOSITIONS",
        "[u16; 3]",
        &compositions,
        |[a, b, c]| format!("[{a:#x}, {b:#x}, {c:#x}]"),
    );
    text
}

fn list<T: Copy>(
    text: &mut String,
    name: &str,
    kind: &str,
    items: &[T],
    show: impl Fn(T) -> String,
) {
    let _ = writeln!(text, "pub const {name}: &[{kind}] = &[");
    let mut line = String::new();
    for item in items {
        let item = show(*item);
        if line.len() + item.len() + 2 > 96 {
            let _ = writeln!(text, "{}", line.trim_end());
            line.clear();
        }
        if line.is_empty() {
            line.push_str("   ");
        }
        let _ = write!(line, " {item},");
    }
    if !line.is_empty() {
        let _ = writeln!(text, "{}", line.trim_end());
    }
    let _ = writeln!(text, "];\n");
}

/// The tables are what the crates say today; `PROBE_SASLPREP_TABLES=write` rewrites them
/// (after a new unicode-normalization or stringprep, say).
#[test]
fn tables_are_generated_from_the_crates() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/saslprep/tables.rs");
    let generated = generate();
    if std::env::var("PROBE_SASLPREP_TABLES").as_deref() == Ok("write") {
        std::fs::write(path, &generated).unwrap();
    }
    assert!(
        generated == include_str!("tables.rs"),
        "src/saslprep/tables.rs is stale: run PROBE_SASLPREP_TABLES=write cargo test saslprep"
    );
}

#[test]
fn every_code_point_alone_and_after_a_letter_matches_the_crate() {
    let mut text = String::new();
    for c in every_char() {
        text.clear();
        text.push(c);
        same(&text);
        text.insert(0, 'a');
        same(&text);
    }
}

#[test]
fn the_prohibited_and_mapped_characters_are_the_crates() {
    for c in every_char() {
        let prohibited_there = reference::non_ascii_space_character(c)
            || reference::ascii_control_character(c)
            || reference::non_ascii_control_character(c)
            || reference::private_use(c)
            || reference::non_character_code_point(c)
            || reference::inappropriate_for_plain_text(c)
            || reference::inappropriate_for_canonical_representation(c)
            || reference::change_display_properties_or_deprecated(c)
            || reference::tagging_character(c);
        assert_eq!(prohibited(c), prohibited_there, "{c:?}");
        assert_eq!(
            non_ascii_space(c),
            reference::non_ascii_space_character(c),
            "{c:?}"
        );
        assert_eq!(
            mapped_to_nothing(c),
            reference::commonly_mapped_to_nothing(c),
            "{c:?}"
        );
    }
}

/// Characters NFKC and SASLprep treat specially, to draw random passwords from.
const RANGES: &[(u32, u32)] = &[
    (0x20, 0x7e),       // ASCII
    (0x0, 0x1f),        // controls
    (0xa0, 0x24f),      // Latin-1, Latin Extended
    (0x2b0, 0x36f),     // modifier letters, combining diacritics
    (0x370, 0x3ff),     // Greek
    (0x400, 0x52f),     // Cyrillic
    (0x591, 0x5f4),     // Hebrew, with points
    (0x600, 0x6ff),     // Arabic
    (0x700, 0x74f),     // Syriac
    (0x900, 0x9ff),     // Devanagari, Bengali (two-part vowels)
    (0xb00, 0xbff),     // Oriya, Tamil
    (0xe00, 0xeff),     // Thai, Lao
    (0xf00, 0xfff),     // Tibetan
    (0x1100, 0x11ff),   // Hangul jamo
    (0x1dc0, 0x1dff),   // combining supplement
    (0x1e00, 0x1fff),   // Latin and Greek extended
    (0x2000, 0x206f),   // spaces, controls, B.1
    (0x2070, 0x24ff),   // super- and subscripts, letterlike, numbers, enclosed
    (0x2c60, 0x2c7f),   // Latin Extended-C (newer, some decompose)
    (0x2f00, 0x2fff),   // Kangxi radicals, ideographic description (C.7)
    (0x3000, 0x33ff),   // CJK symbols, kana, compatibility
    (0xa960, 0xa97f),   // Hangul jamo extended (newer)
    (0xac00, 0xd7a3),   // Hangul syllables
    (0xe000, 0xe0ff),   // private use
    (0xf900, 0xfaff),   // CJK compatibility ideographs
    (0xfb00, 0xfdff),   // ligatures, Hebrew and Arabic presentation forms
    (0xfe00, 0xfeff),   // variation selectors, presentation forms, BOM
    (0xff00, 0xffff),   // half- and fullwidth, specials
    (0x1d15e, 0x1d1c0), // musical symbols (excluded compositions)
    (0x1d400, 0x1d7ff), // mathematical alphanumerics
    (0x1f100, 0x1f2ff), // enclosed supplement
    (0x2f800, 0x2fa1f), // CJK compatibility supplement
    (0xe0000, 0xe007f), // tags
    (0x0, 0x10ffff),    // anything
];

#[test]
fn random_passwords_match_the_crate() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut password = String::new();
    for _ in 0..200_000 {
        password.clear();
        // A few ranges per password, so marks meet the letters they combine with.
        let ranges: Vec<_> = (0..1 + next() % 3)
            .map(|_| RANGES[next() as usize % RANGES.len()])
            .collect();
        for _ in 0..1 + next() % 8 {
            let (low, high) = ranges[next() as usize % ranges.len()];
            if let Some(c) = char::from_u32(low + (next() % u64::from(high - low + 1)) as u32) {
                password.push(c);
            }
        }
        same(&password);
    }
}

#[test]
fn saslprep_follows_rfc_4013() {
    let cases: &[(&str, &str)] = &[
        // RFC 4013's examples: soft hyphen, no-break space (C.1.2), ...
        ("I\u{ad}X", "IX"),
        ("user", "user"),
        ("USER", "USER"),
        ("\u{aa}", "a"),
        ("\u{2168}", "IX"),
        // Fullwidth letters, ligatures, B.1 zero-width joiner, C.1.2 spaces.
        ("\u{ff30}\u{ff41}\u{ff53}\u{ff53}", "Pass"),
        ("\u{fb01}x \u{fb03}", "fix ffi"),
        ("a\u{200d}b\u{feff}c", "abc"),
        ("a\u{a0}b\u{3000}c\u{200b}d", "a b c d"),
        // Composition and canonical order.
        ("e\u{301}", "\u{e9}"),
        ("a\u{323}\u{302}", "\u{1ead}"),
        ("a\u{302}\u{323}", "\u{1ead}"),
        ("\u{1100}\u{1161}\u{11a8}", "\u{ac01}"),
        ("\u{3131}", "\u{1100}"),
        // Newer than Unicode 3.2, but decomposes to older characters.
        ("\u{2c7c}", "j"),
        // Right-to-left text, whole.
        ("\u{5d0}\u{5d1}", "\u{5d0}\u{5d1}"),
        ("\u{627}1\u{628}", "\u{627}1\u{628}"),
    ];
    for (password, prepared) in cases {
        assert_eq!(saslprep(password), prepared.as_bytes(), "{password:?}");
        same(password);
    }
    let raw = [
        "bell\u{7}",           // C.2.1, RFC 4013's example
        "\u{7}",               // C.2.1
        "a\u{80}",             // C.2.2
        "pass\u{e000}",        // C.3 private use
        "a\u{fffe}",           // C.4
        "a\u{fffd}",           // C.6
        "a\u{2ff0}",           // C.7
        "a\u{200e}",           // C.8
        "a\u{e0041}",          // C.9
        "a\u{221}",            // A.1 unassigned in Unicode 3.2
        "\u{1e9e}",            // A.1, newer and without a decomposition
        "\u{627}a\u{628}",     // bidi: right-to-left with a left-to-right letter
        "\u{627}1",            // bidi: must end right-to-left
        "1\u{627}",            // bidi: must start right-to-left
        "a\u{1109a}",          // a composite newer than Unicode 3.2
        "a\u{11099}\u{110ba}", // the parts of one
    ];
    for password in raw {
        assert_eq!(saslprep(password), password.as_bytes(), "{password:?}");
        same(password);
    }
}
