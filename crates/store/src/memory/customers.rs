//! One customer as a whole — identifiers, variables, intents, recent calls —
//! and its erasure (GDPR): everything stored about the person, in one
//! transaction, including replayable idempotent responses that name them.

use sqlx::AnyConnection;
use switchboard_domain::memory::IntentStatus;
use switchboard_domain::memory::hints::IdentifierKind;
use switchboard_domain::memory::intents::Resolution;

use super::context::status;
use crate::rows::{int, opt_int, opt_json, opt_text, text};
use crate::{Error, Result, Store};

/// An ANI or external id that recognises the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerIdentifier {
    pub kind: IdentifierKind,
    /// The external id's key; empty for an ANI.
    pub name: String,
    pub value: String,
    pub created_at: i64,
}

/// An unexpired variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerVariable {
    pub key: String,
    pub value: String,
    pub source: Option<String>,
    pub ttl_seconds: i64,
    pub updated_at: i64,
    pub expires_at: i64,
}

/// An intent in any status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerIntent {
    pub intent: String,
    pub status: IntentStatus,
    pub attempt_count: i64,
    pub resolution: Option<Resolution>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A call of the customer through `/v1/calls/start` or `/v1/calls/end`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryCall {
    pub call_id: String,
    pub ani: Option<String>,
    pub dnis: Option<String>,
    pub call_start: i64,
    pub call_end: Option<i64>,
}

/// Everything remembered about one customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRecord {
    pub customer_ref: String,
    pub created_at: i64,
    pub last_call_at: i64,
    pub identifiers: Vec<CustomerIdentifier>,
    pub variables: Vec<CustomerVariable>,
    pub intents: Vec<CustomerIntent>,
    /// Newest first.
    pub recent_calls: Vec<MemoryCall>,
}

async fn identifiers(conn: &mut AnyConnection, customer_ref: &str) -> Result<Vec<CustomerIdentifier>> {
    let rows = sqlx::query(
        "SELECT kind, name, value, created_at FROM memory_identities WHERE customer_ref = $1 \
         ORDER BY created_at, kind, name, value",
    )
    .bind(customer_ref)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let kind = text(r, "kind")?;
            Ok(CustomerIdentifier {
                kind: IdentifierKind::parse(&kind).ok_or_else(|| Error::Corrupt(format!("kind {kind}")))?,
                name: text(r, "name")?,
                value: text(r, "value")?,
                created_at: int(r, "created_at")?,
            })
        })
        .collect()
}

async fn variables(conn: &mut AnyConnection, customer_ref: &str, now: i64) -> Result<Vec<CustomerVariable>> {
    let rows = sqlx::query(
        "SELECT name, value, source, ttl_seconds, updated_at, expires_at FROM memory_variables \
         WHERE customer_ref = $1 AND expires_at > $2 ORDER BY name",
    )
    .bind(customer_ref)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(CustomerVariable {
                key: text(r, "name")?,
                value: text(r, "value")?,
                source: opt_text(r, "source")?,
                ttl_seconds: int(r, "ttl_seconds")?,
                updated_at: int(r, "updated_at")?,
                expires_at: int(r, "expires_at")?,
            })
        })
        .collect()
}

async fn intents(conn: &mut AnyConnection, customer_ref: &str) -> Result<Vec<CustomerIntent>> {
    let rows = sqlx::query(
        "SELECT intent, status, attempt_count, resolution, created_at, updated_at FROM memory_intents \
         WHERE customer_ref = $1 ORDER BY updated_at DESC, intent",
    )
    .bind(customer_ref)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(CustomerIntent {
                intent: text(r, "intent")?,
                status: status(&text(r, "status")?)?,
                attempt_count: int(r, "attempt_count")?,
                resolution: opt_json(r, "resolution")?,
                created_at: int(r, "created_at")?,
                updated_at: int(r, "updated_at")?,
            })
        })
        .collect()
}

async fn recent_calls(conn: &mut AnyConnection, customer_ref: &str, limit: i64) -> Result<Vec<MemoryCall>> {
    let rows = sqlx::query(
        "SELECT call_id, ani, dnis, call_start, call_end FROM memory_calls WHERE customer_ref = $1 \
         ORDER BY call_start DESC, call_id DESC LIMIT $2",
    )
    .bind(customer_ref)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(MemoryCall {
                call_id: text(r, "call_id")?,
                ani: opt_text(r, "ani")?,
                dnis: opt_text(r, "dnis")?,
                call_start: int(r, "call_start")?,
                call_end: opt_int(r, "call_end")?,
            })
        })
        .collect()
}

impl Store {
    /// A customer of the project with its unexpired variables, every intent and
    /// its `recent_calls` newest calls.
    pub async fn memory_customer(
        &self,
        project_id: &str,
        customer_ref: &str,
        recent_call_limit: i64,
    ) -> Result<CustomerRecord> {
        let now = self.now();
        let mut conn = self.pool.acquire().await?;
        let row = sqlx::query(
            "SELECT created_at, last_call_at FROM memory_customers WHERE project_id = $1 AND customer_ref = $2",
        )
        .bind(project_id)
        .bind(customer_ref)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(Error::NotFound)?;
        Ok(CustomerRecord {
            customer_ref: customer_ref.to_owned(),
            created_at: int(&row, "created_at")?,
            last_call_at: int(&row, "last_call_at")?,
            identifiers: identifiers(&mut conn, customer_ref).await?,
            variables: variables(&mut conn, customer_ref, now).await?,
            intents: intents(&mut conn, customer_ref).await?,
            recent_calls: recent_calls(&mut conn, customer_ref, recent_call_limit).await?,
        })
    }

    /// Erases everything stored about a customer of the project: the customer,
    /// its identifiers, variables, intents and calls, and stored idempotent
    /// replies of `/v1/calls/start` and `/v1/calls/end` that contain its
    /// reference. Its `call_id`s become free again.
    pub async fn memory_erase_customer(&self, project_id: &str, customer_ref: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let gone = sqlx::query("DELETE FROM memory_customers WHERE project_id = $1 AND customer_ref = $2")
            .bind(project_id)
            .bind(customer_ref)
            .execute(&mut *tx)
            .await?;
        if gone.rows_affected() == 0 {
            tx.rollback().await?;
            return Err(Error::NotFound);
        }
        for table in ["memory_identities", "memory_variables", "memory_intents", "memory_calls"] {
            let sql = format!("DELETE FROM {table} WHERE project_id = $1 AND customer_ref = $2");
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(project_id).bind(customer_ref).execute(&mut *tx).await?;
        }
        let quoted = format!("\"{customer_ref}\"").replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE path IN ('/v1/calls/start', '/v1/calls/end') \
             AND body LIKE $1 ESCAPE '\\'",
        )
        .bind(format!("%{quoted}%"))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
