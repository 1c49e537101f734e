//! The call record: one definition of everything stored about a call, from
//! the moment it rings to its priced end. The store persists it, the Calls API
//! shows it and the `call.ended` webhook reports it; none of them keeps a list
//! of its own.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::analysis::CallAnalysis;
use super::{CallCost, CallStatus, Direction, Disposition, EndedReason};
use crate::money::Micros;

/// Who said a line of the transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

/// One line of a call's transcript: what the caller said, or what the agent
/// said as far as the caller heard it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscriptLine {
    pub role: Role,
    pub content: String,
    /// Seconds of call time from the answer to the start of the line, to a tenth.
    pub timestamp: f64,
}

/// How long one agent turn took, in wall milliseconds from the caller's last word.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnLatency {
    pub turn: i64,
    /// When the caller's last word was heard, ISO-8601.
    pub ts: String,
    /// The caller's words recognised: from the end of their speech to the
    /// transcript, the end-of-turn silence included (0 where the caller's
    /// turn arrives as text).
    #[serde(default)]
    pub stt_ms: u64,
    /// First token of the model (or the embedded brain's answer).
    pub llm_ttfb_ms: u64,
    /// First text handed to speech.
    pub tts_start_ms: u64,
    /// First audio of the answer played to the caller.
    pub tts_ttfb_ms: u64,
}

/// The `latency_data` of a call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latency {
    pub turns: Vec<TurnLatency>,
}

/// Where a call's configuration came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigSource {
    /// The agent as stored (it has no server_url).
    Agent,
    /// The server_url's `call.started` answer over the agent.
    ServerUrl,
    /// The server_url failed; the agent as stored, with `server_url_error` saying why.
    AgentFallback,
}

/// Which brain held the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Brain {
    Llm,
    Embedded,
}

/// How a keypad collection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GatherStatus {
    Completed,
    Timeout,
    /// The call was transferred or ended while the gather still waited.
    Cancelled,
}

/// One keypad collection asked for through the API, kept in the call's
/// `metadata.gather_results`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatherResult {
    pub prompt: String,
    pub status: GatherStatus,
    /// The digits keyed, without the terminator; `null` on a timeout.
    pub input: Option<String>,
    /// When it ended, ISO-8601.
    pub at: String,
}

wire_names!(Role { User => "user", Assistant => "assistant" });
wire_names!(ConfigSource { Agent => "agent", ServerUrl => "server_url", AgentFallback => "agent_fallback" });
wire_names!(Brain { Llm => "llm", Embedded => "embedded" });

/// Everything stored about one call.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    pub id: String,
    pub org_id: String,
    pub project_id: String,
    /// `None` for an inbound call no agent could take (an unassigned or
    /// released number).
    pub agent_id: Option<String>,
    pub direction: Direction,
    pub from_number: String,
    pub to_number: String,
    pub status: CallStatus,
    pub disposition: Option<Disposition>,
    pub ended_reason: Option<EndedReason>,
    /// Epoch ms.
    pub started_at: i64,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub duration_seconds: i64,
    pub rate_per_minute: Micros,
    pub cost: CallCost,
    pub transfer_duration_seconds: i64,
    pub transferred_to: Option<String>,
    pub recording_enabled: bool,
    pub has_recording: bool,
    pub turn_count: i64,
    pub tool_call_count: i64,
    pub tools_called: Vec<String>,
    pub metadata: Value,
    pub extracted_data: Option<Value>,
    pub transcript: Vec<TranscriptLine>,
    pub latency: Latency,
    pub ws_unavailable: bool,
    pub config_source: ConfigSource,
    pub brain: Brain,
    /// Why the server_url's configuration was not used, when it was not.
    pub server_url_error: Option<String>,
    /// The language the call was held in, once it ended.
    pub language: Option<String>,
    /// The node whose runtime holds the call while it is live.
    pub node_id: Option<String>,
    /// The post-call analysis, once written; never for an unanswered call.
    pub analysis: Option<CallAnalysis>,
}

