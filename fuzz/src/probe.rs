//! What `--expect-json` rules need from `src/probe/`: the rules module itself, and
//! `find_bytes` (src/probe/mod.rs declares every check, so it cannot be included here;
//! this is the same six lines).

pub fn find_bytes(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

pub mod http {
    pub use crate::expect_rules as expect;
}
