//! Dates as callers say them: month names (English, Dutch, German), ordinals, spoken years,
//! digit-by-digit input, ISO, EU (day/month) and US (month/day) order.
//!
//! A text is read into every date it could mean ("03/04/1987" is both 3 April and 4 March);
//! two texts name the same date when some reading of one equals some reading of the other.

use super::numbers::{Chunker, Options, Piece, classify};
use super::text::{fold_accents, is_hesitation, words};

/// A year as said: "1987", or just "87".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Year {
    Full(u16),
    TwoDigit(u8),
}

/// One possible meaning of a spoken or written date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DateReading {
    pub year: Option<Year>,
    pub month: u8,
    pub day: u8,
}

impl DateReading {
    /// Whether `answer` names this date. A two-digit year matches any year with those last two
    /// digits; a date stored without a year ignores the answer's year, but an answer without a
    /// year never matches a date stored with one.
    fn accepts(self, answer: DateReading) -> bool {
        self.month == answer.month && self.day == answer.day && years_fit(self.year, answer.year)
    }
}

fn years_fit(expected: Option<Year>, answer: Option<Year>) -> bool {
    match (expected, answer) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(Year::Full(a)), Some(Year::Full(b))) => a == b,
        (Some(Year::TwoDigit(a)), Some(Year::TwoDigit(b))) => a == b,
        (Some(Year::Full(full)), Some(Year::TwoDigit(short)))
        | (Some(Year::TwoDigit(short)), Some(Year::Full(full))) => full % 100 == u16::from(short),
    }
}

/// `fuzzy_date`: whether some reading of `answer` is a reading of `expected`.
pub(crate) fn same_date(expected: &str, answer: &str) -> bool {
    let answer_readings = readings(answer);
    readings(expected).into_iter().any(|e| answer_readings.iter().any(|&a| e.accepts(a)))
}

/// Every date `text` could mean. Full dates (day, month, year) are preferred; a day and month
/// without a year are only read when no full date can be.
pub(crate) fn readings(text: &str) -> Vec<DateReading> {
    let atoms = atoms(text);
    if atoms.len() > MAX_ATOMS {
        return Vec::new();
    }
    let full = readings_in_orders(&atoms, &FULL_ORDERS);
    if full.is_empty() { readings_in_orders(&atoms, &PARTIAL_ORDERS) } else { full }
}

/// Dates longer than this many parts are not dates.
const MAX_ATOMS: usize = 24;

/// The parts of a date text: month names and numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Atom {
    Month(u8),
    Number(String),
}

fn atoms(text: &str) -> Vec<Atom> {
    let text = iso_date_prefix(text).unwrap_or(text);
    let words = words(text);
    let mut atoms = Vec::new();
    let mut chunker = Chunker::default();
    for (i, word) in words.iter().enumerate() {
        if let Some(month) = month_number(word) {
            push_pieces(&mut atoms, std::mem::take(&mut chunker).finish());
            atoms.push(Atom::Month(month));
            continue;
        }
        let next = words.get(i + 1).map(String::as_str);
        match classify(word, next, Options::DATES) {
            Some(number_word) => chunker.push(number_word),
            None if is_hesitation(word) => {}
            None => chunker.seal(),
        }
    }
    push_pieces(&mut atoms, chunker.finish());
    atoms
}

/// Adds numbers as atoms; a long run of written digits ("23041987") is a compact date, so each
/// of its digits becomes an atom of its own.
fn push_pieces(atoms: &mut Vec<Atom>, pieces: Vec<Piece>) {
    for piece in pieces {
        if (5..=8).contains(&piece.digits.len()) && !piece.ordinal {
            atoms.extend(piece.digits.chars().map(|c| Atom::Number(c.to_string())));
        } else {
            atoms.push(Atom::Number(piece.digits));
        }
    }
}

/// The `YYYY-MM-DD` at the start of an ISO date-time such as `1987-04-23T00:00:00Z`.
fn iso_date_prefix(text: &str) -> Option<&str> {
    let text = text.trim();
    let bytes = text.as_bytes();
    let digit_at = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_digit);
    let shape = (0..4).all(digit_at)
        && bytes.get(4) == Some(&b'-')
        && (5..7).all(digit_at)
        && bytes.get(7) == Some(&b'-')
        && (8..10).all(digit_at);
    let ends = matches!(bytes.get(10), None | Some(b'T' | b't' | b' '));
    (shape && ends).then(|| &text[..10])
}