/// What is known of a call when it starts ringing.
#[derive(Debug, Clone)]
pub struct Ringing {
    pub id: String,
    pub org_id: String,
    pub project_id: String,
    pub agent_id: Option<String>,
    pub direction: Direction,
    pub from_number: String,
    pub to_number: String,
    pub rate_per_minute: Micros,
    pub recording_enabled: bool,
    pub metadata: Value,
    pub node_id: Option<String>,
    pub at: i64,
}

impl CallRecord {
    /// A call that has just started ringing.
    pub fn ringing(call: Ringing) -> Self {
        CallRecord {
            id: call.id,
            org_id: call.org_id,
            project_id: call.project_id,
            agent_id: call.agent_id,
            direction: call.direction,
            from_number: call.from_number,
            to_number: call.to_number,
            status: CallStatus::Ringing,
            disposition: None,
            ended_reason: None,
            started_at: call.at,
            answered_at: None,
            ended_at: None,
            duration_seconds: 0,
            rate_per_minute: call.rate_per_minute,
            cost: CallCost::default(),
            transfer_duration_seconds: 0,
            transferred_to: None,
            recording_enabled: call.recording_enabled,
            has_recording: false,
            turn_count: 0,
            tool_call_count: 0,
            tools_called: Vec::new(),
            metadata: if call.metadata.is_object() { call.metadata } else { Value::Object(Default::default()) },
            extracted_data: None,
            transcript: Vec::new(),
            latency: Latency::default(),
            ws_unavailable: false,
            config_source: ConfigSource::Agent,
            brain: Brain::Embedded,
            server_url_error: None,
            language: None,
            node_id: call.node_id,
            analysis: None,
        }
    }

    /// Ends a call that never connected (refused, rejected, or unroutable):
    /// nothing was said and nothing is billed.
    pub fn refused(mut self, status: CallStatus, disposition: Disposition, reason: Option<EndedReason>) -> Self {
        self.status = status;
        self.disposition = Some(disposition);
        self.ended_reason = reason;
        self.ended_at = Some(self.started_at);
        self
    }

    /// Whether the call has ended for good.
    pub fn is_over(&self) -> bool {
        self.status.is_final()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ringing() -> CallRecord {
        CallRecord::ringing(Ringing {
            id: "call_1".into(),
            org_id: "org_1".into(),
            project_id: "proj_1".into(),
            agent_id: None,
            direction: Direction::Inbound,
            from_number: "+31612345678".into(),
            to_number: "+31201234567".into(),
            rate_per_minute: 150_000,
            recording_enabled: false,
            metadata: Value::Null,
            node_id: None,
            at: 1_000,
        })
    }

    #[test]
    fn a_ringing_call_has_an_object_for_metadata_and_nothing_billed() {
        let call = ringing();
        assert_eq!(call.status, CallStatus::Ringing);
        assert!(call.metadata.is_object());
        assert_eq!(call.cost.total_cost, 0);
        assert!(!call.is_over());
    }

    #[test]
    fn a_refused_call_ends_where_it_started() {
        let call = ringing().refused(CallStatus::Rejected, Disposition::Rejected, Some(EndedReason::NumberReleased));
        assert!(call.is_over());
        assert_eq!(call.ended_at, Some(1_000));
        assert_eq!(call.ended_reason, Some(EndedReason::NumberReleased));
    }

    #[test]
    fn stored_vocabularies_round_trip() {
        for source in [ConfigSource::Agent, ConfigSource::ServerUrl, ConfigSource::AgentFallback] {
            assert_eq!(ConfigSource::parse(source.as_str()), Some(source));
            assert_eq!(serde_json::to_value(source).ok(), Some(Value::from(source.as_str())));
        }
        for brain in [Brain::Llm, Brain::Embedded] {
            assert_eq!(Brain::parse(brain.as_str()), Some(brain));
        }
        let line: TranscriptLine =
            serde_json::from_str(r#"{"role":"assistant","content":"Hi","timestamp":0.5}"#).expect("line");
        assert_eq!(line.role, Role::Assistant);
    }
}
