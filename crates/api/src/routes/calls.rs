//! `/v1/calls`: placing calls, call history, transcripts, live status, and
//! control of calls in progress (end, transfer, gather), per the Calls API.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_domain::call::analysis::CallAnalysis;
use switchboard_domain::call::{CallRecord, CallStatus, Direction, Disposition, EndedReason};
use switchboard_domain::ids::IdKind;
use switchboard_domain::money::to_eur;
use switchboard_domain::page::split_page;
use switchboard_domain::phone::{DTMF_PROBLEM, Dtmf, E164};
use switchboard_domain::time::iso;
use switchboard_domain::validation::{self, utc_day_bounds};
use switchboard_runtime::call::service::OutboundCall;
use switchboard_runtime::call::{CallCommand, CallError, ControlError, GatherRequest};
use switchboard_store::calls::CallFilter;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ProjectScope;
use crate::error::{ApiError, OrNotFound, Result};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

/// A call. `transcript` and `latency_data` appear on `GET /v1/calls/{call_id}` only.
#[derive(Serialize, ToSchema)]
pub struct Call {
    pub call_id: String,
    /// `null` for an inbound call the carrier could not route to an agent
    /// (`ended_reason` `number-unassigned` or `number-released`).
    pub agent_id: Option<String>,
    /// `inbound` or `outbound`.
    pub direction: Direction,
    pub from_number: String,
    pub to_number: String,
    pub status: CallStatus,
    pub disposition: Option<Disposition>,
    pub ended_reason: Option<EndedReason>,
    /// Seconds from the answer (`answered_at`) to the end, rounded; 0 for a
    /// call that was never answered. A transferred call's own duration stops
    /// at the transfer (the leg is `transfer_duration_seconds`). What is billed.
    pub duration_seconds: i64,
    /// Billable minutes: `round(duration_seconds / 60, 2)`.
    pub minutes_used: f64,
    pub rate_per_minute: f64,
    /// `call_cost + recording_cost + transfer_cost − llm_discount`.
    pub total_cost: f64,
    pub has_recording: bool,
    pub turn_count: i64,
    pub tool_call_count: i64,
    pub tools_called: Vec<String>,
    /// Set by your server_url handler during the call; read-only here.
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub ws_unavailable: bool,
    /// `[{role, content, timestamp}]`, `timestamp` in seconds from the answer;
    /// what the agent said as far as the caller heard it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub transcript: Option<Vec<switchboard_domain::call::TranscriptLine>>,
    /// `{turns: [{turn, ts, stt_ms, llm_ttfb_ms, tts_start_ms, tts_ttfb_ms}]}`:
    /// ms from the caller's last word to their words recognised (the
    /// end-of-turn silence included; 0 for text), the first token, the first
    /// speech handed to the voice, and the first audio the caller heard.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub latency_data: Option<switchboard_domain::call::Latency>,
    pub call_cost: f64,
    pub recording_cost: f64,
    pub llm_discount: f64,
    pub transfer_duration_seconds: i64,
    pub transfer_cost: f64,
    pub transferred_to: Option<String>,
    pub recording_enabled: bool,
    /// Filled after the call from the extraction schema; read-only.
    #[schema(value_type = Object)]
    pub extracted_data: Value,
    /// Which brain held the conversation: `llm` or `embedded`.
    #[schema(value_type = String)]
    pub brain: switchboard_domain::call::Brain,
    /// Where the call's configuration came from: `server_url`, `agent`, or
    /// `agent_fallback` when the server_url failed.
    #[schema(value_type = String)]
    pub config_source: switchboard_domain::call::ConfigSource,
    /// Why the server_url's configuration was not used (`agent_fallback`).
    pub server_url_error: Option<String>,
    /// When the call was placed (outbound) or rang in (inbound), ISO-8601 UTC.
    pub started_at: String,
    /// When it was answered; `null` if it never was (busy, no answer, …).
    pub answered_at: Option<String>,
    /// When it ended; `null` while it is live.
    pub ended_at: Option<String>,
    /// The post-call analysis, written in the background once an answered
    /// call has ended (`analysis.complete` says when); `null` until then, and
    /// always for calls that were never answered.
    pub analysis: Option<CallAnalysis>,
}

