//! What a platform call learns about its caller while it runs — from the
//! server_url's `memory` answers, the AI's `remember` tool and post-call
//! extraction — gathered here and saved to caller memory when the call ends.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::intents::{IntentStatus, IntentUpdate};
use super::validate::{MAX_EXTERNAL_IDS, MAX_INTENT, MAX_NAME, MAX_VALUE, MAX_VARIABLES};
use super::variables::VariableWrite;

/// `source` of a variable the server_url sent.
pub const SOURCE_SERVER_URL: &str = "server_url";
/// `source` of a variable the AI saved with the `remember` tool.
pub const SOURCE_AGENT: &str = "agent_collected";
/// `source` of a variable filled by post-call extraction.
pub const SOURCE_EXTRACTION: &str = "extraction";

/// The `memory` object a server_url may put in its `call.started` or
/// `tool.call` answer: who the caller is in the customer's own systems, and
/// what to remember about them when the call ends.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
#[schema(as = ServerUrlMemory)]
pub struct MemoryUpdate {
    /// The caller's ids in your systems, e.g. `{"crm_id": "C-1042"}` (up to 20;
    /// names and values up to 128 / 1024 characters). They are linked to the
    /// caller, who is then recognised by them on later calls, also from
    /// another number; in `call.started` they also sharpen this call's
    /// recognition before the greeting.
    pub external_ids: Option<BTreeMap<String, String>>,
    /// What the call is about (up to 128 characters), saved as an intent.
    pub intent: Option<String>,
    /// `open` (default: it comes back in `open_intents` next time),
    /// `resolved` or `abandoned`.
    pub intent_status: Option<IntentStatus>,
    /// Values to remember (up to 100; keys up to 128, values up to 1024
    /// characters), saved with source `server_url`.
    pub variables: Option<BTreeMap<String, String>>,
}

fn text_problem(field: &str, value: &str, max: usize) -> Option<String> {
    if value.trim().is_empty() {
        Some(format!("{field}: must not be empty"))
    } else if value.chars().count() > max {
        Some(format!("{field}: at most {max} characters"))
    } else {
        None
    }
}

impl MemoryUpdate {
    /// Every field that breaks the limits of caller memory, as `field: message`.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let ids = self.external_ids.iter().flatten();
        if self.external_ids.as_ref().is_some_and(|ids| ids.len() > MAX_EXTERNAL_IDS) {
            problems.push(format!("external_ids: at most {MAX_EXTERNAL_IDS}"));
        }
        for (name, value) in ids {
            problems.extend(text_problem("external_ids key", name, MAX_NAME));
            problems.extend(text_problem(&format!("external_ids.{name}"), value, MAX_VALUE));
        }
        if let Some(intent) = &self.intent {
            problems.extend(text_problem("intent", intent, MAX_INTENT));
        }
        if self.intent_status.is_some() && self.intent.is_none() {
            problems.push("intent_status: needs an intent".into());
        }
        if self.variables.as_ref().is_some_and(|v| v.len() > MAX_VARIABLES) {
            problems.push(format!("variables: at most {MAX_VARIABLES}"));
        }
        for (key, value) in self.variables.iter().flatten() {
            problems.extend(text_problem("variables key", key, MAX_NAME));
            problems.extend(text_problem(&format!("variables.{key}"), value, MAX_VALUE));
        }
        problems
    }
}

/// One `remember` call of the AI: a value to keep, an intent, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remember {
    pub variable: Option<(String, String)>,
    pub intent: Option<(String, IntentStatus)>,
}

