//! Spoken numbers to digits: "one two three" → "123", "double five" → "55", "nineteen eighty seven" → "1987".
//!
//! English number words are recognised here; Dutch and German words ("drieëntwintig",
//! "neunzehnhundert") go through `text2num`. A run of number words is cut into *pieces*: a piece
//! is one spoken number ("twenty three", "fifteen hundred", "2005") and pieces are written one
//! after the other, so digit-by-digit speech and year pairs ("nineteen eighty seven") both come
//! out as the digits a person would write.

use text2num::{Language, text2digits};

use super::text::{is_hesitation, words};

/// One spoken number, as digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Piece {
    pub digits: String,
    /// Said as an ordinal ("third", "23rd", "23ste", "dreiundzwanzigsten").
    pub ordinal: bool,
}

/// How liberal to be about words that merely sound like digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Options {
    /// Read "to"/"too" as 2, "for" as 4, "ate" as 8 and "won" as 1 (speech-to-text homophones).
    pub homophones: bool,
}

impl Options {
    pub const DIGITS: Options = Options { homophones: true };
    pub const DATES: Options = Options { homophones: false };
}

/// What a single word contributes to a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NumberWord {
    /// A value that adds to the number being built ("three", "twenty", "87", "fourth").
    /// `open_below` is the largest value (exclusive) that may be added straight after it:
    /// 10 after "twenty" (so "twenty three" is 23), 0 after "three".
    Value { value: u64, open_below: u64, ordinal: bool },
    /// "hundred", "thousand", "million" (and their Dutch/German forms).
    Scale { value: u64, ordinal: bool },
    /// "double", "triple": the next number is said that many times.
    Repeat(usize),
    /// "and" / "en" / "und" between number words.
    And,
    /// Digits written as digits that must keep their exact form ("0612", "23041987").
    Digits { digits: String, ordinal: bool },
}

/// All digits in `text`, in order: spoken numbers are converted, written digits are kept and
/// every other word is ignored. "oh six one two" → "0612", "fifteen hundred" → "1500".
pub(crate) fn spoken_to_digits(text: &str) -> String {
    pieces(&words(text), Options::DIGITS).into_iter().map(|p| p.digits).collect()
}

/// The numbers in `words`, in order; words that are not numbers end the number before them.
pub(crate) fn pieces(words: &[String], options: Options) -> Vec<Piece> {
    let mut chunker = Chunker::default();
    for (i, word) in words.iter().enumerate() {
        let next = words.get(i + 1).map(String::as_str);
        match classify(word, next, options) {
            Some(number_word) => chunker.push(number_word),
            None if is_hesitation(word) => {}
            None => chunker.seal(),
        }
    }
    chunker.finish()
}

/// What `word` means as part of a number, if anything. `next` is the following word, used to
/// read "a hundred" as 100.
pub(crate) fn classify(word: &str, next: Option<&str>, options: Options) -> Option<NumberWord> {
    if matches!(word, "a" | "an") {
        return next.and_then(scale_value).map(|_| value(1, 0, false));
    }
    english_word(word, options).or_else(|| written_digits(word)).or_else(|| dutch_or_german_word(word))
}

/// Whether `word` is "hundred", "thousand" or "million" in any supported language.
fn scale_value(word: &str) -> Option<u64> {
    match english_word(word, Options::DATES).or_else(|| dutch_or_german_word(word)) {
        Some(NumberWord::Scale { value, .. }) => Some(value),
        _ => None,
    }
}

const fn value(value: u64, open_below: u64, ordinal: bool) -> NumberWord {
    NumberWord::Value { value, open_below, ordinal }
}

fn english_word(word: &str, options: Options) -> Option<NumberWord> {
    if let Some(n) = english_unit(word) {
        return Some(value(n, 0, false));
    }
    if let Some(n) = english_unit_ordinal(word) {
        return Some(value(n, 0, true));
    }
    if let Some((n, ordinal)) = english_teen(word) {
        return Some(value(n, 0, ordinal));
    }
    if let Some((n, ordinal)) = english_tens(word) {
        return Some(value(n, if ordinal { 0 } else { 10 }, ordinal));
    }
    if options.homophones
        && let Some(n) = digit_homophone(word)
    {
        return Some(value(n, 0, false));
    }
    english_connector(word)
}

