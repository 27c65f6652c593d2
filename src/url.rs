//! The one URL parser (RFC 3986 generic syntax, `scheme://authority/path?query#fragment`)
//! and the one percent-decoder, for every scheme probe reads: http(s), tcp, postgres and
//! its driver schemes, redis/rediss/unix, and the checks to come (mysql, grpc, amqp).
//!
//! Hand-written rather than a crate, measured in a size-tuned (opt-level z, fat LTO) binary
//! that prints scheme, host, port, userinfo and query: `url` 2 adds 194 KB (WHATWG, IDNA
//! tables); `fluent-uri` 0.3 adds 13 KB but is strict RFC 3986, so it rejects the
//! unencoded `#`, `/`, `?` and `@` that real passwords contain, and cannot mask a URL
//! inside free text (an argh message); `http::Uri` (which ureq brings) is a
//! request-target parser that does not decode userinfo, rejects an empty host
//! (`postgres://u@/db?host=/run/postgresql`) and is absent from builds without http.
//!
//! Two rules beyond the RFC, both for passwords: the userinfo ends at the *last* `@` of
//! the authority (`u:p@ss@host`), and when the authority that the RFC reads is not a valid
//! `host[:port]` but an `@` follows, the userinfo runs to that last `@`
//! (`http://u:Hash#Secret@host/` is user `u`, password `Hash#Secret`). [`Url::shown`]
//! and [`mask`] replace the password by position, never by searching for its text.

// Slim builds use only the masking; the parser serves the checks that are left out.
#![cfg_attr(
    not(all(feature = "http", feature = "postgres", feature = "redis")),
    allow(dead_code)
)]

/// What replaces a password in everything probe prints.
pub const MASK: &str = "***";

/// Words that make a query parameter's or a header's name a credential's
/// (`?api_key=`, `?X-Amz-Signature=`, `X-Auth-Token:`), found anywhere in the name, any
/// case: masking an innocent value costs less than printing a key.
const CREDENTIAL_WORDS: &[&str] = &[
    "auth",
    "cookie",
    "token",
    "secret",
    "key",
    "session",
    "pass",
    "pwd",
    "credential",
    "signature",
];

/// Parameters of the protocols probe speaks whose names hold a credential word but whose
/// values are settings, shown as written: libpq's `require_auth=scram-sha-256` and the
/// path `sslkey=`, MySQL's `ssl-key=`, MongoDB's `authSource=` and `authMechanism=`.
const SETTING_PARAMS: &[&str] = &[
    "require_auth",
    "sslkey",
    "ssl-key",
    "ssl_key",
    "authsource",
    "authmechanism",
    "tlscertificatekeyfile",
];

/// Whether a query parameter's or a header's name says its value is a credential: it
/// holds a [`CREDENTIAL_WORDS`] word, or `sig` as a whole part (`?sig=`, `?x-sig=`, not
/// `?design=`), and is not one of the [`SETTING_PARAMS`].
pub fn is_credential_name(name: &str) -> bool {
    let name = name.trim();
    if SETTING_PARAMS
        .iter()
        .any(|setting| setting.eq_ignore_ascii_case(name))
    {
        return false;
    }
    let name = name.as_bytes();
    let holds = |word: &str| {
        name.windows(word.len())
            .any(|window| window.eq_ignore_ascii_case(word.as_bytes()))
    };
    CREDENTIAL_WORDS.iter().any(|word| holds(word))
        || name
            .split(|b| !b.is_ascii_alphanumeric())
            .any(|part| part.eq_ignore_ascii_case(b"sig"))
}

/// Longest URL probe accepts; longer is a usage error, not a slow parse.
pub const MAX_LEN: usize = 8 * 1024;

/// A parsed URL. `user`, `password` and `host` are percent-decoded; `path`, `query` and
/// `fragment` are as written (decode with [`percent_decode`] or [`Url::query_pairs`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    /// Lowercased, e.g. `postgresql+asyncpg`.
    pub scheme: String,
    pub user: Option<String>,
    pub password: Option<String>,
    /// Without the brackets of an IPv6 literal; may be empty (`unix:///path`).
    pub host: String,
    /// `None` when absent or empty (`host:`): the scheme's default.
    pub port: Option<u16>,
    pub path: String,
    pub query: Option<String>,
    pub fragment: Option<String>,
    /// Byte range of the password as written, for masking by position.
    password_at: Option<(usize, usize)>,
    text: String,
}

