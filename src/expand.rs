//! `${VAR}`, `$VAR` and `${VAR:-default}` in arguments, expanded by probe from its own
//! environment.
//!
//! Exec-form `HEALTHCHECK CMD [...]` and compose `test: ["CMD", ...]` get no shell, so
//! nothing else would expand them. The rules never change a line that worked as written:
//!
//! - `${VAR}` and `$VAR` of a variable that is set expand (compose's `$$VAR` reaches probe
//!   as `$VAR`);
//! - a bare `$NAME` that no variable holds stays as written: a password `pa$word1`, an
//!   OData path `/$metadata`, a regex `$QUEUE` keep their meaning;
//! - an unset `${VAR}` (braces: clearly meant) without a default is an error naming only
//!   the variable, not an empty string: `http://${HOST}:8000/` silently becoming
//!   `http://:8000/` is the kind of bug that costs a night;
//! - `$$` is a literal `$` (compose's escape), the way to write `$` before a set
//!   variable's name; a `$` not followed by a name or `{` stays as it is.
//!
//! One pass, linear in the text (a default is parsed once, even when nested), with a
//! nesting limit and a length limit. Errors never quote the argument: it may hold a
//! secret that a later `}` would have closed.

use crate::outcome::{usage, UsageError};

/// Longest argument probe accepts, before and after expansion.
pub const MAX_ARGUMENT: usize = 64 * 1024;
/// Deepest `${A:-${B:-...}}` nesting.
pub const MAX_NESTING: usize = 16;

/// A variable's value: `Ok(None)` when unset, `Err(())` when it is not valid UTF-8.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Result<Option<String>, ()>;

/// Expands `text` with variables from the process environment, registering the values
/// of credential-named variables as secrets. A text without `$` is returned as it is.
pub fn expand(text: &str) -> Result<String, UsageError> {
    if !text.contains('$') {
        return Ok(text.to_string());
    }
    expand_with(text, &|name| match std::env::var_os(name) {
        None => Ok(None),
        Some(value) => {
            let value = value.into_string().map_err(|_| ())?;
            crate::redact::register_expansion(name, &value);
            Ok(Some(value))
        }
    })
}

pub fn expand_with(text: &str, env: Lookup) -> Result<String, UsageError> {
    if text.len() > MAX_ARGUMENT {
        return usage(format!(
            "an argument is longer than {} KiB",
            MAX_ARGUMENT / 1024
        ));
    }
    let mut parser = Parser {
        text,
        at: 0,
        env,
        out_len: 0,
    };
    parser.sequence(0, false)?
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
    env: Lookup<'a>,
    out_len: usize,
}

/// The expansion of a piece of text, or the error it would raise if it were used (a
/// default that is never used may name an unset variable).
type Value = Result<String, UsageError>;

impl<'a> Parser<'a> {
    /// Text up to the end (or up to the `}` closing a default, when `in_default`). Syntax
    /// errors are returned at once; errors of lookups inside are returned as the value.
    fn sequence(&mut self, depth: usize, in_default: bool) -> Result<Value, UsageError> {
        let bytes = self.text.as_bytes();
        let mut out = String::new();
        let mut deferred: Option<UsageError> = None;
        loop {
            let Some(&byte) = bytes.get(self.at) else {
                if in_default {
                    return usage("unclosed ${ in an argument (expected })");
                }
                break;
            };
            match byte {
                b'}' if in_default => {
                    self.at += 1;
                    break;
                }
                b'$' => match bytes.get(self.at + 1) {
                    Some(b'$') => {
                        out.push('$');
                        self.at += 2;
                    }
                    Some(b'{') => {
                        self.at += 2;
                        let value = self.braced(depth + 1)?;
                        self.push(&mut out, value, &mut deferred)?;
                    }
                    Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {
                        let dollar = self.at;
                        self.at += 1;
                        let name = self.name();
                        // Unset: the `$` and the name stay as written.
                        let value = self.lookup(name).map(|value| {
                            value.unwrap_or_else(|| self.text[dollar..self.at].to_string())
                        });
                        self.push(&mut out, value, &mut deferred)?;
                    }
                    _ => {
                        out.push('$');
                        self.at += 1;
                    }
                },
                _ => {
                    let next = self.text[self.at..]
                        .find(|c| c == '$' || (in_default && c == '}'))
                        .map_or(self.text.len(), |found| self.at + found);
                    let piece = &self.text[self.at..next];
                    self.push(&mut out, Ok(piece.to_string()), &mut deferred)?;
                    self.at = next;
                }
            }
        }
        Ok(match deferred {
            Some(error) => Err(error),
            None => Ok(out),
        })
    }

    fn push(
        &mut self,
        out: &mut String,
        value: Value,
        deferred: &mut Option<UsageError>,
    ) -> Result<(), UsageError> {
        match value {
            Ok(text) => {
                self.out_len += text.len();
                if self.out_len > MAX_ARGUMENT * 2 {
                    return usage(format!(
                        "an argument is longer than {} KiB after expansion",
                        MAX_ARGUMENT / 1024
                    ));
                }
                if deferred.is_none() {
                    out.push_str(&text);
                }
            }
            Err(error) => {
                deferred.get_or_insert(error);
            }
        }
        Ok(())
    }

