//! Redis URLs as Redis clients write them, read with probe's one URL parser
//! ([`crate::url`]):
//!
//! - `redis://[user[:password]@]host[:port][/db]`, `rediss://...` for TLS,
//! - `unix:///path/to/redis.sock` and `redis+unix:///path` (credentials as `unix://:pw@/path`
//!   or in the query),
//! - query parameters `db`, `user`/`username`, `password`/`pass` and `ssl_cert_reqs=none`
//!   (redis-py's spelling of "do not verify the certificate"); any other is a usage error.
//!
//! `valkey://`, `valkeys://` and `valkey+unix://` are accepted as the same thing.

use std::path::PathBuf;

use crate::outcome::UsageError;
use crate::redact;
use crate::url::{self, Url};

pub const DEFAULT_PORT: u16 = 6379;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Tcp { host: String, port: u16 },
    Unix(PathBuf),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisUrl {
    pub endpoint: Endpoint,
    pub tls: bool,
    pub user: Option<String>,
    pub password: Option<String>,
    pub db: Option<u32>,
    /// `ssl_cert_reqs=none`: encrypt but do not verify the server's certificate.
    pub insecure: bool,
    /// The URL as given, password masked: what reports show.
    pub shown: String,
}

/// Parses a Redis URL and registers its password with [`redact`].
pub fn parse(text: &str) -> Result<RedisUrl, UsageError> {
    let shown = redact::url_password(text);
    let invalid = |why: &str| {
        UsageError::new(format!(
            "invalid Redis URL {shown:?}: {}",
            url::reason(text, why)
        ))
    };
    if !text.contains("://") {
        return Err(invalid(
            "expected redis://host[:port][/db], rediss://..., unix:///path or redis+unix:///path",
        ));
    }
    let parsed = Url::parse(text).map_err(|why| invalid(&why))?;
    let (tls, unix) = match parsed.scheme.as_str() {
        "redis" | "valkey" => (false, false),
        "rediss" | "valkeys" => (true, false),
        "unix" | "redis+unix" | "valkey+unix" => (false, true),
        _ => {
            return Err(invalid(
                "the scheme must be redis, rediss, unix or redis+unix",
            ))
        }
    };
    if parsed.fragment.is_some() {
        return Err(invalid(
            "unexpected '#' (percent-encode it as %23 inside a password)",
        ));
    }
    if let Some(password) = &parsed.password {
        redact::register(password);
    }
    let mut url = RedisUrl {
        endpoint: Endpoint::Unix(PathBuf::new()),
        tls,
        user: parsed.user.clone().filter(|user| !user.is_empty()),
        password: parsed.password.clone(),
        db: None,
        insecure: false,
        shown: shown.clone(),
    };
    if unix {
        if !parsed.host.is_empty() || !parsed.path.starts_with('/') {
            return Err(invalid(
                "a socket URL needs an absolute path: unix:///run/redis.sock",
            ));
        }
        let path = url::percent_decode(&parsed.path).map_err(|why| invalid(&why))?;
        if path.len() < 2 {
            return Err(invalid("the socket path is missing"));
        }
        url.endpoint = Endpoint::Unix(PathBuf::from(path));
    } else {
        if parsed.host.is_empty() {
            return Err(invalid("the host is missing"));
        }
        if parsed
            .host
            .contains(|c: char| c.is_whitespace() || matches!(c, '%' | '@' | '/'))
        {
            return Err(invalid(&format!("invalid host {:?}", parsed.host)));
        }
        url.endpoint = Endpoint::Tcp {
            host: parsed.host.clone(),
            port: parsed.port.unwrap_or(DEFAULT_PORT),
        };
        let path = parsed.path.strip_prefix('/').unwrap_or(&parsed.path);
        if !path.is_empty() {
            url.db = Some(parse_db(path).map_err(|why| invalid(&why))?);
        }
    }
    for (key, value) in parsed.query_pairs().map_err(|why| invalid(&why))? {
        let value = value.unwrap_or_default();
        match key.as_str() {
            "db" if url.db.is_some() => return Err(invalid("the database is given twice")),
            "db" => url.db = Some(parse_db(&value).map_err(|why| invalid(&why))?),
            "user" | "username" if url.user.is_some() => {
                return Err(invalid("the user is given twice"))
            }
            "user" | "username" => url.user = Some(value).filter(|user| !user.is_empty()),
            "password" | "pass" => {
                redact::register(&value);
                if url.password.is_some() {
                    return Err(invalid("the password is given twice"));
                }
                url.password = Some(value);
            }
            "ssl_cert_reqs" if !tls => return Err(invalid("ssl_cert_reqs needs a rediss:// URL")),
            "ssl_cert_reqs" => match value.to_ascii_lowercase().as_str() {
                "none" => url.insecure = true,
                "required" => url.insecure = false,
                _ => return Err(invalid("ssl_cert_reqs must be none or required")),
            },
            _ => {
                return Err(invalid(&format!(
                    "unsupported parameter {key:?} (known: db, user, password, ssl_cert_reqs)"
                )))
            }
        }
    }
    Ok(url)
}

