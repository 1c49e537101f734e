//! Website crawls of a real HTTP site: same site only, depth and robots.txt,
//! redirects, the `source_url` rules, manual and scheduled refreshes, and
//! failures switching auto-refresh off.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use switchboard_testkit::webhook_receiver::WebhookReceiver;

use super::site::Site;
use super::{add_entry, all_entries, create_kb, id, questions, settled};
use crate::common::{TestServer, assert_error};

const DAY_MS: i64 = 86_400_000;

async fn server() -> TestServer {
    TestServer::start_with(|c| c.knowledge.poll_interval_ms = 50).await
}

/// A help site: a home page, an FAQ one link down, a deeper page, a page
/// robots.txt forbids, a redirect, and links off the site.
async fn help_site() -> Site {
    let site = Site::start().await;
    site.robots("User-agent: *\nDisallow: /private\n");
    site.html(
        "/",
        r#"<html><head><title>Acme Help</title></head><body>
        <nav><a href="/faq">FAQ</a> <a href="/private/staff">Staff</a> <a href="https://elsewhere.example/">Partner</a></nav>
        <main><h1>Welcome to Acme</h1><p>Acme sells garden tools and ships across Europe.</p>
        <a href="/old-returns">Returns</a></main></body></html>"#,
    );
    site.html(
        "/faq",
        r#"<html><head><title>FAQ</title></head><body>
        <h2>What are your opening hours?</h2><p>We are open nine to five, Monday to Saturday.</p>
        <h2>Do you ship abroad?</h2><p>Yes, we ship to every EU country within five days.</p>
        <a href="/faq/deep">More</a></body></html>"#,
    );
    site.html(
        "/faq/deep",
        "<html><body><h2>Deep question?</h2><p>Too deep to be crawled at depth one.</p></body></html>",
    );
    site.html("/private/staff", "<html><body><h2>Staff only</h2><p>The secret staff discount code.</p></body></html>");
    site.redirect("/old-returns", "/returns");
    site.html("/returns", "<html><body><h2>Returns</h2><p>Return any item within 30 days.</p></body></html>");
    site
}

fn sources(entries: &[Value]) -> Vec<String> {
    entries.iter().filter_map(|e| e["source"].as_str().map(str::to_owned)).collect()
}

#[tokio::test]
async fn a_crawl_follows_the_site_within_depth_and_robots() {
    let site = help_site().await;
    let s = server().await;
    let created = create_kb(&s, json!({"name": "Help", "source_url": site.url, "max_depth": 1})).await;
    assert_eq!(created["last_refresh_status"], "crawling", "the crawl starts on create");
    let kb = settled(&s, &id(&created)).await;
    assert_eq!(kb["last_refresh_status"], "done", "{kb}");
    assert!(kb["last_crawled_at"].is_string());
    assert_eq!(kb["last_refresh_error"], Value::Null);

    let entries = all_entries(&s, &id(&kb)).await;
    assert_eq!(kb["entry_count"], entries.len());
    assert_eq!(
        questions(&entries),
        ["Do you ship abroad?", "Returns", "Welcome to Acme", "What are your opening hours?"]
    );
    let hours = entries.iter().find(|e| e["question"] == "What are your opening hours?").expect("hours");
    assert_eq!(hours["answer"], "We are open nine to five, Monday to Saturday.");
    assert_eq!(hours["source"], format!("{}/faq", site.url));
    assert_eq!(hours["origin"], "crawl");
    let returns = entries.iter().find(|e| e["question"] == "Returns").expect("returns");
    assert_eq!(returns["source"], format!("{}/returns", site.url), "the redirect was followed");

    let hits = site.hits();
    assert_eq!(hits[0], "/robots.txt");
    assert!(!hits.iter().any(|h| h.starts_with("/private")), "robots.txt forbids /private: {hits:?}");
    assert!(!hits.contains(&"/faq/deep".to_owned()), "beyond max_depth: {hits:?}");
    assert!(!sources(&entries).iter().any(|u| !u.starts_with(&site.url)), "same site only");
}

