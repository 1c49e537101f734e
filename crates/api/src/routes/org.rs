//! Org-level routes (org key required): projects and API keys.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use switchboard_domain::keys::KeyScope;
use switchboard_domain::time::iso;
use switchboard_domain::validation::{self, FieldErrors};
use switchboard_store::keys::KeyRow;
use switchboard_store::projects::ProjectRow;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::OrgScope;
use crate::error::{ApiError, OrNotFound, Result};
use crate::extract::{Json, OptionalJson, Path};
use crate::state::AppState;

/// A project as seen at org level.
#[derive(Serialize, ToSchema)]
pub struct Project {
    pub id: String,
    /// Numeric id; present on `/v1/org/projects*` responses only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub internal_id: Option<i64>,
    pub name: String,
    pub description: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl Project {
    pub fn org_view(p: ProjectRow) -> Self {
        Project {
            id: p.id,
            internal_id: Some(p.internal_id),
            name: p.name,
            description: p.description,
            created_at: iso(p.created_at),
            updated_at: iso(p.updated_at),
        }
    }

    pub fn project_view(p: ProjectRow) -> Self {
        Project { internal_id: None, ..Self::org_view(p) }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ProjectList {
    pub projects: Vec<Project>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectCreate {
    /// 1–100 characters.
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    #[schema(max_length = 1000)]
    pub description: Option<String>,
}

/// An API key; the raw `key` appears only in the response that created it.
#[derive(Serialize, ToSchema)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub scope: KeyScope,
    /// The key's prefix and last four characters.
    pub key_hint: String,
    /// The project the key belongs to; `null` for org keys.
    pub project_id: Option<String>,
    pub created_at: String,
    pub last_used_at: Option<String>,
    /// The raw key, shown once on creation. Store it now: it cannot be shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyList {
    pub api_keys: Vec<ApiKey>,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyCreate {
    /// A label for the key; default `API key`.
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    /// `full` (default) or `read` (GET only).
    pub scope: Option<KeyScope>,
}

fn key_view(state: &AppState, k: KeyRow, raw: Option<String>) -> ApiKey {
    let last_used_at = state.key_use.merged(&k.id, k.last_used_at).map(iso);
    ApiKey {
        id: k.id,
        name: k.name,
        scope: k.scope,
        key_hint: k.hint,
        project_id: k.project_id,
        created_at: iso(k.created_at),
        last_used_at,
        key: raw,
    }
}

const NAME_MAX: usize = 100;
const DESCRIPTION_MAX: usize = 1000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_projects, create_project))
        .routes(routes!(get_project, delete_project))
        .routes(routes!(list_project_keys, create_project_key))
        .routes(routes!(revoke_project_key))
        .routes(routes!(list_org_keys, create_org_key))
        .routes(routes!(revoke_org_key))
}

/// List the org's projects, newest first.
#[utoipa::path(get, path = "/v1/org/projects", tag = "Organization", responses((status = 200, body = ProjectList)))]
async fn list_projects(State(state): State<AppState>, OrgScope(caller): OrgScope) -> Result<axum::Json<ProjectList>> {
    let projects = state.store.projects(&caller.org.id).await?;
    Ok(axum::Json(ProjectList { projects: projects.into_iter().map(Project::org_view).collect() }))
}

/// Create a project.
#[utoipa::path(post, path = "/v1/org/projects", tag = "Organization", request_body = ProjectCreate,
    responses((status = 201, body = Project)))]
async fn create_project(
    State(state): State<AppState>,
    OrgScope(caller): OrgScope,
    Json(body): Json<ProjectCreate>,
) -> Result<impl IntoResponse> {
    let mut errors = FieldErrors::new();
    errors.check("name", validation::required_text(&body.name, NAME_MAX));
    if let Some(d) = &body.description {
        errors.check("description", validation::optional_text(d, DESCRIPTION_MAX));
    }
    errors.finish().map_err(ApiError::validation)?;
    let project = state.store.create_project(&caller.org.id, body.name.trim(), body.description.as_deref()).await?;
    Ok((StatusCode::CREATED, axum::Json(Project::org_view(project))))
}

/// Get a project by public id or numeric id.
#[utoipa::path(get, path = "/v1/org/projects/{project_id}", tag = "Organization",
    params(("project_id" = String, Path, description = "Public id (`proj_…`) or numeric id")),
    responses((status = 200, body = Project)))]
async fn get_project(
    State(state): State<AppState>,
    OrgScope(caller): OrgScope,
    Path(project_id): Path<String>,
) -> Result<axum::Json<Project>> {
    let project = state.store.project(&caller.org.id, &project_id).await.or_not_found("Project not found")?;
    Ok(axum::Json(Project::org_view(project)))
}

/// Delete a project. All of its keys stop working immediately.
#[utoipa::path(delete, path = "/v1/org/projects/{project_id}", tag = "Organization",
    params(("project_id" = String, Path, description = "Public id (`proj_…`) or numeric id")),
    responses((status = 204, description = "Deleted")))]
