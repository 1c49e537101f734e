//! The OpenAI chat-completions wire format: request bodies out, chunks and completions in.

use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Value, json};

use super::{ChatMessage, ChatRequest, ToolCall, ToolSpec};

/// A message as the API spells it: the role is the tag, tool calls nest under `function`.
#[derive(Serialize)]
#[serde(tag = "role", rename_all = "lowercase")]
enum WireMessage<'a> {
    System {
        content: &'a str,
    },
    User {
        content: &'a str,
    },
    Assistant {
        content: Option<&'a str>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<WireToolCall<'a>>,
    },
    Tool {
        tool_call_id: &'a str,
        content: &'a str,
    },
}

#[derive(Serialize)]
struct WireToolCall<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: WireFunctionCall<'a>,
}

#[derive(Serialize)]
struct WireFunctionCall<'a> {
    name: &'a str,
    arguments: &'a str,
}

impl<'a> From<&'a ToolCall> for WireToolCall<'a> {
    fn from(call: &'a ToolCall) -> Self {
        WireToolCall {
            id: &call.id,
            kind: "function",
            function: WireFunctionCall { name: &call.name, arguments: &call.arguments },
        }
    }
}

impl<'a> From<&'a ChatMessage> for WireMessage<'a> {
    fn from(message: &'a ChatMessage) -> Self {
        match message {
            ChatMessage::System(content) => WireMessage::System { content },
            ChatMessage::User(content) => WireMessage::User { content },
            ChatMessage::Assistant { content, tool_calls } => WireMessage::Assistant {
                content: content.as_deref(),
                tool_calls: tool_calls.iter().map(WireToolCall::from).collect(),
            },
            ChatMessage::Tool { tool_call_id, content } => WireMessage::Tool { tool_call_id, content },
        }
    }
}

impl Serialize for ChatMessage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WireMessage::from(self).serialize(serializer)
    }
}

impl Serialize for ToolSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        json!({
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        })
        .serialize(serializer)
    }
}

/// The body of a streamed completion request. Empty `tools` and an unset temperature are
/// left out, because some providers reject an empty tools array.
pub(super) fn stream_body(model: &str, request: &ChatRequest) -> Value {
    let mut body = json!({"model": model, "messages": request.messages, "stream": true});
    if !request.tools.is_empty() {
        body["tools"] = json!(request.tools);
    }
    if let Some(temperature) = request.temperature {
        body["temperature"] = json!(temperature);
    }
    body
}

/// The body of a non-streamed request that asks for JSON matching `schema`.
pub(super) fn extraction_body(model: &str, messages: &[ChatMessage], schema: &Value) -> Value {
    json!({
        "model": model,
        "messages": messages,
        "stream": false,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "extraction", "schema": schema, "strict": false},
        },
    })
}

/// One `chat.completion.chunk`; every field is optional because providers differ in what they omit.
#[derive(Debug, Deserialize)]
pub(super) struct Chunk {
    #[serde(default)]
    pub choices: Vec<ChunkChoice>,
    /// Some providers report failures inside the stream instead of with a status code.
    #[serde(default)]
    pub error: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ChunkChoice {
    #[serde(default)]
    pub delta: Option<Delta>,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Delta {
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub tool_calls: Option<Vec<ToolCallDelta>>,
}

/// A fragment of a tool call: `id` and `name` usually come first, `arguments` in pieces after.
#[derive(Debug, Deserialize)]
pub(super) struct ToolCallDelta {
    #[serde(default)]
    pub index: Option<usize>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub function: Option<FunctionDelta>,
}

#[derive(Debug, Deserialize)]
pub(super) struct FunctionDelta {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub arguments: Option<String>,
}

/// A non-streamed `chat.completion`; only the first choice's text is read.
#[derive(Debug, Deserialize)]
pub(super) struct Completion {
    #[serde(default)]
    pub choices: Vec<CompletionChoice>,
}

#[derive(Debug, Deserialize)]
pub(super) struct CompletionChoice {
    pub message: CompletionMessage,
}

#[derive(Debug, Deserialize)]
pub(super) struct CompletionMessage {
    #[serde(default)]
    pub content: Option<String>,
}

/// A readable one-line summary of a provider error object (`{"message": ...}` or anything else).
pub(super) fn error_object_message(error: &Value) -> String {
    match error.get("message").and_then(Value::as_str) {
        Some(message) => message.to_owned(),
        None => match error.as_str() {
            Some(text) => text.to_owned(),
            None => error.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_serialise_to_openai_roles() {
        let messages = vec![
            ChatMessage::System("be brief".into()),
            ChatMessage::User("hi".into()),
            ChatMessage::Assistant {
                content: None,
                tool_calls: vec![ToolCall { id: "call_1".into(), name: "f".into(), arguments: "{}".into() }],
            },
            ChatMessage::Tool { tool_call_id: "call_1".into(), content: "ok".into() },
            ChatMessage::Assistant { content: Some("done".into()), tool_calls: vec![] },
        ];
        assert_eq!(
            serde_json::to_value(&messages).unwrap(),
            json!([
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
                {"role": "assistant", "content": "done"},
            ])
        );
    }

    #[test]
    fn stream_body_leaves_out_empty_tools_and_unset_temperature() {
        let request = ChatRequest { messages: vec![ChatMessage::User("hi".into())], ..ChatRequest::default() };
        let body = stream_body("m", &request);
        assert_eq!(body, json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": true}));
    }
}
