//! Digit-string matchers: `numeric` (the same number) and `last_4_digits`.

use super::numbers::spoken_to_digits;

/// `numeric`: both texts hold the same number once spoken numbers are turned into digits and
/// spaces, dashes and dots are dropped. The comparison is numeric, so leading zeros do not
/// count ("007" = "7"). A text without any digits never matches.
pub(crate) fn same_number(expected: &str, answer: &str) -> bool {
    let expected = spoken_to_digits(expected);
    let answer = spoken_to_digits(answer);
    !expected.is_empty() && !answer.is_empty() && without_leading_zeros(&expected) == without_leading_zeros(&answer)
}

/// `last_4_digits`: the last four digits of both texts agree. Both need at least four digits.
pub(crate) fn same_last_four(expected: &str, answer: &str) -> bool {
    match (last_four(&spoken_to_digits(expected)), last_four(&spoken_to_digits(answer))) {
        (Some(expected), Some(answer)) => expected == answer,
        _ => false,
    }
}

/// The last four digits, if there are four. `digits` holds ASCII digits only.
pub(crate) fn last_four(digits: &str) -> Option<&str> {
    digits.len().checked_sub(4).and_then(|start| digits.get(start..))
}

fn without_leading_zeros(digits: &str) -> &str {
    let trimmed = digits.trim_start_matches('0');
    if trimmed.is_empty() { "0" } else { trimmed }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_four_of_digit_strings() {
        assert_eq!(last_four("4111111111111234"), Some("1234"));
        assert_eq!(last_four("1234"), Some("1234"));
        assert_eq!(last_four("123"), None);
        assert_eq!(last_four(""), None);
    }

    #[test]
    fn leading_zeros_are_not_significant() {
        assert_eq!(without_leading_zeros("007"), "7");
        assert_eq!(without_leading_zeros("000"), "0");
        assert_eq!(without_leading_zeros("100"), "100");
    }
}
