//! The embedded default brain: what an agent says when no language model is
//! configured. It greets, says goodbye when the caller does, answers from the
//! agent's knowledge bases when an entry covers the question well enough, and
//! otherwise says what the caller can ask about instead of only refusing.

/// What the knowledge bases made of a caller's question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The answer of the entry that covers the question.
    Answer(String),
    /// No entry covers it; `topics` are the names of the agent's knowledge
    /// bases (none when it has none).
    Nothing { topics: Vec<String> },
}

/// What the call's menu offers a caller the brain cannot help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MenuOffer {
    /// The call has no menu.
    None,
    /// Saying "menu" plays it again.
    Menu,
    /// ... and one of its options puts the caller through to a person.
    WithTransfer,
}

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

    /// The reply to a caller who is saying goodbye, if they are; anything
    /// else is answered by [`EmbeddedBrain::answer`] once the knowledge bases
    /// have been searched.
    pub fn goodbye(&self, utterance: &str) -> Option<Reply> {
        is_goodbye(utterance).then(|| {
            let text = "Thank you for calling. Goodbye!".to_owned();
            if self.may_hang_up { Reply::SayAndHangUp(text) } else { Reply::Say(text) }
        })
    }

    /// The reply from what the knowledge bases found; `menu` is what the
    /// call's menu offers when they found nothing.
    pub fn answer(&self, found: Found, menu: MenuOffer) -> Reply {
        match found {
            Found::Answer(answer) => Reply::Say(answer),
            Found::Nothing { topics } => self.fallback(&topics, menu),
        }
    }

    /// What the agent says when it has no answer: why, and what the caller
    /// can do instead.
    fn fallback(&self, topics: &[String], menu: MenuOffer) -> Reply {
        let can = match topics {
            [] => "I can take a message for the team.".to_owned(),
            [one] => format!("I can answer questions about {one}, or take a message for the team."),
            [first @ .., last] => {
                format!("I can answer questions about {} and {last}, or take a message for the team.", first.join(", "))
            }
        };
        let menu = match menu {
            MenuOffer::None => "",
            MenuOffer::Menu => " You can also say menu to hear the options again.",
            MenuOffer::WithTransfer => {
                " You can also say menu to hear the options again, or to be put through to someone."
            }
        };
        Reply::Say(format!(
            "I'm sorry, I can't answer that myself: {} is running without a language model. {can}{menu} \
             What would you like to do?",
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

    #[test]
    fn goodbye_hangs_up_only_when_allowed() {
        let brain = EmbeddedBrain::new("Acme", None, true);
        assert!(matches!(brain.goodbye("OK, bye!"), Some(Reply::SayAndHangUp(_))));
        assert!(matches!(brain.goodbye("That's all, thanks"), Some(Reply::SayAndHangUp(_))));
        assert!(matches!(EmbeddedBrain::new("Acme", None, false).goodbye("goodbye"), Some(Reply::Say(_))));
        assert_eq!(brain.goodbye("I want to buy a byte"), None);
    }

    #[test]
    fn answers_from_knowledge_or_says_why_not_and_what_it_can_do() {
        let brain = EmbeddedBrain::new("Acme Support", None, true);
        let answer = brain.answer(Found::Answer("We open at nine.".into()), MenuOffer::WithTransfer);
        assert_eq!(answer, Reply::Say("We open at nine.".into()));
        let said = |topics: &[&str]| {
            let topics = topics.iter().map(|t| (*t).to_owned()).collect();
            let Reply::Say(text) = brain.answer(Found::Nothing { topics }, MenuOffer::None) else {
                panic!("a plain reply")
            };
            assert!(text.contains("Acme Support") && text.contains("language model"), "{text}");
            text
        };
        assert!(said(&[]).contains("take a message"));
        assert!(said(&["Opening hours"]).contains("questions about Opening hours, or take a message"));
        let three = said(&["Opening hours", "Prices", "Delivery"]);
        assert!(three.contains("questions about Opening hours, Prices and Delivery"), "{three}");
        assert!(!three.contains("menu"), "no menu, none offered");
        let offered = |menu| {
            let Reply::Say(text) = brain.answer(Found::Nothing { topics: Vec::new() }, menu) else { panic!("plain") };
            text
        };
        assert!(offered(MenuOffer::Menu).contains("say menu to hear the options again."));
        assert!(offered(MenuOffer::WithTransfer).contains("or to be put through to someone"));
    }
}
