//! Addresses of an org and their documents: create, list, delete (refused
//! while a live number uses the address), document uploads while a draft,
//! submission with the carrier's decision held until its review lands, and the
//! `address.verification.*` events written with each status change.

use std::collections::HashMap;

use serde_json::json;
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use switchboard_domain::addresses::{AddressFields, AddressStatus, DocumentType, ReviewOutcome, new_document_id};
use switchboard_domain::events::EventType;
use switchboard_domain::ids::IdKind;

use crate::events::{NewEvent, Tx, insert_event};
use crate::rows::{int, opt_int, opt_text, text};
use crate::{Error, Result, Store};

/// An uploaded document, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRow {
    pub id: String,
    pub address_id: String,
    pub document_type: DocumentType,
    pub content_type: String,
    pub file_name: String,
    pub size_bytes: i64,
    pub created_at: i64,
}

/// An address with its documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressRow {
    pub id: String,
    pub org_id: String,
    pub fields: AddressFields,
    pub status: AddressStatus,
    pub rejection_reason: Option<String>,
    /// Why the review did not fully verify (partially verified or rejected);
    /// hidden until the review has landed.
    pub review_reason: Option<String>,
    /// When the submitted review lands.
    pub review_due_at: Option<i64>,
    pub submitted_at: Option<i64>,
    pub reviewed_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub documents: Vec<DocumentRow>,
}

/// A document to store.
#[derive(Debug, Clone)]
pub struct NewDocument {
    pub document_type: DocumentType,
    pub content_type: String,
    pub file_name: String,
    pub content: Vec<u8>,
}

/// A stored document with its bytes, as the carrier's review reads it.
#[derive(Debug, Clone)]
pub struct DocumentContent {
    pub document_type: DocumentType,
    pub content: Vec<u8>,
}

/// The address was submitted already; it cannot change any more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlreadySubmitted;

/// A live number was bought on the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressInUse;

const COLUMNS: &str = "id, org_id, street_address, city, postal_code, country_code, contact_name, contact_email, \
    contact_phone, company_name, city_code, status, rejection_reason, review_reason, review_due_at, submitted_at, reviewed_at, \
    created_at, updated_at";

const DOCUMENT_COLUMNS: &str = "id, address_id, document_type, content_type, file_name, size_bytes, created_at";

fn address_row(row: &AnyRow) -> Result<AddressRow> {
    let status = text(row, "status")?;
    let status = AddressStatus::parse(&status).ok_or_else(|| Error::Corrupt(format!("address status {status}")))?;
    let reviewed = !matches!(status, AddressStatus::Draft | AddressStatus::Pending);
    Ok(AddressRow {
        id: text(row, "id")?,
        org_id: text(row, "org_id")?,
        fields: AddressFields {
            street_address: text(row, "street_address")?,
            city: text(row, "city")?,
            postal_code: text(row, "postal_code")?,
            country_code: text(row, "country_code")?,
            contact_name: text(row, "contact_name")?,
            contact_email: text(row, "contact_email")?,
            contact_phone: text(row, "contact_phone")?,
            company_name: opt_text(row, "company_name")?,
            city_code: opt_text(row, "city_code")?,
        },
        status,
        rejection_reason: opt_text(row, "rejection_reason")?,
        review_reason: if reviewed { opt_text(row, "review_reason")? } else { None },
        review_due_at: opt_int(row, "review_due_at")?,
        submitted_at: opt_int(row, "submitted_at")?,
        reviewed_at: opt_int(row, "reviewed_at")?,
        created_at: int(row, "created_at")?,
        updated_at: int(row, "updated_at")?,
        documents: Vec::new(),
    })
}

fn document_type(row: &AnyRow) -> Result<DocumentType> {
    let kind = text(row, "document_type")?;
    DocumentType::parse(&kind).ok_or_else(|| Error::Corrupt(format!("document_type {kind}")))
}

fn document_row(row: &AnyRow) -> Result<DocumentRow> {
    Ok(DocumentRow {
        id: text(row, "id")?,
        address_id: text(row, "address_id")?,
        document_type: document_type(row)?,
        content_type: text(row, "content_type")?,
        file_name: text(row, "file_name")?,
        size_bytes: int(row, "size_bytes")?,
        created_at: int(row, "created_at")?,
    })
}

/// The event of a status change, org-wide (no project): `{address_id, status,
/// country_code, reason}`.
fn status_event(kind: EventType, address: &AddressRow, status: AddressStatus, reason: Option<&str>) -> NewEvent {
    NewEvent {
        event: kind,
        org_id: address.org_id.clone(),
        project_id: None,
        agent_id: None,
        call_id: None,
        data: json!({
            "address_id": address.id,
            "status": status.as_str(),
            "country_code": address.fields.country_code,
            "reason": reason,
        }),
    }
}

