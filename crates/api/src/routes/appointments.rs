//! `/v1/appointments`: a project's calendar. Create, list, get, change
//! (reschedule included) and cancel appointments; two active appointments of
//! a project never overlap (409 `APPOINTMENT_CONFLICT`). Availability and free
//! slots live in `availability`, the iCalendar feed in `calendar`.

mod availability;
mod calendar;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Deserializer, Serialize};
use switchboard_domain::appointments::{Appointment, AppointmentRecord, MINUTE_MS, Status, time_zone};
use switchboard_domain::ids::IdKind;
use switchboard_domain::messaging;
use switchboard_domain::page::{resolve_limit, split_page};
use switchboard_domain::phone::E164;
use switchboard_domain::time::parse_iso;
use switchboard_domain::validation::{FieldErrors, optional_text, required_text};
use switchboard_runtime::appointments::{AppointmentError, Appointments, Booking, Change, Scope};
use switchboard_store::appointments::AppointmentFilter;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ProjectScope;
use crate::error::{ApiError, ErrorBody, Result};
use crate::extract::{Json, OptionalJson, Path, Query};
use crate::state::AppState;

pub use calendar::public_router;

const TITLE_MAX: usize = 200;
const NOTES_MAX: usize = 5_000;
/// The length of an appointment created with neither `end_time` nor
/// `duration_minutes` (VoxForge's default).
const DEFAULT_MINUTES: i64 = 30;

#[derive(Serialize, ToSchema)]
pub struct AppointmentList {
    pub appointments: Vec<Appointment>,
    pub next_cursor: Option<String>,
}

/// A new appointment. `start_time` and `title` are required; the end is
/// `end_time`, or `start_time` + `duration_minutes` (default 30).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppointmentCreate {
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// ISO-8601 with an offset, e.g. `2027-03-01T09:00:00Z`.
    pub start_time: String,
    pub end_time: Option<String>,
    #[schema(minimum = 1, maximum = 1440)]
    pub duration_minutes: Option<i64>,
    /// IANA zone to show it in; default the availability's.
    pub time_zone: Option<String>,
    /// One of the project's agents.
    pub agent_id: Option<String>,
    /// One of the project's calls, the one it was booked in.
    pub call_id: Option<String>,
    /// One of the project's contacts; fills in the contact fields not given.
    pub contact_id: Option<String>,
    #[schema(max_length = 200)]
    pub contact_name: Option<String>,
    /// E.164.
    pub contact_phone: Option<String>,
    pub contact_email: Option<String>,
    #[schema(max_length = 5000)]
    pub notes: Option<String>,
    /// `scheduled` (default) or `confirmed`.
    pub status: Option<Status>,
    /// Book outside the availability (working hours, notice, advance,
    /// buffer). Never past another active appointment.
    #[serde(default)]
    pub force: bool,
}

/// A change: only the fields sent change; `null` clears a nullable one.
/// Moving (`start_time`, `end_time`, `duration_minutes`) keeps the booking
/// rules; `status: cancelled` is the same as `POST …/cancel`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppointmentUpdate {
    #[schema(min_length = 1, max_length = 200)]
    pub title: Option<String>,
    /// The new start; the length is kept unless `end_time` or
    /// `duration_minutes` is sent too.
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    #[schema(minimum = 1, maximum = 1440)]
    pub duration_minutes: Option<i64>,
    pub time_zone: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 5000)]
    pub notes: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub contact_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub contact_phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub contact_email: Option<Option<String>>,
    /// Any status; a closed appointment (not `scheduled` or `confirmed`)
    /// keeps its status and time (409 `APPOINTMENT_CLOSED`).
    pub status: Option<Status>,
    /// With `status: cancelled`.
    pub cancel_reason: Option<String>,
    #[serde(default)]
    pub force: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppointmentCancel {
    #[schema(max_length = 1000)]
    pub reason: Option<String>,
}

fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AppointmentQuery {
    pub status: Option<Status>,
    pub agent_id: Option<String>,
    /// E.164.
    pub contact_phone: Option<String>,
    /// Appointments starting at or after this ISO-8601 time or date (UTC).
    pub from: Option<String>,
    /// Appointments starting before this ISO-8601 time, or on or before this date (UTC).
    pub to: Option<String>,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_appointments, create_appointment))
        .routes(routes!(get_appointment, update_appointment))
        .routes(routes!(cancel_appointment))
        .merge(availability::router())
        .merge(calendar::router())
}

fn service(state: &AppState) -> Appointments {
    Appointments::new(state.store.clone())
}

/// The API's answer to a refusal of the appointment service.
fn refused(err: AppointmentError) -> ApiError {
    match err {
        AppointmentError::NotFound(message) => ApiError::not_found(message),
        AppointmentError::Invalid { field, message } => ApiError::invalid_field(field, message),
        AppointmentError::Taken(message) => ApiError::conflict("APPOINTMENT_CONFLICT", message),
        AppointmentError::Closed(message) => ApiError::conflict("APPOINTMENT_CLOSED", message),
        AppointmentError::Store(err) => err.into(),
    }
}

/// An ISO-8601 time field, or its error.
fn instant(errors: &mut FieldErrors, field: &str, value: Option<&str>) -> Option<i64> {
    let value = value?;
    let parsed = parse_iso(value);
    if parsed.is_none() {
        errors.add(field, "Must be an ISO-8601 time with an offset, e.g. 2027-03-01T09:00:00Z.");
    }
    parsed
}

fn check_duration(errors: &mut FieldErrors, minutes: Option<i64>) {
    if minutes.is_some_and(|m| !(1..=24 * 60).contains(&m)) {
        errors.add("duration_minutes", "Must be between 1 and 1440.");
    }
}

/// Checks the contact and text fields both bodies share.
fn check_contact(errors: &mut FieldErrors, name: Option<&str>, phone: Option<&str>, email: Option<&str>) {
    if let Some(name) = name {
        errors.check("contact_name", required_text(name, 200));
    }
    if phone.is_some_and(|p| E164::parse(p).is_none()) {
        errors.add("contact_phone", "Must be an E.164 phone number, e.g. +31612345678.");
    }
    if let Some(email) = email {
        errors.check("contact_email", messaging::check_email(email.trim()));
    }
}

fn check_zone(errors: &mut FieldErrors, zone: Option<&str>) {
    if let Some(zone) = zone {
        errors.check("time_zone", time_zone(zone).map(drop));
    }
}

/// List appointments, newest booking first; filter by status, agent,
/// contact phone and start time.
#[utoipa::path(get, path = "/v1/appointments", tag = "Appointments", params(AppointmentQuery),
    responses((status = 200, body = AppointmentList)))]
async fn list_appointments(
    State(state): State<AppState>,
    scope: ProjectScope,
    Query(q): Query<AppointmentQuery>,
) -> Result<axum::Json<AppointmentList>> {
    let limit = resolve_limit(q.limit).map_err(|m| ApiError::invalid_field("limit", m))?;
    let mut errors = FieldErrors::new();
    let from = bound(&mut errors, "from", q.from.as_deref(), false);
    let to = bound(&mut errors, "to", q.to.as_deref(), true);
    errors.finish().map_err(ApiError::validation)?;
    let filter = AppointmentFilter { status: q.status, agent_id: q.agent_id, contact_phone: q.contact_phone, from, to };
    let after = super::cursor(q.after.as_deref(), IdKind::Appointment)?;
    let rows = state.store.appointments(&scope.project_id, &filter, after, limit).await?;
    let (rows, next_cursor) = split_page(rows, limit, |r| &r.id);
    Ok(axum::Json(AppointmentList { appointments: rows.iter().map(AppointmentRecord::view).collect(), next_cursor }))
}