/// Reads the arguments of the `remember` tool: `key` and `value` together,
/// and/or `intent` with an optional `intent_status`. The message of an `Err`
/// goes back to the model as the tool's error.
pub fn parse_remember(args: &Value) -> Result<Remember, String> {
    let text = |field: &str| args.get(field).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
    let variable = match (text("key"), text("value")) {
        (Some(key), Some(value)) => {
            if let Some(problem) = text_problem("key", key, MAX_NAME).or(text_problem("value", value, MAX_VALUE)) {
                return Err(problem);
            }
            Some((key.to_owned(), value.to_owned()))
        }
        (None, None) => None,
        _ => return Err("key and value go together".into()),
    };
    let status = match text("intent_status") {
        None => IntentStatus::Open,
        Some(s) => IntentStatus::parse(s).ok_or("intent_status must be open, resolved or abandoned")?,
    };
    let intent = match text("intent") {
        Some(intent) => {
            if let Some(problem) = text_problem("intent", intent, MAX_INTENT) {
                return Err(problem);
            }
            Some((intent.to_owned(), status))
        }
        None if text("intent_status").is_some() => return Err("intent_status needs an intent".into()),
        None => None,
    };
    if variable.is_none() && intent.is_none() {
        return Err("give a key and value, an intent, or both".into());
    }
    Ok(Remember { variable, intent })
}

/// Everything one call learned. A later value of the same key or intent
/// replaces an earlier one; extraction only fills keys nothing else set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Learned {
    pub external_ids: BTreeMap<String, String>,
    variables: BTreeMap<String, (String, &'static str)>,
    intents: BTreeMap<String, IntentStatus>,
}

impl Learned {
    /// Takes in a checked server_url `memory` answer.
    pub fn absorb(&mut self, update: &MemoryUpdate) {
        self.external_ids.extend(update.external_ids.clone().unwrap_or_default());
        for (key, value) in update.variables.iter().flatten() {
            self.set(key.clone(), value.clone(), SOURCE_SERVER_URL);
        }
        if let Some(intent) = &update.intent {
            self.intents.insert(intent.clone(), update.intent_status.unwrap_or(IntentStatus::Open));
        }
    }

    /// Takes in one `remember` call; `Err` when the call already holds as many
    /// variables as one save may write.
    pub fn remember(&mut self, remember: Remember) -> Result<(), String> {
        if let Some((key, value)) = remember.variable {
            if !self.variables.contains_key(&key) && self.variables.len() >= MAX_VARIABLES {
                return Err(format!("at most {MAX_VARIABLES} values can be remembered per call"));
            }
            self.set(key, value, SOURCE_AGENT);
        }
        if let Some((intent, status)) = remember.intent {
            self.intents.insert(intent, status);
        }
        Ok(())
    }

    /// Adds extracted values for keys nothing else set during the call.
    pub fn extracted(&mut self, values: Vec<(String, String)>) {
        for (key, value) in values {
            if !self.variables.contains_key(&key) && self.variables.len() < MAX_VARIABLES {
                self.set(key, value, SOURCE_EXTRACTION);
            }
        }
    }

    fn set(&mut self, key: String, value: String, source: &'static str) {
        self.variables.insert(key, (value, source));
    }

    /// The variables to write, each kept for `ttl_seconds`.
    pub fn variable_writes(&self, ttl_seconds: i64) -> Vec<VariableWrite> {
        self.variables
            .iter()
            .map(|(key, (value, source))| VariableWrite {
                key: key.clone(),
                value: value.clone(),
                source: Some((*source).to_owned()),
                ttl_seconds,
            })
            .collect()
    }

