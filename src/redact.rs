//! Secrets never reach the output.
//!
//! Every password, token or secret header that probe learns while parsing its input is
//! registered here, and every line probe prints goes through [`scrub`]. Library error
//! texts can quote a URL or a server message containing a secret; scrubbing the finished
//! line catches them wherever they hide, instead of trusting each error path.

// A build with only tcp, process and file checks has no secrets to register.
#![cfg_attr(
    not(any(feature = "http", feature = "postgres", feature = "redis")),
    allow(dead_code)
)]

use std::path::Path;
use std::sync::Mutex;

use crate::outcome::UsageError;

static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

const MASK: &str = "***";

/// Remembers a secret so that no output line shows it. Empty strings are ignored.
pub fn register(secret: &str) {
    if secret.is_empty() || secret == MASK {
        return;
    }
    let mut secrets = SECRETS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !secrets.iter().any(|known| known == secret) {
        secrets.push(secret.to_string());
        // Longest first, so that a secret containing a shorter one is masked whole.
        secrets.sort_by_key(|known| std::cmp::Reverse(known.len()));
    }
}

/// Registers the password of a URL's userinfo, percent-encoded and decoded, and returns
/// the URL with the password masked.
pub fn url_password(url: &str) -> String {
    match userinfo_password(url) {
        Some((start, end)) => {
            let encoded = &url[start..end];
            register(encoded);
            register(&crate::net::percent_decode(encoded));
            format!("{}{MASK}{}", &url[..start], &url[end..])
        }
        None => url.to_string(),
    }
}

/// Byte range of the password in `scheme://user:password@host...`, if there is one.
fn userinfo_password(url: &str) -> Option<(usize, usize)> {
    let authority_start = url.find("://")? + 3;
    let authority_end = url[authority_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |end| authority_start + end);
    let authority = &url[authority_start..authority_end];
    let at = authority.rfind('@')?;
    let colon = authority[..at].find(':')?;
    Some((authority_start + colon + 1, authority_start + at))
}

/// `--password-file`: the file's text but one trailing newline (Docker secrets and `echo`
/// output end with one), registered as a secret. An empty file is an error: a check that
/// silently sends no password fails later, with a misleading reason.
#[cfg_attr(not(any(feature = "postgres", feature = "redis")), allow(dead_code))]
pub fn read_password_file(path: &Path) -> Result<String, UsageError> {
    let text = crate::fsread::read_text("--password-file", path, 64 * 1024)?;
    let password = text
        .strip_suffix('\n')
        .map(|text| text.strip_suffix('\r').unwrap_or(text))
        .unwrap_or(&text);
    if password.is_empty() {
        return Err(UsageError::new(format!(
            "--password-file {} is empty",
            path.display()
        )));
    }
    register(password);
    Ok(password.to_string())
}

/// The text with every registered secret masked.
pub fn scrub(text: &str) -> String {
    let secrets = SECRETS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut text = text.to_string();
    for secret in secrets.iter() {
        if text.contains(secret.as_str()) {
            text = text.replace(secret.as_str(), MASK);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_url_passwords_and_remembers_them() {
        let shown = url_password("postgres://app:s%40cret@db:5432/app?sslmode=require");
        assert_eq!(shown, "postgres://app:***@db:5432/app?sslmode=require");
        assert_eq!(
            scrub("login as app with s@cret failed"),
            "login as app with *** failed"
        );
        assert_eq!(scrub("s%40cret"), "***");
    }

    #[test]
    fn leaves_urls_without_password_alone() {
        for url in [
            "redis://db:6379/0",
            "http://user@host/",
            "http://host/a:b@c",
        ] {
            assert_eq!(url_password(url), url);
        }
    }
}
