//! `switchboard-bench kb`: retrieval quality and speed of knowledge-base
//! search. A FAQ of 200+ entries (`benches-data/kb_faq.txt`) is loaded into a
//! knowledge base on a throwaway database; every entry comes with a
//! paraphrased query and a spoken-style one, and recall@1 and MRR (within the
//! top 10) are measured for both, together with how often the embedded
//! brain's answer threshold would answer right, answer wrong, or stay silent
//! (also for out-of-scope questions). Then generated entries fill the
//! knowledge base up to `--entries` and the search latency (p50/p90/p99) is
//! measured at that size, with the quality measured again among the
//! distractors. Searches go through the same retrieval the brains use.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Instant;

use anyhow::{Context, bail};
use serde::Serialize;
use switchboard_domain::knowledge::entries::EntryContent;
use switchboard_domain::knowledge::settings::KnowledgeBaseCreate;
use switchboard_runtime::knowledge::retrieval::{ANSWER_THRESHOLD, search};
use switchboard_store::{Clock, Store};

use crate::scratch_db::Database;
use switchboard::admin;

/// The FAQ, its queries and the out-of-scope questions.
const FAQ: &str = include_str!("../data/kb_faq.txt");
/// Results looked at for the reciprocal rank.
const DEPTH: u32 = 10;

/// What to run.
#[derive(Debug, Clone)]
pub struct KbBenchOptions {
    /// A PostgreSQL server to run on (in a fresh database, dropped at the
    /// end); default a SQLite file in a temporary folder.
    pub database_url: Option<String>,
    /// Entries in the knowledge base for the latency run.
    pub entries: usize,
    /// Searches timed at that size.
    pub searches: usize,
}

/// One FAQ entry and the queries that should find it.
#[derive(Debug, Clone)]
struct Case {
    question: String,
    answer: String,
    paraphrased: String,
    spoken: String,
}

