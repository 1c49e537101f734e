//! Messages written by an agent's language model: the agent's system prompt,
//! the recent conversation and the sender's instruction go to the model the
//! agent's calls would use (agent → project → org → server); its reply is the
//! message. Without a model nothing is written: no text is ever invented.

use std::time::Duration;

use switchboard_domain::messaging::{Channel, Sender};
use switchboard_store::agents::AgentRow;
use switchboard_store::messages::MessageRow;

use crate::llm::config::LlmSettings;
use crate::llm::{ChatMessage, ChatRequest, LlmClient, LlmError, StreamEvent};
use crate::outbound::OutboundClient;

/// Longest a model may take to write a message.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// What the model is asked to write.
#[derive(Debug, Clone, Copy)]
pub struct Composition<'a> {
    pub agent: &'a AgentRow,
    pub channel: Channel,
    pub contact_name: Option<&'a str>,
    /// The conversation so far, oldest first.
    pub history: &'a [MessageRow],
    /// What the message should say or do (the request's `content`).
    pub instruction: &'a str,
}

/// Why no message was written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("No language model is configured for this agent, its project or its org.")]
    NotConfigured,
    #[error("The language model URL is not allowed: {0}")]
    Refused(String),
    #[error("The language model failed: {0}")]
    Model(#[from] LlmError),
    #[error("The language model returned an empty message.")]
    Empty,
}

/// Writes messages with agents' language models. Cheap to clone.
#[derive(Clone)]
pub struct MessageWriter {
    llm: LlmSettings,
    outbound: OutboundClient,
}

impl MessageWriter {
    pub fn new(llm: LlmSettings, outbound: OutboundClient) -> Self {
        Self { llm, outbound }
    }

    /// The message the agent's model writes for `composition`, trimmed.
    pub async fn write(&self, composition: &Composition<'_>) -> Result<String, WriteError> {
        let agent = composition.agent;
        let own = agent.settings.llm.as_ref();
        let endpoint = self.llm.resolve(&agent.org_id, &agent.project_id, own).ok_or(WriteError::NotConfigured)?;
        self.outbound.check_url(&endpoint.base_url).map_err(|e| WriteError::Refused(e.to_string()))?;
        let request = ChatRequest {
            messages: prompt(composition),
            tools: Vec::new(),
            temperature: own.and_then(|l| l.temperature),
        };
        let client = LlmClient::new(self.outbound.http().clone());
        let mut events = client.stream(&endpoint, request, WRITE_TIMEOUT).await?;
        while let Some(event) = events.recv().await {
            if let StreamEvent::Finished(outcome) = event? {
                let text = outcome.content.trim().to_owned();
                return if text.is_empty() { Err(WriteError::Empty) } else { Ok(text) };
            }
        }
        Err(WriteError::Model(LlmError::Timeout))
    }
}

/// The messages sent to the model: the agent's prompt, the task, the
/// conversation, then the instruction.
fn prompt(c: &Composition<'_>) -> Vec<ChatMessage> {
    let name = &c.agent.settings.name;
    let system = c.agent.settings.system_prompt.clone().unwrap_or_else(|| format!("You are {name}."));
    let recipient = c.contact_name.unwrap_or("the contact");
    let mut task = format!(
        "You are writing one {} message to {recipient} on behalf of {name}. Answer with the text of the message \
         only: no preamble, no quotation marks, no placeholders.",
        c.channel.as_str()
    );
    if c.channel == Channel::Sms {
        task.push_str(&format!(" It must fit in {} characters.", c.channel.max_chars()));
    }
    let mut messages = vec![ChatMessage::System(system), ChatMessage::System(task)];
    for message in c.history {
        messages.push(match message.sender {
            Sender::Contact => ChatMessage::User(message.content.clone()),
            Sender::Agent => ChatMessage::Assistant { content: Some(message.content.clone()), tool_calls: Vec::new() },
        });
    }
    messages.push(ChatMessage::System(format!("Instruction for the next message: {}", c.instruction)));
    messages
}
