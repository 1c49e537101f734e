//! The language-model brain of a call: the conversation so far, the tools the
//! model may call (the server_url's tools and the built-ins), and the sentence
//! splitter that lets the agent start speaking before the reply is complete.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_domain::server_url::ToolDef;

use crate::knowledge::retrieval::KnowledgeSearch;
use crate::llm::{ChatMessage, ChatRequest, LlmClient, LlmEndpoint, ToolCall, ToolSpec};

/// The built-in tool that ends the call (offered when `end_call_enabled`).
pub const END_CALL: &str = "end_call";
/// The built-in tool that transfers the call to a phone number.
pub const TRANSFER_CALL: &str = "transfer_call";
/// The built-in tool that saves a fact or intent to caller memory (offered
/// when memory is on).
pub const REMEMBER: &str = "remember";
/// How long the model may stay silent before a turn gives up.
pub const LLM_TIMEOUT: Duration = Duration::from_secs(20);
/// Tool rounds in one turn before the model must answer in words.
pub const MAX_TOOL_ROUNDS: usize = 5;

/// The model of one call and its conversation.
pub struct LlmBrain {
    pub client: LlmClient,
    pub endpoint: LlmEndpoint,
    temperature: Option<f64>,
    messages: Vec<ChatMessage>,
    server_tools: Vec<ToolDef>,
    end_call_enabled: bool,
    /// The agent's knowledge bases, searched by the `knowledge_base_search` tool.
    knowledge: Option<KnowledgeSearch>,
    /// Whether the `remember` tool is offered.
    remember: bool,
}

impl LlmBrain {
    pub fn new(client: LlmClient, endpoint: LlmEndpoint, temperature: Option<f64>) -> Self {
        Self {
            client,
            endpoint,
            temperature,
            messages: Vec::new(),
            server_tools: Vec::new(),
            end_call_enabled: false,
            knowledge: None,
            remember: false,
        }
    }

    /// Gives the model the agent's knowledge bases (offered as the
    /// `knowledge_base_search` tool); `None` offers no such tool.
    pub fn with_knowledge(mut self, knowledge: Option<KnowledgeSearch>) -> Self {
        self.knowledge = knowledge;
        self
    }

    /// Offers the `remember` tool (when the call has caller memory).
    pub fn offer_remember(&mut self, offered: bool) {
        self.remember = offered;
    }

    /// The agent's knowledge bases, if it has any.
    pub fn knowledge(&self) -> Option<&KnowledgeSearch> {
        self.knowledge.as_ref()
    }

    /// Runs the `knowledge_base_search` tool: its result for the model.
    pub async fn search_knowledge(&self, args: &Value) -> String {
        match &self.knowledge {
            Some(knowledge) => knowledge.tool_result(args).await,
            None => json!({"error": "this agent has no knowledge base"}).to_string(),
        }
    }

    /// Sets what the call's configuration decided: the system prompt, the
    /// server_url's tools, whether the model may hang up, and the greeting
    /// already spoken.
    pub fn configure(
        &mut self,
        system_prompt: Option<&str>,
        tools: Vec<ToolDef>,
        end_call_enabled: bool,
        greeting: &str,
    ) {
        self.messages.clear();
        if let Some(prompt) = system_prompt.filter(|p| !p.trim().is_empty()) {
            self.messages.push(ChatMessage::System(prompt.to_owned()));
        }
        self.messages.push(ChatMessage::Assistant { content: Some(greeting.to_owned()), tool_calls: Vec::new() });
        self.server_tools = tools;
        self.end_call_enabled = end_call_enabled;
    }

    pub fn push_user(&mut self, text: &str) {
        self.messages.push(ChatMessage::User(text.to_owned()));
    }

    pub fn push_assistant(&mut self, content: Option<String>, tool_calls: Vec<ToolCall>) {
        self.messages.push(ChatMessage::Assistant { content: content.filter(|c| !c.is_empty()), tool_calls });
    }

    pub fn push_tool_result(&mut self, tool_call_id: &str, content: String) {
        self.messages.push(ChatMessage::Tool { tool_call_id: tool_call_id.to_owned(), content });
    }

    /// The server_url tool of this name, if the call has one.
    pub fn server_tool(&self, name: &str) -> Option<&ToolDef> {
        self.server_tools.iter().find(|t| t.name == name)
    }

    /// The conversation as the next request; `offer_tools` is false on the last
    /// round so the model answers in words.
    pub fn request(&self, offer_tools: bool) -> ChatRequest {
        ChatRequest {
            messages: self.messages.clone(),
            tools: if offer_tools { self.tools() } else { Vec::new() },
            temperature: self.temperature,
        }
    }

