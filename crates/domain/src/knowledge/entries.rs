//! Knowledge-base entries: one question and its answer, where they came from,
//! and the create and patch bodies with their validation.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::settings::nullable;
use crate::validation::{self, FieldErrors};

pub const QUESTION_MAX: usize = 1_000;
pub const ANSWER_MAX: usize = 10_000;
pub const SOURCE_MAX: usize = 2_048;
/// Entries one knowledge base may hold.
pub const MAX_ENTRIES_PER_KB: i64 = 50_000;

/// How an entry got into the knowledge base. Crawls replace only `crawl`
/// entries; editing a crawled or uploaded entry makes it `manual`, so a
/// correction survives the next refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryOrigin {
    Manual,
    Crawl,
    Upload,
}

impl EntryOrigin {
    pub const fn as_str(self) -> &'static str {
        match self {
            EntryOrigin::Manual => "manual",
            EntryOrigin::Crawl => "crawl",
            EntryOrigin::Upload => "upload",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [EntryOrigin::Manual, EntryOrigin::Crawl, EntryOrigin::Upload].into_iter().find(|o| o.as_str() == s)
    }
}

/// An entry's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryContent {
    pub question: String,
    pub answer: String,
    /// Where the content comes from: a page URL, a file name, or the client's note.
    pub source: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryCreate {
    #[schema(min_length = 1, max_length = 1000)]
    pub question: String,
    #[schema(min_length = 1, max_length = 10000)]
    pub answer: String,
    /// Where the content comes from, e.g. a document name or URL.
    #[schema(max_length = 2048)]
    pub source: Option<String>,
}

/// Only the fields sent change; `null` clears `source`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryPatch {
    #[schema(min_length = 1, max_length = 1000)]
    pub question: Option<String>,
    #[schema(min_length = 1, max_length = 10000)]
    pub answer: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 2048)]
    pub source: Option<Option<String>>,
}

impl EntryCreate {
    pub fn into_content(self) -> EntryContent {
        EntryContent {
            question: self.question.trim().to_owned(),
            answer: self.answer.trim().to_owned(),
            source: self.source,
        }
    }
}

impl EntryPatch {
    pub fn apply(self, current: &EntryContent) -> EntryContent {
        EntryContent {
            question: self.question.map_or_else(|| current.question.clone(), |q| q.trim().to_owned()),
            answer: self.answer.map_or_else(|| current.answer.clone(), |a| a.trim().to_owned()),
            source: self.source.unwrap_or_else(|| current.source.clone()),
        }
    }
}

impl EntryContent {
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::new();
        errors.check("question", validation::required_text(&self.question, QUESTION_MAX));
        errors.check("answer", validation::required_text(&self.answer, ANSWER_MAX));
        if let Some(source) = &self.source {
            errors.check("source", validation::optional_text(source, SOURCE_MAX));
        }
        errors.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_trims_and_validates() {
        let content =
            EntryCreate { question: " Hours? ".into(), answer: "Nine to five.".into(), source: None }.into_content();
        assert_eq!(content.question, "Hours?");
        assert_eq!(content.validate(), Ok(()));
        let empty = EntryCreate { question: "".into(), answer: " ".into(), source: Some("x".repeat(3000)) };
        let errors = empty.into_content().validate().unwrap_err().into_map();
        assert_eq!(errors.len(), 3, "{errors:?}");
    }

    #[test]
    fn patch_keeps_unsent_fields_and_null_clears_source() {
        let current = EntryContent { question: "Q".into(), answer: "A".into(), source: Some("faq.pdf".into()) };
        let patch: EntryPatch = serde_json::from_str(r#"{"answer": " B "}"#).unwrap();
        assert_eq!(patch.apply(&current), EntryContent { answer: "B".into(), ..current.clone() });
        let patch: EntryPatch = serde_json::from_str(r#"{"source": null}"#).unwrap();
        assert_eq!(patch.apply(&current).source, None);
    }

    #[test]
    fn origins_round_trip() {
        for o in [EntryOrigin::Manual, EntryOrigin::Crawl, EntryOrigin::Upload] {
            assert_eq!(EntryOrigin::parse(o.as_str()), Some(o));
        }
        assert_eq!(EntryOrigin::parse("other"), None);
    }
}
