//! Webhook delivery jobs and their attempt log: claiming due jobs under a
//! lease, recording each attempt with its consequences for the endpoint, and
//! the delivery logs the API shows.

use std::collections::{HashMap, HashSet};

use serde_json::json;
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use switchboard_domain::events::EventType;
use switchboard_domain::webhooks::{Next, RetryPolicy, pick_due, should_disable};

use crate::events::{EndpointKind, NewEvent, Target, Tx, insert_delivery, insert_event};
use crate::rows::{AnyQuery, ROWS_PER_INSERT, flag, int, opt_int, opt_text, placeholder_rows, text};
use crate::webhooks::HookScope;
use crate::{Backend, Error, Result, Store};

/// A job claimed for sending, with everything needed to send it.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: String,
    pub event_id: String,
    pub event: String,
    pub org_id: String,
    pub project_id: Option<String>,
    pub call_id: Option<String>,
    pub endpoint_kind: EndpointKind,
    pub endpoint_id: String,
    /// Attempts made before this one.
    pub attempts: i64,
    /// The serialised envelope.
    pub payload: String,
    /// Where and how to send it now, or why it cannot be sent (endpoint gone or disabled).
    pub endpoint: Result<(String, String), String>,
}

/// How much one claim may take.
#[derive(Debug, Clone, Copy)]
pub struct ClaimLimits<'a> {
    /// Jobs in all.
    pub total: usize,
    /// Jobs one endpoint may have out.
    pub per_endpoint: usize,
    /// Jobs each endpoint already has out (claimed, not yet recorded).
    pub out: &'a HashMap<String, usize>,
}

/// What a claim took, and whether due jobs were left for later.
#[derive(Debug)]
pub struct Claimed {
    pub jobs: Vec<ClaimedDelivery>,
    pub left_due: bool,
}

/// What happened on one attempt.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub url: String,
    pub next: Next,
}

/// One attempt as the delivery logs show it.
#[derive(Debug, Clone)]
pub struct AttemptRow {
    pub id: i64,
    pub event: String,
    pub event_id: String,
    pub endpoint_id: String,
    pub url: String,
    pub attempt: i64,
    pub status_code: Option<i64>,
    pub success: bool,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub created_at: i64,
}

const ATTEMPT_COLUMNS: &str =
    "id, event, event_id, endpoint_id, url, attempt, status_code, success, error, duration_ms, created_at";

fn attempt_row(row: &AnyRow) -> Result<AttemptRow> {
    Ok(AttemptRow {
        id: int(row, "id")?,
        event: text(row, "event")?,
        event_id: text(row, "event_id")?,
        endpoint_id: text(row, "endpoint_id")?,
        url: text(row, "url")?,
        attempt: int(row, "attempt")?,
        status_code: opt_int(row, "status_code")?,
        success: flag(row, "success")?,
        error: opt_text(row, "error")?,
        duration_ms: int(row, "duration_ms")?,
        created_at: int(row, "created_at")?,
    })
}

/// Filters of an endpoint's delivery log.
#[derive(Debug, Clone, Default)]
pub struct AttemptFilter {
    pub success: Option<bool>,
    pub event: Option<String>,
}

