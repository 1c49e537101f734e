//! `/v1/webhooks`: org-level endpoints, their delivery logs, test sends and
//! redelivery; `/v1/project/webhook`; and a call's delivery log.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Deserializer, Serialize};
use switchboard_domain::events::check_subscription;
use switchboard_domain::ids::IdKind;
use switchboard_domain::keys::secret_hint;
use switchboard_domain::page::{resolve_limit, split_page};
use switchboard_domain::time::iso;
use switchboard_domain::validation::{self, FieldErrors};
use switchboard_store::deliveries::{AttemptFilter, AttemptRow};
use switchboard_store::webhooks::{
    HookScope, NewWebhook, ProjectWebhook, ProjectWebhookPatch, WebhookPatch, WebhookRow,
};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{AnyCaller, Caller, ProjectScope};
use crate::error::{ApiError, OrNotFound, Result};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

/// A webhook endpoint: of one project (made with a project key, or an org key
/// with `X-Project-Id`), receiving that project's events; or org-wide (made
/// with an org key alone), receiving every event of the org.
#[derive(Serialize, ToSchema)]
pub struct Webhook {
    pub id: String,
    /// The project whose events it receives; `null`: org-wide.
    pub project_id: Option<String>,
    pub url: String,
    /// Event names, or `"*"` for every event.
    pub events: Vec<String>,
    pub description: Option<String>,
    pub enabled: bool,
    /// The signing secret (`whsec_…`): only on create and on rotate-secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The masked tail of the signing secret.
    pub secret_hint: String,
    /// Why the endpoint was disabled automatically (410, or failing for 5 days).
    pub disabled_reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl Webhook {
    fn view(row: WebhookRow, with_secret: bool) -> Self {
        Webhook {
            secret_hint: secret_hint(&row.secret),
            secret: with_secret.then_some(row.secret),
            id: row.id,
            project_id: row.project_id,
            url: row.url,
            events: row.events,
            description: row.description,
            enabled: row.enabled,
            disabled_reason: row.disabled_reason,
            created_at: iso(row.created_at),
            updated_at: iso(row.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct WebhookList {
    pub webhooks: Vec<Webhook>,
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookCreate {
    /// Where events are POSTed; https (http on loopback in `--dev`).
    #[schema(max_length = 2048)]
    pub url: String,
    /// Event names or `"*"`; default `["*"]`.
    pub events: Option<Vec<String>>,
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// Default true.
    pub enabled: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookUpdate {
    #[schema(max_length = 2048)]
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 500)]
    pub description: Option<Option<String>>,
    /// Enabling a disabled endpoint clears its failure streak.
    pub enabled: Option<bool>,
}

fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// One delivery attempt.
#[derive(Serialize, ToSchema)]
pub struct Delivery {
    pub id: i64,
    pub event: String,
    /// The event's `whe_` id; the same on every attempt (`webhook-id` header).
    pub event_id: String,
    /// The endpoint: a `wh_` webhook, a `proj_` project webhook or an `agent_` webhook_url.
    pub endpoint_id: String,
    pub url: String,
    pub attempt: i64,
    pub status_code: Option<i64>,
    pub success: bool,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub created_at: String,
}

impl Delivery {
    fn view(row: AttemptRow) -> Self {
        Delivery {
            id: row.id,
            event: row.event,
            event_id: row.event_id,
            endpoint_id: row.endpoint_id,
            url: row.url,
            attempt: row.attempt,
            status_code: row.status_code,
            success: row.success,
            error: row.error,
            duration_ms: row.duration_ms,
            created_at: iso(row.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryList {
    pub deliveries: Vec<Delivery>,
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CallDeliveries {
    pub call_id: String,
    /// At most 500, `created_at` then `attempt` ascending.
    pub deliveries: Vec<Delivery>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// Only successful (`true`) or failed (`false`) attempts.
    pub success: Option<bool>,
    /// Only attempts of this event name.
    pub event: Option<String>,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct Redelivery {
    pub event_id: String,
    pub event: String,
    /// The URLs the event was queued for again.
    pub endpoints: Vec<String>,
}

/// The project-level webhook.
#[derive(Serialize, ToSchema)]
pub struct ProjectWebhookView {
    pub project_id: String,
    pub url: Option<String>,
    pub events: Vec<String>,
    pub enabled: bool,
    /// The signing secret: only when it was just created or rotated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub secret_hint: Option<String>,
    pub disabled_reason: Option<String>,
}

impl ProjectWebhookView {
    fn view(hook: ProjectWebhook, with_secret: bool) -> Self {
        ProjectWebhookView {
            secret_hint: hook.secret.as_deref().map(secret_hint),
            secret: hook.secret.filter(|_| with_secret),
            project_id: hook.project_id,
            url: hook.url,
            events: hook.events,
            enabled: hook.enabled,
            disabled_reason: hook.disabled_reason,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectWebhookUpdate {
    /// Where this project's events are POSTed; `null` removes the webhook.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 2048)]
    pub url: Option<Option<String>>,
    /// Event names or `"*"`; default `["*"]`.
    pub events: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// Whose webhooks a caller manages: a project key's project (or the one an org
/// key names with `X-Project-Id`); an org key alone, the org-wide ones.
fn scope_of(caller: &Caller) -> HookScope<'_> {
    HookScope { org_id: &caller.org.id, project_id: caller.project_id.as_deref() }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(get_webhook, update_webhook, delete_webhook))
        .routes(routes!(rotate_secret))
        .routes(routes!(test_webhook))
        .routes(routes!(webhook_deliveries))
        .routes(routes!(redeliver))
        .routes(routes!(get_project_webhook, update_project_webhook))
        .routes(routes!(rotate_project_secret))
        .routes(routes!(call_deliveries))
}

fn check_url(errors: &mut FieldErrors, url: &str, dev: bool) {
    errors.check("url", validation::callback_url(url, dev));
}

fn check_events(errors: &mut FieldErrors, events: &[String]) {
    if events.len() > 100 {
        errors.add("events", "Must list at most 100 events.");
    } else {
        errors.check("events", check_subscription(events));
    }
}

fn check_description(errors: &mut FieldErrors, description: &str) {
    if description.chars().count() > 500 {
        errors.add("description", "Must be at most 500 characters.");
    }
}

/// List the caller's webhooks, newest first: a project's (project key, or org
/// key with `X-Project-Id`) or the org-wide ones (org key alone).
#[utoipa::path(get, path = "/v1/webhooks", tag = "Webhooks", params(crate::routes::PageQuery),
    responses((status = 200, body = WebhookList)))]
async fn list_webhooks(
    State(state): State<AppState>,
    AnyCaller(caller): AnyCaller,
    Query(q): Query<crate::routes::PageQuery>,
) -> Result<axum::Json<WebhookList>> {
    let limit = resolve_limit(q.limit).map_err(|m| ApiError::invalid_field("limit", m))?;
    let rows =
        state.store.webhooks(scope_of(&caller), super::cursor(q.after.as_deref(), IdKind::Webhook)?, limit).await?;
    let (rows, next_cursor) = split_page(rows, limit, |r| &r.id);
    Ok(axum::Json(WebhookList { webhooks: rows.into_iter().map(|r| Webhook::view(r, false)).collect(), next_cursor }))
}

/// Create a webhook: with a project key (or an org key with `X-Project-Id`)
/// it receives that project's events; with an org key alone, every event of
/// the org. The response carries its signing secret, once.
#[utoipa::path(post, path = "/v1/webhooks", tag = "Webhooks", request_body = WebhookCreate,
    responses((status = 201, body = Webhook)))]
async fn create_webhook(
    State(state): State<AppState>,
    AnyCaller(caller): AnyCaller,
    Json(body): Json<WebhookCreate>,
) -> Result<impl IntoResponse> {
    let events = body.events.unwrap_or_else(|| vec!["*".into()]);
    let mut errors = FieldErrors::new();
    check_url(&mut errors, &body.url, state.settings.dev);
    check_events(&mut errors, &events);
    if let Some(description) = &body.description {
        check_description(&mut errors, description);
    }
    errors.finish().map_err(ApiError::validation)?;
    let new =
        NewWebhook { url: body.url, events, description: body.description, enabled: body.enabled.unwrap_or(true) };
    let row = state.store.create_webhook(scope_of(&caller), &new).await?;
    Ok((StatusCode::CREATED, axum::Json(Webhook::view(row, true))))
}

/// Get one of the caller's webhooks.
#[utoipa::path(get, path = "/v1/webhooks/{webhook_id}", tag = "Webhooks", params(("webhook_id" = String, Path)),
    responses((status = 200, body = Webhook)))]
async fn get_webhook(
    State(state): State<AppState>,
    AnyCaller(caller): AnyCaller,
    Path(id): Path<String>,
) -> Result<axum::Json<Webhook>> {
    let row = state.store.webhook(scope_of(&caller), &id).await.or_not_found("Webhook not found")?;
    Ok(axum::Json(Webhook::view(row, false)))
}

/// Update one of the caller's webhooks: only the fields sent change.
#[utoipa::path(patch, path = "/v1/webhooks/{webhook_id}", tag = "Webhooks", params(("webhook_id" = String, Path)),
    request_body = WebhookUpdate, responses((status = 200, body = Webhook)))]
async fn update_webhook(
    State(state): State<AppState>,
    AnyCaller(caller): AnyCaller,
    Path(id): Path<String>,
    Json(body): Json<WebhookUpdate>,
) -> Result<axum::Json<Webhook>> {
    let mut errors = FieldErrors::new();
    if let Some(url) = &body.url {
        check_url(&mut errors, url, state.settings.dev);
    }
    if let Some(events) = &body.events {
        check_events(&mut errors, events);
    }
    if let Some(Some(description)) = &body.description {
        check_description(&mut errors, description);
    }
    errors.finish().map_err(ApiError::validation)?;
    let patch =
        WebhookPatch { url: body.url, events: body.events, description: body.description, enabled: body.enabled };
    let row = state.store.update_webhook(scope_of(&caller), &id, &patch).await.or_not_found("Webhook not found")?;
    Ok(axum::Json(Webhook::view(row, false)))
}

/// Delete one of the caller's webhooks; deliveries still queued for it fail.
#[utoipa::path(delete, path = "/v1/webhooks/{webhook_id}", tag = "Webhooks", params(("webhook_id" = String, Path)),
    responses((status = 204, description = "Deleted")))]
async fn delete_webhook(
    State(state): State<AppState>,
    AnyCaller(caller): AnyCaller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    state.store.delete_webhook(scope_of(&caller), &id).await.or_not_found("Webhook not found")?;
    Ok(StatusCode::NO_CONTENT)
}

/// Issue a new signing secret; the old one stops working at once.
#[utoipa::path(post, path = "/v1/webhooks/{webhook_id}/rotate-secret", tag = "Webhooks",
    params(("webhook_id" = String, Path)), responses((status = 200, body = Webhook)))]
async fn rotate_secret(
    State(state): State<AppState>,
    AnyCaller(caller): AnyCaller,
    Path(id): Path<String>,
) -> Result<axum::Json<Webhook>> {
    let row = state.store.rotate_webhook_secret(scope_of(&caller), &id).await.or_not_found("Webhook not found")?;
    Ok(axum::Json(Webhook::view(row, true)))
}

/// Send a `webhook.test` event to this endpoint now and return the attempt.
/// Works on disabled endpoints too; never retried, never changes the
/// endpoint's health.
#[utoipa::path(post, path = "/v1/webhooks/{webhook_id}/test", tag = "Webhooks",
    params(("webhook_id" = String, Path)), responses((status = 200, body = Delivery)))]
