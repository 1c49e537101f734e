//! `/v1/agents`: agent CRUD, clone, archive/restore, webhook-secret rotation and
//! the audit log.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_domain::agent::{LlmConfig, VoicemailConfig};
use switchboard_domain::ids::IdKind;
use switchboard_domain::keys::secret_hint;
use switchboard_domain::page::{resolve_limit, split_page};
use switchboard_domain::time::iso;
use switchboard_domain::validation;
use switchboard_store::agents::{AgentRow, ArchiveFilter, AuditRow};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ProjectScope;
use crate::error::{ApiError, OrNotFound, Result};
use crate::extract::{Json, OptionalJson, Path, Query};
use crate::state::AppState;

mod bodies;

pub use bodies::{AgentCreate, AgentPatch};

/// An AI voice agent.
#[derive(Serialize, ToSchema)]
pub struct Agent {
    pub id: String,
    /// Same as `id` (Staffify's name for it).
    pub public_id: String,
    pub name: String,
    pub language: String,
    pub voice: String,
    pub max_duration: i64,
    pub recording: bool,
    pub end_call_enabled: bool,
    /// Whether the agent books appointments in calls (model tools, or the
    /// embedded brain's booking flow).
    pub appointments_enabled: bool,
    pub server_url: Option<String>,
    pub webhook_url: Option<String>,
    /// Masked tail of the webhook signing secret.
    pub webhook_secret_hint: String,
    /// The full signing secret, only in the response that created it (create,
    /// clone, rotate-webhook-secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
    pub system_prompt: Option<String>,
    pub first_message: Option<String>,
    /// What a successful call achieves; post-call analysis judges against it.
    pub success_criteria: Option<String>,
    pub llm: Option<LlmConfig>,
    pub silence_timeout_seconds: i64,
    pub voicemail: VoicemailConfig,
    pub knowledge_base_ids: Vec<String>,
    pub is_active: bool,
    /// When the agent was archived; archived agents take no calls.
    pub archived_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl Agent {
    fn view(row: AgentRow, show_secret: bool) -> Self {
        let s = row.settings;
        Agent {
            public_id: row.id.clone(),
            id: row.id,
            name: s.name,
            language: s.language,
            voice: s.voice,
            max_duration: s.max_duration,
            recording: s.recording,
            end_call_enabled: s.end_call_enabled,
            appointments_enabled: s.appointments_enabled,
            server_url: s.server_url,
            webhook_url: s.webhook_url,
            webhook_secret_hint: secret_hint(&row.webhook_secret),
            webhook_secret: show_secret.then_some(row.webhook_secret),
            system_prompt: s.system_prompt,
            first_message: s.first_message,
            success_criteria: s.success_criteria,
            llm: s.llm,
            silence_timeout_seconds: s.silence_timeout_seconds,
            voicemail: s.voicemail,
            knowledge_base_ids: s.knowledge_base_ids,
            is_active: s.is_active,
            archived_at: row.archived_at.map(iso),
            created_at: iso(row.created_at),
            updated_at: iso(row.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AgentList {
    pub agents: Vec<Agent>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AgentListQuery {
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
    /// Page size, 1–100; default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `true` lists archived agents (only); by default they are left out.
    pub archived: Option<bool>,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct AgentClone {
    /// Name of the copy; default `<name> (copy)`.
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
}

/// One change to an agent.
#[derive(Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: String,
    pub agent_id: String,
    /// `created`, `cloned`, `updated`, `archived`, `restored` or `webhook_secret_rotated`.
    pub action: String,
    /// The API key that made the change.
    pub key_id: Option<String>,
    /// Field → `{"from", "to"}`.
    #[schema(value_type = Object)]
    pub changes: Value,
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct AuditLog {
    pub entries: Vec<AuditEntry>,
    pub next_cursor: Option<String>,
}

impl From<AuditRow> for AuditEntry {
    fn from(r: AuditRow) -> Self {
        AuditEntry {
            id: r.id,
            agent_id: r.agent_id,
            action: r.action,
            key_id: r.key_id,
            changes: r.changes,
            created_at: iso(r.created_at),
        }
    }
}

/// Refuses knowledge-base ids the org does not have (ids of the wrong shape
/// are left to the settings' validation, which names them).
async fn known_knowledge_bases(state: &AppState, org_id: &str, ids: &[String]) -> Result<()> {
    if ids.len() > 20 || !ids.iter().all(|id| IdKind::KnowledgeBase.matches(id)) {
        return Ok(());
    }
    match state.store.missing_knowledge_bases(org_id, ids).await?.first() {
        Some(id) => Err(ApiError::invalid_field("knowledge_base_ids", format!("Unknown knowledge base: {id}."))),
        None => Ok(()),
    }
}

fn limit(requested: Option<u32>) -> Result<u32> {
    resolve_limit(requested).map_err(|m| ApiError::invalid_field("limit", m))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_agents, create_agent))
        .routes(routes!(get_agent, patch_agent, delete_agent))
        .routes(routes!(clone_agent))
        .routes(routes!(rotate_webhook_secret))
        .routes(routes!(audit_log))
        .routes(routes!(archive_agent))
        .routes(routes!(restore_agent))
}

/// List agents, newest first.
#[utoipa::path(get, path = "/v1/agents", tag = "Agents", params(AgentListQuery), responses((status = 200, body = AgentList)))]
async fn list_agents(
    State(state): State<AppState>,
    scope: ProjectScope,
    Query(q): Query<AgentListQuery>,
) -> Result<axum::Json<AgentList>> {
    let limit = limit(q.limit)?;
    let filter = if q.archived.unwrap_or(false) { ArchiveFilter::Archived } else { ArchiveFilter::Active };
    let rows =
        state.store.agents(&scope.project_id, filter, super::cursor(q.after.as_deref(), IdKind::Agent)?, limit).await?;
    let (rows, next_cursor) = split_page(rows, limit, |r| &r.id);
    Ok(axum::Json(AgentList { agents: rows.into_iter().map(|r| Agent::view(r, false)).collect(), next_cursor }))
}

/// Create an agent. The response carries the webhook signing secret, once.
#[utoipa::path(post, path = "/v1/agents", tag = "Agents", request_body = AgentCreate,
    responses((status = 201, body = Agent)))]
async fn create_agent(
    State(state): State<AppState>,
    scope: ProjectScope,
    Json(body): Json<AgentCreate>,
) -> Result<impl IntoResponse> {
    let mut settings = body.into_settings();
    settings.name = settings.name.trim().to_owned();
    settings.validate(&state.voices, state.settings.dev).map_err(ApiError::validation)?;
    known_knowledge_bases(&state, scope.org_id(), &settings.knowledge_base_ids).await?;
    let row =
        state.store.create_agent(scope.org_id(), &scope.project_id, &settings, Some(&scope.caller.key_id)).await?;
    Ok((StatusCode::CREATED, axum::Json(Agent::view(row, true))))
}

/// Get an agent.
#[utoipa::path(get, path = "/v1/agents/{agent_id}", tag = "Agents", params(("agent_id" = String, Path)),
    responses((status = 200, body = Agent)))]
async fn get_agent(
    State(state): State<AppState>,
    scope: ProjectScope,
    Path(agent_id): Path<String>,
) -> Result<Response> {
    let agent = state.cache.agent(&state.store, &scope.project_id, &agent_id).await.or_not_found("Agent not found")?;
    // A cached copy keeps the body its first reader rendered.
    let body = match agent.body.get() {
        Some(body) => body.clone(),
        None => {
            let rendered = serde_json::to_vec(&Agent::view(agent.row.clone(), false)).map_err(ApiError::internal)?;
            agent.body.get_or_init(|| Bytes::from(rendered)).clone()
        }
    };
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response())
}

