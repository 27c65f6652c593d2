//! What an HTTP response must look like: the status set and the body rules.
//!
//! A status-only check passes `200 {"status":"unhealthy"}`; body rules exist so that it
//! does not. JSON rules use RFC 6901 pointers; several values for one pointer mean any of
//! them (Elasticsearch: `/status=green` or `/status=yellow`), different pointers must all hold.

use crate::outcome::{usage, UsageError};
use crate::probe::find_bytes;

use super::json;

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
        Self::parse_as("--expect-json", contains, expect_json)
    }

    /// [`BodyRules::parse`] for a check whose flag for JSON rules is named `flag`
    /// (`probe mongodb --expect`).
    pub fn parse_as(
        flag: &str,
        contains: &[String],
        expect_json: &[String],
    ) -> Result<Self, UsageError> {
        if contains.iter().any(String::is_empty) {
            return usage("--body-contains needs a non-empty text");
        }
        let mut json: Vec<JsonRule> = Vec::new();
        for rule in expect_json {
            let Some((pointer, value)) = rule.split_once('=') else {
                return usage(format!(
                    "invalid {flag} {rule:?} (use /pointer=value, e.g. /status=ok)"
                ));
            };
            if !pointer.is_empty() && !pointer.starts_with('/') {
                return usage(format!(
                    "invalid {flag} {rule:?}: JSON pointers start with / (did you mean /{rule}?)"
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
        for rule in &self.json {
            let shown = display_pointer(&rule.pointer);
            let Some(found) = json::find(body, &rule.pointer, &rule.accepted)? else {
                return Err(format!("{shown} is missing"));
            };
            if !found.accepted {
                return Err(format!(
                    "{shown} is {} (expected {})",
                    found.shown,
                    rule.accepted
                        .iter()
                        .map(|accepted| format!("{accepted:?}"))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ));
            }
            held.push(format!("{shown} is {}", found.shown));
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

    /// The check as it was with a `serde_json::Value` tree: the reference for every verdict
    /// and text of the tree-less one.
    fn check_with_tree(rules: &BodyRules, body: &[u8]) -> Result<String, String> {
        use serde_json::Value;
        let shorten = |text: &str| match text.char_indices().nth(80) {
            Some((cut, _)) => format!("{}...", &text[..cut]),
            None => text.to_string(),
        };
        let mut held = Vec::new();
        let document: Value =
            serde_json::from_slice(body).map_err(|error| format!("body is not JSON ({error})"))?;
        for rule in &rules.json {
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

    #[track_caller]
    fn same_as_tree(json: &[String], body: &[u8]) {
        let rules = BodyRules::parse(&[], json).unwrap();
        assert_eq!(
            rules.check(body),
            check_with_tree(&rules, body),
            "{json:?} on {:?}",
            String::from_utf8_lossy(body)
        );
    }

    #[test]
    fn json_rules_say_what_the_value_tree_said() {
        let long = "é".repeat(70) + &"x".repeat(300);
        let many: String = (0..300).rev().map(|n| format!("\"k{n}\":{n},")).collect();
        let bodies: Vec<String> = vec![
            r#"{"status":"ok","n":3,"f":1.50,"e":1e2,"z":-0,"big":18446744073709551616}"#.into(),
            r#"{"a":{"b":1},"a":{"c":2}}"#.into(),
            r#"{"a":1,"a":2,"b":[1,{"x":"y","x":"z"}],"b":[3]}"#.into(),
            r#"{"a/b":1,"m~n":2,"~1":3,"":4,"c":{"":5}}"#.into(),
            r#"[10,[20,21],{"0":"zero"}]"#.into(),
            r#"{"s":"tab\tquote\"nl\n\u0001\u00e9\ud83d\ude00"}"#.into(),
            format!(
                r#"{{"long":"{long}","list":[{}0],"obj":{{{many}"a":{{"z":1,"a":"{long}"}}}}}}"#,
                "1,".repeat(200)
            ),
            format!(r#"{{"k":{{"b":"{long}","a":1,"a":"{long}","c":2}}}}"#),
            format!(r#"{{"deep":{}1{}}}"#, "[".repeat(100), "]".repeat(100)),
            "  {\"status\" : \"ok\" }\n".into(),
            r#"{"status":"ok"} x"#.into(),
            r#"{"status":"ok",}"#.into(),
            r#"[1,2,]"#.into(),
            r#"{"status":"ok","x":1e400}"#.into(),
            r#"{"status":"ok","x":"\ud800"}"#.into(),
            r#"{"status":"ok","x":"\q"}"#.into(),
            format!(
                r#"{{"status":"ok","x":{}{}}}"#,
                "[".repeat(200),
                "]".repeat(200)
            ),
            r#"{"status":"ok","x":[1 2]}"#.into(),
            r#"{status:"ok"}"#.into(),
            "".into(),
            "<html>".into(),
            r#"{"a":[]}"#.into(),
            "null".into(),
            r#""just text""#.into(),
        ];
        let mut bodies: Vec<Vec<u8>> = bodies.into_iter().map(String::into_bytes).collect();
        bodies.push(b"{\"status\":\"ok\",\"x\":\"\xff\"}".to_vec());
        let pointers = [
            "",
            "/status",
            "/n",
            "/f",
            "/e",
            "/z",
            "/big",
            "/a",
            "/a/b",
            "/a/c",
            "/b",
            "/b/0",
            "/b/1/x",
            "/a~1b",
            "/m~0n",
            "/~01",
            "/",
            "/c/",
            "/0",
            "/1/1",
            "/2/0",
            "/01",
            "/+1",
            "/-1",
            "/1/2",
            "/s",
            "/long",
            "/list",
            "/obj",
            "/obj/a",
            "/k",
            "/k/a",
            "/deep",
            "/deep/0/0",
            "/x",
            "/missing",
        ];
        let values = [
            "ok",
            "3",
            "1.5",
            "100.0",
            "-0",
            "2",
            r#"{"c":2}"#,
            "[3]",
            "z",
            "1",
            "4",
        ];
        for body in &bodies {
            for pointer in pointers {
                let rules: Vec<String> = values.iter().map(|v| format!("{pointer}={v}")).collect();
                same_as_tree(&rules, body);
                same_as_tree(&[format!("{pointer}=x")], body);
                // The value's own text, however long, must hold.
                if let Ok(tree) = serde_json::from_slice::<serde_json::Value>(body) {
                    if let Some(value) = tree.pointer(pointer) {
                        let own = match value {
                            serde_json::Value::String(text) => text.clone(),
                            other => other.to_string(),
                        };
                        let rule = format!("{pointer}={own}");
                        same_as_tree(std::slice::from_ref(&rule), body);
                        assert!(BodyRules::parse(&[], &[rule]).unwrap().check(body).is_ok());
                        let mut near = own.clone();
                        near.pop();
                        same_as_tree(&[format!("{pointer}={near}"), "/n=3".into()], body);
                    }
                }
            }
        }
    }

    /// Random documents (repeated keys, long and escaped strings, odd numbers) and pointers
    /// into them: the tree-less check says what the tree said, every time.
    #[test]
    fn json_rules_match_the_value_tree_on_random_documents() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |below: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % below as u64) as usize
        };
        const KEYS: &[&str] = &["a", "b", "", "é", "a/b", "~", "aa", "\\u0000", "B", "\\n"];
        const NUMBERS: &[&str] = &[
            "0",
            "-0",
            "1.5",
            "1e2",
            "-12",
            "1E-7",
            "0.1",
            "99999999999999999999",
            "-0.0",
            "1.0",
        ];
        fn value(next: &mut dyn FnMut(usize) -> usize, depth: usize, out: &mut String) {
            match next(if depth > 2 { 5 } else { 8 }) {
                0 => out.push_str(NUMBERS[next(NUMBERS.len())]),
                1 => out.push_str(["true", "false", "null"][next(3)]),
                2 | 3 => {
                    out.push('"');
                    let len = [0, 1, 5, 90, 3, 2, 1, 0, 30, 500][next(10)];
                    for _ in 0..len {
                        out.push_str(["x", "é", "😀", "\\\"", "\\u0001", "\\n", "/"][next(7)]);
                    }
                    out.push('"');
                }
                4 => out.push_str(["[]", "{}"][next(2)]),
                5 => {
                    out.push('[');
                    for index in 0..[1, 3, [60, 8, 3][depth]][next(3)] {
                        if index > 0 {
                            out.push(',');
                        }
                        value(next, depth + 1, out);
                    }
                    out.push(']');
                }
                _ => {
                    out.push('{');
                    for index in 0..[1, 4, [40, 8, 3][depth]][next(3)] {
                        if index > 0 {
                            out.push(',');
                        }
                        out.push_str(&format!("\"{}\":", KEYS[next(KEYS.len())]));
                        value(next, depth + 1, out);
                    }
                    out.push('}');
                }
            }
        }
        for _ in 0..2000 {
            let mut body = String::new();
            value(&mut next, 0, &mut body);
            let tree: serde_json::Value = serde_json::from_str(&body).unwrap();
            let mut pointer = String::new();
            let mut rules = Vec::new();
            for _ in 0..4 {
                match next(3) {
                    0 => pointer.push_str(&format!("/{}", next(4))),
                    _ => pointer.push_str(&format!(
                        "/{}",
                        ["a", "b", "", "é", "a~1b", "~0", "aa", "B"][next(8)]
                    )),
                }
                if let Some(found) = tree.pointer(&pointer) {
                    let own = match found {
                        serde_json::Value::String(text) => text.clone(),
                        other => other.to_string(),
                    };
                    rules.push(format!("{pointer}={own}"));
                }
                let rule = vec![format!("{pointer}=1")];
                same_as_tree(&rule, body.as_bytes());
            }
            rules.push(format!("={tree}"));
            same_as_tree(&rules, body.as_bytes());
            same_as_tree(&[format!("={body}")], body.as_bytes());
            let whole = match &tree {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            rules.push(format!("={whole}"));
            let verdict = BodyRules::parse(&[], &rules)
                .unwrap()
                .check(body.as_bytes());
            assert!(verdict.is_ok(), "{rules:?} on {body}: {verdict:?}");
            same_as_tree(&["=x".into()], body.as_bytes());
        }
    }
}
