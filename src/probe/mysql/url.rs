//! `mysql://[user[:password]@]host[:port][/db][?ssl-mode=...&socket=/path]` (also
//! `mariadb://`), and `mysql+unix:///path/to/mysqld.sock` for a Unix socket. One small
//! function until the shared URL parser arrives; the password is registered as a secret
//! before anything can print it.

use std::path::PathBuf;

use crate::net::percent_decode;
use crate::outcome::UsageError;
use crate::redact;

pub const DEFAULT_PORT: u16 = 3306;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Tcp { host: String, port: u16 },
    Unix(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MysqlUrl {
    pub user: Option<String>,
    pub password: Option<String>,
    pub endpoint: Endpoint,
    pub db: Option<String>,
    /// `ssl-mode` as written (checked by the caller).
    pub ssl_mode: Option<String>,
    /// The URL with its password masked, for reports.
    pub shown: String,
}

pub fn parse(text: &str) -> Result<MysqlUrl, UsageError> {
    let shown = redact::url_password(text);
    let bad = |why: &str| UsageError::new(format!("invalid MySQL URL {shown:?}: {why}"));
    let (scheme, rest) = text
        .split_once("://")
        .ok_or_else(|| bad("expected mysql://host[:port][/db]"))?;
    let unix = match scheme.to_ascii_lowercase().as_str() {
        "mysql" | "mariadb" => false,
        "mysql+unix" | "mariadb+unix" => true,
        _ => {
            return Err(bad(
                "the scheme must be mysql://, mariadb:// or mysql+unix://",
            ))
        }
    };
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, ""),
    };
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
        None => (None, authority),
    };
    let (user, password) = match userinfo {
        None => ("", None),
        Some(info) => match info.split_once(':') {
            Some((user, password)) => (user, Some(percent_decode(password))),
            None => (info, None),
        },
    };
    let user = Some(percent_decode(user)).filter(|user| !user.is_empty());
    if let Some(password) = &password {
        redact::register(password);
    }

    let mut ssl_mode = None;
    let mut socket = None;
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value);
        match name.to_ascii_lowercase().replace('_', "-").as_str() {
            "ssl-mode" | "sslmode" => ssl_mode = Some(value),
            "socket" => socket = Some(PathBuf::from(value)),
            _ => {
                return Err(bad(&format!(
                    "unknown parameter {name:?} (ssl-mode, socket)"
                )))
            }
        }
    }

    let mut db = None;
    let endpoint = if unix {
        if !hostport.is_empty() {
            return Err(bad(
                "mysql+unix:// takes a path, not a host: mysql+unix:///run/mysqld/mysqld.sock",
            ));
        }
        if socket.is_some() || path.len() < 2 {
            return Err(bad(
                "mysql+unix:// needs the socket's path: mysql+unix:///run/mysqld/mysqld.sock",
            ));
        }
        Endpoint::Unix(PathBuf::from(percent_decode(path)))
    } else {
        let name = path.trim_start_matches('/');
        if name.contains('/') {
            return Err(bad("the database name cannot contain '/'"));
        }
        db = Some(percent_decode(name)).filter(|db| !db.is_empty());
        let (host, port) =
            host_port(hostport).ok_or_else(|| bad("expected host[:port] with a port 1-65535"))?;
        match socket {
            Some(path) if !path.as_os_str().is_empty() => Endpoint::Unix(path),
            Some(_) => return Err(bad("socket= needs a path")),
            None => Endpoint::Tcp { host, port },
        }
    };
    for (what, value) in [("user", &user), ("database", &db)] {
        if value.as_deref().is_some_and(|value| value.contains('\0')) {
            return Err(bad(&format!("the {what} contains a NUL byte")));
        }
    }
    Ok(MysqlUrl {
        user,
        password,
        endpoint,
        db,
        ssl_mode,
        shown,
    })
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`, or nothing (localhost:3306).
fn host_port(text: &str) -> Option<(String, u16)> {
    let (host, port) = if let Some(v6) = text.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    let port = match port {
        Some(port) => port.parse::<u16>().ok().filter(|port| *port > 0)?,
        None => DEFAULT_PORT,
    };
    let host = if host.is_empty() { "localhost" } else { host };
    if host.contains([' ', '/', '@', '[', ']']) || (!text.starts_with('[') && host.contains(':')) {
        return None;
    }
    Some((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_urls() {
        let url = parse("mysql://app:s%40cret@db:3307/shop?ssl-mode=REQUIRED").unwrap();
        assert_eq!(url.user.as_deref(), Some("app"));
        assert_eq!(url.password.as_deref(), Some("s@cret"));
        assert_eq!(
            url.endpoint,
            Endpoint::Tcp {
                host: "db".into(),
                port: 3307
            }
        );
        assert_eq!(url.db.as_deref(), Some("shop"));
        assert_eq!(url.ssl_mode.as_deref(), Some("REQUIRED"));
        assert_eq!(url.shown, "mysql://app:***@db:3307/shop?ssl-mode=REQUIRED");
    }

    #[test]
    fn defaults_sockets_and_v6() {
        let url = parse("mariadb://").unwrap();
        assert_eq!(
            url.endpoint,
            Endpoint::Tcp {
                host: "localhost".into(),
                port: 3306
            }
        );
        let url = parse("mysql://root@localhost/app?socket=/run/mysqld/mysqld.sock").unwrap();
        assert_eq!(
            url.endpoint,
            Endpoint::Unix("/run/mysqld/mysqld.sock".into())
        );
        assert_eq!(url.db.as_deref(), Some("app"));
        let url = parse("mysql+unix:///run/mysqld/mysqld.sock").unwrap();
        assert_eq!(
            url.endpoint,
            Endpoint::Unix("/run/mysqld/mysqld.sock".into())
        );
        let url = parse("mysql://[::1]:3310").unwrap();
        assert_eq!(
            url.endpoint,
            Endpoint::Tcp {
                host: "::1".into(),
                port: 3310
            }
        );
    }

    #[test]
    fn malformed_urls() {
        for bad in [
            "http://x",
            "mysql://db:0",
            "mysql://db:99999",
            "mysql://db:x",
            "mysql://::1",
            "mysql://db/a/b",
            "mysql://db?nope=1",
            "mysql+unix://db/x",
            "mysql+unix://",
            "db:3306",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let error = parse("mysql://u:hunter2@db:0").unwrap_err();
        assert!(!error.0.contains("hunter2"), "{}", error.0);
    }
}