impl Store {
    /// Claims due jobs for `lease_ms` (including jobs whose lease ran out:
    /// their worker died) within `limits`, oldest first. Each is returned with
    /// its payload and the endpoint's current URL and secret.
    pub async fn claim_deliveries(&self, limits: &ClaimLimits<'_>, lease_ms: i64) -> Result<Claimed> {
        let now = self.now();
        let lock = if self.backend == Backend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
        // Endpoints with their share out would only fill the scan.
        let busy: Vec<&String> =
            limits.out.iter().filter(|(_, out)| **out >= limits.per_endpoint).map(|(id, _)| id).collect();
        let skip = if busy.is_empty() {
            String::new()
        } else {
            let placeholders: Vec<String> = (3..3 + busy.len()).map(|n| format!("${n}")).collect();
            format!(" AND endpoint_id NOT IN ({})", placeholders.join(", "))
        };
        let scan = limits.total.saturating_mul(4).max(1);
        let mut tx = self.begin_write().await?;
        // Two reads, each in the order of the (state, next_attempt_at) index,
        // so neither sorts the whole backlog: leases that ran out (their
        // worker died; few), then jobs that fell due.
        let mut due = Vec::new();
        for due_now in ["state = 'sending' AND locked_until < $1", "state = 'pending' AND next_attempt_at <= $1"] {
            let sql = format!(
                "SELECT id, endpoint_id FROM webhook_deliveries WHERE {due_now}{skip} \
                 ORDER BY next_attempt_at LIMIT $2{lock}"
            );
            let mut query = sqlx::query(AssertSqlSafe(sql)).bind(now).bind((scan - due.len()) as i64);
            for endpoint in &busy {
                query = query.bind(endpoint.as_str());
            }
            for row in query.fetch_all(&mut *tx).await? {
                due.push((text(&row, "id")?, text(&row, "endpoint_id")?));
            }
            if due.len() >= scan {
                break;
            }
        }
        let scanned_all = due.len() < scan;
        let (picked, left) = pick_due(due, |job| &job.1, limits.total, limits.per_endpoint, limits.out);
        let left_due = left || !scanned_all;
        if picked.is_empty() {
            tx.commit().await?;
            return Ok(Claimed { jobs: Vec::new(), left_due });
        }
        let placeholders: Vec<String> = (3..3 + picked.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "UPDATE webhook_deliveries SET state = 'sending', locked_until = $1, updated_at = $2 WHERE id IN ({}) \
             RETURNING id, event_id, endpoint_kind, endpoint_id, attempts",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(now + lease_ms).bind(now);
        for (id, _) in &picked {
            query = query.bind(id);
        }
        let rows = query.fetch_all(&mut *tx).await?;
        tx.commit().await?;
        // RETURNING keeps no order: put the jobs back in the order they fell due.
        let order: HashMap<&str, usize> = picked.iter().enumerate().map(|(n, (id, _))| (id.as_str(), n)).collect();
        let mut rows = rows.into_iter().map(|row| Ok((text(&row, "id")?, row))).collect::<Result<Vec<_>>>()?;
        rows.sort_by_key(|(id, _)| order.get(id.as_str()).copied().unwrap_or(usize::MAX));
        let rows: Vec<AnyRow> = rows.into_iter().map(|(_, row)| row).collect();
        let jobs = self.claimed_jobs(&rows).await?;
        Ok(Claimed { jobs, left_due })
    }

    /// The claimed rows with their events and endpoints.
    async fn claimed_jobs(&self, rows: &[AnyRow]) -> Result<Vec<ClaimedDelivery>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        // Events never change: read them (and each endpoint once) outside the write.
        let placeholders: Vec<String> = (1..=rows.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT id, event, org_id, project_id, call_id, payload FROM events WHERE id IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for row in rows {
            query = query.bind(text(row, "event_id")?);
        }
        let events: HashMap<String, AnyRow> =
            query.fetch_all(&self.pool).await?.into_iter().map(|r| Ok((text(&r, "id")?, r))).collect::<Result<_>>()?;
        let mut endpoints: HashMap<(String, String), std::result::Result<(String, String), String>> = HashMap::new();
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            let kind = EndpointKind::parse(&text(row, "endpoint_kind")?)
                .ok_or_else(|| Error::Corrupt("unknown endpoint kind".into()))?;
            let endpoint_id = text(row, "endpoint_id")?;
            let event_id = text(row, "event_id")?;
            let event = events.get(&event_id).ok_or_else(|| Error::Corrupt(format!("event {event_id} missing")))?;
            let org_id = text(event, "org_id")?;
            let key = (kind.as_str().to_owned(), endpoint_id.clone());
            let endpoint = match endpoints.get(&key) {
                Some(found) => found.clone(),
                None => {
                    let found = endpoint_now(&self.pool, &org_id, kind, &endpoint_id).await?;
                    endpoints.insert(key, found.clone());
                    found
                }
            };
            claimed.push(ClaimedDelivery {
                id: text(row, "id")?,
                event: text(event, "event")?,
                org_id,
                project_id: opt_text(event, "project_id")?,
                call_id: opt_text(event, "call_id")?,
                endpoint_kind: kind,
                endpoint_id,
                attempts: int(row, "attempts")?,
                payload: text(event, "payload")?,
                endpoint,
                event_id,
            });
        }
        Ok(claimed)
    }

