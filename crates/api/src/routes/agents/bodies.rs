//! The request bodies of `/v1/agents`: create (only `name` required, the rest
//! defaulted) and partial update (absent fields unchanged, `null` clears).
//! Both take the camelCase spellings VoxForge clients send.

use serde::{Deserialize, Deserializer};
use switchboard_domain::agent::{AgentSettings, LlmConfig, VoicemailConfig};
use utoipa::ToSchema;

/// The create body: only `name` is required.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentCreate {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// BCP-47 language; default `en-US`.
    #[schema(
        pattern = "^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?(-([A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*$"
    )]
    pub language: Option<String>,
    /// A voice name from `GET /v1/voices` for the language; default `Sarah`.
    pub voice: Option<String>,
    /// Longest call in seconds, 60–7200; default 1800.
    #[serde(alias = "maxCallDuration")]
    #[schema(minimum = 60, maximum = 7200)]
    pub max_duration: Option<i64>,
    pub recording: Option<bool>,
    #[serde(alias = "endCallEnabled")]
    pub end_call_enabled: Option<bool>,
    /// Book appointments in this agent's calls: the model is offered the
    /// appointment tools, or, without a model, the embedded brain runs a
    /// spoken booking flow (see docs/appointments.md); default false.
    pub appointments_enabled: Option<bool>,
    /// Public HTTPS endpoint for real-time call control.
    #[serde(alias = "serverUrl")]
    #[schema(pattern = "^https?://")]
    pub server_url: Option<String>,
    /// Endpoint for asynchronous event delivery scoped to this agent.
    #[serde(alias = "webhookUrl")]
    #[schema(pattern = "^https?://")]
    pub webhook_url: Option<String>,
    #[serde(alias = "systemPrompt")]
    pub system_prompt: Option<String>,
    #[serde(alias = "firstMessage")]
    pub first_message: Option<String>,
    /// What a successful call achieves, in words (e.g. "The caller books a
    /// demo"); post-call analysis judges each answered call against it.
    #[schema(max_length = 2000)]
    pub success_criteria: Option<String>,
    pub llm: Option<LlmConfig>,
    /// Seconds of caller silence before the call ends, 5–600; default 30.
    #[schema(minimum = 5, maximum = 600)]
    pub silence_timeout_seconds: Option<i64>,
    pub voicemail: Option<VoicemailConfig>,
    #[schema(max_items = 20)]
    pub knowledge_base_ids: Option<Vec<String>>,
    #[serde(alias = "isActive")]
    pub is_active: Option<bool>,
}

/// The partial-update body: only the fields sent change; `null` clears a
/// nullable field.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentPatch {
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    #[schema(
        pattern = "^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?(-([A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*$"
    )]
    pub language: Option<String>,
    pub voice: Option<String>,
    #[serde(alias = "maxCallDuration")]
    #[schema(minimum = 60, maximum = 7200)]
    pub max_duration: Option<i64>,
    pub recording: Option<bool>,
    #[serde(alias = "endCallEnabled")]
    pub end_call_enabled: Option<bool>,
    pub appointments_enabled: Option<bool>,
    #[serde(default, deserialize_with = "nullable", alias = "serverUrl")]
    #[schema(value_type = Option<String>, pattern = "^https?://")]
    pub server_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable", alias = "webhookUrl")]
    #[schema(value_type = Option<String>, pattern = "^https?://")]
    pub webhook_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable", alias = "systemPrompt")]
    #[schema(value_type = Option<String>)]
    pub system_prompt: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable", alias = "firstMessage")]
    #[schema(value_type = Option<String>)]
    pub first_message: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub success_criteria: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<LlmConfig>)]
    pub llm: Option<Option<LlmConfig>>,
    #[schema(minimum = 5, maximum = 600)]
    pub silence_timeout_seconds: Option<i64>,
    pub voicemail: Option<VoicemailConfig>,
    #[schema(max_items = 20)]
    pub knowledge_base_ids: Option<Vec<String>>,
    #[serde(alias = "isActive")]
    pub is_active: Option<bool>,
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

impl AgentCreate {
    /// The settings this body asks for, with defaults filled in.
    pub fn into_settings(self) -> AgentSettings {
        let defaults = AgentSettings::named(&self.name);
        AgentSettings {
            language: self.language.unwrap_or(defaults.language),
            voice: self.voice.unwrap_or(defaults.voice),
            max_duration: self.max_duration.unwrap_or(defaults.max_duration),
            recording: self.recording.unwrap_or(defaults.recording),
            end_call_enabled: self.end_call_enabled.unwrap_or(defaults.end_call_enabled),
            appointments_enabled: self.appointments_enabled.unwrap_or(defaults.appointments_enabled),
            server_url: self.server_url,
            webhook_url: self.webhook_url,
            system_prompt: self.system_prompt,
            first_message: self.first_message,
            success_criteria: self.success_criteria,
            llm: self.llm,
            silence_timeout_seconds: self.silence_timeout_seconds.unwrap_or(defaults.silence_timeout_seconds),
            voicemail: self.voicemail.unwrap_or(defaults.voicemail),
            knowledge_base_ids: self.knowledge_base_ids.unwrap_or_default(),
            is_active: self.is_active.unwrap_or(defaults.is_active),
            name: self.name,
        }
    }
}

impl AgentPatch {
    /// The settings after this patch.
    pub fn apply(self, current: &AgentSettings) -> AgentSettings {
        let mut next = current.clone();
        macro_rules! set {
            ($($field:ident),*) => { $(if let Some(v) = self.$field { next.$field = v; })* };
        }
        set!(
            name,
            language,
            voice,
            max_duration,
            recording,
            end_call_enabled,
            appointments_enabled,
            server_url,
            webhook_url,
            system_prompt,
            first_message,
            success_criteria,
            llm,
            silence_timeout_seconds,
            voicemail,
            knowledge_base_ids,
            is_active
        );
        next
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn settings() -> AgentSettings {
        AgentCreate { name: "Support".into(), ..Default::default() }.into_settings()
    }

    #[test]
    fn patch_changes_only_sent_fields_and_null_clears() {
        let mut s = settings();
        s.server_url = Some("https://a.example/x".into());
        let patch: AgentPatch = serde_json::from_str(r#"{"max_duration": 600, "server_url": null}"#).unwrap();
        let next = patch.apply(&s);
        assert_eq!(next.max_duration, 600);
        assert_eq!(next.server_url, None);
        assert_eq!(next.name, s.name);
        let changes = s.changes(&next);
        assert_eq!(changes.len(), 2);
        assert_eq!(changes["max_duration"], (Value::from(1800), Value::from(600)));
        assert_eq!(changes["server_url"].1, Value::Null);
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_str::<AgentPatch>(r#"{"nmae": "x"}"#).is_err());
        let create: AgentCreate = serde_json::from_str(r#"{"name":"x","systemPrompt":"hi"}"#).unwrap();
        assert_eq!(create.system_prompt.as_deref(), Some("hi"));
    }
}
