//! What `hello` says the server is, and the verdict for `--role`.
//!
//! probe reads these fields of `hello` (or legacy `isMaster`), as drivers' server
//! discovery does:
//!
//! | field | meaning |
//! |---|---|
//! | `isWritablePrimary` (`ismaster` before 4.4.2) | a primary, or a standalone server |
//! | `secondary` | a secondary |
//! | `arbiterOnly` | an arbiter |
//! | `setName` | the replica set it is a member of |
//! | `isreplicaset` | a member without a configuration: not initiated yet, or removed |
//! | `msg: "isdbgrid"` | a mongos router |
//!
//! A member of a set that is none of primary, secondary or arbiter is in RECOVERING,
//! STARTUP2, ROLLBACK or another state that serves nobody: `hello` does not say which, so
//! probe asks `replSetGetStatus` for `myState` (after the login, which that command needs
//! on a server with access control) and names it in the reason. Such a member, and one
//! without a configuration, is unhealthy whatever `--role` asks; the healthy ones are
//! primaries, secondaries, arbiters, standalone servers and mongos routers.

use super::bson::{Doc, Value};
use super::short;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Primary,
    Secondary,
    Any,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct State {
    pub writable: bool,
    pub secondary: bool,
    pub arbiter: bool,
    pub mongos: bool,
    /// A replica set member without a configuration yet (`isreplicaset: true`).
    pub unconfigured: bool,
    pub set_name: Option<String>,
    /// What `replSetGetStatus` said of a member that serves nobody: its state's name, or
    /// why the command did not tell.
    pub member_state: Option<String>,
}

impl State {
    pub fn of(reply: &Doc) -> State {
        let flag = |key: &str| reply.get(key).is_some_and(Value::truthy);
        State {
            writable: flag("isWritablePrimary") || flag("ismaster"),
            secondary: flag("secondary"),
            arbiter: flag("arbiterOnly"),
            mongos: reply.get("msg").and_then(Value::text) == Some("isdbgrid"),
            unconfigured: flag("isreplicaset"),
            set_name: reply.get("setName").and_then(Value::text).map(short),
            member_state: None,
        }
    }

    /// A replica set member that serves nobody: in a state that is not PRIMARY,
    /// SECONDARY or ARBITER, or without a configuration.
    pub fn idle_member(&self) -> bool {
        !self.mongos
            && !self.writable
            && !self.secondary
            && !self.arbiter
            && (self.set_name.is_some() || self.unconfigured)
    }

    /// What `replSetGetStatus` answered, for [`State::member_state`].
    pub fn read_status(&mut self, reply: &Doc) {
        self.member_state = Some(match reply.get("myState").and_then(Value::number) {
            Some(number) if reply.get("ok").and_then(Value::number) == Some(1.0) => {
                state_name(number as i64).map_or_else(|| format!("state {number}"), String::from)
            }
            _ => {
                let name = reply.get("codeName").and_then(Value::text);
                let message = reply.get("errmsg").and_then(Value::text);
                match name.or(message) {
                    Some(why) => format!("replSetGetStatus: {}", short(why)),
                    None => "replSetGetStatus did not say".into(),
                }
            }
        });
    }

    pub fn describe(&self) -> String {
        let state = |known: &str| match &self.member_state {
            Some(said) if !said.starts_with("replSetGetStatus") => format!("in state {said}"),
            Some(why) => format!("{known}; {why}"),
            None => known.to_string(),
        };
        match &self.set_name {
            _ if self.mongos => "mongos router".into(),
            Some(set) if self.writable => format!("primary of replica set {set}"),
            Some(set) if self.secondary => format!("secondary of replica set {set}"),
            Some(set) if self.arbiter => format!("arbiter of replica set {set}"),
            Some(set) => format!(
                "member of replica set {set} {}",
                state(
                    "that is neither primary nor secondary (recovering, starting up, \
                     rolling back or removed)"
                )
            ),
            None if self.unconfigured => format!(
                "replica set member without a configuration {}",
                state("(not initiated yet, or removed)")
            ),
            None if self.writable => "standalone".into(),
            None => "not writable, in no replica set".into(),
        }
    }

