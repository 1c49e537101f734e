//! Stored outcomes of POST requests sent with an `Idempotency-Key`.
//!
//! A key is scoped to the API key, the project the request acts on (an org key
//! names it with `X-Project-Id`), method and path. The first request claims the
//! key (state `running`); when it finishes its status and body are stored (state
//! `done`) for replay until the key expires.

use crate::rows::{AnyQuery, opt_int, opt_text, text};
use crate::{Error, Result, Store};

/// Identifies one idempotent request slot.
#[derive(Debug, Clone)]
pub struct IdempotencySlot<'a> {
    pub key_id: &'a str,
    /// The project acted on; empty for org-wide requests.
    pub project_id: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub idem_key: &'a str,
}

impl<'a> IdempotencySlot<'a> {
    /// Binds the slot's columns as `$1`…`$5` of `query`.
    fn bind(&self, query: AnyQuery<'a>) -> AnyQuery<'a> {
        query.bind(self.key_id).bind(self.project_id).bind(self.method).bind(self.path).bind(self.idem_key)
    }
}

/// What a request finds when it tries to claim its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First use: go ahead, then `complete` or `release`.
    Claimed,
    /// The same request finished before: replay this.
    Replay { status: u16, body: Option<String> },
    /// The first request with this key has not finished yet.
    InProgress,
    /// The key was used with a different request body.
    Mismatch,
}

impl Store {
    /// Tries to claim a slot for a request whose body hashes to `request_hash`.
    pub async fn claim_idempotency(
        &self,
        slot: &IdempotencySlot<'_>,
        request_hash: &str,
        ttl_ms: i64,
    ) -> Result<Claim> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        // An expired slot is forgotten so the key can be used afresh.
        slot.bind(sqlx::query(
            "DELETE FROM idempotency_keys WHERE key_id = $1 AND project_id = $2 AND method = $3 AND path = $4 AND idem_key = $5 \
             AND expires_at <= $6",
        ))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let existing = Self::idempotency_row(&mut tx, slot).await?;
        let claim = match existing {
            Some(row) => Self::claim_of(&row, request_hash)?,
            None => {
                // Another request may claim the same slot at this very moment:
                // only one insert wins, the other reads what won.
                let inserted = slot
                    .bind(sqlx::query(
                        "INSERT INTO idempotency_keys (key_id, project_id, method, path, idem_key, request_hash, state, \
                         created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, 'running', $7, $8) ON CONFLICT DO NOTHING",
                    ))
                    .bind(request_hash)
                    .bind(now)
                    .bind(now + ttl_ms)
                    .execute(&mut *tx)
                    .await?;
                if inserted.rows_affected() > 0 {
                    Claim::Claimed
                } else {
                    match Self::idempotency_row(&mut tx, slot).await? {
                        Some(row) => Self::claim_of(&row, request_hash)?,
                        None => Claim::InProgress,
                    }
                }
            }
        };
        tx.commit().await?;
        Ok(claim)
    }

    /// The slot's row, if it has one.
    async fn idempotency_row(
        tx: &mut crate::events::Tx,
        slot: &IdempotencySlot<'_>,
    ) -> Result<Option<sqlx::any::AnyRow>> {
        Ok(slot
            .bind(sqlx::query(
                "SELECT request_hash, state, status, body FROM idempotency_keys \
                 WHERE key_id = $1 AND project_id = $2 AND method = $3 AND path = $4 AND idem_key = $5",
            ))
            .fetch_optional(&mut **tx)
            .await?)
    }

    /// What a request with `request_hash` finds in an existing slot.
    fn claim_of(row: &sqlx::any::AnyRow, request_hash: &str) -> Result<Claim> {
        Ok(if text(row, "request_hash")? != request_hash {
            Claim::Mismatch
        } else if text(row, "state")? == "running" {
            Claim::InProgress
        } else {
            let status = opt_int(row, "status")?.unwrap_or(200);
            let status = u16::try_from(status).map_err(|_| Error::Corrupt(format!("status {status}")))?;
            Claim::Replay { status, body: opt_text(row, "body")? }
        })
    }

    /// Stores the outcome of a claimed request for replay.
    pub async fn complete_idempotency(
        &self,
        slot: &IdempotencySlot<'_>,
        status: u16,
        body: Option<&str>,
    ) -> Result<()> {
        slot.bind(sqlx::query(
            "UPDATE idempotency_keys SET state = 'done', status = $6, body = $7 \
             WHERE key_id = $1 AND project_id = $2 AND method = $3 AND path = $4 AND idem_key = $5",
        ))
        .bind(i64::from(status))
        .bind(body)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Forgets a claim whose outcome must not be replayed (5xx, 429), so a retry
    /// with the same key runs again.
    pub async fn release_idempotency(&self, slot: &IdempotencySlot<'_>) -> Result<()> {
        slot.bind(sqlx::query(
            "DELETE FROM idempotency_keys WHERE key_id = $1 AND project_id = $2 AND method = $3 AND path = $4 AND idem_key = $5",
        ))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Deletes expired slots; returns how many.
    pub async fn purge_idempotency(&self) -> Result<u64> {
        let done = sqlx::query("DELETE FROM idempotency_keys WHERE expires_at <= $1")
            .bind(self.now())
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }
}
