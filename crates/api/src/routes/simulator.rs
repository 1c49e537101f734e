//! `/v1/simulator/calls`: inject an inbound call on the simulated carrier, with
//! a script for the caller, as a carrier's test mode would.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::Value;
use switchboard_domain::call::{Direction, EndedReason};
use switchboard_domain::validation::{FieldErrors, is_e164};
use switchboard_runtime::sim::script::{self, CallerScript};
use switchboard_store::phone_numbers::Dialled;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ProjectScope;
use crate::error::{ApiError, Result};
use crate::extract::Json;
use crate::routes::calls::{Call, CallEnds, start_call};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InboundCall {
    /// The agent that answers. Without it the call is routed by `to`, which
    /// must then be a number of the project.
    pub agent_id: Option<String>,
    /// The caller's E.164 number.
    pub from: String,
    /// The dialled E.164 number; default `+15550000001` when `agent_id` is given.
    pub to: Option<String>,
    /// What the caller says and does: `{"say": "…"}`, `{"dtmf": "1"}`,
    /// `{"wait": seconds}`, `{"hangup": true}`. Without a hang-up the caller
    /// stays on the line silently.
    #[schema(value_type = Vec<Object>)]
    pub script: CallerScript,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(inject_inbound_call))
}

/// Inject an inbound call on the simulated carrier. With `agent_id`, that
/// agent answers whatever `to` is. Without it, the call is routed as a carrier
/// would route it by the dialled number `to`: a live number of the project
/// goes to its assigned agent; an owned number with no agent is `rejected`
/// with `ended_reason: number-unassigned`, a number the project released is
/// `rejected` with `number-released` (no agent, nothing billed, `call.failed`
/// emitted); any other number is 404 `NOT_FOUND`. A call over the org's
/// concurrent-call limit, for a paused org, or to an archived or inactive agent
/// is recorded as `rejected`.
#[utoipa::path(post, path = "/v1/simulator/calls", tag = "Simulator", request_body = InboundCall,
    responses((status = 201, body = Call),
        (status = 404, description = "`NOT_FOUND`: no `agent_id`, and `to` is not a number of the project", body = crate::error::ErrorBody)))]
async fn inject_inbound_call(
    State(state): State<AppState>,
    scope: ProjectScope,
    Json(body): Json<InboundCall>,
) -> Result<impl IntoResponse> {
    let to = match (&body.agent_id, body.to) {
        (_, Some(to)) => to,
        (Some(_), None) => "+15550000001".into(),
        (None, None) => {
            return Err(ApiError::invalid_field(
                "agent_id",
                "Required unless `to` is a phone number of this project that routes the call.",
            ));
        }
    };
    let mut errors = FieldErrors::new();
    if !is_e164(&body.from) {
        errors.add("from", "Must be a valid E.164 phone number.");
    }
    if !is_e164(&to) {
        errors.add("to", "Must be a valid E.164 phone number.");
    }
    errors.check("script", script::validate(&body.script));
    errors.finish().map_err(ApiError::validation)?;
    let agent_id = match body.agent_id {
        Some(agent_id) => agent_id,
        None => {
            let reason = match state.store.dialled(&scope.project_id, &to).await? {
                Dialled::Live(number) => number.agent_id.ok_or(EndedReason::NumberUnassigned),
                Dialled::Released => Err(EndedReason::NumberReleased),
                Dialled::Unknown => {
                    return Err(ApiError::not_found(format!(
                        "{to} is not a phone number of this project; pass agent_id or dial one of its numbers."
                    )));
                }
            };
            match reason {
                Ok(agent_id) => agent_id,
                Err(reason) => {
                    let row = state
                        .store
                        .record_unrouted_call(scope.org_id(), &scope.project_id, &body.from, &to, reason)
                        .await?;
                    return Ok((StatusCode::CREATED, axum::Json(Call::view(row, false))));
                }
            }
        }
    };
    let ends =
        CallEnds { direction: Direction::Inbound, from: body.from, to, metadata: Value::Object(Default::default()) };
    let row = start_call(&state, &scope, &agent_id, ends, Some(body.script)).await?;
    Ok((StatusCode::CREATED, axum::Json(Call::view(row, false))))
}
