//! Post-call extraction: the data the `call.started` schema asks for, filled by
//! the language model from the conversation (or, on the embedded brain, from
//! the values collected during the call) and validated against the schema.

use std::time::Duration;

use serde_json::{Map, Value};
use switchboard_domain::extraction;

use super::Session;
use crate::llm::ChatMessage;

/// How long the model may take to fill the schema.
const EXTRACTION_TIMEOUT: Duration = Duration::from_secs(30);

const INSTRUCTION: &str = "Extract the requested data from this phone call between an assistant and a caller. \
    Answer with one JSON object matching the schema; use null for anything the call did not reveal.";

impl Session {
    /// The extracted data when the call had a schema: the valid object, or why
    /// there is none.
    pub(super) async fn extract(&self, metadata: &Value) -> Option<Result<Value, String>> {
        let schema = self.extraction.as_ref()?;
        let data = match &self.llm {
            Some(llm) => {
                let mut messages = vec![ChatMessage::System(INSTRUCTION.to_owned())];
                messages.push(ChatMessage::User(self.transcript_text()));
                llm.client
                    .extract_json(&llm.endpoint, messages, schema, EXTRACTION_TIMEOUT)
                    .await
                    .map_err(|e| format!("extraction failed: {e}"))
            }
            None => Ok(extraction::from_collected(schema, &self.collected(metadata))),
        };
        Some(data.and_then(|data| {
            extraction::validate(schema, &data)
                .map(|()| data)
                .map_err(|errors| format!("extracted data does not match the schema: {}", errors.join("; ")))
        }))
    }

    /// The conversation as plain lines for the model.
    fn transcript_text(&self) -> String {
        self.transcript
            .iter()
            .map(|t| format!("{}: {}", t["role"].as_str().unwrap_or("?"), t["content"].as_str().unwrap_or("")))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// What the call collected without a model: metadata from the server_url,
    /// the last IVR choice (`ivr_choice`) and the last keyed input (`digits`).
    fn collected(&self, metadata: &Value) -> Map<String, Value> {
        let mut collected = metadata.as_object().cloned().unwrap_or_default();
        if let Some(choice) = self.ivr_path.last().and_then(|c| c.get("option")).cloned() {
            collected.insert("ivr_choice".into(), choice);
        }
        let digits = self.gather_results.iter().rev().find_map(|g| g.get("input").filter(|i| i.is_string()));
        if let Some(digits) = digits {
            collected.insert("digits".into(), digits.clone());
        }
        collected
    }
}
