//! Caller memory as Sticky Calls documents it: `POST /v1/calls/start`
//! recognises the caller and returns what is remembered, `POST /v1/calls/end`
//! saves intents and variables. Memory belongs to a project (project key, or
//! org key with `X-Project-Id`); the monthly memory quota is the org's. 400s
//! carry the seed's `details.issues[{path, message}]` and 402s its
//! `quota_remaining` and `billing_account_id`, beside our `error`, `code` and
//! `message`.

use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_path_to_error::Segment;
use switchboard_domain::memory::quota::{QuotaStatus, exhausted_message};
use switchboard_domain::memory::validate::{self, Issue};
use switchboard_domain::memory::wire::{CallEndResponse, CallStartResponse, EndBody, StartBody, fingerprint};
use switchboard_domain::time::iso;
use switchboard_store::memory::{EndOutcome, MemoryScope, StartOutcome};
use utoipa::ToSchema;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{ProjectScope, RATE_LIMIT_EXCEEDED, RateHeaders};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::state::AppState;

/// The error body of `/v1/calls/start` and `/v1/calls/end`, authentication
/// and rate-limit failures included.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct MemoryErrorBody {
    /// The status's reason phrase, as the seed shows: `Bad Request`,
    /// `Unauthorized`, `Payment Required`, `Too Many Requests`, …
    pub error: String,
    /// `VALIDATION_ERROR`, `MEMORY_QUOTA_EXHAUSTED`, `INSUFFICIENT_CREDITS`, …
    pub code: String,
    pub message: String,
    /// On 400: `{"issues": [{"path": ["identity_hints"], "message": "…"}]}`
    /// (a field → message map only for a malformed `Idempotency-Key` header).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = details_schema)]
    pub details: Option<IssueList>,
    /// On 402 for the memory quota: calls left this month (0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota_remaining: Option<i64>,
    /// On 402 for the memory quota: the org whose quota is used up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_account_id: Option<String>,
    /// On 429: seconds to wait before retrying.
    #[serde(rename = "retryAfter", skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// On 429 for the rate limit: the org's requests in the last 60 seconds.
    #[serde(rename = "currentUsage", skip_serializing_if = "Option::is_none")]
    pub current_usage: Option<u32>,
    /// On 429 for the rate limit: the tier's limit per minute, without the
    /// 10% grace these routes get before they refuse.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// On 429 for the rate limit: when the full allowance is back (ISO-8601).
    #[serde(rename = "resetAt", skip_serializing_if = "Option::is_none")]
    pub reset_at: Option<String>,
}

/// Whether a route answers in Sticky Calls' error format and gets its rate
/// limit grace (the memory routes of the seed).
pub fn is_sticky_route(path: &str) -> bool {
    matches!(path, "/v1/calls/start" | "/v1/calls/end")
}

/// An error in Sticky Calls' shape: the reason phrase as `error`, our `code`
/// and `message`, and `retryAfter` on a 429.
fn sticky_body(err: &ApiError) -> MemoryErrorBody {
    MemoryErrorBody {
        error: err.status.canonical_reason().unwrap_or("Error").to_owned(),
        code: err.code.to_owned(),
        message: err.message.clone(),
        retry_after: err.retry_after,
        ..MemoryErrorBody::default()
    }
}

/// Any other refusal on a memory route (idempotency, for one) in Sticky
/// Calls' shape.
pub(crate) fn sticky_error(err: ApiError) -> Response {
    with_retry_after(err.status, sticky_body(&err))
}

/// A refusal of the authentication layer on a memory route (401, 403, 402,
/// 429): Sticky Calls' body, and on a rate-limit 429 its usage fields.
pub(crate) fn sticky_auth_error(err: ApiError, rate: Option<RateHeaders>) -> Response {
    let mut body = sticky_body(&err);
    if err.code == RATE_LIMIT_EXCEEDED
        && let Some(rate) = rate
        && let Some(decision) = rate.decision()
    {
        body.message = format!("Rate limit exceeded for your tier. Limit: {} requests/minute.", decision.limit);
        body.current_usage = Some(decision.used);
        body.limit = Some(decision.limit);
        body.reset_at = Some(iso(rate.counted_at_ms() + decision.reset_after_ms as i64));
    }
    with_retry_after(err.status, body)
}

/// `body` with its status and, on a 429, the `Retry-After` header.
fn with_retry_after(status: StatusCode, body: MemoryErrorBody) -> Response {
    let retry_after = body.retry_after;
    let mut response = (status, axum::Json(body)).into_response();
    if let Some(seconds) = retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// Zod-style validation issues.
#[derive(Debug, Serialize)]
pub struct IssueList {
    pub issues: Vec<Issue>,
}

/// `details`: the issue list, or the field map the shared middleware writes.
fn details_schema() -> Schema {
    let issue = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("path", ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String)))
        .property("message", ObjectBuilder::new().schema_type(Type::String))
        .required("path")
        .required("message");
    let issues = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("issues", ArrayBuilder::new().items(issue))
        .required("issues");
    let field_map = ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(ObjectBuilder::new().schema_type(Type::String)));
    Schema::OneOf(OneOfBuilder::new().item(issues).item(field_map).build())
}

