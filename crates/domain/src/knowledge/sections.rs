//! Documents into entries. A document (plain text, Markdown, the text of a
//! PDF or DOCX, a web page) becomes *sections* — a heading and the text under
//! it — and each section becomes one or more question/answer entries: the
//! heading is the question, the text the answer, cut at sentence ends when it
//! is long.

use super::entries::{ANSWER_MAX, QUESTION_MAX};

/// A heading and the text under it; paragraphs are separated by `\n`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    pub heading: Option<String>,
    pub body: String,
}

/// An entry made from a document, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryDraft {
    pub question: String,
    pub answer: String,
}

/// Longest answer cut from one section; longer text becomes several entries.
pub const CHUNK_CHARS: usize = 1_200;
/// Bodies shorter than this carry no answer (a lone "Read more").
const MIN_ANSWER_CHARS: usize = 12;
/// A line this short with no closing punctuation, alone in its paragraph, is a heading.
const HEADING_MAX_CHARS: usize = 80;

/// Which syntax a text document is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFormat {
    Plain,
    Markdown,
}

/// Splits a text document into sections. Headings are Markdown `#` lines
/// (Markdown only), `Q:`/`Question:` lines, a question line opening a
/// paragraph, and a short line without closing punctuation standing alone.
pub fn text_sections(text: &str, format: TextFormat) -> Vec<Section> {
    let mut builder = SectionBuilder::default();
    let paragraphs = paragraphs(text);
    for lines in paragraphs {
        let mut lines = lines.into_iter().map(|l| clean_line(&l, format)).filter(|l| !l.is_empty()).peekable();
        let Some(first) = lines.next() else { continue };
        let alone = lines.peek().is_none();
        if let Some(heading) = heading_of(&first, format, alone) {
            builder.start(heading);
        } else {
            builder.add_line(strip_answer_label(&first));
        }
        for line in lines {
            match question_label(&line) {
                Some(q) => builder.start(q.to_owned()),
                None => builder.add_line(strip_answer_label(&line)),
            }
        }
        builder.end_paragraph();
    }
    builder.finish()
}

/// Groups lines into paragraphs (blank lines separate them).
fn paragraphs(text: &str) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = vec![Vec::new()];
    for line in text.lines() {
        if line.trim().is_empty() {
            if out.last().is_some_and(|p| !p.is_empty()) {
                out.push(Vec::new());
            }
        } else if let Some(current) = out.last_mut() {
            current.push(line.trim().to_owned());
        }
    }
    out.retain(|p| !p.is_empty());
    out
}

/// The heading a paragraph's first line stands for, if it is one.
fn heading_of(line: &str, format: TextFormat, alone: bool) -> Option<String> {
    if format == TextFormat::Markdown
        && let Some(rest) = line.strip_prefix('#')
    {
        let text = rest.trim_start_matches('#').trim();
        return (!text.is_empty()).then(|| text.to_owned());
    }
    if let Some(q) = question_label(line) {
        return Some(q.to_owned());
    }
    let chars = line.chars().count();
    if line.ends_with('?') && chars <= QUESTION_MAX.min(300) {
        return Some(line.to_owned());
    }
    let closes = line.ends_with(['.', ',', ';', ':', '!']);
    let listed = line.starts_with(['-', '*', '•']);
    (alone && chars <= HEADING_MAX_CHARS && !closes && !listed && line.chars().any(char::is_alphabetic))
        .then(|| line.to_owned())
}

/// The question of a `Q:` / `Question:` line.
fn question_label(line: &str) -> Option<&str> {
    ["Q:", "Q.", "Question:"]
        .iter()
        .find_map(|label| strip_prefix_ci(line, label))
        .map(str::trim)
        .filter(|q| !q.is_empty())
}

fn strip_answer_label(line: &str) -> String {
    ["A:", "A.", "Answer:"].iter().find_map(|label| strip_prefix_ci(line, label)).unwrap_or(line).trim().to_owned()
}

fn strip_prefix_ci<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    let head = line.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &line[prefix.len()..])
}