    /// Logs an attempt and applies its outcome: the job is done, failed or
    /// rescheduled; the endpoint's failure streak starts or ends; an endpoint
    /// that answered 410, or has failed for `policy.disable_after_ms`, is
    /// disabled and a `webhook.disabled` event recorded. `counts_for_health` is
    /// false for test sends, which never change an endpoint's state.
    pub async fn record_attempt(
        &self,
        job: &ClaimedDelivery,
        record: &AttemptRecord,
        policy: &RetryPolicy,
        counts_for_health: bool,
    ) -> Result<AttemptRow> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let row = write_attempt(&mut tx, now, job, record, policy, counts_for_health).await?;
        tx.commit().await?;
        self.wake_outbox();
        Ok(row)
    }

    /// Records the attempts of many jobs in one transaction, in order, each
    /// as [`Store::record_attempt`] would (counting for endpoint health).
    pub async fn record_attempts(
        &self,
        attempts: &[(ClaimedDelivery, AttemptRecord)],
        policy: &RetryPolicy,
    ) -> Result<()> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        write_attempts(&mut tx, now, attempts, policy).await?;
        tx.commit().await?;
        self.wake_outbox();
        Ok(())
    }

    /// The delivery attempts of one call's events across every endpoint,
    /// `created_at ASC, attempt ASC`, at most 500.
    pub async fn call_attempts(&self, org_id: &str, call_id: &str) -> Result<Vec<AttemptRow>> {
        let sql = format!(
            "SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts WHERE org_id = $1 AND call_id = $2 \
             ORDER BY created_at, attempt, id LIMIT 500"
        );
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(org_id).bind(call_id).fetch_all(&self.pool).await?;
        rows.iter().map(attempt_row).collect()
    }

    /// A page of one endpoint's attempts, newest first; one extra row tells
    /// whether more exist.
    pub async fn endpoint_attempts(
        &self,
        org_id: &str,
        endpoint_id: &str,
        filter: &AttemptFilter,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AttemptRow>> {
        let sql = format!(
            "SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts WHERE org_id = $1 AND endpoint_id = $2 \
             AND ($3 IS NULL OR success = $3) AND ($4 IS NULL OR event = $4) AND ($5 IS NULL OR id < $5) \
             ORDER BY id DESC LIMIT $6"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(org_id)
            .bind(endpoint_id)
            .bind(filter.success.map(i64::from))
            .bind(filter.event.as_deref())
            .bind(after)
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(attempt_row).collect()
    }

    /// Queues an event again for every endpoint it was queued for (continuing
    /// each one's attempt count), or, if it never matched one, for the
    /// endpoints that match it now. Returns the endpoints' URLs.
    pub async fn redeliver_event(&self, scope: HookScope<'_>, event_id: &str) -> Result<Vec<String>> {
        let event = self.event(scope.org_id, event_id).await?;
        if scope.project_id.is_some_and(|project| event.project_id.as_deref() != Some(project)) {
            return Err(Error::NotFound);
        }
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let previous = sqlx::query(
            "SELECT endpoint_kind, endpoint_id, url, MAX(attempts) AS attempts FROM webhook_deliveries \
             WHERE event_id = $1 GROUP BY endpoint_kind, endpoint_id, url ORDER BY endpoint_id",
        )
        .bind(event_id)
        .fetch_all(&mut *tx)
        .await?;
        let mut urls = Vec::new();
        if previous.is_empty() {
            sqlx::query("UPDATE events SET dispatched = 0 WHERE id = $1").bind(event_id).execute(&mut *tx).await?;
        }
        for row in &previous {
            let kind = EndpointKind::parse(&text(row, "endpoint_kind")?)
                .ok_or_else(|| Error::Corrupt("unknown endpoint kind".into()))?;
            let target = Target { kind, id: text(row, "endpoint_id")?, url: text(row, "url")? };
            sqlx::query(
                "UPDATE webhook_deliveries SET state = 'failed' WHERE event_id = $1 AND endpoint_id = $2 \
                 AND state = 'pending'",
            )
            .bind(event_id)
            .bind(&target.id)
            .execute(&mut *tx)
            .await?;
            insert_delivery(&mut tx, event_id, &event.org_id, &target, int(row, "attempts")?, now).await?;
            urls.push(target.url);
        }
        tx.commit().await?;
        self.wake_outbox();
        Ok(urls)
    }

    /// Records a `webhook.test` event for one endpoint of the scope and claims
    /// its job at once, so the caller sends it inline.
    pub async fn queue_test_delivery(&self, scope: HookScope<'_>, webhook_id: &str) -> Result<ClaimedDelivery> {
        let org_id = scope.org_id;
        let hook = self.webhook(scope, webhook_id).await?;
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let data = json!({"webhook_id": hook.id, "message": "This is a test event from Switchboard."});
        let event = NewEvent {
            event: EventType::WebhookTest,
            org_id: org_id.to_owned(),
            project_id: hook.project_id.clone(),
            agent_id: None,
            call_id: None,
            data,
        };
        let event_id = insert_event(&mut tx, now, &event).await?;
        sqlx::query("UPDATE events SET dispatched = 1 WHERE id = $1").bind(&event_id).execute(&mut *tx).await?;
        let target = Target { kind: EndpointKind::Org, id: hook.id.clone(), url: hook.url.clone() };
        let id = insert_delivery(&mut tx, &event_id, org_id, &target, 0, now).await?;
        sqlx::query("UPDATE webhook_deliveries SET state = 'sending', locked_until = $1 WHERE id = $2")
            .bind(now + 60_000)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        let payload: String =
            sqlx::query_scalar("SELECT payload FROM events WHERE id = $1").bind(&event_id).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        Ok(ClaimedDelivery {
            id,
            event_id,
            event: EventType::WebhookTest.as_str().to_owned(),
            org_id: org_id.to_owned(),
            project_id: None,
            call_id: None,
            endpoint_kind: EndpointKind::Org,
            endpoint_id: hook.id,
            attempts: 0,
            payload,
            endpoint: Ok((hook.url, hook.secret)),
        })
    }
}

/// The URL and secret an endpoint has now, or why nothing may be sent to it.
async fn endpoint_now(
    pool: &sqlx::AnyPool,
    org_id: &str,
    kind: EndpointKind,
    id: &str,
) -> Result<std::result::Result<(String, String), String>> {
    let sql = match kind {
        EndpointKind::Org => "SELECT url, secret, enabled, disabled_reason FROM webhooks WHERE org_id = $1 AND id = $2",
        EndpointKind::Project => {
            "SELECT webhook_url AS url, webhook_secret AS secret, webhook_enabled AS enabled, \
             webhook_disabled_reason AS disabled_reason FROM projects \
             WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL"
        }
        EndpointKind::Agent => {
            "SELECT webhook_url AS url, webhook_secret AS secret, 1 AS enabled, \
             webhook_disabled_reason AS disabled_reason FROM agents WHERE org_id = $1 AND id = $2"
        }
    };
    let Some(row) = sqlx::query(sql).bind(org_id).bind(id).fetch_optional(pool).await? else {
        return Ok(Err("The endpoint no longer exists.".into()));
    };
    let (url, secret) = (opt_text(&row, "url")?, opt_text(&row, "secret")?);
    let enabled = int(&row, "enabled")? != 0 && opt_text(&row, "disabled_reason")?.is_none();
    Ok(match (url, secret) {
        (Some(url), Some(secret)) if enabled => Ok((url, secret)),
        (None, _) | (_, None) => Err("The endpoint no longer has a URL.".into()),
        _ => Err("The endpoint is disabled.".into()),
    })
}

/// The health columns of one endpoint, whatever its level.
struct Health<'a> {
    kind: EndpointKind,
    id: &'a str,
    org_id: &'a str,
}

