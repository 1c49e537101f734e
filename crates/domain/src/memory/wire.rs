//! The request and response bodies of `/v1/calls/start` and `/v1/calls/end`,
//! field for field as the Sticky Calls seed documents them. Request fields are
//! optional in Rust so a missing one is reported by name ([`super::validate`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::hints::LineType;
use super::intents::{IntentStatus, Resolution};
use super::scoring::Identity;

/// Caller identification. At least one of `ani`, `external_ids` or
/// `customer_ref` must be given.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityHintsBody {
    /// The caller's number in E.164 (`+14155551234`); spaces, dashes, dots and
    /// parentheses around the digits are ignored.
    #[schema(pattern = r"^[ ().-]*\+[ ().-]*[1-9](?:[ ().-]*[0-9]){6,14}[ ().-]*$")]
    pub ani: Option<String>,
    /// The number that was dialled (your line), max 64 characters.
    #[schema(max_length = 64)]
    pub dnis: Option<String>,
    /// External ids, e.g. `{"customer_id": "12345"}`: at most 20; names 1–128
    /// characters, values 1–1024.
    pub external_ids: Option<BTreeMap<String, String>>,
    /// A `customer_ref` returned earlier (max 128 characters).
    #[schema(min_length = 1, max_length = 128)]
    pub customer_ref: Option<String>,
}

/// Carrier lookup data.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TelcoBody {
    /// Weighs an ANI match: mobile 0.5, landline 0.4, voip 0.2, unknown 0.4 (defaults).
    pub line_type: Option<LineType>,
}

/// `POST /v1/calls/start`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    /// Your unique id of this call (max 128 characters). Starting the same
    /// `call_id` again with the same body replays the first response; with
    /// another body it is 409.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 128)]
    pub call_id: Option<String>,
    #[schema(value_type = IdentityHintsBody, required = true)]
    pub identity_hints: Option<IdentityHintsBody>,
    pub telco: Option<TelcoBody>,
}

/// One intent of the advanced form.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntentUpdateBody {
    /// The intent's name, e.g. `refund_request` (max 128 characters).
    #[schema(value_type = String, required = true, min_length = 1, max_length = 128)]
    pub intent: Option<String>,
    #[schema(value_type = IntentStatus, required = true)]
    pub status: Option<IntentStatus>,
    pub resolution: Option<Resolution>,
}

/// One variable of the advanced form.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariableUpdateBody {
    /// Max 1024 characters.
    #[schema(value_type = String, required = true, max_length = 1024)]
    pub value: Option<String>,
    /// Where the value came from, e.g. `agent_collected`, `crm_sync` (max 128 characters).
    #[schema(max_length = 128)]
    pub source: Option<String>,
    /// Seconds to remember it: 1 to 7776000 (90 days); default 2592000 (30 days).
    #[schema(minimum = 1, maximum = 7776000)]
    pub ttl_seconds: Option<i64>,
}

/// `POST /v1/calls/end`: the simple form (`intent`, `intent_status`,
/// `variables`), the advanced form (`intent_updates`, `variable_updates`), or
/// both. Either `customer_ref` or `identity_hints` is required.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndBody {
    /// The `call_id` of `/v1/calls/start`; a call that was never started is
    /// recorded as a standalone end (duration 0).
    #[schema(value_type = String, required = true, min_length = 1, max_length = 128)]
    pub call_id: Option<String>,
    /// From the `/v1/calls/start` response.
    #[schema(min_length = 1, max_length = 128)]
    pub customer_ref: Option<String>,
    /// Instead of (or besides) `customer_ref`; its ANI and external ids not yet
    /// linked to anyone are linked to this customer.
    pub identity_hints: Option<IdentityHintsBody>,
    /// The main topic of the call (max 128 characters).
    #[schema(min_length = 1, max_length = 128)]
    pub intent: Option<String>,
    /// The status of `intent`; default `resolved`.
    pub intent_status: Option<IntentStatus>,
    /// Values to remember for 30 days: at most 100 (with `variable_updates`);
    /// keys 1–128 characters, values at most 1024.
    pub variables: Option<BTreeMap<String, String>>,
    /// At most 20 (with `intent`).
    #[schema(max_items = 20)]
    pub intent_updates: Option<Vec<IntentUpdateBody>>,
    pub variable_updates: Option<BTreeMap<String, VariableUpdateBody>>,
}

