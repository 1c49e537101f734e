//! `/v1/test/voice`: text test sessions with an agent — no phone call, no
//! server_url calls, no recording — expiring after three minutes idle.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use switchboard_domain::validation::{self, FieldErrors};
use switchboard_runtime::test_session::TestReply;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ProjectScope;
use crate::error::{ApiError, Result};
use crate::extract::{Json, Path};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestStartBody {
    pub agent_id: String,
    /// The prompt for this session; the agent's stored prompt is not loaded.
    pub system_prompt: Option<String>,
    /// Overrides the agent's greeting.
    pub first_message: Option<String>,
    /// Overrides the agent's language, e.g. `en-US`.
    pub language: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TestStarted {
    pub session_id: String,
    pub greeting: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestMessage {
    #[schema(min_length = 1, max_length = 4000)]
    pub message: String,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(start_session)).routes(routes!(send_message)).routes(routes!(end_session))
}

fn session_not_found() -> ApiError {
    ApiError::not_found("Session not found")
}

/// Start a text session with an agent.
#[utoipa::path(post, path = "/v1/test/voice", tag = "Test sessions", request_body = TestStartBody,
    responses((status = 200, body = TestStarted)))]
async fn start_session(
    State(state): State<AppState>,
    scope: ProjectScope,
    Json(body): Json<TestStartBody>,
) -> Result<axum::Json<TestStarted>> {
    let mut errors = FieldErrors::new();
    if let Some(language) = &body.language {
        errors.check("language", validation::language(language));
    }
    if let Some(prompt) = &body.system_prompt {
        errors.check("system_prompt", validation::optional_text(prompt, 50_000));
    }
    if let Some(message) = &body.first_message {
        errors.check("first_message", validation::optional_text(message, 2_000));
    }
    errors.finish().map_err(ApiError::validation)?;
    let agent = state.store.agent(&scope.project_id, &body.agent_id).await.map_err(|e| match e {
        switchboard_store::Error::NotFound => ApiError::not_found("Agent not found"),
        other => other.into(),
    })?;
    let (session_id, greeting) =
        state.engine.start_test(&scope.project_id, &agent, body.system_prompt, body.first_message);
    Ok(axum::Json(TestStarted { session_id, greeting }))
}

/// Send the agent a message and get its reply.
#[utoipa::path(post, path = "/v1/test/voice/{session_id}/message", tag = "Test sessions",
    params(("session_id" = String, Path)), request_body = TestMessage,
    responses((status = 200, body = TestReply), (status = 404, description = "Session not found", body = crate::error::ErrorBody)))]
async fn send_message(
    State(state): State<AppState>,
    scope: ProjectScope,
    Path(session_id): Path<String>,
    Json(body): Json<TestMessage>,
) -> Result<axum::Json<TestReply>> {
    validation::required_text(&body.message, 4000).map_err(|m| ApiError::invalid_field("message", m))?;
    let reply = state.engine.test_sessions().message(&scope.project_id, &session_id, &body.message).await;
    reply.map(axum::Json).ok_or_else(session_not_found)
}

/// End a session and free it.
#[utoipa::path(delete, path = "/v1/test/voice/{session_id}", tag = "Test sessions",
    params(("session_id" = String, Path)),
    responses((status = 204, description = "Ended"), (status = 404, description = "Session not found", body = crate::error::ErrorBody)))]
async fn end_session(
    State(state): State<AppState>,
    scope: ProjectScope,
    Path(session_id): Path<String>,
) -> Result<StatusCode> {
    if state.engine.test_sessions().delete(&scope.project_id, &session_id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(session_not_found())
    }
}
