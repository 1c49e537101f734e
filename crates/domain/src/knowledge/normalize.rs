//! Spoken language into search terms. Callers say "uh, what're your, like,
//! opening hours on twenty fourth December?"; entries say "Opening hours on
//! 24 December". Both sides go through the same word clean-up (case,
//! punctuation, contractions, number words as digits); a query also loses its
//! filler words and stop words, and gains the synonyms of customer-service
//! vocabulary ("money back" also searches "refund").

use rust_stemmers::{Algorithm, Stemmer};
use text2num::{Language, replace_numbers_in_text};

/// The words of `text`: lower-cased, punctuation removed, contractions
/// expanded ("what's" → "what is", "don't" → "do not", possessive "'s"
/// dropped) and number words written as digits ("twenty four" → "24").
pub fn words(text: &str) -> Vec<String> {
    let lowered = text.to_lowercase().replace(['\u{2019}', '\u{2018}', '`'], "'");
    let numbered = replace_numbers_in_text(&lowered, &Language::english(), 0.0);
    let mut out = Vec::new();
    for raw in numbered.split(|c: char| !(c.is_alphanumeric() || c == '\'')) {
        let token = raw.trim_matches('\'');
        if !token.is_empty() {
            expand_contraction(token, &mut out);
        }
    }
    out
}

/// What is stored for full-text indexing: [`words`] joined by spaces, so
/// entries and queries are cleaned up the same way.
pub fn index_text(text: &str) -> String {
    words(text).join(" ")
}

/// Pushes the words a token stands for.
fn expand_contraction(token: &str, out: &mut Vec<String>) {
    const WHOLE: &[(&str, &[&str])] = &[
        ("can't", &["can", "not"]),
        ("cannot", &["can", "not"]),
        ("won't", &["will", "not"]),
        ("shan't", &["shall", "not"]),
        ("ain't", &["is", "not"]),
        ("let's", &["let", "us"]),
        ("y'all", &["you", "all"]),
    ];
    if let Some((_, expansion)) = WHOLE.iter().find(|(c, _)| *c == token) {
        out.extend(expansion.iter().map(|w| (*w).to_owned()));
        return;
    }
    const SUFFIXES: &[(&str, &str)] =
        &[("n't", "not"), ("'re", "are"), ("'ve", "have"), ("'ll", "will"), ("'d", "would"), ("'m", "am")];
    for (suffix, word) in SUFFIXES {
        if let Some(base) = token.strip_suffix(suffix).filter(|b| !b.is_empty()) {
            out.push(base.replace('\'', ""));
            out.push((*word).to_owned());
            return;
        }
    }
    if let Some(base) = token.strip_suffix("'s").filter(|b| !b.is_empty()) {
        out.push(base.replace('\'', ""));
        // "it's" is "it is"; "company's" is a possessive and loses its 's.
        if matches!(base, "it" | "that" | "what" | "where" | "when" | "who" | "how" | "there" | "here" | "he" | "she") {
            out.push("is".to_owned());
        }
        return;
    }
    out.push(token.replace('\'', ""));
}

/// Sounds and phrases that carry nothing in speech.
const FILLERS: &[&str] = &["uh", "uhh", "um", "umm", "uhm", "er", "erm", "ah", "ahh", "hmm", "mm", "mhm", "eh"];
const FILLER_PHRASES: &[&[&str]] = &[&["you", "know"], &["i", "mean"], &["kind", "of"], &["sort", "of"]];

/// "like" is a verb between one of these ("I'd like", "would you like") and
/// one of [`LIKE_AS_VERB_BEFORE`] ("… like to cancel", "… like the blue one");
/// anywhere else it is a filler ("is it, like, open", "do you like ship abroad").
const LIKE_AS_VERB_AFTER: &[&str] = &[
    "i", "you", "we", "they", "would", "do", "does", "did", "not", "really", "look", "looks", "feel", "sound", "sounds",
];
const LIKE_AS_VERB_BEFORE: &[&str] = &[
    "to", "a", "an", "the", "it", "this", "that", "these", "those", "my", "your", "our", "his", "her", "them", "me",
    "us", "him", "some", "one",
];

/// A spoken query as a clean sentence: [`words`] without fillers ("uh", "um",
/// "you know", "I mean", filler "like").
pub fn normalize_spoken(text: &str) -> String {
    without_fillers(&words(text)).join(" ")
}

fn without_fillers(words: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let w = words[i].as_str();
        if let Some(phrase) = FILLER_PHRASES.iter().find(|p| starts_with(&words[i..], p)) {
            i += phrase.len();
            continue;
        }
        let verb_like = out.last().is_some_and(|prev| LIKE_AS_VERB_AFTER.contains(&prev.as_str()))
            && words.get(i + 1).is_some_and(|next| LIKE_AS_VERB_BEFORE.contains(&next.as_str()));
        let filler_like = w == "like" && !verb_like;
        if !FILLERS.contains(&w) && !filler_like {
            out.push(w.to_owned());
        }
        i += 1;
    }
    out
}

