//! MariaDB's client_ed25519: the password's SHA-512 is the expanded Ed25519 secret key
//! (standard Ed25519 with an arbitrary-length seed), and the client signs the scramble.

use ed25519_dalek::hazmat::{raw_sign, ExpandedSecretKey};
use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha512};

/// The 64-byte signature of `scramble` with the key derived from `password`.
pub fn sign(password: &str, scramble: &[u8]) -> [u8; 64] {
    let az: [u8; 64] = Sha512::digest(password.as_bytes()).into();
    let key = ExpandedSecretKey::from_bytes(&az);
    let public = VerifyingKey::from(&key);
    raw_sign::<Sha512>(&key, &scramble[..scramble.len().min(32)], &public).to_bytes()
}
