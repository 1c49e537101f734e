//! The event outbox: events are written in the transaction of the state change
//! they report, then fanned out into one delivery job per matching endpoint.

use std::collections::HashMap;

use serde_json::Value;
use sqlx::AssertSqlSafe;
use switchboard_domain::events::{Envelope, EventScope, EventType, subscribed};
use switchboard_domain::ids::IdKind;
use switchboard_domain::time::iso;

use crate::rows::{AnyQuery, ROWS_PER_INSERT, json, opt_text, placeholder_rows, text};
use crate::{Backend, Result, Store};

pub(crate) type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// An event about to be recorded.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event: EventType,
    pub org_id: String,
    pub project_id: Option<String>,
    pub agent_id: Option<String>,
    pub call_id: Option<String>,
    pub data: Value,
}

impl NewEvent {
    /// An event about one call of an agent.
    pub fn for_call(event: EventType, org: &str, project: &str, agent: &str, call: &str, data: Value) -> Self {
        NewEvent {
            event,
            org_id: org.to_owned(),
            project_id: Some(project.to_owned()),
            agent_id: Some(agent.to_owned()),
            call_id: Some(call.to_owned()),
            data,
        }
    }
}

/// Writes `event` to the outbox inside the caller's write transaction and
/// returns its `whe_` id. The envelope is serialised once, here, so every
/// delivery and every retry sends the same bytes.
pub(crate) async fn insert_event(tx: &mut Tx, now_ms: i64, event: &NewEvent) -> Result<String> {
    let mut ids = insert_events(tx, now_ms, &[event]).await?;
    ids.pop().ok_or_else(|| crate::Error::Corrupt("no event id".into()))
}

/// Writes `events` to the outbox in a few statements, ids in the order given.
pub(crate) async fn insert_events(tx: &mut Tx, now_ms: i64, events: &[&NewEvent]) -> Result<Vec<String>> {
    let mut ids = Vec::with_capacity(events.len());
    for chunk in events.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO events (id, org_id, project_id, agent_id, call_id, event, payload, created_at, dispatched) \
             VALUES {}",
            placeholder_rows(chunk.len(), 9)
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for event in chunk {
            let id = IdKind::WebhookEvent.new_id();
            let scope = EventScope {
                org_id: &event.org_id,
                project_id: event.project_id.as_deref(),
                agent_id: event.agent_id.as_deref(),
            };
            let envelope = Envelope::new(id.clone(), event.event, iso(now_ms), scope, event.data.clone());
            let payload = serde_json::to_string(&envelope).map_err(|e| crate::Error::Corrupt(e.to_string()))?;
            query = query
                .bind(id.clone())
                .bind(event.org_id.clone())
                .bind(event.project_id.clone())
                .bind(event.agent_id.clone())
                .bind(event.call_id.clone())
                .bind(event.event.as_str())
                .bind(payload)
                .bind(now_ms)
                .bind(0_i64);
            ids.push(id);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(ids)
}

/// Which level an endpoint belongs to; its id is a `wh_`, `proj_` or `agent_` id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointKind {
    Org,
    Project,
    Agent,
}

impl EndpointKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            EndpointKind::Org => "org",
            EndpointKind::Project => "project",
            EndpointKind::Agent => "agent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [EndpointKind::Org, EndpointKind::Project, EndpointKind::Agent].into_iter().find(|k| k.as_str() == s)
    }
}

/// An endpoint an event goes to.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub kind: EndpointKind,
    pub id: String,
    pub url: String,
}

/// A recorded event, as the outbox holds it.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub id: String,
    pub org_id: String,
    pub project_id: Option<String>,
    pub agent_id: Option<String>,
    pub call_id: Option<String>,
    pub event: String,
    pub payload: String,
    pub created_at: i64,
}

fn event_row(row: &sqlx::any::AnyRow) -> Result<EventRow> {
    Ok(EventRow {
        id: text(row, "id")?,
        org_id: text(row, "org_id")?,
        project_id: opt_text(row, "project_id")?,
        agent_id: opt_text(row, "agent_id")?,
        call_id: opt_text(row, "call_id")?,
        event: text(row, "event")?,
        payload: text(row, "payload")?,
        created_at: crate::rows::int(row, "created_at")?,
    })
}

