//! SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (RFC 5802, 7677 and 5929), one implementation for
//! every check that logs in with it: PostgreSQL (the user name left empty because the server
//! takes it from the startup message; `tls-server-end-point` channel binding) and MongoDB
//! (the user name in the client-first message, no channel binding). SHA-256 and HMAC come
//! from ring, which rustls already brings into the binary; PBKDF2's rounds for SHA-256 use
//! the `sha2` crate's block function ([`pbkdf2_sha256`]).
//!
//! SASLprep: PostgreSQL and MongoDB normalize SCRAM-SHA-256 passwords with SASLprep (RFC
//! 4013); PostgreSQL uses the raw bytes when that fails (a prohibited or unassigned
//! character), and so does this client ([`crate::saslprep`], which gives the `stringprep`
//! crate's answers), exactly as libpq and postgres-protocol do. The tests compare every
//! client message and proof byte for byte with postgres-protocol's.
//!
//! A server that starts SCRAM must finish it: [`Scram::proven`] is true only once the
//! server-final message carried the right signature, and the logins refuse a success
//! before that (tokio-postgres' rule; libpq 16 only with `require_auth`; MongoDB drivers
//! always).

// Each check uses part of it: mongodb has no channel binding.
#![cfg_attr(not(all(feature = "postgres", feature = "mongodb")), allow(dead_code))]

use std::num::NonZeroU32;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ring::{digest, hmac, rand};

use crate::deadline::Deadline;

pub use crate::saslprep::saslprep;

pub const SCRAM_SHA_256: &str = "SCRAM-SHA-256";
#[allow(dead_code)]
pub const SCRAM_SHA_1: &str = "SCRAM-SHA-1";
#[allow(dead_code)]
pub const SCRAM_SHA_512: &str = "SCRAM-SHA-512";
pub const SCRAM_SHA_256_PLUS: &str = "SCRAM-SHA-256-PLUS";

/// More PBKDF2 rounds than this are refused outright (PostgreSQL's default is 4096, Kafka's
/// at most 16384, MongoDB's 15000); fewer are still bounded by the check's deadline.
const MAX_ITERATIONS: u32 = 1_000_000;

/// The channel binding of one SCRAM exchange (RFC 5802's gs2-cbind-flag).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Binding {
    /// `n,,`: no TLS, or `channel_binding=disable`.
    None,
    /// `y,,`: TLS, but the server did not offer SCRAM-SHA-256-PLUS (a server that did
    /// offer it sees a downgrade and refuses).
    NotOffered,
    /// `p=tls-server-end-point,,`: bound to the hash of the server's certificate.
    EndPoint(Vec<u8>),
}

impl Binding {
    fn header(&self) -> &'static str {
        match self {
            Binding::None => "n,,",
            Binding::NotOffered => "y,,",
            Binding::EndPoint(_) => "p=tls-server-end-point,,",
        }
    }
}

/// The hash a SCRAM mechanism is named after: SCRAM-SHA-256 (PostgreSQL, MongoDB, Kafka),
/// SCRAM-SHA-1 (MongoDB before 4.0) and SCRAM-SHA-512 (Kafka).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(dead_code)]
pub enum Hash {
    Sha1,
    Sha256,
    Sha512,
}

impl Hash {
    fn hmac(self) -> hmac::Algorithm {
        match self {
            Hash::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Hash::Sha256 => hmac::HMAC_SHA256,
            Hash::Sha512 => hmac::HMAC_SHA512,
        }
    }

    fn digest(self) -> &'static digest::Algorithm {
        match self {
            Hash::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            Hash::Sha256 => &digest::SHA256,
            Hash::Sha512 => &digest::SHA512,
        }
    }
}

