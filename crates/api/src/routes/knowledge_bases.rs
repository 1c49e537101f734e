//! `/v1/knowledge-bases`: org-wide knowledge bases (Staffify §6) — CRUD with
//! the `source_url` rules, manual refresh, search — and, in the submodules,
//! their entries and document uploads. Any key of the org may use them; an
//! org key needs no `X-Project-Id`.

mod documents;
mod entries;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use switchboard_domain::ids::IdKind;
use switchboard_domain::knowledge::entries::EntryOrigin;
use switchboard_domain::knowledge::refresh::RefreshStatus;
use switchboard_domain::knowledge::settings::{CrawlFrequency, KnowledgeBaseCreate, KnowledgeBasePatch};
use switchboard_domain::page::{resolve_limit, split_page};
use switchboard_domain::time::iso;
use switchboard_runtime::knowledge::retrieval;
use switchboard_store::knowledge::{KnowledgeBaseRow, RefreshRefusal};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AnyCaller;
use crate::error::{ApiError, OrNotFound, Result};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

/// A knowledge base: Q&A entries agents search during calls, shared by the
/// whole org and attached to agents through `knowledge_base_ids`.
#[derive(Serialize, ToSchema)]
pub struct KnowledgeBase {
    pub id: String,
    /// Same as `id` (Staffify's name for it).
    pub public_id: String,
    pub name: String,
    pub description: Option<String>,
    /// Always `active` (reserved).
    pub status: String,
    /// The website crawled (same site only), if any.
    pub source_url: Option<String>,
    pub crawl_frequency: CrawlFrequency,
    /// Scheduled crawls per `crawl_frequency`. Switched off by the server after
    /// 3 failed crawls in a row (`knowledge_base.auto_refresh_disabled`).
    pub auto_refresh_enabled: bool,
    /// When the website was last crawled successfully.
    pub last_crawled_at: Option<String>,
    /// The latest crawl or document upload: `idle`, `crawling` (queued or
    /// running), `done` or `failed`.
    pub last_refresh_status: RefreshStatus,
    /// Why the latest crawl or upload failed.
    pub last_refresh_error: Option<String>,
    /// When the next scheduled crawl is due (with auto-refresh on).
    pub next_crawl_at: Option<String>,
    pub max_depth: i64,
    pub max_pages: i64,
    pub entry_count: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl KnowledgeBase {
    fn view(row: KnowledgeBaseRow) -> Self {
        let s = row.settings;
        KnowledgeBase {
            public_id: row.id.clone(),
            id: row.id,
            name: s.name,
            description: s.description,
            status: row.status,
            next_crawl_at: row.next_crawl_at.filter(|_| s.auto_refresh_enabled && s.source_url.is_some()).map(iso),
            source_url: s.source_url,
            crawl_frequency: s.crawl_frequency,
            auto_refresh_enabled: s.auto_refresh_enabled,
            last_crawled_at: row.last_crawled_at.map(iso),
            last_refresh_status: row.last_refresh_status,
            last_refresh_error: row.last_refresh_error,
            max_depth: s.max_depth,
            max_pages: s.max_pages,
            entry_count: row.entry_count,
            created_at: iso(row.created_at),
            updated_at: iso(row.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct KnowledgeBaseList {
    pub knowledge_bases: Vec<KnowledgeBase>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A search of one knowledge base.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchBody {
    /// What to look for; spoken style is fine ("uh, when are you, like, open?").
    #[schema(min_length = 1, max_length = 1000)]
    pub query: String,
    /// Results, 1–20; default 5.
    #[schema(minimum = 1, maximum = 20)]
    pub limit: Option<u32>,
}

/// One entry found.
#[derive(Serialize, ToSchema)]
pub struct SearchResult {
    pub id: String,
    pub knowledge_base_id: String,
    pub question: String,
    pub answer: String,
    pub source: Option<String>,
    pub origin: EntryOrigin,
    /// Share of the query's terms the entry covers, 0–1 (a term in the
    /// question counts fully, one only in the answer 0.6; synonyms count as
    /// the term). Results come best first: candidates found by the database's
    /// full-text ranking (BM25 on SQLite, `ts_rank` on PostgreSQL), ordered by
    /// coverage and by how rare the matched terms are among them.
    pub score: f64,
}

#[derive(Serialize, ToSchema)]
pub struct SearchResults {
    /// The query as searched: lower-cased, fillers removed, contractions
    /// expanded, number words as digits.
    pub query: String,
    pub results: Vec<SearchResult>,
}

pub(crate) fn limit(requested: Option<u32>) -> Result<u32> {
    resolve_limit(requested).map_err(|m| ApiError::invalid_field("limit", m))
}

pub(crate) fn refusal(refusal: RefreshRefusal) -> ApiError {
    match refusal {
        RefreshRefusal::NoSource => {
            ApiError::conflict("NO_SOURCE_URL", "The knowledge base has no source_url to crawl.")
        }
        RefreshRefusal::InProgress => ApiError::conflict(
            "REFRESH_IN_PROGRESS",
            "A crawl or document upload of this knowledge base is in progress; wait until last_refresh_status \
             is no longer crawling.",
        ),
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_knowledge_bases, create_knowledge_base))
        .routes(routes!(get_knowledge_base, patch_knowledge_base, delete_knowledge_base))
        .routes(routes!(refresh_knowledge_base))
        .routes(routes!(search_knowledge_base))
        .merge(entries::router())
        .merge(documents::router())
}

/// List the org's knowledge bases, newest first.
#[utoipa::path(get, path = "/v1/knowledge-bases", tag = "Knowledge bases", params(super::PageQuery),
    responses((status = 200, body = KnowledgeBaseList)))]
async fn list_knowledge_bases(
    State(state): State<AppState>,
    AnyCaller(caller): AnyCaller,
    Query(page): Query<super::PageQuery>,
) -> Result<axum::Json<KnowledgeBaseList>> {
    let limit = limit(page.limit)?;
    let rows = state
        .store
        .knowledge_bases(&caller.org.id, super::cursor(page.after.as_deref(), IdKind::KnowledgeBase)?, limit)
        .await?;
    let (rows, next_cursor) = split_page(rows, limit, |r| &r.id);
    Ok(axum::Json(KnowledgeBaseList {
        knowledge_bases: rows.into_iter().map(KnowledgeBase::view).collect(),
        next_cursor,
    }))
}

/// Create a knowledge base. With a `source_url` the crawl starts at once
/// (`last_refresh_status: crawling`) and, with `auto_refresh_enabled`, runs
/// again per `crawl_frequency`.
#[utoipa::path(post, path = "/v1/knowledge-bases", tag = "Knowledge bases", request_body = KnowledgeBaseCreate,
    responses((status = 201, body = KnowledgeBase)))]
async fn create_knowledge_base(
    State(state): State<AppState>,
    AnyCaller(caller): AnyCaller,
    Json(body): Json<KnowledgeBaseCreate>,
) -> Result<impl IntoResponse> {
    let settings = body.into_settings();
    settings.validate().map_err(ApiError::validation)?;
    let row = state.store.create_knowledge_base(&caller.org.id, &settings).await?;
    if row.last_refresh_status == RefreshStatus::Crawling {
        state.knowledge.wake();
    }
    Ok((StatusCode::CREATED, axum::Json(KnowledgeBase::view(row))))
}

/// Get a knowledge base.
#[utoipa::path(get, path = "/v1/knowledge-bases/{kb_id}", tag = "Knowledge bases", params(("kb_id" = String, Path)),
    responses((status = 200, body = KnowledgeBase)))]
