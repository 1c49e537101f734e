//! Text clean-up shared by the matchers: lower-casing, accent folding and splitting into words.

/// Lower-cases `text` and splits it into words at whitespace and at the punctuation that
/// separates groups of digits or date parts (`- / . , : ; ( ) +` and the like).
///
/// Apostrophes stay inside a word ("it's", "o'brien").
pub(crate) fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| c.is_whitespace() || is_separator(c))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

fn is_separator(c: char) -> bool {
    matches!(
        c,
        '-' | '/'
            | '\\'
            | '.'
            | ','
            | ':'
            | ';'
            | '('
            | ')'
            | '['
            | ']'
            | '+'
            | '_'
            | '#'
            | '"'
            | '!'
            | '?'
            | '\u{2010}'..='\u{2015}'
    )
}

/// `text` with common Latin accents removed ("ë" → "e", "ß" → "ss"); other characters unchanged.
pub(crate) fn fold_accents(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            'ß' => out.push_str("ss"),
            'æ' => out.push_str("ae"),
            'Æ' => out.push_str("AE"),
            'œ' => out.push_str("oe"),
            'Œ' => out.push_str("OE"),
            _ => out.push(fold_char(c)),
        }
    }
    out
}

fn fold_char(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' => 'a',
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'Ā' => 'A',
        'ç' | 'ć' | 'č' => 'c',
        'Ç' | 'Ć' | 'Č' => 'C',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' => 'e',
        'È' | 'É' | 'Ê' | 'Ë' | 'Ē' | 'Ė' | 'Ę' => 'E',
        'ì' | 'í' | 'î' | 'ï' | 'ī' => 'i',
        'Ì' | 'Í' | 'Î' | 'Ï' | 'Ī' => 'I',
        'ñ' | 'ń' => 'n',
        'Ñ' | 'Ń' => 'N',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' => 'o',
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' | 'Ō' => 'O',
        'ù' | 'ú' | 'û' | 'ü' | 'ū' => 'u',
        'Ù' | 'Ú' | 'Û' | 'Ü' | 'Ū' => 'U',
        'ý' | 'ÿ' => 'y',
        'Ý' | 'Ÿ' => 'Y',
        'ś' | 'š' => 's',
        'Ś' | 'Š' => 'S',
        'ź' | 'ż' | 'ž' => 'z',
        'Ź' | 'Ż' | 'Ž' => 'Z',
        'ł' => 'l',
        'Ł' => 'L',
        _ => c,
    }
}

/// Hesitation sounds a transcript may contain that never carry a value.
pub(crate) fn is_hesitation(word: &str) -> bool {
    matches!(
        word,
        "um" | "umm" | "uh" | "uhh" | "uhm" | "er" | "erm" | "ehm" | "eh" | "hmm" | "mm" | "euh" | "äh" | "ähm"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_at_separators() {
        assert_eq!(words("1987-04-23"), ["1987", "04", "23"]);
        assert_eq!(words("23. März, 1987"), ["23", "märz", "1987"]);
        assert_eq!(words("  Twenty-Three  "), ["twenty", "three"]);
        assert_eq!(words("it's (06) 12"), ["it's", "06", "12"]);
        assert!(words(" -- ").is_empty());
    }

    #[test]
    fn accents_fold_to_ascii() {
        assert_eq!(fold_accents("drieëntwintig"), "drieentwintig");
        assert_eq!(fold_accents("März Straße"), "Marz Strasse");
        assert_eq!(fold_accents("José Müller"), "Jose Muller");
    }
}
