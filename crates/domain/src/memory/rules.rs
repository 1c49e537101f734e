//! Everything about caller memory an operator can tune: the `[memory]` section
//! of the configuration (`[memory.weights]`, `[memory.thresholds]`, TTLs).

use serde::{Deserialize, Serialize};

use super::scoring::{ScoringWeights, Thresholds};
use super::variables::{DEFAULT_TTL_SECONDS, MAX_TTL_SECONDS};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryRules {
    pub weights: ScoringWeights,
    pub thresholds: Thresholds,
    /// TTL of a variable written without `ttl_seconds` (default 30 days).
    pub default_ttl_seconds: i64,
    /// Longest `ttl_seconds` accepted (default 90 days).
    pub max_ttl_seconds: i64,
}

impl Default for MemoryRules {
    fn default() -> Self {
        Self {
            weights: ScoringWeights::default(),
            thresholds: Thresholds::default(),
            default_ttl_seconds: DEFAULT_TTL_SECONDS,
            max_ttl_seconds: MAX_TTL_SECONDS,
        }
    }
}

impl MemoryRules {
    /// Refuses settings that would make scoring or TTLs meaningless.
    pub fn check(&self) -> Result<(), String> {
        self.weights.check()?;
        self.thresholds.check()?;
        if self.max_ttl_seconds < 1 {
            return Err("memory.max_ttl_seconds must be at least 1".into());
        }
        if !(1..=self.max_ttl_seconds).contains(&self.default_ttl_seconds) {
            return Err("memory.default_ttl_seconds must be between 1 and memory.max_ttl_seconds".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_and_bad_ttls_fail() {
        assert!(MemoryRules::default().check().is_ok());
        let long_default = MemoryRules { default_ttl_seconds: MAX_TTL_SECONDS + 1, ..MemoryRules::default() };
        assert!(long_default.check().is_err());
        let no_max = MemoryRules { max_ttl_seconds: 0, ..MemoryRules::default() };
        assert!(no_max.check().is_err());
    }

    #[test]
    fn partial_settings_keep_the_other_defaults() {
        let rules: MemoryRules =
            serde_json::from_str(r#"{"weights":{"ani_voip":0.1},"max_ttl_seconds":100,"default_ttl_seconds":50}"#)
                .expect("parses");
        assert_eq!(rules.weights.ani_voip, 0.1);
        assert_eq!(rules.weights.ani_mobile, 0.5);
        assert_eq!(rules.thresholds, Thresholds::default());
        assert!(rules.check().is_ok());
        assert!(serde_json::from_str::<MemoryRules>(r#"{"weight":{}}"#).is_err(), "typos are refused");
    }
}