async fn address_in(tx: &mut Tx, org_id: &str, id: &str) -> Result<AddressRow> {
    let sql = format!("SELECT {COLUMNS} FROM addresses WHERE org_id = $1 AND id = $2");
    let row = sqlx::query(AssertSqlSafe(sql)).bind(org_id).bind(id).fetch_optional(&mut **tx).await?;
    address_row(&row.ok_or(Error::NotFound)?)
}

impl Store {
    pub async fn create_address(&self, org_id: &str, fields: &AddressFields) -> Result<AddressRow> {
        let id = IdKind::Address.new_id();
        let now = self.now();
        sqlx::query(
            "INSERT INTO addresses (id, org_id, street_address, city, postal_code, country_code, contact_name, \
             contact_email, contact_phone, company_name, city_code, status, rejection_reason, review_outcome, \
             review_reason, review_due_at, submitted_at, reviewed_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'draft', NULL, NULL, NULL, NULL, NULL, NULL, $12, $12)",
        )
        .bind(&id)
        .bind(org_id)
        .bind(&fields.street_address)
        .bind(&fields.city)
        .bind(&fields.postal_code)
        .bind(&fields.country_code)
        .bind(&fields.contact_name)
        .bind(&fields.contact_email)
        .bind(&fields.contact_phone)
        .bind(fields.company_name.as_deref())
        .bind(fields.city_code.as_deref())
        .bind(now)
        .execute(&self.writer)
        .await?;
        self.address(org_id, &id).await
    }

    /// One address of the org, with its documents.
    pub async fn address(&self, org_id: &str, id: &str) -> Result<AddressRow> {
        let sql = format!("SELECT {COLUMNS} FROM addresses WHERE org_id = $1 AND id = $2");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(org_id).bind(id).fetch_optional(&self.pool).await?;
        let mut address = address_row(&row.ok_or(Error::NotFound)?)?;
        address.documents =
            self.documents_of(org_id, std::slice::from_ref(&address.id)).await?.remove(id).unwrap_or_default();
        Ok(address)
    }

