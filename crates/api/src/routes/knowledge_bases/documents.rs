//! `POST /v1/knowledge-bases/{kb_id}/documents`: upload a document (TXT,
//! Markdown, PDF or DOCX) as a multipart field `file`; it is checked at once
//! and parsed into entries in the background.

use axum::extract::State;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use switchboard_runtime::knowledge::UPLOAD_LEASE;
use switchboard_runtime::knowledge::documents::{self, DocumentError};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{KnowledgeBase, refusal};
use crate::auth::AnyCaller;
use crate::error::{ApiError, ErrorBody, OrNotFound, Result};
use crate::extract::Path;
use crate::state::AppState;
use crate::upload::{self, UploadedFile};

/// The upload form.
#[derive(ToSchema)]
pub struct DocumentForm {
    /// The document: `.txt`, `.md`, `.pdf` or `.docx` (by file name, else by
    /// the part's content type). Headings become questions and the text under
    /// them answers; text without headings is answered under the file name.
    #[schema(value_type = String, format = Binary, content_media_type = "application/octet-stream")]
    pub file: UploadedFile,
}

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(upload_document))
}

async fn read_form(multipart: std::result::Result<Multipart, MultipartRejection>) -> Result<DocumentForm> {
    let mut form = upload::open_form(multipart)?;
    let mut file = None;
    while let Some(field) = upload::next_part(&mut form).await? {
        if field.name() == Some("file") {
            upload::read_file(field, &mut file).await?;
        }
    }
    Ok(DocumentForm { file: upload::required_file(file)? })
}

/// Upload a document. It is checked at once — 415
/// `UNSUPPORTED_DOCUMENT_TYPE` for other kinds, 400 when the bytes are not
/// what the name says, 413 when too large — then parsed in the background:
/// the knowledge base answers with `last_refresh_status: crawling` until it
/// is `done` (entries added with `origin: upload` and the file name as
/// `source`, replacing those of an earlier upload of the same name) or
/// `failed` (`last_refresh_error` says why). 409 `REFRESH_IN_PROGRESS` while a
/// crawl or another upload runs.
#[utoipa::path(post, path = "/v1/knowledge-bases/{kb_id}/documents", tag = "Knowledge bases",
    params(("kb_id" = String, Path)),
    request_body(content = inline(DocumentForm), content_type = "multipart/form-data"),
    responses(
        (status = 202, body = KnowledgeBase),
        (status = 415, description = "`UNSUPPORTED_DOCUMENT_TYPE`", body = ErrorBody),
    ))]
async fn upload_document(
    State(state): State<AppState>,
    AnyCaller(caller): AnyCaller,
    Path(kb_id): Path<String>,
    multipart: std::result::Result<Multipart, MultipartRejection>,
) -> Result<impl IntoResponse> {
    state.store.knowledge_base(&caller.org.id, &kb_id).await.or_not_found("Knowledge base not found")?;
    let DocumentForm { file } = read_form(multipart).await?;
    let kind = documents::detect(&file.name, file.content_type.as_deref(), &file.bytes).map_err(|err| match err {
        DocumentError::Unsupported => {
            ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_DOCUMENT_TYPE", err.to_string())
        }
        DocumentError::Invalid(message) => ApiError::invalid_field("file", message),
    })?;
    let lease_ms = i64::try_from(UPLOAD_LEASE.as_millis()).unwrap_or(i64::MAX);
    let (row, job) = state
        .store
        .start_upload(&caller.org.id, &kb_id, lease_ms)
        .await
        .or_not_found("Knowledge base not found")?
        .map_err(refusal)?;
    state.knowledge.ingest(job, kind, file.name, file.bytes);
    Ok((StatusCode::ACCEPTED, axum::Json(KnowledgeBase::view(row))))
}
