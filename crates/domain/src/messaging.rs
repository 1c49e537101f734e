//! Contacts and their conversations (Centerfy, in our conventions): the
//! channels a message can travel on, who sent it, how a conversation id maps
//! to its contact, the rules on contact fields, and how a call reads as a
//! message of the conversation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::validation::FieldErrors;

/// The channel a message travelled on; `call` only appears in history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Sms,
    Email,
    Whatsapp,
    Facebook,
    Instagram,
    Call,
}

impl Channel {
    pub const SENDABLE: &'static [Channel] =
        &[Channel::Sms, Channel::Email, Channel::Whatsapp, Channel::Facebook, Channel::Instagram];

    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Email => "email",
            Channel::Whatsapp => "whatsapp",
            Channel::Facebook => "facebook",
            Channel::Instagram => "instagram",
            Channel::Call => "call",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::SENDABLE.iter().copied().chain([Channel::Call]).find(|c| c.as_str() == s)
    }

    /// Which contact field a message on this channel is addressed to.
    pub const fn address(self) -> Address {
        match self {
            Channel::Email => Address::Email,
            Channel::Sms | Channel::Whatsapp | Channel::Call => Address::Phone,
            Channel::Facebook | Channel::Instagram => Address::PhoneOrEmail,
        }
    }

    /// The longest message content accepted on this channel, in characters.
    pub const fn max_chars(self) -> usize {
        match self {
            Channel::Sms => crate::sms::MAX_MESSAGE_CHARS,
            Channel::Email => 20_000,
            Channel::Whatsapp | Channel::Facebook | Channel::Instagram | Channel::Call => 4_096,
        }
    }
}

/// What a channel needs to reach a contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Address {
    Phone,
    Email,
    PhoneOrEmail,
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sender {
    Agent,
    Contact,
}

impl Sender {
    pub const fn as_str(self) -> &'static str {
        match self {
            Sender::Agent => "agent",
            Sender::Contact => "contact",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Sender::Agent, Sender::Contact].into_iter().find(|x| x.as_str() == s)
    }
}

const CONVERSATION_PREFIX: &str = "conv_";
const CONTACT_PREFIX: &str = "contact_";

/// A contact has exactly one conversation; its id is the contact's suffix
/// under the `conv_` prefix.
pub fn conversation_id(contact_id: &str) -> String {
    let suffix = contact_id.strip_prefix(CONTACT_PREFIX).unwrap_or(contact_id);
    format!("{CONVERSATION_PREFIX}{suffix}")
}

/// The contact a conversation id belongs to, when it has the shape of one.
pub fn contact_of_conversation(conversation_id: &str) -> Option<String> {
    conversation_id
        .strip_prefix(CONVERSATION_PREFIX)
        .filter(|s| !s.is_empty())
        .map(|suffix| format!("{CONTACT_PREFIX}{suffix}"))
}

/// An email address as stored and matched: trimmed and lowercased.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}

/// A plausible email address: `local@domain.tld`, no spaces, at most 254 characters.
pub fn check_email(email: &str) -> Result<(), String> {
    let invalid = || Err("Must be an email address.".to_owned());
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return invalid();
    }
    let Some((local, domain)) = email.rsplit_once('@') else { return invalid() };
    let labels_ok = domain.split('.').all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
    if local.is_empty() || local.contains('@') || !domain.contains('.') || !labels_ok {
        return invalid();
    }
    Ok(())
}

/// Limits of a contact's `external_ids`: at most 20, names 1–128 characters,
/// values 1–1024 (the same as caller memory's).
pub fn check_external_ids(errors: &mut FieldErrors, ids: &BTreeMap<String, String>) {
    if ids.len() > 20 {
        errors.add("external_ids", "Must have at most 20 entries.");
    }
    for (name, value) in ids {
        if name.is_empty() || name.chars().count() > 128 {
            errors.add(format!("external_ids.{name}"), "Names must be 1 to 128 characters.");
        } else if value.is_empty() || value.chars().count() > 1024 {
            errors.add(format!("external_ids.{name}"), "Values must be 1 to 1024 characters.");
        }
    }
}

/// A contact's display name: at most 200 characters, not blank.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() || name.chars().count() > 200 {
        Err("Must be 1 to 200 characters.".into())
    } else {
        Ok(())
    }
}

