//! `/v1/contacts`: the people a project talks to, one per phone and per email,
//! each with one conversation across channels and calls
//! (`GET /v1/contacts/{contact_id}/messages`, Centerfy's get-contact-messages).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Deserializer, Serialize};
use switchboard_domain::ids::IdKind;
use switchboard_domain::memory::IdentityHints;
use switchboard_domain::messaging::{self, Channel, Sender};
use switchboard_domain::page::{resolve_limit, split_page};
use switchboard_domain::phone::E164;
use switchboard_domain::time::iso;
use switchboard_domain::validation::FieldErrors;
use switchboard_runtime::call::memory::line_type_of;
use switchboard_store::contacts::{ContactFilter, ContactPatch, ContactRow, NewContact};
use switchboard_store::memory::MemoryScope;
use switchboard_store::messages::HistoryEntry;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ProjectScope;
use crate::error::{ApiError, ErrorBody, Result};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

/// A contact.
#[derive(Serialize, ToSchema)]
pub struct Contact {
    /// `contact_…`
    pub id: String,
    pub name: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    /// Lowercased.
    pub email: Option<String>,
    /// Your ids for this person, e.g. `{"crm_id": "42"}`.
    pub external_ids: BTreeMap<String, String>,
    /// The contact's one conversation (`conv_…`), across every channel.
    pub conversation_id: String,
    /// The caller-memory customer this contact is recognised as (by phone and
    /// external ids, as `POST /v1/calls/start` recognises callers), or null.
    pub customer_ref: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct ContactList {
    pub contacts: Vec<Contact>,
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactCreate {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    /// E.164; unique in the project. A phone or an email is required.
    pub phone: Option<String>,
    /// Unique in the project (case-insensitive).
    #[schema(max_length = 254)]
    pub email: Option<String>,
    /// At most 20; names 1–128 characters, values 1–1024.
    pub external_ids: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactUpdate {
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 200)]
    pub name: Option<Option<String>>,
    /// `null` clears it (the contact must keep a phone or an email).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    /// `null` clears it (the contact must keep a phone or an email).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 254)]
    pub email: Option<Option<String>>,
    /// Replaces the whole map.
    pub external_ids: Option<BTreeMap<String, String>>,
}

fn nullable<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContactQuery {
    /// Only the contact with this phone (E.164).
    pub phone: Option<String>,
    /// Only the contact with this email (case-insensitive).
    pub email: Option<String>,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// One entry of a conversation.
#[derive(Serialize, ToSchema)]
pub struct ConversationMessage {
    /// `msg_…`, or the `call_…` id for a call.
    pub id: String,
    /// The text; for a call, its summary.
    pub content: String,
    /// `agent` or `contact` (for a call: who placed it).
    pub sender_type: Sender,
    /// The channel: `sms`, `email`, `whatsapp`, `facebook`, `instagram` or `call`.
    pub message_type: Channel,
    pub timestamp: String,
}

/// The contact's name, email and phone.
#[derive(Serialize, ToSchema)]
pub struct ContactCard {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// A page of a contact's conversation, newest first.
#[derive(Serialize, ToSchema)]
pub struct ContactMessages {
    pub contact_id: String,
    pub contact: ContactCard,
    pub conversation_id: String,
    pub messages: Vec<ConversationMessage>,
    /// Every entry of the conversation (messages and calls).
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConversationQuery {
    /// 1–200; default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Entries to skip; default 0.
    #[param(minimum = 0)]
    pub offset: Option<u32>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_contacts, create_contact))
        .routes(routes!(get_contact, update_contact, delete_contact))
        .routes(routes!(contact_messages))
}

pub(crate) fn not_found(err: switchboard_store::Error) -> ApiError {
    match err {
        switchboard_store::Error::NotFound => ApiError::not_found("Contact not found"),
        switchboard_store::Error::Conflict(message) => ApiError::conflict("CONTACT_EXISTS", message),
        other => other.into(),
    }
}

/// The caller-memory customer of a contact, if memory recognises them.
async fn customer_ref(state: &AppState, row: &ContactRow) -> Result<Option<String>> {
    let hints = IdentityHints {
        ani: row.phone.clone(),
        line_type: row.phone.as_deref().map(line_type_of).unwrap_or_default(),
        external_ids: row.external_ids.clone(),
        customer_ref: None,
    };
    if hints.is_empty() {
        return Ok(None);
    }
    let scope = MemoryScope { org_id: &row.org_id, project_id: &row.project_id };
    Ok(state.store.memory_lookup(scope, &hints, &state.settings.memory).await?.customer_ref)
}

pub(crate) async fn view(state: &AppState, row: ContactRow) -> Result<Contact> {
    let customer_ref = customer_ref(state, &row).await?;
    Ok(Contact {
        conversation_id: messaging::conversation_id(&row.id),
        id: row.id,
        name: row.name,
        phone: row.phone,
        email: row.email,
        external_ids: row.external_ids,
        customer_ref,
        created_at: iso(row.created_at),
        updated_at: iso(row.updated_at),
    })
}

fn check_phone(errors: &mut FieldErrors, phone: &str) {
    if E164::parse(phone).is_none() {
        errors.add("phone", "Must be an E.164 phone number, e.g. +31612345678.");
    }
}

fn check_fields(
    errors: &mut FieldErrors,
    name: Option<&str>,
    phone: Option<&str>,
    email: Option<&str>,
    ids: Option<&BTreeMap<String, String>>,
) {
    if let Some(name) = name {
        errors.check("name", messaging::check_name(name));
    }
    if let Some(phone) = phone {
        check_phone(errors, phone);
    }
    if let Some(email) = email {
        errors.check("email", messaging::check_email(email.trim()));
    }
    if let Some(ids) = ids {
        messaging::check_external_ids(errors, ids);
    }
}

/// List contacts, newest first; filter by `phone` or `email`.
#[utoipa::path(get, path = "/v1/contacts", tag = "Contacts", params(ContactQuery),
    responses((status = 200, body = ContactList)))]