/// A `from`/`to` filter: an ISO time, or a date (its start; for `to`, the
/// end of that day).
fn bound(errors: &mut FieldErrors, field: &str, value: Option<&str>, end_of_day: bool) -> Option<i64> {
    let value = value?;
    if let Some((start, end)) = switchboard_domain::validation::utc_day_bounds(value) {
        return Some(if end_of_day { end } else { start });
    }
    instant(errors, field, Some(value))
}

/// Book an appointment. It must fit the availability (working hours,
/// notice, advance, buffer) unless `force` is sent, and must not overlap
/// another active appointment of the project, whatever the timing of
/// concurrent requests (409 `APPOINTMENT_CONFLICT`). Sends `appointment.booked`.
#[utoipa::path(post, path = "/v1/appointments", tag = "Appointments", request_body = AppointmentCreate,
    responses((status = 201, body = Appointment),
        (status = 404, description = "`NOT_FOUND`: the agent, call or contact is not the project's", body = ErrorBody),
        (status = 409, description = "`APPOINTMENT_CONFLICT`: another appointment holds the time", body = ErrorBody)))]
async fn create_appointment(
    State(state): State<AppState>,
    scope: ProjectScope,
    Json(body): Json<AppointmentCreate>,
) -> Result<impl IntoResponse> {
    let mut errors = FieldErrors::new();
    errors.check("title", required_text(&body.title, TITLE_MAX));
    if let Some(notes) = &body.notes {
        errors.check("notes", optional_text(notes, NOTES_MAX));
    }
    check_contact(
        &mut errors,
        body.contact_name.as_deref(),
        body.contact_phone.as_deref(),
        body.contact_email.as_deref(),
    );
    check_zone(&mut errors, body.time_zone.as_deref());
    check_duration(&mut errors, body.duration_minutes);
    if body.status.is_some_and(|s| !s.is_active()) {
        errors.add("status", "A new appointment is scheduled or confirmed.");
    }
    let start = instant(&mut errors, "start_time", Some(&body.start_time));
    let end = instant(&mut errors, "end_time", body.end_time.as_deref());
    if body.end_time.is_some() && body.duration_minutes.is_some() {
        errors.add("duration_minutes", "Send end_time or duration_minutes, not both.");
    }
    errors.finish().map_err(ApiError::validation)?;
    let start_ms = start.unwrap_or_default();
    let end_ms = end.unwrap_or(start_ms + body.duration_minutes.unwrap_or(DEFAULT_MINUTES) * MINUTE_MS);
    let booking = Booking {
        agent_id: body.agent_id,
        call_id: body.call_id,
        contact_id: body.contact_id,
        contact_name: body.contact_name,
        contact_phone: body.contact_phone,
        contact_email: body.contact_email.as_deref().map(messaging::normalize_email),
        title: body.title,
        notes: body.notes,
        start_ms,
        end_ms,
        time_zone: body.time_zone,
        status: body.status,
        force: body.force,
    };
    let scope = Scope { org_id: scope.org_id(), project_id: &scope.project_id };
    let record = service(&state).book(scope, booking).await.map_err(refused)?;
    Ok((StatusCode::CREATED, axum::Json(record.view())))
}

/// Get an appointment.
#[utoipa::path(get, path = "/v1/appointments/{appointment_id}", tag = "Appointments",
    params(("appointment_id" = String, Path)), responses((status = 200, body = Appointment)))]
async fn get_appointment(
    State(state): State<AppState>,
    scope: ProjectScope,
    Path(id): Path<String>,
) -> Result<axum::Json<Appointment>> {
    let record = service(&state).get(&scope.project_id, &id).await.map_err(refused)?;
    Ok(axum::Json(record.view()))
}