impl Url {
    /// Parses `text`. The error names what is wrong, never the password: callers print
    /// it after [`mask`]`(text)`.
    pub fn parse(text: &str) -> Result<Url, String> {
        if text.len() > MAX_LEN {
            return Err(format!("longer than {MAX_LEN} bytes"));
        }
        if text
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err("contains a space or control character (percent-encode it)".into());
        }
        let (scheme, start) = split_scheme(text).ok_or("expected scheme://...")?;
        let a = authority(text, start);
        let mut url = Url {
            scheme: scheme.to_ascii_lowercase(),
            user: None,
            password: None,
            host: String::new(),
            port: None,
            path: String::new(),
            query: None,
            fragment: None,
            password_at: a.password,
            text: text.to_string(),
        };
        if let Some((user_end, _)) = a.userinfo {
            let user = &text[start..user_end];
            url.user = Some(percent_decode(user).map_err(|why| format!("user name: {why}"))?);
        }
        if let Some((from, to)) = a.password {
            url.password =
                Some(percent_decode(&text[from..to]).map_err(|why| format!("password: {why}"))?);
        }
        let (host, port) = split_host_port(&text[a.host_start..a.end])?;
        url.host = host;
        url.port = port;
        let rest = &text[a.end..];
        let (rest, fragment) = match rest.split_once('#') {
            Some((rest, fragment)) => (rest, Some(fragment.to_string())),
            None => (rest, None),
        };
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query.to_string())),
            None => (rest, None),
        };
        url.path = path.to_string();
        url.query = query;
        url.fragment = fragment;
        Ok(url)
    }

    /// The URL as written, password (and `?password=`-style values) masked by position.
    #[allow(dead_code)] // API for the checks to come (mysql, grpc, amqp)
    pub fn shown(&self) -> String {
        mask_url(&self.text)
    }

    /// The query's `name=value` pairs, decoded; a pair without `=` has no value. An
    /// error names the parameter unless [`reason`] finds the URL ambiguous.
    pub fn query_pairs(&self) -> Result<Vec<(String, Option<String>)>, String> {
        let Some(query) = &self.query else {
            return Ok(Vec::new());
        };
        query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = match pair.split_once('=') {
                    Some((name, value)) => (name, Some(value)),
                    None => (pair, None),
                };
                let bad = |why: String| reason(&self.text, &format!("parameter {name:?}: {why}"));
                let value = value.map(percent_decode).transpose().map_err(bad)?;
                Ok((percent_decode(name).map_err(bad)?, value))
            })
            .collect()
    }

    /// The password as written (still percent-encoded), for registering with redact.
    #[allow(dead_code)] // API for the checks to come
    pub fn raw_password(&self) -> Option<&str> {
        self.password_at.map(|(from, to)| &self.text[from..to])
    }
}

/// `scheme` and the index after `://`.
fn split_scheme(text: &str) -> Option<(&str, usize)> {
    let (scheme, _) = text.split_once("://")?;
    let valid = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some((scheme, scheme.len() + 3))
}

/// Where the parts of an authority starting at `start` are.
struct Authority {
    /// End of the user name and the index of the `@`.
    userinfo: Option<(usize, usize)>,
    password: Option<(usize, usize)>,
    host_start: usize,
    /// End of the authority: the first `/`, `?` or `#` after it, or the end.
    end: usize,
}

fn authority(text: &str, start: usize) -> Authority {
    let delimiter =
        |from: usize| find_any(&text[from..], b"/?#").map_or(text.len(), |at| from + at);
    let rfc_end = delimiter(start);
    let at = match text[start..rfc_end].rfind('@') {
        Some(at) => Some(start + at),
        // The RFC's authority is no valid host:port, yet an `@` follows: a password with
        // an unencoded `#`, `/` or `?`, such as `u:Hash#Secret@host`.
        None if !looks_like_host_port(&text[start..rfc_end]) => {
            text[rfc_end..].rfind('@').map(|at| rfc_end + at)
        }
        None => None,
    };
    match at {
        None => Authority {
            userinfo: None,
            password: None,
            host_start: start,
            end: rfc_end,
        },
        Some(at) => {
            let userinfo = &text[start..at];
            let (user_end, password) = match userinfo.find(':') {
                Some(colon) => (start + colon, Some((start + colon + 1, at))),
                None => (at, None),
            };
            Authority {
                userinfo: Some((user_end, at)),
                password,
                host_start: at + 1,
                end: delimiter(at + 1),
            }
        }
    }
}

