//! Credentials at rest: AES-256-GCM under the key in `ARKSYNC_SECRET_KEY`.
//!
//! A sealed value is `nonce (12 bytes) || ciphertext || tag`. Every seal
//! draws a fresh random nonce, so sealing the same token twice gives two
//! different blobs and a leaked blob says nothing about another. The key
//! never leaves this type; `Debug` prints nothing of it.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;

/// Bound into every tag, so a blob cannot be moved to another column or
/// table that happens to use the same key.
const AAD: &[u8] = b"arksync.jira_connections.credentials.v1";
const NONCE_LEN: usize = 12;

/// Why a blob could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("sealed credentials are too short to hold a nonce and a tag")]
    Truncated,
    #[error("sealed credentials failed authentication (wrong ARKSYNC_SECRET_KEY, or tampered with)")]
    Unauthentic,
}

/// The 256-bit key that seals credentials.
#[derive(Clone)]
pub struct SecretKey(Aes256Gcm);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey([redacted])")
    }
}

impl SecretKey {
    /// Parses 32 bytes given as base64 (`openssl rand -base64 32`) or as 64
    /// hex digits. The error never echoes the value.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).map_err(|_| "64 hex digits")?
        } else {
            STANDARD.decode(text).map_err(|_| "32 random bytes as base64 (openssl rand -base64 32) or 64 hex digits")?
        };
        Self::from_bytes(&bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, &'static str> {
        Aes256Gcm::new_from_slice(bytes).map(Self).map_err(|_| "exactly 32 bytes (256 bits), base64 or hex")
    }

    /// Encrypts `plaintext` under a fresh random nonce.
    pub fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .0
            .encrypt(&Nonce::from(nonce), Payload { msg: plaintext, aad: AAD })
            .expect("AES-GCM encryption cannot fail for inputs under 64 GiB");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Decrypts and authenticates a blob made by [`SecretKey::seal`].
    pub fn open(&self, blob: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if blob.len() < NONCE_LEN + 16 {
            return Err(CryptoError::Truncated);
        }
        let (nonce, sealed) = blob.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Truncated)?;
        self.0.decrypt(&Nonce::from(nonce), Payload { msg: sealed, aad: AAD }).map_err(|_| CryptoError::Unauthentic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretKey {
        SecretKey::from_bytes(&[byte; 32]).unwrap()
    }

    #[test]
    fn a_sealed_value_opens_with_the_same_key_only() {
        let blob = key(1).seal(b"refresh-token");
        assert_eq!(key(1).open(&blob).unwrap(), b"refresh-token");
        assert!(matches!(key(2).open(&blob), Err(CryptoError::Unauthentic)));
    }

    #[test]
    fn sealing_twice_uses_two_nonces_and_hides_the_plaintext() {
        let (a, b) = (key(1).seal(b"token"), key(1).seal(b"token"));
        assert_ne!(a, b);
        assert!(!a.windows(5).any(|w| w == b"token"));
    }

    #[test]
    fn a_tampered_blob_is_refused() {
        let mut blob = key(1).seal(b"token");
        let last = blob.len() - 1;
        blob[last] ^= 1;
        assert!(matches!(key(1).open(&blob), Err(CryptoError::Unauthentic)));
        assert!(matches!(key(1).open(&blob[..10]), Err(CryptoError::Truncated)));
    }

    #[test]
    fn keys_parse_from_base64_or_hex_and_must_be_256_bits() {
        assert!(SecretKey::parse(&STANDARD.encode([7u8; 32])).is_ok());
        assert!(SecretKey::parse(&"ab".repeat(32)).is_ok());
        assert!(SecretKey::parse(&STANDARD.encode([7u8; 16])).is_err());
        assert!(SecretKey::parse("not a key").is_err());
        assert_eq!(format!("{:?}", key(1)), "SecretKey([redacted])");
    }
}