fn english_unit(word: &str) -> Option<u64> {
    Some(match word {
        "zero" | "oh" | "o" | "nought" | "naught" | "nil" => 0,
        "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        _ => return None,
    })
}

fn english_unit_ordinal(word: &str) -> Option<u64> {
    Some(match word {
        "first" => 1,
        "second" => 2,
        "third" => 3,
        "fourth" => 4,
        "fifth" => 5,
        "sixth" => 6,
        "seventh" => 7,
        "eighth" => 8,
        "ninth" => 9,
        _ => return None,
    })
}

fn english_teen(word: &str) -> Option<(u64, bool)> {
    let (stem, ordinal) = match word.strip_suffix("th") {
        Some(stem) if !stem.is_empty() => (stem, true),
        _ => (word, false),
    };
    let n = match (stem, ordinal) {
        ("ten", _) => 10,
        ("eleven", _) => 11,
        ("twelve", false) | ("twelf", true) => 12,
        ("thirteen", _) => 13,
        ("fourteen", _) => 14,
        ("fifteen", _) => 15,
        ("sixteen", _) => 16,
        ("seventeen", _) => 17,
        ("eighteen", _) => 18,
        ("nineteen", _) => 19,
        _ => return None,
    };
    Some((n, ordinal))
}

fn english_tens(word: &str) -> Option<(u64, bool)> {
    let (stem, ordinal) = match word.strip_suffix("ieth") {
        Some(stem) => (stem, true),
        None => (word.strip_suffix('y')?, false),
    };
    let n = match stem {
        "twent" => 20,
        "thirt" => 30,
        "fort" | "fourt" => 40,
        "fift" => 50,
        "sixt" => 60,
        "sevent" => 70,
        "eight" => 80,
        "ninet" => 90,
        _ => return None,
    };
    Some((n, ordinal))
}

fn digit_homophone(word: &str) -> Option<u64> {
    Some(match word {
        "won" => 1,
        "to" | "too" => 2,
        "for" | "fore" => 4,
        "ate" => 8,
        _ => return None,
    })
}

fn english_connector(word: &str) -> Option<NumberWord> {
    Some(match word {
        "hundred" => NumberWord::Scale { value: 100, ordinal: false },
        "hundredth" => NumberWord::Scale { value: 100, ordinal: true },
        "thousand" => NumberWord::Scale { value: 1_000, ordinal: false },
        "thousandth" => NumberWord::Scale { value: 1_000, ordinal: true },
        "million" => NumberWord::Scale { value: 1_000_000, ordinal: false },
        "millionth" => NumberWord::Scale { value: 1_000_000, ordinal: true },
        "double" | "dubbel" | "doppel" => NumberWord::Repeat(2),
        "triple" | "treble" => NumberWord::Repeat(3),
        "and" | "en" | "und" => NumberWord::And,
        _ => return None,
    })
}

/// Ordinal endings written after digits: "23rd", "23ste", "23e", "23sten".
const ORDINAL_SUFFIXES: [&str; 12] = ["st", "nd", "rd", "th", "ste", "de", "e", "sten", "ten", "ster", "ter", "er"];

/// A word made of digits, optionally with an ordinal ending. Words mixing digits with other
/// characters keep only their digits ("#1234" → 1234).
fn written_digits(word: &str) -> Option<NumberWord> {
    let (digits, ordinal) = split_ordinal_suffix(word);
    if digits.is_empty() {
        return None;
    }
    if digits.chars().all(|c| c.is_ascii_digit()) {
        return Some(digits_word(digits, ordinal));
    }
    let kept: String = word.chars().filter(char::is_ascii_digit).collect();
    (!kept.is_empty()).then(|| digits_word(&kept, false))
}

fn split_ordinal_suffix(word: &str) -> (&str, bool) {
    for suffix in ORDINAL_SUFFIXES {
        if let Some(digits) = word.strip_suffix(suffix)
            && !digits.is_empty()
            && digits.chars().all(|c| c.is_ascii_digit())
        {
            return (digits, true);
        }
    }
    (word, false)
}

