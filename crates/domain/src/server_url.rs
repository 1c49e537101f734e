//! The server_url protocol: what Switchboard POSTs to an agent's `server_url`
//! during a call, and the per-call configuration a `call.started` answer may set.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::ivr::IvrMenu;
use crate::memory::learned::MemoryUpdate;
use crate::validation;

/// Sent when a call connects; the answer configures the call (5 s deadline).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CallStarted {
    /// Always `call.started`.
    pub event: String,
    pub call_id: String,
    pub agent_id: String,
    /// Caller number (E.164).
    pub from: String,
    /// Dialled number (E.164).
    pub to: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// The agent's stored configuration, which applies to every field the
    /// answer leaves out.
    pub agent: AgentConfig,
    /// Metadata given when the call was placed.
    #[schema(value_type = Object)]
    pub metadata: Value,
    /// What caller memory knows about the caller's number: `customer_ref`
    /// (null for a stranger), `identity` (`confidence`, `level`, `sources`,
    /// `recommendation`), `open_intents` and `variables` (`{key: value}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub caller: Option<Value>,
    pub timestamp: String,
}

/// The parts of the agent a `call.started` answer can override.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgentConfig {
    pub name: String,
    pub system_prompt: Option<String>,
    pub first_message: Option<String>,
    pub language: String,
    pub voice: String,
    pub max_duration: i64,
    pub end_call_enabled: bool,
    pub knowledge_base_ids: Vec<String>,
}

/// A tool the AI may call during the call; calls reach the server_url as
/// `tool.call`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ToolDef {
    /// `[a-zA-Z0-9_-]{1,64}`, e.g. `get_policy`.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// JSON Schema of the arguments; default: no arguments.
    #[serde(default = "empty_object_schema")]
    #[schema(value_type = Object)]
    pub parameters: Value,
    /// Seconds the server_url has to answer this tool, 1–30; default 5.
    #[serde(default = "default_tool_timeout")]
    #[schema(minimum = 1, maximum = 30)]
    pub timeout_seconds: u64,
}

fn empty_object_schema() -> Value {
    serde_json::json!({"type": "object", "properties": {}})
}

fn default_tool_timeout() -> u64 {
    5
}

/// The answer to `call.started`: every field is optional and falls back to the
/// agent's stored value. Unknown fields are ignored.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
pub struct CallConfig {
    pub system_prompt: Option<String>,
    pub first_message: Option<String>,
    pub language: Option<String>,
    pub voice: Option<String>,
    pub tools: Option<Vec<ToolDef>>,
    /// JSON Schema (`type: object`) of data to extract after the call.
    #[schema(value_type = Option<Object>)]
    pub extraction: Option<Value>,
    /// Merged into the call's `metadata`.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    pub ivr: Option<IvrMenu>,
    pub end_call_enabled: Option<bool>,
    /// 60–7200 seconds.
    pub max_duration: Option<i64>,
    /// Caller memory: the caller's ids in your systems, and what to remember
    /// when the call ends.
    pub memory: Option<MemoryUpdate>,
}

/// Names of the built-in tools; a server_url tool may not take them.
pub const RESERVED_TOOL_NAMES: [&str; 8] = [
    "end_call",
    "transfer_call",
    "knowledge_base_search",
    "remember",
    "check_availability",
    "book_appointment",
    "reschedule_appointment",
    "cancel_appointment",
];

/// Sent when the AI calls one of the call's tools; answered within the tool's
/// `timeout_seconds`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ToolCallRequest {
    /// Always `tool.call`.
    pub event: String,
    pub call_id: String,
    pub agent_id: String,
    pub tool_call_id: String,
    pub name: String,
    #[schema(value_type = Object)]
    pub arguments: Value,
    pub timestamp: String,
}

/// The answer to `tool.call`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
pub struct ToolCallResponse {
    /// What the tool returned, given to the AI.
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    /// A failure, given to the AI as the tool's error.
    pub error: Option<String>,
    /// Said to the caller right away.
    pub say: Option<String>,
    /// End the call after `say`.
    #[serde(default)]
    pub end_call: bool,
    /// Transfer the call to this E.164 number.
    pub transfer_to: Option<String>,
    /// Merged into the call's `metadata`.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Caller memory, as in the `call.started` answer; ignored (and logged)
    /// when it breaks the limits.
    pub memory: Option<MemoryUpdate>,
}

