//! E-mail addresses as spoken: "john dot smith at gmail dot com" = "john.smith@gmail.com".
//!
//! Each spoken word may stand for itself or for a symbol ("at" is "@" or the letters "at"), so
//! the answer matches when *some* choice of readings spells the expected address exactly
//! (case-insensitively, spaces removed).

/// Whether the spoken or written `answer` spells the address `expected`.
pub(crate) fn same_email(expected: &str, answer: &str) -> bool {
    let target: String = expected.to_lowercase().chars().filter(|c| !c.is_whitespace()).collect();
    let answer = answer.to_lowercase();
    let answer = answer.trim().trim_end_matches(['.', ',', '!', '?']);
    let words: Vec<&str> = answer.split_whitespace().collect();
    !target.is_empty() && spells(&words, &target)
}

/// Whether the words can be read, left to right, as exactly `target`.
fn spells(words: &[&str], target: &str) -> bool {
    // reachable[i] holds the byte offsets of `target` that the first `i` words can spell.
    let mut reachable: Vec<Vec<usize>> = vec![Vec::new(); words.len() + 1];
    reachable[0].push(0);
    for i in 0..words.len() {
        let offsets = std::mem::take(&mut reachable[i]);
        for &offset in &offsets {
            for (used, text) in readings_at(words, i) {
                let end = offset + text.len();
                if target.get(offset..end) == Some(text.as_str()) && !reachable[i + used].contains(&end) {
                    reachable[i + used].push(end);
                }
            }
        }
        reachable[i] = offsets;
    }
    reachable[words.len()].contains(&target.len())
}

/// What the words starting at `i` may stand for, each with how many words it uses.
fn readings_at(words: &[&str], i: usize) -> Vec<(usize, String)> {
    let Some(&word) = words.get(i) else {
        return Vec::new();
    };
    let mut readings = vec![(1, word.to_owned())];
    if let Some(symbol) = symbol_word(word) {
        readings.push((1, symbol.to_owned()));
    }
    if let Some(&next) = words.get(i + 1) {
        if let Some(symbol) = symbol_phrase(word, next) {
            readings.push((2, symbol.to_owned()));
        }
        if let (Some(tens), Some(unit)) = (tens_word(word), unit_word(next)) {
            readings.push((2, (tens + unit).to_string()));
        }
    }
    if let Some(n) = unit_word(word).or_else(|| teen_word(word)).or_else(|| tens_word(word)) {
        readings.push((1, n.to_string()));
    }
    readings
}

fn symbol_word(word: &str) -> Option<&'static str> {
    Some(match word {
        "at" | "apenstaartje" | "klammeraffe" => "@",
        "dot" | "punt" | "punkt" | "period" | "point" => ".",
        "underscore" | "unterstrich" => "_",
        "dash" | "hyphen" | "minus" | "streepje" | "bindestrich" => "-",
        "plus" => "+",
        _ => return None,
    })
}

fn symbol_phrase(first: &str, second: &str) -> Option<&'static str> {
    Some(match (first, second) {
        ("at", "sign" | "symbol") => "@",
        ("full", "stop") => ".",
        ("under", "score") | ("liggend", "streepje") => "_",
        _ => return None,
    })
}

fn unit_word(word: &str) -> Option<u32> {
    Some(match word {
        "zero" => 0,
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

fn teen_word(word: &str) -> Option<u32> {
    Some(match word {
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        "thirteen" => 13,
        "fourteen" => 14,
        "fifteen" => 15,
        "sixteen" => 16,
        "seventeen" => 17,
        "eighteen" => 18,
        "nineteen" => 19,
        _ => return None,
    })
}

fn tens_word(word: &str) -> Option<u32> {
    Some(match word {
        "twenty" => 20,
        "thirty" => 30,
        "forty" => 40,
        "fifty" => 50,
        "sixty" => 60,
        "seventy" => 70,
        "eighty" => 80,
        "ninety" => 90,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spoken_symbols() {
        assert!(same_email("john.smith@gmail.com", "john dot smith at gmail dot com"));
        assert!(same_email("John.Smith@Gmail.com", "JOHN DOT SMITH AT GMAIL DOT COM"));
        assert!(same_email("j_doe@example.org", "j underscore doe at sign example dot org"));
        assert!(same_email("jan@bedrijf.nl", "jan apenstaartje bedrijf punt nl"));
        assert!(same_email("john.smith@gmail.com", "john.smith@gmail.com."));
    }

    #[test]
    fn words_that_are_also_symbols_can_stay_words() {
        assert!(same_email("pat@dot.com", "pat at dot dot com"));
        assert!(same_email("at@example.com", "at at example dot com"));
    }

    #[test]
    fn numbers_and_spelling() {
        assert!(same_email("john87@mail.com", "john eighty seven at mail dot com"));
        assert!(same_email("john8@mail.com", "john eight at mail dot com"));
        assert!(same_email("abc@x.io", "a b c at x dot i o"));
    }

    #[test]
    fn near_misses() {
        assert!(!same_email("john.smith@gmail.com", "john smith at gmail dot com"));
        assert!(!same_email("john.smith@gmail.com", "jon dot smith at gmail dot com"));
        assert!(!same_email("john.smith@gmail.com", "john dot smith at hotmail dot com"));
        assert!(!same_email("a@b.c", ""));
    }
}