/// Short plain numbers ("15", "87") act like spoken values so "15 hundred" and "twenty 4" work;
/// longer ones and ones with a leading zero keep their exact digits.
fn digits_word(digits: &str, ordinal: bool) -> NumberWord {
    let short_plain = digits.len() <= 3 && (digits == "0" || !digits.starts_with('0'));
    match digits.parse::<u64>() {
        Ok(n) if short_plain => value(n, 0, ordinal),
        _ => NumberWord::Digits { digits: digits.to_owned(), ordinal },
    }
}

/// A Dutch or German number word, read by `text2num` ("drieëntwintig" → 23,
/// "neunzehnhundert" → 1900, "dreiundzwanzigsten" → 23rd).
fn dutch_or_german_word(word: &str) -> Option<NumberWord> {
    if word.chars().count() < 3 || !word.chars().all(char::is_alphabetic) {
        return None;
    }
    let converted = text2digits(word, &Language::dutch()).or_else(|_| text2digits(word, &Language::german())).ok()?;
    let (digits, ordinal) = match converted.strip_suffix(['e', '.']) {
        Some(digits) => (digits, true),
        None => (converted.as_str(), false),
    };
    let n = digits.parse::<u64>().ok()?;
    if !ordinal && matches!(n, 100 | 1_000 | 1_000_000) {
        return Some(NumberWord::Scale { value: n, ordinal });
    }
    Some(value_word(n, ordinal))
}

/// How a value read from one word combines with what follows: "twintig" (20) takes a unit,
/// "negentienhonderd" (1900) takes anything below 100, "drieëntwintig" (23) takes nothing.
fn value_word(n: u64, ordinal: bool) -> NumberWord {
    let open_below = if ordinal {
        0
    } else if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        1_000_000
    } else if n >= 1_000 && n.is_multiple_of(1_000) {
        1_000
    } else if n >= 100 && n.is_multiple_of(100) {
        100
    } else if (20..100).contains(&n) && n.is_multiple_of(10) {
        10
    } else {
        0
    };
    value(n, open_below, ordinal)
}

/// A number under construction.
#[derive(Debug, Clone, Default)]
struct Chunk {
    /// Thousands and millions already complete.
    total: u64,
    /// The part below the last thousand/million.
    current: u64,
    /// Values below this may still be added ("twenty" → 10, "hundred" → 100).
    open_below: u64,
    /// Exact digits for written numbers such as "0612".
    digits: Option<String>,
    ordinal: bool,
    /// A lone unit word, so "vier en twintig" can become 24.
    lone_unit: bool,
}

impl Chunk {
    fn from_value(value: u64, open_below: u64, ordinal: bool) -> Chunk {
        Chunk { current: value, open_below, ordinal, lone_unit: value < 10, ..Chunk::default() }
    }

    fn from_digits(digits: &str, ordinal: bool) -> Chunk {
        Chunk { digits: Some(digits.to_owned()), ordinal, ..Chunk::default() }
    }

    fn from_scale(value: u64, ordinal: bool) -> Chunk {
        let (total, current) = if value >= 1_000 { (value, 0) } else { (0, value) };
        Chunk { total, current, open_below: value, ordinal, ..Chunk::default() }
    }

    fn piece(&self) -> Piece {
        let digits = match &self.digits {
            Some(digits) => digits.clone(),
            None => self.total.saturating_add(self.current).to_string(),
        };
        Piece { digits, ordinal: self.ordinal }
    }

    /// Adds `value` if it fits the open slot ("twenty" + "three").
    fn try_add(&mut self, value: u64, open_below: u64, ordinal: bool) -> bool {
        if self.digits.is_some() || value >= self.open_below {
            return false;
        }
        let Some(sum) = self.current.checked_add(value) else {
            return false;
        };
        self.current = sum;
        self.open_below = open_below;
        self.ordinal |= ordinal;
        self.lone_unit = false;
        true
    }

