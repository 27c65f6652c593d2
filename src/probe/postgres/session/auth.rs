//! The password exchanges PostgreSQL asks for: SCRAM-SHA-256 (RFC 5802 and 7677, as
//! PostgreSQL speaks it: no channel binding, the user name left empty because the server
//! takes it from the startup message) and the MD5 hash. SHA-256, HMAC and PBKDF2 come from
//! ring, which rustls already brings into the binary; MD5 from the small `md-5` crate.
//!
//! SASLprep: PostgreSQL normalizes SCRAM passwords with SASLprep (RFC 4013), and uses the
//! raw bytes when that fails. For an ASCII password SASLprep is the identity (or fails on a
//! control character, which also means the raw bytes), so the exchange is exact. A
//! non-ASCII password is sent as its UTF-8 bytes, without SASLprep's NFKC normalization and
//! mapping tables (the unicode tables that made the crates this replaced large): that
//! matches whenever the password is already in NFKC form and has no non-ASCII spaces or
//! soft hyphens, as composed accented letters, Cyrillic or CJK text typed normally are. A
//! password for which it does not match fails with 28P01, and the reason says why.

use std::num::NonZeroU32;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use md5::{Digest as _, Md5};
use ring::{digest, hmac, pbkdf2, rand};

pub const SCRAM_SHA_256: &str = "SCRAM-SHA-256";

/// More PBKDF2 rounds than this are refused: a peer could otherwise keep the CPU busy far
/// beyond the deadline (PostgreSQL's default is 4096).
const MAX_ITERATIONS: u32 = 1_000_000;

/// "n,," base64-encoded: no channel binding.
const GS2_HEADER_BASE64: &str = "biws";

/// One SCRAM-SHA-256 exchange, from the client's first message to the server's signature.
pub struct Scram {
    password: Vec<u8>,
    nonce: String,
    client_first_bare: String,
    /// Set once the proof is sent: the server must show it knows the same secret.
    expected: Option<(hmac::Key, String)>,
}

impl Scram {
    /// The exchange and its client-first message.
    pub fn start(password: &str) -> Result<(Scram, Vec<u8>), String> {
        let mut random = [0u8; 18];
        rand::SecureRandom::fill(&rand::SystemRandom::new(), &mut random)
            .map_err(|_| "no random numbers for the SCRAM nonce".to_string())?;
        let nonce = BASE64.encode(random);
        let client_first_bare = format!("n=,r={nonce}");
        let first = format!("n,,{client_first_bare}").into_bytes();
        let scram = Scram {
            password: password.as_bytes().to_vec(),
            nonce,
            client_first_bare,
            expected: None,
        };
        Ok((scram, first))
    }

