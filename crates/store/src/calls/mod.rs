//! Calls: the record written when a call starts ringing, updated when it is
//! answered, and written whole when it ends; the end and the debit of its cost
//! share one transaction. Each write carries the call's webhook event.

mod columns;

use std::sync::LazyLock;

use sqlx::{AssertSqlSafe, Row};
use switchboard_domain::call::analysis::CallAnalysis;
use switchboard_domain::call::{CallRecord, CallStatus, Disposition, EndedReason, paid_seconds, price_call};
use switchboard_domain::events::EventType;
use switchboard_domain::money::Micros;

use self::columns::{COLUMNS, bind_record, read_record};
use crate::call_events;
use crate::changes::Change;
use crate::events::{Tx, insert_event};
use crate::rows::{AnyQuery, int, to_json};
use crate::{Backend, Error, Result, Store};

/// Filters of the call list and summary; dates are epoch-ms bounds.
#[derive(Debug, Clone, Default)]
pub struct CallFilter {
    pub agent_id: Option<String>,
    pub status: Option<CallStatus>,
    pub disposition: Option<Disposition>,
    pub from_ms: Option<i64>,
    pub until_ms: Option<i64>,
}

/// Aggregates over a filtered set of calls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallTotals {
    pub total_calls: i64,
    pub completed_calls: i64,
    pub failed_calls: i64,
    pub answered_calls: i64,
    pub no_answer_calls: i64,
    pub total_duration_seconds: i64,
    pub total_centi_minutes: i64,
    pub total_cost: Micros,
    pub total_recording_cost: Micros,
    pub total_llm_discount: Micros,
}

/// `SELECT` list of the record.
static SELECT: LazyLock<String> = LazyLock::new(|| COLUMNS.join(", "));

/// `INSERT` of a whole record.
static INSERT: LazyLock<String> = LazyLock::new(|| {
    let values: Vec<String> = (1..=COLUMNS.len() + 2).map(|n| format!("${n}")).collect();
    format!("INSERT INTO calls ({}, created_at, updated_at) VALUES ({})", COLUMNS.join(", "), values.join(", "))
});

/// `UPDATE` of a whole record, while the call is still live.
static FINISH: LazyLock<String> = LazyLock::new(|| {
    let n = COLUMNS.len();
    let sets: Vec<String> = COLUMNS.iter().enumerate().map(|(i, c)| format!("{c} = ${}", i + 1)).collect();
    format!(
        "UPDATE calls SET {}, updated_at = ${} WHERE project_id = ${} AND id = ${} AND status IN ('ringing', 'in-progress')",
        sets.join(", "),
        n + 1,
        n + 2,
        n + 3
    )
});

/// The WHERE clause of a filter, with `$1` the project and the next free
/// placeholder number.
fn filter_sql(filter: &CallFilter) -> (String, usize) {
    let mut sql = String::from("project_id = $1");
    let mut n = 2;
    let mut add = |clause: &str| {
        sql.push_str(&format!(" AND {clause} ${n}"));
        n += 1;
    };
    if filter.agent_id.is_some() {
        add("agent_id =");
    }
    if filter.status.is_some() {
        add("status =");
    }
    if filter.disposition.is_some() {
        add("disposition =");
    }
    if filter.from_ms.is_some() {
        add("started_at >=");
    }
    if filter.until_ms.is_some() {
        add("started_at <");
    }
    (sql, n)
}

fn bind_filter<'q>(mut query: AnyQuery<'q>, project_id: &'q str, filter: &'q CallFilter) -> AnyQuery<'q> {
    query = query.bind(project_id);
    if let Some(agent) = &filter.agent_id {
        query = query.bind(agent.as_str());
    }
    if let Some(status) = filter.status {
        query = query.bind(status.as_str());
    }
    if let Some(disposition) = filter.disposition {
        query = query.bind(disposition.as_str());
    }
    if let Some(from) = filter.from_ms {
        query = query.bind(from);
    }
    if let Some(until) = filter.until_ms {
        query = query.bind(until);
    }
    query
}

