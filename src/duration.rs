//! Durations as users write them (`500ms`, `5s`, `2m`, `1m30s`, `0`) and as probe prints them.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A parsed duration flag value. `0` is allowed (wait-for: "forever"); a bare number
/// other than 0 is rejected, because `--timeout 5` could mean seconds or milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span(pub Duration);

impl FromStr for Span {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse(text).map(Span)
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&human(self.0))
    }
}

/// Longest duration probe accepts (a year): far beyond any wait, and far from the
/// overflow of `Instant + Duration`.
pub const MAX: Duration = Duration::from_secs(366 * 24 * 3600);

/// Parses `1h`, `2m`, `1m30s`, `5s`, `1.5s`, `500ms`, `250us`, `0`; at most [`MAX`].
pub fn parse(text: &str) -> Result<Duration, String> {
    let invalid = || format!("invalid duration {text:?} (use e.g. 500ms, 5s, 2m, 1m30s)");
    if text.len() > 64 {
        return Err(invalid());
    }
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = text;
    let mut total = Duration::ZERO;
    let mut some_time = false;
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let (number, after) = rest.split_at(number_len);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let value: f64 = number.parse().map_err(|_| invalid())?;
        let seconds_per_unit = match unit {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            _ => return Err(invalid()),
        };
        let part = Duration::try_from_secs_f64(value * seconds_per_unit).map_err(|_| invalid())?;
        some_time |= value > 0.0;
        total = total
            .checked_add(part)
            .filter(|total| *total <= MAX)
            .ok_or_else(|| format!("duration {text:?} is too long (at most 8784h, a year)"))?;
        rest = after;
    }
    // `0` means "no limit" to wait-for: a time too short to count must not become it.
    if some_time && total.is_zero() {
        return Err(format!(
            "duration {text:?} is shorter than 1ns, the shortest probe counts (0 is written 0)"
        ));
    }
    Ok(total)
}

/// Short human form: `0.4ms`, `12ms`, `1.25s`, `5s`, `3m12s`.
pub fn human(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if duration.is_zero() {
        "0s".to_string()
    } else if secs < 0.01 {
        format!("{:.1}ms", secs * 1e3)
    } else if secs < 0.9995 {
        format!("{:.0}ms", secs * 1e3)
    } else if secs < 60.0 {
        let text = format!("{secs:.2}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        format!("{text}s")
    } else {
        let whole = duration.as_secs();
        let (h, m, s) = (whole / 3600, whole / 60 % 60, whole % 60);
        match (h, s) {
            (0, 0) => format!("{m}m"),
            (0, _) => format!("{m}m{s}s"),
            (_, _) => format!("{h}h{m}m{s}s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
        assert_eq!(parse("0.000000001s"), Ok(Duration::from_nanos(1)));
        assert_eq!(parse("1s0.0000000001s"), Ok(Duration::from_secs(1)));
    }

    #[test]
    fn a_time_that_rounds_to_zero_is_an_error_not_zero() {
        for tiny in [
            "0.0000000001s",
            "0.0000001ms",
            "0.0001us",
            "0.00000000000001h",
        ] {
            let error = parse(tiny).unwrap_err();
            assert!(error.contains("shorter than 1ns"), "{tiny}: {error}");
        }
    }

    #[test]
    fn rejects_ambiguous_or_malformed_values() {
        for bad in [
            "",
            "5",
            "s",
            "5x",
            "-1s",
            "1..2s",
            "ms5",
            "5 s",
            "10000000000000000000s",
            "8785h",
            "1e3s",
            "NaNs",
            "infs",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn prints_short_forms() {
        assert_eq!(human(Duration::from_micros(400)), "0.4ms");
        assert_eq!(human(Duration::from_millis(12)), "12ms");
        assert_eq!(human(Duration::from_millis(1250)), "1.25s");
        assert_eq!(human(Duration::from_secs(5)), "5s");
        assert_eq!(human(Duration::from_secs(192)), "3m12s");
        assert_eq!(human(Duration::from_secs(60)), "1m");
    }
}