async fn list_contacts(
    State(state): State<AppState>,
    scope: ProjectScope,
    Query(q): Query<ContactQuery>,
) -> Result<axum::Json<ContactList>> {
    let limit = resolve_limit(q.limit).map_err(|m| ApiError::invalid_field("limit", m))?;
    let filter = ContactFilter { phone: q.phone, email: q.email.as_deref().map(messaging::normalize_email) };
    let rows = state
        .store
        .contacts(&scope.project_id, &filter, super::cursor(q.after.as_deref(), IdKind::Contact)?, limit)
        .await?;
    let (rows, next_cursor) = split_page(rows, limit, |r| &r.id);
    let mut contacts = Vec::with_capacity(rows.len());
    for row in rows {
        contacts.push(view(&state, row).await?);
    }
    Ok(axum::Json(ContactList { contacts, next_cursor }))
}

/// Create a contact. It needs a phone or an email; a project holds one
/// contact per phone and one per email (409 `CONTACT_EXISTS`).
#[utoipa::path(post, path = "/v1/contacts", tag = "Contacts", request_body = ContactCreate,
    responses((status = 201, body = Contact),
        (status = 409, description = "`CONTACT_EXISTS`: the phone or email belongs to another contact", body = ErrorBody)))]
async fn create_contact(
    State(state): State<AppState>,
    scope: ProjectScope,
    Json(body): Json<ContactCreate>,
) -> Result<impl IntoResponse> {
    let mut errors = FieldErrors::new();
    check_fields(
        &mut errors,
        body.name.as_deref(),
        body.phone.as_deref(),
        body.email.as_deref(),
        body.external_ids.as_ref(),
    );
    if body.phone.is_none() && body.email.is_none() {
        errors.add("phone", "A contact needs a phone or an email.");
    }
    errors.finish().map_err(ApiError::validation)?;
    let new = NewContact {
        name: body.name,
        phone: body.phone,
        email: body.email.as_deref().map(messaging::normalize_email),
        external_ids: body.external_ids.unwrap_or_default(),
    };
    let row = state.store.create_contact(scope.org_id(), &scope.project_id, &new).await.map_err(not_found)?;
    Ok((StatusCode::CREATED, axum::Json(view(&state, row).await?)))
}

/// Get a contact.
#[utoipa::path(get, path = "/v1/contacts/{contact_id}", tag = "Contacts", params(("contact_id" = String, Path)),
    responses((status = 200, body = Contact)))]