async fn call_in(tx: &mut Tx, project_id: &str, id: &str) -> Result<CallRecord> {
    let sql = format!("SELECT {} FROM calls WHERE project_id = $1 AND id = $2", *SELECT);
    let row = sqlx::query(AssertSqlSafe(sql)).bind(project_id).bind(id).fetch_one(&mut **tx).await?;
    read_record(&row)
}

/// Records a call: ringing (with `call.ringing`), or already over when it was
/// refused or could not be routed (with `call.failed`).
pub(crate) async fn insert_in(tx: &mut Tx, record: &CallRecord, now: i64) -> Result<()> {
    let query: AnyQuery<'_> = sqlx::query(AssertSqlSafe(INSERT.as_str()));
    bind_record(query, record).bind(record.started_at).bind(now).execute(&mut **tx).await?;
    let event = if record.status == CallStatus::Ringing {
        call_events::lifecycle(EventType::CallRinging, record)
    } else {
        call_events::finished(record)
    };
    insert_event(tx, now, &event).await?;
    Ok(())
}

/// Reserves up to `amount` of the org's free credit (its balance less what
/// its live calls hold) for `call_id`; returns what was granted.
pub(crate) async fn reserve_in(
    tx: &mut Tx,
    backend: Backend,
    org_id: &str,
    call_id: &str,
    amount: Micros,
) -> Result<Micros> {
    let lock = if backend == Backend::Postgres { " FOR UPDATE" } else { "" };
    let sql = format!("SELECT balance_micros, reserved_micros FROM orgs WHERE id = $1{lock}");
    let row = sqlx::query(AssertSqlSafe(sql)).bind(org_id).fetch_one(&mut **tx).await?;
    let free = int(&row, "balance_micros")? - int(&row, "reserved_micros")?;
    let granted = amount.min(free).max(0);
    if granted > 0 {
        sqlx::query("UPDATE orgs SET reserved_micros = reserved_micros + $1 WHERE id = $2")
            .bind(granted)
            .bind(org_id)
            .execute(&mut **tx)
            .await?;
        sqlx::query("UPDATE calls SET reserved_micros = reserved_micros + $1 WHERE id = $2")
            .bind(granted)
            .bind(call_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(granted)
}

/// Marks a ringing call answered (with `call.started`).
pub(crate) async fn answer_in(tx: &mut Tx, project_id: &str, id: &str, at: i64) -> Result<()> {
    let done = sqlx::query(
        "UPDATE calls SET status = 'in-progress', answered_at = $1, updated_at = $1 \
         WHERE project_id = $2 AND id = $3 AND status = 'ringing'",
    )
    .bind(at)
    .bind(project_id)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() > 0 {
        let row = call_in(tx, project_id, id).await?;
        insert_event(tx, at, &call_events::lifecycle(EventType::CallStarted, &row)).await?;
    }
    Ok(())
}

/// Writes a call's end (the whole record), debits its cost from the org and
/// records `call.ended` or `call.failed`. A call that already ended is a
/// conflict.
pub(crate) async fn finish_in(tx: &mut Tx, record: &CallRecord, now: i64) -> Result<()> {
    let query: AnyQuery<'_> = sqlx::query(AssertSqlSafe(FINISH.as_str()));
    let done = bind_record(query, record)
        .bind(now)
        .bind(record.project_id.as_str())
        .bind(record.id.as_str())
        .execute(&mut **tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::Conflict("call already ended".into()));
    }
    // The cost is debited and what the call held of the org's credit freed.
    let held: i64 = sqlx::query("SELECT reserved_micros FROM calls WHERE id = $1")
        .bind(record.id.as_str())
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?;
    if record.cost.total_cost != 0 || held != 0 {
        sqlx::query(
            "UPDATE orgs SET balance_micros = balance_micros - $1, reserved_micros = reserved_micros - $2, \
             balance_updated_at = CASE WHEN $1 = 0 THEN balance_updated_at ELSE $3 END, updated_at = $3 WHERE id = $4",
        )
        .bind(record.cost.total_cost)
        .bind(held)
        .bind(now)
        .bind(record.org_id.as_str())
        .execute(&mut **tx)
        .await?;
        sqlx::query("UPDATE calls SET reserved_micros = 0 WHERE id = $1")
            .bind(record.id.as_str())
            .execute(&mut **tx)
            .await?;
    }
    insert_event(tx, record.ended_at.unwrap_or(now), &call_events::finished(record)).await?;
    Ok(())
}

impl Store {
    /// Records a new call (see [`insert_in`]).
    pub async fn insert_call(&self, record: &CallRecord) -> Result<()> {
        let mut tx = self.begin_write().await?;
        insert_in(&mut tx, record, self.now()).await?;
        tx.commit().await?;
        self.wake_outbox();
        Ok(())
    }

    /// Records a ringing call that holds `first` of its org's credit from the
    /// start; when the org cannot spare that much, nothing is written and the
    /// answer is false.
    pub async fn insert_call_reserving(&self, record: &CallRecord, first: Micros) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let now = self.now();
        insert_in(&mut tx, record, now).await?;
        if reserve_in(&mut tx, self.backend, &record.org_id, &record.id, first).await? < first {
            tx.rollback().await?;
            return Ok(false);
        }
        tx.commit().await?;
        self.wake_outbox();
        Ok(true)
    }

    /// Reserves up to `amount` more of the org's free credit for a live call;
    /// returns what was granted (less when the org has less to spare).
    pub async fn reserve_credit(&self, org_id: &str, call_id: &str, amount: Micros) -> Result<Micros> {
        let mut tx = self.begin_write().await?;
        let granted = reserve_in(&mut tx, self.backend, org_id, call_id, amount).await?;
        tx.commit().await?;
        Ok(granted)
    }

    /// Writes a call's end and debits its cost from the org, atomically.
    pub async fn finish_call(&self, record: &CallRecord) -> Result<()> {
        let mut tx = self.begin_write().await?;
        finish_in(&mut tx, record, self.now()).await?;
        tx.commit().await?;
        self.debited(record);
        self.wake_outbox();
        Ok(())
    }

    /// Tells the caches that a finished call changed its org's balance.
    pub(crate) fn debited(&self, record: &CallRecord) {
        if record.cost.total_cost != 0 {
            self.changes.notify(Change::Org(record.org_id.clone()));
        }
    }

    /// Stores the analysis of an ended, answered call with its
    /// `analysis.complete` event; a call that is live or was never answered
    /// is a conflict. A newer analysis replaces the old one.
    pub async fn save_call_analysis(&self, call: &CallRecord, analysis: &CallAnalysis) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let now = self.now();
        // `updated_at` stays the end's commit time: the analysis carries its
        // own `analyzed_at`, and `bench calls` reads the end's storage lag there.
        let done = sqlx::query(
            "UPDATE calls SET analysis = $1 WHERE project_id = $2 AND id = $3 \
             AND answered_at IS NOT NULL AND status NOT IN ('ringing', 'in-progress')",
        )
        .bind(to_json(analysis))
        .bind(call.project_id.as_str())
        .bind(call.id.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::Conflict("call is live or was not answered".into()));
        }
        insert_event(&mut tx, now, &call_events::analysed(call, analysis)).await?;
        tx.commit().await?;
        self.wake_outbox();
        Ok(())
    }

    pub async fn call(&self, project_id: &str, id: &str) -> Result<CallRecord> {
        let sql = format!("SELECT {} FROM calls WHERE project_id = $1 AND id = $2", *SELECT);
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(project_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::NotFound)?;
        read_record(&row)
    }

    /// A page of calls, newest first; one row more than `limit` is fetched.
    pub async fn calls(
        &self,
        project_id: &str,
        filter: &CallFilter,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<CallRecord>> {
        let (mut clause, n) = filter_sql(filter);
        if after.is_some() {
            clause.push_str(&format!(" AND id < ${n}"));
        }
        let limit_n = if after.is_some() { n + 1 } else { n };
        let sql = format!("SELECT {} FROM calls WHERE {clause} ORDER BY id DESC LIMIT ${limit_n}", *SELECT);
        let mut query = bind_filter(sqlx::query(AssertSqlSafe(sql)), project_id, filter);
        if let Some(after) = after {
            query = query.bind(after);
        }
        let rows = query.bind(i64::from(limit) + 1).fetch_all(&self.pool).await?;
        rows.iter().map(read_record).collect()
    }
    /// Totals over the filtered calls.
    pub async fn call_totals(&self, project_id: &str, filter: &CallFilter) -> Result<CallTotals> {
        let (clause, _) = filter_sql(filter);
        let sql = format!(
            "SELECT COUNT(*) AS total_calls, \
             CAST(COALESCE(SUM(CASE WHEN status = 'completed' THEN 1 ELSE 0 END), 0) AS BIGINT) AS completed_calls, \
             CAST(COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0) AS BIGINT) AS failed_calls, \
             CAST(COALESCE(SUM(CASE WHEN disposition IN ('answered', 'transferred') THEN 1 ELSE 0 END), 0) AS BIGINT) AS answered_calls, \
             CAST(COALESCE(SUM(CASE WHEN disposition = 'no-answer' THEN 1 ELSE 0 END), 0) AS BIGINT) AS no_answer_calls, \
             CAST(COALESCE(SUM(duration_seconds), 0) AS BIGINT) AS total_duration_seconds, \
             CAST(COALESCE(SUM(centi_minutes), 0) AS BIGINT) AS total_centi_minutes, \
             CAST(COALESCE(SUM(total_cost_micros), 0) AS BIGINT) AS total_cost, \
             CAST(COALESCE(SUM(recording_cost_micros), 0) AS BIGINT) AS total_recording_cost, \
             CAST(COALESCE(SUM(llm_discount_micros), 0) AS BIGINT) AS total_llm_discount \
             FROM calls WHERE {clause}"
        );
        let row = bind_filter(sqlx::query(AssertSqlSafe(sql)), project_id, filter).fetch_one(&self.pool).await?;
        // Sums are cast to BIGINT: PostgreSQL's SUM(bigint) is NUMERIC.
        Ok(CallTotals {
            total_calls: int(&row, "total_calls")?,
            completed_calls: int(&row, "completed_calls")?,
            failed_calls: int(&row, "failed_calls")?,
            answered_calls: int(&row, "answered_calls")?,
            no_answer_calls: int(&row, "no_answer_calls")?,
            total_duration_seconds: int(&row, "total_duration_seconds")?,
            total_centi_minutes: int(&row, "total_centi_minutes")?,
            total_cost: int(&row, "total_cost")?,
            total_recording_cost: int(&row, "total_recording_cost")?,
            total_llm_discount: int(&row, "total_llm_discount")?,
        })
    }

    /// Closes the calls a node left ringing or in progress when it stopped
    /// without ending them (and calls from before nodes were recorded). An
    /// answered call ran until `last_alive` at the latest (the node's last
    /// heartbeat; `None` when it never gave one, and nothing is billed): it is
    /// billed for that time, within what it had reserved, and ends `completed`
    /// with `ended_reason: error`; a ringing one ends `failed`. Other nodes'
    /// calls are left alone. Returns their ids.
    pub async fn close_abandoned_calls(&self, node_id: &str, last_alive: Option<i64>) -> Result<Vec<String>> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let open = format!(
            "SELECT {}, reserved_micros AS held FROM calls WHERE status IN ('ringing', 'in-progress') \
             AND (node_id = $1 OR node_id IS NULL)",
            *SELECT
        );
        let rows = sqlx::query(AssertSqlSafe(open)).bind(node_id).fetch_all(&mut *tx).await?;
        let mut ids = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut record = read_record(row)?;
            let held = int(row, "held")?;
            record.ended_reason = Some(EndedReason::Error);
            record.ended_at = Some(now);
            match record.answered_at {
                Some(answered) => {
                    let ran = (last_alive.unwrap_or(answered).min(now) - answered).max(0);
                    let mut seconds = (ran as f64 / 1000.0).round() as i64;
                    if held > 0 {
                        seconds = seconds.min(paid_seconds(held, record.rate_per_minute, None));
                    }
                    record.status = CallStatus::Completed;
                    record.disposition = Some(Disposition::Answered);
                    record.duration_seconds = seconds;
                    record.cost = price_call(seconds, 0, record.rate_per_minute, None, 0);
                }
                None => {
                    record.status = CallStatus::Failed;
                    record.disposition = Some(Disposition::Failed);
                }
            }
            finish_in(&mut tx, &record, now).await?;
            ids.push(record.id);
        }
        tx.commit().await?;
        self.wake_outbox();
        Ok(ids)
    }
}
