//! Carrier credentials sealed at rest: AES-256-GCM under the server's carrier secret,
//! each bound to the record it belongs to (the number's id as associated data), so a
//! sealed value copied onto another row does not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Bytes of the key.
pub const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 12;
/// Prefix of a sealed value, naming the scheme so it can change later.
const VERSION: &str = "v1:";

/// Why a secret could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("the carrier secret key must be 32 bytes, as 64 hex digits or base64")]
    BadKey,
    #[error("a sealed carrier credential does not open with this server's key")]
    Unsealable,
    #[error("a carrier credential could not be sealed")]
    Seal,
}

/// The server's carrier secret. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct CarrierSecrets {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for CarrierSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CarrierSecrets(<redacted>)")
    }
}

impl CarrierSecrets {
    /// From the configured key: 64 hex digits or base64 of 32 bytes.
    pub fn from_config(key: &str) -> Result<Self, SecretError> {
        let key = key.trim();
        let bytes = if key.len() == 2 * KEY_BYTES && key.chars().all(|c| c.is_ascii_hexdigit()) {
            hex::decode(key).map_err(|_| SecretError::BadKey)?
        } else {
            STANDARD.decode(key).map_err(|_| SecretError::BadKey)?
        };
        let bytes: [u8; KEY_BYTES] = bytes.try_into().map_err(|_| SecretError::BadKey)?;
        Ok(Self::new(&bytes))
    }

    pub fn new(key: &[u8; KEY_BYTES]) -> Self {
        CarrierSecrets { cipher: Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key)) }
    }

    /// A new random key, base64, for a development server to keep.
    pub fn generate_key() -> String {
        STANDARD.encode(rand::random::<[u8; KEY_BYTES]>())
    }

    /// Seals `secret` for the record `bound_to`.
    pub fn seal(&self, secret: &str, bound_to: &str) -> Result<String, SecretError> {
        let nonce = rand::random::<[u8; NONCE_BYTES]>();
        let payload = Payload { msg: secret.as_bytes(), aad: bound_to.as_bytes() };
        let sealed = self.cipher.encrypt(&Nonce::from(nonce), payload).map_err(|_| SecretError::Seal)?;
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        Ok(format!("{VERSION}{}", STANDARD.encode(bytes)))
    }

    /// Opens a value sealed for `bound_to`.
    pub fn open(&self, sealed: &str, bound_to: &str) -> Result<String, SecretError> {
        let encoded = sealed.strip_prefix(VERSION).ok_or(SecretError::Unsealable)?;
        let bytes = STANDARD.decode(encoded).map_err(|_| SecretError::Unsealable)?;
        if bytes.len() < NONCE_BYTES {
            return Err(SecretError::Unsealable);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| SecretError::Unsealable)?;
        let payload = Payload { msg: ciphertext, aad: bound_to.as_bytes() };
        let plain = self.cipher.decrypt(&Nonce::from(nonce), payload).map_err(|_| SecretError::Unsealable)?;
        String::from_utf8(plain).map_err(|_| SecretError::Unsealable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_for_their_record_and_key() {
        let secrets = CarrierSecrets::new(&[7; KEY_BYTES]);
        let sealed = secrets.seal("token-123", "pn_1").unwrap();
        assert!(sealed.starts_with("v1:") && !sealed.contains("token-123"));
        assert_ne!(sealed, secrets.seal("token-123", "pn_1").unwrap(), "a fresh nonce each time");
        assert_eq!(secrets.open(&sealed, "pn_1").as_deref(), Ok("token-123"));
        assert_eq!(secrets.open(&sealed, "pn_2"), Err(SecretError::Unsealable));
        assert_eq!(CarrierSecrets::new(&[8; KEY_BYTES]).open(&sealed, "pn_1"), Err(SecretError::Unsealable));
        assert_eq!(secrets.open("v1:AAAA", "pn_1"), Err(SecretError::Unsealable));
        assert_eq!(secrets.open("plain", "pn_1"), Err(SecretError::Unsealable));
    }

    #[test]
    fn keys_are_read_as_hex_or_base64() {
        let generated = CarrierSecrets::generate_key();
        assert!(CarrierSecrets::from_config(&generated).is_ok());
        assert!(CarrierSecrets::from_config(&"ab".repeat(32)).is_ok());
        assert_eq!(CarrierSecrets::from_config("short").err(), Some(SecretError::BadKey));
        assert!(!format!("{:?}", CarrierSecrets::new(&[1; KEY_BYTES])).contains('1'));
    }
}
