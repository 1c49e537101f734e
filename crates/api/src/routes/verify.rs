//! `POST /v1/verify`: does what the caller said match the stored value?

use serde::{Deserialize, Serialize};
use switchboard_domain::validation::FieldErrors;
use switchboard_domain::verify::{MatchType, verify};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AnyCaller;
use crate::error::{ApiError, Result};
use crate::extract::Json;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    /// The known correct value, e.g. from your database.
    #[schema(max_length = 1000)]
    pub expected: String,
    /// What the caller said, as transcribed.
    #[schema(max_length = 1000)]
    pub answer: String,
    /// `phonetic` (default), `numeric`, `alphanumeric`, `alphanumeric_fuzzy`,
    /// `fuzzy_date`, `last_4_digits` or `phone_number`.
    pub match_type: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct VerifyResult {
    pub verified: bool,
    /// The strategy used.
    pub match_type: MatchType,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(verify_answer))
}

/// Fuzzy-match a caller's answer against a stored value.
#[utoipa::path(post, path = "/v1/verify", tag = "Verify", request_body = VerifyBody,
    responses((status = 200, body = VerifyResult)))]
async fn verify_answer(_caller: AnyCaller, Json(body): Json<VerifyBody>) -> Result<axum::Json<VerifyResult>> {
    let mut errors = FieldErrors::new();
    let match_type = match body.match_type.as_deref() {
        None => MatchType::default(),
        Some(name) => MatchType::parse(name).unwrap_or_else(|| {
            let names: Vec<&str> = MatchType::ALL.iter().map(|m| m.as_str()).collect();
            errors.add("match_type", format!("Must be one of {}.", names.join(", ")));
            MatchType::default()
        }),
    };
    for (field, value) in [("expected", &body.expected), ("answer", &body.answer)] {
        if value.chars().count() > 1000 {
            errors.add(field, "Must be at most 1000 characters.");
        }
    }
    if body.expected.trim().is_empty() {
        errors.add("expected", "Must not be empty.");
    }
    errors.finish().map_err(ApiError::validation)?;
    Ok(axum::Json(VerifyResult { verified: verify(&body.expected, &body.answer, match_type), match_type }))
}
