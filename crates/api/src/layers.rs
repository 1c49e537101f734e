//! Cross-cutting HTTP layers: request ids, body limits, timeouts, panics, and
//! the safety net that turns any non-JSON error into our error body.

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn};
use axum::response::{IntoResponse, Response};
use http_body_util::Limited;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;

use crate::error::{ApiError, ErrorBody};
use crate::state::ApiSettings;

/// Request ids are `req_` + a ULID.
#[derive(Clone, Copy, Default)]
struct MakeRequestUlid;

impl MakeRequestId for MakeRequestUlid {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let id = format!("req_{}", ulid::Ulid::new().to_string().to_ascii_lowercase());
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

/// Wraps the application in the layers every request passes through, innermost
/// first: body limits (per route: uploads get more), timeout, panic catcher, error safety net, request ids.
pub fn wrap(app: Router, settings: &ApiSettings) -> Router {
    let limits = settings.clone();
    // Our own layer sets every route's limit; axum's 2 MB extractor default
    // would otherwise cap uploads below theirs.
    app.layer(DefaultBodyLimit::disable())
        .layer(from_fn(move |req: Request, next: Next| limit_body(limits.clone(), req, next)))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, settings.request_timeout))
        .layer(CatchPanicLayer::new())
        .layer(from_fn(json_errors))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUlid))
}

/// Refuses a body over the route's limit (by `Content-Length` at once, else
/// while it is read: extractors then answer 413).
async fn limit_body(settings: ApiSettings, req: Request, next: Next) -> Response {
    let limit = settings.body_limit(req.uri().path());
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return fallback_error(StatusCode::PAYLOAD_TOO_LARGE).into_response();
    }
    let (parts, body) = req.into_parts();
    next.run(Request::from_parts(parts, Body::new(Limited::new(body, limit)))).await
}

/// Unknown route.
pub async fn not_found() -> ApiError {
    ApiError::not_found("No such route.")
}

/// Known route, wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", "Method not allowed on this route.")
}

/// The code and message for an error status that reached us without our body.
fn fallback_error(status: StatusCode) -> ApiError {
    match status {
        StatusCode::BAD_REQUEST | StatusCode::UNSUPPORTED_MEDIA_TYPE | StatusCode::UNPROCESSABLE_ENTITY => {
            ApiError::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "Request validation failed.")
        }
        StatusCode::NOT_FOUND => ApiError::not_found("No such route."),
        StatusCode::METHOD_NOT_ALLOWED => {
            ApiError::new(status, "METHOD_NOT_ALLOWED", "Method not allowed on this route.")
        }
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(status, "PAYLOAD_TOO_LARGE", "Request body is too large."),
        StatusCode::REQUEST_TIMEOUT => ApiError::new(status, "REQUEST_TIMEOUT", "The request took too long."),
        StatusCode::SERVICE_UNAVAILABLE => {
            ApiError::new(status, "SERVICE_UNAVAILABLE", "The server could not answer in time; try again.")
        }
        s if s.is_server_error() => {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "An internal error occurred.")
        }
        s => ApiError::new(s, "HTTP_ERROR", s.canonical_reason().unwrap_or("Request failed.")),
    }
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// Every error leaves in our format: a non-JSON error body (from the framework,
/// a panic, a timeout, a body limit) is replaced, and a 500 carries only a
/// request id to quote.
async fn json_errors(req: Request, next: Next) -> Response {
    let request_id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let response = next.run(req).await;
    let status = response.status();
    if !status.is_client_error() && !status.is_server_error() {
        return response;
    }
    let internal = status == StatusCode::INTERNAL_SERVER_ERROR || (status.is_server_error() && !is_json(&response));
    if !internal && is_json(&response) {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let error = fallback_error(status);
    let mut body: ErrorBody = error.body();
    if internal {
        body.request_id = request_id;
    }
    parts.status = error.status;
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    Response::from_parts(parts, Body::from(bytes)).into_response()
}
