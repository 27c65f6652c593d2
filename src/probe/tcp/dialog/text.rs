//! The pure part of `probe tcp --send/--expect`: the escapes users write in `--send`,
//! `--expect` and `--expect-banner` (`\r\n`, `\xHH`), the search for the expected text as a
//! reply grows, and replies shown in a reason as one printable, capped line. Only std, so
//! that the fuzz target (`fuzz/fuzz_targets/tcp_dialog.rs`) includes this file as it is.

/// `text` as bytes, with its escapes replaced: `\r` `\n` `\t` `\0` `\\` `\"` and `\xHH`
/// (any byte). Everything else stands for its UTF-8 bytes. The error names the bad escape.
pub fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len());
    let mut chars = text.char_indices();
    while let Some((at, c)) = chars.next() {
        if c != '\\' {
            let mut utf8 = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            continue;
        }
        let byte = match chars.next() {
            None => return Err(r"a lone \ at the end (write \\ for a backslash)".into()),
            Some((_, 'r')) => b'\r',
            Some((_, 'n')) => b'\n',
            Some((_, 't')) => b'\t',
            Some((_, '0')) => 0,
            Some((_, '\\')) => b'\\',
            Some((_, '"')) => b'"',
            Some((_, 'x')) => {
                let digits: String = chars.by_ref().take(2).map(|(_, c)| c).collect();
                match u8::from_str_radix(&digits, 16) {
                    Ok(byte) if digits.len() == 2 && !digits.starts_with('+') => byte,
                    _ => {
                        return Err(format!(
                            r"bad escape \x{} (\xHH takes two hex digits)",
                            escape(digits.as_bytes())
                        ))
                    }
                }
            }
            Some((_, other)) if other.is_control() => {
                let mut utf8 = [0u8; 4];
                return Err(format!(
                    r"a \ before the control character {} (write \\ for a backslash)",
                    escape(other.encode_utf8(&mut utf8).as_bytes())
                ));
            }
            Some((_, other)) => {
                let escape = &text[at..at + 1 + other.len_utf8()];
                return Err(format!(
                    r#"unknown escape {escape} (known: \r \n \t \0 \\ \" \xHH)"#
                ));
            }
        };
        out.push(byte);
    }
    Ok(out)
}

/// `bytes` the way [`unescape`] reads them back: printable ASCII as it is, the rest as
/// escapes. Never a control character, never a line break.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &byte in bytes {
        match byte {
            b'\r' => out.push_str(r"\r"),
            b'\n' => out.push_str(r"\n"),
            b'\t' => out.push_str(r"\t"),
            0 => out.push_str(r"\0"),
            b'\\' => out.push_str(r"\\"),
            b'"' => out.push_str(r#"\""#),
            0x20..=0x7e => out.push(byte as char),
            _ => out.push_str(&format!(r"\x{byte:02x}")),
        }
    }
    out
}

/// At most the first `most` bytes, escaped and quoted, `...` after the quote when cut:
/// `"220 mail ESMTP\r\n"`, `"\x16\x03\x01\x00"...`.
pub fn shown(bytes: &[u8], most: usize) -> String {
    let cut = bytes.len() > most;
    let head = &bytes[..bytes.len().min(most)];
    format!("\"{}\"{}", escape(head), if cut { "..." } else { "" })
}

/// Finds a needle in a buffer that only grows, looking at each byte about once: after each
/// read only the new bytes (and the needle's length less one before them, for a needle
/// split across two reads) are searched. A reply of 64 KiB that arrives a byte at a time
/// costs 64 Ki small searches, not 64 Ki searches of the whole buffer.
#[derive(Debug, Default)]
pub struct Seeker {
    searched: usize,
}

impl Seeker {
    /// Where `needle` first starts in `haystack`, which holds what it held at the last
    /// call and maybe more. An empty needle is found at once.
    pub fn find(&mut self, haystack: &[u8], needle: &[u8]) -> Option<usize> {
        if needle.is_empty() {
            return Some(0);
        }
        let from = self.searched.saturating_sub(needle.len() - 1);
        self.searched = haystack.len();
        haystack
            .get(from..)?
            .windows(needle.len())
            .position(|window| window == needle)
            .map(|at| from + at)
    }
}

