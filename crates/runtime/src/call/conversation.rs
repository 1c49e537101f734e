//! The conversation with the language model: the messages so far, the tools
//! the model may call (the server_url's tools and the built-ins), and the
//! sentence splitter that lets the agent start speaking before the reply is
//! complete. Pure: the session owns it, the driver sends its requests.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_domain::server_url::ToolDef;

use crate::knowledge::retrieval::KnowledgeSearch;
use crate::llm::{ChatMessage, ChatRequest, ToolCall, ToolSpec};

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

/// The conversation of one call with its model.
#[derive(Debug, Clone, Default)]
pub struct Conversation {
    temperature: Option<f64>,
    messages: Vec<ChatMessage>,
    server_tools: Vec<ToolDef>,
    end_call_enabled: bool,
    /// Whether the `knowledge_base_search` tool is offered.
    knowledge: bool,
    /// Whether the `remember` tool is offered.
    remember: bool,
    /// Whether the appointment tools are offered.
    appointments: bool,
}

impl Conversation {
    pub fn new(temperature: Option<f64>) -> Self {
        Self { temperature, ..Self::default() }
    }

    /// Sets what the call's configuration decided: the system prompt, the
    /// server_url's tools, which built-ins are offered, and the greeting
    /// already spoken.
    pub fn configure(&mut self, system_prompt: Option<&str>, tools: Vec<ToolDef>, offer: Offer, greeting: &str) {
        self.messages.clear();
        if let Some(prompt) = system_prompt.filter(|p| !p.trim().is_empty()) {
            self.messages.push(ChatMessage::System(prompt.to_owned()));
        }
        if !greeting.is_empty() {
            self.messages.push(ChatMessage::Assistant { content: Some(greeting.to_owned()), tool_calls: Vec::new() });
        }
        self.server_tools = tools;
        self.end_call_enabled = offer.end_call;
        self.knowledge = offer.knowledge;
        self.remember = offer.remember;
        self.appointments = offer.appointments;
    }

    pub fn push_user(&mut self, text: &str) {
        self.messages.push(ChatMessage::User(text.to_owned()));
    }

    /// Adds the model's reply; returns its position, to correct it when the
    /// caller did not hear all of it.
    pub fn push_assistant(&mut self, content: Option<String>, tool_calls: Vec<ToolCall>) -> usize {
        self.messages.push(ChatMessage::Assistant { content: content.filter(|c| !c.is_empty()), tool_calls });
        self.messages.len() - 1
    }

    /// Replaces the text of the reply at `index` with what the caller heard.
    pub fn correct_assistant(&mut self, index: usize, heard: &str) {
        if let Some(ChatMessage::Assistant { content, .. }) = self.messages.get_mut(index) {
            *content = Some(heard.to_owned()).filter(|h| !h.is_empty());
        }
    }

    pub fn push_tool_result(&mut self, tool_call_id: &str, content: String) {
        self.messages.push(ChatMessage::Tool { tool_call_id: tool_call_id.to_owned(), content });
    }

    /// The server_url tool of this name, if the call has one.
    pub fn server_tool(&self, name: &str) -> Option<&ToolDef> {
        self.server_tools.iter().find(|t| t.name == name)
    }

    /// Whether the `knowledge_base_search` tool is offered.
    pub fn offers_knowledge(&self) -> bool {
        self.knowledge
    }

    /// Whether the `remember` tool is offered.
    pub fn offers_remember(&self) -> bool {
        self.remember
    }

    /// Whether the appointment tools are offered.
    pub fn offers_appointments(&self) -> bool {
        self.appointments
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
        if self.knowledge {
            tools.push(KnowledgeSearch::tool_spec());
        }
        if self.remember {
            tools.push(remember_spec());
        }
        if self.appointments {
            tools.extend(crate::appointments::tools::specs());
        }
        tools.push(ToolSpec {
            name: TRANSFER_CALL.into(),
            description: "Transfer the caller to a human at an E.164 phone number.".into(),
            parameters: json!({"type": "object", "properties": {"destination": {"type": "string"}}, "required": ["destination"]}),
        });
        tools
    }
}

/// Which built-in tools a conversation offers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Offer {
    pub end_call: bool,
    pub knowledge: bool,
    pub remember: bool,
    pub appointments: bool,
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
    fn the_tools_follow_the_offer_and_the_last_round_offers_none() {
        let mut conversation = Conversation::new(Some(0.2));
        let offer = Offer { end_call: true, knowledge: false, remember: true, appointments: false };
        conversation.configure(Some("Be brief."), Vec::new(), offer, "Hi!");
        let names: Vec<String> = conversation.request(true).tools.into_iter().map(|t| t.name).collect();
        assert_eq!(names, ["end_call", "remember", "transfer_call"]);
        assert!(!conversation.offers_appointments());
        assert!(conversation.request(false).tools.is_empty());
        let at = conversation.push_assistant(Some("Your policy covers water damage.".into()), Vec::new());
        conversation.correct_assistant(at, "Your policy");
        let last = conversation.request(false).messages.pop();
        assert_eq!(last, Some(ChatMessage::Assistant { content: Some("Your policy".into()), tool_calls: Vec::new() }));
    }

    #[test]
    fn appointment_tools_are_offered_only_when_the_agent_books() {
        let mut conversation = Conversation::new(None);
        let offer = Offer { appointments: true, ..Offer::default() };
        conversation.configure(None, Vec::new(), offer, "");
        assert!(conversation.offers_appointments());
        let names: Vec<String> = conversation.request(true).tools.into_iter().map(|t| t.name).collect();
        assert_eq!(
            names,
            ["check_availability", "book_appointment", "reschedule_appointment", "cancel_appointment", "transfer_call"]
        );
    }

    #[test]
    fn arguments_default_to_an_empty_object() {
        let call = |a: &str| ToolCall { id: "1".into(), name: "t".into(), arguments: a.into() };
        assert_eq!(arguments(&call(r#"{"a":1}"#)), json!({"a": 1}));
        assert_eq!(arguments(&call("not json")), json!({}));
        assert_eq!(arguments(&call("[1]")), json!({}));
    }
}