    /// A page of the org's addresses, newest first; one extra row tells whether
    /// more exist.
    pub async fn addresses(&self, org_id: &str, after: Option<&str>, limit: u32) -> Result<Vec<AddressRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM addresses WHERE org_id = $1 AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(org_id)
            .bind(after)
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.pool)
            .await?;
        let mut addresses = rows.iter().map(address_row).collect::<Result<Vec<_>>>()?;
        let ids: Vec<String> = addresses.iter().map(|a| a.id.clone()).collect();
        let mut documents = self.documents_of(org_id, &ids).await?;
        for address in &mut addresses {
            address.documents = documents.remove(&address.id).unwrap_or_default();
        }
        Ok(addresses)
    }

    /// The documents of some addresses of the org, oldest first.
    async fn documents_of(&self, org_id: &str, ids: &[String]) -> Result<HashMap<String, Vec<DocumentRow>>> {
        let mut out: HashMap<String, Vec<DocumentRow>> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let placeholders: Vec<String> = (2..=ids.len() + 1).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT {DOCUMENT_COLUMNS} FROM address_documents WHERE org_id = $1 AND address_id IN ({}) ORDER BY id",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(org_id);
        for id in ids {
            query = query.bind(id.as_str());
        }
        for row in query.fetch_all(&self.pool).await? {
            let document = document_row(&row)?;
            out.entry(document.address_id.clone()).or_default().push(document);
        }
        Ok(out)
    }

    /// Whether the org has an address in `country` (any country with `None`)
    /// whose status is one of `statuses`.
    pub async fn has_address_with_status(
        &self,
        org_id: &str,
        country: Option<&str>,
        statuses: &[AddressStatus],
    ) -> Result<bool> {
        let placeholders: Vec<String> = (3..=statuses.len() + 2).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT id FROM addresses WHERE org_id = $1 AND ($2 IS NULL OR country_code = $2) AND status IN ({}) \
             LIMIT 1",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(org_id).bind(country);
        for status in statuses {
            query = query.bind(status.as_str());
        }
        Ok(query.fetch_optional(&self.pool).await?.is_some())
    }

    /// Deletes the address and its documents, unless a live number uses it.
    pub async fn delete_address(&self, org_id: &str, id: &str) -> Result<std::result::Result<(), AddressInUse>> {
        let mut tx = self.begin_write().await?;
        address_in(&mut tx, org_id, id).await?;
        let used = sqlx::query(
            "SELECT id FROM phone_numbers WHERE org_id = $1 AND address_id = $2 AND released_at IS NULL LIMIT 1",
        )
        .bind(org_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        if used.is_some() {
            return Ok(Err(AddressInUse));
        }
        sqlx::query("DELETE FROM address_documents WHERE org_id = $1 AND address_id = $2")
            .bind(org_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM addresses WHERE org_id = $1 AND id = $2")
            .bind(org_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Stores a document of a draft address.
    pub async fn add_address_document(
        &self,
        org_id: &str,
        id: &str,
        document: NewDocument,
    ) -> Result<std::result::Result<AddressRow, AlreadySubmitted>> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let address = address_in(&mut tx, org_id, id).await?;
        if address.status != AddressStatus::Draft {
            return Ok(Err(AlreadySubmitted));
        }
        let size = i64::try_from(document.content.len()).map_err(|e| Error::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO address_documents (id, address_id, org_id, document_type, content_type, file_name, \
             size_bytes, content, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(new_document_id())
        .bind(id)
        .bind(org_id)
        .bind(document.document_type.as_str())
        .bind(&document.content_type)
        .bind(&document.file_name)
        .bind(size)
        .bind(document.content)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE addresses SET updated_at = $1 WHERE org_id = $2 AND id = $3")
            .bind(now)
            .bind(org_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.address(org_id, id).await.map(Ok)
    }

    /// The documents of an address with their bytes.
    pub async fn address_document_contents(&self, org_id: &str, id: &str) -> Result<Vec<DocumentContent>> {
        let rows = sqlx::query(
            "SELECT document_type, content FROM address_documents WHERE org_id = $1 AND address_id = $2 ORDER BY id",
        )
        .bind(org_id)
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                use sqlx::Row;
                Ok(DocumentContent { document_type: document_type(row)?, content: row.try_get("content")? })
            })
            .collect()
    }

    /// Submits a draft for review: `pending` and its event now; the carrier's
    /// decision is kept and becomes the status at `due_at`.
    pub async fn submit_address(
        &self,
        org_id: &str,
        id: &str,
        decision: &ReviewOutcome,
        due_at: i64,
    ) -> Result<std::result::Result<AddressRow, AlreadySubmitted>> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE addresses SET status = 'pending', review_outcome = $1, review_reason = $2, review_due_at = $3, \
             submitted_at = $4, updated_at = $4 WHERE org_id = $5 AND id = $6 AND status = 'draft'",
        )
        .bind(decision.status.as_str())
        .bind(decision.reason.as_deref())
        .bind(due_at)
        .bind(now)
        .bind(org_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let address = address_in(&mut tx, org_id, id).await?;
        if done.rows_affected() == 0 {
            return Ok(Err(AlreadySubmitted));
        }
        let event = status_event(EventType::AddressVerificationPending, &address, AddressStatus::Pending, None);
        insert_event(&mut tx, now, &event).await?;
        tx.commit().await?;
        self.wake_outbox();
        self.address(org_id, id).await.map(Ok)
    }

    /// Lands the reviews that are due (of one address of the org, or of all
    /// when `only` is `None`): the decision becomes the status and its event is
    /// written, once, in the same transaction. Returns how many landed.
    pub async fn land_due_reviews(&self, only: Option<(&str, &str)>) -> Result<usize> {
        let now = self.now();
        let (org, id) = only.unzip();
        let rows = sqlx::query(
            "SELECT org_id, id FROM addresses WHERE status = 'pending' AND review_due_at <= $1 \
             AND ($2 IS NULL OR org_id = $2) AND ($3 IS NULL OR id = $3) ORDER BY review_due_at LIMIT 100",
        )
        .bind(now)
        .bind(org)
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let mut landed = 0;
        for row in &rows {
            let (org_id, id) = (text(row, "org_id")?, text(row, "id")?);
            let mut tx = self.begin_write().await?;
            let done = sqlx::query(
                "UPDATE addresses SET status = review_outcome, \
                 rejection_reason = CASE WHEN review_outcome = 'rejected' THEN review_reason ELSE NULL END, \
                 reviewed_at = $1, updated_at = $1 WHERE org_id = $2 AND id = $3 AND status = 'pending'",
            )
            .bind(now)
            .bind(&org_id)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                continue;
            }
            let address = address_in(&mut tx, &org_id, &id).await?;
            let kind = match address.status {
                AddressStatus::Verified => EventType::AddressVerificationVerified,
                AddressStatus::PartiallyVerified => EventType::AddressVerificationPartiallyVerified,
                AddressStatus::Rejected => EventType::AddressVerificationRejected,
                other => return Err(Error::Corrupt(format!("review outcome {}", other.as_str()))),
            };
            let event = status_event(kind, &address, address.status, address.review_reason.as_deref());
            insert_event(&mut tx, now, &event).await?;
            tx.commit().await?;
            landed += 1;
        }
        if landed > 0 {
            self.wake_outbox();
        }
        Ok(landed)
    }
}
