//! API keys: generation, the offline format check, hashing and display hints.
//!
//! A key is `sb_live_` (project) or `sb_org_` (org) followed by 48 lowercase hex
//! characters. The last 8 hex are a CRC32 of everything before them, so a mistyped
//! or invented key is rejected without a database lookup. Only a SHA-256 hash of the
//! key is stored; the raw value is shown once, on creation.

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const PROJECT_KEY_PREFIX: &str = "sb_live_";
pub const ORG_KEY_PREFIX: &str = "sb_org_";
const RANDOM_HEX: usize = 40;
const CHECK_HEX: usize = 8;

/// Which level a key acts at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Project,
    Org,
}

impl KeyKind {
    pub const fn prefix(self) -> &'static str {
        match self {
            KeyKind::Project => PROJECT_KEY_PREFIX,
            KeyKind::Org => ORG_KEY_PREFIX,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            KeyKind::Project => "project",
            KeyKind::Org => "org",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "project" => Some(KeyKind::Project),
            "org" => Some(KeyKind::Org),
            _ => None,
        }
    }
}

/// What a key may do: `full` reads and writes, `read` only reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyScope {
    Full,
    Read,
}

impl KeyScope {
    pub const fn as_str(self) -> &'static str {
        match self {
            KeyScope::Full => "full",
            KeyScope::Read => "read",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "full" => Some(KeyScope::Full),
            "read" => Some(KeyScope::Read),
            _ => None,
        }
    }
}

/// A freshly generated key: the raw value (shown once) and what is stored.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub raw: String,
    pub hash: String,
    pub hint: String,
}

/// Generates a new random key of the given kind.
pub fn generate(kind: KeyKind) -> NewKey {
    let mut bytes = [0u8; RANDOM_HEX / 2];
    rand::rng().fill_bytes(&mut bytes);
    let body = format!("{}{}", kind.prefix(), hex::encode(bytes));
    let raw = format!("{body}{:08x}", crc32fast::hash(body.as_bytes()));
    NewKey { hash: hash(&raw), hint: hint(&raw), raw }
}

/// Parses the shape of a presented key: the known prefix, 48 lowercase hex, and a
/// matching checksum. Returns the key's kind, or `None` for anything malformed.
pub fn check_format(raw: &str) -> Option<KeyKind> {
    let (kind, rest) = if let Some(rest) = raw.strip_prefix(PROJECT_KEY_PREFIX) {
        (KeyKind::Project, rest)
    } else if let Some(rest) = raw.strip_prefix(ORG_KEY_PREFIX) {
        (KeyKind::Org, rest)
    } else {
        return None;
    };
    if rest.len() != RANDOM_HEX + CHECK_HEX || !rest.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let (body, check) = raw.split_at(raw.len() - CHECK_HEX);
    let expected = format!("{:08x}", crc32fast::hash(body.as_bytes()));
    bool::from(expected.as_bytes().ct_eq(check.as_bytes())).then_some(kind)
}

/// The stored form of a key: lowercase hex SHA-256.
pub fn hash(raw: &str) -> String {
    hex::encode(Sha256::digest(raw.as_bytes()))
}

/// Compares two stored hashes in constant time.
pub fn hashes_equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// The masked form shown in listings: the prefix and the last four characters.
pub fn hint(raw: &str) -> String {
    let prefix = if raw.starts_with(ORG_KEY_PREFIX) { ORG_KEY_PREFIX } else { PROJECT_KEY_PREFIX };
    let tail = &raw[raw.len().saturating_sub(4)..];
    format!("{prefix}...{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_pass_the_format_check() {
        for kind in [KeyKind::Project, KeyKind::Org] {
            let key = generate(kind);
            assert!(key.raw.starts_with(kind.prefix()));
            assert_eq!(key.raw.len(), kind.prefix().len() + 48);
            assert_eq!(check_format(&key.raw), Some(kind));
            assert_eq!(key.hash, hash(&key.raw));
            assert!(key.hint.ends_with(&key.raw[key.raw.len() - 4..]));
        }
    }

    #[test]
    fn malformed_keys_are_rejected() {
        let key = generate(KeyKind::Project).raw;
        // A flipped character breaks the checksum.
        let mut flipped = key.clone().into_bytes();
        let i = PROJECT_KEY_PREFIX.len() + 3;
        flipped[i] = if flipped[i] == b'a' { b'b' } else { b'a' };
        assert_eq!(check_format(&String::from_utf8(flipped).unwrap_or_default()), None);
        assert_eq!(check_format(&key.to_uppercase()), None);
        assert_eq!(check_format(&key[..key.len() - 1]), None);
        assert_eq!(check_format("sfy_live_0000"), None);
        assert_eq!(check_format(&key.replace("sb_live_", "sb_test_")), None);
        assert_eq!(check_format(""), None);
    }

    #[test]
    fn hash_comparison_is_exact() {
        assert!(hashes_equal(&hash("a"), &hash("a")));
        assert!(!hashes_equal(&hash("a"), &hash("b")));
    }
}

/// A webhook signing secret in the Standard Webhooks form: `whsec_` + base64 of
/// 24 random bytes.
pub fn generate_webhook_secret() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// The masked form of a webhook secret: `whsec_...` and its last four characters.
pub fn secret_hint(secret: &str) -> String {
    format!("whsec_...{}", &secret[secret.len().saturating_sub(4)..])
}

#[cfg(test)]
mod secret_tests {
    use super::*;

    #[test]
    fn webhook_secrets_are_standard_webhooks_shaped() {
        use base64::Engine;
        let secret = generate_webhook_secret();
        let encoded = secret.strip_prefix("whsec_").unwrap_or_default();
        assert_eq!(base64::engine::general_purpose::STANDARD.decode(encoded).map(|b| b.len()).ok(), Some(24));
        assert_ne!(secret, generate_webhook_secret());
        assert!(secret_hint(&secret).ends_with(&secret[secret.len() - 4..]));
    }
}