async fn test_webhook(
    State(state): State<AppState>,
    AnyCaller(caller): AnyCaller,
    Path(id): Path<String>,
) -> Result<axum::Json<Delivery>> {
    let attempt = state.webhooks.send_test(scope_of(&caller), &id).await.or_not_found("Webhook not found")?;
    Ok(axum::Json(Delivery::view(attempt)))
}

/// The endpoint's delivery attempts, newest first.
#[utoipa::path(get, path = "/v1/webhooks/{webhook_id}/deliveries", tag = "Webhooks",
    params(("webhook_id" = String, Path), DeliveryQuery), responses((status = 200, body = DeliveryList)))]
async fn webhook_deliveries(
    State(state): State<AppState>,
    AnyCaller(caller): AnyCaller,
    Path(id): Path<String>,
    Query(q): Query<DeliveryQuery>,
) -> Result<axum::Json<DeliveryList>> {
    let limit = resolve_limit(q.limit).map_err(|m| ApiError::invalid_field("limit", m))?;
    let after = match q.after.as_deref() {
        None => None,
        Some(cursor) => {
            Some(cursor.parse::<i64>().map_err(|_| ApiError::invalid_field("after", "Not a cursor of this list."))?)
        }
    };
    state.store.webhook(scope_of(&caller), &id).await.or_not_found("Webhook not found")?;
    let filter = AttemptFilter { success: q.success, event: q.event };
    let mut rows = state.store.endpoint_attempts(&caller.org.id, &id, &filter, after, limit).await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = rows.last().filter(|_| more).map(|r| r.id.to_string());
    Ok(axum::Json(DeliveryList { deliveries: rows.into_iter().map(Delivery::view).collect(), next_cursor }))
}