async fn get_knowledge_base(
    State(state): State<AppState>,
    AnyCaller(caller): AnyCaller,
    Path(kb_id): Path<String>,
) -> Result<axum::Json<KnowledgeBase>> {
    let row = state.store.knowledge_base(&caller.org.id, &kb_id).await.or_not_found("Knowledge base not found")?;
    Ok(axum::Json(KnowledgeBase::view(row)))
}

/// Update a knowledge base: only the fields sent change. A different
/// `source_url` deletes the crawled entries and crawls afresh; the same URL
/// changes nothing; `null` removes the source and sets `last_refresh_status`
/// to `idle` (entries stay).
#[utoipa::path(patch, path = "/v1/knowledge-bases/{kb_id}", tag = "Knowledge bases",
    params(("kb_id" = String, Path)), request_body = KnowledgeBasePatch, responses((status = 200, body = KnowledgeBase)))]
async fn patch_knowledge_base(
    State(state): State<AppState>,
    AnyCaller(caller): AnyCaller,
    Path(kb_id): Path<String>,
    Json(patch): Json<KnowledgeBasePatch>,
) -> Result<axum::Json<KnowledgeBase>> {
    let outcome = state
        .store
        .update_knowledge_base(&caller.org.id, &kb_id, |current| {
            let next = patch.apply(current);
            next.validate().map(|()| next)
        })
        .await
        .or_not_found("Knowledge base not found")?;
    let row = outcome.map_err(ApiError::validation)?;
    if row.last_refresh_status == RefreshStatus::Crawling {
        state.knowledge.wake();
    }
    Ok(axum::Json(KnowledgeBase::view(row)))
}

