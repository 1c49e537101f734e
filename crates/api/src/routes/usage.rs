//! `GET /v1/usage`: calls and SMS of a project, or of every project of an org,
//! summed over a date range and bucketed by day, ISO week or month (Staffify §12).

use axum::extract::State;
use serde::{Deserialize, Serialize};
use switchboard_domain::money::to_eur;
use switchboard_domain::usage::{DateRange, Granularity, Tally, date_of_day, roll_up};
use switchboard_domain::validation::FieldErrors;
use switchboard_store::usage::{AgentUsage, UsageFilter, UsageScope};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AnyCaller;
use crate::error::{ApiError, Result};
use crate::extract::Query;
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// First day, `YYYY-MM-DD` (UTC, inclusive); default 30 days before `to`.
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD` (UTC, inclusive); default today. At most 366 days after `from`, counting both.
    pub to: Option<String>,
    /// `day` (default), `week` (ISO weeks, labelled with their Monday) or `month` (labelled with its first day).
    pub granularity: Option<String>,
    /// Only this agent's calls (and the SMS its messages sent).
    pub agent_id: Option<String>,
    /// `agent` adds `by_agent`: the top 20 agents by call cost.
    pub breakdown: Option<String>,
}

/// Totals of the range.
#[derive(Serialize, ToSchema)]
pub struct UsageSummary {
    pub total_calls: i64,
    /// Billable minutes (each call rounded to 2 decimals).
    pub total_minutes: f64,
    /// Call costs: `call_cost + recording_cost + transfer_cost − llm_discount`, EUR.
    pub total_cost: f64,
    pub call_cost: f64,
    pub recording_cost: f64,
    pub transfer_cost: f64,
    pub llm_discount: f64,
    pub sms_count: i64,
    pub sms_cost: f64,
    /// `total_cost + sms_cost`.
    pub grand_total_cost: f64,
    pub completed_calls: i64,
    pub failed_calls: i64,
    /// Calls with status `busy`, `no-answer`, `canceled` or `rejected`.
    pub missed_calls: i64,
    pub transferred_calls: i64,
    /// Mean duration of completed calls longer than 0 s, one decimal; 0 when none.
    pub avg_duration_seconds: f64,
}

/// One bucket of the timeseries; buckets without activity are present with zeros.
#[derive(Serialize, ToSchema)]
pub struct UsagePoint {
    /// The bucket's label: the day, the Monday of the ISO week, or the first day of the month.
    pub date: String,
    pub calls: i64,
    pub minutes: f64,
    pub total_cost: f64,
    pub call_cost: f64,
    pub recording_cost: f64,
    pub transfer_cost: f64,
    pub llm_discount: f64,
    pub avg_duration_seconds: f64,
    pub sms_count: i64,
    pub sms_cost: f64,
}

/// One agent's calls in the range.
#[derive(Serialize, ToSchema)]
pub struct AgentUsageView {
    pub agent_id: String,
    pub agent_name: Option<String>,
    pub calls: i64,
    pub minutes: f64,
    pub total_cost: f64,
}

#[derive(Serialize, ToSchema)]
pub struct Usage {
    pub from: String,
    pub to: String,
    /// `day`, `week` or `month`.
    pub granularity: String,
    pub summary: UsageSummary,
    /// Every bucket of the range, oldest first.
    pub timeseries: Vec<UsagePoint>,
    /// With `breakdown=agent` only: the top 20 agents by call cost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_agent: Option<Vec<AgentUsageView>>,
}

fn summary(t: &Tally) -> UsageSummary {
    UsageSummary {
        total_calls: t.calls,
        total_minutes: t.minutes(),
        total_cost: to_eur(t.total_cost),
        call_cost: to_eur(t.call_cost),
        recording_cost: to_eur(t.recording_cost),
        transfer_cost: to_eur(t.transfer_cost),
        llm_discount: to_eur(t.llm_discount),
        sms_count: t.sms_count,
        sms_cost: to_eur(t.sms_cost),
        grand_total_cost: to_eur(t.grand_total_cost()),
        completed_calls: t.completed_calls,
        failed_calls: t.failed_calls,
        missed_calls: t.missed_calls,
        transferred_calls: t.transferred_calls,
        avg_duration_seconds: t.avg_duration_seconds(),
    }
}

fn point(date: jiff::civil::Date, t: &Tally) -> UsagePoint {
    UsagePoint {
        date: date.to_string(),
        calls: t.calls,
        minutes: t.minutes(),
        total_cost: to_eur(t.total_cost),
        call_cost: to_eur(t.call_cost),
        recording_cost: to_eur(t.recording_cost),
        transfer_cost: to_eur(t.transfer_cost),
        llm_discount: to_eur(t.llm_discount),
        avg_duration_seconds: t.avg_duration_seconds(),
        sms_count: t.sms_count,
        sms_cost: to_eur(t.sms_cost),
    }
}

fn agent_view(a: AgentUsage) -> AgentUsageView {
    AgentUsageView {
        agent_id: a.agent_id,
        agent_name: a.agent_name,
        calls: a.calls,
        minutes: a.centi_minutes as f64 / 100.0,
        total_cost: to_eur(a.total_cost),
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_usage))
}

/// Usage over a date range. A project key reports its project; an org key
/// reports every project of the org, or the project named by `X-Project-Id`.
/// Calls count on the UTC day they started, SMS on the day they were sent.
#[utoipa::path(get, path = "/v1/usage", tag = "Usage", params(UsageQuery),
    responses((status = 200, body = Usage)))]
async fn get_usage(
    State(state): State<AppState>,
    AnyCaller(caller): AnyCaller,
    Query(q): Query<UsageQuery>,
) -> Result<axum::Json<Usage>> {
    let now = state.store.clock().now_ms();
    let today = date_of_day(now.div_euclid(86_400_000)).ok_or_else(|| ApiError::internal("clock out of range"))?;
    let mut errors = FieldErrors::new();
    let granularity = match q.granularity.as_deref().map(Granularity::parse) {
        None => Granularity::Day,
        Some(Some(g)) => g,
        Some(None) => {
            errors.add("granularity", "Must be day, week or month.");
            Granularity::Day
        }
    };
    if q.breakdown.as_deref().is_some_and(|b| b != "agent") {
        errors.add("breakdown", "Must be agent.");
    }
    let range = match DateRange::parse(q.from.as_deref(), q.to.as_deref(), today) {
        Ok(range) => Some(range),
        Err(range_errors) => {
            for (field, message) in range_errors.into_map() {
                errors.add(field, message);
            }
            None
        }
    };
    errors.finish().map_err(ApiError::validation)?;
    let Some(range) = range else { return Err(ApiError::invalid_field("from", "Invalid range.")) };
    let scope = match &caller.project_id {
        Some(project) => UsageScope::Project(project),
        None => UsageScope::Org(&caller.org.id),
    };
    let (from_ms, until_ms) = range.bounds_ms();
    let filter = UsageFilter { scope, from_ms, until_ms, agent_id: q.agent_id.as_deref() };
    let days = state.store.usage_by_day(&filter).await?;
    let (buckets, total) = roll_up(&range, granularity, &days);
    let by_agent = match q.breakdown {
        Some(_) => Some(state.store.usage_by_agent(&filter).await?.into_iter().map(agent_view).collect()),
        None => None,
    };
    Ok(axum::Json(Usage {
        from: range.from.to_string(),
        to: range.to.to_string(),
        granularity: granularity.as_str().to_owned(),
        summary: summary(&total),
        timeseries: buckets.iter().map(|(date, tally)| point(*date, tally)).collect(),
        by_agent,
    }))
}
