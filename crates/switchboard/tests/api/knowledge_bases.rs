//! Knowledge bases through the real server: CRUD and the `source_url` rules,
//! entries, website crawls of a real HTTP site (robots.txt, depth, redirects,
//! schedules, failures), document uploads, and retrieval in search, calls and
//! test sessions.

mod crawl;
mod crud;
mod documents;
mod retrieval;
mod site;

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::TestServer;

/// Creates a knowledge base and returns it.
async fn create_kb(s: &TestServer, body: Value) -> Value {
    let resp = s.post("/v1/knowledge-bases", body).await;
    assert_eq!(resp.status, 201, "{}", resp.body);
    resp.body
}

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

/// Polls the knowledge base until its crawl or upload has ended; returns it.
async fn settled(s: &TestServer, kb: &str) -> Value {
    for _ in 0..600 {
        let resp = s.get(&format!("/v1/knowledge-bases/{kb}")).await;
        assert_eq!(resp.status, 200, "{}", resp.body);
        if resp.body["last_refresh_status"] != "crawling" {
            return resp.body;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("knowledge base {kb} is still crawling");
}

/// Every entry of a knowledge base, following the cursor.
async fn all_entries(s: &TestServer, kb: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = String::new();
    loop {
        let page = s.get(&format!("/v1/knowledge-bases/{kb}/entries?limit=100&after={after}")).await;
        assert_eq!(page.status, 200, "{}", page.body);
        out.extend(page.body["entries"].as_array().cloned().unwrap_or_default());
        match page.body["next_cursor"].as_str() {
            Some(cursor) => after = cursor.to_owned(),
            None => return out,
        }
    }
}

fn questions(entries: &[Value]) -> Vec<String> {
    let mut q: Vec<String> = entries.iter().filter_map(|e| e["question"].as_str().map(str::to_owned)).collect();
    q.sort();
    q
}

/// Adds a manual entry; returns it.
async fn add_entry(s: &TestServer, kb: &str, question: &str, answer: &str) -> Value {
    let resp =
        s.post(&format!("/v1/knowledge-bases/{kb}/entries"), json!({"question": question, "answer": answer})).await;
    assert_eq!(resp.status, 201, "{}", resp.body);
    resp.body
}