/// Delete a knowledge base and its entries; it is detached from every agent.
#[utoipa::path(delete, path = "/v1/knowledge-bases/{kb_id}", tag = "Knowledge bases",
    params(("kb_id" = String, Path)), responses((status = 204, description = "Deleted")))]
async fn delete_knowledge_base(
    State(state): State<AppState>,
    AnyCaller(caller): AnyCaller,
    Path(kb_id): Path<String>,
) -> Result<StatusCode> {
    state
        .store
        .delete_knowledge_base(&caller.org.id, &kb_id, Some(&caller.key_id))
        .await
        .or_not_found("Knowledge base not found")?;
    Ok(StatusCode::NO_CONTENT)
}

/// Crawl the `source_url` again now (also with auto-refresh off). 409
/// `NO_SOURCE_URL` without a source, 409 `REFRESH_IN_PROGRESS` while a crawl
/// or upload runs. Poll the knowledge base until `last_refresh_status` is
/// `done` or `failed`.
#[utoipa::path(post, path = "/v1/knowledge-bases/{kb_id}/refresh", tag = "Knowledge bases",
    params(("kb_id" = String, Path)), responses((status = 202, body = KnowledgeBase)))]
async fn refresh_knowledge_base(
    State(state): State<AppState>,
    AnyCaller(caller): AnyCaller,
    Path(kb_id): Path<String>,
) -> Result<impl IntoResponse> {
    let row = state
        .store
        .request_crawl(&caller.org.id, &kb_id)
        .await
        .or_not_found("Knowledge base not found")?
        .map_err(refusal)?;
    state.knowledge.wake();
    Ok((StatusCode::ACCEPTED, axum::Json(KnowledgeBase::view(row))))
}

/// Search the knowledge base's entries with a question, spoken style welcome.
#[utoipa::path(post, path = "/v1/knowledge-bases/{kb_id}/search", tag = "Knowledge bases",
    params(("kb_id" = String, Path)), request_body = SearchBody, responses((status = 200, body = SearchResults)))]
async fn search_knowledge_base(
    State(state): State<AppState>,
    AnyCaller(caller): AnyCaller,
    Path(kb_id): Path<String>,
    Json(body): Json<SearchBody>,
) -> Result<axum::Json<SearchResults>> {
    switchboard_domain::validation::required_text(&body.query, 1000)
        .map_err(|m| ApiError::invalid_field("query", m))?;
    let limit = body.limit.unwrap_or(5);
    if !(1..=20).contains(&limit) {
        return Err(ApiError::invalid_field("limit", "Must be between 1 and 20."));
    }
    let kb = state.store.knowledge_base(&caller.org.id, &kb_id).await.or_not_found("Knowledge base not found")?;
    let (query, hits) = retrieval::search(&state.store, &caller.org.id, &[kb.id], &body.query, limit).await?;
    let results = hits
        .into_iter()
        .map(|hit| SearchResult {
            id: hit.entry.id,
            knowledge_base_id: hit.entry.knowledge_base_id,
            question: hit.entry.content.question,
            answer: hit.entry.content.answer,
            source: hit.entry.content.source,
            origin: hit.entry.origin,
            score: hit.score,
        })
        .collect();
    Ok(axum::Json(SearchResults { query: query.normalized, results }))
}