/// An unresolved intent of a returning caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OpenIntent {
    pub intent: String,
    /// Always `open`.
    pub status: IntentStatus,
    /// Calls that touched this intent while it stayed open.
    pub attempt_count: i64,
}

/// A remembered value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = MemoryVariable)]
pub struct VariableValue {
    pub value: String,
    /// Where it came from (`variable_updates.*.source`); `null` when not given.
    pub source: Option<String>,
    /// The TTL it was written with.
    pub ttl_seconds: i64,
}

/// The answer of `POST /v1/calls/start`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CallStartResponse {
    pub call_id: String,
    /// Use it in `/v1/calls/end` and in later calls' `identity_hints`.
    pub customer_ref: String,
    /// ISO 8601, e.g. `2026-02-07T10:30:00.000Z`.
    pub call_start: String,
    pub identity: Identity,
    pub open_intents: Vec<OpenIntent>,
    /// Unexpired variables by key.
    pub variables: BTreeMap<String, VariableValue>,
}

/// The answer of `POST /v1/calls/end`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CallEndResponse {
    pub call_id: String,
    pub customer_ref: String,
    pub call_start: String,
    pub call_end: String,
    /// Whole seconds from `call_start` to `call_end`.
    pub duration_seconds: i64,
    pub intents_updated: i64,
    pub variables_updated: i64,
}

/// A request body's identity for duplicate detection: SHA-256 of its JSON with
/// object keys sorted, so key order and whitespace do not matter.
pub fn fingerprint(body: &Value) -> String {
    hex::encode(Sha256::digest(canonical(body).to_string().as_bytes()))
}

fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k.clone(), canonical(v))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fingerprints_ignore_key_order_but_not_values() {
        let a =
            json!({"call_id": "c1", "identity_hints": {"ani": "+14155551234", "external_ids": {"a": "1", "b": "2"}}});
        let b: Value = serde_json::from_str(
            r#"{ "identity_hints": {"external_ids": {"b": "2", "a": "1"}, "ani": "+14155551234"}, "call_id": "c1" }"#,
        )
        .expect("json");
        assert_eq!(fingerprint(&a), fingerprint(&b));
        let c = json!({"call_id": "c1", "identity_hints": {"ani": "+14155551235"}});
        assert_ne!(fingerprint(&a), fingerprint(&c));
        assert_eq!(fingerprint(&a).len(), 64);
    }

    #[test]
    fn the_seed_requests_parse() {
        let start: StartBody = serde_json::from_value(json!({
            "call_id": "call_001",
            "identity_hints": {"ani": "+14155551234", "external_ids": {"customer_id": "12345"}},
            "telco": {"line_type": "mobile"}
        }))
        .expect("start parses");
        assert_eq!(start.telco.and_then(|t| t.line_type), Some(LineType::Mobile));
        let end: EndBody = serde_json::from_value(json!({
            "call_id": "call_001",
            "customer_ref": "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
            "intent_updates": [
                {"intent": "refund_request", "status": "resolved",
                 "resolution": {"type": "processed", "external_reference": "refund_12345"}},
                {"intent": "account_upgrade", "status": "open"}
            ],
            "variable_updates": {
                "name": {"value": "John Doe", "source": "agent_collected", "ttl_seconds": 7776000}
            }
        }))
        .expect("end parses");
        assert_eq!(end.intent_updates.map(|u| u.len()), Some(2));
        assert!(serde_json::from_value::<StartBody>(json!({"call_id": "x", "ani": "+1"})).is_err(), "unknown field");
    }

    #[test]
    fn responses_serialize_like_the_seed() {
        let started = CallStartResponse {
            call_id: "call_001".into(),
            customer_ref: "r".into(),
            call_start: "2026-02-07T10:30:00.000Z".into(),
            identity: Identity::unmatched(),
            open_intents: Vec::new(),
            variables: BTreeMap::new(),
        };
        assert_eq!(
            serde_json::to_value(&started).expect("serializes"),
            json!({
                "call_id": "call_001", "customer_ref": "r", "call_start": "2026-02-07T10:30:00.000Z",
                "identity": {"confidence": 0.0, "level": "low", "sources": [], "recommendation": "ignore"},
                "open_intents": [], "variables": {}
            })
        );
        let v = VariableValue { value: "John".into(), source: None, ttl_seconds: 2_592_000 };
        assert_eq!(
            serde_json::to_value(&v).expect("serializes"),
            json!({"value": "John", "source": null, "ttl_seconds": 2592000})
        );
    }
}
