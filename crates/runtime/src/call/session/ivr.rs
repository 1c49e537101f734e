//! An IVR menu in a call: played before the AI when `call.started` returns one;
//! digits and spoken words pick options; silence or a wrong choice repeats the
//! prompt, and after `max_repeats` the call goes to the AI.

use std::time::Duration;

use serde_json::json;
use switchboard_domain::call::EndedReason;
use switchboard_domain::ivr::{IvrAction, IvrInput, IvrMenu, IvrOption};

use super::Session;
use crate::call::embedded::MenuOffer;

/// The menu the caller is in.
pub(super) struct IvrState {
    menu: IvrMenu,
    /// Prompts played without a valid choice.
    misses: u32,
    /// When the caller's time to choose runs out (real time since the
    /// session started); armed once the prompt has been played.
    pub(super) deadline: Option<Duration>,
}

impl IvrState {
    pub(super) fn new(menu: IvrMenu) -> Self {
        Self { menu, misses: 0, deadline: None }
    }
}

impl Session {
    /// Plays the current menu's prompt.
    pub(super) fn play_menu(&mut self) {
        let Some(prompt) = self.ivr.as_ref().map(|state| state.menu.prompt.clone()) else { return };
        if let Some(state) = &mut self.ivr {
            state.deadline = None;
        }
        self.say(&prompt);
    }

    /// The prompt finished: the caller's time to choose starts.
    pub(super) fn arm_menu(&mut self) {
        let Some(seconds) = self.ivr.as_ref().map(|state| state.menu.timeout_seconds) else { return };
        let deadline = self.deadline(Duration::from_secs(seconds));
        if let Some(state) = &mut self.ivr {
            state.deadline = Some(deadline);
        }
    }

    /// The caller started speaking: the menu waits for what they say instead
    /// of timing out under them.
    pub(super) fn hold_menu(&mut self) {
        if let Some(state) = &mut self.ivr {
            state.deadline = None;
        }
    }

    /// A digit or an utterance while the menu is active.
    pub(super) fn ivr_input(&mut self, input: IvrInput<'_>) {
        let Some(state) = &self.ivr else { return };
        let Some(option) = state.menu.choose(input).cloned() else {
            let message = state.menu.invalid_message().to_owned();
            self.missed(Some(message));
            return;
        };
        let choice = match input {
            IvrInput::Digit(d) => json!({"digit": d.to_string()}),
            IvrInput::Speech(text) => json!({"speech": text}),
        };
        self.ivr_path
            .push(json!({"option": option.digit.clone().or_else(|| option.words.first().cloned()), "input": choice}));
        self.choose(option);
    }

    /// No valid choice in time (or a wrong one): repeat, or give up on the menu.
    pub(super) fn missed(&mut self, message: Option<String>) {
        let Some(state) = &mut self.ivr else { return };
        state.misses += 1;
        state.deadline = None;
        if state.misses > state.menu.max_repeats {
            self.leave_menu(None);
            return;
        }
        if let Some(message) = message {
            self.say(&message);
        }
        self.play_menu();
    }

    fn choose(&mut self, option: IvrOption) {
        match option.action {
            IvrAction::Say => {
                if let Some(text) = option.say {
                    self.say(&text);
                }
                if let Some(state) = &mut self.ivr {
                    state.misses = 0;
                }
                self.play_menu();
            }
            IvrAction::Submenu => {
                if let Some(text) = option.say {
                    self.say(&text);
                }
                if let Some(menu) = option.menu {
                    self.ivr = Some(IvrState::new(*menu));
                }
                self.play_menu();
            }
            IvrAction::Transfer => {
                self.ivr = None;
                if let Some(text) = option.say {
                    self.say(&text);
                }
                if let Some(destination) = option.destination {
                    self.begin_transfer(destination, None);
                }
            }
            IvrAction::Hangup => {
                self.ivr = None;
                match option.say {
                    Some(text) => {
                        self.say(&text);
                        self.hang_up_when_done = true;
                    }
                    None => self.end_by_agent(EndedReason::AgentHangup),
                }
            }
            IvrAction::Agent => self.leave_menu(option.say),
        }
    }

    /// The caller asked for the menu again: the top menu plays, fresh.
    pub(super) fn reopen_menu(&mut self) {
        if let Some(menu) = self.menu.clone() {
            self.ivr = Some(IvrState::new(menu));
            self.play_menu();
        }
    }

    /// What the embedded brain can offer beside its knowledge: the menu, and
    /// through it a person, when the call has one.
    pub(super) fn menu_offer(&self) -> MenuOffer {
        match &self.menu {
            None => MenuOffer::None,
            Some(menu) if menu.options.iter().any(|o| o.action == IvrAction::Transfer) => MenuOffer::WithTransfer,
            Some(_) => MenuOffer::Menu,
        }
    }

    /// Hands the call to the AI, which greets the caller (`say` or its greeting).
    fn leave_menu(&mut self, say: Option<String>) {
        self.ivr = None;
        let greeting = say.unwrap_or_else(|| self.brain.greeting());
        self.engage_brain(&greeting);
        self.say(&greeting);
    }
}

/// Whether an utterance asks to hear the menu again: a short request naming
/// it ("menu", "main menu, please", "back to the menu"), not a question about
/// one ("what's on the menu?").
pub(super) fn asks_for_menu(text: &str) -> bool {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric() && c != '\'').filter(|w| !w.is_empty()).collect();
    let asking = ["what", "what's", "whats", "which", "is", "does", "do", "on"];
    words.len() <= 5 && words.contains(&"menu") && !words.iter().any(|w| asking.contains(w))
}

#[cfg(test)]
mod tests {
    use super::asks_for_menu;

    #[test]
    fn a_short_request_for_the_menu_is_one_and_a_question_about_it_is_not() {
        for yes in ["Menu", "main menu, please", "Back to the menu.", "the menu again"] {
            assert!(asks_for_menu(yes), "{yes}");
        }
        for no in [
            "What's on the menu?",
            "Is the lunch menu vegan?",
            "I'd like to order something",
            "menu menu menu menu menu menu",
        ] {
            assert!(!asks_for_menu(no), "{no}");
        }
    }
}
