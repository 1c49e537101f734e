//! `/v1/knowledge-bases/{kb_id}/entries`: the question/answer entries of a
//! knowledge base — manual ones, and those crawls and uploads made.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Serialize;
use switchboard_domain::ids::IdKind;
use switchboard_domain::knowledge::entries::{EntryCreate, EntryOrigin, EntryPatch, MAX_ENTRIES_PER_KB};
use switchboard_domain::page::split_page;
use switchboard_domain::time::iso;
use switchboard_store::knowledge::{EntryRefusal, EntryRow};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::limit;
use crate::auth::AnyCaller;
use crate::error::{ApiError, OrNotFound, Result};
use crate::extract::{Json, Path, Query};
use crate::routes::PageQuery;
use crate::state::AppState;

/// One question and its answer.
#[derive(Serialize, ToSchema)]
pub struct Entry {
    pub id: String,
    pub knowledge_base_id: String,
    pub question: String,
    pub answer: String,
    /// Where the content comes from: the crawled page's URL, the uploaded
    /// file's name, or what the client sent.
    pub source: Option<String>,
    /// `manual`, `crawl` or `upload`. A crawl replaces only `crawl` entries;
    /// editing an entry makes it `manual`, so corrections survive refreshes.
    pub origin: EntryOrigin,
    pub created_at: String,
    pub updated_at: String,
}

impl Entry {
    fn view(row: EntryRow) -> Self {
        Entry {
            id: row.id,
            knowledge_base_id: row.knowledge_base_id,
            question: row.content.question,
            answer: row.content.answer,
            source: row.content.source,
            origin: row.origin,
            created_at: iso(row.created_at),
            updated_at: iso(row.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct EntryList {
    pub entries: Vec<Entry>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_entries, create_entry)).routes(routes!(
        get_entry,
        patch_entry,
        delete_entry
    ))
}

/// List a knowledge base's entries, newest first.
#[utoipa::path(get, path = "/v1/knowledge-bases/{kb_id}/entries", tag = "Knowledge bases",
    params(("kb_id" = String, Path), PageQuery), responses((status = 200, body = EntryList)))]
async fn list_entries(
    State(state): State<AppState>,
    AnyCaller(caller): AnyCaller,
    Path(kb_id): Path<String>,
    Query(page): Query<PageQuery>,
) -> Result<axum::Json<EntryList>> {
    let limit = limit(page.limit)?;
    let rows = state
        .store
        .knowledge_entries(
            &caller.org.id,
            &kb_id,
            crate::routes::cursor(page.after.as_deref(), IdKind::KnowledgeBaseEntry)?,
            limit,
        )
        .await
        .or_not_found("Knowledge base not found")?;
    let (rows, next_cursor) = split_page(rows, limit, |r| &r.id);
    Ok(axum::Json(EntryList { entries: rows.into_iter().map(Entry::view).collect(), next_cursor }))
}

/// Add an entry. 409 `KNOWLEDGE_BASE_FULL` at 50,000 entries.
#[utoipa::path(post, path = "/v1/knowledge-bases/{kb_id}/entries", tag = "Knowledge bases",
    params(("kb_id" = String, Path)), request_body = EntryCreate, responses((status = 201, body = Entry)))]
async fn create_entry(
    State(state): State<AppState>,
    AnyCaller(caller): AnyCaller,
    Path(kb_id): Path<String>,
    Json(body): Json<EntryCreate>,
) -> Result<impl IntoResponse> {
    let content = body.into_content();
    content.validate().map_err(ApiError::validation)?;
    let row = state
        .store
        .create_knowledge_entry(&caller.org.id, &kb_id, &content)
        .await
        .or_not_found("Knowledge base not found")?
        .map_err(|EntryRefusal::Full| {
            ApiError::conflict(
                "KNOWLEDGE_BASE_FULL",
                format!("A knowledge base holds at most {MAX_ENTRIES_PER_KB} entries."),
            )
        })?;
    Ok((StatusCode::CREATED, axum::Json(Entry::view(row))))
}

/// Get an entry.
#[utoipa::path(get, path = "/v1/knowledge-bases/{kb_id}/entries/{entry_id}", tag = "Knowledge bases",
    params(("kb_id" = String, Path), ("entry_id" = String, Path)), responses((status = 200, body = Entry)))]
async fn get_entry(
    State(state): State<AppState>,
    AnyCaller(caller): AnyCaller,
    Path((kb_id, entry_id)): Path<(String, String)>,
) -> Result<axum::Json<Entry>> {
    let row = state.store.knowledge_entry(&caller.org.id, &kb_id, &entry_id).await.or_not_found("Entry not found")?;
    Ok(axum::Json(Entry::view(row)))
}

/// Update an entry: only the fields sent change; it becomes `manual`.
#[utoipa::path(patch, path = "/v1/knowledge-bases/{kb_id}/entries/{entry_id}", tag = "Knowledge bases",
    params(("kb_id" = String, Path), ("entry_id" = String, Path)), request_body = EntryPatch,
    responses((status = 200, body = Entry)))]
async fn patch_entry(
    State(state): State<AppState>,
    AnyCaller(caller): AnyCaller,
    Path((kb_id, entry_id)): Path<(String, String)>,
    Json(patch): Json<EntryPatch>,
) -> Result<axum::Json<Entry>> {
    let outcome = state
        .store
        .update_knowledge_entry(&caller.org.id, &kb_id, &entry_id, |current| {
            let next = patch.apply(current);
            next.validate().map(|()| next)
        })
        .await
        .or_not_found("Entry not found")?;
    Ok(axum::Json(Entry::view(outcome.map_err(ApiError::validation)?)))
}

/// Delete an entry.
#[utoipa::path(delete, path = "/v1/knowledge-bases/{kb_id}/entries/{entry_id}", tag = "Knowledge bases",
    params(("kb_id" = String, Path), ("entry_id" = String, Path)), responses((status = 204, description = "Deleted")))]
async fn delete_entry(
    State(state): State<AppState>,
    AnyCaller(caller): AnyCaller,
    Path((kb_id, entry_id)): Path<(String, String)>,
) -> Result<StatusCode> {
    state.store.delete_knowledge_entry(&caller.org.id, &kb_id, &entry_id).await.or_not_found("Entry not found")?;
    Ok(StatusCode::NO_CONTENT)
}