/// Update an agent: only the fields sent change; `null` clears a nullable field.
#[utoipa::path(patch, path = "/v1/agents/{agent_id}", tag = "Agents", params(("agent_id" = String, Path)),
    request_body = AgentPatch, responses((status = 200, body = Agent)))]
async fn patch_agent(
    State(state): State<AppState>,
    scope: ProjectScope,
    Path(agent_id): Path<String>,
    Json(patch): Json<AgentPatch>,
) -> Result<axum::Json<Agent>> {
    if let Some(ids) = &patch.knowledge_base_ids {
        known_knowledge_bases(&state, scope.org_id(), ids).await?;
    }
    let (voices, dev) = (&state.voices, state.settings.dev);
    let outcome = state
        .store
        .update_agent(&scope.project_id, &agent_id, Some(&scope.caller.key_id), |current| {
            let mut next = patch.apply(current);
            next.name = next.name.trim().to_owned();
            next.validate(voices, dev).map(|()| next)
        })
        .await
        .or_not_found("Agent not found")?;
    let row = outcome.map_err(ApiError::validation)?;
    Ok(axum::Json(Agent::view(row, false)))
}

/// Delete an agent. Refused with 409 while the agent has calls in progress.
#[utoipa::path(delete, path = "/v1/agents/{agent_id}", tag = "Agents", params(("agent_id" = String, Path)),
    responses((status = 204, description = "Deleted")))]
