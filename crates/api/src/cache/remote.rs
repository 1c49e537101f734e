//! Invalidations between nodes over Redis pub/sub: this node's notices are
//! queued and published in batches, other nodes' notices are applied as they
//! arrive. A lost subscription drops every cached copy (notices may have been
//! missed) and is re-established with backoff; the TTL bounds what slips through.

use std::sync::Weak;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{ConnectionManager, PubSubStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::ReadCache;
use super::freshness::Scope;
use super::notice::{self, CHANNEL};

/// The longest a write waits for its notices to reach Redis.
const PUBLISH_WAIT: Duration = Duration::from_secs(2);
/// Most notices in one message.
const MAX_BATCH: usize = 256;
const RETRY_FIRST: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(10);

/// This node's end of the link: queues notices for the link's task.
pub struct Remote {
    queue: mpsc::UnboundedSender<Scope>,
    queued: AtomicU64,
    /// How many queued notices the task has published (or given up on).
    published: watch::Receiver<u64>,
}

impl Remote {
    /// Connects, subscribes (so no notice sent after this returns is missed) and
    /// starts the task, which ends when this `Remote` is dropped.
    pub async fn connect(url: &str, cache: Weak<ReadCache>) -> redis::RedisResult<Self> {
        let client = redis::Client::open(url)?;
        let publisher = ConnectionManager::new(client.clone()).await?;
        let incoming = subscribe(&client).await?;
        let (queue, outgoing) = mpsc::unbounded_channel();
        let (done, published) = watch::channel(0);
        let node = format!("node_{}", ulid::Ulid::new().to_string().to_ascii_lowercase());
        let link = Link { node, client, publisher, cache, done, published: 0 };
        tokio::spawn(link.run(outgoing, incoming));
        Ok(Remote { queue, queued: AtomicU64::new(0), published })
    }

    pub fn publish(&self, scope: Scope) {
        self.queued.fetch_add(1, Ordering::SeqCst);
        if self.queue.send(scope).is_err() {
            tracing::warn!("the cache invalidation link is gone; other nodes rely on the TTL");
        }
    }

    /// Waits until every notice queued so far is published (bounded by
    /// [`PUBLISH_WAIT`]). The queue is first in, first out, so once the task has
    /// published as many notices as were queued, the caller's own are among them.
    pub async fn flushed(&self) {
        let target = self.queued.load(Ordering::SeqCst);
        let mut published = self.published.clone();
        if *published.borrow() >= target {
            return;
        }
        let reached = tokio::time::timeout(PUBLISH_WAIT, published.wait_for(|n| *n >= target)).await;
        if !matches!(reached, Ok(Ok(_))) {
            tracing::warn!("cache invalidations not published in time; other nodes rely on the TTL");
        }
    }
}

/// The task's end: publishes this node's notices and applies the others'.
struct Link {
    node: String,
    client: redis::Client,
    publisher: ConnectionManager,
    cache: Weak<ReadCache>,
    done: watch::Sender<u64>,
    published: u64,
}

async fn subscribe(client: &redis::Client) -> redis::RedisResult<PubSubStream> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(CHANNEL).await?;
    Ok(pubsub.into_on_message())
}

/// The next message of a live subscription; never, without one.
async fn next_message(incoming: &mut Option<PubSubStream>) -> Option<redis::Msg> {
    match incoming {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}

impl Link {
    async fn run(mut self, mut outgoing: mpsc::UnboundedReceiver<Scope>, incoming: PubSubStream) {
        let mut incoming = Some(incoming);
        let mut retry = RETRY_FIRST;
        let mut retry_at = Instant::now();
        loop {
            tokio::select! {
                first = outgoing.recv() => match first {
                    Some(first) => self.publish(first, &mut outgoing).await,
                    None => return,
                },
                message = next_message(&mut incoming), if incoming.is_some() => match message {
                    Some(message) => {
                        if !self.apply(&message) {
                            return;
                        }
                    }
                    None => {
                        tracing::warn!("lost the cache invalidation subscription; resubscribing");
                        incoming = None;
                        self.missed_notices();
                        retry = RETRY_FIRST;
                        retry_at = Instant::now() + retry;
                    }
                },
                () = tokio::time::sleep_until(retry_at), if incoming.is_none() => {
                    match subscribe(&self.client).await {
                        Ok(stream) => {
                            incoming = Some(stream);
                            self.missed_notices();
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, "cannot resubscribe to cache invalidations");
                            retry = (retry * 2).min(RETRY_MAX);
                            retry_at = Instant::now() + retry;
                        }
                    }
                }
            }
        }
    }

    /// Publishes `first` and whatever else is already queued, as one message.
    async fn publish(&mut self, first: Scope, outgoing: &mut mpsc::UnboundedReceiver<Scope>) {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match outgoing.try_recv() {
                Ok(scope) => batch.push(scope),
                Err(_) => break,
            }
        }
        let count = batch.len() as u64;
        batch.dedup();
        let message = notice::encode(&self.node, &batch);
        let sent: redis::RedisResult<i64> =
            redis::cmd("PUBLISH").arg(CHANNEL).arg(message).query_async(&mut self.publisher).await;
        if let Err(err) = sent {
            tracing::warn!(error = %err, "cannot publish cache invalidations; other nodes rely on the TTL");
        }
        self.published += count;
        self.done.send_replace(self.published);
    }

    /// Applies another node's notices; `false` once the cache is gone.
    fn apply(&self, message: &redis::Msg) -> bool {
        let Some(cache) = self.cache.upgrade() else { return false };
        let Ok(payload) = message.get_payload::<String>() else { return true };
        match notice::decode(&payload) {
            Some((node, _)) if node == self.node => {}
            Some((_, scopes)) => scopes.iter().for_each(|scope| cache.heard(scope)),
            None => cache.heard(&Scope::All),
        }
        true
    }

    fn missed_notices(&self) {
        if let Some(cache) = self.cache.upgrade() {
            cache.heard(&Scope::All);
        }
    }
}
