//! Sizes as users write them (`512`, `64k`, `512M`, `1GiB`) and as probe prints them.
//!
//! Every suffix is a power of 1024, whether written `M`, `MB` or `MiB`: this is what Docker's
//! `--memory 512m` means, and a health check is no place for a 2.4% surprise.

use std::fmt;
use std::str::FromStr;

/// A parsed size flag value, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size(pub u64);

impl FromStr for Size {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse(text).map(Size)
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&human_bytes(self.0))
    }
}

/// Parses `512`, `512b`, `64k`, `64KB`, `64KiB`, `512M`, `1.5G`, `1T` (case-insensitive).
pub fn parse(text: &str) -> Result<u64, String> {
    let invalid = || format!("invalid size {text:?} (use e.g. 4096, 64k, 512M, 1G)");
    let number_len = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(number_len);
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(invalid()),
    };
    if number.is_empty() {
        return Err(invalid());
    }
    if let Ok(whole) = number.parse::<u64>() {
        return whole.checked_mul(1 << shift).ok_or_else(invalid);
    }
    let value: f64 = number.parse().map_err(|_| invalid())?;
    let bytes = (value * (1u64 << shift) as f64).round();
    if bytes.is_finite() && bytes < u64::MAX as f64 {
        Ok(bytes as u64)
    } else {
        Err(invalid())
    }
}

/// Short human form: `1 byte`, `512 bytes`, `64KiB`, `1.5MiB`, `612.4MiB`, `2GiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes == 1 {
        return "1 byte".to_string();
    }
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let text = format!("{value:.1}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}{}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(parse("4096"), Ok(4096));
        assert_eq!(parse("10b"), Ok(10));
        assert_eq!(parse("64k"), Ok(64 << 10));
        assert_eq!(parse("64KB"), Ok(64 << 10));
        assert_eq!(parse("512MiB"), Ok(512 << 20));
        assert_eq!(parse("512m"), Ok(512 << 20));
        assert_eq!(parse("1.5G"), Ok(3 << 29));
        assert_eq!(parse("0"), Ok(0));
    }

    #[test]
    fn rejects_malformed_values() {
        for bad in ["", "k", "5x", "-1", "1..2M", "5 M", "99999999999T"] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn prints_short_forms() {
        assert_eq!(human_bytes(1), "1 byte");
        assert_eq!(human_bytes(12), "12 bytes");
        assert_eq!(human_bytes(64 << 10), "64KiB");
        assert_eq!(human_bytes(3 << 19), "1.5MiB");
        assert_eq!(human_bytes(2 << 30), "2GiB");
    }
}
