//! Knowledge bases of an org: the rows, their CRUD, and the `source_url`
//! rules of a change. Entries, refresh jobs and full-text search live in the
//! submodules. Knowledge bases are org-wide: every query takes the org id.

mod entries;
mod refresh;
mod search;

use serde_json::json;
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use switchboard_domain::ids::IdKind;
use switchboard_domain::knowledge::refresh::{RefreshKind, RefreshStatus, next_crawl_at};
use switchboard_domain::knowledge::settings::{CrawlFrequency, KnowledgeBaseSettings, SourceChange, source_change};
use switchboard_domain::validation::FieldErrors;

pub use entries::{EntryRefusal, EntryRow};
pub use refresh::{CrawlJob, RefreshRefusal, UploadJob};
pub use search::SearchHit;

use crate::rows::{flag, int, opt_int, opt_text, text};
use crate::{Error, Result, Store};

pub(crate) type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// A knowledge base as stored, with its entry count.
#[derive(Debug, Clone)]
pub struct KnowledgeBaseRow {
    pub id: String,
    pub org_id: String,
    pub settings: KnowledgeBaseSettings,
    /// Always `active` (reserved, Staffify §6.1).
    pub status: String,
    pub last_crawled_at: Option<i64>,
    pub last_refresh_status: RefreshStatus,
    pub last_refresh_error: Option<String>,
    pub refresh_kind: Option<RefreshKind>,
    pub refresh_generation: i64,
    pub consecutive_failures: i64,
    pub next_crawl_at: Option<i64>,
    pub entry_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const KB_COLUMNS: &str = "kb.id, kb.org_id, kb.name, kb.description, kb.status, kb.source_url, kb.crawl_frequency, \
    kb.auto_refresh_enabled, kb.max_depth, kb.max_pages, kb.last_crawled_at, kb.last_refresh_status, \
    kb.last_refresh_error, kb.refresh_kind, kb.refresh_generation, kb.consecutive_failures, kb.next_crawl_at, \
    kb.created_at, kb.updated_at, \
    (SELECT COUNT(*) FROM knowledge_entries e WHERE e.knowledge_base_id = kb.id) AS entry_count";

fn corrupt(what: &str, value: &str) -> Error {
    Error::Corrupt(format!("{what} {value}"))
}

impl KnowledgeBaseRow {
    fn from_row(row: &AnyRow) -> Result<Self> {
        let frequency = text(row, "crawl_frequency")?;
        let refresh = text(row, "last_refresh_status")?;
        let kind = opt_text(row, "refresh_kind")?;
        Ok(KnowledgeBaseRow {
            id: text(row, "id")?,
            org_id: text(row, "org_id")?,
            settings: KnowledgeBaseSettings {
                name: text(row, "name")?,
                description: opt_text(row, "description")?,
                source_url: opt_text(row, "source_url")?,
                crawl_frequency: CrawlFrequency::parse(&frequency)
                    .ok_or_else(|| corrupt("crawl_frequency", &frequency))?,
                auto_refresh_enabled: flag(row, "auto_refresh_enabled")?,
                max_depth: int(row, "max_depth")?,
                max_pages: int(row, "max_pages")?,
            },
            status: text(row, "status")?,
            last_crawled_at: opt_int(row, "last_crawled_at")?,
            last_refresh_status: RefreshStatus::parse(&refresh).ok_or_else(|| corrupt("refresh status", &refresh))?,
            last_refresh_error: opt_text(row, "last_refresh_error")?,
            refresh_kind: kind
                .as_deref()
                .map(|k| RefreshKind::parse(k).ok_or_else(|| corrupt("refresh kind", k)))
                .transpose()?,
            refresh_generation: int(row, "refresh_generation")?,
            consecutive_failures: int(row, "consecutive_failures")?,
            next_crawl_at: opt_int(row, "next_crawl_at")?,
            entry_count: int(row, "entry_count")?,
            created_at: int(row, "created_at")?,
            updated_at: int(row, "updated_at")?,
        })
    }
}

/// The knowledge base `id` of the org, read inside a transaction.
pub(crate) async fn kb_in(tx: &mut Tx, org_id: &str, id: &str) -> Result<KnowledgeBaseRow> {
    let sql = format!("SELECT {KB_COLUMNS} FROM knowledge_bases kb WHERE kb.org_id = $1 AND kb.id = $2");
    let row = sqlx::query(AssertSqlSafe(sql)).bind(org_id).bind(id).fetch_optional(&mut **tx).await?;
    KnowledgeBaseRow::from_row(&row.ok_or(Error::NotFound)?)
}

/// Writes the settings of a knowledge base (not its refresh state).
async fn write_settings(tx: &mut Tx, org_id: &str, id: &str, s: &KnowledgeBaseSettings, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE knowledge_bases SET name = $1, description = $2, source_url = $3, crawl_frequency = $4, \
         auto_refresh_enabled = $5, max_depth = $6, max_pages = $7, updated_at = $8 WHERE org_id = $9 AND id = $10",
    )
    .bind(&s.name)
    .bind(s.description.as_deref())
    .bind(s.source_url.as_deref())
    .bind(s.crawl_frequency.as_str())
    .bind(i64::from(s.auto_refresh_enabled))
    .bind(s.max_depth)
    .bind(s.max_pages)
    .bind(now)
    .bind(org_id)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// A page of the org's knowledge bases, newest first, one row more than
    /// `limit` so the caller can tell if more exist.
    pub async fn knowledge_bases(
        &self,
        org_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<KnowledgeBaseRow>> {
        let sql = format!(
            "SELECT {KB_COLUMNS} FROM knowledge_bases kb WHERE kb.org_id = $1 AND ($2 = '' OR kb.id < $2) \
             ORDER BY kb.id DESC LIMIT $3"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(org_id)
            .bind(after.unwrap_or(""))
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(KnowledgeBaseRow::from_row).collect()
    }

    pub async fn knowledge_base(&self, org_id: &str, id: &str) -> Result<KnowledgeBaseRow> {
        let sql = format!("SELECT {KB_COLUMNS} FROM knowledge_bases kb WHERE kb.org_id = $1 AND kb.id = $2");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(org_id).bind(id).fetch_optional(&self.pool).await?;
        KnowledgeBaseRow::from_row(&row.ok_or(Error::NotFound)?)
    }

    /// The ids in `ids` that are no knowledge base of this org.
    pub async fn missing_knowledge_bases(&self, org_id: &str, ids: &[String]) -> Result<Vec<String>> {
        let mut missing = Vec::new();
        for id in ids {
            let found = sqlx::query("SELECT id FROM knowledge_bases WHERE org_id = $1 AND id = $2")
                .bind(org_id)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
            if found.is_none() && !missing.contains(id) {
                missing.push(id.clone());
            }
        }
        Ok(missing)
    }

    /// Creates a knowledge base; with a `source_url` its first crawl is queued.
    pub async fn create_knowledge_base(&self, org_id: &str, s: &KnowledgeBaseSettings) -> Result<KnowledgeBaseRow> {
        let now = self.now();
        let id = IdKind::KnowledgeBase.new_id();
        let (refresh, kind) = match s.source_url {
            Some(_) => (RefreshStatus::Crawling, Some(RefreshKind::Crawl.as_str())),
            None => (RefreshStatus::Idle, None),
        };
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO knowledge_bases (id, org_id, name, description, status, source_url, crawl_frequency, \
             auto_refresh_enabled, max_depth, max_pages, last_crawled_at, last_refresh_status, last_refresh_error, \
             refresh_kind, refresh_generation, refresh_lease_until, consecutive_failures, next_crawl_at, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, 'active', $5, $6, $7, $8, $9, NULL, $10, NULL, $11, 1, NULL, 0, \
             NULL, $12, $12)",
        )
        .bind(&id)
        .bind(org_id)
        .bind(&s.name)
        .bind(s.description.as_deref())
        .bind(s.source_url.as_deref())
        .bind(s.crawl_frequency.as_str())
        .bind(i64::from(s.auto_refresh_enabled))
        .bind(s.max_depth)
        .bind(s.max_pages)
        .bind(refresh.as_str())
        .bind(kind)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let row = kb_in(&mut tx, org_id, &id).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Applies `change` to the settings under the write lock; `change` may
    /// refuse. A new `source_url` follows Staffify §6.3: a different URL
    /// deletes the crawled entries and queues a fresh crawl (any running one
    /// is superseded), `null` removes the source and the status becomes
    /// `idle`, the same URL changes nothing.
    pub async fn update_knowledge_base(
        &self,
        org_id: &str,
        id: &str,
        change: impl FnOnce(&KnowledgeBaseSettings) -> Result<KnowledgeBaseSettings, FieldErrors>,
    ) -> Result<Result<KnowledgeBaseRow, FieldErrors>> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let current = kb_in(&mut tx, org_id, id).await?;
        let next = match change(&current.settings) {
            Ok(next) => next,
            Err(errors) => return Ok(Err(errors)),
        };
        if next == current.settings {
            return Ok(Ok(current));
        }
        write_settings(&mut tx, org_id, id, &next, now).await?;
        match source_change(current.settings.source_url.as_deref(), next.source_url.as_deref()) {
            SourceChange::Unchanged => {
                if next.crawl_frequency != current.settings.crawl_frequency {
                    let from = current.last_crawled_at.unwrap_or(now);
                    sqlx::query(
                        "UPDATE knowledge_bases SET next_crawl_at = $1 WHERE id = $2 AND next_crawl_at IS NOT NULL",
                    )
                    .bind(next_crawl_at(next.crawl_frequency, from))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            SourceChange::Replaced => {
                entries::delete_by_origin(&mut tx, id, "crawl").await?;
                sqlx::query(
                    "UPDATE knowledge_bases SET last_refresh_status = 'crawling', refresh_kind = 'crawl', \
                     refresh_generation = refresh_generation + 1, refresh_lease_until = NULL, \
                     last_refresh_error = NULL, consecutive_failures = 0, next_crawl_at = NULL WHERE id = $1",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            SourceChange::Removed => {
                sqlx::query(
                    "UPDATE knowledge_bases SET last_refresh_status = 'idle', refresh_kind = NULL, \
                     refresh_generation = refresh_generation + 1, refresh_lease_until = NULL, \
                     last_refresh_error = NULL, consecutive_failures = 0, next_crawl_at = NULL WHERE id = $1",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
        }
        let row = kb_in(&mut tx, org_id, id).await?;
        tx.commit().await?;
        Ok(Ok(row))
    }

    /// Deletes a knowledge base with its entries and detaches it from every
    /// agent of the org (recorded in each agent's audit log).
    pub async fn delete_knowledge_base(&self, org_id: &str, id: &str, key_id: Option<&str>) -> Result<()> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        kb_in(&mut tx, org_id, id).await?;
        sqlx::query("DELETE FROM knowledge_entries WHERE knowledge_base_id = $1").bind(id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM knowledge_bases WHERE org_id = $1 AND id = $2")
            .bind(org_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        detach_from_agents(&mut tx, org_id, id, key_id, now).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Removes a deleted knowledge base from the `knowledge_base_ids` of the
/// org's agents.
async fn detach_from_agents(tx: &mut Tx, org_id: &str, kb_id: &str, key_id: Option<&str>, now: i64) -> Result<()> {
    let pattern = format!("%\"{kb_id}\"%");
    let rows = sqlx::query(
        "SELECT id, project_id, knowledge_base_ids FROM agents WHERE org_id = $1 AND knowledge_base_ids LIKE $2",
    )
    .bind(org_id)
    .bind(&pattern)
    .fetch_all(&mut **tx)
    .await?;
    for row in rows {
        let (agent_id, project_id) = (text(&row, "id")?, text(&row, "project_id")?);
        let before: Vec<String> = crate::rows::json(&row, "knowledge_base_ids")?;
        let after: Vec<String> = before.iter().filter(|k| *k != kb_id).cloned().collect();
        sqlx::query("UPDATE agents SET knowledge_base_ids = $1, updated_at = $2 WHERE id = $3")
            .bind(crate::rows::to_json(&after))
            .bind(now)
            .bind(&agent_id)
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "INSERT INTO agent_audit (id, agent_id, project_id, key_id, action, changes, created_at) \
             VALUES ($1, $2, $3, $4, 'updated', $5, $6)",
        )
        .bind(IdKind::AuditEntry.new_id())
        .bind(&agent_id)
        .bind(&project_id)
        .bind(key_id)
        .bind(json!({"knowledge_base_ids": {"from": before, "to": after}}).to_string())
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