    /// "en"/"und" between a unit and a tens word: "vier en twintig" → 24.
    fn try_add_after_and(&mut self, value: u64, ordinal: bool) -> bool {
        if !self.lone_unit || !(20..100).contains(&value) || !value.is_multiple_of(10) {
            return false;
        }
        self.current += value;
        self.open_below = 0;
        self.ordinal |= ordinal;
        self.lone_unit = false;
        true
    }

    /// Multiplies by "hundred", "thousand" or "million" if that makes sense here.
    fn try_scale(&mut self, scale: u64, ordinal: bool) -> bool {
        let hundreds = scale < 1_000;
        if self.digits.is_some() || self.current == 0 || (hundreds && self.current >= 100) {
            return false;
        }
        let Some(scaled) = self.current.checked_mul(scale) else {
            return false;
        };
        if hundreds {
            self.current = scaled;
        } else {
            let Some(total) = self.total.checked_add(scaled) else {
                return false;
            };
            self.total = total;
            self.current = 0;
        }
        self.open_below = scale;
        self.ordinal |= ordinal;
        self.lone_unit = false;
        true
    }
}

/// Groups number words into pieces.
#[derive(Debug, Default)]
pub(crate) struct Chunker {
    done: Vec<Chunk>,
    open: Option<Chunk>,
    repeat: usize,
    after_and: bool,
}

impl Chunker {
    pub(crate) fn push(&mut self, word: NumberWord) {
        let after_and = std::mem::take(&mut self.after_and);
        match word {
            NumberWord::Repeat(times) => self.repeat = times,
            NumberWord::And => self.after_and = true,
            NumberWord::Digits { digits, ordinal } => {
                self.start_repeated(Chunk::from_digits(&digits, ordinal));
            }
            NumberWord::Value { value, open_below, ordinal } => {
                self.push_value(value, open_below, ordinal, after_and);
            }
            NumberWord::Scale { value, ordinal } => {
                self.repeat = 0;
                let scaled = self.open.as_mut().is_some_and(|c| c.try_scale(value, ordinal));
                if !scaled {
                    self.start(Chunk::from_scale(value, ordinal));
                }
            }
        }
    }

    fn push_value(&mut self, value: u64, open_below: u64, ordinal: bool, after_and: bool) {
        if self.repeat > 1 {
            self.start_repeated(Chunk::from_value(value, 0, ordinal));
            return;
        }
        let joined = self.open.as_mut().is_some_and(|c| {
            c.try_add(value, open_below, ordinal) || (after_and && c.try_add_after_and(value, ordinal))
        });
        if !joined {
            self.start(Chunk::from_value(value, open_below, ordinal));
        }
    }

    /// Ends the number being built: the next number word starts a new piece.
    pub(crate) fn seal(&mut self) {
        self.done.extend(self.open.take());
        self.repeat = 0;
        self.after_and = false;
    }

    fn start(&mut self, chunk: Chunk) {
        self.seal();
        self.open = Some(chunk);
    }

    /// Starts `chunk`, written out as many times as a preceding "double"/"triple" asks.
    fn start_repeated(&mut self, chunk: Chunk) {
        let times = std::mem::take(&mut self.repeat).max(1);
        self.seal();
        for _ in 1..times {
            self.done.push(Chunk { open_below: 0, ..chunk.clone() });
        }
        self.open = Some(Chunk { open_below: 0, ..chunk });
    }

