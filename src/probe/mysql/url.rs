//! `mysql://[user[:password]@]host[:port][/db][?ssl-mode=...&socket=/path]` (also
//! `mariadb://`), and `mysql+unix:///path/to/mysqld.sock` for a Unix socket, read with the
//! one URL parser (`crate::url`); the password is registered as a secret before anything
//! can print it.

use std::path::PathBuf;

use crate::outcome::UsageError;
use crate::redact;
use crate::url::{self, Url};

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
    let shown = url::mask(text);
    let bad = |why: &str| {
        UsageError::new(format!(
            "invalid MySQL URL {shown:?}: {}",
            url::reason(text, why)
        ))
    };
    let parsed = Url::parse(text).map_err(|why| bad(&why))?;
    let unix = match parsed.scheme.as_str() {
        "mysql" | "mariadb" => false,
        "mysql+unix" | "mariadb+unix" => true,
        _ => {
            return Err(bad(
                "the scheme must be mysql://, mariadb:// or mysql+unix://",
            ))
        }
    };
    if parsed.fragment.is_some() {
        return Err(bad("unexpected '#' (percent-encode it as %23)"));
    }
    let user = parsed.user.clone().filter(|user| !user.is_empty());
    let password = parsed.password.clone();
    if let Some(password) = &password {
        redact::register(password);
    }

    let mut ssl_mode = None;
    let mut socket = None;
    for (name, value) in parsed.query_pairs().map_err(|why| bad(&why))? {
        let value = value.unwrap_or_default();
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

    let decode = |text: &str| url::percent_decode(text).map_err(|why| bad(&why));
    let path = parsed.path.as_str();
    let mut db = None;
    let endpoint = if unix {
        if !parsed.host.is_empty() || parsed.port.is_some() {
            return Err(bad(
                "mysql+unix:// takes a path, not a host: mysql+unix:///run/mysqld/mysqld.sock",
            ));
        }
        if socket.is_some() || path.len() < 2 {
            return Err(bad(
                "mysql+unix:// needs the socket's path: mysql+unix:///run/mysqld/mysqld.sock",
            ));
        }
        Endpoint::Unix(PathBuf::from(decode(path)?))
    } else {
        let name = path.trim_start_matches('/');
        if name.contains('/') {
            return Err(bad("the database name cannot contain '/'"));
        }
        db = Some(decode(name)?).filter(|db| !db.is_empty());
        let host = match parsed.host.as_str() {
            "" => "localhost".to_string(),
            host => host.to_string(),
        };
        if host.contains([' ', '/']) {
            return Err(bad("invalid host"));
        }
        let port = parsed.port.unwrap_or(DEFAULT_PORT);
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
