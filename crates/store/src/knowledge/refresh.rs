//! Refreshes of a knowledge base — website crawls and document uploads — as
//! jobs on the knowledge-base row: queued (`crawling` with no live lease),
//! claimed by one worker under a lease, and finished in one transaction
//! together with their entries and their `knowledge_base.*` event. Every
//! refresh has a generation number; a crawl whose generation was superseded
//! (the `source_url` changed meanwhile) writes nothing.

use serde_json::json;
use sqlx::any::AnyRow;
use switchboard_domain::events::EventType;
use switchboard_domain::knowledge::entries::{EntryContent, EntryOrigin};
use switchboard_domain::knowledge::refresh::{RefreshKind, RefreshStatus, disables_auto_refresh, next_crawl_at};

use super::entries::{delete_by_origin, entry_count, insert_drafts};
use super::{KnowledgeBaseRow, Tx, kb_in};
use crate::events::{NewEvent, insert_event};
use crate::rows::{int, text};
use crate::{Error, Result, Store};

/// A crawl a worker has claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrawlJob {
    pub kb_id: String,
    pub org_id: String,
    pub generation: i64,
    pub source_url: String,
    pub max_depth: i64,
    pub max_pages: i64,
}

/// A document upload being parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadJob {
    pub kb_id: String,
    pub org_id: String,
    pub generation: i64,
}

/// Why a refresh was not started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshRefusal {
    /// There is no `source_url` to crawl.
    NoSource,
    /// A crawl or an upload is running (`last_refresh_status: crawling`).
    InProgress,
}

/// The `knowledge_base.*` event of an org-wide knowledge base.
fn kb_event(event: EventType, org_id: &str, data: serde_json::Value) -> NewEvent {
    NewEvent { event, org_id: org_id.to_owned(), project_id: None, agent_id: None, call_id: None, data }
}

/// Sets the refresh state to a queued or running refresh of `kind`, with a
/// new generation; returns it.
async fn begin_refresh(tx: &mut Tx, id: &str, kind: RefreshKind, lease_until: Option<i64>, now: i64) -> Result<i64> {
    let row = sqlx::query(
        "UPDATE knowledge_bases SET last_refresh_status = 'crawling', refresh_kind = $1, \
         refresh_generation = refresh_generation + 1, refresh_lease_until = $2, last_refresh_error = NULL, \
         updated_at = $3 WHERE id = $4 RETURNING refresh_generation",
    )
    .bind(kind.as_str())
    .bind(lease_until)
    .bind(now)
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    int(&row, "refresh_generation")
}

/// Ends the running refresh with `status`.
async fn end_refresh(tx: &mut Tx, id: &str, status: RefreshStatus, error: Option<&str>, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE knowledge_bases SET last_refresh_status = $1, last_refresh_error = $2, refresh_kind = NULL, \
         refresh_lease_until = NULL, updated_at = $3 WHERE id = $4",
    )
    .bind(status.as_str())
    .bind(error)
    .bind(now)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn crawl_job(row: &AnyRow) -> Result<CrawlJob> {
    Ok(CrawlJob {
        kb_id: text(row, "id")?,
        org_id: text(row, "org_id")?,
        generation: int(row, "refresh_generation")?,
        source_url: text(row, "source_url")?,
        max_depth: int(row, "max_depth")?,
        max_pages: int(row, "max_pages")?,
    })
}

