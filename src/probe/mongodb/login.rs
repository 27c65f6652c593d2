//! The SCRAM login, as MongoDB's authentication spec has drivers do it: `saslStart` and
//! `saslContinue` against `authSource`, the server's final proof required.
//!
//! Which SCRAM: `authMechanism` when the URL names one; else what `hello` answered to
//! `saslSupportedMechs: "<authSource>.<user>"`: SCRAM-SHA-256 when it is listed, else
//! SCRAM-SHA-1 (also when the list is missing: a server before 4.0). The SCRAM exchange
//! is [`crate::scram`], shared with PostgreSQL's check; what differs is the password:
//! SCRAM-SHA-256 prepares it with SASLprep, SCRAM-SHA-1 uses MongoDB's legacy digest,
//! hex(MD5("user:mongo:password")), as every driver does.

use md5::{Digest as _, Md5};

use super::bson::{Doc, Value};
use super::url::Mechanism;
use super::wire::Wire;
use super::{command_ok, error_code, error_text};
use crate::deadline::Deadline;
use crate::outcome::Outcome;
use crate::scram::{self, Binding, Hash, Scram};

/// The server's error codes that mean the login itself was refused: AuthenticationFailed,
/// UserNotFound, MechanismUnavailable.
const LOGIN_REFUSED: &[i32] = &[18, 11, 334];

/// A user and password, and the mechanism the URL asks for.
pub struct Login {
    pub user: String,
    pub password: String,
    pub mechanism: Option<Mechanism>,
}

impl Login {
    /// The mechanism for this login, given the `hello` reply (module docs).
    pub fn mechanism(&self, hello: &Doc) -> Mechanism {
        if let Some(forced) = self.mechanism {
            return forced;
        }
        let offered = match hello.get("saslSupportedMechs") {
            Some(Value::Array(names)) => names
                .iter()
                .any(|name| name.text() == Some(scram::SCRAM_SHA_256)),
            _ => false,
        };
        match offered {
            true => Mechanism::ScramSha256,
            false => Mechanism::ScramSha1,
        }
    }

    /// SCRAM with saslStart and saslContinue; success needs the server's proof.
    pub fn log_in(
        &self,
        wire: &mut Wire,
        mechanism: Mechanism,
        auth_source: &str,
        deadline: &Deadline,
    ) -> Result<(), Outcome> {
        let user = &self.user;
        let db = Value::String(auth_source.to_string());
        let (name, hash, password) = match mechanism {
            Mechanism::ScramSha256 => (
                scram::SCRAM_SHA_256,
                Hash::Sha256,
                scram::saslprep(&self.password),
            ),
            Mechanism::ScramSha1 => (
                scram::SCRAM_SHA_1,
                Hash::Sha1,
                sha1_password(user, &self.password),
            ),
        };
        let (mut scram, first) =
            Scram::start_with(hash, user, password, Binding::None).map_err(Outcome::unhealthy)?;
        let start = Doc::new()
            .with("saslStart", Value::Int32(1))
            .with("mechanism", Value::String(name.into()))
            .with("payload", Value::Binary(0, first))
            .with("autoAuthorize", Value::Int32(1))
            .with(
                "options",
                Value::Doc(Doc::new().with("skipEmptyExchange", Value::Bool(true))),
            )
            .with("$db", db.clone());
        let reply = wire.call(&start, "saslStart", deadline)?;
        refused(&reply, user, auth_source)?;
        let conversation = reply
            .get("conversationId")
            .cloned()
            .ok_or_else(|| Outcome::unhealthy("saslStart reply without a conversationId"))?;
        let client_final = scram
            .respond(payload(&reply)?, deadline)
            .map_err(|why| Outcome::unhealthy(format!("SCRAM: {why}")))?;
        let mut message = client_final;
        // The proof, then at most one empty step for servers that ignore skipEmptyExchange.
        for _ in 0..3 {
            let step = Doc::new()
                .with("saslContinue", Value::Int32(1))
                .with("conversationId", conversation.clone())
                .with("payload", Value::Binary(0, std::mem::take(&mut message)))
                .with("$db", db.clone());
            let reply = wire.call(&step, "saslContinue", deadline)?;
            refused(&reply, user, auth_source)?;
            let data = payload(&reply)?;
            if !scram.proven() {
                if let Some(error) = data.strip_prefix(b"e=") {
                    return Err(Outcome::fatal(format!(
                        "login as {user:?} refused: {}",
                        String::from_utf8_lossy(&error[..error.len().min(80)])
                    )));
                }
                scram.verify(data).map_err(Outcome::fatal)?;
            }
            if reply.get("done").is_some_and(Value::truthy) {
                return Ok(());
            }
        }
        Err(Outcome::unhealthy(
            "the server did not end the SCRAM exchange",
        ))
    }
}

/// MongoDB's SCRAM-SHA-1 password: hex(MD5("user:mongo:password")), lowercase, as the
/// server stores it (and pymongo's `_password_digest` computes it).
fn sha1_password(user: &str, password: &str) -> Vec<u8> {
    let digest = Md5::new()
        .chain_update(user)
        .chain_update(":mongo:")
        .chain_update(password)
        .finalize();
    digest
        .iter()
        .flat_map(|byte| {
            let hex = b"0123456789abcdef";
            [hex[usize::from(byte >> 4)], hex[usize::from(byte & 15)]]
        })
        .collect()
}

/// A saslStart or saslContinue reply that is not `ok: 1`: a refused login is fatal.
fn refused(reply: &Doc, user: &str, auth_source: &str) -> Result<(), Outcome> {
    match command_ok(reply, "login") {
        Err(outcome) if error_code(reply).is_some_and(|code| LOGIN_REFUSED.contains(&code)) => {
            Err(Outcome::fatal(format!(
                "login as {user:?} (authSource {auth_source}) refused: {}",
                error_text(reply).unwrap_or(outcome.detail)
            )))
        }
        other => other,
    }
}

/// The binary `payload` of a SASL reply.
fn payload(reply: &Doc) -> Result<&[u8], Outcome> {
    match reply.get("payload") {
        Some(Value::Binary(_, bytes)) => Ok(bytes),
        _ => Err(Outcome::unhealthy("SASL reply without a binary payload")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_password_is_mongodbs_digest() {
        // hashlib.md5(b"user:mongo:pencil").hexdigest(), the SCRAM-SHA-1 example of
        // MongoDB's authentication spec.
        assert_eq!(
            sha1_password("user", "pencil"),
            b"1c33006ec1ffd90f9cadcbcc0e118200".to_vec()
        );
    }

    #[test]
    fn sha256_when_offered_else_sha1() {
        let login = |mechanism| Login {
            user: "u".into(),
            password: "p".into(),
            mechanism,
        };
        let offered = |names: &[&str]| {
            Doc::new().with(
                "saslSupportedMechs",
                Value::Array(
                    names
                        .iter()
                        .map(|name| Value::String(name.to_string()))
                        .collect(),
                ),
            )
        };
        let both = offered(&["SCRAM-SHA-1", "SCRAM-SHA-256"]);
        assert_eq!(login(None).mechanism(&both), Mechanism::ScramSha256);
        assert_eq!(
            login(None).mechanism(&offered(&["SCRAM-SHA-1"])),
            Mechanism::ScramSha1
        );
        assert_eq!(login(None).mechanism(&Doc::new()), Mechanism::ScramSha1);
        let forced = login(Some(Mechanism::ScramSha1));
        assert_eq!(forced.mechanism(&both), Mechanism::ScramSha1);
    }
}