impl Health<'_> {
    fn table(&self) -> (&'static str, &'static str) {
        match self.kind {
            EndpointKind::Org => ("webhooks", ""),
            EndpointKind::Project => ("projects", "webhook_"),
            EndpointKind::Agent => ("agents", "webhook_"),
        }
    }

    async fn recovered(&self, tx: &mut Tx) -> Result<()> {
        let (table, p) = self.table();
        let sql = format!("UPDATE {table} SET {p}failing_since = NULL WHERE org_id = $1 AND id = $2");
        sqlx::query(AssertSqlSafe(sql)).bind(self.org_id).bind(self.id).execute(&mut **tx).await?;
        Ok(())
    }

    /// Starts the failure streak if none is running; returns when it started.
    async fn failing(&self, tx: &mut Tx, now: i64) -> Result<i64> {
        let (table, p) = self.table();
        let sql = format!(
            "UPDATE {table} SET {p}failing_since = COALESCE({p}failing_since, $1) WHERE org_id = $2 AND id = $3"
        );
        sqlx::query(AssertSqlSafe(sql)).bind(now).bind(self.org_id).bind(self.id).execute(&mut **tx).await?;
        let sql = format!("SELECT {p}failing_since AS since FROM {table} WHERE org_id = $1 AND id = $2");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(self.org_id).bind(self.id).fetch_optional(&mut **tx).await?;
        Ok(match row {
            Some(row) => opt_int(&row, "since")?.unwrap_or(now),
            None => now,
        })
    }

    /// Disables the endpoint with a reason and records `webhook.disabled`.
    async fn disable(&self, tx: &mut Tx, now: i64, reason: &str) -> Result<()> {
        let (table, p) = self.table();
        let enabled = match self.kind {
            EndpointKind::Agent => String::new(),
            _ => format!(", {p}enabled = 0"),
        };
        let sql = format!(
            "UPDATE {table} SET {p}disabled_reason = $1{enabled} WHERE org_id = $2 AND id = $3 \
             AND {p}disabled_reason IS NULL"
        );
        let done =
            sqlx::query(AssertSqlSafe(sql)).bind(reason).bind(self.org_id).bind(self.id).execute(&mut **tx).await?;
        if done.rows_affected() == 0 {
            return Ok(());
        }
        let (project_id, agent_id) = match self.kind {
            EndpointKind::Org => (None, None),
            EndpointKind::Project => (Some(self.id.to_owned()), None),
            EndpointKind::Agent => {
                let project: Option<String> = sqlx::query_scalar("SELECT project_id FROM agents WHERE id = $1")
                    .bind(self.id)
                    .fetch_optional(&mut **tx)
                    .await?;
                (project, Some(self.id.to_owned()))
            }
        };
        let data = json!({"endpoint_id": self.id, "level": self.kind.as_str(), "reason": reason});
        let event = NewEvent {
            event: EventType::WebhookDisabled,
            org_id: self.org_id.to_owned(),
            project_id,
            agent_id,
            call_id: None,
            data,
        };
        insert_event(tx, now, &event).await?;
        Ok(())
    }
}

