//! The HTTP API of Switchboard: routers per resource, authentication, rate
//! limits, idempotency, the error format, OpenAPI and metrics.

pub mod auth;
pub mod cache;
pub mod docs;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod layers;
pub mod listener;
pub mod metrics;
pub mod openapi;
pub mod query_params;
pub mod ratelimit;
pub mod routes;
pub mod state;
pub mod upload;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use state::{ApiSettings, AppState};

/// The routes and their OpenAPI description: (public routes, routes that need
/// an API key, the finished document).
fn assemble() -> (Router<AppState>, Router<AppState>, utoipa::openapi::OpenApi) {
    let (authed, authed_doc) = OpenApiRouter::new()
        .merge(routes::agents::router())
        .merge(routes::calls::router())
        .merge(routes::simulator::router())
        .merge(routes::test_sessions::router())
        .merge(routes::credits::router())
        .merge(routes::org::router())
        .merge(routes::project::router())
        .merge(routes::verify::router())
        .merge(routes::voices::router())
        .merge(routes::webhooks::router())
        .merge(routes::memory::router())
        .merge(routes::knowledge_bases::router())
        .merge(routes::phone_numbers::router())
        .merge(routes::addresses::router())
        .merge(routes::sms::router())
        .merge(routes::contacts::router())
        .merge(routes::messages::router())
        .merge(routes::usage::router())
        .merge(routes::appointments::router())
        .split_for_parts();
    let (public, public_doc) = routes::health::router().merge(routes::appointments::public_router()).split_for_parts();
    let mut doc = openapi::ApiDoc::openapi();
    doc.merge(authed_doc);
    doc.merge(public_doc);
    openapi::finish(&mut doc);
    (public, authed, doc)
}

/// The OpenAPI 3.1 document served at `/v1/openapi.json`.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    assemble().2
}

/// What a node without the API serves: health and metrics, with the same layers.
pub fn worker_router(state: AppState) -> Router {
    let (public, _) = routes::health::router().split_for_parts();
    let app = Router::new()
        .merge(public)
        .route("/metrics", axum::routing::get(metrics::render))
        .fallback(layers::not_found)
        .method_not_allowed_fallback(layers::method_not_allowed)
        .with_state(state.clone());
    layers::wrap(app, &state.settings).layer(from_fn(metrics::track))
}

/// The complete application: every route and every cross-cutting layer.
pub fn router(state: AppState) -> Router {
    let (public, authed, doc) = assemble();
    let known = std::sync::Arc::new(query_params::KnownParams::from_doc(&doc));
    let public = public.route_layer(from_fn_with_state(known.clone(), query_params::reject_unknown));
    let authed = authed
        .route_layer(from_fn_with_state(state.clone(), idempotency::idempotency))
        .route_layer(from_fn_with_state(known, query_params::reject_unknown))
        .route_layer(from_fn_with_state(state.clone(), auth::require_key));
    let doc_json = doc;
    let app = Router::new()
        .merge(public)
        .merge(authed)
        .merge(routes::telephony::router())
        .route("/v1/openapi.json", axum::routing::get(move || async move { axum::Json(doc_json) }))
        .route("/metrics", axum::routing::get(metrics::render))
        .merge(docs::router("/v1/openapi.json"))
        .fallback(layers::not_found)
        .method_not_allowed_fallback(layers::method_not_allowed)
        .with_state(state.clone());
    layers::wrap(app, &state.settings).layer(from_fn(metrics::track))
}