/// Queue an event again for every endpoint it went to (same `id` and
/// `webhook-id`), or for the endpoints that match it now if it had none.
#[utoipa::path(post, path = "/v1/webhooks/events/{event_id}/redeliver", tag = "Webhooks",
    params(("event_id" = String, Path)), responses((status = 202, body = Redelivery)))]
async fn redeliver(
    State(state): State<AppState>,
    AnyCaller(caller): AnyCaller,
    Path(event_id): Path<String>,
) -> Result<impl IntoResponse> {
    let event = state.store.event(&caller.org.id, &event_id).await.or_not_found("Event not found")?;
    let endpoints = state.store.redeliver_event(scope_of(&caller), &event_id).await.or_not_found("Event not found")?;
    Ok((StatusCode::ACCEPTED, axum::Json(Redelivery { event_id: event.id, event: event.event, endpoints })))
}

/// The project's webhook.
#[utoipa::path(get, path = "/v1/project/webhook", tag = "Webhooks", responses((status = 200, body = ProjectWebhookView)))]
async fn get_project_webhook(
    State(state): State<AppState>,
    scope: ProjectScope,
) -> Result<axum::Json<ProjectWebhookView>> {
    let hook = state.store.project_webhook(scope.org_id(), &scope.project_id).await?;
    Ok(axum::Json(ProjectWebhookView::view(hook, false)))
}

