//! Authentication arithmetic: scrambles, mysql_native_password and caching_sha2_password
//! tokens, checking a client's token in constant time, and recovering SHA1(password) from
//! a native token so a user configured only by its `*HEX` hash can still log in to
//! backends with each backend's own scramble.

use rand::Rng;
use sha1::{Digest, Sha1};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// mysql_native_password.
pub const NATIVE: &str = "mysql_native_password";
/// caching_sha2_password.
pub const CACHING_SHA2: &str = "caching_sha2_password";
/// MariaDB's client_ed25519.
pub const ED25519: &str = "client_ed25519";

/// A fresh 20-byte scramble of printable, non-NUL characters.
pub fn scramble() -> [u8; 20] {
    let mut rng = rand::rng();
    let mut s = [0u8; 20];
    for b in &mut s {
        *b = rng.random_range(0x21..0x7f);
    }
    s
}

fn sha1(parts: &[&[u8]]) -> [u8; 20] {
    let mut h = Sha1::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn xor<const N: usize>(a: &[u8], b: &[u8; N]) -> [u8; N] {
    let mut out = *b;
    for (o, x) in out.iter_mut().zip(a) {
        *o ^= x;
    }
    out
}

/// What the proxy knows about one user's password.
#[derive(Clone)]
pub struct Secret {
    /// SHA1(SHA1(password)): what mysql_native_password stores (`*HEX`).
    pub native_stage2: [u8; 20],
    /// The password itself, when configured in plaintext.
    pub plaintext: Option<String>,
    /// True for an empty password (clients then send an empty token).
    pub empty: bool,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// From a config value: plaintext, or `*` + 40 hex digits (already validated).
    pub fn from_config(password: &str) -> Secret {
        if let Some(hex) = password.strip_prefix('*').filter(|h| h.len() == 40) {
            let mut stage2 = [0u8; 20];
            for (i, b) in stage2.iter_mut().enumerate() {
                *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or(0);
            }
            return Secret {
                native_stage2: stage2,
                plaintext: None,
                empty: false,
            };
        }
        Secret {
            native_stage2: sha1(&[&sha1(&[password.as_bytes()])]),
            plaintext: Some(password.to_string()),
            empty: password.is_empty(),
        }
    }
}

/// What a session may use to log in to backends after its client authenticated.
#[derive(Clone, Default)]
pub struct BackendCredential {
    /// SHA1(password), enough for mysql_native_password.
    pub native_stage1: Option<[u8; 20]>,
    /// The password, needed by caching_sha2_password and client_ed25519.
    pub plaintext: Option<String>,
}

impl std::fmt::Debug for BackendCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BackendCredential(..)")
    }
}

impl BackendCredential {
    /// From a known plaintext password.
    pub fn from_password(pw: &str) -> Self {
        BackendCredential {
            native_stage1: Some(sha1(&[pw.as_bytes()])),
            plaintext: Some(pw.to_string()),
        }
    }

    /// The token for `plugin` and the backend's `scramble`, or None when this credential
    /// cannot answer that plugin. An empty password answers with an empty token.
    pub fn token(&self, plugin: &str, scramble: &[u8]) -> Option<Vec<u8>> {
        if self.plaintext.as_deref() == Some("") {
            return Some(Vec::new());
        }
        match plugin {
            NATIVE => Some(native_token(&self.native_stage1?, scramble).to_vec()),
            CACHING_SHA2 => Some(sha2_token(self.plaintext.as_deref()?, scramble).to_vec()),
            ED25519 => Some(super::ed25519::sign(self.plaintext.as_deref()?, scramble).to_vec()),
            _ => None,
        }
    }
}

/// The scramble part of a greeting is 20 bytes; some servers append a NUL.
fn nonce(scramble: &[u8]) -> &[u8] {
    &scramble[..scramble.len().min(20)]
}

/// mysql_native_password: SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw))).
pub fn native_token(stage1: &[u8; 20], scramble: &[u8]) -> [u8; 20] {
    let stage2 = sha1(&[stage1]);
    xor(stage1, &sha1(&[nonce(scramble), &stage2]))
}

/// Checks a client's native token; on success returns SHA1(password).
pub fn native_check(secret: &Secret, scramble: &[u8], token: &[u8]) -> Option<[u8; 20]> {
    if token.len() != 20 {
        return None;
    }
    let stage1 = xor(token, &sha1(&[nonce(scramble), &secret.native_stage2]));
    let ok: bool = sha1(&[&stage1]).ct_eq(&secret.native_stage2).into();
    ok.then_some(stage1)
}

/// caching_sha2_password: SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + nonce).
pub fn sha2_token(password: &str, scramble: &[u8]) -> [u8; 32] {
    let stage1 = sha256(&[password.as_bytes()]);
    let stage2 = sha256(&[&stage1]);
    xor(&stage1, &sha256(&[&stage2, nonce(scramble)]))
}

/// Checks a caching_sha2_password fast-path token against a plaintext password.
pub fn sha2_check(password: &str, scramble: &[u8], token: &[u8]) -> bool {
    token.len() == 32 && bool::from(sha2_token(password, scramble).ct_eq(token))
}

/// Constant-time comparison of a cleartext password (caching_sha2 full auth over TLS).
pub fn cleartext_check(password: &str, sent: &[u8]) -> bool {
    let sent = sent.strip_suffix(&[0]).unwrap_or(sent);
    sent.len() == password.len() && bool::from(sent.ct_eq(password.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_known_hash() {
        // SHA1(SHA1("app")), as SELECT PASSWORD('app') shows it.
        let s = Secret::from_config("app");
        let hex: String = s.native_stage2.iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(hex, "5BCB3E6AC345B435C7C2E6B7949A04CE6F6563D3");
    }

    #[test]
    fn hash_only_user_recovers_stage1() {
        let plain = Secret::from_config("s3cret");
        let hex: String = plain
            .native_stage2
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        let hashed = Secret::from_config(&format!("*{hex}"));
        let sc = scramble();
        let cred = BackendCredential::from_password("s3cret");
        let token = cred.token(NATIVE, &sc).unwrap();
        let stage1 = native_check(&hashed, &sc, &token).expect("accepted");
        assert_eq!(Some(stage1), cred.native_stage1);
        assert!(native_check(&hashed, &sc, &[0u8; 20]).is_none());
        assert!(native_check(&hashed, &sc, b"short").is_none());
    }

    #[test]
    fn sha2_fast_path() {
        let sc = scramble();
        let t = sha2_token("pw", &sc);
        assert!(sha2_check("pw", &sc, &t));
        assert!(!sha2_check("px", &sc, &t));
        assert!(cleartext_check("pw", b"pw\0"));
        assert!(!cleartext_check("pw", b"p"));
    }
}