/// What a finished call contributes to a conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct CallOutline<'a> {
    pub inbound: bool,
    /// The call's status (`completed`, `no-answer`, ...).
    pub status: &'a str,
    pub duration_seconds: i64,
    /// `[{role, content}]` as stored.
    pub transcript: &'a Value,
    pub extracted_data: Option<&'a Value>,
}

/// The text a call shows as in a conversation: direction, outcome and
/// length, then the summary — a `summary` string of the call's extracted
/// data when the agent extracts one, otherwise the caller's first words and
/// the agent's last words from the transcript.
pub fn call_summary(call: &CallOutline<'_>) -> String {
    let direction = if call.inbound { "Inbound" } else { "Outbound" };
    let (m, s) = (call.duration_seconds / 60, call.duration_seconds % 60);
    let mut text = format!("{direction} call, {}, {m}:{s:02}.", call.status);
    let extracted = call
        .extracted_data
        .and_then(|d| d.get("summary"))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if let Some(summary) = extracted {
        text.push(' ');
        text.push_str(summary);
        return text;
    }
    let turns: Vec<(&str, &str)> = call
        .transcript
        .as_array()
        .map(|turns| {
            turns
                .iter()
                .filter_map(|t| Some((t.get("role")?.as_str()?, t.get("content")?.as_str()?.trim())))
                .filter(|(_, content)| !content.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if let Some((_, said)) = turns.iter().find(|(role, _)| *role == "user") {
        text.push_str(&format!(" Caller: \"{said}\""));
    }
    if let Some((_, said)) = turns.iter().rev().find(|(role, _)| *role == "assistant" || *role == "agent") {
        text.push_str(&format!(" Agent: \"{said}\""));
    }
    text
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn channels_round_trip_and_know_their_address() {
        for c in Channel::SENDABLE.iter().copied().chain([Channel::Call]) {
            assert_eq!(Channel::parse(c.as_str()), Some(c));
        }
        assert_eq!(Channel::parse("fax"), None);
        assert_eq!(Channel::Email.address(), Address::Email);
        assert_eq!(Channel::Whatsapp.address(), Address::Phone);
        assert_eq!(Channel::Sms.max_chars(), 160);
        assert_eq!(Sender::parse("contact"), Some(Sender::Contact));
    }

    #[test]
    fn conversations_map_to_contacts() {
        let conv = conversation_id("contact_01abc");
        assert_eq!(conv, "conv_01abc");
        assert_eq!(contact_of_conversation(&conv).as_deref(), Some("contact_01abc"));
        assert_eq!(contact_of_conversation("msg_01abc"), None);
        assert_eq!(contact_of_conversation("conv_"), None);
    }

    #[test]
    fn emails() {
        assert!(check_email("ana@example.com").is_ok());
        assert!(check_email("a.b+c@mail.example.co.uk").is_ok());
        for bad in ["", "ana", "ana@", "@example.com", "ana@example", "a na@example.com", "ana@-x.com", "a@b@c.com"] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
        assert_eq!(normalize_email(" Ana@Example.COM "), "ana@example.com");
    }

    #[test]
    fn external_ids_limits() {
        let mut errors = FieldErrors::new();
        check_external_ids(&mut errors, &BTreeMap::from([("crm".into(), "42".into())]));
        assert!(errors.is_empty());
        check_external_ids(&mut errors, &BTreeMap::from([("crm".into(), String::new())]));
        assert!(!errors.is_empty());
    }

    #[test]
    fn calls_read_as_a_summary() {
        let transcript = json!([
            {"role": "assistant", "content": "Acme, how can I help?"},
            {"role": "user", "content": "I need a refund"},
            {"role": "assistant", "content": "Done, goodbye."}
        ]);
        let call = CallOutline {
            inbound: true,
            status: "completed",
            duration_seconds: 75,
            transcript: &transcript,
            extracted_data: None,
        };
        assert_eq!(
            call_summary(&call),
            "Inbound call, completed, 1:15. Caller: \"I need a refund\" Agent: \"Done, goodbye.\""
        );
        let data = json!({"summary": "Refund approved."});
        let call = CallOutline { extracted_data: Some(&data), inbound: false, ..call };
        assert_eq!(call_summary(&call), "Outbound call, completed, 1:15. Refund approved.");
        let empty = json!([]);
        let missed = CallOutline {
            inbound: true,
            status: "no-answer",
            duration_seconds: 0,
            transcript: &empty,
            extracted_data: None,
        };
        assert_eq!(call_summary(&missed), "Inbound call, no-answer, 0:00.");
    }
}