impl Call {
    /// The call as shown; `detail` adds transcript and latency.
    pub(crate) fn view(row: CallRecord, detail: bool) -> Self {
        Call {
            call_id: row.id,
            agent_id: row.agent_id,
            direction: row.direction,
            from_number: row.from_number,
            to_number: row.to_number,
            status: row.status,
            disposition: row.disposition,
            ended_reason: row.ended_reason,
            duration_seconds: row.duration_seconds,
            minutes_used: row.cost.centi_minutes as f64 / 100.0,
            rate_per_minute: to_eur(row.rate_per_minute),
            total_cost: to_eur(row.cost.total_cost),
            has_recording: row.has_recording,
            turn_count: row.turn_count,
            tool_call_count: row.tool_call_count,
            tools_called: row.tools_called,
            metadata: row.metadata,
            ws_unavailable: row.ws_unavailable,
            transcript: detail.then_some(row.transcript),
            latency_data: detail.then_some(row.latency),
            call_cost: to_eur(row.cost.call_cost),
            recording_cost: to_eur(row.cost.recording_cost),
            llm_discount: to_eur(row.cost.llm_discount),
            transfer_duration_seconds: row.transfer_duration_seconds,
            transfer_cost: to_eur(row.cost.transfer_cost),
            transferred_to: row.transferred_to,
            recording_enabled: row.recording_enabled,
            extracted_data: row.extracted_data.unwrap_or_else(|| Value::Object(Default::default())),
            brain: row.brain,
            config_source: row.config_source,
            server_url_error: row.server_url_error,
            started_at: iso(row.started_at),
            answered_at: row.answered_at.map(iso),
            ended_at: row.ended_at.map(iso),
            analysis: row.analysis,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CallList {
    pub calls: Vec<Call>,
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallListQuery {
    /// Agent public id (`agent_…`); an agent the project does not have is 404.
    pub agent_id: Option<String>,
    pub status: Option<CallStatus>,
    pub disposition: Option<Disposition>,
    /// Start date `YYYY-MM-DD` (UTC, inclusive).
    #[param(pattern = r"^\d{4}-\d{2}-\d{2}$")]
    pub from_date: Option<String>,
    /// End date `YYYY-MM-DD` (UTC, inclusive).
    #[param(pattern = r"^\d{4}-\d{2}-\d{2}$")]
    pub to_date: Option<String>,
    pub after: Option<String>,
    /// 1–100; default 50.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// The filters of `GET /v1/calls`, without its paging.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    /// Agent public id (`agent_…`); an agent the project does not have is 404.
    pub agent_id: Option<String>,
    pub status: Option<CallStatus>,
    pub disposition: Option<Disposition>,
    /// Start date `YYYY-MM-DD` (UTC, inclusive).
    #[param(pattern = r"^\d{4}-\d{2}-\d{2}$")]
    pub from_date: Option<String>,
    /// End date `YYYY-MM-DD` (UTC, inclusive).
    #[param(pattern = r"^\d{4}-\d{2}-\d{2}$")]
    pub to_date: Option<String>,
}

/// The filters the summary applied; those not given are left out.
#[derive(Serialize, ToSchema)]
pub struct SummaryFilters {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<CallStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disposition: Option<Disposition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_date: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CallSummary {
    pub total_calls: i64,
    pub completed_calls: i64,
    pub failed_calls: i64,
    pub answered_calls: i64,
    pub no_answer_calls: i64,
    pub total_duration_seconds: i64,
    pub total_minutes_used: f64,
    pub total_cost: f64,
    pub total_recording_cost: f64,
    pub total_llm_discount: f64,
    pub filters: SummaryFilters,
}

#[derive(Serialize, ToSchema)]
pub struct CallStatusView {
    pub call_id: String,
    pub status: CallStatus,
    pub duration_seconds: i64,
    pub started_at: String,
    pub ended_at: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordingQuery {
    /// Seconds the URL stays valid, 60–86400; default 3600.
    #[param(minimum = 60, maximum = 86400)]
    pub expires_in: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct Recording {
    pub url: String,
    pub expires_at: String,
}

/// Places an outbound call.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallCreate {
    pub agent_id: String,
    /// E.164 number to call. On the simulated carrier the last four digits pick
    /// the outcome: 0002 busy, 0003 no answer, 0004 voicemail, 0005 failed.
    pub to: String,
    /// E.164 caller id: a live number of the project (400 otherwise); default
    /// `+15550000000` on the simulated carrier. With `phone_number_id` it may be
    /// left out, or must be that number.
    pub from_number: Option<String>,
    /// A live number of the project (`pn_…`) to call from: its number is the
    /// caller id. 404 when it is not one (or was released).
    pub phone_number_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Simulated carrier only: what the callee does, `{"script": [steps]}` with
    /// steps `{"say": "…"}`, `{"dtmf": "12#"}`, `{"wait": seconds}`, `{"hangup": true}`.
    #[schema(value_type = Option<Object>)]
    pub simulation: Option<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct Success {
    pub success: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferBody {
    /// E.164 number to transfer to.
    pub destination: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TransferAccepted {
    pub success: bool,
    pub destination: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GatherBody {
    /// Text to speak.
    pub prompt: String,
    /// 1–20 digits; default 10.
    #[schema(minimum = 1, maximum = 20)]
    pub max_digits: Option<u32>,
    /// Digit that ends input early; default `#`.
    pub terminator: Option<String>,
    /// Seconds to wait for input, 5–60; default 15.
    #[schema(minimum = 5, maximum = 60)]
    pub timeout_seconds: Option<u64>,
    /// `female` or `male`.
    pub voice: Option<String>,
    /// BCP-47 language of the prompt; default `en-US`.
    pub language: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct GatherAccepted {
    pub message: String,
    /// The call's public id (not a number: Switchboard has no numeric ids).
    pub call_id: String,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_calls, create_call))
        .routes(routes!(summary))
        .routes(routes!(get_call))
        .routes(routes!(call_status))
        .routes(routes!(recording))
        .routes(routes!(end_call))
        .routes(routes!(transfer_call))
        .routes(routes!(gather))
        .routes(routes!(analyze_call))
}

fn date_bound(field: &str, value: Option<&str>, end: bool) -> Result<Option<i64>> {
    value
        .map(|v| {
            utc_day_bounds(v)
                .map(|(start, next)| if end { next } else { start })
                .ok_or_else(|| ApiError::invalid_field(field, "Must be a date YYYY-MM-DD."))
        })
        .transpose()
}

/// The store filter for the list's and the summary's query: dates checked,
/// and an agent id that is not an agent of the project refused rather than
/// answered with an empty result.
async fn filter(state: &AppState, scope: &ProjectScope, q: &SummaryQuery) -> Result<CallFilter> {
    let filter = CallFilter {
        agent_id: q.agent_id.clone(),
        status: q.status,
        disposition: q.disposition,
        from_ms: date_bound("from_date", q.from_date.as_deref(), false)?,
        until_ms: date_bound("to_date", q.to_date.as_deref(), true)?,
    };
    if let (Some(from), Some(until)) = (filter.from_ms, filter.until_ms)
        && from >= until
    {
        return Err(ApiError::invalid_field("to_date", "Must not be before from_date."));
    }
    if let Some(agent_id) = &filter.agent_id {
        if !IdKind::Agent.matches(agent_id) {
            let message = "Must be an agent id (`agent_…`); Switchboard has no numeric ids.";
            return Err(ApiError::invalid_field("agent_id", message));
        }
        state.store.agent(&scope.project_id, agent_id).await.or_not_found("Agent not found")?;
    }
    Ok(filter)
}

/// List calls, newest first. Transcripts and latency are left out.
#[utoipa::path(get, path = "/v1/calls", tag = "Calls", params(CallListQuery), responses((status = 200, body = CallList)))]
async fn list_calls(
    State(state): State<AppState>,
    scope: ProjectScope,
    Query(q): Query<CallListQuery>,
) -> Result<axum::Json<CallList>> {
    let limit = match q.limit {
        None => 50,
        Some(n) if (1..=100).contains(&n) => n,
        Some(_) => return Err(ApiError::invalid_field("limit", "Must be between 1 and 100.")),
    };
    let filters = SummaryQuery {
        agent_id: q.agent_id,
        status: q.status,
        disposition: q.disposition,
        from_date: q.from_date,
        to_date: q.to_date,
    };
    let filter = filter(&state, &scope, &filters).await?;
    let rows =
        state.store.calls(&scope.project_id, &filter, super::cursor(q.after.as_deref(), IdKind::Call)?, limit).await?;
    let (rows, next_cursor) = split_page(rows, limit, |r| &r.id);
    Ok(axum::Json(CallList { calls: rows.into_iter().map(|r| Call::view(r, false)).collect(), next_cursor }))
}

/// Place an outbound call with an agent, from `from_number` or from one of
/// the project's numbers (`phone_number_id`; 404 `NOT_FOUND` when it is not a
/// live number of the project, 400 when `from_number` differs from it).
#[utoipa::path(post, path = "/v1/calls", tag = "Calls", request_body = CallCreate,
    responses((status = 201, body = Call), (status = 404, description = "Agent or phone number not found", body = crate::error::ErrorBody), (status = 409, description = "`AGENT_UNAVAILABLE`: archived or inactive agent", body = crate::error::ErrorBody),
        (status = 429, description = "`CONCURRENT_CALL_LIMIT`", body = crate::error::ErrorBody)))]
async fn create_call(
    State(state): State<AppState>,
    scope: ProjectScope,
    Json(body): Json<CallCreate>,
) -> Result<impl IntoResponse> {
    let call = OutboundCall {
        agent_id: body.agent_id,
        to: body.to,
        from_number: body.from_number,
        phone_number_id: body.phone_number_id,
        metadata: body.metadata,
        options: body.simulation,
    };
    let record = state.calls.place(scope.tenant(), call).await?;
    Ok((StatusCode::CREATED, axum::Json(Call::view(record, false))))
}

/// Aggregate stats for a date range, over the calls `GET /v1/calls` would
/// list with the same filters (`agent_id`, `status`, `disposition`,
/// `from_date`, `to_date`).
#[utoipa::path(get, path = "/v1/calls/summary", tag = "Calls", params(SummaryQuery), responses((status = 200, body = CallSummary)))]
async fn summary(
    State(state): State<AppState>,
    scope: ProjectScope,
    Query(q): Query<SummaryQuery>,
) -> Result<axum::Json<CallSummary>> {
    let filter = filter(&state, &scope, &q).await?;
    let totals = state.store.call_totals(&scope.project_id, &filter).await?;
    Ok(axum::Json(CallSummary {
        total_calls: totals.total_calls,
        completed_calls: totals.completed_calls,
        failed_calls: totals.failed_calls,
        answered_calls: totals.answered_calls,
        no_answer_calls: totals.no_answer_calls,
        total_duration_seconds: totals.total_duration_seconds,
        total_minutes_used: totals.total_centi_minutes as f64 / 100.0,
        total_cost: to_eur(totals.total_cost),
        total_recording_cost: to_eur(totals.total_recording_cost),
        total_llm_discount: to_eur(totals.total_llm_discount),
        filters: SummaryFilters {
            agent_id: q.agent_id,
            status: q.status,
            disposition: q.disposition,
            from_date: q.from_date,
            to_date: q.to_date,
        },
    }))
}

/// The full call, with transcript and per-turn latency.
#[utoipa::path(get, path = "/v1/calls/{call_id}", tag = "Calls", params(("call_id" = String, Path)),
    responses((status = 200, body = Call)))]
async fn get_call(
    State(state): State<AppState>,
    scope: ProjectScope,
    Path(call_id): Path<String>,
) -> Result<axum::Json<Call>> {
    let row = state.store.call(&scope.project_id, &call_id).await.or_not_found("Call not found")?;
    Ok(axum::Json(Call::view(row, true)))
}

/// A live call's state, from memory while it is in progress.
#[utoipa::path(get, path = "/v1/calls/{call_id}/status", tag = "Calls", params(("call_id" = String, Path)),
    responses((status = 200, body = CallStatusView)))]
async fn call_status(
    State(state): State<AppState>,
    scope: ProjectScope,
    Path(call_id): Path<String>,
) -> Result<axum::Json<CallStatusView>> {
    let call = state.calls.status(scope.tenant(), &call_id).await?;
    Ok(axum::Json(CallStatusView {
        call_id: call.call_id,
        status: call.status,
        duration_seconds: call.duration_seconds,
        started_at: iso(call.started_at),
        ended_at: call.ended_at.map(iso),
    }))
}

/// A time-limited URL of the call's recording.
#[utoipa::path(get, path = "/v1/calls/{call_id}/recording", tag = "Calls", params(("call_id" = String, Path), RecordingQuery),
    responses((status = 200, body = Recording),
        (status = 404, description = "\"Recording was not enabled for this call\" or \"Recording not yet available\"", body = crate::error::ErrorBody)))]
async fn recording(
    State(state): State<AppState>,
    scope: ProjectScope,
    Path(call_id): Path<String>,
    Query(q): Query<RecordingQuery>,
) -> Result<axum::Json<Recording>> {
    if q.expires_in.is_some_and(|s| !(60..=86_400).contains(&s)) {
        return Err(ApiError::invalid_field("expires_in", "Must be between 60 and 86400."));
    }
    let row = state.store.call(&scope.project_id, &call_id).await.or_not_found("Call not found")?;
    if !row.recording_enabled {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "RECORDING_NOT_ENABLED",
            "Recording was not enabled for this call",
        ));
    }
    // Audio capture arrives with the audio transports; until a call has
    // recorded audio there is nothing to sign a URL for.
    Err(ApiError::new(StatusCode::NOT_FOUND, "RECORDING_NOT_AVAILABLE", "Recording not yet available"))
}