fn parse_db(text: &str) -> Result<u32, String> {
    text.parse::<u32>()
        .map_err(|_| format!("the database must be a number, not {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(host: &str, port: u16) -> Endpoint {
        Endpoint::Tcp {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn tcp_urls() {
        let url = parse("redis://cache").unwrap();
        assert_eq!(url.endpoint, tcp("cache", 6379));
        assert_eq!(
            (url.tls, url.user, url.password, url.db),
            (false, None, None, None)
        );

        let url = parse("rediss://app:s%40cret@cache:6380/2").unwrap();
        assert_eq!(url.endpoint, tcp("cache", 6380));
        assert!(url.tls);
        assert_eq!(url.user.as_deref(), Some("app"));
        assert_eq!(url.password.as_deref(), Some("s@cret"));
        assert_eq!(url.db, Some(2));
        assert_eq!(url.shown, "rediss://app:***@cache:6380/2");

        let url = parse("redis://:pw@[::1]:7000/?ssl_cert_reqs=none")
            .err()
            .unwrap();
        assert!(url.0.contains("rediss"), "{url}");
        let url = parse("redis://:pw@[::1]:7000/").unwrap();
        assert_eq!(url.endpoint, tcp("::1", 7000));
        assert_eq!((url.user, url.password.as_deref()), (None, Some("pw")));
    }

    #[test]
    fn socket_urls() {
        let url = parse("unix:///run/redis/redis.sock?db=1").unwrap();
        assert_eq!(url.endpoint, Endpoint::Unix("/run/redis/redis.sock".into()));
        assert_eq!(url.db, Some(1));
        let url = parse("redis+unix://:pw@/tmp/r.sock").unwrap();
        assert_eq!(url.password.as_deref(), Some("pw"));
        assert_eq!(url.shown, "redis+unix://:***@/tmp/r.sock");
        let url = parse("unix:///tmp/r.sock?user=app&password=x%26y").unwrap();
        assert_eq!(
            (url.user.as_deref(), url.password.as_deref()),
            (Some("app"), Some("x&y"))
        );
    }

    #[test]
    fn bad_urls_say_why() {
        for (bad, why) in [
            ("cache:6379", "expected redis://"),
            ("http://cache", "scheme"),
            ("redis://", "host is missing"),
            ("redis://cache:0", "invalid port"),
            ("redis://cache:x", "invalid port"),
            ("redis://cache/x", "database must be a number"),
            ("redis://cache/1?db=2", "given twice"),
            ("redis://::1:6379", "brackets"),
            ("redis://cache?timeout=1", "unsupported parameter"),
            ("redis://cache#x", "%23"),
            ("unix://relative/path", "absolute path"),
            ("unix://", "absolute path"),
        ] {
            let error = parse(bad).err().unwrap_or_else(|| panic!("{bad} parsed"));
            assert!(error.0.contains(why), "{bad}: {error}");
        }
    }

    #[test]
    fn passwords_with_delimiters_and_short_ones() {
        let url = parse("redis://:a#b@cache").unwrap();
        assert_eq!(url.password.as_deref(), Some("a#b"));
        assert_eq!(url.shown, "redis://:***@cache");
        let error = parse("redis://:e@cache:99999/").err().unwrap();
        assert!(error.0.contains("redis://:***@cache:99999/"), "{error}");
    }

    #[test]
    fn passwords_are_masked_in_errors() {
        let error = parse("redis://u:hunter2@cache/x").err().unwrap();
        assert!(!error.0.contains("hunter2"), "{error}");
    }
}
