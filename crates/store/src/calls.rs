//! Calls: the row written when a call starts, updated when it is answered and
//! when it ends; the end and the debit of its cost share one transaction.

use serde_json::Value;
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use switchboard_domain::call::{CallCost, CallStatus, Direction, Disposition, EndedReason};
use switchboard_domain::events::EventType;
use switchboard_domain::money::Micros;

use crate::call_events;
use crate::changes::Change;
use crate::events::{Tx, insert_event};
use crate::rows::{AnyQuery, flag, int, json, opt_int, opt_json, opt_text, text, to_json};
use crate::{Error, Result, Store};

/// A call as stored.
#[derive(Debug, Clone)]
pub struct CallRow {
    pub id: String,
    pub org_id: String,
    pub project_id: String,
    pub agent_id: String,
    pub direction: Direction,
    pub from_number: String,
    pub to_number: String,
    pub status: CallStatus,
    pub disposition: Option<Disposition>,
    pub ended_reason: Option<EndedReason>,
    pub started_at: i64,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub duration_seconds: i64,
    pub rate_per_minute: Micros,
    pub cost: CallCost,
    pub transfer_duration_seconds: i64,
    pub transferred_to: Option<String>,
    pub recording_enabled: bool,
    pub has_recording: bool,
    pub turn_count: i64,
    pub tool_call_count: i64,
    pub tools_called: Vec<String>,
    pub metadata: Value,
    pub extracted_data: Option<Value>,
    pub transcript: Value,
    pub latency: Value,
    pub ws_unavailable: bool,
    /// Where the call's configuration came from: `server_url`, `agent`, or
    /// `agent_fallback` (server_url failed).
    pub config_source: String,
    /// Which brain ran the conversation: `llm` or `embedded`.
    pub brain: String,
    /// Why the server_url's configuration was not used, when it was not.
    pub server_url_error: Option<String>,
    /// The language the call was held in, once it ended.
    pub language: Option<String>,
}

/// What is known when a call starts ringing.
#[derive(Debug, Clone)]
pub struct NewCall {
    pub id: String,
    pub org_id: String,
    pub project_id: String,
    pub agent_id: String,
    pub direction: Direction,
    pub from_number: String,
    pub to_number: String,
    pub rate_per_minute: Micros,
    pub recording_enabled: bool,
    pub metadata: Value,
}

/// Everything a call's end fixes.
#[derive(Debug, Clone)]
pub struct CallEnd {
    pub status: CallStatus,
    pub disposition: Disposition,
    pub ended_reason: Option<EndedReason>,
    pub ended_at: i64,
    pub duration_seconds: i64,
    pub cost: CallCost,
    pub transfer_duration_seconds: i64,
    pub transferred_to: Option<String>,
    pub has_recording: bool,
    pub turn_count: i64,
    pub tool_call_count: i64,
    pub tools_called: Vec<String>,
    pub metadata: Value,
    pub extracted_data: Option<Value>,
    pub transcript: Value,
    pub latency: Value,
    pub ws_unavailable: bool,
    pub config_source: String,
    pub brain: String,
    pub server_url_error: Option<String>,
    pub language: Option<String>,
}

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

const COLUMNS: &str = "id, org_id, project_id, agent_id, direction, from_number, to_number, status, disposition, \
    ended_reason, started_at, answered_at, ended_at, duration_seconds, centi_minutes, rate_per_minute_micros, \
    call_cost_micros, recording_cost_micros, transfer_cost_micros, llm_discount_micros, total_cost_micros, \
    transfer_duration_seconds, transferred_to, recording_enabled, has_recording, turn_count, tool_call_count, \
    tools_called, metadata, extracted_data, transcript, latency, ws_unavailable, config_source, brain, server_url_error, \
    language";

fn parse<T>(value: Option<String>, parse: impl Fn(&str) -> Option<T>, what: &str) -> Result<Option<T>> {
    value.map(|v| parse(&v).ok_or_else(|| Error::Corrupt(format!("{what} {v}")))).transpose()
}

