//! Intents: what a caller called about. An intent stays `open` across calls,
//! counting the calls that touched it (`attempt_count`), until a call marks it
//! `resolved` or `abandoned`; only open intents come back at the next start.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum IntentStatus {
    /// Not finished: returned in `open_intents` by the next `/v1/calls/start`.
    Open,
    Resolved,
    Abandoned,
}

impl IntentStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            IntentStatus::Open => "open",
            IntentStatus::Resolved => "resolved",
            IntentStatus::Abandoned => "abandoned",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(IntentStatus::Open),
            "resolved" => Some(IntentStatus::Resolved),
            "abandoned" => Some(IntentStatus::Abandoned),
            _ => None,
        }
    }
}

/// How an intent was closed, e.g. `{"type": "processed", "external_reference": "refund_12345"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = IntentResolution)]
pub struct Resolution {
    /// What was done, e.g. `processed`, `escalated` (max 128 characters).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 128)]
    pub kind: Option<String>,
    /// A reference in another system, e.g. a refund or ticket id (max 256 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 256)]
    pub external_reference: Option<String>,
}

/// One checked change to an intent, from `intent`/`intent_status` or `intent_updates`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentUpdate {
    pub intent: String,
    pub status: IntentStatus,
    pub resolution: Option<Resolution>,
}

/// An intent's state: its status and how many calls touched it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntentState {
    pub status: IntentStatus,
    pub attempt_count: i64,
}

impl IntentState {
    /// The state after a call sets `status`: a call that touches a still-open
    /// intent is one more attempt; an intent that was closed (or never seen)
    /// starts again at 1.
    pub fn after(previous: Option<IntentState>, status: IntentStatus) -> IntentState {
        let attempt_count = match previous {
            Some(p) if p.status == IntentStatus::Open => p.attempt_count + 1,
            _ => 1,
        };
        IntentState { status, attempt_count }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(status: IntentStatus, attempt_count: i64) -> IntentState {
        IntentState { status, attempt_count }
    }

    #[test]
    fn open_intents_count_attempts() {
        let first = IntentState::after(None, IntentStatus::Open);
        assert_eq!(first, state(IntentStatus::Open, 1));
        let second = IntentState::after(Some(first), IntentStatus::Open);
        assert_eq!(second, state(IntentStatus::Open, 2));
        let resolved = IntentState::after(Some(second), IntentStatus::Resolved);
        assert_eq!(resolved, state(IntentStatus::Resolved, 3), "the resolving call is an attempt too");
    }

    #[test]
    fn a_closed_intent_reopens_from_one() {
        let reopened = IntentState::after(Some(state(IntentStatus::Resolved, 3)), IntentStatus::Open);
        assert_eq!(reopened, state(IntentStatus::Open, 1));
        let abandoned = IntentState::after(Some(state(IntentStatus::Abandoned, 2)), IntentStatus::Abandoned);
        assert_eq!(abandoned, state(IntentStatus::Abandoned, 1));
    }

    #[test]
    fn statuses_round_trip() {
        for s in [IntentStatus::Open, IntentStatus::Resolved, IntentStatus::Abandoned] {
            assert_eq!(IntentStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(IntentStatus::parse("closed"), None);
    }

    #[test]
    fn resolution_uses_the_seed_field_names() {
        let r: Resolution =
            serde_json::from_str(r#"{"type":"processed","external_reference":"refund_12345"}"#).expect("parses");
        assert_eq!(r.kind.as_deref(), Some("processed"));
        assert_eq!(
            serde_json::to_string(&r).ok().as_deref(),
            Some(r#"{"type":"processed","external_reference":"refund_12345"}"#)
        );
        assert!(serde_json::from_str::<Resolution>(r#"{"note":"x"}"#).is_err());
    }
}