/// The SaltedPasswords (RFC 5802's `Hi(password, salt, i)`) of the last few exchanges,
/// each after what it was derived from. RFC 5802, 5.1: "a client implementation MAY cache
/// ClientKey&ServerKey (or just SaltedPassword) for later reauthentication to the same
/// service, as it is likely that the server is going to advertise the same salt value upon
/// reauthentication". A one-shot check never finds one; `probe serve` logs in with the
/// same password every interval, and PBKDF2's 4096 rounds were 3/4 of the CPU of each of
/// its PostgreSQL checks (bench/serve.sh). A new salt (a password set again) or a new
/// password misses and is derived anew. It holds nothing the process did not hold already.
static SALTED: std::sync::Mutex<Vec<(Vec<u8>, Vec<u8>)>> = std::sync::Mutex::new(Vec::new());
/// More targets than this that log in differently start the cache afresh.
const SALTED_KEPT: usize = 16;

/// `Hi(password, salt, iterations)`, from [`SALTED`] when an earlier exchange derived it,
/// else derived under `deadline` ([`derive_salted`]) and kept.
fn salted_password(
    hash: Hash,
    password: &[u8],
    salt: &[u8],
    iterations: NonZeroU32,
    deadline: &Deadline,
) -> Result<Vec<u8>, String> {
    let mut key = vec![hash as u8];
    for part in [
        &iterations.get().to_le_bytes()[..],
        &(salt.len() as u32).to_le_bytes(),
        salt,
        password,
    ] {
        key.extend_from_slice(part);
    }
    let cached = |key: &[u8]| {
        let cache = SALTED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache
            .iter()
            .find(|(kept, _)| kept == key)
            .map(|(_, salted)| salted.clone())
    };
    if let Some(salted) = cached(&key) {
        return Ok(salted);
    }
    // Derived without the lock held: another check's login does not wait for this one.
    let salted = derive_salted(hash, password, salt, iterations, deadline)?;
    let mut cache = SALTED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if cache.len() >= SALTED_KEPT {
        cache.clear();
    }
    cache.push((key, salted.clone()));
    Ok(salted)
}

/// One SCRAM exchange, from the client's first message to the server's signature.
pub struct Scram {
    hash: Hash,
    password: Vec<u8>,
    nonce: String,
    client_first_bare: String,
    /// `c=` of the client-final message: the GS2 header and the binding data, base64.
    binding: String,
    /// Set once the proof is sent: the server must show it knows the same secret.
    expected: Option<(hmac::Key, String)>,
    /// The server's signature was verified.
    proven: bool,
}

impl Scram {
    /// The exchange and its client-first message.
    /// `user` goes into the message (RFC 5802's `n=`, `=` and `,` escaped); PostgreSQL
    /// leaves it empty.
    pub fn start(user: &str, password: &str, binding: Binding) -> Result<(Scram, Vec<u8>), String> {
        Scram::start_with(Hash::Sha256, user, saslprep(password), binding)
    }

    /// [`Scram::start`] for any hash, with the password as the mechanism prepares it
    /// (SASLprep for SHA-256 via [`saslprep`]; MongoDB's SCRAM-SHA-1 hashes it first; Kafka
    /// takes the UTF-8 bytes as they are).
    pub fn start_with(
        hash: Hash,
        user: &str,
        password: Vec<u8>,
        binding: Binding,
    ) -> Result<(Scram, Vec<u8>), String> {
        let mut random = [0u8; 18];
        rand::SecureRandom::fill(&rand::SystemRandom::new(), &mut random)
            .map_err(|_| "no random numbers for the SCRAM nonce".to_string())?;
        Ok(Scram::with_nonce(
            hash,
            user,
            password,
            binding,
            BASE64.encode(random),
        ))
    }

    fn with_nonce(
        hash: Hash,
        user: &str,
        password: Vec<u8>,
        binding: Binding,
        nonce: String,
    ) -> (Scram, Vec<u8>) {
        let user = user.replace('=', "=3D").replace(',', "=2C");
        let client_first_bare = format!("n={user},r={nonce}");
        let first = format!("{}{client_first_bare}", binding.header()).into_bytes();
        let mut cbind = binding.header().as_bytes().to_vec();
        if let Binding::EndPoint(hash) = &binding {
            cbind.extend_from_slice(hash);
        }
        let scram = Scram {
            hash,
            password,
            nonce,
            client_first_bare,
            binding: BASE64.encode(cbind),
            expected: None,
            proven: false,
        };
        (scram, first)
    }

    /// The server proved it knows the password (its signature was verified).
    pub fn proven(&self) -> bool {
        self.proven
    }