/// Whether an authority without `@` reads as `host`, `host:digits` or `[v6]:digits`.
fn looks_like_host_port(text: &str) -> bool {
    let port = match text.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((_, "")) => "",
            Some((_, after)) => match after.strip_prefix(':') {
                Some(port) => port,
                None => return false,
            },
            None => return false,
        },
        None => match text.split_once(':') {
            Some((_, port)) => port,
            None => "",
        },
    };
    port.bytes().all(|b| b.is_ascii_digit())
}

/// `host`, `host:port`, `[v6]:port`, `host:` (empty port: the default). Errors quote
/// nothing: the caller prints the URL, masked.
fn split_host_port(text: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(v6) = text.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or("unclosed '[' around an IPv6 address")?;
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_hexdigit() || ":.%".contains(c))
        {
            return Err("invalid IPv6 address in brackets".into());
        }
        match after {
            "" => (host.to_string(), None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host.to_string(), Some(port)),
                None => return Err("unexpected text after the IPv6 address".into()),
            },
        }
    } else {
        let (host, port) = match text.split_once(':') {
            Some((_, port)) if port.contains(':') => {
                return Err("write IPv6 addresses in brackets, e.g. [::1]:5432".into())
            }
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        };
        if host.contains(['[', ']', '@', '\\']) {
            return Err("invalid character in the host".into());
        }
        (
            percent_decode(host).map_err(|why| format!("host: {why}"))?,
            port,
        )
    };
    let port = match port {
        None | Some("") => None,
        // Not quoted: where `@`s are ambiguous, the "port" may be part of a password.
        Some(port) => Some(parse_port(port).map_err(|_| "invalid port (1-65535)".to_string())?),
    };
    Ok((host, port))
}

/// A TCP port, 1-65535, digits only.
pub fn parse_port(text: &str) -> Result<u16, String> {
    let invalid = || format!("invalid port {text:?} (1-65535)");
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    match text.parse::<u32>() {
        Ok(port @ 1..=65535) => Ok(port as u16),
        _ => Err(invalid()),
    }
}

/// Decodes `%XX` escapes (two hex digits, nothing else: `%+1` is an error, not byte 1);
/// the result must be UTF-8. `+` stays `+`.
/// The user and password of the user information `user[:password]` of a URL with several
/// hosts (`mongodb://`, `kafka://`, which [`Url::parse`] does not take), percent-decoded.
/// An error never holds the password: its bad percent-encoding is not quoted.
#[cfg(any(feature = "mongodb", feature = "kafka"))]
pub fn user_and_password(userinfo: &str) -> Result<(String, Option<String>), String> {
    let (name, secret) = match userinfo.split_once(':') {
        Some((name, secret)) => (name, Some(secret)),
        None => (userinfo, None),
    };
    let name = percent_decode(name).map_err(|why| format!("user name: {why}"))?;
    if name.is_empty() {
        return Err("empty user name before @".into());
    }
    let password = secret
        .map(|secret| {
            percent_decode(secret).map_err(|_| "the password's percent-encoding".to_string())
        })
        .transpose()?;
    Ok((name, password))
}

pub fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    if !bytes.contains(&b'%') {
        return Ok(text.to_string());
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
            match (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
                (Some(high), Some(low)) => out.push((high * 16 + low) as u8),
                _ => return Err("invalid percent-encoding (use %XX with two hex digits)".into()),
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "percent-encoding is not UTF-8".into())
}

/// Every URL in `text` with its password and `?password=`-style values masked by
/// position. Works on any text: a URL probe could not parse, an argh message, a line of
/// output. A URL runs from its scheme to the next space or quote.
pub fn mask(text: &str) -> String {
    if !text.contains("://") {
        return text.to_string();
    }
    masked(text, &secret_ranges(text))
}

/// Byte ranges of the URL passwords and secret query values in `text`, in order, not
/// overlapping, none empty.
pub fn secret_ranges(text: &str) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut offset = 0;
    while let Some(found) = text[offset..].find("://").map(|at| offset + at) {
        let scheme_len = text.as_bytes()[offset..found]
            .iter()
            .rev()
            .take_while(|b| b.is_ascii_alphanumeric() || b"+-.".contains(b))
            .count();
        let scheme_start = found - scheme_len;
        let end = text[found..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>'))
            .map_or(text.len(), |at| found + at);
        let word = &text[scheme_start..end];
        ranges.extend(
            merged(word_ranges(word, found - scheme_start + 3))
                .into_iter()
                .map(|(from, to)| (scheme_start + from, scheme_start + to)),
        );
        offset = end.max(found + 3);
    }
    ranges
}

