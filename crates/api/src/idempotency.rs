//! `Idempotency-Key` on POST: the first request runs and its outcome is stored for
//! 24 h; a retry with the same key, API key, project, method, path and body replays it
//! (`Idempotent-Replayed: true`). A different body is 422, a retry while the
//! first still runs is 409, and 5xx/429 outcomes are not stored.

use axum::body::{Body, to_bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use switchboard_store::Store;
use switchboard_store::idempotency::{Claim, IdempotencySlot};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::memory;
use crate::state::AppState;

const MAX_KEY_LEN: usize = 255;
/// Responses larger than this are passed through but not stored for replay.
const MAX_STORED_BODY: usize = 1024 * 1024;

/// Releases a claim if the request never finishes (client gone, task dropped),
/// so a retry is not refused as "in use" for a day.
struct ClaimGuard {
    store: Store,
    key_id: String,
    /// The project the request acts on (empty for org-wide requests).
    project_id: String,
    path: String,
    idem_key: String,
    armed: bool,
}

impl ClaimGuard {
    /// The same slot, holding no claim (so dropping it releases nothing).
    fn disarmed_copy(&self) -> ClaimGuard {
        ClaimGuard {
            store: self.store.clone(),
            key_id: self.key_id.clone(),
            project_id: self.project_id.clone(),
            path: self.path.clone(),
            idem_key: self.idem_key.clone(),
            armed: false,
        }
    }

    fn slot(&self) -> IdempotencySlot<'_> {
        IdempotencySlot {
            key_id: &self.key_id,
            project_id: &self.project_id,
            method: "POST",
            path: &self.path,
            idem_key: &self.idem_key,
        }
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let guard = self.disarmed_copy();
        tokio::spawn(async move {
            if let Err(err) = guard.store.release_idempotency(&guard.slot()).await {
                tracing::warn!(error = %err, "could not release an abandoned idempotency key");
            }
        });
    }
}

pub async fn idempotency(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let sticky = req.extensions().get::<MatchedPath>().is_some_and(|path| memory::is_sticky_route(path.as_str()));
    match claimed(state, req, next).await {
        Ok(response) => response,
        Err(err) if sticky => memory::sticky_error(err),
        Err(err) => err.into_response(),
    }
}

/// The request run once under its key, or the replayed answer; the refusals
/// are rendered in the route's error format by the caller.
async fn claimed(state: AppState, req: Request, next: Next) -> Result<Response, ApiError> {
    if req.method() != Method::POST {
        return Ok(next.run(req).await);
    }
    let Some(raw_key) = req.headers().get("idempotency-key") else {
        return Ok(next.run(req).await);
    };
    let idem_key = match raw_key.to_str().map(str::trim) {
        Ok(k) if !k.is_empty() && k.len() <= MAX_KEY_LEN => k.to_owned(),
        _ => {
            return Err(ApiError::invalid_field("Idempotency-Key", "Must be 1 to 255 visible ASCII characters."));
        }
    };
    let Some(caller) = req.extensions().get::<Caller>().cloned() else {
        return Ok(next.run(req).await);
    };
    let path = req.uri().path().to_owned();
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, state.settings.body_limit(&path)).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "Request body is too large.",
            ));
        }
    };
    let request_hash = hex::encode(Sha256::digest(&bytes));
    let project_id = caller.project_id.unwrap_or_default();
    let mut guard =
        ClaimGuard { store: state.store.clone(), key_id: caller.key_id, project_id, path, idem_key, armed: false };
    let ttl_ms = state.settings.idempotency_ttl.as_millis() as i64;
    match state.store.claim_idempotency(&guard.slot(), &request_hash, ttl_ms).await {
        Ok(Claim::Claimed) => guard.armed = true,
        Ok(Claim::Replay { status, body }) => return Ok(replay(status, body)),
        Ok(Claim::InProgress) => {
            return Err(ApiError::conflict(
                "IDEMPOTENCY_KEY_IN_USE",
                "A request with this Idempotency-Key is still being processed.",
            ));
        }
        Ok(Claim::Mismatch) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "IDEMPOTENCY_KEY_REUSED",
                "This Idempotency-Key was already used with a different request body.",
            ));
        }
        Err(err) => return Err(ApiError::from(err)),
    }

    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    let status = response.status();
    let (parts, body) = response.into_parts();
    let bytes = match to_bytes(body, MAX_STORED_BODY).await {
        Ok(bytes) => bytes,
        Err(err) => {
            return Err(ApiError::internal(format!("response body unreadable: {err}")));
        }
    };
    let outcome = if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        state.store.release_idempotency(&guard.slot()).await
    } else {
        let body = (!bytes.is_empty()).then(|| String::from_utf8_lossy(&bytes).into_owned());
        state.store.complete_idempotency(&guard.slot(), status.as_u16(), body.as_deref()).await
    };
    match outcome {
        Ok(()) => guard.armed = false,
        Err(err) => tracing::warn!(error = %err, "could not record an idempotent outcome"),
    }
    Ok(Response::from_parts(parts, Body::from(bytes)))
}

fn replay(status: u16, body: Option<String>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut response = match body {
        Some(body) => (status, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        None => status.into_response(),
    };
    response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}