/// One line without Markdown decoration (emphasis, code, links, list and
/// quote markers) when the text is Markdown.
fn clean_line(line: &str, format: TextFormat) -> String {
    let line = line.trim();
    if format == TextFormat::Plain {
        return line.to_owned();
    }
    let mut line = line.trim_start_matches('>').trim();
    for marker in ["- ", "* ", "+ "] {
        if let Some(rest) = line.strip_prefix(marker) {
            line = rest;
        }
    }
    strip_links(line).replace(['*', '`'], "").replace("__", "").trim().to_owned()
}

/// `[text](url)` → `text`; `![alt](src)` → `alt`.
fn strip_links(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find("](").map(|i| open + i) else { break };
        let Some(end) = rest[close..].find(')').map(|i| close + i) else { break };
        out.push_str(rest[..open].trim_end_matches('!'));
        out.push_str(&rest[open + 1..close]);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Collects sections as headings and lines arrive.
#[derive(Default)]
pub(crate) struct SectionBuilder {
    sections: Vec<Section>,
    current: Section,
    paragraph: String,
}

impl SectionBuilder {
    /// A heading: the section so far ends, a new one starts.
    pub(crate) fn start(&mut self, heading: String) {
        self.end_paragraph();
        let done = std::mem::replace(&mut self.current, Section { heading: Some(heading), body: String::new() });
        self.push(done);
    }

    /// A line of running text; lines of one paragraph are joined with spaces.
    pub(crate) fn add_line(&mut self, line: String) {
        let line = collapse_spaces(&line);
        if line.is_empty() {
            return;
        }
        if !self.paragraph.is_empty() {
            self.paragraph.push(' ');
        }
        self.paragraph.push_str(&line);
    }

    /// Running text as it comes (HTML text nodes): no separator is added.
    pub(crate) fn add_text(&mut self, text: &str) {
        self.paragraph.push_str(text);
    }

    pub(crate) fn end_paragraph(&mut self) {
        let paragraph = collapse_spaces(&std::mem::take(&mut self.paragraph));
        if paragraph.is_empty() {
            return;
        }
        if !self.current.body.is_empty() {
            self.current.body.push('\n');
        }
        self.current.body.push_str(&paragraph);
    }

    fn push(&mut self, section: Section) {
        if !section.body.trim().is_empty() {
            self.sections.push(section);
        }
    }

    pub(crate) fn finish(mut self) -> Vec<Section> {
        self.end_paragraph();
        let last = std::mem::take(&mut self.current);
        self.push(last);
        self.sections
    }
}

pub(crate) fn collapse_spaces(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Entries from sections: the heading (else `title`, else the first
/// sentence) is the question; long bodies are cut at sentence ends into
/// answers of at most [`CHUNK_CHARS`]. Entries repeated word for word are kept once.
pub fn entries_from_sections(title: Option<&str>, sections: &[Section]) -> Vec<EntryDraft> {
    let mut out: Vec<EntryDraft> = Vec::new();
    for section in sections {
        let body = section.body.trim();
        if body.chars().count() < MIN_ANSWER_CHARS {
            continue;
        }
        let heading = section.heading.as_deref().map(collapse_spaces).filter(|h| !h.is_empty());
        let question = heading
            .or_else(|| title.map(collapse_spaces).filter(|t| !t.is_empty()))
            .unwrap_or_else(|| first_sentence(body));
        let question = truncate_chars(&question, QUESTION_MAX);
        for answer in chunks(body, CHUNK_CHARS.min(ANSWER_MAX)) {
            let draft = EntryDraft { question: question.clone(), answer };
            if !out.contains(&draft) {
                out.push(draft);
            }
        }
    }
    out
}

fn first_sentence(text: &str) -> String {
    let end = sentence_ends(text).next().unwrap_or(text.len());
    truncate_chars(text[..end].trim(), 200)
}

/// Cuts `text` into pieces of at most `max` characters, at paragraph or
/// sentence ends where possible, at a space otherwise.
pub fn chunks(text: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while rest.chars().count() > max {
        let limit = rest.char_indices().nth(max).map_or(rest.len(), |(i, _)| i);
        let window = &rest[..limit];
        let cut = window
            .rfind('\n')
            .filter(|&i| i > limit / 3)
            .or_else(|| sentence_ends(window).filter(|&i| i > limit / 3).last())
            .or_else(|| window.rfind(' ').filter(|&i| i > 0))
            .unwrap_or(limit);
        out.push(rest[..cut].trim().to_owned());
        rest = rest[cut..].trim_start();
    }
    if !rest.is_empty() {
        out.push(rest.to_owned());
    }
    out.retain(|c| !c.is_empty());
    out
}

/// Byte offsets just past each sentence end (`.`, `!` or `?` before a space).
fn sentence_ends(text: &str) -> impl Iterator<Item = usize> + '_ {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(1))
        .filter(move |&i| matches!(bytes[i], b'.' | b'!' | b'?') && bytes[i + 1].is_ascii_whitespace())
        .map(|i| i + 1)
}

fn truncate_chars(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(entries: &[EntryDraft]) -> Vec<(&str, &str)> {
        entries.iter().map(|e| (e.question.as_str(), e.answer.as_str())).collect()
    }

    #[test]
    fn markdown_headings_become_questions() {
        let md = "# Acme help\n\nWelcome to **Acme**.\n\n## What are your opening hours?\n\nWe are open\n\
                  9 to 5 on weekdays.\n\n- Closed on [public holidays](https://x/h).\n\n## Returns\n\nReturn within 30 days.\n";
        let sections = text_sections(md, TextFormat::Markdown);
        let entries = entries_from_sections(Some("Handbook"), &sections);
        assert_eq!(
            pairs(&entries),
            [
                ("Acme help", "Welcome to Acme."),
                ("What are your opening hours?", "We are open 9 to 5 on weekdays.\nClosed on public holidays."),
                ("Returns", "Return within 30 days."),
            ]
        );
    }

    #[test]
    fn plain_text_question_lines_and_labels() {
        let text = "Shipping FAQ\n\nDo you ship abroad?\nYes, to all EU countries within five days.\n\n\
                    Q: Can I pay by invoice?\nA: Only business customers can pay by invoice.\n\
                    Q: Is there a fee?\nA: No, invoices are free.";
        let entries = entries_from_sections(Some("faq.txt"), &text_sections(text, TextFormat::Plain));
        assert_eq!(
            pairs(&entries),
            [
                ("Do you ship abroad?", "Yes, to all EU countries within five days."),
                ("Can I pay by invoice?", "Only business customers can pay by invoice."),
                ("Is there a fee?", "No, invoices are free."),
            ]
        );
    }

    #[test]
    fn text_without_headings_takes_the_title() {
        let entries = entries_from_sections(
            Some("Returns policy"),
            &text_sections("You can return any item within thirty days of delivery.", TextFormat::Plain),
        );
        assert_eq!(pairs(&entries), [("Returns policy", "You can return any item within thirty days of delivery.")]);
        let untitled = entries_from_sections(None, &[Section { heading: None, body: "First one. Then more.".into() }]);
        assert_eq!(untitled[0].question, "First one.");
    }

    #[test]
    fn long_bodies_are_cut_at_sentence_ends() {
        let sentence = "Each of these sentences ends with a full stop. ";
        let body = sentence.repeat(60);
        let pieces = chunks(&body, 300);
        assert!(pieces.len() > 5);
        for piece in &pieces {
            assert!(piece.chars().count() <= 300, "{piece}");
            assert!(piece.ends_with('.'), "cut mid-sentence: {piece}");
        }
        assert_eq!(pieces.join(" "), body.trim());
        let no_spaces = "x".repeat(25);
        assert_eq!(chunks(&no_spaces, 10), ["xxxxxxxxxx", "xxxxxxxxxx", "xxxxx"]);
    }

    #[test]
    fn tiny_bodies_and_repeats_are_dropped() {
        let sections = vec![
            Section { heading: Some("More".into()), body: "Read more".into() },
            Section { heading: Some("Hours".into()), body: "Nine to five daily.".into() },
            Section { heading: Some("Hours".into()), body: "Nine to five daily.".into() },
        ];
        assert_eq!(pairs(&entries_from_sections(None, &sections)), [("Hours", "Nine to five daily.")]);
    }
}
