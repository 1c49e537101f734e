//! The webhook worker: fans committed events out into delivery jobs, sends due
//! jobs through the SSRF-guarded client with both signatures, and records each
//! attempt. Jobs are claimed under a lease, so after a crash (or on another
//! node) unfinished jobs are sent again: delivery is at least once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use http::HeaderName;
use switchboard_domain::webhooks::{AttemptResult, Next, RetryPolicy, after_attempt, parse_retry_after};
use switchboard_store::Store;
use switchboard_store::deliveries::{AttemptRecord, AttemptRow, ClaimedDelivery};
use switchboard_store::webhooks::HookScope;

use crate::outbound::{OutboundClient, signature_headers};

/// `User-Agent` of every delivery.
pub const USER_AGENT: &str = "Switchboard-Webhooks/1.0";
/// Names the event of a delivery.
pub const EVENT_HEADER: &str = "x-switchboard-event";

/// How the worker runs.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub policy: RetryPolicy,
    /// Time allowed for one attempt, response included.
    pub attempt_timeout: Duration,
    /// Deliveries sent at once.
    pub concurrency: usize,
    /// How long a claimed job is reserved for its worker.
    pub lease: Duration,
    /// How often due retries are looked for when nothing wakes the worker.
    pub poll_interval: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            policy: RetryPolicy::default(),
            attempt_timeout: Duration::from_secs(15),
            concurrency: 32,
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_millis(500),
        }
    }
}

/// Sends webhooks. Cheap to clone.
#[derive(Clone)]
pub struct Webhooks {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    client: OutboundClient,
    settings: WorkerSettings,
}

impl Webhooks {
    pub fn new(store: Store, client: OutboundClient, settings: WorkerSettings) -> Self {
        Webhooks { inner: Arc::new(Inner { store, client, settings }) }
    }

    /// Runs the worker until the task is aborted.
    pub fn spawn_worker(&self) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move { this.run().await })
    }

    async fn run(self) {
        let settings = &self.inner.settings;
        loop {
            let busy = match self.round().await {
                Ok(busy) => busy,
                Err(err) => {
                    tracing::warn!(error = %err, "webhook worker round failed");
                    false
                }
            };
            if !busy {
                tokio::select! {
                    () = self.inner.store.outbox_woken() => {}
                    () = tokio::time::sleep(settings.poll_interval) => {}
                }
            }
        }
    }

    /// Dispatches new events and sends one batch of due jobs; true if there
    /// was work (so the next round should follow at once).
    async fn round(&self) -> switchboard_store::Result<bool> {
        let store = &self.inner.store;
        let batch = self.inner.settings.concurrency.max(1) as i64 * 4;
        let dispatched = store.dispatch_events(batch).await?;
        let lease = self.inner.settings.lease.as_millis() as i64;
        let jobs = store.claim_deliveries(batch, lease).await?;
        let sent = jobs.len();
        futures_util::stream::iter(jobs)
            .for_each_concurrent(self.inner.settings.concurrency.max(1), |job| async move {
                if let Err(err) = self.deliver(&job, true).await {
                    tracing::warn!(error = %err, delivery = %job.id, "could not record a webhook attempt");
                }
            })
            .await;
        Ok(dispatched > 0 || sent > 0)
    }

    /// Sends a `webhook.test` event to one org endpoint now and returns the
    /// attempt. It is never retried and never changes the endpoint's health.
    pub async fn send_test(&self, scope: HookScope<'_>, webhook_id: &str) -> switchboard_store::Result<AttemptRow> {
        let job = self.inner.store.queue_test_delivery(scope, webhook_id).await?;
        self.deliver(&job, false).await
    }

    /// Makes one attempt of `job` and records it. With `retry` false the job
    /// ends after this attempt whatever happens.
    async fn deliver(&self, job: &ClaimedDelivery, retry: bool) -> switchboard_store::Result<AttemptRow> {
        let settings = &self.inner.settings;
        let record = match &job.endpoint {
            Err(reason) => AttemptRecord {
                status_code: None,
                error: Some(reason.clone()),
                duration_ms: 0,
                url: String::new(),
                next: Next::Failed,
            },
            Ok((url, secret)) => {
                let (status, retry_after, error, duration_ms) = self.send(job, url, secret).await;
                let now = self.inner.store.clock().now_ms();
                let result = AttemptResult { status, retry_after_ms: retry_after };
                let next = match after_attempt(&settings.policy, job.attempts + 1, result, now, rand::random()) {
                    Next::RetryAt(_) if !retry => Next::Failed,
                    next => next,
                };
                AttemptRecord { status_code: status, error, duration_ms, url: url.clone(), next }
            }
        };
        self.inner.store.record_attempt(job, &record, &settings.policy, retry).await
    }

    /// POSTs the payload; returns status, Retry-After (ms), error and duration.
    async fn send(
        &self,
        job: &ClaimedDelivery,
        url: &str,
        secret: &str,
    ) -> (Option<u16>, Option<i64>, Option<String>, i64) {
        let timestamp = self.inner.store.clock().now_ms() / 1000;
        let body = Bytes::from(job.payload.clone());
        let mut headers = match signature_headers(secret, &job.event_id, timestamp, &body) {
            Ok(headers) => headers,
            Err(err) => return (None, None, Some(err.to_string()), 0),
        };
        headers.push((HeaderName::from_static(EVENT_HEADER), job.event.clone()));
        headers.push((http::header::USER_AGENT, USER_AGENT.to_owned()));
        let started = Instant::now();
        let outcome = self.inner.client.post_json(url, &headers, body, self.inner.settings.attempt_timeout).await;
        let duration_ms = started.elapsed().as_millis() as i64;
        match outcome {
            Ok(resp) => {
                let now = self.inner.store.clock().now_ms();
                let retry_after = resp
                    .headers
                    .get(http::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, now));
                let error = (!resp.is_success()).then(|| format!("HTTP {}", resp.status));
                (Some(resp.status), retry_after, error, duration_ms)
            }
            Err(err) => (None, None, Some(err.to_string()), duration_ms),
        }
    }
}