/// The secret ranges of `text` when all of it is one URL (an argument, a variable's
/// value): a password with a space or a quote in it stays one password, where [`mask`],
/// which finds URLs in free text, would end the URL there. Other text: as [`mask`].
pub fn url_secret_ranges(text: &str) -> Vec<(usize, usize)> {
    match split_scheme(text) {
        Some((_, start)) => merged(word_ranges(text, start)),
        None => secret_ranges(text),
    }
}

/// `text` with the ranges masked.
pub fn masked(text: &str, ranges: &[(usize, usize)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for &(from, to) in ranges {
        out.push_str(&text[copied..from]);
        out.push_str(MASK);
        copied = to;
    }
    out.push_str(&text[copied..]);
    out
}

/// [`url_secret_ranges`] masked: how a URL given whole is shown.
pub fn mask_url(text: &str) -> String {
    masked(text, &url_secret_ranges(text))
}

/// Ranges sorted, empty ones dropped, overlapping ones (a password running into the
/// query) merged.
fn merged(mut ranges: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
    ranges.sort();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (from, to) in ranges.into_iter().filter(|(from, to)| to > from) {
        match merged.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(to),
            _ => merged.push((from, to)),
        }
    }
    merged
}

/// Whether the authority starting at `start` is followed by more `@`s than one reading
/// explains, so that the password may run to any of them.
fn ambiguous_from(word: &str, start: usize) -> bool {
    let rfc_end = find_any(&word[start..], b"/?#").map_or(word.len(), |at| start + at);
    let inside = word[start..rfc_end].contains('@');
    let beyond = word[rfc_end..].matches('@').count();
    (inside && beyond >= 1) || (!inside && beyond >= 2)
}

/// What a usage error about the URL `text` may say: `why`, unless the URL's `@`s are
/// ambiguous and `why` quotes a part of it (a path, a parameter, a host), which may then
/// be a piece of the password that [`mask`] hides: the hint to encode it is shown instead.
pub fn reason(text: &str, why: &str) -> String {
    let ambiguous = text
        .find("://")
        .is_some_and(|at| ambiguous_from(text, at + 3));
    match ambiguous && why.contains('"') {
        true => "cannot tell where the password ends (an '@' follows the host): \
                 percent-encode '@', '/', '?' and '#' in it as %40, %2F, %3F and %23"
            .into(),
        false => why.into(),
    }
}

/// Where the first of the ASCII bytes `set` is in `text`. A byte scan: `str::find` with a
/// `[char]` pattern decodes every character, and these scans ran five times per URL.
fn find_any(text: &str, set: &[u8]) -> Option<usize> {
    text.bytes().position(|byte| set.contains(&byte))
}

