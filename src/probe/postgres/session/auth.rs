//! The password exchanges PostgreSQL asks for: SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (shared
//! with MongoDB in [`crate::scram`]) and the MD5 hash, from the small `md-5` crate (ring
//! has no MD5).

use md5::{Digest as _, Md5};

#[cfg(feature = "tls")]
pub use crate::scram::end_point_hash;
pub use crate::scram::{Binding, Scram, SCRAM_SHA_256, SCRAM_SHA_256_PLUS};

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
}
