//! Full-text search over entries, ranked by each backend's own engine: FTS5
//! with BM25 on SQLite (question weighing 3× the answer), `tsvector` with
//! `ts_rank` on PostgreSQL (question weight A, answer B). The words searched
//! come already normalised by the domain; an entry matches when it holds any.
//! On SQLite the full-text match drives the join (`CROSS JOIN` fixes the
//! order): evaluating the match once per entry of the knowledge base instead
//! is far slower.

use sqlx::AssertSqlSafe;

use super::entries::{ENTRY_COLUMNS, EntryRow};
use crate::rows::{AnyQuery, text};
use crate::{Backend, Result, Store};

/// An entry found, with its text as indexed (normalised words) for scoring.
#[derive(Debug, Clone)]
pub struct SearchHit {
    pub entry: EntryRow,
    pub index_question: String,
    pub index_answer: String,
}

/// `$first, $first+1, …` for `n` values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

impl Store {
    /// The `limit` entries of the org's knowledge bases `kb_ids` that rank
    /// best for `words` (alphanumeric words, as the domain normalises them;
    /// an entry matches when it holds any), in the backend's ranking order.
    pub async fn search_knowledge(
        &self,
        org_id: &str,
        kb_ids: &[String],
        words: &[&str],
        limit: u32,
    ) -> Result<Vec<SearchHit>> {
        let words: Vec<&str> =
            words.iter().copied().filter(|w| !w.is_empty() && w.chars().all(char::is_alphanumeric)).collect();
        if words.is_empty() || kb_ids.is_empty() {
            return Ok(Vec::new());
        }
        let kbs = placeholders(4, kb_ids.len());
        let (sql, query_text) = match self.backend() {
            Backend::Sqlite => (
                format!(
                    "SELECT {ENTRY_COLUMNS}, e.search_question, e.search_answer, \
                     -bm25(knowledge_entries_fts, 3.0, 1.0) AS score \
                     FROM knowledge_entries_fts CROSS JOIN knowledge_entries e ON e.rowid = knowledge_entries_fts.rowid \
                     WHERE knowledge_entries_fts MATCH $1 AND e.org_id = $2 AND e.knowledge_base_id IN ({kbs}) \
                     ORDER BY score DESC, e.id LIMIT $3"
                ),
                words.iter().map(|w| format!("\"{w}\"")).collect::<Vec<_>>().join(" OR "),
            ),
            Backend::Postgres => (
                format!(
                    "SELECT {ENTRY_COLUMNS}, e.search_question, e.search_answer, \
                     ts_rank(e.search_vector, q.query, 1)::float8 AS score \
                     FROM knowledge_entries e, websearch_to_tsquery('english', $1) AS q(query) \
                     WHERE e.search_vector @@ q.query AND e.org_id = $2 AND e.knowledge_base_id IN ({kbs}) \
                     ORDER BY score DESC, e.id LIMIT $3"
                ),
                words.join(" or "),
            ),
        };
        let mut query: AnyQuery<'_> =
            sqlx::query(AssertSqlSafe(sql)).bind(query_text).bind(org_id).bind(i64::from(limit));
        for kb in kb_ids {
            query = query.bind(kb.as_str());
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                Ok(SearchHit {
                    entry: EntryRow::from_row(row)?,
                    index_question: text(row, "search_question")?,
                    index_answer: text(row, "search_answer")?,
                })
            })
            .collect()
    }
}