#[tokio::test]
async fn source_url_changes_follow_the_rules() {
    let first = help_site().await;
    let second = Site::start().await;
    second.html("/", "<html><body><h2>Where are you?</h2><p>Our shop is in Utrecht.</p></body></html>");
    let s = server().await;
    let kb = id(&create_kb(&s, json!({"name": "Help", "source_url": first.url, "max_depth": 1})).await);
    settled(&s, &kb).await;
    let manual = add_entry(&s, &kb, "Can I pay by invoice?", "Business customers can.").await;
    let crawled = all_entries(&s, &kb).await.len();
    let hits = first.hits().len();

    // The same URL (spelled with a slash) is a no-op: no deletion, no crawl.
    let same = s.patch(&format!("/v1/knowledge-bases/{kb}"), json!({"source_url": format!("{}/", first.url)})).await;
    assert_eq!(same.status, 200, "{}", same.body);
    assert_eq!(same.body["last_refresh_status"], "done");
    assert_eq!(all_entries(&s, &kb).await.len(), crawled);

    // A different URL deletes what was crawled and crawls afresh.
    let changed = s.patch(&format!("/v1/knowledge-bases/{kb}"), json!({"source_url": second.url})).await;
    assert_eq!(changed.body["last_refresh_status"], "crawling");
    let remaining = all_entries(&s, &kb).await;
    assert!(!sources(&remaining).iter().any(|u| u.starts_with(&first.url)), "old crawl deleted at once");
    assert_eq!(settled(&s, &kb).await["last_refresh_status"], "done");
    let entries = all_entries(&s, &kb).await;
    assert_eq!(questions(&entries), ["Can I pay by invoice?", "Where are you?"]);
    assert!(entries.iter().any(|e| e["id"] == manual["id"]), "manual entries stay");
    assert_eq!(first.hits().len(), hits, "the old site is not crawled again");

    // null removes the source: idle, nothing scheduled, entries kept.
    let removed = s.patch(&format!("/v1/knowledge-bases/{kb}"), json!({"source_url": null})).await;
    assert_eq!(removed.body["source_url"], Value::Null);
    assert_eq!(removed.body["last_refresh_status"], "idle");
    assert_eq!(removed.body["next_crawl_at"], Value::Null);
    assert_eq!(all_entries(&s, &kb).await.len(), 2);
    assert_error(&s.post(&format!("/v1/knowledge-bases/{kb}/refresh"), json!({})).await, 409, "NO_SOURCE_URL");
}