/// Analyse an ended call again, with the agent's current model and
/// `success_criteria`: the new analysis replaces the old one, is returned, and
/// `analysis.complete` is emitted again.
#[utoipa::path(post, path = "/v1/calls/{call_id}/analyze", tag = "Calls", params(("call_id" = String, Path)),
    responses((status = 200, body = CallAnalysis),
        (status = 404, description = "Call not found", body = crate::error::ErrorBody),
        (status = 409, description = "`CALL_NOT_ENDED`: the call is live; `CALL_NOT_ANSWERED`: it was never answered, so there is nothing to analyse", body = crate::error::ErrorBody)))]
async fn analyze_call(
    State(state): State<AppState>,
    scope: ProjectScope,
    Path(call_id): Path<String>,
) -> Result<axum::Json<CallAnalysis>> {
    Ok(axum::Json(state.calls.analyse(scope.tenant(), &call_id).await?))
}

/// End a live call (`ended_reason: api`); a ringing call is canceled.
#[utoipa::path(post, path = "/v1/calls/{call_id}/end", tag = "Calls", params(("call_id" = String, Path)),
    responses((status = 200, body = Success), (status = 409, description = "Call is not in progress", body = crate::error::ErrorBody)))]
async fn end_call(
    State(state): State<AppState>,
    scope: ProjectScope,
    Path(call_id): Path<String>,
) -> Result<axum::Json<Success>> {
    state.calls.command(scope.tenant(), &call_id, CallCommand::End).await?;
    Ok(axum::Json(Success { success: true }))
}

