//! `mongodb://[user:password@]host[:port][,host[:port]...]/[db][?options]` and
//! `mongodb+srv://[user:password@]name/[db][?options]`, as the MongoDB connection string
//! spec writes them: several hosts, user and password percent-encoded, the options probe
//! understands read and the rest (pool sizes, write concerns, driver timeouts) accepted and
//! ignored, so that an application's own URL works.

use crate::outcome::UsageError;
use crate::url::{percent_decode, user_and_password};

pub const DEFAULT_PORT: u16 = 27017;

/// `authMechanism`: the SCRAM flavours probe speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    ScramSha1,
    ScramSha256,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct MongoUrl {
    /// The hosts of a `mongodb://` URL; the one name of a `mongodb+srv://` URL (port 0).
    pub hosts: Vec<(String, u16)>,
    /// `mongodb+srv://`: the hosts come from DNS (`_mongodb._tcp.NAME` SRV records).
    pub srv: bool,
    pub user: Option<String>,
    pub password: Option<String>,
    /// The path's database, if any.
    pub db: Option<String>,
    pub options: Options,
}

/// The options probe reads, from the URL's query (or a `mongodb+srv://` name's TXT record:
/// [`Options::apply`] with `from_txt`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub auth_source: Option<String>,
    /// `tls` or `ssl`, when given.
    pub tls: Option<bool>,
    /// `tlsInsecure` or `tlsAllowInvalidCertificates`.
    pub insecure: bool,
    pub ca_file: Option<String>,
    pub replica_set: Option<String>,
    pub mechanism: Option<Mechanism>,
    /// `directConnection`, when given.
    pub direct: Option<bool>,
    /// `srvServiceName` (default `mongodb`).
    pub srv_service: Option<String>,
}

impl Options {
    /// Reads one `name=value` pair (the value percent-decoded); names are
    /// case-insensitive. A TXT record may set only authSource and replicaSet (and
    /// loadBalanced, which probe has no use for), as the seedlist discovery spec says.
    pub fn apply(&mut self, name: &str, value: String, from_txt: bool) -> Result<(), String> {
        let flag = |value: &str| match value {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(format!("option {name}={value:?} (true or false)")),
        };
        let lower = name.to_ascii_lowercase();
        if from_txt && !matches!(lower.as_str(), "authsource" | "replicaset" | "loadbalanced") {
            return Err(format!(
                "option {name} (a TXT record may set only authSource, replicaSet and loadBalanced)"
            ));
        }
        match lower.as_str() {
            "authsource" if !value.is_empty() => self.auth_source = Some(value),
            "tls" | "ssl" => self.tls = Some(flag(&value)?),
            "tlsinsecure" | "tlsallowinvalidcertificates" => self.insecure = flag(&value)?,
            "tlscafile" => self.ca_file = Some(value),
            "replicaset" if !value.is_empty() => self.replica_set = Some(value),
            "authmechanism" => {
                self.mechanism = match value.as_str() {
                    "SCRAM-SHA-256" => Some(Mechanism::ScramSha256),
                    "SCRAM-SHA-1" => Some(Mechanism::ScramSha1),
                    "DEFAULT" => None,
                    _ => {
                        return Err(format!(
                            "authMechanism={value} (probe mongodb logs in with SCRAM-SHA-256 or SCRAM-SHA-1)"
                        ))
                    }
                }
            }
            // probe always connects to the hosts given, as directConnection=true does.
            "directconnection" => self.direct = Some(flag(&value)?),
            "srvservicename" if !value.is_empty() => self.srv_service = Some(value),
            _ => {}
        }
        Ok(())
    }