/// Logs one attempt of `job` inside `tx` and applies its outcome.
async fn write_attempt(
    tx: &mut Tx,
    now: i64,
    job: &ClaimedDelivery,
    record: &AttemptRecord,
    policy: &RetryPolicy,
    counts_for_health: bool,
) -> Result<AttemptRow> {
    let attempt = job.attempts + 1;
    let success = record.next == Next::Delivered;
    let placeholders = placeholder_rows(1, ATTEMPT_BINDS);
    let sql = format!("INSERT INTO webhook_attempts ({ATTEMPT_INSERT_COLUMNS}) VALUES {placeholders} RETURNING id");
    let row = bind_attempt(sqlx::query(AssertSqlSafe(sql)), now, job, record).fetch_one(&mut **tx).await?;
    let id = int(&row, "id")?;
    let outcome = Outcome::of(job, record, now);
    outcome.apply(tx, now, &[job.id.as_str()]).await?;
    if counts_for_health {
        apply_health(tx, now, job, record, policy).await?;
    }
    Ok(AttemptRow {
        id,
        event: job.event.clone(),
        event_id: job.event_id.clone(),
        endpoint_id: job.endpoint_id.clone(),
        url: record.url.clone(),
        attempt,
        status_code: record.status_code.map(i64::from),
        success,
        error: record.error.clone(),
        duration_ms: record.duration_ms,
        created_at: now,
    })
}