    fn name(&mut self) -> &'a str {
        let text = self.text;
        let rest = &text[self.at..];
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        self.at += len;
        &text[self.at - len..self.at]
    }

    fn lookup(&self, name: &str) -> Result<Option<String>, UsageError> {
        (self.env)(name).map_err(|()| UsageError::new(format!("${{{name}}} is not valid UTF-8")))
    }

    /// After `${`: `NAME}` or `NAME:-default}`.
    fn braced(&mut self, depth: usize) -> Result<Value, UsageError> {
        if depth > MAX_NESTING {
            return usage(format!("${{...}} nested more than {MAX_NESTING} deep"));
        }
        let starts_well =
            self.text[self.at..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
        let name = if starts_well { self.name() } else { "" };
        let rest = &self.text[self.at..];
        if rest.starts_with('}') {
            self.at += 1;
            if name.is_empty() {
                return usage("invalid variable reference ${}");
            }
            return Ok(self.lookup(name)?.ok_or_else(|| unset(name)));
        }
        if name.is_empty() || !rest.starts_with(":-") {
            if !rest.contains('}') {
                return usage("unclosed ${ in an argument (expected })");
            }
            return usage(match name {
                "" => "invalid variable reference after ${ (expected a name)".to_string(),
                name => format!("invalid variable reference ${{{name}...}} (expected }} or :-)"),
            });
        }
        self.at += 2;
        let default = self.sequence(depth, true)?;
        Ok(match self.lookup(name)? {
            Some(value) if !value.is_empty() => Ok(value),
            _ => default,
        })
    }
}

fn unset(name: &str) -> UsageError {
    UsageError::new(format!(
        "${{{name}}} is not set (give a default with ${{{name}:-value}})"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Result<Option<String>, ()> {
        match name {
            "HOST" => Ok(Some("db".into())),
            "EMPTY" => Ok(Some(String::new())),
            "BINARY" => Err(()),
            _ => Ok(None),
        }
    }

    fn run(text: &str) -> Result<String, UsageError> {
        expand_with(text, &env)
    }

    #[test]
    fn expands_variables_and_defaults() {
        assert_eq!(run("tcp://${HOST}:5432").unwrap(), "tcp://db:5432");
        assert_eq!(run("${PORT:-8000}").unwrap(), "8000");
        assert_eq!(run("${EMPTY:-x}").unwrap(), "x");
        assert_eq!(run("${EMPTY}").unwrap(), "");
        assert_eq!(run("${PORT:-${HOST}}").unwrap(), "db");
    }

    #[test]
    fn dollar_dollar_is_a_literal_dollar_and_lone_dollars_stay() {
        assert_eq!(run("$${HOST}").unwrap(), "${HOST}");
        // `$s` is a variable now (compose's rule); `$$` keeps a literal dollar.
        assert_eq!(run("pa$$s$").unwrap(), "pa$s$");
        assert_eq!(run("a$ $1 $-").unwrap(), "a$ $1 $-");
    }

    #[test]
    fn bare_dollar_names_expand_like_braces() {
        assert_eq!(run("tcp://$HOST:5432").unwrap(), "tcp://db:5432");
        assert_eq!(run("$HOST.x").unwrap(), "db.x");
        // A bare name no variable holds stays as written: a line that worked as written
        // keeps working (a password `pa$word1`, an OData `/$metadata`).
        assert_eq!(run("$NOPE").unwrap(), "$NOPE");
        assert_eq!(run("pa$word1").unwrap(), "pa$word1");
        assert_eq!(
            run("/odata/$metadata?x=$HOST").unwrap(),
            "/odata/$metadata?x=db"
        );
        assert_eq!(
            run("redis://:S3cr3t$Passw0rd@host").unwrap(),
            "redis://:S3cr3t$Passw0rd@host"
        );
        assert_eq!(run("$NOPE_${HOST}").unwrap(), "$NOPE_db");
    }

    #[test]
    fn unused_defaults_are_not_evaluated_and_errors_never_quote_the_text() {
        assert_eq!(run("${HOST:-${NOPE}}").unwrap(), "db");
        let error = run("redis://:hunter2@${HOST").unwrap_err();
        assert!(!error.0.contains("hunter2"), "{error}");
        assert!(run("${BINARY}").unwrap_err().0.contains("not valid UTF-8"));
    }

    #[test]
    fn nesting_and_length_are_bounded() {
        let deep = "${A:-".repeat(32 * 1024) + &"}".repeat(32 * 1024);
        let started = std::time::Instant::now();
        assert!(run(&deep).is_err());
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert!(run(&"x".repeat(MAX_ARGUMENT + 1)).is_err());
        let ok = "${A:-".repeat(MAX_NESTING) + "x" + &"}".repeat(MAX_NESTING);
        assert_eq!(run(&ok).unwrap(), "x");
    }

    #[test]
    fn unset_and_malformed_references_are_errors() {
        assert!(run("${NOPE}").unwrap_err().0.contains("${NOPE} is not set"));
        assert!(run("${HOST").is_err());
        assert!(run("${1X}").is_err());
        assert!(run("${}").is_err());
    }
}