    /// The intents to write.
    pub fn intent_updates(&self) -> Vec<IntentUpdate> {
        self.intents
            .iter()
            .map(|(intent, status)| IntentUpdate { intent: intent.clone(), status: *status, resolution: None })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn update(value: Value) -> MemoryUpdate {
        serde_json::from_value(value).expect("parses")
    }

    #[test]
    fn a_server_url_update_is_checked_against_memory_limits() {
        let ok = update(json!({"external_ids": {"crm_id": "C-7"}, "intent": "billing", "intent_status": "resolved",
            "variables": {"plan": "gold"}, "unknown": 1}));
        assert!(ok.problems().is_empty(), "{:?}", ok.problems());
        let bad = update(json!({"external_ids": {"crm_id": ""}, "intent_status": "open",
            "variables": {"k": "v".repeat(1025)}}));
        let problems = bad.problems().join("\n");
        assert!(problems.contains("external_ids.crm_id: must not be empty"), "{problems}");
        assert!(problems.contains("intent_status: needs an intent"), "{problems}");
        assert!(problems.contains("variables.k: at most 1024 characters"), "{problems}");
        let intent = update(json!({"intent": "x".repeat(129)}));
        assert_eq!(intent.problems(), vec!["intent: at most 128 characters"]);
        let many: BTreeMap<String, String> = (0..101).map(|i| (format!("k{i}"), "v".into())).collect();
        assert!(update(json!({"variables": many})).problems().contains(&"variables: at most 100".to_owned()));
        assert!(serde_json::from_value::<MemoryUpdate>(json!({"intent_status": "done"})).is_err());
    }

    #[test]
    fn remember_arguments() {
        let both = parse_remember(&json!({"key": "name", "value": " Jane ", "intent": "refund"})).unwrap();
        assert_eq!(both.variable, Some(("name".into(), "Jane".into())));
        assert_eq!(both.intent, Some(("refund".into(), IntentStatus::Open)));
        let closed = parse_remember(&json!({"intent": "refund", "intent_status": "resolved"})).unwrap();
        assert_eq!(closed, Remember { variable: None, intent: Some(("refund".into(), IntentStatus::Resolved)) });
        for (args, error) in [
            (json!({}), "give a key and value, an intent, or both"),
            (json!({"key": "name"}), "key and value go together"),
            (json!({"value": "Jane"}), "key and value go together"),
            (json!({"key": "name", "value": "  "}), "key and value go together"),
            (json!({"intent_status": "open"}), "intent_status needs an intent"),
            (
                json!({"intent": "refund", "intent_status": "later"}),
                "intent_status must be open, resolved or abandoned",
            ),
            (json!({"key": "k".repeat(129), "value": "v"}), "key: at most 128 characters"),
            (json!({"key": "k", "value": "v".repeat(1025)}), "value: at most 1024 characters"),
            (json!({"intent": "i".repeat(129)}), "intent: at most 128 characters"),
        ] {
            assert_eq!(parse_remember(&args), Err(error.to_owned()), "{args}");
        }
    }

    #[test]
    fn later_values_win_and_extraction_only_fills_gaps() {
        let mut learned = Learned::default();
        learned.absorb(&update(json!({"variables": {"plan": "gold", "name": "J."}, "intent": "upgrade",
            "external_ids": {"crm_id": "C-7"}})));
        let remember = parse_remember(&json!({"key": "name", "value": "Jane", "intent": "upgrade",
            "intent_status": "resolved"}))
        .unwrap();
        learned.remember(remember).unwrap();
        learned.extracted(vec![("name".into(), "Janet".into()), ("city".into(), "Utrecht".into())]);
        let writes = learned.variable_writes(60);
        let found: Vec<(&str, &str, &str)> = writes
            .iter()
            .map(|w| (w.key.as_str(), w.value.as_str(), w.source.as_deref().unwrap_or_default()))
            .collect();
        assert_eq!(
            found,
            vec![
                ("city", "Utrecht", "extraction"),
                ("name", "Jane", "agent_collected"),
                ("plan", "gold", "server_url")
            ]
        );
        assert!(writes.iter().all(|w| w.ttl_seconds == 60));
        assert_eq!(
            learned.intent_updates(),
            vec![IntentUpdate { intent: "upgrade".into(), status: IntentStatus::Resolved, resolution: None }]
        );
        assert_eq!(learned.external_ids.get("crm_id").map(String::as_str), Some("C-7"));
    }

    #[test]
    fn one_call_remembers_at_most_a_save_worth_of_values() {
        let mut learned = Learned::default();
        for i in 0..MAX_VARIABLES {
            learned.remember(parse_remember(&json!({"key": format!("k{i}"), "value": "v"})).unwrap()).unwrap();
        }
        let more = parse_remember(&json!({"key": "one_more", "value": "v"})).unwrap();
        assert!(learned.remember(more).is_err());
        let again = parse_remember(&json!({"key": "k0", "value": "changed"})).unwrap();
        assert!(learned.remember(again).is_ok(), "an existing key can still change");
        learned.extracted(vec![("extra".into(), "x".into())]);
        assert_eq!(learned.variable_writes(1).len(), MAX_VARIABLES);
    }
}
