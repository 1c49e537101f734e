//! Cutting a reply into clauses for text-to-speech: the first clause is synthesized (and
//! starts playing) while the rest still waits, and each clause keeps its place in the
//! reply so a cut-off reply can say how many characters were heard.

/// A clause longer than this is also cut at a comma, semicolon or colon.
const LONG_CLAUSE_CHARS: usize = 60;

/// One clause of a reply: its text and where it sits in the reply, in characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    pub text: String,
    /// Index of its first character in the reply.
    pub start: usize,
    /// Index just past its last character.
    pub end: usize,
}

/// Cuts `text` after each sentence end (`.`, `!`, `?` before a space or the end), and
/// long clauses also after `,`, `;` or `:`. Whitespace between clauses belongs to none;
/// empty clauses are left out.
pub fn clauses(text: &str) -> Vec<Clause> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &c) in chars.iter().enumerate() {
        let at_break = chars.get(i + 1).is_none_or(|next| next.is_whitespace());
        let sentence_end = matches!(c, '.' | '!' | '?');
        let pause = matches!(c, ',' | ';' | ':') && i + 1 - start >= LONG_CLAUSE_CHARS;
        if at_break && (sentence_end || pause) {
            push(&chars, start, i + 1, &mut out);
            start = i + 1;
        }
    }
    push(&chars, start, chars.len(), &mut out);
    out
}

/// Adds `chars[start..end]` without its surrounding whitespace, unless nothing is left.
fn push(chars: &[char], mut start: usize, mut end: usize, out: &mut Vec<Clause>) {
    while start < end && chars[start].is_whitespace() {
        start += 1;
    }
    while end > start && chars[end - 1].is_whitespace() {
        end -= 1;
    }
    if start < end {
        out.push(Clause { text: chars[start..end].iter().collect(), start, end });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<String> {
        clauses(text).into_iter().map(|c| c.text).collect()
    }

    #[test]
    fn sentences_are_clauses() {
        assert_eq!(texts("Hello! How can I help? We open at nine."), ["Hello!", "How can I help?", "We open at nine."]);
        assert_eq!(texts("No stop at the end"), ["No stop at the end"]);
        assert_eq!(texts("  "), Vec::<String>::new());
    }

    #[test]
    fn numbers_and_abbreviations_without_a_space_stay_whole() {
        assert_eq!(texts("It costs 3.50 euros."), ["It costs 3.50 euros."]);
    }

    #[test]
    fn long_clauses_are_cut_at_pauses_and_short_ones_are_not() {
        assert_eq!(texts("Yes, we are open."), ["Yes, we are open."]);
        let long = "Thank you for calling the Acme opening hours and directions line today, this is long.";
        assert_eq!(
            texts(long),
            ["Thank you for calling the Acme opening hours and directions line today,", "this is long."]
        );
    }

    #[test]
    fn clauses_know_their_place_in_characters() {
        let text = "Héllo there.  Bye.";
        let all = clauses(text);
        let chars: Vec<char> = text.chars().collect();
        for clause in &all {
            assert_eq!(chars[clause.start..clause.end].iter().collect::<String>(), clause.text);
        }
        assert_eq!((all[1].start, all[1].end), (14, 18));
    }
}
