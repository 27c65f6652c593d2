//! The bootstrap list: `[kafka://][user[:password]@]host[:port][,host[:port]...]`, as
//! Kafka clients take `bootstrap.servers` (and `KAFKA_BOOTSTRAP_SERVERS` holds it): hosts
//! separated by commas, spaces around them ignored, empty entries skipped, port 9092 when
//! left out. The `kafka://` form may carry a user and password, percent-encoded as in any
//! URL; each host is read by the one URL parser ([`crate::url`]), IPv6 in brackets.

use crate::outcome::UsageError;
use crate::url::{reason, user_and_password, Url};

pub const DEFAULT_PORT: u16 = 9092;
const SCHEME: &str = "kafka://";

#[derive(Debug, PartialEq, Eq)]
pub struct Bootstrap {
    pub hosts: Vec<(String, u16)>,
    pub user: Option<String>,
    pub password: Option<String>,
}

/// Parses `text` (trimmed); errors never quote the user information.
pub fn parse(text: &str) -> Result<Bootstrap, UsageError> {
    let bad = |why: &str| {
        UsageError::new(format!(
            "invalid Kafka bootstrap list: {}",
            reason(text, why)
        ))
    };
    let rest = match text.find("://") {
        None => text,
        Some(_)
            if text.len() >= SCHEME.len() && text[..SCHEME.len()].eq_ignore_ascii_case(SCHEME) =>
        {
            &text[SCHEME.len()..]
        }
        Some(_) => {
            return Err(bad(
                "expected host:port[,host:port...] or kafka://[user:password@]host:port[,...]",
            ))
        }
    };
    let (userinfo, hosts) = match rest.rsplit_once('@') {
        Some(_) if rest.len() == text.len() => {
            return Err(bad("a user and password need the kafka:// form"))
        }
        Some((userinfo, hosts)) => (Some(userinfo), hosts),
        None => (None, rest),
    };
    let (user, password) = match userinfo {
        Some(userinfo) => {
            let (user, password) = user_and_password(userinfo).map_err(|why| bad(&why))?;
            (Some(user), password)
        }
        None => (None, None),
    };
    let hosts = hosts.strip_suffix('/').unwrap_or(hosts);
    let hosts = hosts
        .split(',')
        .map(str::trim)
        .filter(|piece| !piece.is_empty())
        .map(|piece| host_port(piece).map_err(|why| bad(&why)))
        .collect::<Result<Vec<_>, _>>()?;
    if hosts.is_empty() {
        return Err(bad("no host"));
    }
    Ok(Bootstrap {
        hosts,
        user,
        password,
    })
}

/// `host`, `host:port` or `[v6]:port`, with the URL parser's rules.
fn host_port(piece: &str) -> Result<(String, u16), String> {
    if piece.contains(['/', '?', '#', '@']) {
        return Err(format!("{piece:?} is not host:port"));
    }
    let url = Url::parse(&format!("{SCHEME}{piece}")).map_err(|why| format!("{piece:?}: {why}"))?;
    if url.host.is_empty() {
        return Err(format!("{piece:?} has no host"));
    }
    Ok((url.host, url.port.unwrap_or(DEFAULT_PORT)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lists_ports_and_logins() {
        let plain = parse("kafka-1:9093, kafka-2 ,[::1]:9,").unwrap();
        assert_eq!(
            plain.hosts,
            vec![
                ("kafka-1".into(), 9093),
                ("kafka-2".into(), DEFAULT_PORT),
                ("::1".into(), 9)
            ]
        );
        assert_eq!(plain.user, None);
        let url = parse("KAFKA://app:p%40ss:w@b1:9092,b2/").unwrap();
        assert_eq!(url.hosts.len(), 2);
        assert_eq!(url.user.as_deref(), Some("app"));
        assert_eq!(url.password.as_deref(), Some("p@ss:w"));
        let user_only = parse("kafka://app@b1").unwrap();
        assert_eq!(
            (user_only.user.as_deref(), user_only.password),
            (Some("app"), None)
        );
    }

    #[test]
    fn refuses_what_is_not_a_bootstrap_list() {
        for bad in [
            "",
            " , ",
            "http://b1:9092",
            "kafka://",
            "b1:0",
            "b1:x",
            "b1:9092/topic",
            "kafka://b1?x=1",
            "::1",
            "u:p@b1:9092",
            "kafka://:pw@b1",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let error = parse("kafka://u:secret@b1:x").unwrap_err();
        assert!(!error.0.contains("secret"), "{error}");
    }
}
