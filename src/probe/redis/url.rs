//! Redis URLs as Redis clients write them, parsed without a URL crate (the forms are few and
//! fixed, and a general URL parser would bring IDNA tables into the binary):
//!
//! - `redis://[user[:password]@]host[:port][/db]`, `rediss://...` for TLS,
//! - `unix:///path/to/redis.sock` and `redis+unix:///path` (credentials as `unix://:pw@/path`
//!   or in the query),
//! - query parameters `db`, `user`/`username`, `password`/`pass` and `ssl_cert_reqs=none`
//!   (redis-py's spelling of "do not verify the certificate"); any other is a usage error.
//!
//! `valkey://`, `valkeys://` and `valkey+unix://` are accepted as the same thing.

use std::path::PathBuf;

use crate::net;
use crate::outcome::UsageError;
use crate::redact;

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
    let invalid = |why: &str| UsageError::new(format!("invalid Redis URL {shown:?}: {why}"));
    let (scheme, rest) = text.split_once("://").ok_or_else(|| {
        invalid(
            "expected redis://host[:port][/db], rediss://..., unix:///path or redis+unix:///path",
        )
    })?;
    let (tls, unix) = match scheme.to_ascii_lowercase().as_str() {
        "redis" | "valkey" => (false, false),
        "rediss" | "valkeys" => (true, false),
        "unix" | "redis+unix" | "valkey+unix" => (false, true),
        _ => {
            return Err(invalid(
                "the scheme must be redis, rediss, unix or redis+unix",
            ))
        }
    };
    if rest.contains('#') {
        return Err(invalid(
            "unexpected '#' (percent-encode it as %23 inside a password)",
        ));
    }
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));

    let mut url = RedisUrl {
        endpoint: Endpoint::Unix(PathBuf::new()),
        tls,
        user: None,
        password: None,
        db: None,
        insecure: false,
        shown: shown.clone(),
    };
    if unix {
        // unix:///path, or unix://[user[:password]@]/path
        let (userinfo, path) = match rest.find('/') {
            Some(0) => ("", rest),
            Some(slash) if rest[..slash].ends_with('@') => (&rest[..slash - 1], &rest[slash..]),
            _ => {
                return Err(invalid(
                    "a socket URL needs an absolute path: unix:///run/redis.sock",
                ))
            }
        };
        url.set_userinfo(userinfo);
        let path = net::percent_decode(path);
        if path.len() < 2 {
            return Err(invalid("the socket path is missing"));
        }
        url.endpoint = Endpoint::Unix(PathBuf::from(path));
    } else {
        let (authority, path) = match rest.find('/') {
            Some(slash) => (&rest[..slash], &rest[slash + 1..]),
            None => (rest, ""),
        };
        let hostport = match authority.rfind('@') {
            Some(at) => {
                url.set_userinfo(&authority[..at]);
                &authority[at + 1..]
            }
            None => authority,
        };
        let (host, port) = split_host_port(hostport).map_err(|why| invalid(&why))?;
        url.endpoint = Endpoint::Tcp { host, port };
        if !path.is_empty() {
            url.db = Some(parse_db(path).map_err(|why| invalid(&why))?);
        }
    }
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = net::percent_decode(value);
        match key {
            "db" if url.db.is_some() => return Err(invalid("the database is given twice")),
            "db" => url.db = Some(parse_db(&value).map_err(|why| invalid(&why))?),
            "user" | "username" if url.user.is_some() => {
                return Err(invalid("the user is given twice"))
            }
            "user" | "username" => url.user = Some(value).filter(|user| !user.is_empty()),
            "password" | "pass" => {
                redact::register(pair.split_once('=').map_or("", |(_, raw)| raw));
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

impl RedisUrl {
    /// `user:password`, `:password` or `user` (both percent-encoded).
    fn set_userinfo(&mut self, userinfo: &str) {
        let (user, password) = match userinfo.split_once(':') {
            Some((user, password)) => (user, Some(password)),
            None => (userinfo, None),
        };
        self.user = Some(net::percent_decode(user)).filter(|user| !user.is_empty());
        self.password = password.map(|password| {
            let decoded = net::percent_decode(password);
            redact::register(&decoded);
            decoded
        });
    }
}

fn split_host_port(text: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(v6) = text.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or("unclosed '[' around an IPv6 address")?;
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err(format!("unexpected {after:?} after the IPv6 address")),
            },
        }
    } else {
        match text.split_once(':') {
            Some((_, port)) if port.contains(':') => {
                return Err("write IPv6 addresses in brackets: redis://[::1]:6379".into())
            }
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    if host.is_empty() {
        return Err("the host is missing".into());
    }
    if host.contains(|c: char| c.is_whitespace() || c == '%' || c == '@') {
        return Err(format!("invalid host {host:?}"));
    }
    let port = match port {
        None | Some("") => DEFAULT_PORT,
        Some(port) => match port.parse::<u16>() {
            Ok(port) if port > 0 => port,
            _ => return Err(format!("invalid port {port:?} (1-65535)")),
        },
    };
    Ok((host.to_string(), port))
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
            ("redis://:a#b@cache", "%23"),
            ("unix://relative/path", "absolute path"),
            ("unix://", "absolute path"),
        ] {
            let error = parse(bad).err().unwrap_or_else(|| panic!("{bad} parsed"));
            assert!(error.0.contains(why), "{bad}: {error}");
        }
    }

    #[test]
    fn passwords_are_masked_in_errors() {
        let error = parse("redis://u:hunter2@cache/x").err().unwrap();
        assert!(!error.0.contains("hunter2"), "{error}");
    }
}