#[tokio::test]
async fn a_manual_refresh_replaces_crawled_entries_and_keeps_corrections() {
    let site = Site::start().await;
    site.html("/", "<html><body><h2>Opening hours</h2><p>Nine to five on weekdays.</p><h2>Parking</h2><p>Free parking behind the shop.</p></body></html>");
    let s = server().await;
    let kb = id(&create_kb(&s, json!({"name": "Help", "source_url": site.url})).await);
    let before = settled(&s, &kb).await;
    let entries = all_entries(&s, &kb).await;
    let parking = entries.iter().find(|e| e["question"] == "Parking").expect("parking");
    let corrected = s
        .patch(
            &format!("/v1/knowledge-bases/{kb}/entries/{}", id(parking)),
            json!({"answer": "Parking is free for two hours."}),
        )
        .await;
    assert_eq!(corrected.body["origin"], "manual", "a corrected entry is manual");

    site.html("/", "<html><body><h2>Opening hours</h2><p>Nine to six, every day.</p><h2>Parking</h2><p>Free parking behind the shop.</p></body></html>");
    site.hold();
    let refresh = s.post(&format!("/v1/knowledge-bases/{kb}/refresh"), json!({})).await;
    assert_eq!(refresh.status, 202, "{}", refresh.body);
    assert_eq!(refresh.body["last_refresh_status"], "crawling");
    let again = s.post(&format!("/v1/knowledge-bases/{kb}/refresh"), json!({})).await;
    assert_error(&again, 409, "REFRESH_IN_PROGRESS");
    site.release();
    let after = settled(&s, &kb).await;
    assert_eq!(after["last_refresh_status"], "done");
    assert!(after["last_crawled_at"].as_str() >= before["last_crawled_at"].as_str());
    let entries = all_entries(&s, &kb).await;
    let answers: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e["question"].as_str().unwrap_or_default(), e["answer"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert!(answers.contains(&("Opening hours", "Nine to six, every day.")), "{answers:?}");
    assert!(answers.contains(&("Parking", "Parking is free for two hours.")), "the correction wins: {answers:?}");
}

#[tokio::test]
async fn scheduled_crawls_run_when_due() {
    let site = Site::start().await;
    site.html("/", "<html><body><h2>Opening hours</h2><p>Nine to five on weekdays.</p></body></html>");
    let s = server().await;
    let kb = id(&create_kb(&s, json!({"name": "Help", "source_url": site.url, "crawl_frequency": "daily"})).await);
    let first = settled(&s, &kb).await;
    let crawled = switchboard_domain::time::parse_iso(first["last_crawled_at"].as_str().unwrap_or_default());
    let next = switchboard_domain::time::parse_iso(first["next_crawl_at"].as_str().unwrap_or_default());
    assert_eq!(next.zip(crawled).map(|(n, c)| n - c), Some(DAY_MS), "{first}");

    site.html("/", "<html><body><h2>Opening hours</h2><p>Open around the clock.</p></body></html>");
    s.store().clock().advance(DAY_MS + 60_000);
    let mut answer = String::new();
    for _ in 0..400 {
        let entries = all_entries(&s, &kb).await;
        answer = entries.first().and_then(|e| e["answer"].as_str()).unwrap_or_default().to_owned();
        if answer == "Open around the clock." {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(answer, "Open around the clock.", "the daily crawl ran");
    let second = settled(&s, &kb).await;
    assert!(second["last_crawled_at"].as_str() > first["last_crawled_at"].as_str());
}

#[tokio::test]
async fn three_failed_crawls_in_a_row_switch_auto_refresh_off() {
    let site = Site::start().await;
    site.status("/", 500);
    let s = server().await;
    let kb = id(&create_kb(&s, json!({"name": "Broken", "source_url": site.url})).await);
    let failed = settled(&s, &kb).await;
    assert_eq!(failed["last_refresh_status"], "failed");
    assert!(failed["last_refresh_error"].as_str().is_some_and(|e| e.contains("HTTP 500")), "{failed}");
    assert_eq!(failed["auto_refresh_enabled"], true);
    assert_eq!(failed["last_crawled_at"], Value::Null, "nothing was crawled");
    for attempt in 2..=3 {
        let refresh = s.post(&format!("/v1/knowledge-bases/{kb}/refresh"), json!({})).await;
        assert_eq!(refresh.status, 202, "{}", refresh.body);
        let kb = settled(&s, &kb).await;
        assert_eq!(kb["last_refresh_status"], "failed");
        assert_eq!(kb["auto_refresh_enabled"], attempt < 3, "after attempt {attempt}");
    }
    assert_eq!(s.get(&format!("/v1/knowledge-bases/{kb}")).await.body["next_crawl_at"], Value::Null);

    // A manual refresh still works, and success brings entries back.
    site.html("/", "<html><body><h2>Back online</h2><p>The site works again.</p></body></html>");
    assert_eq!(s.post(&format!("/v1/knowledge-bases/{kb}/refresh"), json!({})).await.status, 202);
    let fixed = settled(&s, &kb).await;
    assert_eq!(fixed["last_refresh_status"], "done");
    assert_eq!(fixed["entry_count"], 1);
}

#[tokio::test]
async fn robots_txt_forbidding_the_site_fails_the_crawl() {
    let site = Site::start().await;
    site.robots("User-agent: *\nDisallow: /\n");
    site.html("/", "<html><body><h2>Hidden</h2><p>Should never be read.</p></body></html>");
    let s = server().await;
    let kb = settled(&s, &id(&create_kb(&s, json!({"name": "Closed", "source_url": site.url})).await)).await;
    assert_eq!(kb["last_refresh_status"], "failed");
    assert!(kb["last_refresh_error"].as_str().is_some_and(|e| e.contains("robots.txt")), "{kb}");
    assert_eq!(site.hits(), ["/robots.txt"]);
}

#[tokio::test]
async fn refreshes_are_announced_as_knowledge_base_events() {
    let receiver = WebhookReceiver::start().await;
    let site = Site::start().await;
    site.status("/", 500);
    let s = server().await;
    let events =
        json!(["knowledge_base.refreshed", "knowledge_base.refresh_failed", "knowledge_base.auto_refresh_disabled"]);
    let body = json!({"url": receiver.url("/kb"), "events": events});
    let hook = s.call(Method::POST, "/v1/webhooks", Some(s.org_key()), Some(body)).await;
    assert_eq!(hook.status, 201, "{}", hook.body);
    let kb = id(&create_kb(&s, json!({"name": "Flaky", "source_url": site.url})).await);
    settled(&s, &kb).await;
    for _ in 0..2 {
        assert_eq!(s.post(&format!("/v1/knowledge-bases/{kb}/refresh"), json!({})).await.status, 202);
        settled(&s, &kb).await;
    }
    site.html("/", "<html><body><h2>Back online</h2><p>The site works again.</p></body></html>");
    assert_eq!(s.post(&format!("/v1/knowledge-bases/{kb}/refresh"), json!({})).await.status, 202);
    assert_eq!(settled(&s, &kb).await["last_refresh_status"], "done");

    let received = receiver.wait_until(Duration::from_secs(20), |d| d.len() >= 5).await;
    let mut names: Vec<&str> = received.iter().map(|d| d.event()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "knowledge_base.auto_refresh_disabled",
            "knowledge_base.refresh_failed",
            "knowledge_base.refresh_failed",
            "knowledge_base.refresh_failed",
            "knowledge_base.refreshed"
        ]
    );
    for delivery in &received {
        assert_eq!(delivery.body["org_id"], s.boot.org_id.as_str());
        assert_eq!(delivery.body["project_id"], Value::Null, "knowledge bases are org-wide");
        assert_eq!(delivery.body["agent_id"], Value::Null);
        assert_eq!(delivery.body["data"]["knowledge_base_id"], kb.as_str());
    }
    let refreshed = received.iter().find(|d| d.event() == "knowledge_base.refreshed").expect("refreshed");
    assert_eq!(refreshed.body["data"], json!({"knowledge_base_id": kb, "entry_count": 1}));
    let failed = received.iter().find(|d| d.event() == "knowledge_base.refresh_failed").expect("failed");
    assert!(failed.body["data"]["error"].as_str().is_some_and(|e| e.contains("HTTP 500")), "{}", failed.body);
}