impl CallRow {
    fn from_row(row: &AnyRow) -> Result<Self> {
        let status = text(row, "status")?;
        let direction = text(row, "direction")?;
        Ok(CallRow {
            id: text(row, "id")?,
            org_id: text(row, "org_id")?,
            project_id: text(row, "project_id")?,
            agent_id: text(row, "agent_id")?,
            direction: Direction::parse(&direction).ok_or_else(|| Error::Corrupt(format!("direction {direction}")))?,
            from_number: text(row, "from_number")?,
            to_number: text(row, "to_number")?,
            status: CallStatus::parse(&status).ok_or_else(|| Error::Corrupt(format!("status {status}")))?,
            disposition: parse(opt_text(row, "disposition")?, Disposition::parse, "disposition")?,
            ended_reason: parse(opt_text(row, "ended_reason")?, EndedReason::parse, "ended_reason")?,
            started_at: int(row, "started_at")?,
            answered_at: opt_int(row, "answered_at")?,
            ended_at: opt_int(row, "ended_at")?,
            duration_seconds: int(row, "duration_seconds")?,
            rate_per_minute: int(row, "rate_per_minute_micros")?,
            cost: CallCost {
                centi_minutes: int(row, "centi_minutes")?,
                call_cost: int(row, "call_cost_micros")?,
                recording_cost: int(row, "recording_cost_micros")?,
                transfer_cost: int(row, "transfer_cost_micros")?,
                llm_discount: int(row, "llm_discount_micros")?,
                total_cost: int(row, "total_cost_micros")?,
            },
            transfer_duration_seconds: int(row, "transfer_duration_seconds")?,
            transferred_to: opt_text(row, "transferred_to")?,
            recording_enabled: flag(row, "recording_enabled")?,
            has_recording: flag(row, "has_recording")?,
            turn_count: int(row, "turn_count")?,
            tool_call_count: int(row, "tool_call_count")?,
            tools_called: json(row, "tools_called")?,
            metadata: json(row, "metadata")?,
            extracted_data: opt_json(row, "extracted_data")?,
            transcript: json(row, "transcript")?,
            latency: json(row, "latency")?,
            ws_unavailable: flag(row, "ws_unavailable")?,
            config_source: text(row, "config_source")?,
            brain: text(row, "brain")?,
            server_url_error: opt_text(row, "server_url_error")?,
            language: opt_text(row, "language")?,
        })
    }
}

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

async fn call_in(tx: &mut Tx, project_id: &str, id: &str) -> Result<CallRow> {
    let sql = format!("SELECT {COLUMNS} FROM calls WHERE project_id = $1 AND id = $2");
    let row = sqlx::query(AssertSqlSafe(sql)).bind(project_id).bind(id).fetch_one(&mut **tx).await?;
    CallRow::from_row(&row)
}

