//! Knowledge bases at work: the refresh worker that runs queued and
//! scheduled website crawls, the parsing of uploaded documents, and the
//! retrieval both brains and the search endpoint use.

pub mod crawler;
pub mod documents;
pub mod retrieval;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use switchboard_store::Store;
use switchboard_store::knowledge::{CrawlJob, UploadJob};
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

use self::crawler::CrawlLimits;
use self::documents::DocumentKind;
use crate::outbound::OutboundClient;

/// How the knowledge-base worker behaves; from the server's configuration.
#[derive(Debug, Clone)]
pub struct KnowledgeSettings {
    /// How often the worker looks for due scheduled crawls and interrupted
    /// work (queued crawls wake it at once).
    pub poll_interval: Duration,
    /// Longest one crawl may run; it keeps what it found by then.
    pub crawl_timeout: Duration,
    /// Time allowed for each page request.
    pub request_timeout: Duration,
    /// The longest robots.txt `Crawl-delay` honoured between requests.
    pub max_crawl_delay: Duration,
    /// Crawls this node runs at once.
    pub max_concurrent_crawls: usize,
}

impl Default for KnowledgeSettings {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(30),
            crawl_timeout: Duration::from_secs(300),
            request_timeout: Duration::from_secs(10),
            max_crawl_delay: Duration::from_secs(5),
            max_concurrent_crawls: 2,
        }
    }
}

/// How long an upload may take to parse before it counts as failed.
const PARSE_TIMEOUT: Duration = Duration::from_secs(120);
/// An upload's lease: past it, a process that died mid-parse is noticed.
pub const UPLOAD_LEASE: Duration = Duration::from_secs(300);

/// Crawls, uploads and the worker of this node. Cheap to clone.
#[derive(Clone)]
pub struct KnowledgeService {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    outbound: OutboundClient,
    settings: KnowledgeSettings,
    wake: Notify,
}

impl KnowledgeService {
    pub fn new(store: Store, outbound: OutboundClient, settings: KnowledgeSettings) -> Self {
        Self { inner: Arc::new(Inner { store, outbound, settings, wake: Notify::new() }) }
    }

    /// A crawl was queued: the worker looks at once.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Parses an accepted upload in the background and stores its entries.
    pub fn ingest(&self, job: UploadJob, kind: DocumentKind, file_name: String, bytes: Bytes) {
        let store = self.inner.store.clone();
        tokio::spawn(async move {
            let name = file_name.clone();
            let parsing = tokio::task::spawn_blocking(move || documents::parse(kind, &name, &bytes));
            let outcome = match tokio::time::timeout(PARSE_TIMEOUT, parsing).await {
                Ok(Ok(parsed)) => parsed,
                Ok(Err(_)) => Err("The document could not be parsed.".to_owned()),
                Err(_) => Err("The document took too long to parse.".to_owned()),
            };
            if let Err(err) = store.finish_upload(&job, &file_name, outcome).await {
                tracing::error!(knowledge_base_id = job.kb_id, error = %err, "could not store an upload");
            }
        });
    }

    /// Starts the worker: queues due scheduled crawls, fails interrupted
    /// uploads, and runs queued crawls, a few at a time.
    pub fn spawn_worker(&self) -> JoinHandle<()> {
        let service = self.clone();
        tokio::spawn(async move { service.work().await })
    }

    async fn work(self) {
        let settings = &self.inner.settings;
        let store = &self.inner.store;
        let mut crawls = JoinSet::new();
        loop {
            if let Err(err) = store.queue_due_crawls().await {
                tracing::warn!(error = %err, "could not queue scheduled crawls");
            }
            if let Err(err) = store.fail_interrupted_uploads().await {
                tracing::warn!(error = %err, "could not close interrupted uploads");
            }
            while crawls.len() < settings.max_concurrent_crawls.max(1) {
                match store.claim_crawl(lease_ms(settings.crawl_timeout)).await {
                    Ok(Some(job)) => {
                        crawls.spawn(self.clone().run_crawl(job));
                    }
                    Ok(None) => break,
                    Err(err) => {
                        tracing::warn!(error = %err, "could not claim a crawl");
                        break;
                    }
                }
            }
            tokio::select! {
                () = self.inner.wake.notified() => {}
                () = tokio::time::sleep(settings.poll_interval) => {}
                Some(_) = crawls.join_next(), if !crawls.is_empty() => {}
            }
        }
    }

    async fn run_crawl(self, job: CrawlJob) {
        let settings = &self.inner.settings;
        let limits = CrawlLimits {
            max_depth: usize::try_from(job.max_depth).unwrap_or(0),
            max_pages: usize::try_from(job.max_pages).unwrap_or(1),
            request_timeout: settings.request_timeout,
            max_delay: settings.max_crawl_delay,
            deadline: tokio::time::Instant::now() + settings.crawl_timeout,
        };
        let outcome = crawler::crawl(&self.inner.outbound, &job.source_url, &limits).await;
        if let Err(reason) = &outcome {
            tracing::info!(knowledge_base_id = job.kb_id, reason, "crawl failed");
        }
        match self.inner.store.finish_crawl(&job, outcome).await {
            Ok(true) => {}
            Ok(false) => tracing::info!(knowledge_base_id = job.kb_id, "crawl superseded; result dropped"),
            Err(err) => tracing::error!(knowledge_base_id = job.kb_id, error = %err, "could not store a crawl"),
        }
    }
}

/// A crawl's lease: its time limit and a minute to store what it found.
fn lease_ms(crawl_timeout: Duration) -> i64 {
    i64::try_from((crawl_timeout + Duration::from_secs(60)).as_millis()).unwrap_or(i64::MAX)
}