/// The month a word names, in English, Dutch or German, in full or abbreviated.
pub(crate) fn month_number(word: &str) -> Option<u8> {
    let folded = fold_accents(word);
    Some(match folded.as_str() {
        "january" | "januari" | "januar" | "janner" | "jan" => 1,
        "february" | "februari" | "februar" | "feber" | "feb" | "febr" => 2,
        "march" | "maart" | "marz" | "maerz" | "mar" | "mrt" | "mrz" => 3,
        "april" | "apr" => 4,
        "may" | "mei" | "mai" => 5,
        "june" | "juni" | "jun" => 6,
        "july" | "juli" | "jul" => 7,
        "august" | "augustus" | "aug" => 8,
        "september" | "sep" | "sept" => 9,
        "october" | "oktober" | "oct" | "okt" => 10,
        "november" | "nov" => 11,
        "december" | "dezember" | "dec" | "dez" => 12,
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy)]
enum Field {
    Day,
    Month,
    Year,
}

const FULL_ORDERS: [&[Field]; 3] = [
    &[Field::Day, Field::Month, Field::Year],
    &[Field::Month, Field::Day, Field::Year],
    &[Field::Year, Field::Month, Field::Day],
];

const PARTIAL_ORDERS: [&[Field]; 2] = [&[Field::Day, Field::Month], &[Field::Month, Field::Day]];

fn readings_in_orders(atoms: &[Atom], orders: &[&[Field]]) -> Vec<DateReading> {
    let mut found = Vec::new();
    for order in orders {
        for groups in splits(atoms, order.len()) {
            if let Some(reading) = read_fields(order, &groups)
                && !found.contains(&reading)
            {
                found.push(reading);
            }
        }
    }
    found
}

/// Every way to cut `atoms` into `parts` non-empty runs, in order.
fn splits(atoms: &[Atom], parts: usize) -> Vec<Vec<&[Atom]>> {
    if parts <= 1 {
        return if atoms.is_empty() { Vec::new() } else { vec![vec![atoms]] };
    }
    let mut out = Vec::new();
    for cut in 1..atoms.len() {
        let (head, tail) = atoms.split_at(cut);
        for mut rest in splits(tail, parts - 1) {
            rest.insert(0, head);
            out.push(rest);
        }
    }
    out
}

fn read_fields(order: &[Field], groups: &[&[Atom]]) -> Option<DateReading> {
    let (mut day, mut month, mut year) = (None, None, None);
    for (field, group) in order.iter().zip(groups) {
        match field {
            Field::Day => day = Some(day_of(group)?),
            Field::Month => month = Some(month_of(group)?),
            Field::Year => year = Some(year_of(group)?),
        }
    }
    let (day, month) = (day?, month?);
    let year_first = matches!(order.first(), Some(Field::Year));
    if year_first && !matches!(year, Some(Year::Full(_))) {
        return None;
    }
    (day <= days_in_month(month, year)).then_some(DateReading { year, month, day })
}

/// The digits of a run of number atoms; `None` if it holds a month name.
fn digits_of(group: &[Atom]) -> Option<String> {
    group
        .iter()
        .map(|atom| match atom {
            Atom::Number(digits) => Some(digits.as_str()),
            Atom::Month(_) => None,
        })
        .collect()
}

fn small_number(group: &[Atom], range: std::ops::RangeInclusive<u8>) -> Option<u8> {
    let digits = digits_of(group)?;
    if !(1..=2).contains(&digits.len()) {
        return None;
    }
    digits.parse::<u8>().ok().filter(|n| range.contains(n))
}

fn day_of(group: &[Atom]) -> Option<u8> {
    small_number(group, 1..=31)
}

fn month_of(group: &[Atom]) -> Option<u8> {
    match group {
        [Atom::Month(month)] => Some(*month),
        _ => small_number(group, 1..=12),
    }
}

fn year_of(group: &[Atom]) -> Option<Year> {
    let digits = digits_of(group)?;
    match digits.len() {
        4 if !digits.starts_with('0') => digits.parse().ok().map(Year::Full),
        2 => digits.parse().ok().map(Year::TwoDigit),
        _ => None,
    }
}

fn days_in_month(month: u8, year: Option<Year>) -> u8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if may_be_leap(year) => 29,
        2 => 28,
        _ => 31,
    }
}

