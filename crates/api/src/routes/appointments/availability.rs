//! `/v1/appointments/availability` (when a project, or one of its agents,
//! takes appointments) and `/v1/appointments/available-slots` (the free
//! slots that follow from it and the booked appointments).

use axum::extract::State;
use axum::http::StatusCode;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use switchboard_domain::appointments::availability::Availability;
use switchboard_domain::time::iso;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{refused, service};
use crate::auth::ProjectScope;
use crate::error::{ApiError, Result};
use crate::extract::{Json, Query};
use crate::state::AppState;

/// The most days one slot request covers.
const MAX_DAYS: i64 = 14;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AvailabilityQuery {
    /// One of the project's agents: its own availability instead of the project's.
    pub agent_id: Option<String>,
}

/// The availability that applies, and where it comes from. `availability`
/// is what a `PUT` takes, so it can be read, changed and sent back.
#[derive(Serialize, ToSchema)]
pub struct AvailabilityView {
    pub agent_id: Option<String>,
    /// `agent` (the agent's own), `project`, or `default` (nothing set yet).
    pub source: String,
    #[serde(rename = "availability")]
    pub settings: Availability,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SlotsQuery {
    /// The first day, `YYYY-MM-DD`, in the availability's time zone.
    pub date: String,
    /// Days from `date`, 1–14; default 1.
    #[param(minimum = 1, maximum = 14)]
    pub days: Option<i64>,
    /// Appointment length in minutes, 5–1440; default the slot length.
    #[param(minimum = 5, maximum = 1440)]
    pub duration: Option<i64>,
    /// Use this agent's availability (the calendar stays the project's).
    pub agent_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Slot {
    /// ISO-8601 UTC.
    pub start_time: String,
    pub end_time: String,
}

#[derive(Serialize, ToSchema)]
pub struct DayAvailability {
    /// `YYYY-MM-DD` in the availability's time zone.
    pub date: String,
    /// Whether any slot is free.
    pub available: bool,
    pub slots: Vec<Slot>,
}

#[derive(Serialize, ToSchema)]
pub struct AvailableSlots {
    pub time_zone: String,
    pub duration_minutes: i64,
    pub days: Vec<DayAvailability>,
    /// The availability the slots follow.
    pub settings: Availability,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_availability, set_availability, delete_availability))
        .routes(routes!(available_slots))
}

/// Refuses an agent that is not the project's (404).
async fn check_agent(state: &AppState, scope: &ProjectScope, agent_id: Option<&str>) -> Result<()> {
    match agent_id {
        Some(agent) => service(state).check_agent(&scope.project_id, agent).await.map_err(refused),
        None => Ok(()),
    }
}

/// The availability of the project, or of one agent (`agent_id`): the
/// agent's own if it has one, else the project's, else the defaults
/// (Monday–Friday 09:00–17:00 UTC, 30-minute slots, 15-minute buffer, 24 h
/// notice, 30 days ahead).
#[utoipa::path(get, path = "/v1/appointments/availability", tag = "Appointments", params(AvailabilityQuery),
    responses((status = 200, body = AvailabilityView)))]
async fn get_availability(
    State(state): State<AppState>,
    scope: ProjectScope,
    Query(q): Query<AvailabilityQuery>,
) -> Result<axum::Json<AvailabilityView>> {
    check_agent(&state, &scope, q.agent_id.as_deref()).await?;
    let own = match q.agent_id.as_deref() {
        Some(agent) => state.store.availability(&scope.project_id, Some(agent)).await?,
        None => None,
    };
    let (source, settings) = match own {
        Some(own) => ("agent", own),
        None => match state.store.availability(&scope.project_id, None).await? {
            Some(project) => ("project", project),
            None => ("default", Availability::default()),
        },
    };
    Ok(axum::Json(AvailabilityView { agent_id: q.agent_id, source: source.into(), settings }))
}