/// Change an appointment: reschedule it (a new `start_time`, `end_time` or
/// `duration_minutes`; sends `appointment.rescheduled`), change its status
/// (`cancelled` sends `appointment.cancelled`), or its details.
#[utoipa::path(patch, path = "/v1/appointments/{appointment_id}", tag = "Appointments",
    params(("appointment_id" = String, Path)), request_body = AppointmentUpdate,
    responses((status = 200, body = Appointment),
        (status = 409, description = "`APPOINTMENT_CONFLICT`: another appointment holds the new time; \
            `APPOINTMENT_CLOSED`: a closed appointment cannot move or change status", body = ErrorBody)))]
async fn update_appointment(
    State(state): State<AppState>,
    scope: ProjectScope,
    Path(id): Path<String>,
    Json(body): Json<AppointmentUpdate>,
) -> Result<axum::Json<Appointment>> {
    let mut errors = FieldErrors::new();
    if let Some(title) = &body.title {
        errors.check("title", required_text(title, TITLE_MAX));
    }
    if let Some(Some(notes)) = &body.notes {
        errors.check("notes", optional_text(notes, NOTES_MAX));
    }
    check_contact(
        &mut errors,
        body.contact_name.clone().flatten().as_deref(),
        body.contact_phone.clone().flatten().as_deref(),
        body.contact_email.clone().flatten().as_deref(),
    );
    check_zone(&mut errors, body.time_zone.as_deref());
    check_duration(&mut errors, body.duration_minutes);
    let start = instant(&mut errors, "start_time", body.start_time.as_deref());
    let end = instant(&mut errors, "end_time", body.end_time.as_deref());
    if body.end_time.is_some() && body.duration_minutes.is_some() {
        errors.add("duration_minutes", "Send end_time or duration_minutes, not both.");
    }
    errors.finish().map_err(ApiError::validation)?;
    let service = service(&state);
    let moves = start.is_some() || end.is_some() || body.duration_minutes.is_some();
    let times = if moves {
        let current = service.get(&scope.project_id, &id).await.map_err(refused)?;
        let start_ms = start.unwrap_or(current.start_ms);
        let length = body.duration_minutes.map_or(current.end_ms - current.start_ms, |m| m * MINUTE_MS);
        Some((start_ms, end.unwrap_or(start_ms + length)))
    } else {
        None
    };
    let change = Change {
        title: body.title,
        notes: body.notes,
        contact_name: body.contact_name,
        contact_phone: body.contact_phone,
        contact_email: body.contact_email.map(|e| e.as_deref().map(messaging::normalize_email)),
        times,
        time_zone: body.time_zone,
        status: body.status,
        cancel_reason: body.cancel_reason,
        force: body.force,
    };
    let record = service.change(&scope.project_id, &id, change).await.map_err(refused)?;
    Ok(axum::Json(record.view()))
}

/// Cancel an appointment: its time is free again. Sends `appointment.cancelled`.
/// Cancelling a cancelled appointment changes nothing.
#[utoipa::path(post, path = "/v1/appointments/{appointment_id}/cancel", tag = "Appointments",
    params(("appointment_id" = String, Path)), request_body(content = Option<AppointmentCancel>),
    responses((status = 200, body = Appointment),
        (status = 409, description = "`APPOINTMENT_CLOSED`: completed, no-show or replaced", body = ErrorBody)))]
async fn cancel_appointment(
    State(state): State<AppState>,
    scope: ProjectScope,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<AppointmentCancel>,
) -> Result<axum::Json<Appointment>> {
    let reason = body.and_then(|b| b.reason);
    if let Some(reason) = &reason {
        optional_text(reason, 1_000).map_err(|m| ApiError::invalid_field("reason", m))?;
    }
    let service = service(&state);
    let current = service.get(&scope.project_id, &id).await.map_err(refused)?;
    if current.status == Status::Cancelled {
        return Ok(axum::Json(current.view()));
    }
    let record = service.cancel(&scope.project_id, &id, reason).await.map_err(refused)?;
    Ok(axum::Json(record.view()))
}