/// Quality of one set of queries.
#[derive(Debug, Clone, Serialize)]
pub struct Quality {
    pub queries: usize,
    pub recall_at_1: f64,
    pub mrr: f64,
    /// Top result right and above the answer threshold: the embedded brain answers correctly.
    pub answered_right: f64,
    /// Top result wrong but above the threshold: the embedded brain answers wrongly.
    pub answered_wrong: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct KbBenchReport {
    pub database: String,
    pub build: &'static str,
    pub faq_entries: usize,
    pub answer_threshold: f64,
    /// Among the FAQ entries only.
    pub paraphrased: Quality,
    pub spoken: Quality,
    pub all: Quality,
    /// Out-of-scope questions whose top result clears the threshold (a wrong answer).
    pub out_of_scope_queries: usize,
    pub out_of_scope_answered: f64,
    /// The knowledge base size of the latency run.
    pub entries: usize,
    /// Quality among the generated distractors.
    pub all_at_size: Quality,
    pub searches: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub load_seconds: f64,
}

const BUILD: &str = if cfg!(debug_assertions) { "debug" } else { "release" };

/// Runs the benchmark and prints it (JSON with `json`).
pub async fn run_and_print(options: &KbBenchOptions, json: bool) -> anyhow::Result<()> {
    let report = run(options).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(())
}

pub async fn run(options: &KbBenchOptions) -> anyhow::Result<KbBenchReport> {
    let (cases, out_of_scope) = parse_faq(FAQ)?;
    if options.entries < cases.len() {
        bail!("--entries must be at least the FAQ's {} entries", cases.len());
    }
    Database::run_with(options.database_url.as_deref(), async |database| {
        run_on(database, options, &cases, &out_of_scope).await
    })
    .await
}

async fn run_on(
    database: &Database,
    options: &KbBenchOptions,
    cases: &[Case],
    out_of_scope: &[String],
) -> anyhow::Result<KbBenchReport> {
    let store = Store::connect(database.url(), Clock::system()).await.context("cannot open the bench database")?;
    store.migrate().await.context("cannot apply migrations")?;
    let boot = admin::bootstrap(&store, "KB bench", 0.0).await?;
    let org = boot.org_id;
    let settings = KnowledgeBaseCreate { name: "FAQ".into(), ..Default::default() }.into_settings();
    let kb = store.create_knowledge_base(&org, &settings).await?.id;
    let started = Instant::now();
    let mut ids = Vec::with_capacity(cases.len());
    for case in cases {
        let content = EntryContent { question: case.question.clone(), answer: case.answer.clone(), source: None };
        let row = store.create_knowledge_entry(&org, &kb, &content).await?.map_err(|_| anyhow::anyhow!("full"))?;
        ids.push(row.id);
    }
    let kbs = [kb.clone()];
    let paraphrased = quality(&store, &org, &kbs, cases.iter().map(|c| c.paraphrased.as_str()), &ids).await?;
    let spoken = quality(&store, &org, &kbs, cases.iter().map(|c| c.spoken.as_str()), &ids).await?;
    let all = merge(&paraphrased, &spoken);
    let mut answered = 0;
    for query in out_of_scope {
        let (_, hits) = search(&store, &org, &kbs, query, 1).await?;
        answered += usize::from(hits.first().is_some_and(|h| h.score >= ANSWER_THRESHOLD));
    }
    for (i, content) in distractors(options.entries - cases.len()).into_iter().enumerate() {
        store.create_knowledge_entry(&org, &kb, &content).await?.map_err(|_| anyhow::anyhow!("full"))?;
        if (i + 1).is_multiple_of(2000) {
            eprintln!("bench kb: {} entries loaded", cases.len() + i + 1);
        }
    }
    let load_seconds = started.elapsed().as_secs_f64();
    let queries: Vec<&str> = cases.iter().flat_map(|c| [c.paraphrased.as_str(), c.spoken.as_str()]).collect();
    let p_at_size = quality(&store, &org, &kbs, cases.iter().map(|c| c.paraphrased.as_str()), &ids).await?;
    let s_at_size = quality(&store, &org, &kbs, cases.iter().map(|c| c.spoken.as_str()), &ids).await?;
    let mut latencies = Vec::with_capacity(options.searches);
    for i in 0..options.searches {
        let query = queries[i % queries.len()];
        let at = Instant::now();
        search(&store, &org, &kbs, query, 5).await?;
        latencies.push(at.elapsed().as_secs_f64() * 1000.0);
    }
    latencies.sort_by(f64::total_cmp);
    store.close().await;
    Ok(KbBenchReport {
        database: database.label(),
        build: BUILD,
        faq_entries: cases.len(),
        answer_threshold: ANSWER_THRESHOLD,
        paraphrased,
        spoken,
        all,
        out_of_scope_queries: out_of_scope.len(),
        out_of_scope_answered: ratio(answered, out_of_scope.len()),
        entries: options.entries,
        all_at_size: merge(&p_at_size, &s_at_size),
        searches: latencies.len(),
        p50_ms: percentile(&latencies, 50.0),
        p90_ms: percentile(&latencies, 90.0),
        p99_ms: percentile(&latencies, 99.0),
        max_ms: latencies.last().copied().unwrap_or(0.0),
        load_seconds,
    })
}

/// Recall@1, MRR and answer rates of queries whose right entry is `ids[i]`.
async fn quality<'a>(
    store: &Store,
    org: &str,
    kbs: &[String],
    queries: impl Iterator<Item = &'a str>,
    ids: &[String],
) -> anyhow::Result<Quality> {
    let (mut n, mut first, mut reciprocal, mut right, mut wrong) = (0usize, 0usize, 0.0, 0usize, 0usize);
    for (query, expected) in queries.zip(ids) {
        let (_, hits) = search(store, org, kbs, query, DEPTH).await?;
        n += 1;
        if let Some(rank) = hits.iter().position(|h| &h.entry.id == expected) {
            reciprocal += 1.0 / (rank + 1) as f64;
            first += usize::from(rank == 0);
        }
        if let Some(top) = hits.first().filter(|h| h.score >= ANSWER_THRESHOLD) {
            if &top.entry.id == expected {
                right += 1;
            } else {
                wrong += 1;
            }
        }
    }
    Ok(Quality {
        queries: n,
        recall_at_1: ratio(first, n),
        mrr: round3(reciprocal / n.max(1) as f64),
        answered_right: ratio(right, n),
        answered_wrong: ratio(wrong, n),
    })
}

