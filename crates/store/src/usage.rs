//! Usage aggregates for `/v1/usage`: calls and SMS summed per UTC day by the
//! database (at most one row per day and kind), and the top agents by cost.
//! Day rows are rolled into buckets by `switchboard_domain::usage`.

use std::collections::BTreeMap;

use sqlx::AssertSqlSafe;
use switchboard_domain::money::Micros;
use switchboard_domain::usage::{TOP_AGENTS, Tally};

use crate::rows::{AnyQuery, int, opt_text, text};
use crate::{Result, Store};

/// Whose usage: one project, or every project of an org.
#[derive(Debug, Clone, Copy)]
pub enum UsageScope<'a> {
    Project(&'a str),
    Org(&'a str),
}

impl UsageScope<'_> {
    fn column(&self) -> &'static str {
        match self {
            UsageScope::Project(_) => "project_id",
            UsageScope::Org(_) => "org_id",
        }
    }

    fn id(&self) -> &str {
        match self {
            UsageScope::Project(id) | UsageScope::Org(id) => id,
        }
    }
}

/// What a usage report covers: a scope, `[from_ms, until_ms)`, optionally one agent.
#[derive(Debug, Clone, Copy)]
pub struct UsageFilter<'a> {
    pub scope: UsageScope<'a>,
    pub from_ms: i64,
    pub until_ms: i64,
    pub agent_id: Option<&'a str>,
}

impl UsageFilter<'_> {
    /// `{column} = $1 AND {time} >= $2 AND {time} < $3 [AND agent_id = $4]`.
    fn clause(&self, prefix: &str, time: &str) -> String {
        let column = self.scope.column();
        let mut sql = format!("{prefix}{column} = $1 AND {prefix}{time} >= $2 AND {prefix}{time} < $3");
        if self.agent_id.is_some() {
            sql.push_str(&format!(" AND {prefix}agent_id = $4"));
        }
        sql
    }

    fn bind<'q>(&'q self, query: AnyQuery<'q>) -> AnyQuery<'q> {
        let query = query.bind(self.scope.id()).bind(self.from_ms).bind(self.until_ms);
        match self.agent_id {
            Some(agent) => query.bind(agent),
            None => query,
        }
    }
}

/// One agent's calls in the range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentUsage {
    pub agent_id: String,
    pub agent_name: Option<String>,
    pub calls: i64,
    pub centi_minutes: i64,
    pub total_cost: Micros,
}

const DAY_MS: i64 = 86_400_000;

fn sum(expr: &str, alias: &str) -> String {
    format!("CAST(COALESCE(SUM({expr}), 0) AS BIGINT) AS {alias}")
}

impl Store {
    /// Per-UTC-day tallies of calls (by `started_at`) and paid SMS (by
    /// `created_at`), keyed by day number (days since 1970-01-01).
    pub async fn usage_by_day(&self, filter: &UsageFilter<'_>) -> Result<Vec<(i64, Tally)>> {
        let count_if = |condition: &str, alias: &str| sum(&format!("CASE WHEN {condition} THEN 1 ELSE 0 END"), alias);
        let calls_sql = format!(
            "SELECT started_at / {DAY_MS} AS day, COUNT(*) AS calls, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {} \
             FROM calls WHERE {} GROUP BY started_at / {DAY_MS}",
            sum("centi_minutes", "centi_minutes"),
            sum("call_cost_micros", "call_cost"),
            sum("recording_cost_micros", "recording_cost"),
            sum("transfer_cost_micros", "transfer_cost"),
            sum("llm_discount_micros", "llm_discount"),
            sum("total_cost_micros", "total_cost"),
            count_if("status = 'completed'", "completed_calls"),
            count_if("status = 'failed'", "failed_calls"),
            count_if("status IN ('busy', 'no-answer', 'canceled', 'rejected')", "missed_calls"),
            count_if("transferred_to IS NOT NULL OR disposition = 'transferred'", "transferred_calls"),
            count_if("status = 'completed' AND duration_seconds > 0", "timed_calls"),
            sum(
                "CASE WHEN status = 'completed' AND duration_seconds > 0 THEN duration_seconds ELSE 0 END",
                "timed_seconds"
            ),
            filter.clause("", "started_at"),
        );
        let mut days: BTreeMap<i64, Tally> = BTreeMap::new();
        for row in filter.bind(sqlx::query(AssertSqlSafe(calls_sql))).fetch_all(&self.pool).await? {
            let tally = days.entry(int(&row, "day")?).or_default();
            tally.calls = int(&row, "calls")?;
            tally.centi_minutes = int(&row, "centi_minutes")?;
            tally.call_cost = int(&row, "call_cost")?;
            tally.recording_cost = int(&row, "recording_cost")?;
            tally.transfer_cost = int(&row, "transfer_cost")?;
            tally.llm_discount = int(&row, "llm_discount")?;
            tally.total_cost = int(&row, "total_cost")?;
            tally.completed_calls = int(&row, "completed_calls")?;
            tally.failed_calls = int(&row, "failed_calls")?;
            tally.missed_calls = int(&row, "missed_calls")?;
            tally.transferred_calls = int(&row, "transferred_calls")?;
            tally.timed_calls = int(&row, "timed_calls")?;
            tally.timed_seconds = int(&row, "timed_seconds")?;
        }
        let sms_sql = format!(
            "SELECT created_at / {DAY_MS} AS day, COUNT(*) AS sms_count, {} FROM sms_messages \
             WHERE {} AND status <> 'failed' GROUP BY created_at / {DAY_MS}",
            sum("cost_micros", "sms_cost"),
            filter.clause("", "created_at"),
        );
        for row in filter.bind(sqlx::query(AssertSqlSafe(sms_sql))).fetch_all(&self.pool).await? {
            let tally = days.entry(int(&row, "day")?).or_default();
            tally.sms_count = int(&row, "sms_count")?;
            tally.sms_cost = int(&row, "sms_cost")?;
        }
        Ok(days.into_iter().collect())
    }

    /// The agents with the highest call cost in the range (at most 20).
    /// Calls no agent took (to an unassigned or released number) have an
    /// empty `agent_id` and are left out.
    pub async fn usage_by_agent(&self, filter: &UsageFilter<'_>) -> Result<Vec<AgentUsage>> {
        let sql = format!(
            "SELECT c.agent_id AS agent_id, a.name AS agent_name, COUNT(*) AS calls, {}, {} \
             FROM calls c LEFT JOIN agents a ON a.id = c.agent_id WHERE {} AND c.agent_id <> '' \
             GROUP BY c.agent_id, a.name ORDER BY total_cost DESC, c.agent_id LIMIT {TOP_AGENTS}",
            sum("c.centi_minutes", "centi_minutes"),
            sum("c.total_cost_micros", "total_cost"),
            filter.clause("c.", "started_at"),
        );
        let rows = filter.bind(sqlx::query(AssertSqlSafe(sql))).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                Ok(AgentUsage {
                    agent_id: text(row, "agent_id")?,
                    agent_name: opt_text(row, "agent_name")?,
                    calls: int(row, "calls")?,
                    centi_minutes: int(row, "centi_minutes")?,
                    total_cost: int(row, "total_cost")?,
                })
            })
            .collect()
    }
}