async fn delete_agent(
    State(state): State<AppState>,
    scope: ProjectScope,
    Path(agent_id): Path<String>,
) -> Result<StatusCode> {
    state.store.agent(&scope.project_id, &agent_id).await.or_not_found("Agent not found")?;
    let active = state.calls.live_calls_of_agent(scope.tenant(), &agent_id);
    if active > 0 {
        return Err(ApiError::conflict(
            "AGENT_HAS_ACTIVE_CALLS",
            format!("Agent has {active} active call(s); end them before deleting the agent."),
        ));
    }
    state.store.delete_agent(&scope.project_id, &agent_id).await.or_not_found("Agent not found")?;
    Ok(StatusCode::NO_CONTENT)
}

/// Clone an agent with all its settings and knowledge bases.
#[utoipa::path(post, path = "/v1/agents/{agent_id}/clone", tag = "Agents", params(("agent_id" = String, Path)),
    request_body(content = Option<AgentClone>, description = "Optional"), responses((status = 201, body = Agent)))]
async fn clone_agent(
    State(state): State<AppState>,
    scope: ProjectScope,
    Path(agent_id): Path<String>,
    OptionalJson(body): OptionalJson<AgentClone>,
) -> Result<impl IntoResponse> {
    let name = body.unwrap_or_default().name.map(|n| n.trim().to_owned());
    if let Some(name) = &name {
        validation::required_text(name, 100).map_err(|m| ApiError::invalid_field("name", m))?;
    }
    let row = state
        .store
        .clone_agent(&scope.project_id, &agent_id, name, Some(&scope.caller.key_id))
        .await
        .or_not_found("Agent not found")?;
    Ok((StatusCode::CREATED, axum::Json(Agent::view(row, true))))
}

/// Issue a new webhook signing secret; the old one stops working immediately.
/// The response carries the new secret, once.
#[utoipa::path(post, path = "/v1/agents/{agent_id}/rotate-webhook-secret", tag = "Agents",
    params(("agent_id" = String, Path)), responses((status = 200, body = Agent)))]
async fn rotate_webhook_secret(
    State(state): State<AppState>,
    scope: ProjectScope,
    Path(agent_id): Path<String>,
) -> Result<axum::Json<Agent>> {
    let row = state
        .store
        .rotate_agent_secret(&scope.project_id, &agent_id, Some(&scope.caller.key_id))
        .await
        .or_not_found("Agent not found")?;
    Ok(axum::Json(Agent::view(row, true)))
}

/// The agent's change history, newest first.
#[utoipa::path(get, path = "/v1/agents/{agent_id}/audit-log", tag = "Agents",
    params(("agent_id" = String, Path), super::PageQuery), responses((status = 200, body = AuditLog)))]
async fn audit_log(
    State(state): State<AppState>,
    scope: ProjectScope,
    Path(agent_id): Path<String>,
    Query(page): Query<super::PageQuery>,
) -> Result<axum::Json<AuditLog>> {
    let limit = limit(page.limit)?;
    let rows = state
        .store
        .agent_audit(&scope.project_id, &agent_id, super::cursor(page.after.as_deref(), IdKind::AuditEntry)?, limit)
        .await
        .or_not_found("Agent not found")?;
    let (rows, next_cursor) = split_page(rows, limit, |r| &r.id);
    Ok(axum::Json(AuditLog { entries: rows.into_iter().map(AuditEntry::from).collect(), next_cursor }))
}

/// Archive an agent so it stops taking calls. Archiving twice keeps the first
/// `archived_at`.
#[utoipa::path(post, path = "/v1/agents/{agent_id}/archive", tag = "Agents", params(("agent_id" = String, Path)),
    responses((status = 200, body = Agent)))]
async fn archive_agent(
    State(state): State<AppState>,
    scope: ProjectScope,
    Path(agent_id): Path<String>,
) -> Result<axum::Json<Agent>> {
    set_archived(&state, &scope, &agent_id, true).await
}

/// Restore an archived agent.
#[utoipa::path(post, path = "/v1/agents/{agent_id}/restore", tag = "Agents", params(("agent_id" = String, Path)),
    responses((status = 200, body = Agent)))]
async fn restore_agent(
    State(state): State<AppState>,
    scope: ProjectScope,
    Path(agent_id): Path<String>,
) -> Result<axum::Json<Agent>> {
    set_archived(&state, &scope, &agent_id, false).await
}

async fn set_archived(
    state: &AppState,
    scope: &ProjectScope,
    agent_id: &str,
    archived: bool,
) -> Result<axum::Json<Agent>> {
    let row = state
        .store
        .set_agent_archived(&scope.project_id, agent_id, archived, Some(&scope.caller.key_id))
        .await
        .or_not_found("Agent not found")?;
    Ok(axum::Json(Agent::view(row, false)))
}