    /// The TXT options under the URL's: an option the URL gives wins.
    pub fn under(&mut self, txt: Options) {
        self.auth_source = self.auth_source.take().or(txt.auth_source);
        self.replica_set = self.replica_set.take().or(txt.replica_set);
    }
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
    let (srv, rest) = if lower.starts_with("mongodb+srv://") {
        (true, &text["mongodb+srv://".len()..])
    } else if lower.starts_with("mongodb://") {
        (false, &text["mongodb://".len()..])
    } else {
        return Err(bad("expected mongodb://... or mongodb+srv://..."));
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
    let (user, password) = match userinfo {
        Some(userinfo) => {
            let (user, password) = user_and_password(userinfo).map_err(|why| bad(&why))?;
            (Some(user), password)
        }
        None => (None, None),
    };
    let hosts = if srv {
        vec![(srv_name(hosts).map_err(|why| bad(&why))?, 0)]
    } else {
        hosts
            .split(',')
            .map(|host| host_port(host).map_err(|why| bad(&why)))
            .collect::<Result<Vec<_>, _>>()?
    };

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
        srv,
        user,
        password,
        db: (!db.is_empty()).then_some(db),
        options: Options::default(),
    };
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value).map_err(|why| bad(&format!("option {name}: {why}")))?;
        url.options
            .apply(name, value, false)
            .map_err(|why| bad(&why))?;
    }
    if url.password.is_some() && url.user.is_none() {
        return Err(bad("a password without a user"));
    }
    if srv && url.options.direct == Some(true) {
        return Err(bad(
            "directConnection=true with mongodb+srv:// (the hosts come from DNS)",
        ));
    }
    if !srv && url.options.srv_service.is_some() {
        return Err(bad("srvServiceName needs mongodb+srv://"));
    }
    Ok(url)
}

/// The one name of a `mongodb+srv://` URL: no port, no second host (the spec's rules).
fn srv_name(text: &str) -> Result<String, String> {
    if text.contains(',') {
        return Err("mongodb+srv:// takes one name, not a list of hosts".into());
    }
    if text.contains(':') || text.starts_with('[') {
        return Err(
            "mongodb+srv:// takes a name without a port (the SRV records give the ports)".into(),
        );
    }
    let name = percent_decode(text)?;
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.trim_end_matches('.').split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    match valid {
        true => Ok(name.trim_end_matches('.').to_string()),
        false => Err(format!("{name:?} is not a DNS name")),
    }
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

    impl MongoUrl {
        /// `authSource`, else the path's database, else `admin` (as the check's plan).
        fn auth_source(&self) -> &str {
            self.options
                .auth_source
                .as_deref()
                .or(self.db.as_deref())
                .unwrap_or("admin")
        }
    }

    #[test]
    fn reads_hosts_credentials_and_options() {
        let url = parse("mongodb://app:p%40ss@db1,db2:27018,[::1]:9/shop?authSource=users&tls=true&replicaSet=rs0&w=majority&authMechanism=SCRAM-SHA-1").unwrap();
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
        assert_eq!(url.auth_source(), "users");
        assert_eq!(url.db.as_deref(), Some("shop"));
        assert_eq!(url.options.tls, Some(true));
        assert_eq!(url.options.replica_set.as_deref(), Some("rs0"));
        assert_eq!(url.options.mechanism, Some(Mechanism::ScramSha1));
        let plain = parse("mongodb://localhost").unwrap();
        assert_eq!(plain.hosts, vec![("localhost".into(), 27017)]);
        assert_eq!(plain.auth_source(), "admin");
        assert_eq!(plain.options.tls, None);
        assert_eq!(parse("mongodb://h/app").unwrap().auth_source(), "app");
    }

    #[test]
    fn reads_srv_urls_by_the_spec() {
        let url = parse("mongodb+srv://u:pw@Cluster0.example.net./app?tls=false&srvServiceName=db")
            .unwrap();
        assert!(url.srv);
        assert_eq!(url.hosts, vec![("Cluster0.example.net".into(), 0)]);
        assert_eq!(url.options.tls, Some(false));
        assert_eq!(url.options.srv_service.as_deref(), Some("db"));
        for bad in [
            "mongodb+srv://a.example.net:27017/",
            "mongodb+srv://a.example.net,b.example.net/",
            "mongodb+srv://[::1]/",
            "mongodb+srv://a..b/",
            "mongodb+srv://a.example.net/?directConnection=true",
            "mongodb://h/?srvServiceName=x",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn txt_options_are_limited_and_under_the_urls() {
        let mut txt = Options::default();
        txt.apply("authSource", "users".into(), true).unwrap();
        txt.apply("replicaSet", "rs0".into(), true).unwrap();
        txt.apply("loadBalanced", "false".into(), true).unwrap();
        assert!(txt
            .apply("tls", "false".into(), true)
            .unwrap_err()
            .contains("TXT"));
        let mut url = parse("mongodb+srv://h.example.net/?replicaSet=mine").unwrap();
        url.options.under(txt);
        assert_eq!(url.options.replica_set.as_deref(), Some("mine"));
        assert_eq!(url.auth_source(), "users");
    }

    #[test]
    fn refuses_what_it_cannot_do() {
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