    /// The client-final message (with the proof) for the server-first message.
    /// The PBKDF2 rounds the server asks for are computed under `deadline`: a peer that
    /// asks for many cannot keep probe past it.
    pub fn respond(&mut self, server_first: &[u8], deadline: &Deadline) -> Result<Vec<u8>, String> {
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
        let salted = salted_password(self.hash, &self.password, &salt, iterations, deadline)?;
        let salted = hmac::Key::new(self.hash.hmac(), &salted);
        let client_key = hmac::sign(&salted, b"Client Key");
        let stored_key = digest::digest(self.hash.digest(), client_key.as_ref());
        let without_proof = format!("c={},r={nonce}", self.binding);
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let signature = hmac::sign(
            &hmac::Key::new(self.hash.hmac(), stored_key.as_ref()),
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
            hmac::Key::new(self.hash.hmac(), server_key.as_ref()),
            auth_message,
        ));
        Ok(format!("{without_proof},p={}", BASE64.encode(proof)).into_bytes())
    }

    /// Checks the server-final message: the server proves it knows the password too.
    pub fn verify(&mut self, server_final: &[u8]) -> Result<(), String> {
        let Some((server_key, auth_message)) = &self.expected else {
            return Err("SCRAM server-final message before the server-first".into());
        };
        let signature = server_final
            .strip_prefix(b"v=")
            .and_then(|value| BASE64.decode(value).ok())
            .ok_or("malformed SCRAM server-final message")?;
        hmac::verify(server_key, auth_message.as_bytes(), &signature).map_err(|_| {
            "the server's SCRAM signature is wrong (it does not know the password)".to_string()
        })?;
        self.proven = true;
        Ok(())
    }
}

/// SCRAM's `Hi()` (RFC 5802 2.2), PBKDF2 with one block of output, the deadline looked at
/// every few hundred rounds: ring's `pbkdf2::derive` runs all of them in one call that
/// cannot be stopped.
fn derive_salted(
    hash: Hash,
    password: &[u8],
    salt: &[u8],
    iterations: NonZeroU32,
    deadline: &Deadline,
) -> Result<Vec<u8>, String> {
    if hash == Hash::Sha256 {
        return pbkdf2_sha256(password, salt, iterations, deadline).map(|salted| salted.to_vec());
    }
    let key = hmac::Key::new(hash.hmac(), password);
    let mut context = hmac::Context::with_key(&key);
    context.update(salt);
    context.update(&1u32.to_be_bytes());
    let mut round = context.sign();
    let mut salted = round.as_ref().to_vec();
    for done in 1..iterations.get() {
        check_clock(done, iterations, deadline)?;
        round = hmac::sign(&key, round.as_ref());
        for (byte, next) in salted.iter_mut().zip(round.as_ref()) {
            *byte ^= next;
        }
    }
    Ok(salted)
}

/// Rounds between looks at the clock: well under a millisecond of SHA-512.
const ROUNDS_PER_LOOK: u32 = 256;

/// Every [`ROUNDS_PER_LOOK`] rounds, whether the deadline has passed.
fn check_clock(done: u32, iterations: NonZeroU32, deadline: &Deadline) -> Result<(), String> {
    if done.is_multiple_of(ROUNDS_PER_LOOK) && deadline.expired() {
        return Err(deadline
            .timed_out(&format!(
                "computing the SCRAM proof ({iterations} rounds asked)"
            ))
            .detail);
    }
    Ok(())
}

