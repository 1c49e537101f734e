//! `GET /v1/health`: liveness without a key; the key's scope with one.

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{authenticate, client_ip, has_key};
use crate::error::ApiError;
use crate::ratelimit::Allowance;
use crate::state::AppState;

/// Without a key: whether the server and its database are up.
#[derive(Serialize, ToSchema)]
pub struct Liveness {
    /// `healthy`, or `degraded` when the database does not answer.
    pub status: String,
    pub timestamp: String,
    /// `connected` or `disconnected`.
    pub database: String,
    /// The local voice (speech-to-text and text-to-speech sidecar): `ready`,
    /// `installing` (its first start), `starting`, `down` (being restarted),
    /// or `off` (not run by this node, or providers replace it).
    pub voice: String,
}

/// With a key: which project and org the key acts on, and the org's tier.
#[derive(Serialize, ToSchema)]
pub struct KeyHealth {
    /// Always `ok`.
    pub status: String,
    pub tier: String,
    /// The project the key acts on (`proj_…`); `null` for an org key without
    /// `X-Project-Id`. Staffify shows a number here; Switchboard's ids are
    /// public strings, the same ones every path, header and event takes.
    pub project_id: Option<String>,
    /// The org (`org_…`), as `project_id`.
    pub org_id: String,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health))
}

/// Check the server, or check a key.
///
/// Without a key this is a liveness probe. With a key it verifies the key and
/// tells its project and org, counting against the rate limit like any call.
#[utoipa::path(get, path = "/v1/health", tag = "Health", security((), ("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "Liveness (no key) or key scope (with a key)", body = KeyHealth),
        (status = 503, description = "The database does not answer", body = Liveness),
    ))]
async fn health(State(state): State<AppState>, req: Request) -> Response {
    if !has_key(req.headers()) {
        let up = state.store.ping().await;
        let body = Liveness {
            status: if up { "healthy" } else { "degraded" }.into(),
            timestamp: switchboard_domain::time::iso(state.store.clock().now_ms()),
            database: if up { "connected" } else { "disconnected" }.into(),
            voice: state.voice_status().into(),
        };
        let status = if up { axum::http::StatusCode::OK } else { axum::http::StatusCode::SERVICE_UNAVAILABLE };
        return (status, axum::Json(body)).into_response();
    }
    match authenticate(&state, req.headers(), client_ip(req.extensions()), Allowance::Standard).await {
        Ok((caller, rate)) => {
            let body = KeyHealth {
                status: "ok".into(),
                tier: caller.org.tier.as_str().into(),
                project_id: caller.project_id,
                org_id: caller.org.id.clone(),
            };
            let mut response = axum::Json(body).into_response();
            rate.apply(response.headers_mut());
            response
        }
        Err((err, rate)) => error_with_rate(err, rate),
    }
}

fn error_with_rate(err: ApiError, rate: Option<crate::auth::RateHeaders>) -> Response {
    let mut response = err.into_response();
    if let Some(rate) = rate {
        rate.apply(response.headers_mut());
    }
    response
}