/// A failure of a memory endpoint.
pub(crate) enum MemoryError {
    Invalid(Vec<Issue>),
    QuotaExhausted { remaining: i64, billing_account_id: String },
    Api(ApiError),
}

impl From<ApiError> for MemoryError {
    fn from(err: ApiError) -> Self {
        MemoryError::Api(err)
    }
}

impl From<switchboard_store::Error> for MemoryError {
    fn from(err: switchboard_store::Error) -> Self {
        MemoryError::Api(err.into())
    }
}

/// A field name of our extractors (`body`, `identity_hints.ani`,
/// `intent_updates[0].intent`) as an issue path (`["intent_updates", "0", "intent"]`).
fn issue_path(field: &str) -> Vec<String> {
    if field == "body" {
        return Vec::new();
    }
    field
        .split('.')
        .flat_map(|part| part.split('['))
        .filter(|piece| !piece.is_empty())
        .map(|piece| piece.trim_end_matches(']').to_owned())
        .collect()
}

impl IntoResponse for MemoryError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            MemoryError::Invalid(issues) => (
                StatusCode::BAD_REQUEST,
                MemoryErrorBody {
                    error: "Bad Request".into(),
                    code: "VALIDATION_ERROR".into(),
                    message: "Validation failed".into(),
                    details: Some(IssueList { issues }),
                    ..MemoryErrorBody::default()
                },
            ),
            MemoryError::QuotaExhausted { remaining, billing_account_id } => (
                StatusCode::PAYMENT_REQUIRED,
                MemoryErrorBody {
                    error: "Payment Required".into(),
                    code: "MEMORY_QUOTA_EXHAUSTED".into(),
                    message: exhausted_message(remaining),
                    quota_remaining: Some(remaining),
                    billing_account_id: Some(billing_account_id),
                    ..MemoryErrorBody::default()
                },
            ),
            MemoryError::Api(err) => match err.details {
                Some(fields) if err.code == "VALIDATION_ERROR" => {
                    let issues = fields
                        .into_iter()
                        .map(|(field, message)| Issue { path: issue_path(&field), message })
                        .collect();
                    return MemoryError::Invalid(issues).into_response();
                }
                _ => return sticky_error(err),
            },
        };
        (status, axum::Json(body)).into_response()
    }
}

/// A JSON body of a memory endpoint and its fingerprint (for duplicate
/// detection); type errors are issues at the offending path.
pub(crate) struct MemoryBody<T> {
    body: T,
    fingerprint: String,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for MemoryBody<T> {
    type Rejection = MemoryError;

    async fn from_request(req: Request, state: &S) -> Result<Self, MemoryError> {
        let Json(value) = Json::<Value>::from_request(req, state).await?;
        let fingerprint = fingerprint(&value);
        let body = serde_path_to_error::deserialize(value).map_err(|err| {
            let path = err.path().iter().map(segment_name).collect();
            MemoryError::Invalid(vec![Issue { path, message: err.inner().to_string() }])
        })?;
        Ok(MemoryBody { body, fingerprint })
    }
}

fn segment_name(segment: &Segment) -> String {
    match segment {
        Segment::Seq { index } => index.to_string(),
        Segment::Map { key } | Segment::Enum { variant: key } => key.clone(),
        Segment::Unknown => "?".to_owned(),
    }
}

pub(crate) fn memory_scope(scope: &ProjectScope) -> MemoryScope<'_> {
    MemoryScope { org_id: scope.org_id(), project_id: &scope.project_id }
}

fn quota_exhausted(scope: &ProjectScope, status: QuotaStatus) -> MemoryError {
    MemoryError::QuotaExhausted {
        remaining: status.remaining().unwrap_or(0),
        billing_account_id: scope.org_id().to_owned(),
    }
}

/// A stored answer sent again for a repeated request.
fn replayed(body: impl Serialize) -> Response {
    let mut response = axum::Json(body).into_response();
    response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

/// The memory endpoints and `/v1/customers`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(start_call)).routes(routes!(end_call)).merge(super::customers::router())
}

