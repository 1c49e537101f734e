//! Reference codes and order ids: exact or one-edit matching after stripping separators, with
//! spoken letters, spelling alphabets and numbers read too ("A B one two three" = "AB123").
//!
//! A spoken "oh" (or a lone "o") may be the letter O or the digit 0, so it matches either.

use super::numbers::{Chunker, NumberWord, Options, classify};
use super::text::{is_hesitation, words};

/// One character of a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Symbol {
    Char(char),
    /// A spoken "oh": the letter O or the digit 0.
    ZeroOrO,
}

impl Symbol {
    fn matches(self, other: Symbol) -> bool {
        match (self, other) {
            (Symbol::Char(a), Symbol::Char(b)) => a == b,
            (Symbol::ZeroOrO, Symbol::ZeroOrO) => true,
            (Symbol::ZeroOrO, Symbol::Char(c)) | (Symbol::Char(c), Symbol::ZeroOrO) => c == '0' || c == 'O',
        }
    }
}

/// `alphanumeric`: equal after normalisation.
pub(crate) fn same_code(expected: &str, answer: &str) -> bool {
    within_edits(expected, answer, 0)
}

/// `alphanumeric_fuzzy`: at most one insertion, deletion or substitution apart.
pub(crate) fn nearly_same_code(expected: &str, answer: &str) -> bool {
    within_edits(expected, answer, 1)
}

/// The answer is read both as written and as spoken; either reading may match.
fn within_edits(expected: &str, answer: &str, edits: usize) -> bool {
    let expected = written_symbols(expected);
    if expected.is_empty() {
        return false;
    }
    [written_symbols(answer), spoken_symbols(answer)]
        .iter()
        .any(|candidate| !candidate.is_empty() && edit_distance(&expected, candidate) <= edits)
}

/// The letters and digits of `text`, upper-cased; everything else (spaces, dashes) dropped.
pub(crate) fn written_symbols(text: &str) -> Vec<Symbol> {
    text.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_uppercase).map(Symbol::Char).collect()
}

/// `text` read as a code spelled out loud: single letters, letter names ("bee", "zed"),
/// spelling-alphabet words ("bravo"), number words, "double"/"triple", and spelling aids
/// ("B as in Bravo", "B for Bravo") which are skipped.
pub(crate) fn spoken_symbols(text: &str) -> Vec<Symbol> {
    let words = words(text);
    let mut speller = Speller::default();
    let mut i = 0;
    while i < words.len() {
        i += speller.read(&words[i..]);
    }
    speller.finish()
}

/// Reads spoken words into symbols.
#[derive(Debug, Default)]
struct Speller {
    out: Vec<Symbol>,
    numbers: Chunker,
    /// The letter just spelled, for recognising "as in …".
    last_letter: Option<char>,
}

impl Speller {
    /// Reads the word(s) at the start of `words`; returns how many were used (at least one).
    fn read(&mut self, words: &[String]) -> usize {
        let Some(word) = words.first().map(String::as_str) else {
            return 1;
        };
        let next = words.get(1).map(String::as_str);
        if let Some(used) = self.spelling_aid(words) {
            return used;
        }
        if let Some(times) = repeat_count(word) {
            return self.read_repeat(words, times);
        }
        if let Some((symbol, used)) = letter(words) {
            self.push_letters(symbol, 1);
            return used;
        }
        match classify(word, next, Options::DIGITS) {
            Some(number_word) => {
                self.last_letter = None;
                self.numbers.push(number_word);
            }
            None if is_hesitation(word) => {}
            None => {
                self.flush_numbers();
                self.last_letter = None;
                let chars = word.chars().filter(|c| c.is_alphanumeric());
                self.out.extend(chars.flat_map(char::to_uppercase).map(Symbol::Char));
            }
        }
        1
    }

    /// "double B" is "BB", "double you" is "W", "double five" is left to the number reader.
    fn read_repeat(&mut self, words: &[String], times: usize) -> usize {
        let next = words.get(1).map(String::as_str);
        if times == 2 && matches!(next, Some("you" | "u")) {
            self.push_letters(Symbol::Char('W'), 1);
            return 2;
        }
        match letter(&words[1..]) {
            Some((symbol, used)) => {
                self.push_letters(symbol, times);
                1 + used
            }
            None => {
                self.numbers.push(NumberWord::Repeat(times));
                1
            }
        }
    }

    /// After a spelled letter, "as in Bravo", "for Bravo", "like Bravo", "wie Berta",
    /// "van Bernard" only repeat it.
    fn spelling_aid(&self, words: &[String]) -> Option<usize> {
        let letter = self.last_letter?;
        let (example, used) = match words {
            [as_, in_, example, ..] if as_ == "as" && in_ == "in" => (example, 3),
            [link, example, ..] if matches!(link.as_str(), "for" | "like" | "wie" | "van") => (example, 2),
            _ => return None,
        };
        let starts_with_letter =
            example.chars().count() > 1 && example.chars().next().and_then(|c| c.to_uppercase().next()) == Some(letter);
        starts_with_letter.then_some(used)
    }