/// SHA-256's initial state (FIPS 180-4, 5.3.3).
const SHA256_IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// [`derive_salted`] for SHA-256 (PostgreSQL's, MongoDB's and Kafka's usual mechanism),
/// two compressions a round. HMAC's two keyed states are computed once, and each round
/// hashes one block over each: the 32-byte value with its padding, laid out once. ring
/// has no entry point below a whole HMAC, whose context copies and buffering cost about
/// four times the compressions themselves (`perf record` of a one-shot login).
fn pbkdf2_sha256(
    password: &[u8],
    salt: &[u8],
    iterations: NonZeroU32,
    deadline: &Deadline,
) -> Result<[u8; 32], String> {
    use sha2::block_api::compress256;
    // HMAC (RFC 2104): a key longer than a block is hashed first; then zero-padded.
    let mut key = [0u8; 64];
    if password.len() > 64 {
        key[..32].copy_from_slice(digest::digest(&digest::SHA256, password).as_ref());
    } else {
        key[..password.len()].copy_from_slice(password);
    }
    let keyed = |pad: u8| {
        let mut state = SHA256_IV;
        compress256(&mut state, &[key.map(|byte| byte ^ pad)]);
        state
    };
    let (inner, outer) = (keyed(0x36), keyed(0x5c));
    // U1 = HMAC(password, salt || INT(1)), by ring: the salt has any length.
    let first = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, password),
        &[salt, &1u32.to_be_bytes()].concat(),
    );
    // One block: a 32-byte value after a keyed block, so 96 bytes (768 bits) in all.
    let mut block = [0u8; 64];
    block[32] = 0x80;
    block[56..].copy_from_slice(&768u64.to_be_bytes());
    block[..32].copy_from_slice(first.as_ref());
    let mut salted = [0u8; 32];
    salted.copy_from_slice(first.as_ref());
    // Byte by byte, in place: at opt-level "z" every small slice copy is a call to memcpy,
    // which took more time than the compressions.
    let round = |keyed: &[u32; 8], block: &mut [u8; 64]| {
        let mut state = *keyed;
        compress256(&mut state, std::slice::from_ref(block));
        for (at, word) in state.iter().enumerate() {
            let [a, b, c, d] = word.to_be_bytes();
            block[4 * at] = a;
            block[4 * at + 1] = b;
            block[4 * at + 2] = c;
            block[4 * at + 3] = d;
        }
    };
    for done in 1..iterations.get() {
        check_clock(done, iterations, deadline)?;
        round(&inner, &mut block);
        round(&outer, &mut block);
        for (byte, next) in salted.iter_mut().zip(&block[..32]) {
            *byte ^= next;
        }
    }
    Ok(salted)
}

/// tls-server-end-point (RFC 5929): the hash of the server's DER certificate with the hash
/// of its signature algorithm, SHA-256 for MD5 and SHA-1. `None` for an algorithm without
/// one (Ed25519, RSASSA-PSS) or a certificate that does not parse.
#[cfg_attr(not(feature = "tls"), allow(dead_code))]
pub fn end_point_hash(certificate: &[u8]) -> Option<Vec<u8>> {
    let (_, cert, _) = der(certificate, 0x30)?;
    let (_, _tbs, rest) = der(cert, 0x30)?;
    let (_, algorithm, _) = der(rest, 0x30)?;
    let (_, oid, _) = der(algorithm, 0x06)?;
    const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
    const ECDSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04];
    let hash = match (oid.split_last()?, oid) {
        ((4 | 5 | 0x0b, head), _) if head == RSA => &digest::SHA256,
        ((0x0c, head), _) if head == RSA => &digest::SHA384,
        ((0x0d, head), _) if head == RSA => &digest::SHA512,
        (_, oid) if oid == [ECDSA, &[0x01]].concat() => &digest::SHA256,
        ((2, head), _) if head == [ECDSA, &[0x03]].concat() => &digest::SHA256,
        ((3, head), _) if head == [ECDSA, &[0x03]].concat() => &digest::SHA384,
        ((4, head), _) if head == [ECDSA, &[0x03]].concat() => &digest::SHA512,
        _ => return None,
    };
    Some(digest::digest(hash, certificate).as_ref().to_vec())
}