async fn get_contact(
    State(state): State<AppState>,
    scope: ProjectScope,
    Path(id): Path<String>,
) -> Result<axum::Json<Contact>> {
    let row = state.store.contact(&scope.project_id, &id).await.map_err(not_found)?;
    Ok(axum::Json(view(&state, row).await?))
}

/// Update a contact: only the fields sent change.
#[utoipa::path(patch, path = "/v1/contacts/{contact_id}", tag = "Contacts", params(("contact_id" = String, Path)),
    request_body = ContactUpdate, responses((status = 200, body = Contact),
        (status = 409, description = "`CONTACT_EXISTS`: the phone or email belongs to another contact", body = ErrorBody)))]
async fn update_contact(
    State(state): State<AppState>,
    scope: ProjectScope,
    Path(id): Path<String>,
    Json(body): Json<ContactUpdate>,
) -> Result<axum::Json<Contact>> {
    let mut errors = FieldErrors::new();
    check_fields(
        &mut errors,
        body.name.clone().flatten().as_deref(),
        body.phone.clone().flatten().as_deref(),
        body.email.clone().flatten().as_deref(),
        body.external_ids.as_ref(),
    );
    errors.finish().map_err(ApiError::validation)?;
    let current = state.store.contact(&scope.project_id, &id).await.map_err(not_found)?;
    let keeps_phone = body.phone.as_ref().map_or(current.phone.is_some(), Option::is_some);
    let keeps_email = body.email.as_ref().map_or(current.email.is_some(), Option::is_some);
    if !keeps_phone && !keeps_email {
        return Err(ApiError::invalid_field("phone", "A contact needs a phone or an email."));
    }
    let patch = ContactPatch {
        name: body.name,
        phone: body.phone,
        email: body.email.map(|e| e.as_deref().map(messaging::normalize_email)),
        external_ids: body.external_ids,
    };
    let row = state.store.update_contact(&scope.project_id, &id, &patch).await.map_err(not_found)?;
    Ok(axum::Json(view(&state, row).await?))
}

/// Delete a contact and its messages. Caller memory of the same person is
/// kept (erase it through `/v1/customers`).
#[utoipa::path(delete, path = "/v1/contacts/{contact_id}", tag = "Contacts", params(("contact_id" = String, Path)),
    responses((status = 204, description = "Deleted")))]
async fn delete_contact(
    State(state): State<AppState>,
    scope: ProjectScope,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    state.store.delete_contact(&scope.project_id, &id).await.map_err(not_found)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The contact's conversation across every channel, newest first: messages
/// sent and received, and the project's finished calls from or to the
/// contact's phone (as `call` entries carrying the call's summary). As in
/// Centerfy, a contact with nothing in its conversation yet is 404.
#[utoipa::path(get, path = "/v1/contacts/{contact_id}/messages", tag = "Contacts",
    params(("contact_id" = String, Path), ConversationQuery), responses((status = 200, body = ContactMessages),
        (status = 404, description = "`NOT_FOUND`: no such contact, or no conversation with it yet",
            body = crate::error::ErrorBody)))]
async fn contact_messages(
    State(state): State<AppState>,
    scope: ProjectScope,
    Path(id): Path<String>,
    Query(q): Query<ConversationQuery>,
) -> Result<axum::Json<ContactMessages>> {
    let limit = i64::from(q.limit.unwrap_or(50));
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid_field("limit", "Must be between 1 and 200."));
    }
    let offset = i64::from(q.offset.unwrap_or(0));
    let contact = state.store.contact(&scope.project_id, &id).await.map_err(not_found)?;
    let (entries, total) = state.store.conversation(&contact, limit, offset).await?;
    if total == 0 {
        return Err(ApiError::not_found("This contact has no conversation yet."));
    }
    Ok(axum::Json(ContactMessages {
        conversation_id: messaging::conversation_id(&contact.id),
        contact_id: contact.id,
        contact: ContactCard { name: contact.name, email: contact.email, phone: contact.phone },
        messages: entries.into_iter().map(entry_view).collect(),
        total,
        limit,
        offset,
    }))
}

fn entry_view(entry: HistoryEntry) -> ConversationMessage {
    ConversationMessage {
        id: entry.id,
        content: entry.content,
        sender_type: entry.sender,
        message_type: entry.channel,
        timestamp: iso(entry.timestamp),
    }
}
