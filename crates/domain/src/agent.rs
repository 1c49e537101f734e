//! Agent settings: defaults, validation, partial updates and the audit diff.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::ids::IdKind;
use crate::validation::{self, FieldErrors};
use crate::voices::{self, Voice};

/// The language model behind an agent; unset fields fall back to the project's,
/// then the org's configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    /// e.g. `openai`, or any OpenAI-compatible provider name.
    pub provider: Option<String>,
    pub model: Option<String>,
    /// Sampling temperature, 0–2.
    #[schema(minimum = 0, maximum = 2)]
    pub temperature: Option<f64>,
    /// Base URL of an OpenAI-compatible chat-completions API.
    #[schema(pattern = "^https?://")]
    pub base_url: Option<String>,
}

/// What the agent does when an outbound call reaches voicemail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VoicemailAction {
    LeaveMessage,
    Hangup,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoicemailConfig {
    /// Whether to listen for an answering machine on outbound calls.
    #[serde(default)]
    pub detection: bool,
    #[serde(default = "default_voicemail_action")]
    pub action: VoicemailAction,
    /// What to say after the beep when `action` is `leave_message`.
    #[serde(default)]
    pub message: Option<String>,
}

fn default_voicemail_action() -> VoicemailAction {
    VoicemailAction::Hangup
}

impl Default for VoicemailConfig {
    fn default() -> Self {
        Self { detection: false, action: VoicemailAction::Hangup, message: None }
    }
}

/// Everything a client can set on an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentSettings {
    pub name: String,
    pub language: String,
    pub voice: String,
    pub max_duration: i64,
    pub recording: bool,
    pub end_call_enabled: bool,
    /// Whether the agent books appointments in its calls: the model is
    /// offered the appointment tools (`check_availability`,
    /// `book_appointment`, `reschedule_appointment`, `cancel_appointment`),
    /// or the embedded brain runs its spoken booking flow.
    #[serde(default)]
    pub appointments_enabled: bool,
    pub server_url: Option<String>,
    pub webhook_url: Option<String>,
    pub system_prompt: Option<String>,
    pub first_message: Option<String>,
    /// What a successful call of this agent achieves, in words; post-call
    /// analysis judges each answered call against it.
    #[serde(default)]
    pub success_criteria: Option<String>,
    pub llm: Option<LlmConfig>,
    pub silence_timeout_seconds: i64,
    pub voicemail: VoicemailConfig,
    pub knowledge_base_ids: Vec<String>,
    pub is_active: bool,
}

pub const DEFAULT_LANGUAGE: &str = "en-US";
pub const DEFAULT_VOICE: &str = "Sarah";
pub const DEFAULT_MAX_DURATION: i64 = 1800;
pub const DEFAULT_SILENCE_TIMEOUT: i64 = 30;
const NAME_MAX: usize = 100;
const PROMPT_MAX: usize = 50_000;
const MESSAGE_MAX: usize = 2_000;

impl AgentSettings {
    /// An agent with this name and every other setting at its default.
    pub fn named(name: &str) -> Self {
        AgentSettings {
            name: name.to_owned(),
            language: DEFAULT_LANGUAGE.into(),
            voice: DEFAULT_VOICE.into(),
            max_duration: DEFAULT_MAX_DURATION,
            recording: false,
            end_call_enabled: false,
            appointments_enabled: false,
            server_url: None,
            webhook_url: None,
            system_prompt: None,
            first_message: None,
            success_criteria: None,
            llm: None,
            silence_timeout_seconds: DEFAULT_SILENCE_TIMEOUT,
            voicemail: VoicemailConfig::default(),
            knowledge_base_ids: Vec::new(),
            is_active: true,
        }
    }

