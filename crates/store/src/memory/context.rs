//! A customer's context: open intents and unexpired variables, read for a call
//! start and written by a call end.

use std::collections::BTreeMap;

use sqlx::{AnyConnection, AssertSqlSafe};
use switchboard_domain::memory::intents::IntentState;
use switchboard_domain::memory::wire::{OpenIntent, VariableValue};
use switchboard_domain::memory::{IntentStatus, IntentUpdate, VariableWrite};

use crate::rows::{int, opt_text, text, to_json};
use crate::{Error, Result};

/// Open intents come back most recently touched first, at most this many.
const MAX_OPEN_INTENTS: i64 = 50;

pub(super) fn status(raw: &str) -> Result<IntentStatus> {
    IntentStatus::parse(raw).ok_or_else(|| Error::Corrupt(format!("intent status {raw}")))
}

pub(super) async fn open_intents(conn: &mut AnyConnection, customer_ref: &str) -> Result<Vec<OpenIntent>> {
    let rows = sqlx::query(
        "SELECT intent, attempt_count FROM memory_intents WHERE customer_ref = $1 AND status = 'open' \
         ORDER BY updated_at DESC, intent LIMIT $2",
    )
    .bind(customer_ref)
    .bind(MAX_OPEN_INTENTS)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(OpenIntent {
                intent: text(r, "intent")?,
                status: IntentStatus::Open,
                attempt_count: int(r, "attempt_count")?,
            })
        })
        .collect()
}

/// Variables that have not expired at `now`.
pub(super) async fn live_variables(
    conn: &mut AnyConnection,
    customer_ref: &str,
    now: i64,
) -> Result<BTreeMap<String, VariableValue>> {
    let rows = sqlx::query(
        "SELECT name, value, source, ttl_seconds FROM memory_variables WHERE customer_ref = $1 AND expires_at > $2",
    )
    .bind(customer_ref)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let value = VariableValue {
                value: text(r, "value")?,
                source: opt_text(r, "source")?,
                ttl_seconds: int(r, "ttl_seconds")?,
            };
            Ok((text(r, "name")?, value))
        })
        .collect()
}

/// Applies intent updates; returns how many intents changed.
pub(super) async fn write_intents(
    conn: &mut AnyConnection,
    project_id: &str,
    customer_ref: &str,
    updates: &[IntentUpdate],
    now: i64,
) -> Result<i64> {
    if updates.is_empty() {
        return Ok(0);
    }
    let rows = sqlx::query("SELECT intent, status, attempt_count FROM memory_intents WHERE customer_ref = $1")
        .bind(customer_ref)
        .fetch_all(&mut *conn)
        .await?;
    let mut current = BTreeMap::new();
    for r in &rows {
        let state = IntentState { status: status(&text(r, "status")?)?, attempt_count: int(r, "attempt_count")? };
        current.insert(text(r, "intent")?, state);
    }
    for update in updates {
        let next = IntentState::after(current.get(&update.intent).copied(), update.status);
        sqlx::query(
            "INSERT INTO memory_intents (customer_ref, intent, project_id, status, attempt_count, resolution, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
             ON CONFLICT (customer_ref, intent) DO UPDATE SET status = excluded.status, \
             attempt_count = excluded.attempt_count, resolution = excluded.resolution, updated_at = excluded.updated_at",
        )
        .bind(customer_ref)
        .bind(&update.intent)
        .bind(project_id)
        .bind(next.status.as_str())
        .bind(next.attempt_count)
        .bind(update.resolution.as_ref().map(to_json))
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(updates.len() as i64)
}

/// Writes variables (overwriting a key restarts its TTL) and forgets the
/// customer's expired ones; returns how many keys were written.
pub(super) async fn write_variables(
    conn: &mut AnyConnection,
    project_id: &str,
    customer_ref: &str,
    writes: &[VariableWrite],
    now: i64,
) -> Result<i64> {
    sqlx::query("DELETE FROM memory_variables WHERE customer_ref = $1 AND expires_at <= $2")
        .bind(customer_ref)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    // One row per key, the last write winning (one statement may not touch a row twice).
    let writes: BTreeMap<&str, &VariableWrite> = writes.iter().map(|w| (w.key.as_str(), w)).collect();
    if writes.is_empty() {
        return Ok(0);
    }
    let mut sql = String::from(
        "INSERT INTO memory_variables (customer_ref, name, project_id, value, source, ttl_seconds, updated_at, \
         expires_at) VALUES ",
    );
    let mut n = 4;
    for i in 0..writes.len() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("($1, ${}, $2, ${}, ${}, ${}, $3, ${})", n, n + 1, n + 2, n + 3, n + 4));
        n += 5;
    }
    sql.push_str(
        " ON CONFLICT (customer_ref, name) DO UPDATE SET value = excluded.value, source = excluded.source, \
         ttl_seconds = excluded.ttl_seconds, updated_at = excluded.updated_at, expires_at = excluded.expires_at",
    );
    let mut query = sqlx::query(AssertSqlSafe(sql)).bind(customer_ref).bind(project_id).bind(now);
    for w in writes.values() {
        query = query.bind(&w.key).bind(&w.value).bind(w.source.as_deref()).bind(w.ttl_seconds).bind(w.expires_at(now));
    }
    query.execute(&mut *conn).await?;
    Ok(writes.len() as i64)
}
