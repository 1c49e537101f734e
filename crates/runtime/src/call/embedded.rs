//! The embedded default brain: what an agent says when no language model is
//! configured. It greets, says goodbye when the caller does, answers from the
//! agent's knowledge bases when an entry covers the question well enough, and
//! otherwise answers politely that it cannot help with that itself.

use crate::knowledge::retrieval::KnowledgeSearch;

/// What the brain wants to happen after a caller's turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Say(String),
    /// Say this, then hang up (`agent-hangup`).
    SayAndHangUp(String),
}

pub const DEFAULT_GREETING: &str = "Hello! How can I help you today?";

/// The embedded brain of one call.
#[derive(Debug, Clone)]
pub struct EmbeddedBrain {
    agent_name: String,
    first_message: Option<String>,
    may_hang_up: bool,
}

impl EmbeddedBrain {
    pub fn new(agent_name: &str, first_message: Option<&str>, may_hang_up: bool) -> Self {
        Self {
            agent_name: agent_name.to_owned(),
            first_message: first_message.filter(|m| !m.trim().is_empty()).map(str::to_owned),
            may_hang_up,
        }
    }

    /// The first thing the agent says.
    pub fn greeting(&self) -> String {
        self.first_message.clone().unwrap_or_else(|| DEFAULT_GREETING.to_owned())
    }

    /// The reply to one final caller utterance; `knowledge` is the agent's
    /// knowledge bases, if it has any.
    pub async fn reply(&self, utterance: &str, knowledge: Option<&KnowledgeSearch>) -> Reply {
        if is_goodbye(utterance) {
            let text = "Thank you for calling. Goodbye!".to_owned();
            return if self.may_hang_up { Reply::SayAndHangUp(text) } else { Reply::Say(text) };
        }
        if let Some(knowledge) = knowledge
            && let Some(answer) = knowledge.best_answer(utterance).await
        {
            return Reply::Say(answer);
        }
        self.fallback()
    }

    /// What the agent says when it has no answer.
    fn fallback(&self) -> Reply {
        Reply::Say(format!(
            "I'm sorry, I can't answer that myself: {} is running without a language model. \
             Is there anything else I can note for the team?",
            self.agent_name
        ))
    }
}

/// Whether an utterance closes the conversation.
fn is_goodbye(utterance: &str) -> bool {
    let text = utterance.to_lowercase();
    let words: Vec<&str> = text.split(|c: char| !c.is_alphanumeric() && c != '\'').filter(|w| !w.is_empty()).collect();
    let has = |w: &str| words.contains(&w);
    has("bye") || has("goodbye") || has("doei") || has("tschüss") || (has("that's") && has("all"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greets_with_the_first_message_or_a_default() {
        assert_eq!(EmbeddedBrain::new("A", Some("Hi from Acme"), false).greeting(), "Hi from Acme");
        assert_eq!(EmbeddedBrain::new("A", Some("  "), false).greeting(), DEFAULT_GREETING);
        assert_eq!(EmbeddedBrain::new("A", None, false).greeting(), DEFAULT_GREETING);
    }

    #[tokio::test]
    async fn goodbye_hangs_up_only_when_allowed() {
        let brain = EmbeddedBrain::new("Acme", None, true);
        assert!(matches!(brain.reply("OK, bye!", None).await, Reply::SayAndHangUp(_)));
        assert!(matches!(brain.reply("That's all, thanks", None).await, Reply::SayAndHangUp(_)));
        assert!(matches!(EmbeddedBrain::new("Acme", None, false).reply("goodbye", None).await, Reply::Say(_)));
        assert!(matches!(brain.reply("I want to buy a byte", None).await, Reply::Say(_)));
    }

    #[tokio::test]
    async fn fallback_says_why() {
        let brain = EmbeddedBrain::new("Acme Support", None, true);
        let Reply::Say(text) = brain.reply("What are your hours?", None).await else {
            panic!("a plain reply");
        };
        assert!(text.contains("Acme Support") && text.contains("language model"));
    }
}
