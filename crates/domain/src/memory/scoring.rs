//! Identity scoring: how sure we are that a caller is a remembered customer.
//!
//! Each signal that points at a customer adds its weight: an ANI match weighs by
//! the call's line type (mobile 0.5, as documented; landline 0.4, voip 0.2,
//! unknown 0.4 by default), an external-id match 0.4 (documented), a known
//! `customer_ref` 1.0; the sum is capped at 1.0 and rounded to two decimals.
//! A customer seen within `recency_days` adds the `recency:<N>day` source with
//! weight `recency` (0 by default, which reproduces the seed's examples: mobile
//! plus external id plus `recency:1day` = 0.9, and ANI alone a minute later = 0.4).
//! Levels: very_high ≥ 0.9, high ≥ 0.7, medium ≥ 0.5, else low. Recommendation:
//! reuse ≥ 0.5, confirm ≥ 0.3, else ignore. Every number is configurable.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::hints::LineType;

const DAY_MS: i64 = 86_400_000;

/// What each signal adds to the confidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoringWeights {
    pub ani_mobile: f64,
    pub ani_landline: f64,
    pub ani_voip: f64,
    /// ANI match when the line type is `unknown` or not sent.
    pub ani_unknown: f64,
    pub external_id: f64,
    pub customer_ref: f64,
    /// Added when the customer's last call is at most `recency_days` ago.
    pub recency: f64,
    /// How far back a last call counts as recent; 0 turns the signal off.
    pub recency_days: u32,
}

impl Default for ScoringWeights {
    fn default() -> Self {
        Self {
            ani_mobile: 0.5,
            ani_landline: 0.4,
            ani_voip: 0.2,
            ani_unknown: 0.4,
            external_id: 0.4,
            customer_ref: 1.0,
            recency: 0.0,
            recency_days: 1,
        }
    }
}

impl ScoringWeights {
    pub fn ani(&self, line_type: LineType) -> f64 {
        match line_type {
            LineType::Mobile => self.ani_mobile,
            LineType::Landline => self.ani_landline,
            LineType::Voip => self.ani_voip,
            LineType::Unknown => self.ani_unknown,
        }
    }

    /// Every weight must lie in 0..=1.
    pub fn check(&self) -> Result<(), String> {
        let named = [
            ("ani_mobile", self.ani_mobile),
            ("ani_landline", self.ani_landline),
            ("ani_voip", self.ani_voip),
            ("ani_unknown", self.ani_unknown),
            ("external_id", self.external_id),
            ("customer_ref", self.customer_ref),
            ("recency", self.recency),
        ];
        match named.iter().find(|(_, w)| !(0.0..=1.0).contains(w)) {
            Some((name, w)) => Err(format!("memory.weights.{name} must be between 0 and 1, not {w}")),
            None => Ok(()),
        }
    }
}

/// Where the levels and recommendations start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    pub very_high: f64,
    pub high: f64,
    pub medium: f64,
    pub reuse: f64,
    pub confirm: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self { very_high: 0.9, high: 0.7, medium: 0.5, reuse: 0.5, confirm: 0.3 }
    }
}

impl Thresholds {
    /// Each band must start above 0 (a new caller is `low`/`ignore`) and the
    /// bands must be in order.
    pub fn check(&self) -> Result<(), String> {
        let ordered = 0.0 < self.medium
            && self.medium <= self.high
            && self.high <= self.very_high
            && self.very_high <= 1.0
            && 0.0 < self.confirm
            && self.confirm <= self.reuse
            && self.reuse <= 1.0;
        if ordered {
            Ok(())
        } else {
            Err("memory.thresholds must satisfy 0 < medium <= high <= very_high <= 1 and \
                 0 < confirm <= reuse <= 1"
                .into())
        }
    }

    pub fn level(&self, confidence: f64) -> Level {
        if confidence >= self.very_high {
            Level::VeryHigh
        } else if confidence >= self.high {
            Level::High
        } else if confidence >= self.medium {
            Level::Medium
        } else {
            Level::Low
        }
    }

    pub fn recommendation(&self, confidence: f64) -> Recommendation {
        if confidence >= self.reuse {
            Recommendation::Reuse
        } else if confidence >= self.confirm {
            Recommendation::Confirm
        } else {
            Recommendation::Ignore
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = IdentityLevel)]
pub enum Level {
    Low,
    Medium,
    High,
    VeryHigh,
}

/// What the agent should do with the remembered context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = IdentityRecommendation)]
pub enum Recommendation {
    /// Use the context without asking (confidence ≥ 0.5 by default).
    Reuse,
    /// Ask the caller to confirm who they are first (0.3–0.5).
    Confirm,
    /// Treat the caller as new (< 0.3).
    Ignore,
}

/// The `identity` of a `/v1/calls/start` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = CallerIdentity)]
pub struct Identity {
    /// 0.0 to 1.0.
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub confidence: f64,
    pub level: Level,
    /// Each signal that matched: `ani:<line_type>`, `external_id`,
    /// `customer_ref`, `recency:<N>day`.
    pub sources: Vec<String>,
    pub recommendation: Recommendation,
}

impl Identity {
    /// A caller nobody recognised: confidence 0, `low`, `ignore`.
    pub fn unmatched() -> Self {
        Identity { confidence: 0.0, level: Level::Low, sources: Vec::new(), recommendation: Recommendation::Ignore }
    }
}

/// The signals of one call that point at one customer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Evidence {
    /// The ANI is linked to this customer; the call's line type.
    pub ani: Option<LineType>,
    /// At least one external id is linked to this customer.
    pub external_id: bool,
    /// The call named this customer's `customer_ref`.
    pub customer_ref: bool,
}

