//! How well entries answer a query. The databases find the candidates with
//! their full-text engines (BM25 on SQLite, `ts_rank` on PostgreSQL); their
//! numbers are not comparable, and they count a term again for every synonym
//! an entry holds. Here every query term counts once, found by any of its
//! forms and compared by English stem ("refunds" covers "refund"):
//!
//! - the *coverage* of an entry is the share of the query's terms it holds, a
//!   term in the question counting fully and one only in the answer
//!   [`ANSWER_WEIGHT`] — a 0–1 score the same on both databases, which the
//!   embedded brain's answer threshold is set against;
//! - candidates are ordered by their coverage plus the same share weighted
//!   by how rare each term is among the candidates (a word every candidate
//!   holds tells none apart), the database's order breaking ties.

use std::collections::HashSet;

use rust_stemmers::{Algorithm, Stemmer};

use super::normalize::SearchQuery;

/// What a term found only in the answer is worth, against 1 in the question.
pub const ANSWER_WEIGHT: f64 = 0.6;

/// A candidate's score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// Position of the candidate in the input (the database's order).
    pub index: usize,
    /// Share of the query's terms covered, 0–1, rounded to three decimals.
    pub coverage: f64,
}

/// Scores candidates given as their index text (question, answer), as
/// [`index_text`](super::normalize::index_text) stored it, and returns them
/// best first.
pub fn rank(query: &SearchQuery, candidates: &[(&str, &str)]) -> Vec<Scored> {
    if query.terms.is_empty() {
        return Vec::new();
    }
    let stemmer = Stemmer::create(Algorithm::English);
    let stems =
        |text: &str| -> HashSet<String> { text.split_whitespace().map(|w| stemmer.stem(w).into_owned()).collect() };
    let terms: Vec<Vec<String>> =
        query.terms.iter().map(|t| t.forms().map(|f| stemmer.stem(f).into_owned()).collect()).collect();
    // levels[c][t]: what term t is worth in candidate c.
    let levels: Vec<Vec<f64>> = candidates
        .iter()
        .map(|(question, answer)| {
            let (in_question, in_answer) = (stems(question), stems(answer));
            terms
                .iter()
                .map(|forms| {
                    if forms.iter().any(|f| in_question.contains(f)) {
                        1.0
                    } else if forms.iter().any(|f| in_answer.contains(f)) {
                        ANSWER_WEIGHT
                    } else {
                        0.0
                    }
                })
                .collect()
        })
        .collect();
    let n = candidates.len() as f64;
    let rarity: Vec<f64> = (0..terms.len())
        .map(|t| {
            let holders = levels.iter().filter(|l| l[t] > 0.0).count().max(1) as f64;
            (1.0 + n / holders).ln()
        })
        .collect();
    let total_rarity: f64 = rarity.iter().sum();
    let mut scored: Vec<(Scored, f64)> = levels
        .iter()
        .enumerate()
        .map(|(index, l)| {
            let share = l.iter().sum::<f64>() / terms.len() as f64;
            let weighted: f64 = l.iter().zip(&rarity).map(|(level, weight)| level * weight).sum();
            let coverage = (share * 1000.0).round() / 1000.0;
            (Scored { index, coverage }, share + weighted / total_rarity)
        })
        .collect();
    // Stable: equal weights keep the database's order.
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored.into_iter().map(|(s, _)| s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::normalize::{index_text, search_query};

    fn ranked(query: &str, entries: &[(&str, &str)]) -> Vec<(usize, f64)> {
        let texts: Vec<(String, String)> = entries.iter().map(|(q, a)| (index_text(q), index_text(a))).collect();
        let borrowed: Vec<(&str, &str)> = texts.iter().map(|(q, a)| (q.as_str(), a.as_str())).collect();
        rank(&search_query(query), &borrowed).into_iter().map(|s| (s.index, s.coverage)).collect()
    }

    #[test]
    fn question_terms_count_more_than_answer_terms() {
        let entries = [
            ("Parking", "Free parking behind the store."),
            ("Opening hours", "We are closed on Sundays."),
            ("When are you open on Sundays?", "Ten to four."),
        ];
        assert_eq!(ranked("uh, what are your opening hours on sundays?", &entries), [(2, 1.0), (1, 0.8), (0, 0.0)]);
    }

    #[test]
    fn stems_and_synonyms_count_once() {
        let entries = [
            ("Do you ship abroad?", "We ship and deliver to every EU country; delivery takes days."),
            ("Refund policy", "Returned items are refunded in 5 days."),
        ];
        let scores = ranked("How do I get my money back for returns?", &entries);
        assert_eq!(scores[0], (1, 0.8));
        assert_eq!(ranked("what is it", &entries), []);
    }

    #[test]
    fn rare_terms_decide_between_equal_coverage() {
        // "store" is in every candidate, "parking" in one: that one wins.
        let entries = [
            ("Store opening hours", "Every store opens at nine."),
            ("Store locations", "Find a store near you."),
            ("Store parking", "Parking is free at every store."),
        ];
        assert_eq!(ranked("store parking", &entries)[0], (2, 1.0));
        assert_eq!(ranked("parking at the store", &entries)[0].0, 2);
    }
}
