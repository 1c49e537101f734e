//! `GET /v1/voices`: the voices this server can speak with, by language.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use switchboard_domain::validation;
use switchboard_domain::voices::{Voice, serves_language};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AnyCaller;
use crate::error::{ApiError, Result};
use crate::extract::Query;
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VoicesQuery {
    /// BCP-47 language, e.g. `en-US`; a bare `en` lists every English voice.
    #[param(
        pattern = "^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?(-([A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*$"
    )]
    pub language: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct VoiceList {
    pub voices: Vec<Voice>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_voices))
}

/// List available voices.
#[utoipa::path(get, path = "/v1/voices", tag = "Voices", params(VoicesQuery), responses((status = 200, body = VoiceList)))]
async fn list_voices(
    State(state): State<AppState>,
    _caller: AnyCaller,
    Query(query): Query<VoicesQuery>,
) -> Result<axum::Json<VoiceList>> {
    if let Some(language) = &query.language {
        validation::language(language).map_err(|message| ApiError::invalid_field("language", message))?;
    }
    let voices = state
        .voices
        .iter()
        .filter(|v| query.language.as_deref().is_none_or(|language| serves_language(v, language)))
        .cloned()
        .collect();
    Ok(axum::Json(VoiceList { voices }))
}
