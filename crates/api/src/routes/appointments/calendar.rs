//! The project's iCalendar feed: `POST /v1/appointments/calendar-feed` makes
//! (or replaces) its secret address, shown once; `GET /v1/appointments/
//! calendar/{feed}` serves it without an API key, for Google Calendar,
//! Outlook or Apple Calendar to subscribe to. Only the token's hash is kept.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use switchboard_domain::appointments::calendar;
use switchboard_domain::keys;
use switchboard_domain::time::iso;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ProjectScope;
use crate::error::{ApiError, Result};
use crate::extract::Path;
use crate::state::AppState;

/// How far back the feed reaches: appointments that ended in the last 90 days.
const FEED_HISTORY_MS: i64 = 90 * 24 * 3_600_000;
/// The most appointments one feed holds.
const FEED_LIMIT: i64 = 2_000;
const FEED_SUFFIX: &str = ".ics";

/// The feed's address, only in the answer that made it.
#[derive(Serialize, ToSchema)]
pub struct CalendarFeedCreated {
    /// The full address, when the server knows its public URL.
    pub url: Option<String>,
    /// The path of the feed on this server.
    pub path: String,
    pub created_at: String,
}

/// Whether the project has a feed (its address is never shown again).
#[derive(Serialize, ToSchema)]
pub struct CalendarFeed {
    pub enabled: bool,
    pub created_at: Option<String>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(feed_status, create_feed, delete_feed))
}

/// The feed itself, served without an API key.
pub fn public_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(calendar_feed))
}

/// Whether the project has a calendar feed.
#[utoipa::path(get, path = "/v1/appointments/calendar-feed", tag = "Appointments",
    responses((status = 200, body = CalendarFeed)))]
async fn feed_status(State(state): State<AppState>, scope: ProjectScope) -> Result<axum::Json<CalendarFeed>> {
    let created = state.store.calendar_feed_created(&scope.project_id).await?;
    Ok(axum::Json(CalendarFeed { enabled: created.is_some(), created_at: created.map(iso) }))
}

/// Make the project's calendar feed, or give it a new secret address (the
/// old one stops working). The address is shown only in this answer; anyone
/// who has it can read the project's appointments.
#[utoipa::path(post, path = "/v1/appointments/calendar-feed", tag = "Appointments",
    responses((status = 201, body = CalendarFeedCreated)))]
async fn create_feed(State(state): State<AppState>, scope: ProjectScope) -> Result<impl IntoResponse> {
    let token = calendar::new_token();
    state.store.set_calendar_feed(scope.org_id(), &scope.project_id, &keys::hash(&token)).await?;
    let path = format!("/v1/appointments/calendar/{token}{FEED_SUFFIX}");
    let url = state.telephony.public_url().map(|base| format!("{base}{path}"));
    let created_at = iso(state.store.clock().now_ms());
    Ok((StatusCode::CREATED, axum::Json(CalendarFeedCreated { url, path, created_at })))
}

/// Turn the calendar feed off: its address stops working.
#[utoipa::path(delete, path = "/v1/appointments/calendar-feed", tag = "Appointments",
    responses((status = 204, description = "Turned off")))]
async fn delete_feed(State(state): State<AppState>, scope: ProjectScope) -> Result<StatusCode> {
    state
        .store
        .delete_calendar_feed(&scope.project_id)
        .await
        .map_err(|e| ApiError::missing(e, "The project has no calendar feed."))?;
    Ok(StatusCode::NO_CONTENT)
}

/// The project's appointments as an iCalendar (RFC 5545) feed, at the secret
/// address `POST /v1/appointments/calendar-feed` gave (`{token}.ics`); no API
/// key. Appointments that ended in the last 90 days and all later ones;
/// cancelled ones are `STATUS:CANCELLED`.
#[utoipa::path(get, path = "/v1/appointments/calendar/{feed}", tag = "Appointments", security(()),
    params(("feed" = String, Path, description = "`<token>.ics`")),
    responses((status = 200, description = "The feed", content_type = "text/calendar", body = String),
        (status = 404, description = "`NOT_FOUND`: no feed at this address", body = crate::error::ErrorBody)))]
async fn calendar_feed(State(state): State<AppState>, Path(feed): Path<String>) -> Result<Response> {
    let missing = || ApiError::not_found("No calendar feed at this address.");
    let token = feed.strip_suffix(FEED_SUFFIX).unwrap_or(&feed);
    if !calendar::is_token(token) {
        return Err(missing());
    }
    let (org_id, project_id) = state
        .store
        .calendar_feed_project(&keys::hash(token))
        .await
        .map_err(|e| ApiError::missing(e, "No calendar feed at this address."))?;
    let now = state.store.clock().now_ms();
    let name = match state.store.project(&org_id, &project_id).await {
        Ok(project) => format!("{} appointments", project.name),
        Err(_) => "Appointments".to_owned(),
    };
    let appointments = state.store.calendar_appointments(&project_id, now - FEED_HISTORY_MS, FEED_LIMIT).await?;
    let body = calendar::feed(&name, "switchboard", &appointments, now);
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/calendar; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=300"));
    Ok(response)
}
