//! Entries of a knowledge base: CRUD, and the bulk writes of crawls and
//! uploads. Every entry also stores its text normalised for full-text search.

use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use switchboard_domain::ids::IdKind;
use switchboard_domain::knowledge::entries::{EntryContent, EntryOrigin, MAX_ENTRIES_PER_KB};
use switchboard_domain::knowledge::normalize::index_text;
use switchboard_domain::validation::FieldErrors;

use super::{Tx, kb_in};
use crate::rows::{int, opt_text, text};
use crate::{Error, Result, Store};

/// An entry as stored.
#[derive(Debug, Clone)]
pub struct EntryRow {
    pub id: String,
    pub knowledge_base_id: String,
    pub content: EntryContent,
    pub origin: EntryOrigin,
    pub created_at: i64,
    pub updated_at: i64,
}

pub(crate) const ENTRY_COLUMNS: &str =
    "e.id, e.knowledge_base_id, e.question, e.answer, e.source, e.origin, e.created_at, e.updated_at";

impl EntryRow {
    pub(crate) fn from_row(row: &AnyRow) -> Result<Self> {
        let origin = text(row, "origin")?;
        Ok(EntryRow {
            id: text(row, "id")?,
            knowledge_base_id: text(row, "knowledge_base_id")?,
            content: EntryContent {
                question: text(row, "question")?,
                answer: text(row, "answer")?,
                source: opt_text(row, "source")?,
            },
            origin: EntryOrigin::parse(&origin).ok_or_else(|| Error::Corrupt(format!("origin {origin}")))?,
            created_at: int(row, "created_at")?,
            updated_at: int(row, "updated_at")?,
        })
    }
}

/// Inserts one entry; returns its id.
pub(crate) async fn insert_entry(
    tx: &mut Tx,
    org_id: &str,
    kb_id: &str,
    content: &EntryContent,
    origin: EntryOrigin,
    now: i64,
) -> Result<String> {
    let id = IdKind::KnowledgeBaseEntry.new_id();
    sqlx::query(
        "INSERT INTO knowledge_entries (id, org_id, knowledge_base_id, question, answer, source, origin, \
         search_question, search_answer, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
    )
    .bind(&id)
    .bind(org_id)
    .bind(kb_id)
    .bind(&content.question)
    .bind(&content.answer)
    .bind(content.source.as_deref())
    .bind(origin.as_str())
    .bind(index_text(&content.question))
    .bind(index_text(&content.answer))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

pub(crate) async fn delete_by_origin(tx: &mut Tx, kb_id: &str, origin: &str) -> Result<u64> {
    let done = sqlx::query("DELETE FROM knowledge_entries WHERE knowledge_base_id = $1 AND origin = $2")
        .bind(kb_id)
        .bind(origin)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected())
}

pub(crate) async fn entry_count(tx: &mut Tx, kb_id: &str) -> Result<i64> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM knowledge_entries WHERE knowledge_base_id = $1")
        .bind(kb_id)
        .fetch_one(&mut **tx)
        .await?;
    int(&row, "n")
}

/// Questions of the knowledge base's manual entries, lower-cased: a refresh
/// skips what a manual entry already answers.
pub(crate) async fn manual_questions(tx: &mut Tx, kb_id: &str) -> Result<Vec<String>> {
    let rows = sqlx::query("SELECT question FROM knowledge_entries WHERE knowledge_base_id = $1 AND origin = 'manual'")
        .bind(kb_id)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(|r| text(r, "question").map(|q| q.trim().to_lowercase())).collect()
}

/// Inserts entries made by a refresh, skipping those a manual entry already
/// answers and stopping at the knowledge base's capacity; returns how many
/// were written.
pub(crate) async fn insert_drafts(
    tx: &mut Tx,
    org_id: &str,
    kb_id: &str,
    drafts: &[EntryContent],
    origin: EntryOrigin,
    now: i64,
) -> Result<usize> {
    let manual = manual_questions(tx, kb_id).await?;
    let room = usize::try_from(MAX_ENTRIES_PER_KB - entry_count(tx, kb_id).await?).unwrap_or(0);
    let mut written = 0;
    for draft in drafts.iter().filter(|d| !manual.contains(&d.question.trim().to_lowercase())).take(room) {
        insert_entry(tx, org_id, kb_id, draft, origin, now).await?;
        written += 1;
    }
    Ok(written)
}

