//! Variables: facts remembered about a customer (`name`, `email`, …), each with
//! a time to live. Writing a key overwrites it and restarts its TTL; once the
//! TTL has passed the variable is never returned again.

/// 30 days: the TTL of a variable written without one (seed examples).
pub const DEFAULT_TTL_SECONDS: i64 = 30 * 86_400;
/// 90 days: the longest TTL ("30-90 day TTL").
pub const MAX_TTL_SECONDS: i64 = 90 * 86_400;

/// One checked variable write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableWrite {
    pub key: String,
    pub value: String,
    /// Where the value came from, e.g. `agent_collected`, `crm_sync`.
    pub source: Option<String>,
    pub ttl_seconds: i64,
}

impl VariableWrite {
    /// When a variable written at `now_ms` expires (epoch ms).
    pub fn expires_at(&self, now_ms: i64) -> i64 {
        now_ms.saturating_add(self.ttl_seconds.saturating_mul(1000))
    }
}

/// Whether a variable expiring at `expires_at` may still be returned at `now_ms`.
pub fn is_live(expires_at: i64, now_ms: i64) -> bool {
    expires_at > now_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variable_lives_exactly_its_ttl() {
        let write = VariableWrite { key: "name".into(), value: "John".into(), source: None, ttl_seconds: 60 };
        let written = 1_000_000;
        let expires = write.expires_at(written);
        assert_eq!(expires, 1_060_000);
        assert!(is_live(expires, written));
        assert!(is_live(expires, expires - 1));
        assert!(!is_live(expires, expires));
    }

    #[test]
    fn defaults_match_the_seed() {
        assert_eq!(DEFAULT_TTL_SECONDS, 2_592_000);
        assert_eq!(MAX_TTL_SECONDS, 7_776_000);
    }
}
