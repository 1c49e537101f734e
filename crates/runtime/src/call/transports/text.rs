//! The text transport of test sessions: the tester's messages reach the
//! session as the caller's final transcripts, the agent's speech "plays" at
//! once, and what the agent says until it listens again (or ends the call) is
//! its reply.

use tokio::sync::mpsc;

use super::{Connection, FarSide, TransportLink};
use crate::call::recorder::ToolUse;
use crate::call::{CallClock, TransportAction, TransportEvent};

/// A test session's side of the line.
pub(crate) struct TextLine {
    far: FarSide,
    tools: mpsc::UnboundedReceiver<ToolUse>,
    ended: bool,
}

/// The agent's answer to one message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TextReply {
    pub response: String,
    /// The agent ended the conversation (hung up or transferred).
    pub ended: bool,
    pub tools: Vec<ToolUse>,
}

/// The connection the call service opens for a test session: answered at once.
pub(crate) struct TextConnection {
    link: TransportLink,
}

impl Connection for TextConnection {
    fn open(self: Box<Self>, _clock: CallClock) -> TransportLink {
        self.link
    }
}

impl TextLine {
    /// A line, the connection to hand the call service, and where the
    /// session's recorder sends the tools it runs.
    pub(crate) fn new() -> (Self, TextConnection, mpsc::UnboundedSender<ToolUse>) {
        let (link, far) = TransportLink::pair();
        let (tools_tx, tools) = mpsc::unbounded_channel();
        (TextLine { far, tools, ended: false }, TextConnection { link }, tools_tx)
    }

    /// Whether the agent has ended the conversation.
    pub(crate) fn ended(&self) -> bool {
        self.ended
    }

    async fn tell(&mut self, event: TransportEvent) {
        if self.far.events.send(event).await.is_err() {
            self.ended = true;
        }
    }

    /// Connects the caller and returns the greeting.
    pub(crate) async fn answer(&mut self) -> TextReply {
        self.tell(TransportEvent::Answered).await;
        self.reply().await
    }

    /// Says `text` as the caller and returns the agent's answer.
    pub(crate) async fn message(&mut self, text: &str) -> TextReply {
        self.tell(TransportEvent::SpeechStarted).await;
        self.tell(TransportEvent::Transcript { text: text.to_owned(), is_final: true, ended: None }).await;
        self.reply().await
    }

    /// Collects what the agent says until it listens again or the call ends.
    async fn reply(&mut self) -> TextReply {
        let mut said: Vec<String> = Vec::new();
        let mut ended = self.ended;
        while !ended {
            let Some(action) = self.far.actions.recv().await else {
                ended = true;
                break;
            };
            match action {
                TransportAction::Say { utterance, text } => {
                    said.push(text);
                    self.tell(TransportEvent::PlaybackStarted(utterance)).await;
                    self.tell(TransportEvent::PlaybackFinished(utterance)).await;
                }
                TransportAction::StopSpeaking => {
                    self.tell(TransportEvent::PlaybackStopped { utterance: None, heard_chars: 0 }).await;
                }
                TransportAction::Listen => break,
                TransportAction::Transfer(_) | TransportAction::HangUp => ended = true,
            }
            ended |= self.ended;
        }
        self.ended = ended;
        let mut tools = Vec::new();
        while let Ok(tool) = self.tools.try_recv() {
            tools.push(tool);
        }
        TextReply { response: said.join(" "), ended, tools }
    }
}