    pub(crate) fn finish(mut self) -> Vec<Piece> {
        self.seal();
        self.done.iter().map(Chunk::piece).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(text: &str) -> String {
        spoken_to_digits(text)
    }

    fn piece_digits(text: &str) -> Vec<String> {
        pieces(&words(text), Options::DATES).into_iter().map(|p| p.digits).collect()
    }

    #[test]
    fn digit_by_digit() {
        assert_eq!(digits("one two three four"), "1234");
        assert_eq!(digits("oh six one two"), "0612");
        assert_eq!(digits("zero zero seven"), "007");
        assert_eq!(digits("nine o nine"), "909");
        assert_eq!(digits("1 2 3 4"), "1234");
    }

    #[test]
    fn double_and_triple() {
        assert_eq!(digits("double five"), "55");
        assert_eq!(digits("triple seven"), "777");
        assert_eq!(digits("double oh seven"), "007");
        assert_eq!(digits("one double two three"), "1223");
        assert_eq!(digits("double 5"), "55");
    }

    #[test]
    fn cardinals() {
        assert_eq!(digits("twenty three"), "23");
        assert_eq!(digits("twenty-three"), "23");
        assert_eq!(digits("fifteen hundred"), "1500");
        assert_eq!(digits("one hundred and five"), "105");
        assert_eq!(digits("one hundred twenty three"), "123");
        assert_eq!(digits("two thousand and five"), "2005");
        assert_eq!(digits("two thousand five hundred"), "2500");
        assert_eq!(digits("five hundred thousand"), "500000");
        assert_eq!(digits("one million two hundred thousand"), "1200000");
        assert_eq!(digits("a hundred"), "100");
        assert_eq!(digits("15 hundred"), "1500");
        assert_eq!(digits("twenty 4"), "24");
        assert_eq!(digits("forty two"), "42");
        assert_eq!(digits("fourty two"), "42");
    }

    #[test]
    fn pairs_and_years() {
        assert_eq!(digits("nineteen eighty seven"), "1987");
        assert_eq!(digits("twenty twenty four"), "2024");
        assert_eq!(digits("nineteen oh five"), "1905");
        assert_eq!(digits("twelve thirty four"), "1234");
        assert_eq!(digits("nineteen hundred eighty seven"), "1987");
        assert_eq!(piece_digits("nineteen eighty seven"), ["19", "87"]);
        assert_eq!(piece_digits("twenty twenty four"), ["20", "24"]);
    }

    #[test]
    fn ordinals() {
        let p = pieces(&words("the twenty third of april"), Options::DATES);
        assert_eq!(p, [Piece { digits: "23".into(), ordinal: true }]);
        assert_eq!(piece_digits("23rd"), ["23"]);
        assert_eq!(piece_digits("1st 2nd 3rd 4th"), ["1", "2", "3", "4"]);
        assert_eq!(piece_digits("23ste 23e 23sten"), ["23", "23", "23"]);
        assert_eq!(piece_digits("twelfth"), ["12"]);
        assert_eq!(piece_digits("thirtieth"), ["30"]);
    }

    #[test]
    fn dutch_and_german() {
        assert_eq!(digits("drieëntwintig"), "23");
        assert_eq!(digits("negentienhonderd zevenentachtig"), "1987");
        assert_eq!(digits("negentien zevenentachtig"), "1987");
        assert_eq!(digits("tweeduizend vijf"), "2005");
        assert_eq!(digits("een twee drie"), "123");
        assert_eq!(digits("vier en twintig"), "24");
        assert_eq!(digits("vijf honderd"), "500");
        assert_eq!(digits("zwei tausend vier"), "2004");
        assert_eq!(digits("neunzehnhundertsiebenundachtzig"), "1987");
        assert_eq!(digits("null sechs eins zwei"), "0612");
        assert_eq!(piece_digits("dreiundzwanzigsten"), ["23"]);
    }

    #[test]
    fn homophones_only_for_digit_strings() {
        assert_eq!(digits("one to three for"), "1234");
        assert_eq!(piece_digits("one to three for"), ["1", "3"]);
    }

    #[test]
    fn other_words_are_ignored_but_split_numbers() {
        assert_eq!(digits("my pin is one two three four please"), "1234");
        assert_eq!(piece_digits("twenty um three"), ["23"]);
        assert_eq!(piece_digits("twenty apples three"), ["20", "3"]);
        assert_eq!(digits("no numbers here"), "");
        assert_eq!(digits("12-34.56 78"), "12345678");
        assert_eq!(digits("#1234"), "1234");
    }

    #[test]
    fn huge_numbers_do_not_overflow() {
        let text = "million ".repeat(10);
        assert_eq!(digits(&text).len(), 70);
        assert_eq!(digits("99999999999999999999999 thousand"), "999999999999999999999991000");
    }
}