fn starts_with(words: &[String], phrase: &[&str]) -> bool {
    words.len() >= phrase.len() && words.iter().zip(phrase).all(|(w, p)| w == p)
}

/// Words that say nothing about which entry is meant.
const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "actually",
    "after",
    "again",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "anything",
    "are",
    "as",
    "at",
    "basically",
    "be",
    "been",
    "before",
    "being",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "for",
    "folks",
    "from",
    "get",
    "give",
    "go",
    "going",
    "got",
    "guys",
    "had",
    "has",
    "have",
    "having",
    "he",
    "hello",
    "her",
    "here",
    "hey",
    "hi",
    "him",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "just",
    "know",
    "let",
    "like",
    "me",
    "might",
    "more",
    "most",
    "much",
    "must",
    "my",
    "need",
    "no",
    "not",
    "now",
    "of",
    "ok",
    "okay",
    "on",
    "one",
    "or",
    "our",
    "out",
    "please",
    "really",
    "she",
    "should",
    "so",
    "some",
    "something",
    "tell",
    "thank",
    "thanks",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "to",
    "too",
    "up",
    "us",
    "very",
    "want",
    "wanted",
    "was",
    "way",
    "we",
    "well",
    "were",
    "what",
    "when",
    "where",
    "which",
    "who",
    "why",
    "will",
    "with",
    "would",
    "yeah",
    "yes",
    "you",
    "your",
    "yours",
];

/// Groups of words customers use for the same thing, and the phrases that
/// mean one of them. The first word of a group names it; a query word joins a
/// group when their stems match ("returns" → "return").
const SYNONYMS: &[(&[&str], &[&[&str]])] = &[
    (&["refund", "reimburse", "reimbursement", "repay"], &[&["money", "back"]]),
    (&["cancel", "cancellation", "terminate", "unsubscribe"], &[&["call", "off"]]),
    (&["price", "cost", "costs", "fee", "fees", "charge", "pricing", "cheap", "cheaper"], &[&["how", "much"]]),
    (&["hours", "open", "opening"], &[&["what", "time"]]),
    (&["shipping", "ship", "delivery", "deliver", "shipment", "postage"], &[]),
    (&["return", "exchange"], &[&["send", "back"], &["send", "it", "back"], &["bring", "back"], &["take", "back"]]),
    (&["payment", "pay", "billing", "bill", "invoice"], &[]),
    (&["login", "logon"], &[&["log", "in"], &["sign", "in"], &["logging", "in"], &["signing", "in"]]),
    (&["password", "passcode"], &[]),
    (&["address", "location", "located", "directions"], &[&["where", "are", "you"]]),
    (&["appointment", "booking", "book", "reservation", "reserve", "schedule"], &[]),
    (&["discount", "coupon", "promo", "voucher", "promotion", "reduction", "deal"], &[]),
    (&["warranty", "guarantee"], &[]),
    (&["broken", "damaged", "defective", "faulty"], &[]),
    (&["contact", "reach"], &[&["speak", "to"], &["talk", "to"], &["get", "in", "touch"]]),
    (&["track", "tracking"], &[&["where", "is", "my", "order"]]),
    (&["parking", "park"], &[]),
    (&["wifi", "internet", "wireless"], &[]),
    (&["pet", "pets", "dog", "dogs", "cat", "cats"], &[]),
    (&["child", "children", "kid", "kids"], &[]),
    (&["job", "jobs", "career", "careers", "vacancy", "vacancies"], &[]),
    (&["store", "shop", "branch", "outlet"], &[]),
    (&["buy", "purchase"], &[]),
    (&["website", "online", "web", "site"], &[]),
    (&["phone", "telephone", "mobile"], &[]),
    (&["parcel", "package"], &[]),
    (&["courier", "driver", "postman", "carrier"], &[]),
    (&["gift", "present"], &[]),
    (&["account", "profile"], &[]),
    (&["register", "registration", "signup", "enrol"], &[&["sign", "up"]]),
    (&["loyalty", "rewards", "reward", "club"], &[]),
    (&["person", "human", "adviser", "advisor", "representative", "agent"], &[]),
    (&["catalogue", "catalog", "brochure", "magazine"], &[]),
    (&["headquarters", "hq"], &[&["head", "office"]]),
    (&["bicycle", "bike"], &[]),
    (&["greenhouse", "glasshouse"], &[]),
    (&["vacuum", "hoover"], &[]),
    (&["washer"], &[&["washing", "machine"]]),
    (&["barbecue", "bbq", "grill"], &[]),
    (&["repair", "fix", "mend"], &[]),
    (&["toilet", "restroom", "bathroom", "loo", "wc"], &[]),
    (&["instructions", "manual", "guide"], &[]),
    (&["rent", "rental", "hire", "borrow", "lend"], &[]),
    (&["wheelchair", "accessible", "accessibility", "disabled"], &[]),
    (&["secure", "safe", "security", "safety"], &[]),
    (&["data", "information", "info", "details"], &[]),
    (&["receipt", "proof"], &[]),
    (&["measure", "measurements", "size", "dimensions"], &[]),
    (&["cafe", "coffee", "restaurant"], &[]),
    (&["available", "availability", "stock"], &[]),
];