impl Store {
    /// Records a new call, ringing.
    pub async fn insert_call(&self, call: &NewCall) -> Result<CallRow> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO calls (id, org_id, project_id, agent_id, direction, from_number, to_number, status, \
             disposition, ended_reason, started_at, answered_at, ended_at, duration_seconds, centi_minutes, \
             rate_per_minute_micros, call_cost_micros, recording_cost_micros, transfer_cost_micros, \
             llm_discount_micros, total_cost_micros, transfer_duration_seconds, transferred_to, recording_enabled, \
             has_recording, turn_count, tool_call_count, tools_called, metadata, extracted_data, transcript, latency, \
             ws_unavailable, config_source, brain, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'ringing', NULL, NULL, $8, NULL, NULL, 0, 0, $9, 0, 0, 0, 0, 0, 0, \
             NULL, $10, 0, 0, 0, '[]', $11, NULL, '[]', '{\"turns\":[]}', 0, 'agent', 'embedded', $8, $8)",
        )
        .bind(&call.id)
        .bind(&call.org_id)
        .bind(&call.project_id)
        .bind(&call.agent_id)
        .bind(call.direction.as_str())
        .bind(&call.from_number)
        .bind(&call.to_number)
        .bind(now)
        .bind(call.rate_per_minute)
        .bind(i64::from(call.recording_enabled))
        .bind(to_json(&call.metadata))
        .execute(&mut *tx)
        .await?;
        let row = call_in(&mut tx, &call.project_id, &call.id).await?;
        insert_event(&mut tx, now, &call_events::lifecycle(EventType::CallRinging, &row)).await?;
        tx.commit().await?;
        self.wake_outbox();
        Ok(row)
    }

    /// Marks a ringing call answered.
    pub async fn mark_call_answered(&self, project_id: &str, id: &str, at: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE calls SET status = 'in-progress', answered_at = $1, updated_at = $1 \
             WHERE project_id = $2 AND id = $3 AND status = 'ringing'",
        )
        .bind(at)
        .bind(project_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() > 0 {
            let row = call_in(&mut tx, project_id, id).await?;
            insert_event(&mut tx, at, &call_events::lifecycle(EventType::CallStarted, &row)).await?;
        }
        tx.commit().await?;
        self.wake_outbox();
        Ok(())
    }

    /// Writes a call's end and debits its cost from the org, atomically.
    pub async fn finish_call(&self, project_id: &str, id: &str, end: &CallEnd) -> Result<CallRow> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE calls SET status = $1, disposition = $2, ended_reason = $3, ended_at = $4, duration_seconds = $5, \
             centi_minutes = $6, call_cost_micros = $7, recording_cost_micros = $8, transfer_cost_micros = $9, \
             llm_discount_micros = $10, total_cost_micros = $11, transfer_duration_seconds = $12, transferred_to = $13, \
             has_recording = $14, turn_count = $15, tool_call_count = $16, tools_called = $17, metadata = $18, \
             extracted_data = $19, transcript = $20, latency = $21, ws_unavailable = $22, config_source = $23, \
             brain = $24, server_url_error = $25, language = $26, updated_at = $4 \
             WHERE project_id = $27 AND id = $28 AND status IN ('ringing', 'in-progress')",
        )
        .bind(end.status.as_str())
        .bind(end.disposition.as_str())
        .bind(end.ended_reason.map(EndedReason::as_str))
        .bind(end.ended_at)
        .bind(end.duration_seconds)
        .bind(end.cost.centi_minutes)
        .bind(end.cost.call_cost)
        .bind(end.cost.recording_cost)
        .bind(end.cost.transfer_cost)
        .bind(end.cost.llm_discount)
        .bind(end.cost.total_cost)
        .bind(end.transfer_duration_seconds)
        .bind(end.transferred_to.as_deref())
        .bind(i64::from(end.has_recording))
        .bind(end.turn_count)
        .bind(end.tool_call_count)
        .bind(to_json(&end.tools_called))
        .bind(to_json(&end.metadata))
        .bind(end.extracted_data.as_ref().map(to_json))
        .bind(to_json(&end.transcript))
        .bind(to_json(&end.latency))
        .bind(i64::from(end.ws_unavailable))
        .bind(&end.config_source)
        .bind(&end.brain)
        .bind(end.server_url_error.as_deref())
        .bind(end.language.as_deref())
        .bind(project_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::Conflict("call already ended".into()));
        }
        if end.cost.total_cost != 0 {
            sqlx::query(
                "UPDATE orgs SET balance_micros = balance_micros - $1, balance_updated_at = $2, updated_at = $2 \
                 WHERE id = (SELECT org_id FROM calls WHERE id = $3)",
            )
            .bind(end.cost.total_cost)
            .bind(end.ended_at)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        let row = call_in(&mut tx, project_id, id).await?;
        insert_event(&mut tx, end.ended_at, &call_events::finished(&row)).await?;
        tx.commit().await?;
        if end.cost.total_cost != 0 {
            self.changes.notify(Change::Org(row.org_id.clone()));
        }
        self.wake_outbox();
        Ok(row)
    }

    pub async fn call(&self, project_id: &str, id: &str) -> Result<CallRow> {
        let sql = format!("SELECT {COLUMNS} FROM calls WHERE project_id = $1 AND id = $2");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(project_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::NotFound)?;
        CallRow::from_row(&row)
    }

    /// A page of calls, newest first; one row more than `limit` is fetched.
    pub async fn calls(
        &self,
        project_id: &str,
        filter: &CallFilter,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<CallRow>> {
        let (mut clause, n) = filter_sql(filter);
        if after.is_some() {
            clause.push_str(&format!(" AND id < ${n}"));
        }
        let limit_n = if after.is_some() { n + 1 } else { n };
        let sql = format!("SELECT {COLUMNS} FROM calls WHERE {clause} ORDER BY id DESC LIMIT ${limit_n}");
        let mut query = bind_filter(sqlx::query(AssertSqlSafe(sql)), project_id, filter);
        if let Some(after) = after {
            query = query.bind(after);
        }
        let rows = query.bind(i64::from(limit) + 1).fetch_all(&self.pool).await?;
        rows.iter().map(CallRow::from_row).collect()
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

    /// Closes calls left ringing or in progress by a server that stopped without
    /// ending them: `failed` / `error`, nothing billed, and their `call.ended`
    /// or `call.failed` recorded. Returns their ids.
    pub async fn close_abandoned_calls(&self) -> Result<Vec<(String, String)>> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query("SELECT project_id, id FROM calls WHERE status IN ('ringing', 'in-progress')")
            .fetch_all(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE calls SET status = 'failed', disposition = 'failed', ended_reason = 'error', ended_at = $1, \
             updated_at = $1 WHERE status IN ('ringing', 'in-progress')",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let ids = rows.iter().map(|r| Ok((text(r, "project_id")?, text(r, "id")?))).collect::<Result<Vec<_>>>()?;
        for (project_id, id) in &ids {
            let row = call_in(&mut tx, project_id, id).await?;
            insert_event(&mut tx, now, &call_events::finished(&row)).await?;
        }
        tx.commit().await?;
        self.wake_outbox();
        Ok(ids)
    }
}