async fn entry_in(tx: &mut Tx, org_id: &str, kb_id: &str, id: &str) -> Result<EntryRow> {
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM knowledge_entries e WHERE e.org_id = $1 AND e.knowledge_base_id = $2 AND e.id = $3"
    );
    let row = sqlx::query(AssertSqlSafe(sql)).bind(org_id).bind(kb_id).bind(id).fetch_optional(&mut **tx).await?;
    EntryRow::from_row(&row.ok_or(Error::NotFound)?)
}

async fn touch_kb(tx: &mut Tx, kb_id: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE knowledge_bases SET updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(kb_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Why an entry was not added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryRefusal {
    /// The knowledge base holds [`MAX_ENTRIES_PER_KB`] entries.
    Full,
}

impl Store {
    /// A page of a knowledge base's entries, newest first (one extra row).
    /// `NotFound` when the org has no such knowledge base.
    pub async fn knowledge_entries(
        &self,
        org_id: &str,
        kb_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<EntryRow>> {
        self.knowledge_base(org_id, kb_id).await?;
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM knowledge_entries e WHERE e.org_id = $1 AND e.knowledge_base_id = $2 \
             AND ($3 = '' OR e.id < $3) ORDER BY e.id DESC LIMIT $4"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(org_id)
            .bind(kb_id)
            .bind(after.unwrap_or(""))
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(EntryRow::from_row).collect()
    }

    pub async fn knowledge_entry(&self, org_id: &str, kb_id: &str, id: &str) -> Result<EntryRow> {
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM knowledge_entries e WHERE e.org_id = $1 AND e.knowledge_base_id = $2 \
             AND e.id = $3"
        );
        let row = sqlx::query(AssertSqlSafe(sql)).bind(org_id).bind(kb_id).bind(id).fetch_optional(&self.pool).await?;
        EntryRow::from_row(&row.ok_or(Error::NotFound)?)
    }

    /// Adds a manual entry.
    pub async fn create_knowledge_entry(
        &self,
        org_id: &str,
        kb_id: &str,
        content: &EntryContent,
    ) -> Result<Result<EntryRow, EntryRefusal>> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        kb_in(&mut tx, org_id, kb_id).await?;
        if entry_count(&mut tx, kb_id).await? >= MAX_ENTRIES_PER_KB {
            return Ok(Err(EntryRefusal::Full));
        }
        let id = insert_entry(&mut tx, org_id, kb_id, content, EntryOrigin::Manual, now).await?;
        touch_kb(&mut tx, kb_id, now).await?;
        let row = entry_in(&mut tx, org_id, kb_id, &id).await?;
        tx.commit().await?;
        Ok(Ok(row))
    }

    /// Applies `change` to an entry's content; an edited crawled or uploaded
    /// entry becomes `manual`, so the next refresh keeps the correction.
    pub async fn update_knowledge_entry(
        &self,
        org_id: &str,
        kb_id: &str,
        id: &str,
        change: impl FnOnce(&EntryContent) -> Result<EntryContent, FieldErrors>,
    ) -> Result<Result<EntryRow, FieldErrors>> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let current = entry_in(&mut tx, org_id, kb_id, id).await?;
        let next = match change(&current.content) {
            Ok(next) => next,
            Err(errors) => return Ok(Err(errors)),
        };
        if next == current.content {
            return Ok(Ok(current));
        }
        sqlx::query(
            "UPDATE knowledge_entries SET question = $1, answer = $2, source = $3, origin = 'manual', \
             search_question = $4, search_answer = $5, updated_at = $6 WHERE org_id = $7 AND id = $8",
        )
        .bind(&next.question)
        .bind(&next.answer)
        .bind(next.source.as_deref())
        .bind(index_text(&next.question))
        .bind(index_text(&next.answer))
        .bind(now)
        .bind(org_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        touch_kb(&mut tx, kb_id, now).await?;
        let row = entry_in(&mut tx, org_id, kb_id, id).await?;
        tx.commit().await?;
        Ok(Ok(row))
    }

    pub async fn delete_knowledge_entry(&self, org_id: &str, kb_id: &str, id: &str) -> Result<()> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        entry_in(&mut tx, org_id, kb_id, id).await?;
        sqlx::query("DELETE FROM knowledge_entries WHERE org_id = $1 AND id = $2")
            .bind(org_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        touch_kb(&mut tx, kb_id, now).await?;
        tx.commit().await?;
        Ok(())
    }
}
