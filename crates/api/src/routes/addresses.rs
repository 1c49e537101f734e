//! `/v1/addresses`: regulatory addresses of the org (Staffify §8) — create,
//! list, get, delete, the documents each country needs, document uploads,
//! irreversible submission to the carrier, and status checks. Any key of the
//! org may use them; an org key needs no `X-Project-Id`.

use axum::extract::State;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use switchboard_domain::addresses::{self, AddressFields, AddressStatus, DocumentFormat, DocumentType};
use switchboard_domain::ids::IdKind;
use switchboard_domain::page::{resolve_limit, split_page};
use switchboard_domain::phone_numbers::countries;
use switchboard_domain::time::iso;
use switchboard_runtime::numbers::{AddressError, CarrierError};
use switchboard_store::addresses::{AddressRow, DocumentRow, NewDocument};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AnyCaller;
use crate::error::{ApiError, ErrorBody, OrNotFound, Result};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;
use crate::upload::{self, UploadedFile};

/// An uploaded document (its content is kept for the carrier, never returned).
#[derive(Serialize, ToSchema)]
pub struct AddressDocument {
    /// `doc_…`
    pub id: String,
    pub document_type: DocumentType,
    /// `application/pdf`, `image/jpeg` or `image/png`, from the file's bytes.
    pub content_type: String,
    pub file_name: String,
    pub size_bytes: i64,
    pub created_at: String,
}

impl AddressDocument {
    fn view(row: DocumentRow) -> Self {
        AddressDocument {
            id: row.id,
            document_type: row.document_type,
            content_type: row.content_type,
            file_name: row.file_name,
            size_bytes: row.size_bytes,
            created_at: iso(row.created_at),
        }
    }
}