/// Set the availability of the project, or (with `agent_id`) the agent's own.
/// Every field is sent: this replaces the settings.
#[utoipa::path(put, path = "/v1/appointments/availability", tag = "Appointments", params(AvailabilityQuery),
    request_body = Availability, responses((status = 200, body = AvailabilityView)))]
async fn set_availability(
    State(state): State<AppState>,
    scope: ProjectScope,
    Query(q): Query<AvailabilityQuery>,
    Json(settings): Json<Availability>,
) -> Result<axum::Json<AvailabilityView>> {
    settings.check().finish().map_err(ApiError::validation)?;
    check_agent(&state, &scope, q.agent_id.as_deref()).await?;
    state.store.set_availability(scope.org_id(), &scope.project_id, q.agent_id.as_deref(), &settings).await?;
    let source = if q.agent_id.is_some() { "agent" } else { "project" };
    Ok(axum::Json(AvailabilityView { agent_id: q.agent_id, source: source.into(), settings }))
}

/// Remove an agent's own availability: the project's applies to it again.
#[utoipa::path(delete, path = "/v1/appointments/availability", tag = "Appointments", params(AvailabilityQuery),
    responses((status = 204, description = "Removed"),
        (status = 404, description = "`NOT_FOUND`: the agent has no availability of its own",
            body = crate::error::ErrorBody)))]
async fn delete_availability(
    State(state): State<AppState>,
    scope: ProjectScope,
    Query(q): Query<AvailabilityQuery>,
) -> Result<StatusCode> {
    let agent = q
        .agent_id
        .ok_or_else(|| ApiError::invalid_field("agent_id", "Name the agent whose own availability to remove."))?;
    check_agent(&state, &scope, Some(&agent)).await?;
    state
        .store
        .delete_agent_availability(&scope.project_id, &agent)
        .await
        .map_err(|e| ApiError::missing(e, "This agent has no availability of its own."))?;
    Ok(StatusCode::NO_CONTENT)
}

/// The free slots of `days` days from `date`: starts every slot length from
/// the start of each working stretch, at least the minimum notice from now,
/// within the maximum advance, and the buffer away from every active
/// appointment of the project.
#[utoipa::path(get, path = "/v1/appointments/available-slots", tag = "Appointments", params(SlotsQuery),
    responses((status = 200, body = AvailableSlots)))]
async fn available_slots(
    State(state): State<AppState>,
    scope: ProjectScope,
    Query(q): Query<SlotsQuery>,
) -> Result<axum::Json<AvailableSlots>> {
    let mut errors = switchboard_domain::validation::FieldErrors::new();
    let first = q.date.parse::<Date>().ok();
    if first.is_none() {
        errors.add("date", "Must be a date, YYYY-MM-DD.");
    }
    let days = q.days.unwrap_or(1);
    if !(1..=MAX_DAYS).contains(&days) {
        errors.add("days", format!("Must be between 1 and {MAX_DAYS}."));
    }
    if q.duration.is_some_and(|d| !(5..=1440).contains(&d)) {
        errors.add("duration", "Must be between 5 and 1440.");
    }
    errors.finish().map_err(ApiError::validation)?;
    check_agent(&state, &scope, q.agent_id.as_deref()).await?;
    let first = first.unwrap_or_default();
    let (settings, found) = service(&state)
        .free_slots(&scope.project_id, q.agent_id.as_deref(), first, days, q.duration)
        .await
        .map_err(refused)?;
    let duration_minutes = q.duration.unwrap_or(settings.slot_minutes);
    let length = duration_minutes * switchboard_domain::appointments::MINUTE_MS;
    let days = found
        .into_iter()
        .map(|day| DayAvailability {
            date: day.date.to_string(),
            available: !day.starts.is_empty(),
            slots: day.starts.iter().map(|&s| Slot { start_time: iso(s), end_time: iso(s + length) }).collect(),
        })
        .collect();
    Ok(axum::Json(AvailableSlots { time_zone: settings.time_zone.clone(), duration_minutes, days, settings }))
}