impl Store {
    /// `POST /refresh`: queues a crawl of the `source_url`.
    pub async fn request_crawl(&self, org_id: &str, id: &str) -> Result<Result<KnowledgeBaseRow, RefreshRefusal>> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let current = kb_in(&mut tx, org_id, id).await?;
        if current.settings.source_url.is_none() {
            return Ok(Err(RefreshRefusal::NoSource));
        }
        if current.last_refresh_status == RefreshStatus::Crawling {
            return Ok(Err(RefreshRefusal::InProgress));
        }
        begin_refresh(&mut tx, id, RefreshKind::Crawl, None, now).await?;
        let row = kb_in(&mut tx, org_id, id).await?;
        tx.commit().await?;
        Ok(Ok(row))
    }

    /// Marks an upload as running, held for `lease_ms` (after which an
    /// unfinished upload counts as interrupted).
    pub async fn start_upload(
        &self,
        org_id: &str,
        id: &str,
        lease_ms: i64,
    ) -> Result<Result<(KnowledgeBaseRow, UploadJob), RefreshRefusal>> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let current = kb_in(&mut tx, org_id, id).await?;
        if current.last_refresh_status == RefreshStatus::Crawling {
            return Ok(Err(RefreshRefusal::InProgress));
        }
        let generation = begin_refresh(&mut tx, id, RefreshKind::Upload, Some(now + lease_ms), now).await?;
        let row = kb_in(&mut tx, org_id, id).await?;
        tx.commit().await?;
        let job = UploadJob { kb_id: id.to_owned(), org_id: org_id.to_owned(), generation };
        Ok(Ok((row, job)))
    }

    /// Stores what an upload produced: its entries replace those of an earlier
    /// upload of the same file. The refresh status (and the event) follow
    /// only while no newer refresh started.
    pub async fn finish_upload(
        &self,
        job: &UploadJob,
        file_name: &str,
        outcome: Result<Vec<EntryContent>, String>,
    ) -> Result<()> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let current = match kb_in(&mut tx, &job.org_id, &job.kb_id).await {
            Ok(row) => row,
            Err(Error::NotFound) => return Ok(()),
            Err(other) => return Err(other),
        };
        if let Ok(drafts) = &outcome {
            sqlx::query(
                "DELETE FROM knowledge_entries WHERE knowledge_base_id = $1 AND origin = 'upload' AND source = $2",
            )
            .bind(&job.kb_id)
            .bind(file_name)
            .execute(&mut *tx)
            .await?;
            insert_drafts(&mut tx, &job.org_id, &job.kb_id, drafts, EntryOrigin::Upload, now).await?;
        }
        let own = current.refresh_generation == job.generation
            && current.last_refresh_status == RefreshStatus::Crawling
            && current.refresh_kind == Some(RefreshKind::Upload);
        let mut emitted = false;
        if own {
            let event = match &outcome {
                Ok(_) => {
                    end_refresh(&mut tx, &job.kb_id, RefreshStatus::Done, None, now).await?;
                    let count = entry_count(&mut tx, &job.kb_id).await?;
                    json!({"knowledge_base_id": job.kb_id, "entry_count": count})
                }
                Err(error) => {
                    end_refresh(&mut tx, &job.kb_id, RefreshStatus::Failed, Some(error), now).await?;
                    json!({"knowledge_base_id": job.kb_id, "error": error})
                }
            };
            let kind =
                if outcome.is_ok() { EventType::KnowledgeBaseRefreshed } else { EventType::KnowledgeBaseRefreshFailed };
            insert_event(&mut tx, now, &kb_event(kind, &job.org_id, event)).await?;
            emitted = true;
        }
        tx.commit().await?;
        if emitted {
            self.wake_outbox();
        }
        Ok(())
    }

    /// Claims the oldest queued crawl (or one whose worker's lease ran out),
    /// leasing it until `now + lease_ms`.
    pub async fn claim_crawl(&self, lease_ms: i64) -> Result<Option<CrawlJob>> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "SELECT id, org_id, refresh_generation, source_url, max_depth, max_pages FROM knowledge_bases \
             WHERE last_refresh_status = 'crawling' AND refresh_kind = 'crawl' AND source_url IS NOT NULL \
             AND (refresh_lease_until IS NULL OR refresh_lease_until < $1) ORDER BY updated_at LIMIT 1",
        )
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let job = crawl_job(&row)?;
        let claimed = sqlx::query(
            "UPDATE knowledge_bases SET refresh_lease_until = $1 WHERE id = $2 AND refresh_generation = $3 \
             AND last_refresh_status = 'crawling' AND (refresh_lease_until IS NULL OR refresh_lease_until < $4)",
        )
        .bind(now + lease_ms)
        .bind(&job.kb_id)
        .bind(job.generation)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((claimed.rows_affected() == 1).then_some(job))
    }

    /// Stores a crawl's outcome with its event. Success replaces the crawled
    /// entries (manual corrections win over pages saying the same); failure
    /// keeps them, counts the failure, and after
    /// [`AUTO_DISABLE_AFTER_FAILURES`](switchboard_domain::knowledge::refresh::AUTO_DISABLE_AFTER_FAILURES)
    /// in a row switches auto-refresh off. Returns false when the crawl was
    /// superseded and nothing was written.
    pub async fn finish_crawl(&self, job: &CrawlJob, outcome: Result<Vec<EntryContent>, String>) -> Result<bool> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let current = match kb_in(&mut tx, &job.org_id, &job.kb_id).await {
            Ok(row) => row,
            Err(Error::NotFound) => return Ok(false),
            Err(other) => return Err(other),
        };
        let still_ours = current.refresh_generation == job.generation
            && current.last_refresh_status == RefreshStatus::Crawling
            && current.refresh_kind == Some(RefreshKind::Crawl)
            && current.settings.source_url.as_deref() == Some(job.source_url.as_str());
        if !still_ours {
            return Ok(false);
        }
        let next = next_crawl_at(current.settings.crawl_frequency, now);
        let mut events = Vec::new();
        match outcome {
            Ok(drafts) => {
                delete_by_origin(&mut tx, &job.kb_id, EntryOrigin::Crawl.as_str()).await?;
                insert_drafts(&mut tx, &job.org_id, &job.kb_id, &drafts, EntryOrigin::Crawl, now).await?;
                end_refresh(&mut tx, &job.kb_id, RefreshStatus::Done, None, now).await?;
                sqlx::query(
                    "UPDATE knowledge_bases SET last_crawled_at = $1, consecutive_failures = 0, next_crawl_at = $2 \
                     WHERE id = $3",
                )
                .bind(now)
                .bind(next)
                .bind(&job.kb_id)
                .execute(&mut *tx)
                .await?;
                let count = entry_count(&mut tx, &job.kb_id).await?;
                events.push((
                    EventType::KnowledgeBaseRefreshed,
                    json!({"knowledge_base_id": job.kb_id, "entry_count": count}),
                ));
            }
            Err(error) => {
                let failures = current.consecutive_failures + 1;
                let disable = disables_auto_refresh(failures, current.settings.auto_refresh_enabled);
                end_refresh(&mut tx, &job.kb_id, RefreshStatus::Failed, Some(&error), now).await?;
                sqlx::query(
                    "UPDATE knowledge_bases SET consecutive_failures = $1, next_crawl_at = $2, \
                     auto_refresh_enabled = CASE WHEN $3 = 1 THEN 0 ELSE auto_refresh_enabled END WHERE id = $4",
                )
                .bind(failures)
                .bind(next)
                .bind(i64::from(disable))
                .bind(&job.kb_id)
                .execute(&mut *tx)
                .await?;
                let data = json!({"knowledge_base_id": job.kb_id, "error": error});
                events.push((EventType::KnowledgeBaseRefreshFailed, data.clone()));
                if disable {
                    events.push((EventType::KnowledgeBaseAutoRefreshDisabled, data));
                }
            }
        }
        for (event, data) in events {
            insert_event(&mut tx, now, &kb_event(event, &job.org_id, data)).await?;
        }
        tx.commit().await?;
        self.wake_outbox();
        Ok(true)
    }

    /// Queues the scheduled crawls that are due: auto-refresh on, a source,
    /// nothing running, `next_crawl_at` passed. Returns how many.
    pub async fn queue_due_crawls(&self) -> Result<u64> {
        let now = self.now();
        let done = sqlx::query(
            "UPDATE knowledge_bases SET last_refresh_status = 'crawling', refresh_kind = 'crawl', \
             refresh_generation = refresh_generation + 1, refresh_lease_until = NULL, last_refresh_error = NULL, \
             updated_at = $1 WHERE auto_refresh_enabled = 1 AND source_url IS NOT NULL \
             AND last_refresh_status <> 'crawling' AND next_crawl_at IS NOT NULL AND next_crawl_at <= $1",
        )
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }

    /// Fails uploads whose parsing outlived its lease (the process that held
    /// it stopped); returns how many.
    pub async fn fail_interrupted_uploads(&self) -> Result<usize> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(
            "SELECT id, org_id FROM knowledge_bases WHERE last_refresh_status = 'crawling' AND refresh_kind = 'upload' \
             AND refresh_lease_until < $1",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let error = "Document processing was interrupted; upload the document again.";
        for row in &rows {
            let (id, org_id) = (text(row, "id")?, text(row, "org_id")?);
            end_refresh(&mut tx, &id, RefreshStatus::Failed, Some(error), now).await?;
            let data = json!({"knowledge_base_id": id, "error": error});
            insert_event(&mut tx, now, &kb_event(EventType::KnowledgeBaseRefreshFailed, &org_id, data)).await?;
        }
        tx.commit().await?;
        if !rows.is_empty() {
            self.wake_outbox();
        }
        Ok(rows.len())
    }
}