    /// `Ok` with what the server is, or `Err` with why it does not do for `role` and
    /// `replica_set`.
    pub fn judge(&self, role: Role, replica_set: Option<&str>) -> Result<String, String> {
        let shown = self.describe();
        if let Some(expected) = replica_set {
            if self.set_name.as_deref() != Some(expected) {
                return Err(format!("{shown}, expected replica set {expected:?}"));
            }
        }
        if self.idle_member() {
            return Err(shown);
        }
        match role {
            Role::Any => Ok(shown),
            Role::Primary if self.writable => Ok(shown),
            Role::Secondary if self.secondary => Ok(shown),
            Role::Secondary => Err(format!("{shown}, expected a secondary")),
            Role::Primary => Err(format!("{shown}, expected a writable primary")),
        }
    }
}

/// `replSetGetStatus`' `myState` by name (MongoDB's MemberState).
fn state_name(number: i64) -> Option<&'static str> {
    Some(match number {
        0 => "STARTUP",
        1 => "PRIMARY",
        2 => "SECONDARY",
        3 => "RECOVERING",
        5 => "STARTUP2",
        6 => "UNKNOWN",
        7 => "ARBITER",
        8 => "DOWN",
        9 => "ROLLBACK",
        10 => "REMOVED",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(fields: &[(&str, Value)]) -> State {
        let mut doc = Doc::new();
        for (key, value) in fields {
            doc = doc.with(key, value.clone());
        }
        State::of(&doc.with("ok", Value::Double(1.0)))
    }

    #[test]
    fn members_that_serve_nobody_are_unhealthy_for_every_role() {
        let set = ("setName", Value::String("rs0".into()));
        let mut recovering = hello(&[set.clone(), ("secondary", Value::Bool(false))]);
        assert!(recovering.idle_member());
        for role in [Role::Any, Role::Primary, Role::Secondary] {
            let why = recovering.judge(role, None).unwrap_err();
            assert!(why.contains("neither primary nor secondary"), "{why}");
        }
        recovering.read_status(
            &Doc::new()
                .with("myState", Value::Int32(3))
                .with("ok", Value::Double(1.0)),
        );
        assert_eq!(
            recovering.judge(Role::Any, None).unwrap_err(),
            "member of replica set rs0 in state RECOVERING"
        );
        let mut unconfigured = hello(&[("isreplicaset", Value::Bool(true))]);
        unconfigured.read_status(
            &Doc::new()
                .with("ok", Value::Double(0.0))
                .with("codeName", Value::String("NotYetInitialized".into())),
        );
        assert_eq!(
            unconfigured.judge(Role::Any, None).unwrap_err(),
            "replica set member without a configuration (not initiated yet, or removed); \
             replSetGetStatus: NotYetInitialized"
        );
    }

    #[test]
    fn roles() {
        let set = ("setName", Value::String("rs0".into()));
        let primary = hello(&[set.clone(), ("isWritablePrimary", Value::Bool(true))]);
        assert!(primary.judge(Role::Primary, Some("rs0")).is_ok());
        assert!(primary.judge(Role::Primary, Some("rs1")).is_err());
        assert!(primary.judge(Role::Secondary, None).is_err());
        let arbiter = hello(&[set, ("arbiterOnly", Value::Bool(true))]);
        assert_eq!(
            arbiter.judge(Role::Any, None).unwrap(),
            "arbiter of replica set rs0"
        );
        assert!(arbiter.judge(Role::Primary, None).is_err());
        let mongos = hello(&[("msg", Value::String("isdbgrid".into()))]);
        assert_eq!(mongos.judge(Role::Any, None).unwrap(), "mongos router");
        let standalone = hello(&[("ismaster", Value::Int32(1))]);
        assert_eq!(standalone.judge(Role::Primary, None).unwrap(), "standalone");
    }
}
