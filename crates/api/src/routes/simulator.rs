//! `/v1/simulator/calls`: inject an inbound call on the simulated carrier, with
//! a script for the caller, as a carrier's test mode would.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::Value;
use switchboard_runtime::call::transports::simulated::{RingIn, ring_in};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ProjectScope;
use crate::error::Result;
use crate::extract::Json;
use crate::routes::calls::Call;
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
    pub script: Value,
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
    let call = RingIn { agent_id: body.agent_id, from: body.from, to: body.to, script: body.script };
    let record = ring_in(&state.calls, scope.tenant(), call).await?;
    Ok((StatusCode::CREATED, axum::Json(Call::view(record, false))))
}