const EVENT_COLUMNS: &str = "id, org_id, project_id, agent_id, call_id, event, payload, created_at";

impl Store {
    /// Records an event on its own (when no other state changes with it).
    pub async fn emit_event(&self, event: NewEvent) -> Result<String> {
        let mut tx = self.begin_write().await?;
        let id = insert_event(&mut tx, self.now(), &event).await?;
        tx.commit().await?;
        self.wake_outbox();
        Ok(id)
    }

    /// Tells the webhook worker that new events are committed.
    pub(crate) fn wake_outbox(&self) {
        self.outbox.notify_one();
    }

    /// Resolves when an event has been committed since the last call (or at once
    /// if one was committed while nobody waited).
    pub async fn outbox_woken(&self) {
        self.outbox.notified().await;
    }

    /// One event of the org.
    pub async fn event(&self, org_id: &str, id: &str) -> Result<EventRow> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE org_id = $1 AND id = $2");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(org_id).bind(id).fetch_optional(&self.pool).await?;
        event_row(&row.ok_or(crate::Error::NotFound)?)
    }

    /// Creates delivery jobs for up to `limit` undispatched events, oldest first,
    /// and marks them dispatched. Returns how many events were handled.
    pub async fn dispatch_events(&self, limit: i64) -> Result<usize> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let lock = if self.backend == Backend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
        let sql =
            format!("SELECT {EVENT_COLUMNS} FROM events WHERE dispatched = 0 ORDER BY created_at, id LIMIT $1{lock}");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(limit).fetch_all(&mut *tx).await?;
        let events = rows.iter().map(event_row).collect::<Result<Vec<_>>>()?;
        let mut endpoints = Endpoints::default();
        let mut jobs = Vec::new();
        for event in &events {
            if let Some(kind) = EventType::parse(&event.event) {
                for target in endpoints.targets(&mut tx, event, kind).await? {
                    jobs.push((event, target));
                }
            }
        }
        for chunk in jobs.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS}) VALUES {}",
                placeholder_rows(chunk.len(), DELIVERY_BINDS)
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for (event, target) in chunk {
                query =
                    bind_delivery(query, IdKind::WebhookDelivery.new_id(), &event.id, &event.org_id, target, 0, now);
            }
            query.execute(&mut *tx).await?;
        }
        if !events.is_empty() {
            let placeholders: Vec<String> = (1..=events.len()).map(|n| format!("${n}")).collect();
            let sql = format!("UPDATE events SET dispatched = 1 WHERE id IN ({})", placeholders.join(", "));
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for event in &events {
                query = query.bind(&event.id);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(events.len())
    }
}

/// An endpoint as fan-out sees it: id, URL and subscription (`None`: everything).
type Endpoint = (String, String, Option<Vec<String>>);

/// The endpoints of each level, read once per dispatch batch.
#[derive(Default)]
struct Endpoints {
    /// An org's webhooks, each with the project it is limited to, if any.
    orgs: HashMap<String, Vec<(Option<String>, Endpoint)>>,
    projects: HashMap<String, Option<Endpoint>>,
    agents: HashMap<String, Option<Endpoint>>,
}