/// The query-weighted mean of two quality measurements.
fn merge(a: &Quality, b: &Quality) -> Quality {
    let n = a.queries + b.queries;
    let mean = |x: f64, y: f64| round3((x * a.queries as f64 + y * b.queries as f64) / n.max(1) as f64);
    Quality {
        queries: n,
        recall_at_1: mean(a.recall_at_1, b.recall_at_1),
        mrr: mean(a.mrr, b.mrr),
        answered_right: mean(a.answered_right, b.answered_right),
        answered_wrong: mean(a.answered_wrong, b.answered_wrong),
    }
}

fn ratio(part: usize, whole: usize) -> f64 {
    round3(part as f64 / whole.max(1) as f64)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The nearest-rank percentile of sorted values, to the microsecond.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    (crate::load::percentile(sorted, p) * 1000.0).round() / 1000.0
}

/// Reads the FAQ file: blocks of `Q:`, `A:`, `P:` (paraphrased query) and
/// `S:` (spoken query) lines separated by blank lines; `X:` lines are
/// out-of-scope questions; `#` lines are comments.
fn parse_faq(text: &str) -> anyhow::Result<(Vec<Case>, Vec<String>)> {
    let mut cases = Vec::new();
    let mut out_of_scope = Vec::new();
    let mut block: HashMap<char, String> = HashMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            finish_block(&mut block, &mut cases)?;
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once(':').filter(|(k, _)| k.len() == 1) else {
            bail!("FAQ line without a known key: {line}");
        };
        let key = key.chars().next().unwrap_or(' ');
        match key {
            'X' => out_of_scope.push(value.trim().to_owned()),
            'Q' | 'A' | 'P' | 'S' => {
                block.insert(key, value.trim().to_owned());
            }
            _ => bail!("FAQ line with an unknown key: {line}"),
        }
    }
    finish_block(&mut block, &mut cases)?;
    Ok((cases, out_of_scope))
}

/// Turns the lines of one block into a case.
fn finish_block(block: &mut HashMap<char, String>, cases: &mut Vec<Case>) -> anyhow::Result<()> {
    if block.is_empty() {
        return Ok(());
    }
    let mut take = |k: char| block.remove(&k).with_context(|| format!("a FAQ block lacks its {k}: line"));
    let case = Case { question: take('Q')?, answer: take('A')?, paraphrased: take('P')?, spoken: take('S')? };
    block.clear();
    cases.push(case);
    Ok(())
}

/// Generated entries of a product catalogue's support pages, sharing the
/// FAQ's vocabulary, deterministic.
fn distractors(n: usize) -> Vec<EntryContent> {
    const PRODUCTS: &[&str] = &[
        "lawn mower",
        "hedge trimmer",
        "garden hose",
        "patio heater",
        "barbecue grill",
        "compost bin",
        "rain barrel",
        "leaf blower",
        "pressure washer",
        "greenhouse kit",
        "garden shed",
        "bird feeder",
        "solar lamp",
        "water pump",
        "planter box",
        "pruning shears",
        "wheelbarrow",
        "sprinkler",
        "fire pit",
        "hammock",
    ];
    const MODELS: &[&str] = &["Basic", "Classic", "Pro", "Max", "Eco", "Compact", "Deluxe", "Trail", "Urban", "Prime"];
    const TOPICS: &[(&str, &str)] = &[
        (
            "assemble",
            "Unpack every part, lay them out, and follow the numbered steps in the manual; assembly takes about 40 minutes.",
        ),
        (
            "clean",
            "Switch it off, let it cool, and wipe it with a damp cloth; never use a pressure washer on the motor.",
        ),
        (
            "store for winter",
            "Drain all water, clean it, and keep it in a dry, frost-free place covered with a breathable sheet.",
        ),
        (
            "replace the battery of",
            "Open the battery cover with a coin, swap the pack, and charge the new battery for eight hours first.",
        ),
        (
            "find spare parts for",
            "Spare parts are listed on the product page under Parts; enter the serial number to see the matching ones.",
        ),
        (
            "fix a noise in",
            "A rattling noise usually means a loose screw; tighten the housing screws and check the blade or fan.",
        ),
        (
            "update the firmware of",
            "Connect it to the app, open Device settings, and tap Check for updates; keep it charged meanwhile.",
        ),
        (
            "reset",
            "Hold the power button for ten seconds until the light blinks twice; this restores the factory settings.",
        ),
        (
            "choose the right size of",
            "Measure the space first; the size chart on the product page lists dimensions and recommended garden area.",
        ),
        ("recycle", "Bring it to a municipal recycling point; batteries go to the separate battery collection box."),
    ];
    let mut out = Vec::with_capacity(n);
    let mut seed: u64 = 0x5eed;
    for i in 0..n {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let product = PRODUCTS[(seed >> 33) as usize % PRODUCTS.len()];
        let model = MODELS[(seed >> 17) as usize % MODELS.len()];
        let (topic, answer) = TOPICS[(seed >> 45) as usize % TOPICS.len()];
        out.push(EntryContent {
            question: format!("How do I {topic} the {product} {model} {}?", 100 + i % 900),
            answer: format!("For the {product} {model} {}: {answer}", 100 + i % 900),
            source: Some("catalogue".into()),
        });
    }
    out
}