    /// Checks every field; `allow_http` relaxes URLs to plain http (development).
    pub fn validate(&self, catalogue: &[Voice], allow_http: bool) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::new();
        errors.check("name", validation::required_text(&self.name, NAME_MAX));
        let language = validation::language(&self.language);
        // A voice is only judged against a language that is itself valid.
        if language.is_ok() && voices::find(catalogue, &self.voice, &self.language).is_none() {
            errors.add("voice", format!("Unknown voice for {}; see GET /v1/voices.", self.language));
        }
        errors.check("language", language);
        errors.check("max_duration", validation::max_duration(self.max_duration));
        errors.check("silence_timeout_seconds", validation::in_range(self.silence_timeout_seconds, 5, 600));
        for (field, url) in [("server_url", &self.server_url), ("webhook_url", &self.webhook_url)] {
            if let Some(url) = url {
                errors.check(field, validation::callback_url(url, allow_http));
            }
        }
        if let Some(prompt) = &self.system_prompt {
            errors.check("system_prompt", validation::optional_text(prompt, PROMPT_MAX));
        }
        if let Some(message) = &self.first_message {
            errors.check("first_message", validation::optional_text(message, MESSAGE_MAX));
        }
        if let Some(criteria) = &self.success_criteria {
            errors.check("success_criteria", validation::optional_text(criteria, MESSAGE_MAX));
        }
        if let Some(message) = &self.voicemail.message {
            errors.check("voicemail.message", validation::optional_text(message, MESSAGE_MAX));
        }
        if let Some(llm) = &self.llm {
            if let Some(t) = llm.temperature
                && !(0.0..=2.0).contains(&t)
            {
                errors.add("llm.temperature", "Must be between 0 and 2.");
            }
            if let Some(base_url) = &llm.base_url {
                errors.check("llm.base_url", validation::callback_url(base_url, allow_http));
            }
        }
        if self.knowledge_base_ids.len() > 20 {
            errors.add("knowledge_base_ids", "At most 20 knowledge bases.");
        } else if let Some(bad) = self.knowledge_base_ids.iter().find(|id| !IdKind::KnowledgeBase.matches(id)) {
            errors.add("knowledge_base_ids", format!("Not a knowledge base id: {bad}."));
        }
        errors.finish()
    }

    /// Field → (before, after) for every field that differs, for the audit log.
    pub fn changes(&self, after: &AgentSettings) -> BTreeMap<String, (Value, Value)> {
        let (Ok(Value::Object(before)), Ok(Value::Object(mut after))) =
            (serde_json::to_value(self), serde_json::to_value(after))
        else {
            return BTreeMap::new();
        };
        before
            .into_iter()
            .filter_map(|(field, old)| {
                let new = after.remove(&field).unwrap_or(Value::Null);
                (old != new).then_some((field, (old, new)))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voices::local_catalogue;

    fn settings() -> AgentSettings {
        AgentSettings::named("Support")
    }

    #[test]
    fn defaults_are_valid() {
        let s = settings();
        assert_eq!(s.language, "en-US");
        assert_eq!(s.voice, "Sarah");
        assert_eq!(s.max_duration, 1800);
        assert!(s.is_active);
        assert_eq!(s.validate(&local_catalogue(), false), Ok(()));
    }

    #[test]
    fn validation_names_each_bad_field() {
        let mut s = settings();
        s.language = "english".into();
        s.max_duration = 30;
        s.server_url = Some("http://example.com".into());
        s.name = " ".into();
        let errors = s.validate(&local_catalogue(), false).unwrap_err().into_map();
        assert_eq!(errors["language"], "Must be a valid BCP-47 language code.");
        assert_eq!(errors["max_duration"], "Must be between 60 and 7200.");
        assert_eq!(errors["server_url"], "Must be an https URL.");
        assert!(errors.contains_key("name"));
        assert!(!errors.contains_key("voice"), "voice is not judged against a bad language");
        s.server_url = Some("http://127.0.0.1:8080/hook".into());
        assert!(!s.validate(&local_catalogue(), true).unwrap_err().into_map().contains_key("server_url"));
    }

    #[test]
    fn unknown_voice_for_language() {
        let mut s = settings();
        s.voice = "Nobody".into();
        assert!(s.validate(&local_catalogue(), false).unwrap_err().into_map().contains_key("voice"));
    }

    #[test]
    fn changes_name_each_field_that_differs() {
        let mut s = settings();
        s.server_url = Some("https://a.example/x".into());
        let mut next = s.clone();
        next.max_duration = 600;
        next.server_url = None;
        let changes = s.changes(&next);
        assert_eq!(changes.len(), 2);
        assert_eq!(changes["max_duration"], (Value::from(1800), Value::from(600)));
        assert_eq!(changes["server_url"].1, Value::Null);
    }
}
