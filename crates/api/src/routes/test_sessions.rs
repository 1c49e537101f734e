//! `/v1/test/voice`: text test sessions with an agent — no phone call, no
//! recording, no server_url calls unless asked for — expiring after three
//! minutes idle.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_domain::phone::E164;
use switchboard_domain::validation::{self, FieldErrors};
use switchboard_runtime::call::test_sessions::TestStart;
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
    /// Run the agent's server_url as a call would: `call.started` configures
    /// the session and the model's server_url tools are called through
    /// `tool.call`. Default `false`: no request reaches the server_url.
    #[serde(default)]
    pub use_server_url: bool,
    /// The caller's E.164 number, by which caller memory recognises them (and
    /// the `from` of `call.started`). Nothing is saved to memory.
    pub from_number: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TestStarted {
    pub session_id: String,
    pub greeting: String,
}

/// A tool the agent called while answering.
#[derive(Serialize, ToSchema)]
pub struct TestToolCall {
    pub name: String,
    #[schema(value_type = Object)]
    pub arguments: Value,
}

/// The agent's answer to one message.
#[derive(Serialize, ToSchema)]
pub struct TestReply {
    pub response: String,
    /// True when the agent ended the conversation (hung up or transferred).
    pub ended: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<TestToolCall>,
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
    if body.from_number.as_deref().is_some_and(|n| E164::parse(n).is_none()) {
        errors.add("from_number", "Must be a valid E.164 phone number.");
    }
    errors.finish().map_err(ApiError::validation)?;
    let start = TestStart {
        agent_id: body.agent_id,
        system_prompt: body.system_prompt,
        first_message: body.first_message,
        language: body.language,
        use_server_url: body.use_server_url,
        from_number: body.from_number,
    };
    let (session_id, greeting) = state.calls.start_test(scope.tenant(), start).await?;
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
    let reply = state.calls.tests().message(&scope.project_id, &session_id, &body.message).await;
    let reply = reply.ok_or_else(session_not_found)?;
    let tool_calls =
        reply.tools.into_iter().map(|tool| TestToolCall { name: tool.name, arguments: tool.arguments }).collect();
    Ok(axum::Json(TestReply { response: reply.response, ended: reply.ended, tool_calls }))
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
    if state.calls.tests().delete(&scope.project_id, &session_id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(session_not_found())
    }
}
