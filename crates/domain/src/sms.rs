//! SMS rules (Staffify §11): which sender a destination country gets, what a
//! message costs there, and the limits on the message and the sender name.

use serde::Serialize;
use utoipa::ToSchema;

use crate::money::Micros;
use crate::phone::country_of;

/// The sender name of alphanumeric messages when the request names none.
pub const DEFAULT_SENDER_NAME: &str = "Switchboard";
/// Longest message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 160;
/// Longest alphanumeric sender name, in characters.
pub const MAX_SENDER_NAME_CHARS: usize = 11;

/// Long-code price for the US and Canada: EUR 0.02.
pub const PRICE_LONG_CODE: Micros = 20_000;
/// Alphanumeric price for the UK and Australia: EUR 0.09.
pub const PRICE_UK_AU: Micros = 90_000;
/// Alphanumeric price for EU member states: EUR 0.14.
pub const PRICE_EU: Micros = 140_000;

/// The EU member states (ISO 3166-1 alpha-2).
const EU: &[&str] = &[
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU", "MT",
    "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
];

/// How the sender shows on the recipient's phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SenderType {
    /// A brand name (`sender_name`): EU, UK and Australia.
    Alphanumeric,
    /// One of the project's numbers (`from_number`): US and Canada.
    LongCode,
}

impl SenderType {
    pub const fn as_str(self) -> &'static str {
        match self {
            SenderType::Alphanumeric => "alphanumeric",
            SenderType::LongCode => "long_code",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [SenderType::Alphanumeric, SenderType::LongCode].into_iter().find(|t| t.as_str() == s)
    }
}

/// Where a message goes and how it is sent and priced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsRoute {
    /// ISO 3166-1 alpha-2 country of the destination.
    pub country: String,
    pub sender_type: SenderType,
    pub price: Micros,
}

/// The route of a message to `to`, or the message explaining why the
/// destination cannot be sent to.
pub fn route(to: &str) -> Result<SmsRoute, String> {
    let Some(country) = country_of(to) else {
        return Err(format!("Cannot determine the destination country of {to}."));
    };
    let (sender_type, price) = match country.as_str() {
        "US" | "CA" => (SenderType::LongCode, PRICE_LONG_CODE),
        "GB" | "AU" => (SenderType::Alphanumeric, PRICE_UK_AU),
        c if EU.contains(&c) => (SenderType::Alphanumeric, PRICE_EU),
        _ => {
            return Err(format!(
                "SMS to {country} is not supported: destinations are the US, Canada, the UK, Australia and the EU."
            ));
        }
    };
    Ok(SmsRoute { country, sender_type, price })
}

/// The message text: not blank, at most 160 characters.
pub fn check_message(message: &str) -> Result<(), String> {
    if message.trim().is_empty() {
        Err("Must not be empty.".into())
    } else if message.chars().count() > MAX_MESSAGE_CHARS {
        Err(format!("Must be at most {MAX_MESSAGE_CHARS} characters."))
    } else {
        Ok(())
    }
}

/// An alphanumeric sender name: 1–11 characters of ASCII letters, digits and
/// spaces, with at least one letter (carriers refuse all-digit sender ids).
pub fn check_sender_name(name: &str) -> Result<(), String> {
    let count = name.chars().count();
    if name.trim().is_empty() || count > MAX_SENDER_NAME_CHARS {
        return Err(format!("Must be 1 to {MAX_SENDER_NAME_CHARS} characters."));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ') {
        return Err("Must contain only letters, digits and spaces.".into());
    }
    if !name.chars().any(|c| c.is_ascii_alphabetic()) {
        return Err("Must contain at least one letter.".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_follow_the_destination_country() {
        let us = route("+14155550123").unwrap();
        assert_eq!((us.country.as_str(), us.sender_type, us.price), ("US", SenderType::LongCode, 20_000));
        let ca = route("+16045550123").unwrap();
        assert_eq!((ca.country.as_str(), ca.sender_type), ("CA", SenderType::LongCode));
        let gb = route("+447700900123").unwrap();
        assert_eq!((gb.country.as_str(), gb.sender_type, gb.price), ("GB", SenderType::Alphanumeric, 90_000));
        let au = route("+61406823897").unwrap();
        assert_eq!((au.country.as_str(), au.price), ("AU", 90_000));
        let nl = route("+31612345678").unwrap();
        assert_eq!((nl.country.as_str(), nl.sender_type, nl.price), ("NL", SenderType::Alphanumeric, 140_000));
        let de = route("+4915123456789").unwrap();
        assert_eq!((de.country.as_str(), de.price), ("DE", 140_000));
    }

    #[test]
    fn unknown_numbers_fall_back_to_the_codes_main_country() {
        assert_eq!(country_of("+15550100002").as_deref(), Some("US"));
    }

    #[test]
    fn other_countries_are_refused() {
        let err = route("+81312345678").unwrap_err();
        assert!(err.contains("JP is not supported"), "{err}");
        assert!(route("+41446681800").is_err(), "Switzerland is not in the EU");
    }

    #[test]
    fn message_length() {
        assert!(check_message(&"a".repeat(160)).is_ok());
        assert!(check_message(&"a".repeat(161)).is_err());
        assert!(check_message(&"é".repeat(160)).is_ok(), "characters, not bytes");
        assert!(check_message("  ").is_err());
    }

    #[test]
    fn sender_names() {
        assert!(check_sender_name(DEFAULT_SENDER_NAME).is_ok());
        assert!(check_sender_name("Acme Travel").is_ok());
        assert!(check_sender_name("Acme Travel1").is_err(), "12 characters");
        assert!(check_sender_name("Acme-Travel").is_err());
        assert!(check_sender_name("12345").is_err());
        assert!(check_sender_name("").is_err());
    }

    #[test]
    fn sender_types_round_trip() {
        for t in [SenderType::Alphanumeric, SenderType::LongCode] {
            assert_eq!(SenderType::parse(t.as_str()), Some(t));
        }
    }
}
