//! The org's monthly memory quota: set by an operator, used by every
//! successful start and end inside its own transaction, so a request that
//! fails uses nothing and concurrent requests cannot overshoot.
//!
//! Uses are counted on one of [`USAGE_SHARDS`] rows per org and month, so the
//! calls of an unlimited org (the default) never queue for one row lock on
//! PostgreSQL. An org with a quota counts on shard 0 alone, which setting the
//! quota fills with the month's total, so the check stays one locked row.

use std::sync::atomic::{AtomicI64, Ordering};

use sqlx::AnyConnection;
use switchboard_domain::memory::quota::{QuotaStatus, month_of};

use crate::rows::int;
use crate::{Error, Result, Store};

/// Usage rows per org and month.
const USAGE_SHARDS: i64 = 16;

/// Spreads the uses of unlimited orgs over the shards in turn.
static NEXT_SHARD: AtomicI64 = AtomicI64::new(0);

async fn limit(conn: &mut AnyConnection, org_id: &str) -> Result<Option<i64>> {
    let row = sqlx::query("SELECT calls_per_month FROM memory_quotas WHERE org_id = $1")
        .bind(org_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| int(&r, "calls_per_month")).transpose()
}

async fn used(conn: &mut AnyConnection, org_id: &str, month: &str) -> Result<i64> {
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(calls), 0) AS BIGINT) AS calls FROM memory_usage WHERE org_id = $1 AND month = $2",
    )
    .bind(org_id)
    .bind(month)
    .fetch_one(&mut *conn)
    .await?;
    int(&row, "calls")
}

/// Uses one call of the org's month; `Err(status)` when none is left. One
/// statement: an org with a quota counts on shard 0 and only while it has room
/// (a quota is at least 1, so a month's first use always fits); any other org
/// on the next shard. Run it last in a write transaction: on PostgreSQL a
/// quota'd org's shard 0 stays locked until commit.
pub(super) async fn use_one(
    conn: &mut AnyConnection,
    org_id: &str,
    now: i64,
) -> Result<std::result::Result<(), QuotaStatus>> {
    let month = month_of(now);
    let shard = NEXT_SHARD.fetch_add(1, Ordering::Relaxed).rem_euclid(USAGE_SHARDS);
    let counted = sqlx::query(
        "INSERT INTO memory_usage (org_id, month, shard, calls) \
         VALUES ($1, $2, CASE WHEN EXISTS (SELECT 1 FROM memory_quotas q WHERE q.org_id = $1) THEN 0 ELSE $3 END, 1) \
         ON CONFLICT (org_id, month, shard) DO UPDATE SET calls = memory_usage.calls + 1 \
         WHERE memory_usage.calls < COALESCE((SELECT q.calls_per_month FROM memory_quotas q WHERE q.org_id = $1), $4)",
    )
    .bind(org_id)
    .bind(&month)
    .bind(shard)
    .bind(i64::MAX)
    .execute(&mut *conn)
    .await?;
    if counted.rows_affected() == 1 {
        return Ok(Ok(()));
    }
    let calls_per_month = limit(conn, org_id).await?;
    let used = used(conn, org_id, &month).await?;
    Ok(Err(QuotaStatus { calls_per_month, used }))
}

impl Store {
    /// The org's quota and this month's use.
    pub async fn memory_quota(&self, org_id: &str) -> Result<QuotaStatus> {
        let mut conn = self.pool.acquire().await?;
        let calls_per_month = limit(&mut conn, org_id).await?;
        let used = used(&mut conn, org_id, &month_of(self.now())).await?;
        Ok(QuotaStatus { calls_per_month, used })
    }

    /// Sets the org's monthly memory quota; `None` makes it unlimited. A new
    /// quota gathers the month's uses on shard 0, where it is checked.
    pub async fn set_memory_quota(&self, org_id: &str, calls_per_month: Option<i64>) -> Result<QuotaStatus> {
        let now = self.now();
        let month = month_of(now);
        let mut tx = self.begin_write().await?;
        let exists = sqlx::query("SELECT id FROM orgs WHERE id = $1").bind(org_id).fetch_optional(&mut *tx).await?;
        if exists.is_none() {
            tx.rollback().await?;
            return Err(Error::NotFound);
        }
        match calls_per_month {
            None => {
                sqlx::query("DELETE FROM memory_quotas WHERE org_id = $1").bind(org_id).execute(&mut *tx).await?;
            }
            Some(calls) => {
                sqlx::query(
                    "INSERT INTO memory_quotas (org_id, calls_per_month, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (org_id) DO UPDATE SET calls_per_month = excluded.calls_per_month, \
                     updated_at = excluded.updated_at",
                )
                .bind(org_id)
                .bind(calls)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let total = used(&mut tx, org_id, &month).await?;
                sqlx::query("DELETE FROM memory_usage WHERE org_id = $1 AND month = $2")
                    .bind(org_id)
                    .bind(&month)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("INSERT INTO memory_usage (org_id, month, shard, calls) VALUES ($1, $2, 0, $3)")
                    .bind(org_id)
                    .bind(&month)
                    .bind(total)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        self.memory_quota(org_id).await
    }
}
