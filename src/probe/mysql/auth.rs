//! The password scrambles of the auth plugins probe speaks, from ring (which rustls already
//! brings in): `mysql_native_password` (SHA-1) and `caching_sha2_password` (SHA-256).
//! `mysql_clear_password` (and the full path of caching_sha2_password) send the password
//! itself, which the caller allows only over TLS or a Unix socket.
//!
//! Not spoken: MariaDB's `client_ed25519`. Its key is derived from SHA-512 of the whole
//! password, then used as an Ed25519 scalar; ring signs only from a 32-byte seed it hashes
//! itself, so the scheme needs raw curve arithmetic (curve25519-dalek or a copy of ref10),
//! tens of KB for a plugin that is not any server's default. The RSA-encrypted full path
//! of caching_sha2_password / sha256_password is not spoken either: ring has no RSA
//! encryption.

use ring::digest::{digest, Context, SHA1_FOR_LEGACY_USE_ONLY, SHA256};

pub const NATIVE: &str = "mysql_native_password";
pub const CACHING_SHA2: &str = "caching_sha2_password";
pub const CLEAR: &str = "mysql_clear_password";
pub const SHA256_PASSWORD: &str = "sha256_password";

/// caching_sha2_password's AuthMoreData bytes.
pub const FAST_AUTH_OK: u8 = 3;
pub const FULL_AUTH: u8 = 4;

/// The first 20 bytes of the nonce: servers send 20 (plus a NUL that is already cut).
fn nonce(scramble: &[u8]) -> &[u8] {
    &scramble[..scramble.len().min(20)]
}

/// SHA1(password) XOR SHA1(nonce + SHA1(SHA1(password))); empty for an empty password.
pub fn native_password(password: &str, scramble: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let stage1 = digest(&SHA1_FOR_LEGACY_USE_ONLY, password.as_bytes());
    let stage2 = digest(&SHA1_FOR_LEGACY_USE_ONLY, stage1.as_ref());
    let mut context = Context::new(&SHA1_FOR_LEGACY_USE_ONLY);
    context.update(nonce(scramble));
    context.update(stage2.as_ref());
    xor(stage1.as_ref(), context.finish().as_ref())
}

/// SHA256(password) XOR SHA256(SHA256(SHA256(password)) + nonce); empty for an empty password.
pub fn caching_sha2(password: &str, scramble: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let stage1 = digest(&SHA256, password.as_bytes());
    let stage2 = digest(&SHA256, stage1.as_ref());
    let mut context = Context::new(&SHA256);
    context.update(stage2.as_ref());
    context.update(nonce(scramble));
    xor(stage1.as_ref(), context.finish().as_ref())
}

/// The password as the clear-text plugins send it: NUL-terminated.
pub fn clear(password: &str) -> Vec<u8> {
    let mut out = password.as_bytes().to_vec();
    out.push(0);
    out
}

/// The first answer for `plugin`, or `None` when probe does not speak it.
pub fn scramble_for(plugin: &str, password: &str, scramble: &[u8]) -> Option<Vec<u8>> {
    match plugin {
        NATIVE => Some(native_password(password, scramble)),
        CACHING_SHA2 => Some(caching_sha2(password, scramble)),
        _ => None,
    }
}

fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Checked against PyMySQL's `_auth.scramble_native_password` and
    /// `scramble_caching_sha2` with the same inputs.
    #[test]
    fn scrambles_match_the_reference_client() {
        let nonce = b"abcdefghijklmnopqrst";
        assert_eq!(
            hex(&native_password("secret", nonce)),
            "8817c50fa779daef010ee7577825b0847df9842e"
        );
        assert_eq!(
            hex(&caching_sha2("secret", nonce)),
            "c76e2898612a4cf042c77fa8c4702c4c64c0c2c557c53c4d75595aaa6abae809"
        );
        assert!(native_password("", nonce).is_empty());
        assert!(caching_sha2("", nonce).is_empty());
        assert_eq!(clear("pw"), b"pw\0");
        assert!(scramble_for("client_ed25519", "pw", nonce).is_none());
    }
}
