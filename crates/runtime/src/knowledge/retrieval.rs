//! Retrieval: a spoken query normalised by the domain, candidates found with
//! the backend's full-text ranking over the knowledge bases asked, then
//! ordered and scored by how much of the query each covers (see
//! `switchboard_domain::knowledge::score`). The search endpoint, the language
//! model's `knowledge_base_search` tool and the embedded brain's direct
//! answers all go through [`search`].

use serde::Serialize;
use serde_json::{Value, json};
use switchboard_domain::knowledge::normalize::{SearchQuery, search_query};
use switchboard_domain::knowledge::score::rank;
use switchboard_store::Store;
use switchboard_store::knowledge::EntryRow;

use crate::llm::ToolSpec;

/// The built-in tool that searches the agent's knowledge bases.
pub const KNOWLEDGE_BASE_SEARCH: &str = "knowledge_base_search";
/// Entries the tool returns unless the model asks for another number (1–10).
pub const TOOL_DEFAULT_RESULTS: u32 = 3;
/// Coverage an entry needs before the embedded brain speaks it as the answer.
pub const ANSWER_THRESHOLD: f64 = 0.6;
/// Candidates taken from the database's ranking before they are re-ordered.
const MIN_CANDIDATES: u32 = 40;

/// An entry found, with its coverage of the query (0–1).
#[derive(Debug, Clone)]
pub struct Hit {
    pub entry: EntryRow,
    pub score: f64,
}

/// The best `limit` entries of the org's knowledge bases `kb_ids` for what
/// a caller said, best first, with the normalised query.
pub async fn search(
    store: &Store,
    org_id: &str,
    kb_ids: &[String],
    text: &str,
    limit: u32,
) -> switchboard_store::Result<(SearchQuery, Vec<Hit>)> {
    let query = search_query(text);
    if query.is_empty() {
        return Ok((query, Vec::new()));
    }
    let found = store.search_knowledge(org_id, kb_ids, &query.all_words(), limit.max(MIN_CANDIDATES)).await?;
    let texts: Vec<(&str, &str)> = found.iter().map(|h| (h.index_question.as_str(), h.index_answer.as_str())).collect();
    let order = rank(&query, &texts);
    let mut found: Vec<Option<_>> = found.into_iter().map(Some).collect();
    let hits = order
        .into_iter()
        .take(limit as usize)
        .filter_map(|scored| found[scored.index].take().map(|hit| Hit { entry: hit.entry, score: scored.coverage }))
        .collect();
    Ok((query, hits))
}

/// The knowledge an agent can use in one call or test session.
#[derive(Clone)]
pub struct KnowledgeSearch {
    store: Store,
    org_id: String,
    kb_ids: Vec<String>,
}

/// One result as the language model receives it.
#[derive(Debug, Serialize)]
struct ToolHit<'a> {
    question: &'a str,
    answer: &'a str,
    score: f64,
    source: Option<&'a str>,
}

impl KnowledgeSearch {
    /// The agent's knowledge, or `None` when it has no knowledge bases.
    pub fn for_agent(store: &Store, org_id: &str, kb_ids: &[String]) -> Option<Self> {
        (!kb_ids.is_empty()).then(|| Self { store: store.clone(), org_id: org_id.to_owned(), kb_ids: kb_ids.to_vec() })
    }

    pub async fn search(&self, text: &str, limit: u32) -> switchboard_store::Result<Vec<Hit>> {
        search(&self.store, &self.org_id, &self.kb_ids, text, limit).await.map(|(_, hits)| hits)
    }

    /// The answer of the best-ranked entry that covers at least
    /// [`ANSWER_THRESHOLD`] of the utterance, if any. A failed search is
    /// logged and answers nothing: the caller then hears the usual fallback.
    pub async fn best_answer(&self, utterance: &str) -> Option<String> {
        match self.search(utterance, 5).await {
            Ok(hits) => hits.into_iter().find(|h| h.score >= ANSWER_THRESHOLD).map(|h| h.entry.content.answer),
            Err(err) => {
                tracing::warn!(error = %err, "knowledge search failed");
                None
            }
        }
    }

    /// The names of the agent's knowledge bases, to tell a caller what can be
    /// asked when a question found no answer (a base that cannot be read is
    /// left out).
    pub async fn topics(&self) -> Vec<String> {
        let mut names = Vec::with_capacity(self.kb_ids.len());
        for id in &self.kb_ids {
            if let Ok(kb) = self.store.knowledge_base(&self.org_id, id).await {
                names.push(kb.settings.name);
            }
        }
        names
    }

    /// The tool offered to the language model.
    pub fn tool_spec() -> ToolSpec {
        ToolSpec {
            name: KNOWLEDGE_BASE_SEARCH.into(),
            description: "Search the business's knowledge base (FAQ, policies, documents). Use it before \
                answering questions about the business; answer from the entries returned."
                .into(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "What to look up, in plain words"},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 10}
                },
                "required": ["query"]
            }),
        }
    }

    /// Runs the tool for the model: `{"results": [{question, answer, score, source}]}`,
    /// or `{"error": …}`.
    pub async fn tool_result(&self, args: &Value) -> String {
        let Some(query) = args["query"].as_str().filter(|q| !q.trim().is_empty()) else {
            return json!({"error": "query is required"}).to_string();
        };
        let limit = args["limit"].as_u64().map_or(TOOL_DEFAULT_RESULTS, |n| n.clamp(1, 10) as u32);
        match self.search(query, limit).await {
            Ok(hits) => {
                let results: Vec<ToolHit<'_>> = hits
                    .iter()
                    .map(|h| ToolHit {
                        question: &h.entry.content.question,
                        answer: &h.entry.content.answer,
                        score: h.score,
                        source: h.entry.content.source.as_deref(),
                    })
                    .collect();
                json!({"results": results}).to_string()
            }
            Err(err) => {
                tracing::warn!(error = %err, "knowledge search failed");
                json!({"error": "the knowledge base could not be searched"}).to_string()
            }
        }
    }
}
