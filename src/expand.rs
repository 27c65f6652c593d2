//! `${VAR}` and `${VAR:-default}` in arguments, expanded by probe from its own environment.
//!
//! Exec-form `HEALTHCHECK CMD [...]` and compose `test: ["CMD", ...]` get no shell, so
//! nothing else would expand them. `$$` is a literal `$` (compose's escape); any other `$`
//! is left as it is. An unset variable without a default is an error, not an empty string:
//! `http://${HOST}:8000/` silently becoming `http://:8000/` is the kind of bug that costs a
//! night.

use crate::outcome::{usage, UsageError};

/// Expands `text` with variables from the process environment.
pub fn expand(text: &str) -> Result<String, UsageError> {
    expand_with(text, &|name| std::env::var(name).ok())
}

pub fn expand_with(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, UsageError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(after_escape) = after.strip_prefix('$') {
            out.push('$');
            rest = after_escape;
        } else if let Some(inner) = after.strip_prefix('{') {
            let close = matching_brace(inner)
                .ok_or_else(|| UsageError::new(format!("unclosed ${{ in {text:?}")))?;
            out.push_str(&substitute(&inner[..close], env)?);
            rest = &inner[close + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Index of the `}` closing an expression, allowing nested `${...}` in defaults.
fn matching_brace(inner: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (index, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(index),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

fn substitute(
    expression: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, UsageError> {
    let (name, default) = match expression.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (expression, None),
    };
    let valid_name = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_name {
        return usage(format!("invalid variable reference ${{{expression}}}"));
    }
    match (env(name), default) {
        (Some(value), Some(default)) if value.is_empty() => expand_with(default, env),
        (Some(value), _) => Ok(value),
        (None, Some(default)) => expand_with(default, env),
        (None, None) => usage(format!(
            "${{{name}}} is not set (give a default with ${{{name}:-value}})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("db".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
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
        assert_eq!(run("pa$s$").unwrap(), "pa$s$");
    }

    #[test]
    fn unset_and_malformed_references_are_errors() {
        assert!(run("${NOPE}").unwrap_err().0.contains("${NOPE} is not set"));
        assert!(run("${HOST").is_err());
        assert!(run("${1X}").is_err());
        assert!(run("${}").is_err());
    }
}