    /// The messages so far, for post-call extraction.
    pub fn transcript_messages(&self) -> Vec<ChatMessage> {
        self.messages.clone()
    }

    fn tools(&self) -> Vec<ToolSpec> {
        let mut tools: Vec<ToolSpec> = self
            .server_tools
            .iter()
            .map(|t| ToolSpec {
                name: t.name.clone(),
                description: t.description.clone(),
                parameters: t.parameters.clone(),
            })
            .collect();
        if self.end_call_enabled {
            tools.push(ToolSpec {
                name: END_CALL.into(),
                description: "End the call after your reply, when the conversation is over.".into(),
                parameters: json!({"type": "object", "properties": {"reason": {"type": "string"}}}),
            });
        }
        if self.knowledge.is_some() {
            tools.push(KnowledgeSearch::tool_spec());
        }
        if self.remember {
            tools.push(remember_spec());
        }
        tools.push(ToolSpec {
            name: TRANSFER_CALL.into(),
            description: "Transfer the caller to a human at an E.164 phone number.".into(),
            parameters: json!({"type": "object", "properties": {"destination": {"type": "string"}}, "required": ["destination"]}),
        });
        tools
    }
}

fn remember_spec() -> ToolSpec {
    ToolSpec {
        name: REMEMBER.into(),
        description: "Remember something about the caller for their next calls: a fact as key and value (e.g. \
                      key \"name\", value \"Jane\"), and/or what they called about as an intent with its status."
            .into(),
        parameters: json!({
            "type": "object",
            "properties": {
                "key": {"type": "string", "description": "Short snake_case name, e.g. name, preferred_time"},
                "value": {"type": "string"},
                "intent": {"type": "string", "description": "What the caller wants, e.g. reschedule_appointment"},
                "intent_status": {"type": "string", "enum": ["open", "resolved", "abandoned"]}
            }
        }),
    }
}

/// Cuts streamed text into sentences so each can be spoken as soon as it is
/// complete.
#[derive(Debug, Default)]
pub struct SentenceSplitter {
    pending: String,
}

impl SentenceSplitter {
    /// Adds a piece of text; returns the sentences it completed.
    pub fn push(&mut self, piece: &str) -> Vec<String> {
        self.pending.push_str(piece);
        let mut sentences = Vec::new();
        while let Some(end) = sentence_end(&self.pending) {
            let sentence: String = self.pending.drain(..end).collect();
            let sentence = sentence.trim().to_owned();
            if !sentence.is_empty() {
                sentences.push(sentence);
            }
        }
        sentences
    }

    /// What is left when the reply is complete.
    pub fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.pending);
        let rest = rest.trim();
        (!rest.is_empty()).then(|| rest.to_owned())
    }
}

/// The byte index just past the first sentence end (`.`, `!`, `?` followed by
/// whitespace) that leaves a sentence of a useful length.
fn sentence_end(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(1)).find_map(|i| {
        let ends = matches!(bytes[i], b'.' | b'!' | b'?') && bytes[i + 1].is_ascii_whitespace();
        (ends && text[..=i].trim().len() >= 12).then_some(i + 1)
    })
}

/// The arguments of a tool call as JSON (an object; `{}` when unparsable).
pub fn arguments(call: &ToolCall) -> Value {
    serde_json::from_str::<Value>(&call.arguments).ok().filter(Value::is_object).unwrap_or_else(|| json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_come_out_as_they_complete() {
        let mut split = SentenceSplitter::default();
        assert!(split.push("Your policy P1 covers").is_empty());
        assert_eq!(split.push(" water damage. It also"), vec!["Your policy P1 covers water damage."]);
        assert!(split.push(" covers fire").is_empty());
        assert_eq!(split.push("! Ok? Anything else"), vec!["It also covers fire!"]);
        assert_eq!(split.finish().as_deref(), Some("Ok? Anything else"));
        assert_eq!(split.finish(), None);
        // Abbreviation-like short fragments stay with what follows.
        let mut split = SentenceSplitter::default();
        assert!(split.push("Hi. I am Sam").is_empty());
    }

    #[test]
    fn arguments_default_to_an_empty_object() {
        let call = |a: &str| ToolCall { id: "1".into(), name: "t".into(), arguments: a.into() };
        assert_eq!(arguments(&call(r#"{"a":1}"#)), json!({"a": 1}));
        assert_eq!(arguments(&call("not json")), json!({}));
        assert_eq!(arguments(&call("[1]")), json!({}));
    }
}