/// Identify the caller at the start of a call and get what is remembered:
/// `customer_ref`, identity confidence (`reuse` ≥ 0.5, `confirm` 0.3–0.5,
/// `ignore` < 0.3), open intents and unexpired variables. A first-time caller
/// gets a new `customer_ref` with confidence 0. The same `call_id` with the
/// same body replays the first response (`Idempotent-Replayed: true`); with
/// another body it is 409 `DUPLICATE_CALL_ID`. Each successful start uses one
/// call of the org's monthly memory quota (402 when none is left).
#[utoipa::path(post, path = "/v1/calls/start", tag = "Caller memory", request_body = StartBody,
    responses(
        (status = 200, body = CallStartResponse),
        (status = 400, description = "Validation failed: `details.issues`", body = MemoryErrorBody),
        (status = 401, description = "`error: Unauthorized`: the key is missing or invalid", body = MemoryErrorBody),
        (status = 429, description = "`error: Too Many Requests`, with `retryAfter`, `currentUsage`, `limit` and \
            `resetAt`; these routes run 10% past the tier's limit before refusing", body = MemoryErrorBody),
        (status = 402, description = "`MEMORY_QUOTA_EXHAUSTED` (monthly memory quota) or `INSUFFICIENT_CREDITS`",
            body = MemoryErrorBody),
        (status = 409, description = "`DUPLICATE_CALL_ID`, or `IDEMPOTENCY_KEY_IN_USE`", body = ErrorBody),
    ))]
async fn start_call(
    State(state): State<AppState>,
    scope: ProjectScope,
    MemoryBody { body, fingerprint }: MemoryBody<StartBody>,
) -> Result<Response, MemoryError> {
    let req = validate::start_request(body).map_err(MemoryError::Invalid)?;
    let outcome =
        state.store.memory_start_call(memory_scope(&scope), &req, &fingerprint, &state.settings.memory).await?;
    match outcome {
        StartOutcome::Started(started) => Ok(axum::Json(started).into_response()),
        StartOutcome::Replayed(started) => Ok(replayed(started)),
        StartOutcome::Duplicate => Err(ApiError::conflict(
            "DUPLICATE_CALL_ID",
            "This call_id was already started with a different request; use a unique call_id for each call.",
        )
        .into()),
        StartOutcome::QuotaExhausted(status) => Err(quota_exhausted(&scope, status)),
    }
}

/// Save a call's context for next time: the simple form (`intent`,
/// `intent_status` — default `resolved` — and `variables`, kept 30 days) or the
/// advanced form (`intent_updates` with `resolution`, `variable_updates` with
/// `source` and `ttl_seconds` up to 90 days). Resolved and abandoned intents
/// leave `open_intents`; an open intent counts one more attempt. A call that
/// was never started is recorded as a standalone end. Ending a call again with
/// the same body replays the first response; with another body it is 409
/// `CALL_ALREADY_ENDED`. An `Idempotency-Key` header makes retries safe too.
/// Each successful end uses one call of the org's monthly memory quota.
#[utoipa::path(post, path = "/v1/calls/end", tag = "Caller memory", request_body = EndBody,
    responses(
        (status = 200, body = CallEndResponse),
        (status = 400, description = "Validation failed: `details.issues`", body = MemoryErrorBody),
        (status = 401, description = "`error: Unauthorized`: the key is missing or invalid", body = MemoryErrorBody),
        (status = 429, description = "`error: Too Many Requests`, with `retryAfter`, `currentUsage`, `limit` and \
            `resetAt`; these routes run 10% past the tier's limit before refusing", body = MemoryErrorBody),
        (status = 402, description = "`MEMORY_QUOTA_EXHAUSTED` (monthly memory quota) or `INSUFFICIENT_CREDITS`",
            body = MemoryErrorBody),
        (status = 404, description = "`NOT_FOUND`: a standalone end named an unknown `customer_ref`",
            body = ErrorBody),
        (status = 409, description = "`CALL_ALREADY_ENDED`, or `IDEMPOTENCY_KEY_IN_USE`", body = ErrorBody),
    ))]
async fn end_call(
    State(state): State<AppState>,
    scope: ProjectScope,
    MemoryBody { body, fingerprint }: MemoryBody<EndBody>,
) -> Result<Response, MemoryError> {
    let rules = &state.settings.memory;
    let req = validate::end_request(body, rules).map_err(MemoryError::Invalid)?;
    let outcome = state.store.memory_record_call(memory_scope(&scope), &req, &fingerprint, rules).await?;
    match outcome {
        EndOutcome::Ended(ended) => Ok(axum::Json(ended).into_response()),
        EndOutcome::Replayed(ended) => Ok(replayed(ended)),
        EndOutcome::AlreadyEnded => {
            Err(ApiError::conflict("CALL_ALREADY_ENDED", "This call_id has already ended with a different request.")
                .into())
        }
        EndOutcome::CustomerMismatch => Err(MemoryError::Invalid(vec![Issue::new(
            &["customer_ref"],
            "customer_ref does not match the customer this call_id was started for",
        )])),
        EndOutcome::UnknownCustomer => Err(ApiError::not_found("No customer with this customer_ref.").into()),
        EndOutcome::QuotaExhausted(status) => Err(quota_exhausted(&scope, status)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extractor_fields_become_issue_paths() {
        assert!(issue_path("body").is_empty());
        assert_eq!(issue_path("identity_hints.ani"), vec!["identity_hints", "ani"]);
        assert_eq!(issue_path("intent_updates[0].intent"), vec!["intent_updates", "0", "intent"]);
    }
}
