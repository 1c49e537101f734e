//! The webhook worker: fans committed events out into delivery jobs, sends due
//! jobs through the SSRF-guarded client with both signatures, and records each
//! attempt. It is a pipeline: it claims jobs whenever it has room, sends them
//! with bounded concurrency overall and per endpoint (in claim order per
//! endpoint, with the next ones claimed while these go out), and a recorder
//! writes the attempts in batches, which sending does not wait for. Jobs are claimed
//! under a lease, so after a crash (or on another node) unfinished jobs are
//! sent again: delivery is at least once.

mod endpoints;
mod recorder;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::HeaderName;
use switchboard_domain::webhooks::{AttemptResult, Next, RetryPolicy, after_attempt, parse_retry_after};
use switchboard_store::Store;
use switchboard_store::deliveries::{AttemptRecord, AttemptRow, ClaimLimits, ClaimedDelivery};
use switchboard_store::webhooks::HookScope;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;

use self::endpoints::Endpoints;
use self::recorder::Attempt;
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
    /// Deliveries sent at once, all endpoints together; twice as many may be
    /// claimed and waiting for their endpoint's turn.
    pub concurrency: usize,
    /// Deliveries sent to one endpoint at once.
    pub per_endpoint: usize,
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
            concurrency: 128,
            per_endpoint: 32,
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_millis(500),
        }
    }
}

/// One claimed job on its way: the worker's slot it holds until its attempt
/// is queued for the recorder, the endpoint share it counts against, and the
/// turns it waits for: its endpoint's, then one of all sends.
struct Outgoing {
    job: ClaimedDelivery,
    slot: OwnedSemaphorePermit,
    turns: Arc<Semaphore>,
    sending: Arc<Semaphore>,
    attempts: mpsc::Sender<Attempt>,
    endpoints: Endpoints,
    freed: Arc<Notify>,
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
        let store = &self.inner.store;
        let settings = &self.inner.settings;
        let capacity = settings.concurrency.max(1);
        let batch = capacity as i64 * 4;
        let lease = settings.lease.as_millis() as i64;
        // While jobs wait, a claim waits until this many more slots are free
        // than the last one left, so a busy worker claims in batches rather
        // than once per sent attempt.
        let step = (capacity / 8).clamp(1, settings.per_endpoint.max(1));
        // Claimed jobs, sending or waiting: a slow endpoint holds at most two
        // shares of them, so it takes as many slow endpoints as before to
        // hold up the rest, while a fast one always has its next share ready.
        let claimable = capacity * endpoints::SHARES_CLAIMED;
        let slots = Arc::new(Semaphore::new(claimable));
        let sending = Arc::new(Semaphore::new(capacity));
        let freed = Arc::new(Notify::new());
        let per_endpoint = settings.per_endpoint.max(1);
        let endpoints = Endpoints::new(per_endpoint);
        let (attempts, recorded) = mpsc::channel(recorder::QUEUE);
        tokio::spawn(recorder::run(store.clone(), settings.policy.clone(), recorded));
        let mut sends = JoinSet::new();
        let mut dispatch_due = true;
        loop {
            while sends.try_join_next().is_some() {}
            if dispatch_due {
                dispatch_due = match store.dispatch_events(batch).await {
                    Ok(n) => n as i64 == batch,
                    Err(err) => {
                        tracing::warn!(error = %err, "could not fan out webhook events");
                        false
                    }
                };
            }
            let out = endpoints.out();
            let limits = ClaimLimits {
                total: slots.available_permits(),
                per_endpoint: per_endpoint * endpoints::SHARES_CLAIMED,
                out: &out,
            };
            let backlog = if limits.total == 0 {
                true
            } else {
                match store.claim_deliveries(&limits, lease).await {
                    Ok(claimed) => {
                        for job in claimed.jobs {
                            let Ok(slot) = slots.clone().try_acquire_owned() else { break };
                            let turns = endpoints.claimed(&job.endpoint_id);
                            let out = Outgoing {
                                job,
                                slot,
                                turns,
                                sending: sending.clone(),
                                attempts: attempts.clone(),
                                endpoints: endpoints.clone(),
                                freed: freed.clone(),
                            };
                            sends.spawn(self.clone().send_claimed(out));
                        }
                        claimed.left_due
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "could not claim webhook deliveries");
                        false
                    }
                }
            };
            if dispatch_due {
                continue;
            }
            if backlog {
                let wanted = slots.available_permits() + step;
                while slots.available_permits() < wanted.min(claimable) && !dispatch_due {
                    tokio::select! {
                        () = freed.notified() => {}
                        () = store.outbox_woken() => dispatch_due = true,
                    }
                }
            } else {
                tokio::select! {
                    () = store.outbox_woken() => {}
                    () = tokio::time::sleep(settings.poll_interval) => {}
                }
                dispatch_due = true;
            }
        }
    }

    /// Makes the attempt of one claimed job when its endpoint has a turn free
    /// and hands it to the recorder, then gives back its slot and its
    /// endpoint's share: the next job of the endpoint goes out while this
    /// attempt waits to be written (the job stays claimed until then, so
    /// nothing else sends it).
    async fn send_claimed(self, out: Outgoing) {
        let Outgoing { job, slot, turns, sending, attempts, endpoints, freed } = out;
        // Neither is ever closed; every job takes its endpoint's turn first.
        let turn = turns.acquire_owned().await.ok();
        let send = sending.acquire_owned().await.ok();
        let record = self.attempt(&job, true).await;
        drop((send, turn));
        let endpoint = job.endpoint_id.clone();
        // The recorder is gone only when the worker is stopping: the job is
        // sent again when its lease runs out.
        attempts.send((job, record)).await.ok();
        endpoints.done(&endpoint);
        drop(slot);
        freed.notify_one();
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
        let record = self.attempt(job, retry).await;
        self.inner.store.record_attempt(job, &record, &self.inner.settings.policy, retry).await
    }

    /// Makes one attempt of `job` and says what follows from it.
    async fn attempt(&self, job: &ClaimedDelivery, retry: bool) -> AttemptRecord {
        let settings = &self.inner.settings;
        match &job.endpoint {
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
        }
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
