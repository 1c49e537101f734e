//! The language-model client: OpenAI-compatible chat completions, streamed, with tools.
//!
//! A call's brain talks to any server that speaks the OpenAI chat-completions API
//! (OpenAI itself, vLLM, llama.cpp, Ollama, a gateway, or the test kit's scripted
//! server). The pieces:
//! - this module: the types a caller builds requests from and reads replies as;
//! - `wire`: how those types look on the wire (request bodies, message roles);
//! - [`sse`]: a sans-io decoder from raw response bytes to server-sent-event payloads;
//! - [`stream`]: a sans-io assembler from chunk payloads to tokens and a final outcome;
//! - `client` ([`LlmClient`]): the thin HTTP layer that feeds the two decoders from a live response.

mod client;
pub mod config;
mod error;
pub mod sse;
pub mod stream;
mod wire;

use std::fmt;

pub use client::{LlmClient, ReplyEvents};
pub use error::LlmError;
pub use stream::{ChatStreamParser, ReplyAssembler};

/// Where a call's language model lives and which model to ask: the agent's provider
/// configuration resolved for one call.
#[derive(Clone, PartialEq, Eq)]
pub struct LlmEndpoint {
    /// The API root that `/chat/completions` is appended to, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// Sent as `Authorization: Bearer <key>` when present; never logged or echoed in errors.
    pub api_key: Option<String>,
    /// The model name passed through to the provider.
    pub model: String,
}

/// Hand-written so that printing an endpoint (in a log line or a test failure) never shows the key.
impl fmt::Debug for LlmEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmEndpoint")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("model", &self.model)
            .finish()
    }
}

/// One message of the conversation history sent to the model; serialises to the OpenAI
/// wire format (`{"role": "...", ...}`) so a transcript can be replayed turn after turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatMessage {
    /// The agent's instructions (system prompt, caller memory, knowledge snippets).
    System(String),
    /// What the caller said.
    User(String),
    /// What the model answered earlier: text, tool calls, or both.
    Assistant {
        /// The spoken text, absent when the turn was only tool calls.
        content: Option<String>,
        /// The tool calls the model made in that turn, answered by the `Tool` messages after it.
        tool_calls: Vec<ToolCall>,
    },
    /// The result of one tool call, tied to it by id.
    Tool {
        /// The `id` of the [`ToolCall`] this answers.
        tool_call_id: String,
        /// The tool's result as text (usually JSON).
        content: String,
    },
}

/// A function the model may call (server_url tools and built-ins like `end_call`).
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    /// The function name the model will call it by.
    pub name: String,
    /// Tells the model when to use it.
    pub description: String,
    /// A JSON Schema object describing the arguments.
    pub parameters: serde_json::Value,
}

/// A tool call the model made, assembled from its streamed fragments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    /// The provider's id for the call, echoed back in the [`ChatMessage::Tool`] answer.
    pub id: String,
    /// The function name.
    pub name: String,
    /// The arguments as the raw JSON text the model produced; parsing (and rejecting
    /// malformed JSON) is the caller's decision.
    pub arguments: String,
}

/// One request for a reply: the history so far, the tools on offer, and the sampling temperature.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRequest {
    /// The conversation, oldest first.
    pub messages: Vec<ChatMessage>,
    /// The tools the model may call; omitted from the wire when empty.
    pub tools: Vec<ToolSpec>,
    /// Sampling temperature; the provider's default when absent.
    pub temperature: Option<f64>,
}

/// What a reply stream yields: text as it arrives (so speech can start before the
/// model has finished), then one final summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// A piece of reply text, in order.
    Token(String),
    /// The end of the reply; always the last event of a successful stream.
    Finished(ChatOutcome),
}

/// The whole of a reply once the stream is over.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChatOutcome {
    /// All text tokens concatenated.
    pub content: String,
    /// The tool calls, in the order of their stream index.
    pub tool_calls: Vec<ToolCall>,
    /// The provider's reason (`stop`, `tool_calls`, `length`, ...), when it sent one.
    pub finish_reason: Option<String>,
}