/// Transfer a live call to a phone number.
#[utoipa::path(post, path = "/v1/calls/{call_id}/transfer", tag = "Calls", params(("call_id" = String, Path)),
    request_body = TransferBody,
    responses((status = 200, body = TransferAccepted), (status = 409, description = "Call is not in progress", body = crate::error::ErrorBody),
        (status = 422, description = "Transfer failed: <reason>", body = crate::error::ErrorBody)))]
async fn transfer_call(
    State(state): State<AppState>,
    scope: ProjectScope,
    Path(call_id): Path<String>,
    Json(body): Json<TransferBody>,
) -> Result<axum::Json<TransferAccepted>> {
    let destination = body.destination.as_deref().and_then(E164::parse).ok_or_else(|| {
        let mut err = ApiError::invalid_field("destination", "destination must be a valid E.164 phone number");
        err.message = "destination must be a valid E.164 phone number".into();
        err
    })?;
    let command = CallCommand::Transfer { destination: destination.to_string() };
    state.calls.command(scope.tenant(), &call_id, command).await?;
    Ok(axum::Json(TransferAccepted { success: true, destination: destination.into_string() }))
}

/// Say a prompt and collect keypad digits; the result lands on the call
/// (`metadata.gather_results`) and in the `call.gather.completed` event
/// (`status` `completed`, `timeout`, or `cancelled` when the call is
/// transferred or ends first).
///
/// The 202 answer's `call_id` is the call's public id (`call_…`), the one
/// every path and event uses. Staffify answers an internal number there;
/// Switchboard has no numeric ids, so a number could be used nowhere.
#[utoipa::path(post, path = "/v1/calls/{call_id}/gather", tag = "Calls", params(("call_id" = String, Path)),
    request_body = GatherBody,
    responses((status = 202, body = GatherAccepted),
        (status = 409, description = "\"A gather operation is already in progress for this call\" or \"Call is not active\"", body = crate::error::ErrorBody)))]
