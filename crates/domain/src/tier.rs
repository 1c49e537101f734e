//! Pricing tiers: request rate, concurrent calls and the default voice rate.

use crate::money::Micros;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Payg,
    Starter,
    Growth,
    Enterprise,
}

impl Tier {
    pub const ALL: [Tier; 4] = [Tier::Payg, Tier::Starter, Tier::Growth, Tier::Enterprise];

    pub const fn as_str(self) -> &'static str {
        match self {
            Tier::Payg => "payg",
            Tier::Starter => "starter",
            Tier::Growth => "growth",
            Tier::Enterprise => "enterprise",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// API requests per minute per org; `None` means not rate limited.
    pub const fn requests_per_minute(self) -> Option<u32> {
        match self {
            Tier::Payg => Some(300),
            Tier::Starter => Some(600),
            Tier::Growth => Some(1200),
            Tier::Enterprise => None,
        }
    }

    /// Simultaneous live calls per org; `None` means unlimited.
    pub const fn concurrent_calls(self) -> Option<u32> {
        match self {
            Tier::Payg => Some(10),
            Tier::Starter => Some(50),
            Tier::Growth => Some(100),
            Tier::Enterprise => None,
        }
    }

    /// The tier's voice rate per minute; enterprise is priced per contract and
    /// defaults to the growth rate until an operator sets one.
    pub const fn default_rate_per_minute(self) -> Micros {
        match self {
            Tier::Payg => 150_000,
            Tier::Starter => 140_000,
            Tier::Growth | Tier::Enterprise => 120_000,
        }
    }

    /// Whether an org on this tier with this balance is paused: every tier but
    /// enterprise pauses at a balance of zero or below.
    pub const fn is_paused(self, balance: Micros) -> bool {
        !matches!(self, Tier::Enterprise) && balance <= 0
    }
}

/// How `X-Concurrent-Call-Limit` and `concurrent_limit` show an unlimited tier.
pub const UNLIMITED_LABEL: &str = "unlimited";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tier_table() {
        assert_eq!(Tier::Payg.requests_per_minute(), Some(300));
        assert_eq!(Tier::Growth.concurrent_calls(), Some(100));
        assert_eq!(Tier::Enterprise.requests_per_minute(), None);
        assert_eq!(Tier::Starter.default_rate_per_minute(), 140_000);
        assert_eq!(Tier::parse("growth"), Some(Tier::Growth));
        assert_eq!(Tier::parse("gold"), None);
    }

    #[test]
    fn only_non_enterprise_pause_at_zero() {
        assert!(Tier::Payg.is_paused(0));
        assert!(Tier::Growth.is_paused(-1));
        assert!(!Tier::Payg.is_paused(1));
        assert!(!Tier::Enterprise.is_paused(-100));
    }
}
