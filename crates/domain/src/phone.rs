//! Phone numbers and keypad digits, parsed once where they enter the system: a
//! value of these types is valid, so nothing downstream checks it again.

use std::fmt;

/// What a field that must hold an E.164 number says when it does not.
pub const E164_PROBLEM: &str = "Must be a valid E.164 phone number.";
/// What a field that must hold a keypad digit says when it does not.
pub const DTMF_PROBLEM: &str = "Must be one of 0-9, * or #.";

/// An E.164 phone number: `+`, a non-zero digit, then 6 to 14 more digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct E164(String);

impl E164 {
    pub fn parse(value: &str) -> Option<Self> {
        let digits = value.strip_prefix('+')?;
        let valid =
            (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0');
        valid.then(|| E164(value.to_owned()))
    }

    /// The number with spaces, dashes, dots and parentheses removed, when the
    /// rest is E.164 (`+1 (415) 555-1234` → `+14155551234`).
    pub fn parse_loose(raw: &str) -> Option<Self> {
        let compact: String = raw.chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')')).collect();
        Self::parse(&compact)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One keypad key: `0`–`9`, `*` or `#`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dtmf(char);

impl Dtmf {
    pub fn parse(key: char) -> Option<Self> {
        (key.is_ascii_digit() || key == '*' || key == '#').then_some(Dtmf(key))
    }

    /// A text of exactly one key.
    pub fn parse_one(text: &str) -> Option<Self> {
        let mut keys = text.chars();
        match (keys.next(), keys.next()) {
            (Some(key), None) => Self::parse(key),
            _ => None,
        }
    }

    /// A non-empty text of keys, each valid.
    pub fn parse_all(text: &str) -> Option<Vec<Self>> {
        (!text.is_empty()).then(|| text.chars().map(Self::parse).collect()).flatten()
    }

    pub fn as_char(self) -> char {
        self.0
    }
}

impl fmt::Display for Dtmf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The country of an E.164 number: the region the numbering plan
/// places it in, or the main region of its country code when the number is
/// not one the plan knows (e.g. a fictional `+1 555 01xx` number is `US`).
pub fn country_of(e164: &str) -> Option<String> {
    let parsed = phonenumber::parse(None, e164).ok()?;
    if let Some(id) = parsed.country().id() {
        return Some(id.as_ref().to_owned());
    }
    let regions = phonenumber::metadata::DATABASE.region(&parsed.country().code())?;
    regions.first().map(|r| (*r).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_numbers() {
        for ok in ["+31612345678", "+15550100002", "+4930123456"] {
            assert_eq!(E164::parse(ok).map(|n| n.to_string()), Some(ok.to_owned()));
        }
        for bad in ["31612345678", "+0612345678", "+316", "+31 6 1234 5678", "+1234567890123456", ""] {
            assert_eq!(E164::parse(bad), None, "{bad}");
        }
        assert_eq!(E164::parse_loose("+1 (415) 555-1234").map(E164::into_string), Some("+14155551234".into()));
        assert_eq!(E164::parse_loose("0612-345678"), None);
    }

    #[test]
    fn keypad_keys() {
        assert_eq!(Dtmf::parse('#').map(Dtmf::as_char), Some('#'));
        assert_eq!(Dtmf::parse('a'), None);
        assert!(Dtmf::parse_one("*").is_some());
        assert_eq!(Dtmf::parse_one("12"), None);
        assert_eq!(Dtmf::parse_one(""), None);
        assert_eq!(Dtmf::parse_all("12#").map(|k| k.len()), Some(3));
        assert_eq!(Dtmf::parse_all("12a"), None);
        assert_eq!(Dtmf::parse_all(""), None);
    }

    #[test]
    fn countries_come_from_the_number() {
        assert_eq!(country_of("+14155550100").as_deref(), Some("US"));
        assert_eq!(country_of("+31201234567").as_deref(), Some("NL"));
        assert_eq!(country_of("not a number"), None);
    }
}