    /// The client-final message (with the proof) for the server-first message.
    pub fn respond(&mut self, server_first: &[u8]) -> Result<Vec<u8>, String> {
        let server_first =
            std::str::from_utf8(server_first).map_err(|_| "SCRAM message is not text")?;
        let (mut nonce, mut salt, mut iterations) = (None, None, None);
        for attribute in server_first.split(',') {
            match attribute.split_at_checked(2) {
                Some(("r=", value)) => nonce = Some(value),
                Some(("s=", value)) => salt = BASE64.decode(value).ok(),
                Some(("i=", value)) => iterations = value.parse::<u32>().ok(),
                _ => {}
            }
        }
        let (Some(nonce), Some(salt), Some(iterations)) = (nonce, salt, iterations) else {
            return Err("malformed SCRAM server-first message".into());
        };
        if !nonce.starts_with(&self.nonce) || nonce.len() == self.nonce.len() {
            return Err("SCRAM nonce does not extend ours".into());
        }
        let iterations = match NonZeroU32::new(iterations) {
            Some(count) if count.get() <= MAX_ITERATIONS => count,
            _ => {
                return Err(format!(
                    "the server asks for {iterations} SCRAM iterations (probe does at most {MAX_ITERATIONS})"
                ))
            }
        };
        let mut salted = [0u8; 32];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            iterations,
            &salt,
            &self.password,
            &mut salted,
        );
        let salted = hmac::Key::new(hmac::HMAC_SHA256, &salted);
        let client_key = hmac::sign(&salted, b"Client Key");
        let stored_key = digest::digest(&digest::SHA256, client_key.as_ref());
        let without_proof = format!("c={GS2_HEADER_BASE64},r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let signature = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, stored_key.as_ref()),
            auth_message.as_bytes(),
        );
        let proof: Vec<u8> = client_key
            .as_ref()
            .iter()
            .zip(signature.as_ref())
            .map(|(key, sign)| key ^ sign)
            .collect();
        let server_key = hmac::sign(&salted, b"Server Key");
        self.expected = Some((
            hmac::Key::new(hmac::HMAC_SHA256, server_key.as_ref()),
            auth_message,
        ));
        Ok(format!("{without_proof},p={}", BASE64.encode(proof)).into_bytes())
    }

    /// Checks the server-final message: the server proves it knows the password too.
    pub fn verify(&self, server_final: &[u8]) -> Result<(), String> {
        let Some((server_key, auth_message)) = &self.expected else {
            return Err("SCRAM server-final message before the server-first".into());
        };
        let signature = server_final
            .strip_prefix(b"v=")
            .and_then(|value| BASE64.decode(value).ok())
            .ok_or("malformed SCRAM server-final message")?;
        hmac::verify(server_key, auth_message.as_bytes(), &signature).map_err(|_| {
            "the server's SCRAM signature is wrong (it does not know the password)".into()
        })
    }
}

/// PostgreSQL's MD5 answer: `"md5" + hex(md5(hex(md5(password + user)) + salt))`.
pub fn md5_password(user: &str, password: &str, salt: &[u8]) -> Vec<u8> {
    let inner = hex(&Md5::new()
        .chain_update(password)
        .chain_update(user)
        .finalize());
    let outer = Md5::new().chain_update(inner).chain_update(salt).finalize();
    format!("md5{}", hex(&outer)).into_bytes()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_matches_postgresql() {
        // SELECT 'md5' || md5(md5('secret' || 'app') || 'salt') in PostgreSQL.
        let answer = md5_password("app", "secret", b"salt");
        let expected = format!(
            "md5{}",
            hex(&Md5::new()
                .chain_update(hex(&Md5::digest(b"secretapp")))
                .chain_update(b"salt")
                .finalize())
        );
        assert_eq!(String::from_utf8(answer).unwrap(), expected);
        assert_eq!(hex(&Md5::digest(b"")), "d41d8cd98f00b204e9800998ecf8427e");
    }

    /// RFC 7677's test vector, with the user name and nonce it uses.
    #[test]
    fn scram_sha_256_follows_rfc_7677() {
        let mut scram = Scram {
            password: b"pencil".to_vec(),
            nonce: "rOprNGfwEbeRWgbNEkqO".into(),
            client_first_bare: "n=user,r=rOprNGfwEbeRWgbNEkqO".into(),
            expected: None,
        };
        let server_first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let client_final = scram.respond(server_first).unwrap();
        assert_eq!(
            String::from_utf8(client_final).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        scram
            .verify(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
        assert!(scram
            .verify(b"v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .is_err());
    }

    #[test]
    fn scram_refuses_odd_servers() {
        let (mut scram, first) = Scram::start("pw").unwrap();
        let first = String::from_utf8(first).unwrap();
        assert!(first.starts_with("n,,n=,r="), "{first}");
        assert!(scram.respond(b"r=someone-else,s=AAAA,i=4096").is_err());
        let nonce = scram.nonce.clone();
        let greedy = format!("r={nonce}x,s=AAAA,i=4000000000");
        assert!(scram.respond(greedy.as_bytes()).is_err());
        assert!(scram.respond(b"garbage").is_err());
        assert!(scram.verify(b"v=AAAA").is_err());
    }
}