    fn push_letters(&mut self, symbol: Symbol, times: usize) {
        self.flush_numbers();
        self.last_letter = match symbol {
            Symbol::Char(c) => Some(c),
            Symbol::ZeroOrO => Some('O'),
        };
        self.out.extend(std::iter::repeat_n(symbol, times));
    }

    fn flush_numbers(&mut self) {
        let pieces = std::mem::take(&mut self.numbers).finish();
        let digits = pieces.iter().flat_map(|p| p.digits.chars());
        self.out.extend(digits.map(Symbol::Char));
    }

    fn finish(mut self) -> Vec<Symbol> {
        self.flush_numbers();
        self.out
    }
}

fn repeat_count(word: &str) -> Option<usize> {
    match word {
        "double" => Some(2),
        "triple" | "treble" => Some(3),
        _ => None,
    }
}

/// The letter spelled by the word(s) at the start of `words`, and how many words it took.
fn letter(words: &[String]) -> Option<(Symbol, usize)> {
    let word = words.first()?.as_str();
    let next = words.get(1).map(String::as_str);
    if word == "x" && next == Some("ray") {
        return Some((Symbol::Char('X'), 2));
    }
    if matches!(word, "o" | "oh" | "owe") {
        return Some((Symbol::ZeroOrO, 1));
    }
    if matches!(word, "a" | "an") && classify(word, next, Options::DIGITS).is_some() {
        return None;
    }
    let mut chars = word.chars();
    if let (Some(c), None) = (chars.next(), chars.next())
        && c.is_ascii_alphabetic()
    {
        return Some((Symbol::Char(c.to_ascii_uppercase()), 1));
    }
    letter_name(word).map(|c| (Symbol::Char(c), 1))
}

/// English letter names and the NATO spelling alphabet.
fn letter_name(word: &str) -> Option<char> {
    Some(match word {
        "alpha" | "alfa" => 'A',
        "bravo" | "bee" | "be" => 'B',
        "charlie" | "see" | "sea" | "cee" => 'C',
        "delta" | "dee" => 'D',
        "echo" => 'E',
        "foxtrot" | "ef" | "eff" => 'F',
        "golf" | "gee" => 'G',
        "hotel" | "aitch" | "haitch" => 'H',
        "india" | "eye" => 'I',
        "juliet" | "juliett" | "jay" => 'J',
        "kilo" | "kay" => 'K',
        "lima" | "el" | "ell" => 'L',
        "mike" | "em" => 'M',
        "november" => 'N',
        "oscar" => 'O',
        "papa" | "pee" | "pea" => 'P',
        "quebec" | "cue" | "queue" | "kew" => 'Q',
        "romeo" | "ar" | "are" => 'R',
        "sierra" | "es" | "ess" => 'S',
        "tango" | "tee" | "tea" => 'T',
        "uniform" | "you" | "yu" => 'U',
        "victor" | "vee" => 'V',
        "whiskey" | "whisky" => 'W',
        "xray" | "ex" => 'X',
        "yankee" | "why" | "wye" => 'Y',
        "zulu" | "zed" | "zee" => 'Z',
        _ => return None,
    })
}

/// Levenshtein distance where a spoken "oh" equals both O and 0.
pub(crate) fn edit_distance(a: &[Symbol], b: &[Symbol]) -> usize {
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, &x) in a.iter().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, &y) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(!x.matches(y));
            let delete = previous[j + 1] + 1;
            let insert = current[j] + 1;
            current.push(substitute.min(delete).min(insert));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spoken(text: &str) -> String {
        spoken_symbols(text)
            .into_iter()
            .map(|s| match s {
                Symbol::Char(c) => c,
                Symbol::ZeroOrO => '?',
            })
            .collect()
    }

    #[test]
    fn spoken_codes() {
        assert_eq!(spoken("A B one two three"), "AB123");
        assert_eq!(spoken("a b one twenty three"), "AB123");
        assert_eq!(spoken("alpha bravo 7"), "AB7");
        assert_eq!(spoken("B as in bravo, C for Charlie, 9"), "BC9");
        assert_eq!(spoken("double A triple seven"), "AA777");
        assert_eq!(spoken("double you x ray"), "WX");
        assert_eq!(spoken("zed oh oh seven"), "Z??7");
        assert_eq!(spoken("bee see dee"), "BCD");
        assert_eq!(spoken("order 12-ab"), "ORDER12AB");
        assert_eq!(spoken("uh A one"), "A1");
    }

    #[test]
    fn oh_matches_letter_and_digit() {
        let oh = Symbol::ZeroOrO;
        assert!(oh.matches(Symbol::Char('O')));
        assert!(oh.matches(Symbol::Char('0')));
        assert!(!oh.matches(Symbol::Char('Q')));
    }

    #[test]
    fn distances() {
        let d = |a: &str, b: &str| edit_distance(&written_symbols(a), &written_symbols(b));
        assert_eq!(d("AB123", "AB123"), 0);
        assert_eq!(d("AB123", "AD123"), 1);
        assert_eq!(d("AB123", "AB1234"), 1);
        assert_eq!(d("AB123", "BA123"), 2);
        assert_eq!(d("", "ABC"), 3);
    }
}