#[cfg_attr(not(feature = "tls"), allow(dead_code))]
/// One DER element of type `tag` at the start of `input`: (header length, content, rest).
fn der(input: &[u8], tag: u8) -> Option<(usize, &[u8], &[u8])> {
    let (&first, rest) = input.split_first()?;
    if first != tag {
        return None;
    }
    let (&size, rest) = rest.split_first()?;
    let (length, rest) = if size < 0x80 {
        (size as usize, rest)
    } else {
        let count = (size & 0x7f) as usize;
        if !(1..=4).contains(&count) {
            return None;
        }
        let (bytes, rest) = rest.split_at_checked(count)?;
        (bytes.iter().fold(0usize, |n, b| n << 8 | *b as usize), rest)
    };
    let (content, rest) = rest.split_at_checked(length)?;
    Some((input.len() - rest.len() - length, content, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn long() -> Deadline {
        Deadline::start(std::time::Duration::from_secs(60))
    }

    /// A server that asks for more rounds than the deadline allows ends the exchange at
    /// the deadline, not after all of them.
    #[test]
    fn pbkdf2_rounds_stop_at_the_deadline() {
        // SHA-256 takes its own rounds (`pbkdf2_sha256`), the others ring's HMAC.
        for hash in [Hash::Sha512, Hash::Sha256] {
            let (mut scram, _) =
                Scram::with_nonce(hash, "u", b"pw".to_vec(), Binding::None, "abc".into());
            let deadline = Deadline::start(std::time::Duration::from_millis(20));
            let started = std::time::Instant::now();
            let error = scram
                .respond(b"r=abcdef,s=QSXCR+Q6sek8bf92,i=1000000", &deadline)
                .unwrap_err();
            assert!(
                error.starts_with("timed out after 20ms computing the SCRAM proof"),
                "{hash:?}: {error}"
            );
            // A million rounds take seconds, longer still in a debug build.
            assert!(
                started.elapsed() < std::time::Duration::from_millis(500),
                "{hash:?}: {:?}",
                started.elapsed()
            );
        }
    }

    /// The two-compression rounds give ring's PBKDF2, for passwords shorter than, as long
    /// as and longer than a block (hashed first), and salts of any length; and RFC 7914's
    /// PBKDF2-HMAC-SHA256 vectors (their first 32 bytes).
    #[test]
    fn pbkdf2_sha256_gives_rings_answers() {
        let passwords: [&[u8]; 6] = [
            b"",
            b"pencil",
            &[b'p'; 63],
            &[b'p'; 64],
            &[b'p'; 65],
            &[0xff; 200],
        ];
        let salts: [&[u8]; 4] = [b"", b"QSXCR+Q6sek8bf92", &[7; 55], &[9; 130]];
        for password in passwords {
            for salt in salts {
                for rounds in [1, 2, 3, 257, 4096] {
                    let rounds = NonZeroU32::new(rounds).unwrap();
                    let mut expected = [0u8; 32];
                    ring::pbkdf2::derive(
                        ring::pbkdf2::PBKDF2_HMAC_SHA256,
                        rounds,
                        salt,
                        password,
                        &mut expected,
                    );
                    let got = pbkdf2_sha256(password, salt, rounds, &long()).unwrap();
                    assert_eq!(
                        got,
                        expected,
                        "{} bytes, salt {} bytes, {rounds} rounds",
                        password.len(),
                        salt.len()
                    );
                }
            }
        }
        let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let one = NonZeroU32::new(1).unwrap();
        assert_eq!(
            hex(&pbkdf2_sha256(b"passwd", b"salt", one, &long()).unwrap()),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        );
        let many = NonZeroU32::new(80000).unwrap();
        assert_eq!(
            hex(&pbkdf2_sha256(b"Password", b"NaCl", many, &long()).unwrap()),
            "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
        );
    }

    /// RFC 7677's test vector, with the user name and nonce it uses.
    #[test]
    fn scram_sha_1_follows_rfc_5802() {
        let mut scram = Scram {
            hash: Hash::Sha1,
            password: b"pencil".to_vec(),
            nonce: "fyko+d2lbbFgONRv9qkxdawL".into(),
            client_first_bare: "n=user,r=fyko+d2lbbFgONRv9qkxdawL".into(),
            binding: "biws".into(),
            expected: None,
            proven: false,
        };
        let server_first =
            b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096";
        let client_final = scram.respond(server_first, &long()).unwrap();
        assert_eq!(
            String::from_utf8(client_final).unwrap(),
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
        );
        scram.verify(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=").unwrap();
        assert!(scram.proven());
    }

    #[test]
    fn scram_sha_256_follows_rfc_7677() {
        let mut scram = Scram {
            hash: Hash::Sha256,
            password: b"pencil".to_vec(),
            nonce: "rOprNGfwEbeRWgbNEkqO".into(),
            client_first_bare: "n=user,r=rOprNGfwEbeRWgbNEkqO".into(),
            binding: "biws".into(),
            expected: None,
            proven: false,
        };
        let server_first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let client_final = scram.respond(server_first, &long()).unwrap();
        assert_eq!(
            String::from_utf8(client_final).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        scram
            .verify(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
        assert!(scram.proven());
        assert!(scram
            .verify(b"v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .is_err());
    }

    /// The cache gives what PBKDF2 gives, for the same password, salt, iterations and
    /// hash only; its size stays bounded.
    #[test]
    fn salted_passwords_are_kept_for_the_same_inputs_only() {
        let rounds = NonZeroU32::new(64).unwrap();
        // ring's PBKDF2 is the referee of the rounds probe counts itself.
        let derive = |hash: Hash, salt: &[u8], password: &[u8]| {
            use ring::pbkdf2;
            let algorithm = match hash {
                Hash::Sha1 => pbkdf2::PBKDF2_HMAC_SHA1,
                Hash::Sha256 => pbkdf2::PBKDF2_HMAC_SHA256,
                Hash::Sha512 => pbkdf2::PBKDF2_HMAC_SHA512,
            };
            let mut fresh = vec![0u8; hash.digest().output_len()];
            pbkdf2::derive(algorithm, rounds, salt, password, &mut fresh);
            let kept = salted_password(hash, password, salt, rounds, &long()).unwrap();
            assert_eq!(kept, fresh, "{hash:?} {salt:?} {password:?}");
            kept
        };
        let first = derive(Hash::Sha256, b"cache-test-salt", b"cache-test-pw");
        assert_eq!(
            derive(Hash::Sha256, b"cache-test-salt", b"cache-test-pw"),
            first
        );
        assert_ne!(
            derive(Hash::Sha256, b"cache-test-salt2", b"cache-test-pw"),
            first
        );
        assert_ne!(
            derive(Hash::Sha256, b"cache-test-salt", b"cache-test-pw2"),
            first
        );
        derive(Hash::Sha512, b"cache-test-salt", b"cache-test-pw");
        for n in 0..SALTED_KEPT + 4 {
            derive(Hash::Sha1, format!("cache-test-{n}").as_bytes(), b"pw");
        }
        assert!(SALTED.lock().unwrap().len() <= SALTED_KEPT);
    }

    /// postgres-protocol's SCRAM client is the referee: the same nonce (read from its first
    /// message), password, salt and iterations give the same messages byte for byte, and
    /// each side accepts the server signature the other expects.
    #[test]
    fn scram_matches_postgres_protocol_byte_for_byte() {
        use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256};
        let end_point = digest::digest(&digest::SHA256, b"certificate")
            .as_ref()
            .to_vec();
        let cases = [
            ("pencil", Binding::None, ChannelBinding::unsupported()),
            (
                "p\u{e4}ss w\u{f6}rd",
                Binding::NotOffered,
                ChannelBinding::unrequested(),
            ),
            // SASLprep: a soft hyphen maps to nothing, a non-ASCII space to a space,
            // NFKC turns the Roman numeral nine into "IX".
            (
                "I\u{ad}X\u{a0}\u{2168}",
                Binding::None,
                ChannelBinding::unsupported(),
            ),
            // A prohibited character: SASLprep fails and the raw bytes are used.
            ("bell\u{7}", Binding::None, ChannelBinding::unsupported()),
            // Fullwidth letters and a ligature (NFKC), a zero-width joiner (mapped to
            // nothing), an ideographic space (a space), an unassigned character (raw
            // bytes), Hebrew (right-to-left, valid) and Hebrew with a Latin letter (raw).
            (
                "\u{ff30}\u{fb01}x\u{200d}\u{3000}!",
                Binding::None,
                ChannelBinding::unsupported(),
            ),
            ("x\u{221}", Binding::None, ChannelBinding::unsupported()),
            (
                "\u{5e1}\u{5d5}\u{5d3}",
                Binding::None,
                ChannelBinding::unsupported(),
            ),
            (
                "\u{5e1}a\u{5d3}",
                Binding::None,
                ChannelBinding::unsupported(),
            ),
            (
                "secret",
                Binding::EndPoint(end_point.clone()),
                ChannelBinding::tls_server_end_point(end_point),
            ),
        ];
        for (password, ours, theirs) in cases {
            let mut reference = ScramSha256::new(password.as_bytes(), theirs);
            let first = String::from_utf8(reference.message().to_vec()).unwrap();
            // The nonce follows the first ",r=" (it may itself hold "r=": printable characters).
            let nonce = first.split_once(",r=").unwrap().1.to_string();
            let (mut scram, our_first) =
                Scram::with_nonce(Hash::Sha256, "", saslprep(password), ours, nonce.clone());
            assert_eq!(our_first, reference.message(), "{password:?}");
            let server_first = format!(
                "r={nonce}ServerPart+/1,s={},i=4096",
                BASE64.encode(b"sixteen byte salt")
            );
            reference.update(server_first.as_bytes()).unwrap();
            let our_final = scram.respond(server_first.as_bytes(), &long()).unwrap();
            assert_eq!(our_final, reference.message(), "{password:?}");
            let (server_key, auth_message) = scram.expected.as_ref().unwrap();
            let server_final = format!(
                "v={}",
                BASE64.encode(hmac::sign(server_key, auth_message.as_bytes()))
            );
            reference.finish(server_final.as_bytes()).unwrap();
            assert!(!scram.proven());
            scram.verify(server_final.as_bytes()).unwrap();
            assert!(scram.proven());
        }
    }

    #[test]
    fn end_point_hashes_follow_the_signature_algorithm() {
        // A minimal Certificate: SEQUENCE { tbs SEQUENCE {}, SEQUENCE { OID }, BIT STRING }.
        let cert = |oid: &[u8]| {
            let mut algorithm = vec![0x06, oid.len() as u8];
            algorithm.extend_from_slice(oid);
            let mut body = vec![0x30, 0x00, 0x30, algorithm.len() as u8];
            body.extend_from_slice(&algorithm);
            body.extend_from_slice(&[0x03, 0x01, 0x00]);
            let mut der = vec![0x30, body.len() as u8];
            der.extend_from_slice(&body);
            der
        };
        let ecdsa_sha256 = cert(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]);
        assert_eq!(
            end_point_hash(&ecdsa_sha256).unwrap(),
            digest::digest(&digest::SHA256, &ecdsa_sha256).as_ref()
        );
        let rsa_sha384 = cert(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c]);
        assert_eq!(end_point_hash(&rsa_sha384).unwrap().len(), 48);
        let rsa_sha1 = cert(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05]);
        assert_eq!(end_point_hash(&rsa_sha1).unwrap().len(), 32);
        assert_eq!(end_point_hash(&cert(&[0x2b, 0x65, 0x70])), None, "Ed25519");
        assert_eq!(end_point_hash(b"\x30\x84\xff\xff\xff\xff"), None);
    }

    #[test]
    fn scram_refuses_odd_servers() {
        let (mut scram, first) = Scram::start("", "pw", Binding::None).unwrap();
        let first = String::from_utf8(first).unwrap();
        assert!(first.starts_with("n,,n=,r="), "{first}");
        assert!(scram
            .respond(b"r=someone-else,s=AAAA,i=4096", &long())
            .is_err());
        let nonce = scram.nonce.clone();
        let greedy = format!("r={nonce}x,s=AAAA,i=4000000000");
        assert!(scram.respond(greedy.as_bytes(), &long()).is_err());
        assert!(scram.respond(b"garbage", &long()).is_err());
        assert!(scram.verify(b"v=AAAA").is_err());
    }

    #[test]
    fn the_user_name_is_escaped() {
        let (_, first) = Scram::with_nonce(
            Hash::Sha256,
            "a=b,c",
            b"pw".to_vec(),
            Binding::None,
            "abc".into(),
        );
        assert_eq!(first, b"n,,n=a=3Db=2Cc,r=abc");
    }
}