/// Sent for every final utterance, fire-and-forget.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TranscriptUpdated {
    /// Always `transcript.updated`.
    pub event: String,
    pub call_id: String,
    pub agent_id: String,
    /// `user` or `assistant`.
    pub role: String,
    pub content: String,
    /// Seconds from the answer.
    pub timestamp: f64,
}

impl CallConfig {
    /// Checks every field the answer set; returns `field: message` problems.
    /// A configuration with problems is not used: the call falls back to the
    /// agent's stored configuration and says why.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(language) = &self.language
            && validation::language(language).is_err()
        {
            problems.push(format!("language: {}", validation::LANGUAGE_MESSAGE));
        }
        if let Some(seconds) = self.max_duration
            && validation::max_duration(seconds).is_err()
        {
            problems.push(format!("max_duration: {}", validation::MAX_DURATION_MESSAGE));
        }
        if let Some(Err(problem)) = self.extraction.as_ref().map(crate::extraction::check_schema) {
            problems.push(format!("extraction: {problem}"));
        }
        if self.metadata.as_ref().is_some_and(|m| !m.is_object()) {
            problems.push("metadata: must be an object".into());
        }
        for (i, tool) in self.tools.iter().flatten().enumerate() {
            let name_ok = (1..=64).contains(&tool.name.len())
                && tool.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !name_ok {
                problems.push(format!("tools[{i}].name: must match [a-zA-Z0-9_-]{{1,64}}"));
            }
            if RESERVED_TOOL_NAMES.contains(&tool.name.as_str()) {
                problems.push(format!("tools[{i}].name: {} is a built-in tool", tool.name));
            }
            if !(1..=30).contains(&tool.timeout_seconds) {
                problems.push(format!("tools[{i}].timeout_seconds: must be between 1 and 30"));
            }
            if !tool.parameters.is_object() {
                problems.push(format!("tools[{i}].parameters: must be a JSON Schema object"));
            }
        }
        if let Some(menu) = &self.ivr {
            problems.extend(menu.problems().into_iter().map(|(field, message)| format!("ivr.{field}: {message}")));
        }
        if let Some(memory) = &self.memory {
            problems.extend(memory.problems().into_iter().map(|problem| format!("memory.{problem}")));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_answer_parses_and_unknown_fields_are_ignored() {
        let config: CallConfig = serde_json::from_value(serde_json::json!({
            "system_prompt": "You help Jane.",
            "first_message": "Hi Jane!",
            "tools": [{"name": "get_policy", "parameters": {"type": "object"}, "timeout_seconds": 10}],
            "extraction": {"type": "object", "properties": {"reason": {"type": "string"}}},
            "metadata": {"crm": 1},
            "max_duration": 600,
            "something_new": true
        }))
        .unwrap();
        assert_eq!(config.first_message.as_deref(), Some("Hi Jane!"));
        assert_eq!(config.tools.as_ref().map(|t| t[0].timeout_seconds), Some(10));
        assert!(config.problems().is_empty());
        let minimal: ToolDef = serde_json::from_value(serde_json::json!({"name": "ping"})).unwrap();
        assert_eq!(minimal.timeout_seconds, 5);
        assert_eq!(minimal.parameters["type"], "object");
    }

    #[test]
    fn problems_are_named() {
        let config: CallConfig = serde_json::from_value(serde_json::json!({
            "language": "klingon", "max_duration": 5, "extraction": {"type": "string"}, "metadata": [1],
            "tools": [{"name": "bad name", "timeout_seconds": 31, "parameters": "x"}, {"name": "end_call"},
                {"name": "remember"}],
            "ivr": {"prompt": "", "options": []}, "memory": {"intent": ""}
        }))
        .unwrap();
        let problems = config.problems().join("\n");
        for field in [
            "language:",
            "max_duration:",
            "extraction:",
            "metadata:",
            "tools[0].name",
            "tools[0].timeout_seconds",
            "tools[0].parameters",
            "tools[1].name: end_call is a built-in tool",
            "ivr.prompt",
            "tools[2].name: remember is a built-in tool",
            "memory.intent: must not be empty",
        ] {
            assert!(problems.contains(field), "{field} in {problems}");
        }
    }
}
