//! IVR menus: a prompt and options chosen by keypad digit or by spoken word, each
//! leading to something said, a transfer, a hang-up, a submenu, or the AI.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::phone::{DTMF_PROBLEM, Dtmf, E164, E164_PROBLEM};

/// A menu the caller hears and answers with a digit or a word.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IvrMenu {
    /// What the caller hears, e.g. "Press 1 or say sales for sales…".
    pub prompt: String,
    pub options: Vec<IvrOption>,
    /// Seconds to wait for a choice before the prompt is repeated; default 8.
    #[serde(default = "default_timeout")]
    #[schema(minimum = 2, maximum = 60)]
    pub timeout_seconds: u64,
    /// How many times the prompt is repeated without a choice before the call
    /// is handed to the AI; default 2.
    #[serde(default = "default_repeats")]
    #[schema(maximum = 5)]
    pub max_repeats: u32,
    /// Said when the input matches no option; default "Sorry, I didn't get that.".
    #[serde(default)]
    pub invalid_message: Option<String>,
}

/// One choice of a menu.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IvrOption {
    /// The key that picks this option: 0–9, `*` or `#`.
    #[serde(default)]
    pub digit: Option<String>,
    /// Spoken words or phrases that pick this option ("sales", "opening hours").
    #[serde(default)]
    pub words: Vec<String>,
    /// Said first, whatever the action.
    #[serde(default)]
    pub say: Option<String>,
    pub action: IvrAction,
    /// The E.164 number of a `transfer`.
    #[serde(default)]
    pub destination: Option<String>,
    /// The menu of a `submenu`.
    #[serde(default)]
    #[schema(no_recursion)]
    pub menu: Option<Box<IvrMenu>>,
}

/// What choosing an option does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IvrAction {
    /// Say `say`, then play this menu again.
    Say,
    /// Transfer the call to `destination`.
    Transfer,
    /// Say `say` (if any) and hang up.
    Hangup,
    /// Go to `menu`.
    Submenu,
    /// Hand the call to the AI agent.
    Agent,
}

fn default_timeout() -> u64 {
    8
}

fn default_repeats() -> u32 {
    2
}

/// What the caller did in answer to a menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IvrInput<'a> {
    Digit(char),
    Speech(&'a str),
}

const DIGIT_WORDS: &[(&str, char)] = &[
    ("zero", '0'),
    ("oh", '0'),
    ("one", '1'),
    ("two", '2'),
    ("three", '3'),
    ("four", '4'),
    ("five", '5'),
    ("six", '6'),
    ("seven", '7'),
    ("eight", '8'),
    ("nine", '9'),
];

fn words_of(text: &str) -> Vec<String> {
    text.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_owned).collect()
}

/// Whether the spoken words contain `phrase` as consecutive words.
fn contains_phrase(spoken: &[String], phrase: &str) -> bool {
    let phrase = words_of(phrase);
    !phrase.is_empty() && spoken.windows(phrase.len()).any(|w| w == phrase.as_slice())
}

impl IvrMenu {
    /// The option the input picks: a key press by its digit; speech by one of
    /// the option's words or phrases, or by a spoken or written digit
    /// ("two", "2", "option two").
    pub fn choose(&self, input: IvrInput<'_>) -> Option<&IvrOption> {
        match input {
            IvrInput::Digit(d) => self.by_digit(d),
            IvrInput::Speech(text) => {
                let spoken = words_of(text);
                self.options
                    .iter()
                    .find(|o| o.words.iter().any(|w| contains_phrase(&spoken, w)))
                    .or_else(|| spoken.iter().find_map(|w| spoken_digit(w)).and_then(|d| self.by_digit(d)))
            }
        }
    }

    fn by_digit(&self, digit: char) -> Option<&IvrOption> {
        self.options.iter().find(|o| o.digit.as_deref().is_some_and(|d| d.chars().eq(std::iter::once(digit))))
    }

    pub fn invalid_message(&self) -> &str {
        self.invalid_message.as_deref().unwrap_or("Sorry, I didn't get that.")
    }