fn render(report: &KbBenchReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "switchboard-bench kb — {} build, {}", report.build, report.database);
    let _ = writeln!(out, "FAQ: {} entries; answer threshold {}", report.faq_entries, report.answer_threshold);
    let _ = writeln!(
        out,
        "{:<28} {:>8} {:>10} {:>7} {:>14} {:>14}",
        "queries", "count", "recall@1", "MRR", "answered right", "answered wrong"
    );
    let row = |out: &mut String, name: &str, q: &Quality| {
        let _ = writeln!(
            out,
            "{:<28} {:>8} {:>10.3} {:>7.3} {:>14.3} {:>14.3}",
            name, q.queries, q.recall_at_1, q.mrr, q.answered_right, q.answered_wrong
        );
    };
    row(&mut out, "paraphrased", &report.paraphrased);
    row(&mut out, "spoken", &report.spoken);
    row(&mut out, "all", &report.all);
    row(&mut out, &format!("all, among {} entries", report.entries), &report.all_at_size);
    let _ = writeln!(
        out,
        "out-of-scope questions answered (wrongly): {:.3} of {}",
        report.out_of_scope_answered, report.out_of_scope_queries
    );
    let _ = writeln!(
        out,
        "search latency at {} entries ({} searches, one at a time): p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        report.entries, report.searches, report.p50_ms, report.p90_ms, report.p99_ms, report.max_ms
    );
    let _ = writeln!(out, "loading took {:.1} s", report.load_seconds);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_faq_file_is_complete() {
        let (cases, out_of_scope) = parse_faq(FAQ).unwrap();
        assert!(cases.len() >= 200, "{} entries", cases.len());
        assert!(!out_of_scope.is_empty());
        let mut questions: Vec<&str> = cases.iter().map(|c| c.question.as_str()).collect();
        questions.sort_unstable();
        questions.dedup();
        assert_eq!(questions.len(), cases.len(), "questions are unique");
    }

    #[test]
    fn blocks_need_all_four_lines() {
        assert!(parse_faq("Q: a\nA: b\nP: c\n\n").is_err());
        assert!(parse_faq("Z: what\n").is_err());
        let (cases, x) = parse_faq("# c\nQ: a\nA: b\nP: c\nS: d\n\nX: e\n").unwrap();
        assert_eq!((cases.len(), x.len()), (1, 1));
    }

    #[test]
    fn distractors_are_deterministic() {
        assert_eq!(
            distractors(50).iter().map(|e| &e.question).collect::<Vec<_>>(),
            distractors(50).iter().map(|e| &e.question).collect::<Vec<_>>()
        );
        assert_eq!(distractors(3).len(), 3);
    }
}