impl Evidence {
    pub fn is_empty(&self) -> bool {
        self.ani.is_none() && !self.external_id && !self.customer_ref
    }
}

/// A customer some signal points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub customer_ref: String,
    /// Epoch ms of the customer's last call (start or end).
    pub last_call_at: i64,
    pub evidence: Evidence,
}

/// Scores one candidate at `now_ms`.
pub fn score(candidate: &Candidate, now_ms: i64, weights: &ScoringWeights, thresholds: &Thresholds) -> Identity {
    let evidence = candidate.evidence;
    let mut sum = 0.0;
    let mut sources = Vec::new();
    if let Some(line_type) = evidence.ani {
        sum += weights.ani(line_type);
        sources.push(format!("ani:{}", line_type.as_str()));
    }
    if evidence.external_id {
        sum += weights.external_id;
        sources.push("external_id".to_owned());
    }
    if evidence.customer_ref {
        sum += weights.customer_ref;
        sources.push("customer_ref".to_owned());
    }
    if let Some(days) = recent_days(now_ms - candidate.last_call_at, weights.recency_days) {
        sum += weights.recency;
        sources.push(format!("recency:{days}day"));
    }
    let confidence = ((sum.clamp(0.0, 1.0)) * 100.0).round() / 100.0;
    Identity {
        confidence,
        level: thresholds.level(confidence),
        sources,
        recommendation: thresholds.recommendation(confidence),
    }
}

/// Whole days since the last call, counted up (a minute ago is 1), when
/// within the window.
fn recent_days(elapsed_ms: i64, window_days: u32) -> Option<i64> {
    let days = ((elapsed_ms.max(0) + DAY_MS - 1) / DAY_MS).max(1);
    (days <= i64::from(window_days)).then_some(days)
}

