//! The webhook event catalogue (Staffify §10.2) in one place: every event name,
//! how subscriptions match it, and the envelope every delivery carries.

use serde::{Deserialize, Serialize};

/// The API version stamped on every envelope.
pub const API_VERSION: &str = "2026-05-20";

/// Every event Switchboard emits. The wire name is [`EventType::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    CallRinging,
    CallStarted,
    CallEnded,
    CallFailed,
    CallRecordingReady,
    CallDtmfReceived,
    CallGatherCompleted,
    TranscriptUpdated,
    SpeechStarted,
    SpeechEnded,
    AiSpeechStarted,
    AiSpeechEnded,
    BargeIn,
    ToolInvoked,
    ToolCompleted,
    ToolTimeout,
    TransferInitiated,
    TransferCompleted,
    TransferFailed,
    SmsSent,
    KnowledgeBaseRefreshed,
    KnowledgeBaseRefreshFailed,
    KnowledgeBaseAutoRefreshDisabled,
    AddressVerificationPending,
    AddressVerificationVerified,
    AddressVerificationPartiallyVerified,
    AddressVerificationRejected,
    AddressVerificationExpired,
    AppointmentBooked,
    AppointmentRescheduled,
    AppointmentCancelled,
    /// A call's post-call analysis was written (after the call, or again on request).
    AnalysisComplete,
    /// Sent by `POST /v1/webhooks/:id/test`; only to that endpoint.
    WebhookTest,
    /// Recorded when an endpoint is disabled after failing continuously.
    WebhookDisabled,
}

impl EventType {
    pub const ALL: &'static [EventType] = &[
        EventType::CallRinging,
        EventType::CallStarted,
        EventType::CallEnded,
        EventType::CallFailed,
        EventType::CallRecordingReady,
        EventType::CallDtmfReceived,
        EventType::CallGatherCompleted,
        EventType::TranscriptUpdated,
        EventType::SpeechStarted,
        EventType::SpeechEnded,
        EventType::AiSpeechStarted,
        EventType::AiSpeechEnded,
        EventType::BargeIn,
        EventType::ToolInvoked,
        EventType::ToolCompleted,
        EventType::ToolTimeout,
        EventType::TransferInitiated,
        EventType::TransferCompleted,
        EventType::TransferFailed,
        EventType::SmsSent,
        EventType::KnowledgeBaseRefreshed,
        EventType::KnowledgeBaseRefreshFailed,
        EventType::KnowledgeBaseAutoRefreshDisabled,
        EventType::AddressVerificationPending,
        EventType::AddressVerificationVerified,
        EventType::AddressVerificationPartiallyVerified,
        EventType::AddressVerificationRejected,
        EventType::AddressVerificationExpired,
        EventType::AppointmentBooked,
        EventType::AppointmentRescheduled,
        EventType::AppointmentCancelled,
        EventType::AnalysisComplete,
        EventType::WebhookTest,
        EventType::WebhookDisabled,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            EventType::CallRinging => "call.ringing",
            EventType::CallStarted => "call.started",
            EventType::CallEnded => "call.ended",
            EventType::CallFailed => "call.failed",
            EventType::CallRecordingReady => "call.recording_ready",
            EventType::CallDtmfReceived => "call.dtmf.received",
            EventType::CallGatherCompleted => "call.gather.completed",
            EventType::TranscriptUpdated => "transcript.updated",
            EventType::SpeechStarted => "speech.started",
            EventType::SpeechEnded => "speech.ended",
            EventType::AiSpeechStarted => "ai.speech.started",
            EventType::AiSpeechEnded => "ai.speech.ended",
            EventType::BargeIn => "barge_in",
            EventType::ToolInvoked => "tool.invoked",
            EventType::ToolCompleted => "tool.completed",
            EventType::ToolTimeout => "tool.timeout",
            EventType::TransferInitiated => "transfer.initiated",
            EventType::TransferCompleted => "transfer.completed",
            EventType::TransferFailed => "transfer.failed",
            EventType::SmsSent => "sms.sent",
            EventType::KnowledgeBaseRefreshed => "knowledge_base.refreshed",
            EventType::KnowledgeBaseRefreshFailed => "knowledge_base.refresh_failed",
            EventType::KnowledgeBaseAutoRefreshDisabled => "knowledge_base.auto_refresh_disabled",
            EventType::AddressVerificationPending => "address.verification.pending",
            EventType::AddressVerificationVerified => "address.verification.verified",
            EventType::AddressVerificationPartiallyVerified => "address.verification.partially_verified",
            EventType::AddressVerificationRejected => "address.verification.rejected",
            EventType::AddressVerificationExpired => "address.verification.expired",
            EventType::AppointmentBooked => "appointment.booked",
            EventType::AppointmentRescheduled => "appointment.rescheduled",
            EventType::AppointmentCancelled => "appointment.cancelled",
            EventType::AnalysisComplete => "analysis.complete",
            EventType::WebhookTest => "webhook.test",
            EventType::WebhookDisabled => "webhook.disabled",
        }
    }

    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL.iter().copied().find(|e| e.as_str() == name)
    }

    /// Whether endpoints can subscribe to it. `webhook.test` goes only to the
    /// endpoint being tested, never to subscribers.
    pub const fn subscribable(self) -> bool {
        !matches!(self, EventType::WebhookTest)
    }

    /// The fields of `data` that the seed prints at the top level of this
    /// event's delivery (Staffify's flat `call.gather.completed`), so a
    /// receiver written against the seed finds them where it looks; they stay
    /// in `data` as well.
    pub const fn top_level_fields(self) -> &'static [&'static str] {
        match self {
            EventType::CallGatherCompleted => &["call_id", "status", "input"],
            _ => &[],
        }
    }
}

