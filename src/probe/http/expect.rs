//! What an HTTP response must look like: the status set and the body rules.
//!
//! A status-only check passes `200 {"status":"unhealthy"}`; body rules exist so that it
//! does not. JSON rules use RFC 6901 pointers; several values for one pointer mean any of
//! them (Elasticsearch: `/status=green` or `/status=yellow`), different pointers must all hold.

use serde_json::Value;

use crate::outcome::{usage, UsageError};
use crate::probe::find_bytes;

/// Expected status codes, as inclusive ranges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusSet(Vec<(u16, u16)>);

impl Default for StatusSet {
    fn default() -> Self {
        StatusSet(vec![(200, 399)])
    }
}

impl StatusSet {
    /// Parses `200`, `200,204`, `200-299,304`.
    pub fn parse(text: &str) -> Result<Self, UsageError> {
        let invalid = || {
            UsageError::new(format!(
                "invalid --expect-status {text:?} (use codes and ranges like 200,204 or 200-299)"
            ))
        };
        let code = |part: &str| match part.trim().parse::<u16>() {
            Ok(code) if (100..=599).contains(&code) => Ok(code),
            _ => Err(invalid()),
        };
        let ranges = text
            .split(',')
            .map(|part| match part.split_once('-') {
                Some((low, high)) => {
                    let (low, high) = (code(low)?, code(high)?);
                    if low > high {
                        return Err(invalid());
                    }
                    Ok((low, high))
                }
                None => code(part).map(|single| (single, single)),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(StatusSet(ranges))
    }

    pub fn contains(&self, status: u16) -> bool {
        self.0
            .iter()
            .any(|&(low, high)| (low..=high).contains(&status))
    }
}

impl std::fmt::Display for StatusSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|&(low, high)| match low == high {
                true => low.to_string(),
                false => format!("{low}-{high}"),
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// One JSON pointer and the values accepted there.
#[derive(Clone, Debug, PartialEq, Eq)]
struct JsonRule {
    pointer: String,
    accepted: Vec<String>,
}

/// Everything the body must satisfy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BodyRules {
    contains: Vec<String>,
    json: Vec<JsonRule>,
}

impl BodyRules {
    /// From `--body-contains` values and `--expect-json /pointer=value` values.
    pub fn parse(contains: &[String], expect_json: &[String]) -> Result<Self, UsageError> {
        if contains.iter().any(String::is_empty) {
            return usage("--body-contains needs a non-empty text");
        }
        let mut json: Vec<JsonRule> = Vec::new();
        for rule in expect_json {
            let Some((pointer, value)) = rule.split_once('=') else {
                return usage(format!(
                    "invalid --expect-json {rule:?} (use /pointer=value, e.g. /status=ok)"
                ));
            };
            if !pointer.is_empty() && !pointer.starts_with('/') {
                return usage(format!(
                    "invalid --expect-json {rule:?}: JSON pointers start with / (did you mean /{rule}?)"
                ));
            }
            match json.iter_mut().find(|known| known.pointer == pointer) {
                Some(known) => known.accepted.push(value.to_string()),
                None => json.push(JsonRule {
                    pointer: pointer.to_string(),
                    accepted: vec![value.to_string()],
                }),
            }
        }
        Ok(BodyRules {
            contains: contains.to_vec(),
            json,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.contains.is_empty() && self.json.is_empty()
    }

    /// `Ok(summary)` when every rule holds, else `Err(reason)` for the first that fails.
    pub fn check(&self, body: &[u8]) -> Result<String, String> {
        let mut held = Vec::new();
        for text in &self.contains {
            if find_bytes(body, text.as_bytes()).is_none() {
                return Err(format!("body lacks {text:?}"));
            }
            held.push(format!("body contains {text:?}"));
        }
        if self.json.is_empty() {
            return Ok(held.join(", "));
        }
        let document: Value =
            serde_json::from_slice(body).map_err(|error| format!("body is not JSON ({error})"))?;
        for rule in &self.json {
            let shown = display_pointer(&rule.pointer);
            let Some(value) = document.pointer(&rule.pointer) else {
                return Err(format!("{shown} is missing"));
            };
            let text = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            if !rule.accepted.contains(&text) {
                return Err(format!(
                    "{shown} is {} (expected {})",
                    shorten(&value.to_string()),
                    rule.accepted
                        .iter()
                        .map(|accepted| format!("{accepted:?}"))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ));
            }
            held.push(format!("{shown} is {}", shorten(&value.to_string())));
        }
        Ok(held.join(", "))
    }
}

fn display_pointer(pointer: &str) -> &str {
    if pointer.is_empty() {
        "the document"
    } else {
        pointer
    }
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(80) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_sets() {
        let set = StatusSet::parse("200-299,304").unwrap();
        assert!(set.contains(204) && set.contains(304) && !set.contains(301));
        assert_eq!(set.to_string(), "200-299,304");
        assert!(StatusSet::default().contains(302));
        for bad in ["", "abc", "99", "600", "300-200", "200-", "2xx"] {
            assert!(StatusSet::parse(bad).is_err(), "{bad}");
        }
    }

    fn rules(json: &[&str]) -> BodyRules {
        let json: Vec<String> = json.iter().map(|rule| rule.to_string()).collect();
        BodyRules::parse(&[], &json).unwrap()
    }

    #[test]
    fn json_rules_accept_any_value_of_a_pointer_and_all_pointers() {
        let es = rules(&["/status=green", "/status=yellow", "/timed_out=false"]);
        assert!(es
            .check(br#"{"status":"yellow","timed_out":false}"#)
            .is_ok());
        assert_eq!(
            es.check(br#"{"status":"red","timed_out":false}"#)
                .unwrap_err(),
            r#"/status is "red" (expected "green" or "yellow")"#
        );
        assert_eq!(
            es.check(br#"{"status":"green"}"#).unwrap_err(),
            "/timed_out is missing"
        );
        assert!(es
            .check(b"<html>")
            .unwrap_err()
            .starts_with("body is not JSON"));
    }

    #[test]
    fn json_rules_compare_numbers_and_nested_values_as_text() {
        assert!(rules(&["/checks/0/up=true", "/n=3"])
            .check(br#"{"checks":[{"up":true}],"n":3}"#)
            .is_ok());
    }

    #[test]
    fn malformed_rules_are_usage_errors() {
        assert!(BodyRules::parse(&[], &["status=ok".into()])
            .unwrap_err()
            .0
            .contains("/status=ok"));
        assert!(BodyRules::parse(&[], &["/status".into()]).is_err());
        assert!(BodyRules::parse(&["".into()], &[]).is_err());
    }

    #[test]
    fn body_contains() {
        let rules = BodyRules::parse(&["ok".into()], &[]).unwrap();
        assert!(rules.check(b"all ok").is_ok());
        assert_eq!(rules.check(b"down").unwrap_err(), r#"body lacks "ok""#);
    }
}
