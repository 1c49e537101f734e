//! Multipart document uploads, shared by every `POST …/documents` route: the
//! form itself, its one `file` part (at most 10 MiB) and their errors.

use axum::extract::multipart::{Field, Multipart, MultipartError, MultipartRejection};
use axum::http::StatusCode;
use bytes::Bytes;

use crate::error::{ApiError, Result};

/// Largest document accepted, in bytes (the upload body limit,
/// `http.max_upload_bytes`, applies first).
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;

/// The `file` part of an upload form.
pub struct UploadedFile {
    /// The client's file name, its last path segment only.
    pub name: String,
    /// The part's own `Content-Type`, if it sent one.
    pub content_type: Option<String>,
    pub bytes: Bytes,
}

/// The form, or 400 when the request is not multipart/form-data.
pub fn open_form(multipart: std::result::Result<Multipart, MultipartRejection>) -> Result<Multipart> {
    multipart.map_err(|_| ApiError::invalid_field("Content-Type", "Must be multipart/form-data with a boundary."))
}

/// The next part of the form, or `None` after the last.
pub async fn next_part<'a>(form: &'a mut Multipart) -> Result<Option<Field<'a>>> {
    form.next_field().await.map_err(multipart_error)
}

/// Reads the `file` part into `slot`: one per request, at most 10 MiB.
pub async fn read_file(field: Field<'_>, slot: &mut Option<UploadedFile>) -> Result<()> {
    if slot.is_some() {
        return Err(ApiError::invalid_field("file", "Send one document per request."));
    }
    let name = clean_file_name(field.file_name().unwrap_or_default());
    let content_type = field.content_type().map(str::to_owned);
    let bytes = field.bytes().await.map_err(multipart_error)?;
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(too_large());
    }
    *slot = Some(UploadedFile { name, content_type, bytes });
    Ok(())
}

/// Reads a text part.
pub async fn read_text(field: Field<'_>) -> Result<String> {
    field.text().await.map_err(multipart_error)
}

/// The file the form had to carry.
pub fn required_file(file: Option<UploadedFile>) -> Result<UploadedFile> {
    file.ok_or_else(|| ApiError::invalid_field("file", "Required: the document, as the form field `file`."))
}

fn too_large() -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", "The document is larger than 10 MiB.")
}

fn multipart_error(err: MultipartError) -> ApiError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large()
    } else {
        ApiError::invalid_field("body", "Malformed multipart/form-data body.")
    }
}

/// The last path segment of a client's file name, without control characters.
fn clean_file_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let name: String = base.chars().filter(|c| !c.is_control()).take(255).collect();
    let name = name.trim();
    if name.is_empty() { "document".to_owned() } else { name.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_keep_their_last_segment_only() {
        assert_eq!(clean_file_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_file_name("C:\\Users\\ann\\id card.pdf"), "id card.pdf");
        assert_eq!(clean_file_name("bad\u{0}name\n.png"), "badname.png");
        assert_eq!(clean_file_name(""), "document");
        assert_eq!(clean_file_name("dir/"), "document");
        assert_eq!(clean_file_name(&"a".repeat(300)).len(), 255);
    }
}
