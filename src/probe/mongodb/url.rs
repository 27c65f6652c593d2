//! `mongodb://[user:password@]host[:port][,host[:port]...]/[db][?options]`, as the
//! MongoDB connection string spec writes it: several hosts, user and password
//! percent-encoded, the options probe understands read and the rest (pool sizes, write
//! concerns, driver timeouts) accepted and ignored, so that an application's own URL works.

use crate::outcome::{usage, UsageError};
use crate::url::percent_decode;

pub const DEFAULT_PORT: u16 = 27017;

#[derive(Debug, PartialEq, Eq)]
pub struct MongoUrl {
    pub hosts: Vec<(String, u16)>,
    pub user: Option<String>,
    pub password: Option<String>,
    /// `authSource`, else the path's database, else `admin`.
    pub auth_source: String,
    pub tls: bool,
    /// `tlsInsecure` or `tlsAllowInvalidCertificates`.
    pub insecure: bool,
    pub ca_file: Option<String>,
    pub replica_set: Option<String>,
}

/// Parses `text`; errors never quote the user information.
pub fn parse(text: &str) -> Result<MongoUrl, UsageError> {
    let bad = |why: &str| {
        UsageError::new(crate::url::reason(
            text,
            &format!("invalid MongoDB URL: {why}"),
        ))
    };
    let lower = text.get(..14).unwrap_or(text).to_ascii_lowercase();
    if lower.starts_with("mongodb+srv://") {
        return usage(
            "mongodb+srv:// needs DNS SRV and TXT lookups, which probe mongodb does not do yet: \
             give the hosts as mongodb://host1:27017,host2:27017/",
        );
    }
    let Some(rest) = lower
        .starts_with("mongodb://")
        .then(|| &text["mongodb://".len()..])
    else {
        return Err(bad("expected mongodb://..."));
    };
    if rest
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(bad(
            "it contains a space or control character (percent-encode it)",
        ));
    }
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    // The user information ends at the last `@` of the authority (a password's `@` should
    // be %40, but drivers allow it).
    let (userinfo, hosts) = match rest[..authority_end].rsplit_once('@') {
        Some((userinfo, hosts)) => (Some(userinfo), hosts),
        None => (None, &rest[..authority_end]),
    };
    let (mut user, mut password) = (None, None);
    if let Some(userinfo) = userinfo {
        let (name, secret) = match userinfo.split_once(':') {
            Some((name, secret)) => (name, Some(secret)),
            None => (userinfo, None),
        };
        let name = percent_decode(name).map_err(|why| bad(&format!("user name: {why}")))?;
        if name.is_empty() {
            return Err(bad("empty user name before @"));
        }
        user = Some(name);
        password = secret
            .map(|secret| {
                percent_decode(secret).map_err(|_| bad("the password's percent-encoding"))
            })
            .transpose()?;
    }
    let hosts = hosts
        .split(',')
        .map(|host| host_port(host).map_err(|why| bad(&why)))
        .collect::<Result<Vec<_>, _>>()?;

    let after = &rest[authority_end..];
    let (path, query) = match after.split_once('?') {
        Some((path, query)) => (path, query),
        None => (after, ""),
    };
    let db = percent_decode(path.trim_start_matches('/'))
        .map_err(|why| bad(&format!("database: {why}")))?;
    if db.contains(['/', '\\', '.', ' ', '"', '$']) {
        return Err(bad(&format!("database name {db:?}")));
    }
    let mut url = MongoUrl {
        hosts,
        user,
        password,
        auth_source: if db.is_empty() { "admin".into() } else { db },
        tls: false,
        insecure: false,
        ca_file: None,
        replica_set: None,
    };
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value).map_err(|why| bad(&format!("option {name}: {why}")))?;
        let flag = |value: &str| match value {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(bad(&format!("option {name}={value:?} (true or false)"))),
        };
        // Option names are case-insensitive (the connection string spec).
        match name.to_ascii_lowercase().as_str() {
            "authsource" if !value.is_empty() => url.auth_source = value,
            "tls" | "ssl" => url.tls = flag(&value)?,
            "tlsinsecure" | "tlsallowinvalidcertificates" => url.insecure = flag(&value)?,
            "tlscafile" => url.ca_file = Some(value),
            "replicaset" if !value.is_empty() => url.replica_set = Some(value),
            "authmechanism" if !matches!(value.as_str(), "SCRAM-SHA-256" | "DEFAULT") => {
                return Err(bad(&format!(
                    "authMechanism={value} (probe mongodb logs in with SCRAM-SHA-256)"
                )))
            }
            "directconnection" => {
                // probe always connects to the hosts given, as directConnection=true does.
                flag(&value)?;
            }
            _ => {}
        }
    }
    if url.password.is_some() && url.user.is_none() {
        return Err(bad("a password without a user"));
    }
    Ok(url)
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn host_port(text: &str) -> Result<(String, u16), String> {
    let (host, port) = match text.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']').ok_or("unclosed [ in a host")?;
            match after {
                "" => (host, None),
                _ => (
                    host,
                    Some(after.strip_prefix(':').ok_or("text after ] in a host")?),
                ),
            }
        }
        None => match text.rsplit_once(':') {
            Some((host, _)) if host.contains(':') => {
                return Err("write IPv6 addresses in brackets: [::1]:27017".into())
            }
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        },
    };
    let host = percent_decode(host)?;
    if host.is_empty() || host.contains(['/', '@', ' ', '%']) {
        return Err(format!("host {host:?}"));
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(port) => match port.parse::<u16>() {
            Ok(port) if port > 0 => port,
            _ => return Err(format!("port {port:?} (1-65535)")),
        },
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hosts_credentials_and_options() {
        let url = parse("mongodb://app:p%40ss@db1,db2:27018,[::1]:9/shop?authSource=users&tls=true&replicaSet=rs0&w=majority").unwrap();
        assert_eq!(
            url.hosts,
            vec![
                ("db1".into(), 27017),
                ("db2".into(), 27018),
                ("::1".into(), 9)
            ]
        );
        assert_eq!(url.user.as_deref(), Some("app"));
        assert_eq!(url.password.as_deref(), Some("p@ss"));
        assert_eq!(url.auth_source, "users");
        assert!(url.tls);
        assert_eq!(url.replica_set.as_deref(), Some("rs0"));
        let plain = parse("mongodb://localhost").unwrap();
        assert_eq!(plain.hosts, vec![("localhost".into(), 27017)]);
        assert_eq!(plain.auth_source, "admin");
        assert_eq!(parse("mongodb://h/app").unwrap().auth_source, "app");
    }

    #[test]
    fn refuses_what_it_cannot_do() {
        let srv = parse("mongodb+srv://cluster0.example.net/").unwrap_err();
        assert!(srv.0.contains("SRV"), "{srv}");
        for bad in [
            "http://h",
            "mongodb://",
            "mongodb://h:0",
            "mongodb://h:x",
            "mongodb://h,",
            "mongodb://::1/",
            "mongodb://h/?tls=yes",
            "mongodb://h/?authMechanism=PLAIN",
            "mongodb://:pw@h/",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let error = parse("mongodb://u:secret@h:x/").unwrap_err();
        assert!(!error.0.contains("secret"), "{error}");
    }
}