impl Serialize for EventType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        EventType::parse(&name).ok_or_else(|| serde::de::Error::custom(format!("unknown event `{name}`")))
    }
}

/// Does a subscription list (`"*"` or exact names) include this event?
pub fn subscribed(events: &[String], event: EventType) -> bool {
    event.subscribable() && events.iter().any(|e| e == "*" || e == event.as_str())
}

/// Checks a subscription list: non-empty, each entry `"*"` or a known,
/// subscribable event name. Returns the offending entry's message.
pub fn check_subscription(events: &[String]) -> Result<(), String> {
    if events.is_empty() {
        return Err("Must list at least one event, or \"*\" for all.".into());
    }
    for name in events {
        let known = name == "*" || EventType::parse(name).is_some_and(EventType::subscribable);
        if !known {
            return Err(format!("Unknown event `{name}`; see the event catalogue."));
        }
    }
    Ok(())
}

/// The JSON every delivery of an event carries (Staffify §10.3).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Envelope {
    pub id: String,
    pub event: EventType,
    pub timestamp: String,
    pub api_version: String,
    pub org_id: String,
    pub project_id: Option<String>,
    pub agent_id: Option<String>,
    pub data: serde_json::Value,
    /// Copies of `data`'s [`EventType::top_level_fields`].
    #[serde(flatten)]
    pub top_level: serde_json::Map<String, serde_json::Value>,
}

/// Where an event happened, for its envelope.
#[derive(Debug, Clone, Copy)]
pub struct EventScope<'a> {
    pub org_id: &'a str,
    pub project_id: Option<&'a str>,
    pub agent_id: Option<&'a str>,
}

impl Envelope {
    /// The envelope of event `id` of kind `event`, raised at `timestamp`.
    pub fn new(
        id: String,
        event: EventType,
        timestamp: String,
        scope: EventScope<'_>,
        data: serde_json::Value,
    ) -> Self {
        let top_level = event
            .top_level_fields()
            .iter()
            .filter_map(|field| data.get(*field).map(|value| ((*field).to_owned(), value.clone())))
            .collect();
        Envelope {
            id,
            event,
            timestamp,
            api_version: API_VERSION.to_owned(),
            org_id: scope.org_id.to_owned(),
            project_id: scope.project_id.map(str::to_owned),
            agent_id: scope.agent_id.map(str::to_owned),
            data,
            top_level,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gather_result_is_also_at_the_top_level_as_the_seed_prints_it() {
        let scope = EventScope { org_id: "org_1", project_id: Some("proj_1"), agent_id: Some("agent_1") };
        let data = serde_json::json!({"call_id": "call_1", "agent_id": "agent_1", "status": "timeout", "input": null});
        let gather = Envelope::new("whe_1".into(), EventType::CallGatherCompleted, "t".into(), scope, data.clone());
        let json = serde_json::to_value(&gather).unwrap();
        assert_eq!(json["event"], "call.gather.completed");
        assert_eq!(
            (&json["call_id"], &json["agent_id"], &json["status"]),
            (&data["call_id"], &data["agent_id"], &data["status"])
        );
        assert!(json.as_object().unwrap().contains_key("input") && json["input"].is_null());
        assert_eq!(json["data"], data);
        assert_eq!(serde_json::from_value::<Envelope>(json).unwrap(), gather);
        let ended = Envelope::new("whe_2".into(), EventType::CallEnded, "t".into(), scope, data);
        assert!(serde_json::to_value(&ended).unwrap().get("status").is_none(), "other events keep data nested");
    }

    #[test]
    fn every_name_round_trips_and_is_unique() {
        let mut seen = std::collections::HashSet::new();
        for e in EventType::ALL {
            assert_eq!(EventType::parse(e.as_str()), Some(*e));
            assert!(seen.insert(e.as_str()), "duplicate {}", e.as_str());
        }
        assert_eq!(seen.len(), 34);
    }

    #[test]
    fn wildcard_and_exact_subscriptions() {
        let all = vec!["*".to_owned()];
        assert!(subscribed(&all, EventType::CallEnded));
        assert!(!subscribed(&all, EventType::WebhookTest));
        let some = vec!["call.ended".to_owned(), "sms.sent".to_owned()];
        assert!(subscribed(&some, EventType::SmsSent));
        assert!(!subscribed(&some, EventType::CallStarted));
    }

    #[test]
    fn subscription_lists_are_checked() {
        assert!(check_subscription(&[]).is_err());
        assert!(check_subscription(&["call.endd".into()]).is_err());
        assert!(check_subscription(&["webhook.test".into()]).is_err());
        assert!(check_subscription(&["*".into(), "call.ended".into()]).is_ok());
    }
}