async fn delete_project(
    State(state): State<AppState>,
    OrgScope(caller): OrgScope,
    Path(project_id): Path<String>,
) -> Result<StatusCode> {
    state.store.delete_project(&caller.org.id, &project_id).await.or_not_found("Project not found")?;
    Ok(StatusCode::NO_CONTENT)
}

/// List a project's API keys.
#[utoipa::path(get, path = "/v1/org/projects/{project_id}/api-keys", tag = "Organization",
    params(("project_id" = String, Path, description = "Public id or numeric id")),
    responses((status = 200, body = ApiKeyList)))]
async fn list_project_keys(
    State(state): State<AppState>,
    OrgScope(caller): OrgScope,
    Path(project_id): Path<String>,
) -> Result<axum::Json<ApiKeyList>> {
    let keys = state.store.project_keys(&caller.org.id, &project_id).await.or_not_found("Project not found")?;
    Ok(axum::Json(ApiKeyList { api_keys: keys.into_iter().map(|k| key_view(&state, k, None)).collect() }))
}

fn key_name(body: &ApiKeyCreate) -> Result<String> {
    let name = body.name.clone().unwrap_or_else(|| "API key".into());
    validation::required_text(&name, NAME_MAX).map_err(|m| ApiError::invalid_field("name", m))?;
    Ok(name.trim().to_owned())
}

/// Create a project API key. The raw key is returned once, in this response.
#[utoipa::path(post, path = "/v1/org/projects/{project_id}/api-keys", tag = "Organization",
    params(("project_id" = String, Path, description = "Public id or numeric id")),
    request_body(content = Option<ApiKeyCreate>, description = "Optional"),
    responses((status = 201, body = ApiKey)))]
async fn create_project_key(
    State(state): State<AppState>,
    OrgScope(caller): OrgScope,
    Path(project_id): Path<String>,
    OptionalJson(body): OptionalJson<ApiKeyCreate>,
) -> Result<impl IntoResponse> {
    let body = body.unwrap_or_default();
    let name = key_name(&body)?;
    let scope = body.scope.unwrap_or(KeyScope::Full);
    let (key, raw) = state
        .store
        .create_project_key(&caller.org.id, &project_id, &name, scope)
        .await
        .or_not_found("Project not found")?;
    Ok((StatusCode::CREATED, axum::Json(key_view(&state, key, Some(raw)))))
}

/// Revoke a project API key.
#[utoipa::path(delete, path = "/v1/org/projects/{project_id}/api-keys/{key_id}", tag = "Organization",
    params(("project_id" = String, Path), ("key_id" = String, Path)),
    responses((status = 204, description = "Revoked")))]
async fn revoke_project_key(
    State(state): State<AppState>,
    OrgScope(caller): OrgScope,
    Path((project_id, key_id)): Path<(String, String)>,
) -> Result<StatusCode> {
    state.store.project(&caller.org.id, &project_id).await.or_not_found("Project not found")?;
    state.store.revoke_key(&caller.org.id, Some(&project_id), &key_id).await.or_not_found("API key not found")?;
    Ok(StatusCode::NO_CONTENT)
}

/// List the org-level API keys.
#[utoipa::path(get, path = "/v1/org/api-keys", tag = "Organization", responses((status = 200, body = ApiKeyList)))]
async fn list_org_keys(State(state): State<AppState>, OrgScope(caller): OrgScope) -> Result<axum::Json<ApiKeyList>> {
    let keys = state.store.org_keys(&caller.org.id).await?;
    Ok(axum::Json(ApiKeyList { api_keys: keys.into_iter().map(|k| key_view(&state, k, None)).collect() }))
}

/// Create an org-level API key, e.g. to rotate the one in use. The raw key is
/// returned once, in this response.
#[utoipa::path(post, path = "/v1/org/api-keys", tag = "Organization",
    request_body(content = Option<ApiKeyCreate>, description = "Optional"),
    responses((status = 201, body = ApiKey)))]
async fn create_org_key(
    State(state): State<AppState>,
    OrgScope(caller): OrgScope,
    OptionalJson(body): OptionalJson<ApiKeyCreate>,
) -> Result<impl IntoResponse> {
    let body = body.unwrap_or_default();
    let name = key_name(&body)?;
    let (key, raw) = state.store.create_org_key(&caller.org.id, &name, body.scope.unwrap_or(KeyScope::Full)).await?;
    Ok((StatusCode::CREATED, axum::Json(key_view(&state, key, Some(raw)))))
}

/// Revoke an org-level API key. The key making the request cannot revoke itself.
#[utoipa::path(delete, path = "/v1/org/api-keys/{key_id}", tag = "Organization",
    params(("key_id" = String, Path)),
    responses((status = 204, description = "Revoked")))]
async fn revoke_org_key(
    State(state): State<AppState>,
    OrgScope(caller): OrgScope,
    Path(key_id): Path<String>,
) -> Result<StatusCode> {
    if key_id == caller.key_id {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "CANNOT_REVOKE_OWN_KEY",
            "An API key cannot revoke itself; use another org key.",
        ));
    }
    state.store.revoke_key(&caller.org.id, None, &key_id).await.or_not_found("API key not found")?;
    Ok(StatusCode::NO_CONTENT)
}