/// The secret ranges of one URL-shaped word whose authority starts at `start`.
fn word_ranges(word: &str, start: usize) -> Vec<(usize, usize)> {
    let a = authority(word, start);
    // More `@`s than one reading explains (`u:p@ss/w@rd@host/x?password=a@b`): the
    // password may run anywhere up to the last of them, so everything after its start
    // is masked; never part of a password shown.
    let ambiguous = ambiguous_from(word, start);
    let password = a.password.map(|(from, to)| match ambiguous {
        true => (from, word.len()),
        false => (from, to),
    });
    let mut ranges: Vec<(usize, usize)> = password.into_iter().collect();
    // Secret query parameters, wherever a `?`, `&` or `;` starts them.
    let mut at = a.end;
    while let Some(found) = find_any(&word[at..], b"?&;") {
        let name_start = at + found + 1;
        let Some(eq) = word[name_start..].find('=') else {
            break;
        };
        let name = &word[name_start..name_start + eq];
        let value_start = name_start + eq + 1;
        // To the next `&` or `;`: a `#` in a password is more likely than a fragment.
        let value_end =
            find_any(&word[value_start..], b"&;").map_or(word.len(), |end| value_start + end);
        if is_credential_name(name) {
            ranges.push((value_start, value_end));
        }
        at = value_start;
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_part() {
        let url =
            Url::parse("postgresql+asyncpg://app:s%40cret@db.internal:6543/shop?sslmode=require#x")
                .unwrap();
        assert_eq!(url.scheme, "postgresql+asyncpg");
        assert_eq!(url.user.as_deref(), Some("app"));
        assert_eq!(url.password.as_deref(), Some("s@cret"));
        assert_eq!(url.raw_password(), Some("s%40cret"));
        assert_eq!((url.host.as_str(), url.port), ("db.internal", Some(6543)));
        assert_eq!(url.path, "/shop");
        assert_eq!(url.query.as_deref(), Some("sslmode=require"));
        assert_eq!(url.fragment.as_deref(), Some("x"));
        assert_eq!(
            url.shown(),
            "postgresql+asyncpg://app:***@db.internal:6543/shop?sslmode=require#x"
        );
        let url = Url::parse("redis://[::1]:7000").unwrap();
        assert_eq!((url.host.as_str(), url.port), ("::1", Some(7000)));
        let url = Url::parse("unix:///run/redis.sock").unwrap();
        assert_eq!(
            (url.host.as_str(), url.path.as_str()),
            ("", "/run/redis.sock")
        );
        let url = Url::parse("http://host:/").unwrap();
        assert_eq!(url.port, None);
    }

    #[test]
    fn passwords_with_delimiters_end_at_the_last_at() {
        for (text, password) in [
            ("http://u:Hash#Secret@host/", "Hash#Secret"),
            ("http://u:a/b?c@host:80/x", "a/b?c"),
            ("redis://:p@ss@cache", "p@ss"),
        ] {
            let url = Url::parse(text).unwrap();
            assert_eq!(url.password.as_deref(), Some(password), "{text}");
            assert_eq!(
                url.host,
                if text.contains("cache") {
                    "cache"
                } else {
                    "host"
                }
            );
            assert!(!url.shown().contains(password), "{}", url.shown());
        }
        let url = Url::parse("http://host/a@b").unwrap();
        assert_eq!((url.host.as_str(), url.path.as_str()), ("host", "/a@b"));
    }

    /// A password with unencoded `/`, `?` and `@` runs into the path and query as the RFC
    /// reads them: no error may quote a piece of that text (found by fuzzing).
    #[test]
    fn errors_about_an_ambiguous_url_quote_none_of_it() {
        let text = "redis://u:a@h/x@k?rPWpart@z:q%=1&ok%=2";
        let url = Url::parse(text).unwrap();
        let error = url.query_pairs().unwrap_err();
        assert!(
            error.starts_with("cannot tell where the password ends"),
            "{error}"
        );
        assert!(!error.contains("PWpart"), "{error}");
        assert!(reason(text, "unknown parameter \"rPWpart@z:q\"").starts_with("cannot tell"));
        assert_eq!(reason(text, "bad escape"), "bad escape");

        let plain = "redis://u:a@h/0?ok%=2";
        let error = Url::parse(plain).unwrap().query_pairs().unwrap_err();
        assert!(error.starts_with("parameter \"ok%\": "), "{error}");
        assert_eq!(reason(plain, "unknown \"x\""), "unknown \"x\"");
    }

    #[test]
    fn bad_ports_and_escapes_are_errors() {
        for bad in [
            "http://localhost:65536/",
            "http://localhost:-1/",
            "http://localhost:99999999/",
            "http://localhost:0/",
            "http://localhost:8o/",
            "http://h/%+1",
            "http://::1/",
            "http://u:%zz@h/",
            "http://h /",
        ] {
            let parsed = Url::parse(bad);
            let decoded = parsed.clone().map(|url| percent_decode(&url.path));
            assert!(
                parsed.is_err() || decoded.as_ref().is_ok_and(|d| d.is_err()),
                "{bad}: {parsed:?}"
            );
        }
        assert!(percent_decode("%+1").is_err());
        assert_eq!(percent_decode("a%2Fb+c").unwrap(), "a/b+c");
    }

    #[test]
    fn mask_works_on_any_text() {
        assert_eq!(
            mask("unrecognized argument: amqp://u:pw@rabbit/ and \"redis://:x@c/?password=abc&db=1\""),
            "unrecognized argument: amqp://u:***@rabbit/ and \"redis://:***@c/?password=***&db=1\""
        );
        assert_eq!(mask("no url here: a:b@c"), "no url here: a:b@c");
        assert_eq!(mask("redis://cache:6379/0"), "redis://cache:6379/0");
    }
}