/// An address of the org and where its verification stands.
#[derive(Serialize, ToSchema)]
pub struct Address {
    /// `addr_…`
    pub id: String,
    /// Same as `id` (Staffify's name for it).
    pub address_id: String,
    pub street_address: String,
    pub city: String,
    pub postal_code: String,
    pub country_code: String,
    pub contact_name: String,
    pub contact_email: String,
    pub contact_phone: String,
    pub company_name: Option<String>,
    pub city_code: Option<String>,
    /// `draft` (documents can be added) → `pending` (submitted) → `verified`,
    /// `partially_verified` or `rejected`.
    pub status: AddressStatus,
    /// Why the review rejected the address.
    pub rejection_reason: Option<String>,
    /// Why the review did not fully verify it (`partially_verified` or
    /// `rejected`).
    pub status_reason: Option<String>,
    pub documents: Vec<AddressDocument>,
    pub submitted_at: Option<String>,
    /// When the review landed.
    pub reviewed_at: Option<String>,
    /// While `pending`: when the review is expected.
    pub review_expected_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl Address {
    fn view(row: AddressRow) -> Self {
        let f = row.fields;
        Address {
            address_id: row.id.clone(),
            id: row.id,
            street_address: f.street_address,
            city: f.city,
            postal_code: f.postal_code,
            country_code: f.country_code,
            contact_name: f.contact_name,
            contact_email: f.contact_email,
            contact_phone: f.contact_phone,
            company_name: f.company_name,
            city_code: f.city_code,
            status: row.status,
            rejection_reason: row.rejection_reason,
            status_reason: row.review_reason,
            documents: row.documents.into_iter().map(AddressDocument::view).collect(),
            submitted_at: row.submitted_at.map(iso),
            reviewed_at: row.reviewed_at.map(iso),
            review_expected_at: row.review_due_at.filter(|_| row.status == AddressStatus::Pending).map(iso),
            created_at: iso(row.created_at),
            updated_at: iso(row.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AddressList {
    pub addresses: Vec<Address>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A new address.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressCreate {
    /// Street and house number.
    #[schema(max_length = 200)]
    pub street_address: String,
    #[schema(max_length = 100)]
    pub city: String,
    /// In the country's format (e.g. `94105`, `1015 CJ`, `10115`, `SW1A 1AA`).
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 of a supported country.
    pub country_code: String,
    #[schema(max_length = 200)]
    pub contact_name: String,
    pub contact_email: String,
    /// E.164.
    pub contact_phone: String,
    /// Legal company name; needed for business verification.
    #[schema(max_length = 200)]
    pub company_name: Option<String>,
    /// City dialling code as dialled nationally (e.g. `020`, `030`), for
    /// local numbers in local-presence countries. Not used in US/CA and DK.
    pub city_code: Option<String>,
}

/// The status of an address, as polled.
#[derive(Serialize, ToSchema)]
pub struct AddressStatusView {
    pub address_id: String,
    pub status: AddressStatus,
    pub rejection_reason: Option<String>,
    pub status_reason: Option<String>,
    pub submitted_at: Option<String>,
    pub reviewed_at: Option<String>,
    /// While `pending`: when the review is expected.
    pub review_expected_at: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequirementsQuery {
    /// ISO 3166-1 alpha-2 of a supported country.
    pub country: Option<String>,
}

/// One requirement: at least one document of any of these types.
#[derive(Serialize, ToSchema)]
pub struct DocumentRequirement {
    pub one_of: Vec<DocumentType>,
    pub description: String,
}

/// What an address in a country needs before it can be submitted.
#[derive(Serialize, ToSchema)]
pub struct Requirements {
    pub country_code: String,
    /// Whether numbers of the country need a verified address in it.
    pub requires_address: bool,
    /// Whether local numbers need the address's `city_code`.
    pub local_presence: bool,
    /// Fields `POST /v1/addresses` needs.
    pub required_fields: Vec<String>,
    /// Documents `submit` needs; empty for US/CA.
    pub documents: Vec<DocumentRequirement>,
    /// Formats accepted by `POST /v1/addresses/{address_id}/documents`.
    pub accepted_formats: Vec<String>,
    pub max_document_bytes: usize,
}

/// The upload form.
#[derive(ToSchema)]
pub struct DocumentForm {
    /// The document: PDF, JPEG or PNG (checked by its bytes), at most 10 MiB.
    #[schema(value_type = String, format = Binary, content_media_type = "application/octet-stream")]
    pub file: Vec<u8>,
    /// `government_id`, `business_registration` or `proof_of_address`.
    pub document_type: DocumentType,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_addresses, create_address))
        .routes(routes!(requirements))
        .routes(routes!(get_address, delete_address))
        .routes(routes!(upload_document))
        .routes(routes!(submit_address))
        .routes(routes!(check_status))
}

fn already_submitted() -> ApiError {
    ApiError::conflict(
        "ALREADY_SUBMITTED",
        "The address was already submitted for review; submission cannot be undone.",
    )
}

fn address_error(err: AddressError) -> ApiError {
    match err {
        AddressError::NotFound => ApiError::not_found("Address not found"),
        AddressError::AlreadySubmitted => already_submitted(),
        AddressError::DocumentsRequired(message) => ApiError::conflict("DOCUMENTS_REQUIRED", message),
        AddressError::Carrier(CarrierError::Store(err)) => err.into(),
    }
}

/// List the org's addresses, newest first.
#[utoipa::path(get, path = "/v1/addresses", tag = "Addresses", params(super::PageQuery),
    responses((status = 200, body = AddressList)))]
async fn list_addresses(
    State(state): State<AppState>,
    AnyCaller(caller): AnyCaller,
    Query(page): Query<super::PageQuery>,
) -> Result<axum::Json<AddressList>> {
    let limit = resolve_limit(page.limit).map_err(|m| ApiError::invalid_field("limit", m))?;
    let rows =
        state.store.addresses(&caller.org.id, super::cursor(page.after.as_deref(), IdKind::Address)?, limit).await?;
    let (rows, next_cursor) = split_page(rows, limit, |r| &r.id);
    Ok(axum::Json(AddressList { addresses: rows.into_iter().map(Address::view).collect(), next_cursor }))
}

/// Create an address (`status: draft`). Then upload its documents and submit
/// it. Validated: required fields, E.164 `contact_phone`, `contact_email`, a
/// supported ISO `country_code`, the country's postal code format, and
/// `city_code` (digits, only where the country has city codes).
#[utoipa::path(post, path = "/v1/addresses", tag = "Addresses", request_body = AddressCreate,
    responses((status = 201, body = Address)))]
async fn create_address(
    State(state): State<AppState>,
    AnyCaller(caller): AnyCaller,
    Json(body): Json<AddressCreate>,
) -> Result<impl IntoResponse> {
    let fields = AddressFields {
        street_address: body.street_address,
        city: body.city,
        postal_code: body.postal_code,
        country_code: body.country_code,
        contact_name: body.contact_name,
        contact_email: body.contact_email,
        contact_phone: body.contact_phone,
        company_name: body.company_name,
        city_code: body.city_code,
    }
    .normalized();
    fields.validate().map_err(ApiError::validation)?;
    let row = state.store.create_address(&caller.org.id, &fields).await?;
    Ok((StatusCode::CREATED, axum::Json(Address::view(row))))
}

/// The documents an address in `country` needs before it can be submitted:
/// none in US/CA; elsewhere a `government_id` or a `business_registration`;
/// in local-presence countries (DE, ES, AT, IT) also a `proof_of_address`.
#[utoipa::path(get, path = "/v1/addresses/requirements", tag = "Addresses", params(RequirementsQuery),
    responses((status = 200, body = Requirements)))]