/// Logs many attempts inside `tx`: the log rows and the jobs' new states
/// in a few statements, then each endpoint's health in order.
async fn write_attempts(
    tx: &mut Tx,
    now: i64,
    attempts: &[(ClaimedDelivery, AttemptRecord)],
    policy: &RetryPolicy,
) -> Result<()> {
    for chunk in attempts.chunks(ROWS_PER_INSERT) {
        let placeholders = placeholder_rows(chunk.len(), ATTEMPT_BINDS);
        let sql = format!("INSERT INTO webhook_attempts ({ATTEMPT_INSERT_COLUMNS}) VALUES {placeholders}");
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for (job, record) in chunk {
            query = bind_attempt(query, now, job, record);
        }
        query.execute(&mut **tx).await?;
    }
    // Jobs with the same outcome change state in one statement.
    let mut outcomes: Vec<(Outcome<'_>, Vec<&str>)> = Vec::new();
    for (job, record) in attempts {
        let outcome = Outcome::of(job, record, now);
        match outcomes.iter_mut().find(|(o, _)| *o == outcome) {
            Some((_, ids)) => ids.push(&job.id),
            None => outcomes.push((outcome, vec![&job.id])),
        }
    }
    for (outcome, ids) in &outcomes {
        for ids in ids.chunks(ROWS_PER_INSERT * 4) {
            outcome.apply(tx, now, ids).await?;
        }
    }
    // A run of successes to one endpoint ends its failure streak once.
    let mut recovered: HashSet<&str> = HashSet::new();
    for (job, record) in attempts {
        if record.next == Next::Delivered {
            if !recovered.insert(&job.endpoint_id) {
                continue;
            }
        } else {
            recovered.remove(job.endpoint_id.as_str());
        }
        apply_health(tx, now, job, record, policy).await?;
    }
    Ok(())
}

const ATTEMPT_INSERT_COLUMNS: &str = "delivery_id, event_id, event, org_id, project_id, call_id, endpoint_id, url, \
     attempt, status_code, success, error, duration_ms, created_at";
const ATTEMPT_BINDS: usize = 14;

/// Binds one row of [`ATTEMPT_INSERT_COLUMNS`].
fn bind_attempt<'q>(
    query: AnyQuery<'q>,
    now: i64,
    job: &'q ClaimedDelivery,
    record: &'q AttemptRecord,
) -> AnyQuery<'q> {
    query
        .bind(&job.id)
        .bind(&job.event_id)
        .bind(&job.event)
        .bind(&job.org_id)
        .bind(job.project_id.as_deref())
        .bind(job.call_id.as_deref())
        .bind(&job.endpoint_id)
        .bind(&record.url)
        .bind(job.attempts + 1)
        .bind(record.status_code.map(i64::from))
        .bind(i64::from(record.next == Next::Delivered))
        .bind(record.error.as_deref())
        .bind(record.duration_ms)
        .bind(now)
}

/// What an attempt does to its job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Outcome<'a> {
    state: &'static str,
    attempts: i64,
    next_at: i64,
    url: &'a str,
}

impl<'a> Outcome<'a> {
    fn of(job: &ClaimedDelivery, record: &'a AttemptRecord, now: i64) -> Self {
        let (state, next_at) = match record.next {
            Next::Delivered => ("succeeded", now),
            Next::RetryAt(at) => ("pending", at),
            Next::Failed | Next::Gone => ("failed", now),
        };
        Outcome { state, attempts: job.attempts + 1, next_at, url: &record.url }
    }

    async fn apply(&self, tx: &mut Tx, now: i64, ids: &[&str]) -> Result<()> {
        let placeholders: Vec<String> = (6..6 + ids.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "UPDATE webhook_deliveries SET state = $1, attempts = $2, next_attempt_at = $3, locked_until = NULL, \
             url = $4, updated_at = $5 WHERE id IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(self.state)
            .bind(self.attempts)
            .bind(self.next_at)
            .bind(self.url)
            .bind(now);
        for id in ids {
            query = query.bind(*id);
        }
        query.execute(&mut **tx).await?;
        Ok(())
    }
}

/// What an attempt says about its endpoint: its failure streak ends or goes
/// on, and it may be disabled.
async fn apply_health(
    tx: &mut Tx,
    now: i64,
    job: &ClaimedDelivery,
    record: &AttemptRecord,
    policy: &RetryPolicy,
) -> Result<()> {
    if job.endpoint.is_err() {
        return Ok(());
    }
    let health = Health { kind: job.endpoint_kind, id: &job.endpoint_id, org_id: &job.org_id };
    match record.next {
        Next::Delivered => health.recovered(tx).await,
        Next::Gone => health.disable(tx, now, "The endpoint answered 410 Gone.").await,
        Next::RetryAt(_) | Next::Failed => {
            let since = health.failing(tx, now).await?;
            if should_disable(policy, Some(since), now) {
                let days = policy.disable_after_ms as f64 / 86_400_000.0;
                let reason = format!("Every delivery failed for {days} days.");
                health.disable(tx, now, &reason).await?;
            }
            Ok(())
        }
    }
}
