//! Fuzzy matching of what a caller said against a stored value (`POST /v1/verify`).
//!
//! [`verify`] compares the known correct value (`expected`) with the speech-to-text transcript
//! of the caller's answer using one of seven [`MatchType`] strategies. Everything here is pure.

mod alphanumeric;
mod dates;
mod digits;
mod email;
mod numbers;
mod phone;
mod phonetic;
mod text;

#[cfg(test)]
mod table_tests;

/// How `expected` and `answer` are compared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchType {
    /// Names and words: Soundex plus a length-dependent Levenshtein budget; e-mail addresses
    /// with spoken "at"/"dot".
    #[default]
    Phonetic,
    /// The same number, spoken or written ("one two three four" = "1234").
    Numeric,
    /// The same code, case-insensitive, ignoring spaces and dashes ("A B one two three" = "AB123").
    Alphanumeric,
    /// Like `alphanumeric` but one edit apart is still a match (E↔C, B↔D confusions).
    AlphanumericFuzzy,
    /// The same calendar date in any common spoken or written form.
    FuzzyDate,
    /// The last four digits agree.
    #[serde(rename = "last_4_digits")]
    Last4Digits,
    /// The same phone number, international or national form.
    PhoneNumber,
}

impl MatchType {
    pub const ALL: [MatchType; 7] = [
        MatchType::Phonetic,
        MatchType::Numeric,
        MatchType::Alphanumeric,
        MatchType::AlphanumericFuzzy,
        MatchType::FuzzyDate,
        MatchType::Last4Digits,
        MatchType::PhoneNumber,
    ];

    /// The wire name, as in the request body and the response.
    pub const fn as_str(self) -> &'static str {
        match self {
            MatchType::Phonetic => "phonetic",
            MatchType::Numeric => "numeric",
            MatchType::Alphanumeric => "alphanumeric",
            MatchType::AlphanumericFuzzy => "alphanumeric_fuzzy",
            MatchType::FuzzyDate => "fuzzy_date",
            MatchType::Last4Digits => "last_4_digits",
            MatchType::PhoneNumber => "phone_number",
        }
    }

    /// The strategy with this wire name (exact, lower-case).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// Inputs longer than this many characters never verify (a spoken answer is short; this keeps
/// the quadratic comparisons cheap).
pub const MAX_INPUT_CHARS: usize = 1_000;

/// Whether `answer` (what the caller said) matches `expected` (the known correct value) under
/// `match_type`. Empty or over-long inputs never match.
pub fn verify(expected: &str, answer: &str, match_type: MatchType) -> bool {
    if !usable(expected) || !usable(answer) {
        return false;
    }
    match match_type {
        MatchType::Phonetic => phonetic::sounds_like(expected, answer),
        MatchType::Numeric => digits::same_number(expected, answer),
        MatchType::Alphanumeric => alphanumeric::same_code(expected, answer),
        MatchType::AlphanumericFuzzy => alphanumeric::nearly_same_code(expected, answer),
        MatchType::FuzzyDate => dates::same_date(expected, answer),
        MatchType::Last4Digits => digits::same_last_four(expected, answer),
        MatchType::PhoneNumber => phone::same_phone_number(expected, answer),
    }
}

fn usable(input: &str) -> bool {
    !input.trim().is_empty() && input.chars().count() <= MAX_INPUT_CHARS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for m in MatchType::ALL {
            assert_eq!(MatchType::parse(m.as_str()), Some(m));
            let json = serde_json::to_string(&m).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", m.as_str()));
            let back: Option<MatchType> = serde_json::from_str(&json).ok();
            assert_eq!(back, Some(m));
        }
        let names = MatchType::ALL.map(MatchType::as_str);
        assert_eq!(
            names,
            [
                "phonetic",
                "numeric",
                "alphanumeric",
                "alphanumeric_fuzzy",
                "fuzzy_date",
                "last_4_digits",
                "phone_number"
            ]
        );
        assert_eq!(MatchType::parse("Phonetic"), None);
        assert_eq!(MatchType::parse("last4_digits"), None);
        assert_eq!(MatchType::default(), MatchType::Phonetic);
    }

    #[test]
    fn empty_and_oversized_inputs_never_match() {
        for m in MatchType::ALL {
            assert!(!verify("", "", m), "{m:?}");
            assert!(!verify("   ", "   ", m), "{m:?}");
        }
        let long = "1".repeat(MAX_INPUT_CHARS + 1);
        assert!(!verify(&long, &long, MatchType::Numeric));
        let fits = "1".repeat(MAX_INPUT_CHARS);
        assert!(verify(&fits, &fits, MatchType::Numeric));
    }
}