impl Endpoints {
    /// Every enabled endpoint of every level that subscribes to `event`.
    async fn targets(&mut self, tx: &mut Tx, event: &EventRow, kind: EventType) -> Result<Vec<Target>> {
        let mut out = Vec::new();
        if !kind.subscribable() {
            return Ok(out);
        }
        if !self.orgs.contains_key(&event.org_id) {
            let rows = sqlx::query(
                "SELECT id, project_id, url, events FROM webhooks WHERE org_id = $1 AND enabled = 1 ORDER BY id",
            )
            .bind(&event.org_id)
            .fetch_all(&mut **tx)
            .await?;
            let hooks = rows
                .iter()
                .map(|row| {
                    let endpoint = (text(row, "id")?, text(row, "url")?, Some(json::<Vec<String>>(row, "events")?));
                    Ok((opt_text(row, "project_id")?, endpoint))
                })
                .collect::<Result<Vec<_>>>()?;
            self.orgs.insert(event.org_id.clone(), hooks);
        }
        // A project's webhook receives only that project's events.
        let org_hooks = self
            .orgs
            .get(&event.org_id)
            .into_iter()
            .flatten()
            .filter(|(project, _)| project.is_none() || *project == event.project_id)
            .map(|(_, hook)| hook);
        let mut add = |level: EndpointKind, (id, url, events): &Endpoint| {
            if events.as_ref().is_none_or(|events| subscribed(events, kind)) {
                out.push(Target { kind: level, id: id.clone(), url: url.clone() });
            }
        };
        for hook in org_hooks {
            add(EndpointKind::Org, hook);
        }
        if let Some(project) = &event.project_id {
            if !self.projects.contains_key(project) {
                let row = sqlx::query(
                    "SELECT webhook_url, webhook_events FROM projects \
                     WHERE id = $1 AND org_id = $2 AND webhook_enabled = 1 AND webhook_url IS NOT NULL",
                )
                .bind(project)
                .bind(&event.org_id)
                .fetch_optional(&mut **tx)
                .await?;
                let hook = row
                    .map(|r| {
                        Ok::<_, crate::Error>((
                            project.clone(),
                            text(&r, "webhook_url")?,
                            Some(json(&r, "webhook_events")?),
                        ))
                    })
                    .transpose()?;
                self.projects.insert(project.clone(), hook);
            }
            if let Some(Some(hook)) = self.projects.get(project) {
                add(EndpointKind::Project, hook);
            }
        }
        if let Some(agent) = &event.agent_id {
            if !self.agents.contains_key(agent) {
                let row = sqlx::query(
                    "SELECT webhook_url FROM agents WHERE id = $1 AND org_id = $2 AND webhook_url IS NOT NULL \
                     AND webhook_disabled_reason IS NULL",
                )
                .bind(agent)
                .bind(&event.org_id)
                .fetch_optional(&mut **tx)
                .await?;
                let hook =
                    row.map(|r| Ok::<_, crate::Error>((agent.clone(), text(&r, "webhook_url")?, None))).transpose()?;
                self.agents.insert(agent.clone(), hook);
            }
            if let Some(Some(hook)) = self.agents.get(agent) {
                add(EndpointKind::Agent, hook);
            }
        }
        Ok(out)
    }
}

const DELIVERY_COLUMNS: &str = "id, event_id, org_id, endpoint_kind, endpoint_id, url, state, attempts, \
     next_attempt_at, locked_until, created_at, updated_at";
const DELIVERY_BINDS: usize = 12;

/// Binds one new job `id` of [`DELIVERY_COLUMNS`], due `now`.
fn bind_delivery<'q>(
    query: AnyQuery<'q>,
    id: String,
    event_id: &'q str,
    org_id: &'q str,
    target: &'q Target,
    attempts: i64,
    now: i64,
) -> AnyQuery<'q> {
    query
        .bind(id)
        .bind(event_id)
        .bind(org_id)
        .bind(target.kind.as_str())
        .bind(&target.id)
        .bind(&target.url)
        .bind("pending")
        .bind(attempts)
        .bind(now)
        .bind(None::<i64>)
        .bind(now)
        .bind(now)
}

/// Queues one delivery job, due now. `attempts` is how many attempts the
/// (event, endpoint) pair already had, so a redelivery continues the count.
pub(crate) async fn insert_delivery(
    tx: &mut Tx,
    event_id: &str,
    org_id: &str,
    target: &Target,
    attempts: i64,
    now: i64,
) -> Result<String> {
    let id = IdKind::WebhookDelivery.new_id();
    let sql =
        format!("INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS}) VALUES {}", placeholder_rows(1, DELIVERY_BINDS));
    let query = sqlx::query(AssertSqlSafe(sql));
    bind_delivery(query, id.clone(), event_id, org_id, target, attempts, now).execute(&mut **tx).await?;
    Ok(id)
}
