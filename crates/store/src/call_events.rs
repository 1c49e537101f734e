//! The `data` of the call lifecycle events (Staffify §10.4), built from the
//! call record so webhooks and the Calls API never disagree.

use serde_json::{Value, json};
use switchboard_domain::call::analysis::CallAnalysis;
use switchboard_domain::call::{CallRecord, CallStatus, Disposition, EndedReason};
use switchboard_domain::events::EventType;
use switchboard_domain::money::to_eur;
use switchboard_domain::time::iso;

use crate::events::NewEvent;

fn event(kind: EventType, call: &CallRecord, data: Value) -> NewEvent {
    NewEvent {
        event: kind,
        org_id: call.org_id.clone(),
        project_id: Some(call.project_id.clone()),
        agent_id: call.agent_id.clone(),
        call_id: Some(call.id.clone()),
        data,
    }
}

/// `call.ringing` and `call.started`: `{call_id, agent_id, from, to}`.
pub(crate) fn lifecycle(kind: EventType, call: &CallRecord) -> NewEvent {
    let data = json!({"call_id": call.id, "agent_id": call.agent_id, "from": call.from_number, "to": call.to_number});
    event(kind, call, data)
}

/// The event a finished call emits: `call.ended` when it was answered,
/// `call.failed` when it never connected.
pub(crate) fn finished(call: &CallRecord) -> NewEvent {
    // Every field as the Calls API shows it: `ended_reason` is null where the
    // call record's is (busy, rejected), `extracted_data` `{}` when nothing was
    // extracted.
    if call.answered_at.is_none() && call.status != CallStatus::Completed {
        let data = json!({
            "call_id": call.id, "agent_id": call.agent_id, "from": call.from_number, "to": call.to_number,
            "status": call.status.as_str(), "disposition": call.disposition.map(Disposition::as_str),
            "ended_reason": call.ended_reason.map(EndedReason::as_str),
        });
        return event(EventType::CallFailed, call, data);
    }
    let transcript: Vec<Value> =
        call.transcript.iter().map(|line| json!({"role": line.role, "content": line.content})).collect();
    let data = json!({
        "call_id": call.id,
        "agent_id": call.agent_id,
        "from": call.from_number,
        "to": call.to_number,
        "status": call.status.as_str(),
        "started_at": iso(call.started_at),
        "ended_at": call.ended_at.map(iso),
        "duration_seconds": call.duration_seconds,
        "minutes_used": call.cost.centi_minutes as f64 / 100.0,
        "call_cost": to_eur(call.cost.call_cost),
        "recording_cost": to_eur(call.cost.recording_cost),
        "transfer_cost": to_eur(call.cost.transfer_cost),
        "llm_discount": to_eur(call.cost.llm_discount),
        "total_cost": to_eur(call.cost.total_cost),
        "rate_per_minute": to_eur(call.rate_per_minute),
        "disposition": call.disposition.map(Disposition::as_str),
        "ended_reason": call.ended_reason.map(EndedReason::as_str),
        "ws_unavailable": call.ws_unavailable,
        "transferred_to": call.transferred_to,
        "metadata": call.metadata,
        "language": call.language,
        "turn_count": call.turn_count,
        "tool_call_count": call.tool_call_count,
        "tools_called": call.tools_called,
        "extracted_data": call.extracted_data.clone().unwrap_or_else(|| json!({})),
        "transcript": transcript,
    });
    event(EventType::CallEnded, call, data)
}

/// `analysis.complete`: the call's id and agent beside every field of its analysis.
pub(crate) fn analysed(call: &CallRecord, analysis: &CallAnalysis) -> NewEvent {
    let mut data = json!({"call_id": call.id, "agent_id": call.agent_id});
    if let (Value::Object(fields), Ok(Value::Object(analysis))) = (&mut data, serde_json::to_value(analysis)) {
        fields.extend(analysis);
    }
    event(EventType::AnalysisComplete, call, data)
}