async fn gather(
    State(state): State<AppState>,
    scope: ProjectScope,
    Path(call_id): Path<String>,
    Json(body): Json<GatherBody>,
) -> Result<impl IntoResponse> {
    let mut errors = validation::FieldErrors::new();
    errors.check("prompt", validation::required_text(&body.prompt, 2000));
    let max_digits = body.max_digits.unwrap_or(10);
    errors.check("max_digits", validation::in_range(i64::from(max_digits), 1, 20));
    let timeout_seconds = body.timeout_seconds.unwrap_or(15);
    errors.check("timeout_seconds", validation::in_range(timeout_seconds as i64, 5, 60));
    let terminator = match body.terminator.as_deref() {
        None => Dtmf::parse('#'),
        Some("") => None,
        Some(key) => Dtmf::parse_one(key).or_else(|| {
            errors.add("terminator", DTMF_PROBLEM);
            None
        }),
    };
    if body.voice.as_deref().is_some_and(|v| v != "female" && v != "male") {
        errors.add("voice", "Must be female or male.");
    }
    if let Some(language) = &body.language {
        errors.check("language", validation::language(language));
    }
    errors.finish().map_err(ApiError::validation)?;
    let request = GatherRequest { prompt: body.prompt, max_digits: max_digits as usize, terminator, timeout_seconds };
    state.calls.command(scope.tenant(), &call_id, CallCommand::Gather(request)).await.map_err(|err| match err {
        CallError::Control(ControlError::NotInProgress) => {
            ApiError::conflict("CALL_NOT_IN_PROGRESS", "Call is not active")
        }
        other => other.into(),
    })?;
    Ok((StatusCode::ACCEPTED, axum::Json(GatherAccepted { message: "Gather initiated".into(), call_id })))
}