/// Set the project's webhook. The response carries the signing secret when
/// the webhook gets its first URL.
#[utoipa::path(patch, path = "/v1/project/webhook", tag = "Webhooks", request_body = ProjectWebhookUpdate,
    responses((status = 200, body = ProjectWebhookView)))]
async fn update_project_webhook(
    State(state): State<AppState>,
    scope: ProjectScope,
    Json(body): Json<ProjectWebhookUpdate>,
) -> Result<axum::Json<ProjectWebhookView>> {
    let mut errors = FieldErrors::new();
    if let Some(Some(url)) = &body.url {
        check_url(&mut errors, url, state.settings.dev);
    }
    if let Some(events) = &body.events {
        check_events(&mut errors, events);
    }
    errors.finish().map_err(ApiError::validation)?;
    let current = state.store.project_webhook(scope.org_id(), &scope.project_id).await?;
    let patch = ProjectWebhookPatch { url: body.url, events: body.events, enabled: body.enabled };
    if patch.enabled == Some(true) && current.url.is_none() && !matches!(patch.url, Some(Some(_))) {
        return Err(ApiError::invalid_field("enabled", "Set a url before enabling the webhook."));
    }
    let hook = state.store.update_project_webhook(scope.org_id(), &scope.project_id, &patch, false).await?;
    let new_secret = current.secret.is_none() && hook.secret.is_some();
    Ok(axum::Json(ProjectWebhookView::view(hook, new_secret)))
}

/// Issue a new signing secret for the project's webhook; the old one stops
/// working at once.
#[utoipa::path(post, path = "/v1/project/webhook/rotate-secret", tag = "Webhooks",
    responses((status = 200, body = ProjectWebhookView)))]
async fn rotate_project_secret(
    State(state): State<AppState>,
    scope: ProjectScope,
) -> Result<axum::Json<ProjectWebhookView>> {
    let hook = state
        .store
        .update_project_webhook(scope.org_id(), &scope.project_id, &ProjectWebhookPatch::default(), true)
        .await?;
    Ok(axum::Json(ProjectWebhookView::view(hook, true)))
}

/// The webhook deliveries of one call across every endpoint: at most 500,
/// `created_at ASC, attempt ASC`.
#[utoipa::path(get, path = "/v1/calls/{call_id}/webhooks", tag = "Calls", params(("call_id" = String, Path)),
    responses((status = 200, body = CallDeliveries)))]
async fn call_deliveries(
    State(state): State<AppState>,
    scope: ProjectScope,
    Path(call_id): Path<String>,
) -> Result<axum::Json<CallDeliveries>> {
    let call = state.store.call(&scope.project_id, &call_id).await.or_not_found("Call not found")?;
    let rows = state.store.call_attempts(scope.org_id(), &call.id).await?;
    Ok(axum::Json(CallDeliveries { call_id: call.id, deliveries: rows.into_iter().map(Delivery::view).collect() }))
}