/// The fuzz property (also replayed by the unit tests): the data is an escape text and a
/// reply, split at the first 0xff byte; the reply arrives in chunks whose size the
/// text's first byte chooses. Unescaping never panics and never grows the text; what it
/// gives escapes back to text that unescapes to the same bytes; shown text is printable
/// ASCII and capped; the seeker, fed chunk by chunk, finds what a search of the whole finds.
#[cfg(any(test, fuzzing))]
pub fn property(data: &[u8]) {
    let data = &data[..data.len().min(16 * 1024)];
    let (pattern, reply) = match data.iter().position(|b| *b == 0xff) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &data[..0]),
    };
    let pattern = String::from_utf8_lossy(pattern);
    let needle = match unescape(&pattern) {
        Ok(bytes) => {
            assert!(bytes.len() <= pattern.len(), "unescape grew {pattern:?}");
            assert_eq!(unescape(&escape(&bytes)).as_deref(), Ok(&bytes[..]));
            bytes
        }
        Err(reason) => {
            assert!(!reason.chars().any(char::is_control), "{reason:?}");
            assert!(reason.len() <= 80, "{reason:?}");
            pattern.as_bytes().to_vec()
        }
    };
    for most in [0, 1, 40, usize::MAX] {
        let text = shown(reply, most);
        assert!(text.bytes().all(|b| (0x20..=0x7e).contains(&b)), "{text:?}");
        assert!(text.len() <= most.min(reply.len()).saturating_mul(4) + 5);
    }
    let chunk = usize::from(data.first().copied().unwrap_or(0) % 16) + 1;
    let mut seeker = Seeker::default();
    // As the dialog reads: search what has arrived (nothing, at first), then read more.
    let mut end = 0;
    let found = loop {
        let found = seeker.find(&reply[..end], &needle);
        if found.is_some() || end == reply.len() {
            break found;
        }
        end = (end + chunk).min(reply.len());
    };
    let whole = if needle.is_empty() {
        Some(0)
    } else {
        reply.windows(needle.len()).position(|w| w == &needle[..])
    };
    assert_eq!(found, whole, "needle {needle:?} in {reply:?} by {chunk}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_become_bytes() {
        assert_eq!(unescape(r"QUIT\r\n").unwrap(), b"QUIT\r\n");
        assert_eq!(
            unescape(r#"\x00\xFFa\t\\\0\""#).unwrap(),
            b"\x00\xffa\t\\\0\""
        );
        assert_eq!(unescape("héllo").unwrap(), "héllo".as_bytes());
        assert_eq!(unescape("").unwrap(), b"");
    }

    #[test]
    fn a_bad_escape_is_named() {
        assert_eq!(
            unescape(r"ruok\q").unwrap_err(),
            r#"unknown escape \q (known: \r \n \t \0 \\ \" \xHH)"#
        );
        assert_eq!(
            unescape(r"\é").unwrap_err(),
            r#"unknown escape \é (known: \r \n \t \0 \\ \" \xHH)"#
        );
        assert_eq!(
            unescape(r"\x4").unwrap_err(),
            r"bad escape \x4 (\xHH takes two hex digits)"
        );
        assert_eq!(
            unescape(r"\xzz").unwrap_err(),
            r"bad escape \xzz (\xHH takes two hex digits)"
        );
        assert!(unescape(r"\x+1").is_err());
        assert_eq!(
            unescape("\\\r").unwrap_err(),
            r"a \ before the control character \r (write \\ for a backslash)"
        );
        assert_eq!(
            unescape("\\x\n1").unwrap_err(),
            r"bad escape \x\n1 (\xHH takes two hex digits)"
        );
        assert!(unescape(r"end\").unwrap_err().contains("lone"));
    }

    #[test]
    fn replies_are_shown_printable_and_capped() {
        assert_eq!(shown(b"imok", 40), r#""imok""#);
        assert_eq!(shown(b"", 40), r#""""#);
        assert_eq!(
            shown(b"\x16\x03\x01\xc3\xa9\x1b[0m", 5),
            r#""\x16\x03\x01\xc3\xa9"..."#
        );
        assert_eq!(shown(b"220 ok\r\n", 40), r#""220 ok\r\n""#);
    }

    #[test]
    fn the_seeker_finds_a_needle_split_across_reads() {
        let mut seeker = Seeker::default();
        assert_eq!(seeker.find(b"xxim", b"imok"), None);
        assert_eq!(seeker.find(b"xximo", b"imok"), None);
        assert_eq!(seeker.find(b"xximok", b"imok"), Some(2));
        let mut seeker = Seeker::default();
        assert_eq!(seeker.find(b"", b"a"), None);
        assert_eq!(seeker.find(b"a", b"a"), Some(0));
    }

    #[test]
    fn the_fuzz_corpus_and_seeded_mutations_hold_the_property() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/tcp_dialog");
        let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
            .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
            .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
            .collect();
        assert!(!seeds.is_empty());
        seeds.sort();
        for seed in &seeds {
            property(seed);
        }
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        const SYNTAX: &[u8] = b"\\xrnt0\"ab\xff\r\n\x00";
        for _ in 0..3000 {
            let mut input = seeds[next() as usize % seeds.len()].clone();
            for _ in 0..1 + next() % 6 {
                let at = next() as usize % (input.len() + 1);
                match next() % 3 {
                    0 if at < input.len() => input[at] ^= 1 << (next() % 8),
                    1 => input.insert(at, SYNTAX[next() as usize % SYNTAX.len()]),
                    _ if at < input.len() => drop(input.remove(at)),
                    _ => {}
                }
            }
            property(&input);
        }
    }
}