async fn requirements(
    AnyCaller(_caller): AnyCaller,
    Query(q): Query<RequirementsQuery>,
) -> Result<axum::Json<Requirements>> {
    let code = q.country.ok_or_else(|| ApiError::invalid_field("country", "Required: an ISO 3166-1 alpha-2 code."))?;
    let country = countries::country(code.trim()).ok_or_else(|| {
        ApiError::invalid_field("country", "Must be a supported country (see GET /v1/phone-numbers/countries).")
    })?;
    let mut required_fields: Vec<String> =
        ["street_address", "city", "postal_code", "country_code", "contact_name", "contact_email", "contact_phone"]
            .into_iter()
            .map(str::to_owned)
            .collect();
    if country.local_presence {
        required_fields.push("city_code".into());
    }
    Ok(axum::Json(Requirements {
        country_code: country.code.to_owned(),
        requires_address: country.requires_address,
        local_presence: country.local_presence,
        required_fields,
        documents: addresses::requirements(country)
            .into_iter()
            .map(|r| DocumentRequirement { one_of: r.one_of.to_vec(), description: r.description.to_owned() })
            .collect(),
        accepted_formats: [DocumentFormat::Pdf, DocumentFormat::Jpeg, DocumentFormat::Png]
            .into_iter()
            .map(|f| f.mime().to_owned())
            .collect(),
        max_document_bytes: upload::MAX_DOCUMENT_BYTES,
    }))
}

/// Get an address with its documents.
#[utoipa::path(get, path = "/v1/addresses/{address_id}", tag = "Addresses", params(("address_id" = String, Path)),
    responses((status = 200, body = Address)))]
async fn get_address(
    State(state): State<AppState>,
    AnyCaller(caller): AnyCaller,
    Path(id): Path<String>,
) -> Result<axum::Json<Address>> {
    let row = state.store.address(&caller.org.id, &id).await.or_not_found("Address not found")?;
    Ok(axum::Json(Address::view(row)))
}

/// Delete an address and its documents; 409 `ADDRESS_IN_USE` while a live
/// number was bought on it (release the number first).
#[utoipa::path(delete, path = "/v1/addresses/{address_id}", tag = "Addresses", params(("address_id" = String, Path)),
    responses((status = 204, description = "Deleted"),
        (status = 409, description = "`ADDRESS_IN_USE`", body = ErrorBody)))]
async fn delete_address(
    State(state): State<AppState>,
    AnyCaller(caller): AnyCaller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    state.store.delete_address(&caller.org.id, &id).await.or_not_found("Address not found")?.map_err(|_| {
        ApiError::conflict(
            "ADDRESS_IN_USE",
            "A phone number of the org was bought on this address; release it before deleting the address.",
        )
    })?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reads and checks the form: one `file` (PDF/JPEG/PNG by its bytes, at most
/// 10 MiB) and a `document_type`.
async fn read_form(multipart: std::result::Result<Multipart, MultipartRejection>) -> Result<NewDocument> {
    let mut form = upload::open_form(multipart)?;
    let mut file = None;
    let mut document_type = None;
    while let Some(field) = upload::next_part(&mut form).await? {
        match field.name() {
            Some("file") => upload::read_file(field, &mut file).await?,
            Some("document_type") => {
                let value = upload::read_text(field).await?;
                let parsed = DocumentType::parse(value.trim()).ok_or_else(|| {
                    ApiError::invalid_field(
                        "document_type",
                        "Must be government_id, business_registration or proof_of_address.",
                    )
                })?;
                document_type = Some(parsed);
            }
            _ => {}
        }
    }
    let UploadedFile { name, content_type: declared, bytes } = upload::required_file(file)?;
    let document_type =
        document_type.ok_or_else(|| ApiError::invalid_field("document_type", "Required: what the document proves."))?;
    if bytes.is_empty() {
        return Err(ApiError::invalid_field("file", "The document is empty."));
    }
    let format = DocumentFormat::detect(&bytes).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_DOCUMENT_TYPE",
            "Only PDF, JPEG and PNG documents are accepted (checked by the file's content).",
        )
    })?;
    let declared_format =
        declared.as_deref().filter(|m| *m != "application/octet-stream").map(DocumentFormat::from_mime);
    if declared_format.is_some_and(|d| d != Some(format)) {
        return Err(ApiError::invalid_field(
            "file",
            format!("The content is {} but the part's Content-Type says otherwise.", format.mime()),
        ));
    }
    Ok(NewDocument { document_type, content_type: format.mime().to_owned(), file_name: name, content: bytes.to_vec() })
}