/// One thing the caller asked about: a word and the other words that mean it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryTerm {
    pub word: String,
    pub alternatives: Vec<String>,
}

impl QueryTerm {
    /// The word and its alternatives.
    pub fn forms(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.word.as_str()).chain(self.alternatives.iter().map(String::as_str))
    }
}

/// A query ready for full-text search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// The spoken query cleaned up ([`normalize_spoken`]).
    pub normalized: String,
    /// What it asks about, without stop words, each once.
    pub terms: Vec<QueryTerm>,
}

impl SearchQuery {
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Every word to look for (terms and their alternatives), each once.
    pub fn all_words(&self) -> Vec<&str> {
        let mut seen: Vec<&str> = Vec::new();
        for word in self.terms.iter().flat_map(QueryTerm::forms) {
            if !seen.contains(&word) {
                seen.push(word);
            }
        }
        seen
    }
}

/// Turns what a caller said into search terms.
pub fn search_query(text: &str) -> SearchQuery {
    let clean = without_fillers(&words(text));
    let stemmer = Stemmer::create(Algorithm::English);
    let mut terms: Vec<QueryTerm> = Vec::new();
    let mut push = |term: QueryTerm| {
        // One term per meaning: "opening hours" asks about hours once.
        if !terms.iter().any(|t| t.forms().any(|form| form == term.word)) {
            terms.push(term);
        }
    };
    let mut i = 0;
    while i < clean.len() {
        if let Some((group, len)) = phrase_at(&clean[i..]) {
            push(group_term(group, group[0]));
            i += len;
            continue;
        }
        let word = clean[i].as_str();
        i += 1;
        if STOP_WORDS.contains(&word) {
            continue;
        }
        let stem = stemmer.stem(word);
        match SYNONYMS.iter().find(|(group, _)| group.iter().any(|member| stemmer.stem(member) == stem)) {
            Some((group, _)) => push(group_term(group, word)),
            None => push(QueryTerm { word: word.to_owned(), alternatives: Vec::new() }),
        }
    }
    SearchQuery { normalized: clean.join(" "), terms }
}

/// The synonym group of a phrase starting here, and the phrase's length.
fn phrase_at(words: &[String]) -> Option<(&'static [&'static str], usize)> {
    SYNONYMS.iter().find_map(|(group, phrases)| {
        phrases.iter().filter(|p| starts_with(words, p)).map(|p| (*group, p.len())).max_by_key(|(_, len)| *len)
    })
}

fn group_term(group: &[&str], word: &str) -> QueryTerm {
    QueryTerm {
        word: word.to_owned(),
        alternatives: group.iter().filter(|w| **w != word).map(|w| (*w).to_owned()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term_words(q: &SearchQuery) -> Vec<&str> {
        q.terms.iter().map(|t| t.word.as_str()).collect()
    }

    #[test]
    fn words_fold_case_punctuation_contractions_and_numbers() {
        assert_eq!(words("What's your RETURN-policy?!"), ["what", "is", "your", "return", "policy"]);
        assert_eq!(words("I don't know, can't you?"), ["i", "do", "not", "know", "can", "not", "you"]);
        assert_eq!(words("We’re open twenty four hours"), ["we", "are", "open", "24", "hours"]);
        assert_eq!(words("the company's policy"), ["the", "company", "policy"]);
        assert_eq!(words("I'd like three hundred and fifty"), ["i", "would", "like", "350"]);
        assert_eq!(index_text("Opening hours: 9-17h."), "opening hours 9 17h");
    }

    #[test]
    fn fillers_go_but_the_verb_like_stays() {
        assert_eq!(normalize_spoken("Uh, um, is it, like, open on Sundays, you know?"), "is it open on sundays");
        assert_eq!(normalize_spoken("I'd like to, uh, cancel"), "i would like to cancel");
        assert_eq!(normalize_spoken("I mean, do you like ship abroad"), "do you ship abroad");
        assert_eq!(normalize_spoken("Hmm... kind of need a refund"), "need a refund");
    }

    #[test]
    fn stop_words_go_and_each_term_appears_once() {
        let q = search_query("What are the opening hours of the Amsterdam store, the store?");
        assert_eq!(term_words(&q), ["opening", "amsterdam", "store"]);
        assert!(search_query("what is it, uh, you know").is_empty());
    }

    #[test]
    fn synonyms_and_phrases_widen_a_term() {
        let q = search_query("How do I get my money back?");
        assert_eq!(term_words(&q), ["refund"]);
        assert!(q.terms[0].alternatives.contains(&"reimbursement".to_owned()));
        let q = search_query("how much is shipping to Belgium");
        assert_eq!(term_words(&q), ["price", "shipping", "belgium"]);
        assert!(q.all_words().contains(&"delivery"));
        let q = search_query("I can't sign in to my account");
        assert_eq!(term_words(&q), ["login", "account"]);
    }

    #[test]
    fn number_words_become_digits_in_queries() {
        assert_eq!(term_words(&search_query("Do you have a two year warranty?")), ["2", "year", "warranty"]);
    }
}