    /// Checks the menu and its submenus; returns field → message for the first
    /// problems found, paths like `options[1].destination`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        self.collect_problems("", 0, &mut problems);
        problems
    }

    fn collect_problems(&self, at: &str, depth: usize, problems: &mut Vec<(String, String)>) {
        if depth > 5 {
            problems.push((format!("{at}menu"), "Menus nest at most 5 deep.".into()));
            return;
        }
        if self.prompt.trim().is_empty() {
            problems.push((format!("{at}prompt"), "Must not be empty.".into()));
        }
        if self.options.is_empty() || self.options.len() > 12 {
            problems.push((format!("{at}options"), "Must have 1 to 12 options.".into()));
        }
        if !(2..=60).contains(&self.timeout_seconds) {
            problems.push((format!("{at}timeout_seconds"), "Must be between 2 and 60.".into()));
        }
        if self.max_repeats > 5 {
            problems.push((format!("{at}max_repeats"), "Must be at most 5.".into()));
        }
        let mut digits = Vec::new();
        for (i, option) in self.options.iter().enumerate() {
            let here = format!("{at}options[{i}].");
            if let Some(digit) = &option.digit {
                if Dtmf::parse_one(digit).is_none() {
                    problems.push((format!("{here}digit"), DTMF_PROBLEM.into()));
                } else if digits.contains(digit) {
                    problems.push((format!("{here}digit"), "Used by another option.".into()));
                } else {
                    digits.push(digit.clone());
                }
            } else if option.words.is_empty() {
                problems.push((format!("{here}digit"), "An option needs a digit or words.".into()));
            }
            match option.action {
                IvrAction::Transfer if option.destination.as_deref().and_then(E164::parse).is_none() => {
                    problems.push((format!("{here}destination"), E164_PROBLEM.into()));
                }
                IvrAction::Submenu => match &option.menu {
                    Some(menu) => menu.collect_problems(&format!("{here}menu."), depth + 1, problems),
                    None => problems.push((format!("{here}menu"), "A submenu option needs a menu.".into())),
                },
                IvrAction::Say if option.say.as_deref().is_none_or(|s| s.trim().is_empty()) => {
                    problems.push((format!("{here}say"), "A say option needs something to say.".into()));
                }
                _ => {}
            }
        }
    }
}

fn spoken_digit(word: &str) -> Option<char> {
    let mut chars = word.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii_digit() => Some(c),
        _ => DIGIT_WORDS.iter().find(|(w, _)| *w == word).map(|(_, d)| *d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn menu() -> IvrMenu {
        serde_json::from_value(serde_json::json!({
            "prompt": "Press 1 or say sales; 2 or say support; 3 for opening hours.",
            "options": [
                {"digit": "1", "words": ["sales", "buy something"], "action": "transfer", "destination": "+31850000001"},
                {"digit": "2", "words": ["support"], "action": "agent"},
                {"digit": "3", "words": ["opening hours"], "action": "say", "say": "We are open nine to five."},
                {"digit": "9", "action": "hangup", "say": "Goodbye."}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn digits_pick_options() {
        let m = menu();
        assert_eq!(m.choose(IvrInput::Digit('2')).map(|o| o.action), Some(IvrAction::Agent));
        assert_eq!(m.choose(IvrInput::Digit('9')).map(|o| o.action), Some(IvrAction::Hangup));
        assert!(m.choose(IvrInput::Digit('5')).is_none());
        assert_eq!(m.timeout_seconds, 8);
        assert_eq!(m.max_repeats, 2);
    }

    #[test]
    fn speech_picks_by_words_phrases_or_spoken_digits() {
        let m = menu();
        let pick = |s: &str| m.choose(IvrInput::Speech(s)).and_then(|o| o.digit.clone());
        assert_eq!(pick("Sales please").as_deref(), Some("1"));
        assert_eq!(pick("I'd like to buy something").as_deref(), Some("1"));
        assert_eq!(pick("what are your opening hours?").as_deref(), Some("3"));
        assert_eq!(pick("option two").as_deref(), Some("2"));
        assert_eq!(pick("3").as_deref(), Some("3"));
        assert_eq!(pick("hours"), None, "a phrase needs all its words");
        assert_eq!(pick("salesforce integration"), None, "whole words only");
        assert_eq!(pick("nothing relevant"), None);
    }

    #[test]
    fn problems_name_the_bad_fields() {
        assert!(menu().problems().is_empty());
        let bad: IvrMenu = serde_json::from_value(serde_json::json!({
            "prompt": " ",
            "timeout_seconds": 1,
            "max_repeats": 6,
            "options": [
                {"digit": "1", "action": "transfer", "destination": "0612"},
                {"digit": "1", "action": "agent"},
                {"digit": "12", "action": "agent"},
                {"words": [], "action": "hangup"},
                {"digit": "4", "action": "submenu"},
                {"digit": "5", "action": "say"},
                {"digit": "6", "action": "submenu", "menu": {"prompt": "x", "options": []}}
            ]
        }))
        .unwrap();
        let fields: Vec<String> = bad.problems().into_iter().map(|(f, _)| f).collect();
        for expected in [
            "prompt",
            "timeout_seconds",
            "max_repeats",
            "options[0].destination",
            "options[1].digit",
            "options[2].digit",
            "options[3].digit",
            "options[4].menu",
            "options[5].say",
            "options[6].menu.options",
        ] {
            assert!(fields.contains(&expected.to_owned()), "{expected} in {fields:?}");
        }
    }
}
