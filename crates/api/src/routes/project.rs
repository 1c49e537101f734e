//! `/v1/project`: the project the key acts on.

use axum::extract::State;
use serde::{Deserialize, Deserializer};
use switchboard_domain::validation::{self, FieldErrors};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ProjectScope;
use crate::error::{ApiError, Result};
use crate::extract::Json;
use crate::routes::org::Project;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectPatch {
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    /// `null` clears the description.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 1000)]
    pub description: Option<Option<String>>,
}

fn nullable<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_project, patch_project))
}

/// Get the key's project.
#[utoipa::path(get, path = "/v1/project", tag = "Project", responses((status = 200, body = Project)))]
async fn get_project(State(state): State<AppState>, scope: ProjectScope) -> Result<axum::Json<Project>> {
    let project = state.store.project(scope.org_id(), &scope.project_id).await?;
    Ok(axum::Json(Project::project_view(project)))
}

/// Update the key's project name and/or description.
#[utoipa::path(patch, path = "/v1/project", tag = "Project", request_body = ProjectPatch,
    responses((status = 200, body = Project)))]
async fn patch_project(
    State(state): State<AppState>,
    scope: ProjectScope,
    Json(body): Json<ProjectPatch>,
) -> Result<axum::Json<Project>> {
    let mut errors = FieldErrors::new();
    if let Some(name) = &body.name {
        errors.check("name", validation::required_text(name, 100));
    }
    if let Some(Some(description)) = &body.description {
        errors.check("description", validation::optional_text(description, 1000));
    }
    errors.finish().map_err(ApiError::validation)?;
    let description = body.description.as_ref().map(|d| d.as_deref());
    let project = state
        .store
        .update_project(scope.org_id(), &scope.project_id, body.name.as_deref().map(str::trim), description)
        .await?;
    Ok(axum::Json(Project::project_view(project)))
}
