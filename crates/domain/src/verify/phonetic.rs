//! Names and words that sound alike: Soundex plus a Levenshtein budget that grows with length
//! ("Smith" ≈ "Smyth", "Jon" ≈ "John", not "Smith" ≈ "Schmidt").

use rphonetic::{Encoder, Soundex};

use super::email;
use super::text::{fold_accents, is_hesitation};

/// `phonetic`: e-mail addresses are compared by [`email::same_email`]; anything else matches
/// when it is equal after clean-up, or when it is within the edit budget *and* every word has a
/// compatible Soundex code.
pub(crate) fn sounds_like(expected: &str, answer: &str) -> bool {
    if expected.contains('@') {
        return email::same_email(expected, answer);
    }
    let expected_words = name_words(expected);
    let answer_words = name_words(answer);
    if expected_words.is_empty() || answer_words.is_empty() {
        return false;
    }
    let expected_joined = expected_words.concat();
    let answer_joined = answer_words.concat();
    if expected_joined == answer_joined {
        return true;
    }
    if !has_letters(&expected_joined) || !has_letters(&answer_joined) {
        return false;
    }
    let budget = allowed_edits(expected_joined.chars().count());
    strsim::levenshtein(&expected_joined, &answer_joined) <= budget && words_sound_alike(&expected_words, &answer_words)
}

/// The edit budget for an expected value of `len` characters: 2 up to 5, 3 up to 10, and
/// ⌊0.4 · len⌋ beyond.
pub(crate) fn allowed_edits(len: usize) -> usize {
    match len {
        0..=5 => 2,
        6..=10 => 3,
        _ => len * 2 / 5,
    }
}

/// Lower-case words: accents folded, apostrophes dropped ("O'Brien" → "obrien"), split at
/// anything else that is not a letter or digit, hesitations removed. Letters outside the Latin
/// alphabet are kept (they can still match exactly; Soundex ignores them).
pub(crate) fn name_words(text: &str) -> Vec<String> {
    fold_accents(&text.to_lowercase())
        .replace(['\'', '\u{2019}'], "")
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !is_hesitation(w))
        .map(str::to_owned)
        .collect()
}

fn has_letters(text: &str) -> bool {
    text.chars().any(char::is_alphabetic)
}

/// Word by word when both have as many words, otherwise as one run of letters (so "Mary Ann"
/// can match "Marianne" and a spelled-out "S M I T H" can match "Smith").
fn words_sound_alike(expected: &[String], answer: &[String]) -> bool {
    if expected.len() == answer.len() {
        expected.iter().zip(answer).all(|(e, a)| soundex_compatible(e, a))
    } else {
        soundex_compatible(&expected.concat(), &answer.concat())
    }
}

/// Same Soundex code, or the same code after a first letter that sounds alike
/// ("Catherine"/"Katherine", "Philips"/"Filips", "Ellen"/"Allen").
pub(crate) fn soundex_compatible(a: &str, b: &str) -> bool {
    let (code_a, code_b) = (soundex(a), soundex(b));
    if code_a.is_empty() || code_b.is_empty() {
        return code_a == code_b && a == b;
    }
    if code_a == code_b {
        return true;
    }
    let (first_a, rest_a) = split_first(&code_a);
    let (first_b, rest_b) = split_first(&code_b);
    rest_a == rest_b && initials_sound_alike(first_a, first_b)
}

/// The Soundex code of the letters of `word` ("PH" at the start read as "F"); empty if it has
/// no letters.
pub(crate) fn soundex(word: &str) -> String {
    let letters: String = word.chars().filter(char::is_ascii_alphabetic).collect();
    let letters = letters.to_ascii_uppercase();
    let letters = match letters.strip_prefix("PH") {
        Some(rest) => format!("F{rest}"),
        None => letters,
    };
    if letters.is_empty() {
        return String::new();
    }
    Soundex::default().encode(&letters)
}

fn split_first(code: &str) -> (char, &str) {
    let mut chars = code.chars();
    let first = chars.next().unwrap_or(' ');
    (first, chars.as_str())
}

/// First letters a listener or a speech recogniser easily confuses.
const ALIKE_INITIALS: [&str; 7] = ["CKQ", "CS", "SZ", "FV", "GJ", "IJY", "AEIOUY"];

fn initials_sound_alike(a: char, b: char) -> bool {
    a == b || ALIKE_INITIALS.iter().any(|group| group.contains(a) && group.contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_budget_grows_with_length() {
        assert_eq!(allowed_edits(1), 2);
        assert_eq!(allowed_edits(5), 2);
        assert_eq!(allowed_edits(6), 3);
        assert_eq!(allowed_edits(10), 3);
        assert_eq!(allowed_edits(11), 4);
        assert_eq!(allowed_edits(15), 6);
        assert_eq!(allowed_edits(20), 8);
    }

    #[test]
    fn soundex_codes() {
        assert_eq!(soundex("Smith"), "S530");
        assert_eq!(soundex("smyth"), "S530");
        assert_eq!(soundex("Schmidt"), "S530");
        assert_eq!(soundex("Robert"), "R163");
        assert_eq!(soundex("Phillips"), soundex("Fillips"));
        assert_eq!(soundex("123"), "");
    }

    #[test]
    fn initials_that_sound_alike() {
        assert!(soundex_compatible("catherine", "katherine"));
        assert!(soundex_compatible("ellen", "allen"));
        assert!(!soundex_compatible("bob", "rob"));
        assert!(!soundex_compatible("smith", "jones"));
    }

    #[test]
    fn name_words_clean_up() {
        assert_eq!(name_words("O'Brien"), ["obrien"]);
        assert_eq!(name_words("Smith-Jones"), ["smith", "jones"]);
        assert_eq!(name_words("  José  Müller "), ["jose", "muller"]);
        assert_eq!(name_words("uh Smith"), ["smith"]);
        assert_eq!(name_words("李 小龍"), ["李", "小龍"]);
    }
}
