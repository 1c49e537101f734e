//! The one error type of the API and the JSON error body every failure produces:
//! `{"error", "code", "message"}` plus `details` on validation errors and
//! `retryAfter` on 429s. A 500 never carries internals, only the request id.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use switchboard_domain::validation::FieldErrors;
use switchboard_runtime::call::{CallError, ControlError};
use utoipa::ToSchema;

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// The error body of every failed request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Human-readable message (same as `message`).
    pub error: String,
    /// Machine-readable code to branch on, e.g. `VALIDATION_ERROR`.
    pub code: String,
    /// Human-readable message.
    pub message: String,
    /// Field → message, on `VALIDATION_ERROR`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<BTreeMap<String, String>>,
    /// Seconds to wait before retrying, on 429.
    #[serde(rename = "retryAfter", skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// The request id, on internal errors, to quote to support.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// An expected failure with its status and code, or an internal error.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<BTreeMap<String, String>>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), details: None, retry_after: None }
    }

    pub fn validation(details: FieldErrors) -> Self {
        let mut err = Self::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "Request validation failed.");
        err.details = Some(details.into_map());
        err
    }

    /// A validation error on one field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        let mut details = FieldErrors::new();
        details.add(field, message);
        Self::validation(details)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// An unexpected failure: logged in full, answered with a bare 500.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "An internal error occurred.")
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.message.clone(),
            code: self.code.to_owned(),
            message: self.message.clone(),
            details: self.details.clone(),
            retry_after: self.retry_after,
            request_id: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

impl ApiError {
    /// A store failure where a missing object is 404 `NOT_FOUND` with `message`.
    pub fn missing(err: switchboard_store::Error, message: &str) -> Self {
        match err {
            switchboard_store::Error::NotFound => ApiError::not_found(message),
            other => other.into(),
        }
    }
}

/// Names what a store read did not find: `.or_not_found("Agent not found")`.
pub trait OrNotFound<T> {
    fn or_not_found(self, message: &str) -> Result<T>;
}

impl<T> OrNotFound<T> for std::result::Result<T, switchboard_store::Error> {
    fn or_not_found(self, message: &str) -> Result<T> {
        self.map_err(|err| ApiError::missing(err, message))
    }
}

impl From<switchboard_store::Error> for ApiError {
    fn from(err: switchboard_store::Error) -> Self {
        match err {
            switchboard_store::Error::NotFound => ApiError::not_found("Resource not found."),
            switchboard_store::Error::Conflict(message) => ApiError::conflict("CONFLICT", message),
            other => ApiError::internal(other),
        }
    }
}

impl From<CallError> for ApiError {
    /// Every refusal of the call service, mapped once.
    fn from(err: CallError) -> Self {
        match err {
            CallError::NotFound(message) => ApiError::not_found(message),
            CallError::Invalid(problems) => {
                let mut details = FieldErrors::new();
                for (field, message) in problems {
                    details.add(field, message);
                }
                ApiError::validation(details)
            }
            CallError::Paused | CallError::InsufficientCredits => {
                ApiError::new(StatusCode::PAYMENT_REQUIRED, "INSUFFICIENT_CREDITS", err.to_string())
            }
            CallError::AgentUnavailable(message) => ApiError::conflict("AGENT_UNAVAILABLE", message),
            CallError::ConcurrentLimit => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "CONCURRENT_CALL_LIMIT", err.to_string())
                    .with_retry_after(5)
            }
            CallError::NotEnded => ApiError::conflict("CALL_NOT_ENDED", err.to_string()),
            CallError::NotAnswered => ApiError::conflict("CALL_NOT_ANSWERED", err.to_string()),
            CallError::NoRuntime => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "RUNTIME_UNAVAILABLE", err.to_string())
            }
            CallError::Control(control) => match control {
                ControlError::NotInProgress => ApiError::conflict("CALL_NOT_IN_PROGRESS", control.to_string()),
                ControlError::GatherInProgress => ApiError::conflict("GATHER_IN_PROGRESS", control.to_string()),
                ControlError::TransferFailed(_) => {
                    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "TRANSFER_FAILED", control.to_string())
                }
            },
            CallError::Store(err) => err.into(),
        }
    }
}
