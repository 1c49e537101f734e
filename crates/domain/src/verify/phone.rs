//! Phone numbers: international prefixes (+31, +32, +49, +44, +1 and `00`) turned into the
//! national form ("+31 6 1234 5678" → "0612345678", "+1 415 555 0100" → "4155550100").

use super::numbers::spoken_to_digits;

/// A phone number reduced to what is compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PhoneNumber {
    /// Country calling code, when the number was given in international form.
    pub country: Option<u16>,
    /// The number as dialled inside its country (with trunk prefix 0 in NL/BE/DE/UK; the
    /// 10-digit national number in the US). For an international number of a country we cannot
    /// convert this holds the digits after the country code.
    pub national: String,
    /// Whether `national` really is the national form (false for unconvertible countries).
    pub convertible: bool,
}

/// `phone_number`: whether both texts name the same phone number. When both carry a country
/// code the codes must agree; otherwise the national forms are compared.
pub(crate) fn same_phone_number(expected: &str, answer: &str) -> bool {
    let (Some(expected), Some(answer)) = (parse_phone(expected), parse_phone(answer)) else {
        return false;
    };
    match (expected.country, answer.country) {
        (Some(a), Some(b)) => a == b && expected.national == answer.national,
        _ => expected.convertible && answer.convertible && expected.national == answer.national,
    }
}

/// Reads a written or spoken phone number. `None` if it holds no digits.
pub(crate) fn parse_phone(text: &str) -> Option<PhoneNumber> {
    let (plus, rest) = strip_plus(text);
    let digits = spoken_to_digits(rest);
    if digits.is_empty() {
        return None;
    }
    if plus {
        return Some(international(&digits));
    }
    if let Some(after) = digits.strip_prefix("00") {
        return Some(international(after));
    }
    Some(national(digits))
}

/// Removes a leading "+" (also inside a bracket, "(+31)") or spoken "plus".
fn strip_plus(text: &str) -> (bool, &str) {
    let trimmed = text.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
    if let Some(rest) = trimmed.strip_prefix('+') {
        return (true, rest);
    }
    let lower = trimmed.get(..5).map(str::to_ascii_lowercase);
    match lower.as_deref() {
        Some("plus ") => (true, &trimmed[5..]),
        _ => (false, text),
    }
}

/// A number written without a country code. Eleven digits starting with 1 is a US number with
/// its country code but without the "+".
fn national(digits: String) -> PhoneNumber {
    let national = match digits.strip_prefix('1') {
        Some(rest) if digits.len() == 11 => rest.to_owned(),
        _ => digits,
    };
    PhoneNumber { country: None, national, convertible: true }
}

/// Country codes whose numbers are turned into their national form by rule.
const KNOWN_COUNTRIES: [(&str, u16); 5] = [("31", 31), ("32", 32), ("44", 44), ("49", 49), ("1", 1)];

/// A number given after "+" or "00".
fn international(digits: &str) -> PhoneNumber {
    for (prefix, country) in KNOWN_COUNTRIES {
        if let Some(subscriber) = digits.strip_prefix(prefix) {
            return PhoneNumber {
                country: Some(country),
                national: national_form(country, subscriber),
                convertible: true,
            };
        }
    }
    other_country(digits)
}

/// The national form: the 10-digit number in the US, otherwise trunk prefix 0 and the
/// subscriber number. A "(0)" written after the country code ("+31 (0)6 …") is not doubled.
fn national_form(country: u16, subscriber: &str) -> String {
    if country == 1 {
        return subscriber.to_owned();
    }
    let significant = subscriber.strip_prefix('0').unwrap_or(subscriber);
    format!("0{significant}")
}

/// The longest international number (ITU-T E.164).
const MAX_E164_DIGITS: usize = 15;

/// Any other country: `phonenumber` finds the country code and, for a valid number, the national
/// form; otherwise only the full international number can be compared.
fn other_country(digits: &str) -> PhoneNumber {
    let parsed =
        (digits.len() <= MAX_E164_DIGITS).then(|| phonenumber::parse(None, format!("+{digits}")).ok()).flatten();
    match parsed {
        Some(number) if phonenumber::is_valid(&number) => {
            let formatted = number.format().mode(phonenumber::Mode::National).to_string();
            PhoneNumber {
                country: Some(number.country().code()),
                national: formatted.chars().filter(char::is_ascii_digit).collect(),
                convertible: true,
            }
        }
        Some(number) => PhoneNumber {
            country: Some(number.country().code()),
            national: number.national().value().to_string(),
            convertible: false,
        },
        None => PhoneNumber { country: Some(0), national: digits.to_owned(), convertible: false },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn national_of(text: &str) -> Option<String> {
        parse_phone(text).map(|p| p.national)
    }

    #[test]
    fn international_prefixes_become_national() {
        assert_eq!(national_of("+31 6 12345678").as_deref(), Some("0612345678"));
        assert_eq!(national_of("0031 6 12345678").as_deref(), Some("0612345678"));
        assert_eq!(national_of("+31 (0)6 12345678").as_deref(), Some("0612345678"));
        assert_eq!(national_of("+32 470 12 34 56").as_deref(), Some("0470123456"));
        assert_eq!(national_of("+49 30 1234567").as_deref(), Some("0301234567"));
        assert_eq!(national_of("+44 20 7946 0958").as_deref(), Some("02079460958"));
        assert_eq!(national_of("+1 (415) 555-0100").as_deref(), Some("4155550100"));
        assert_eq!(national_of("1-415-555-0100").as_deref(), Some("4155550100"));
        assert_eq!(national_of("(+31) 6 12345678").as_deref(), Some("0612345678"));
    }

    #[test]
    fn spoken_numbers() {
        assert_eq!(national_of("oh six one two three four five six seven eight").as_deref(), Some("0612345678"));
        assert_eq!(
            national_of("plus three one six double one two two three three four four").as_deref(),
            Some("0611223344")
        );
        assert_eq!(parse_phone("plus three one six").map(|p| p.country), Some(Some(31)));
    }

    #[test]
    fn other_countries_use_phonenumber() {
        let french = parse_phone("+33 6 12 34 56 78");
        assert_eq!(french.as_ref().map(|p| p.country), Some(Some(33)));
        assert_eq!(french.map(|p| p.national).as_deref(), Some("0612345678"));
        let unknown = parse_phone("+999 1234");
        assert_eq!(unknown.as_ref().map(|p| p.convertible), Some(false));
        let too_long = parse_phone(&format!("+7{}", "1".repeat(40)));
        assert_eq!(too_long.map(|p| p.convertible), Some(false));
    }

    #[test]
    fn no_digits_is_no_number() {
        assert_eq!(parse_phone("no idea"), None);
        assert_eq!(parse_phone(""), None);
    }
}