fn may_be_leap(year: Option<Year>) -> bool {
    match year {
        Some(Year::Full(y)) => (y % 4 == 0 && y % 100 != 0) || y % 400 == 0,
        Some(Year::TwoDigit(y)) => y % 4 == 0,
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: u16, month: u8, day: u8) -> DateReading {
        DateReading { year: Some(Year::Full(year)), month, day }
    }

    #[test]
    fn iso_and_written_forms() {
        assert_eq!(readings("1987-04-23"), [date(1987, 4, 23)]);
        assert_eq!(readings("1987-04-23T00:00:00Z"), [date(1987, 4, 23)]);
        assert_eq!(readings("23/04/1987"), [date(1987, 4, 23)]);
        assert_eq!(readings("04/23/1987"), [date(1987, 4, 23)]);
        assert_eq!(readings("23.04.1987"), [date(1987, 4, 23)]);
        assert_eq!(readings("23041987"), [date(1987, 4, 23)]);
    }

    #[test]
    fn ambiguous_numeric_dates_have_both_readings() {
        assert_eq!(readings("03/04/1987"), [date(1987, 4, 3), date(1987, 3, 4)]);
        assert_eq!(readings("12/12/2000"), [date(2000, 12, 12)]);
    }

    #[test]
    fn month_names() {
        assert_eq!(readings("April 23rd 1987"), [date(1987, 4, 23)]);
        assert_eq!(readings("23 april 1987"), [date(1987, 4, 23)]);
        assert_eq!(readings("23. März 1987"), [date(1987, 3, 23)]);
        assert_eq!(readings("23 maart 1987"), [date(1987, 3, 23)]);
        assert_eq!(readings("1 okt 2001"), [date(2001, 10, 1)]);
        assert_eq!(readings("1987 april 23"), [date(1987, 4, 23)]);
        assert_eq!(month_number("Sept"), None, "callers lower-case first");
        assert_eq!(month_number("sept"), Some(9));
        assert_eq!(month_number("märz"), Some(3));
        assert_eq!(month_number("mrt"), Some(3));
        assert_eq!(month_number("dezember"), Some(12));
        assert_eq!(month_number("aprill"), None);
    }

    #[test]
    fn spoken_dates() {
        assert_eq!(readings("the twenty third of april nineteen eighty seven"), [date(1987, 4, 23)]);
        assert_eq!(readings("may fifth two thousand and five"), [date(2005, 5, 5)]);
        assert_eq!(readings("the first of february twenty twenty four"), [date(2024, 2, 1)]);
        assert_eq!(readings("two three zero four one nine eight seven"), [date(1987, 4, 23)]);
        assert_eq!(readings("drieëntwintig april negentienhonderd zevenentachtig"), [date(1987, 4, 23)]);
        assert_eq!(readings("am dreiundzwanzigsten März neunzehnhundertsiebenundachtzig"), [date(1987, 3, 23)]);
    }

    #[test]
    fn two_digit_years_and_missing_years() {
        let short = DateReading { year: Some(Year::TwoDigit(87)), month: 4, day: 23 };
        assert_eq!(readings("23 april 87"), [short]);
        assert!(date(1987, 4, 23).accepts(short));
        assert!(!date(1887, 4, 22).accepts(short));
        let no_year = DateReading { year: None, month: 4, day: 23 };
        assert_eq!(readings("23 april"), [no_year]);
        assert!(!date(1987, 4, 23).accepts(no_year));
        assert!(no_year.accepts(date(1987, 4, 23)));
    }

    #[test]
    fn impossible_dates_have_no_reading() {
        assert!(readings("31 april 1987").is_empty());
        assert!(readings("29 february 2023").is_empty());
        assert_eq!(readings("29 february 2024"), [date(2024, 2, 29)]);
        assert!(readings("1987-23-04").is_empty());
        assert!(readings("hello").is_empty());
        assert!(readings("").is_empty());
        assert!(readings("1987").is_empty());
    }

    #[test]
    fn splits_cover_every_cut() {
        let atoms: Vec<Atom> = ["1", "2", "3", "4"].map(|d| Atom::Number(d.into())).into();
        assert_eq!(splits(&atoms, 3).len(), 3);
        assert_eq!(splits(&atoms, 2).len(), 3);
        assert!(splits(&atoms[..1], 2).is_empty());
    }
}