/// The best of the candidates: the highest confidence; on a tie the one named
/// by `customer_ref`, then the one seen most recently.
pub fn best_match(
    candidates: Vec<Candidate>,
    now_ms: i64,
    weights: &ScoringWeights,
    thresholds: &Thresholds,
) -> Option<(Candidate, Identity)> {
    candidates
        .into_iter()
        .filter(|c| !c.evidence.is_empty())
        .map(|c| {
            let identity = score(&c, now_ms, weights, thresholds);
            (c, identity)
        })
        .max_by(|(a, ia), (b, ib)| {
            ia.confidence
                .total_cmp(&ib.confidence)
                .then(a.evidence.customer_ref.cmp(&b.evidence.customer_ref))
                .then(a.last_call_at.cmp(&b.last_call_at))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_770_000_000_000;

    fn candidate(evidence: Evidence, last_call_ago_ms: i64) -> Candidate {
        Candidate { customer_ref: "c".into(), last_call_at: NOW - last_call_ago_ms, evidence }
    }

    fn scored(evidence: Evidence, ago: i64) -> Identity {
        score(&candidate(evidence, ago), NOW, &ScoringWeights::default(), &Thresholds::default())
    }

    #[test]
    fn the_seed_example_mobile_external_id_and_recency_is_very_high() {
        let id = scored(Evidence { ani: Some(LineType::Mobile), external_id: true, customer_ref: false }, 3_600_000);
        assert_eq!(id.confidence, 0.9);
        assert_eq!(id.level, Level::VeryHigh);
        assert_eq!(id.sources, vec!["ani:mobile", "external_id", "recency:1day"]);
        assert_eq!(id.recommendation, Recommendation::Reuse);
    }

    #[test]
    fn the_quick_start_ani_alone_a_minute_later_is_0_4_confirm() {
        let id = scored(Evidence { ani: Some(LineType::Unknown), ..Evidence::default() }, 60_000);
        assert_eq!(id.confidence, 0.4);
        assert_eq!(id.level, Level::Low);
        assert_eq!(id.recommendation, Recommendation::Confirm);
        assert_eq!(id.sources, vec!["ani:unknown", "recency:1day"]);
    }

    #[test]
    fn best_practice_examples() {
        let mobile = scored(Evidence { ani: Some(LineType::Mobile), ..Evidence::default() }, 10 * DAY_MS);
        assert_eq!((mobile.confidence, mobile.level), (0.5, Level::Medium));
        assert_eq!(mobile.sources, vec!["ani:mobile"], "ten days ago is not recent");
        let voip = scored(Evidence { ani: Some(LineType::Voip), ..Evidence::default() }, 10 * DAY_MS);
        assert_eq!((voip.confidence, voip.recommendation), (0.2, Recommendation::Ignore));
        let landline = scored(Evidence { ani: Some(LineType::Landline), ..Evidence::default() }, 10 * DAY_MS);
        assert_eq!(landline.confidence, 0.4);
        let ext = scored(Evidence { external_id: true, ..Evidence::default() }, 10 * DAY_MS);
        assert_eq!((ext.confidence, ext.recommendation), (0.4, Recommendation::Confirm));
    }

    #[test]
    fn the_sum_is_capped_at_one() {
        let all = Evidence { ani: Some(LineType::Mobile), external_id: true, customer_ref: true };
        let id = scored(all, 0);
        assert_eq!(id.confidence, 1.0);
        assert_eq!(id.sources, vec!["ani:mobile", "external_id", "customer_ref", "recency:1day"]);
    }

    #[test]
    fn recency_counts_days_up_within_the_window() {
        assert_eq!(recent_days(0, 1), Some(1));
        assert_eq!(recent_days(DAY_MS, 1), Some(1));
        assert_eq!(recent_days(DAY_MS + 1, 1), None);
        assert_eq!(recent_days(DAY_MS + 1, 2), Some(2));
        assert_eq!(recent_days(-5, 1), Some(1), "a clock step back is 'just now'");
        assert_eq!(recent_days(0, 0), None, "0 days turns recency off");
    }

    #[test]
    fn recency_weight_is_configurable() {
        let weights = ScoringWeights { recency: 0.05, recency_days: 2, ..ScoringWeights::default() };
        let c = candidate(Evidence { ani: Some(LineType::Mobile), ..Evidence::default() }, DAY_MS + 5);
        let id = score(&c, NOW, &weights, &Thresholds::default());
        assert_eq!(id.confidence, 0.55);
        assert_eq!(id.sources, vec!["ani:mobile", "recency:2day"]);
    }

    #[test]
    fn bands() {
        let t = Thresholds::default();
        let cases = [
            (0.0, Level::Low, Recommendation::Ignore),
            (0.29, Level::Low, Recommendation::Ignore),
            (0.3, Level::Low, Recommendation::Confirm),
            (0.49, Level::Low, Recommendation::Confirm),
            (0.5, Level::Medium, Recommendation::Reuse),
            (0.7, Level::High, Recommendation::Reuse),
            (0.89, Level::High, Recommendation::Reuse),
            (0.9, Level::VeryHigh, Recommendation::Reuse),
            (1.0, Level::VeryHigh, Recommendation::Reuse),
        ];
        for (c, level, rec) in cases {
            assert_eq!((t.level(c), t.recommendation(c)), (level, rec), "{c}");
        }
    }

    #[test]
    fn best_match_prefers_confidence_then_customer_ref_then_recency() {
        let w = ScoringWeights::default();
        let t = Thresholds::default();
        let c = |r: &str, ago: i64, evidence: Evidence| Candidate {
            customer_ref: r.into(),
            last_call_at: NOW - ago,
            evidence,
        };
        let ani = Evidence { ani: Some(LineType::Mobile), ..Evidence::default() };
        let ext = Evidence { external_id: true, ..Evidence::default() };
        let named = Evidence { customer_ref: true, ..Evidence::default() };
        let (best, id) = best_match(vec![c("a", 0, ext), c("b", 0, ani)], NOW, &w, &t).expect("a match");
        assert_eq!((best.customer_ref.as_str(), id.confidence), ("b", 0.5));
        let (best, _) = best_match(vec![c("a", 0, ani), c("b", 0, named)], NOW, &w, &t).expect("a match");
        assert_eq!(best.customer_ref, "b");
        let low = ScoringWeights { customer_ref: 0.5, ..w.clone() };
        let (best, _) = best_match(vec![c("a", 0, ani), c("b", 0, named)], NOW, &low, &t).expect("a match");
        assert_eq!(best.customer_ref, "b", "a tie goes to the named customer");
        let (best, _) =
            best_match(vec![c("a", 5 * DAY_MS, ani), c("b", 3 * DAY_MS, ani)], NOW, &w, &t).expect("a match");
        assert_eq!(best.customer_ref, "b", "a tie goes to the most recent");
        assert!(best_match(vec![c("a", 0, Evidence::default())], NOW, &w, &t).is_none());
        assert!(best_match(Vec::new(), NOW, &w, &t).is_none());
    }

    #[test]
    fn checks_refuse_bad_settings() {
        assert!(ScoringWeights::default().check().is_ok());
        assert!(ScoringWeights { ani_mobile: 1.5, ..ScoringWeights::default() }.check().is_err());
        assert!(ScoringWeights { recency: -0.1, ..ScoringWeights::default() }.check().is_err());
        assert!(Thresholds::default().check().is_ok());
        assert!(Thresholds { high: 0.95, ..Thresholds::default() }.check().is_err());
        assert!(Thresholds { confirm: 0.0, ..Thresholds::default() }.check().is_err());
        assert!(Thresholds { confirm: 0.6, ..Thresholds::default() }.check().is_err());
    }
}