/// Upload a document of a `draft` address, as multipart/form-data with the
/// fields `file` and `document_type`. The file must be PDF, JPEG or PNG —
/// recognised by its bytes, whatever its name (415
/// `UNSUPPORTED_DOCUMENT_TYPE`); a part Content-Type naming another format is
/// 400; at most 10 MiB (413 `PAYLOAD_TOO_LARGE`). 409 `ALREADY_SUBMITTED`
/// after submission.
#[utoipa::path(post, path = "/v1/addresses/{address_id}/documents", tag = "Addresses",
    params(("address_id" = String, Path)),
    request_body(content = inline(DocumentForm), content_type = "multipart/form-data"),
    responses((status = 201, body = Address),
        (status = 409, description = "`ALREADY_SUBMITTED`", body = ErrorBody),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`: over 10 MiB", body = ErrorBody),
        (status = 415, description = "`UNSUPPORTED_DOCUMENT_TYPE`", body = ErrorBody)))]
async fn upload_document(
    State(state): State<AppState>,
    AnyCaller(caller): AnyCaller,
    Path(id): Path<String>,
    multipart: std::result::Result<Multipart, MultipartRejection>,
) -> Result<impl IntoResponse> {
    state.store.address(&caller.org.id, &id).await.or_not_found("Address not found")?;
    let document = read_form(multipart).await?;
    let row = state
        .store
        .add_address_document(&caller.org.id, &id, document)
        .await
        .or_not_found("Address not found")?
        .map_err(|_| already_submitted())?;
    Ok((StatusCode::CREATED, axum::Json(Address::view(row))))
}

/// Submit the address and its documents to the carrier for review. This
/// cannot be undone: 409 `ALREADY_SUBMITTED` the second time; 409
/// `DOCUMENTS_REQUIRED` while the country's required documents are missing
/// (see `/v1/addresses/requirements`). The address becomes `pending`
/// (`address.verification.pending`); when the review lands (after the
/// carrier's delay; poll `check-status`) it becomes, by the simulated
/// carrier's rules: `rejected` when a document is damaged or truncated (a
/// PDF without `%%EOF`, a JPEG without its end marker, a PNG without `IEND`);
/// `partially_verified` when a `business_registration` comes without
/// `company_name`, or a `company_name` without a `business_registration`;
/// otherwise `verified` — each with its `address.verification.*` event.
#[utoipa::path(post, path = "/v1/addresses/{address_id}/submit", tag = "Addresses",
    params(("address_id" = String, Path)),
    responses((status = 200, body = Address),
        (status = 409, description = "`ALREADY_SUBMITTED` or `DOCUMENTS_REQUIRED`", body = ErrorBody)))]
async fn submit_address(
    State(state): State<AppState>,
    AnyCaller(caller): AnyCaller,
    Path(id): Path<String>,
) -> Result<axum::Json<Address>> {
    let row = state.numbers.submit_address(&caller.org.id, &id).await.map_err(address_error)?;
    Ok(axum::Json(Address::view(row)))
}

/// Poll the review: lands it if it is due, and answers the status.
#[utoipa::path(post, path = "/v1/addresses/{address_id}/check-status", tag = "Addresses",
    params(("address_id" = String, Path)), responses((status = 200, body = AddressStatusView)))]
async fn check_status(
    State(state): State<AppState>,
    AnyCaller(caller): AnyCaller,
    Path(id): Path<String>,
) -> Result<axum::Json<AddressStatusView>> {
    let row = state.numbers.check_address(&caller.org.id, &id).await.map_err(address_error)?;
    let view = Address::view(row);
    Ok(axum::Json(AddressStatusView {
        address_id: view.id,
        status: view.status,
        rejection_reason: view.rejection_reason,
        status_reason: view.status_reason,
        submitted_at: view.submitted_at,
        reviewed_at: view.reviewed_at,
        review_expected_at: view.review_expected_at,
    }))
}
