//! Webhooks through the real server and a real receiver: the three levels,
//! the envelope and both signatures, retries on the (compressed) schedule,
//! Retry-After, 410 and failure-streak disabling, test sends, redelivery and
//! the delivery logs.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use switchboard_domain::events::EventType;
use switchboard_runtime::outbound::{verify_standard, verify_switchboard};
use switchboard_store::events::NewEvent;
use switchboard_testkit::webhook_receiver::{Delivery, Reply, WebhookReceiver};

use crate::common::{TestServer, assert_error, send};

const WAIT: Duration = Duration::from_secs(20);

/// A server whose retries come after 50, 100, 150 and 200 ms.
async fn server() -> TestServer {
    TestServer::start_with(|c| {
        c.runtime.clock_speed = 100.0;
        c.webhooks.retry_delays_seconds = vec![0.05, 0.1, 0.15, 0.2];
        c.webhooks.poll_interval_ms = 10;
    })
    .await
}

/// Creates an org webhook; returns (id, secret).
async fn org_hook(s: &TestServer, url: &str, events: Value) -> (String, String) {
    let resp =
        s.call(Method::POST, "/v1/webhooks", Some(s.org_key()), Some(json!({"url": url, "events": events}))).await;
    assert_eq!(resp.status, 201, "{}", resp.body);
    (
        resp.body["id"].as_str().unwrap_or_default().to_owned(),
        resp.body["secret"].as_str().unwrap_or_default().to_owned(),
    )
}

/// Records an event for the org directly in the outbox, as a feature would.
async fn emit(s: &TestServer, event: EventType, data: Value) -> String {
    let org = s.boot.org_id.clone();
    let event = NewEvent { event, org_id: org, project_id: None, agent_id: None, call_id: None, data };
    s.store().emit_event(event).await.expect("emit")
}

fn verify_both(d: &Delivery, secret: &str) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_secs() as i64;
    let ts = d.header("x-switchboard-timestamp").expect("timestamp header");
    let sig = d.header("x-switchboard-signature").expect("signature header");
    assert!(verify_switchboard(secret, ts, sig, &d.raw, now, 300), "X-Switchboard-Signature verifies");
    let (id, wts, wsig) = (d.header("webhook-id"), d.header("webhook-timestamp"), d.header("webhook-signature"));
    let (id, wts, wsig) = (id.expect("webhook-id"), wts.expect("webhook-timestamp"), wsig.expect("webhook-signature"));
    assert_eq!(id, d.id(), "webhook-id is the event id");
    assert!(verify_standard(secret, id, wts, wsig, &d.raw, now, 300), "Standard Webhooks signature verifies");
    assert!(!verify_switchboard("whsec_d3Jvbmc=", ts, sig, &d.raw, now, 300), "a wrong secret does not verify");
    assert_eq!(d.header("x-switchboard-event"), Some(d.event()));
    assert_eq!(d.header("user-agent"), Some("Switchboard-Webhooks/1.0"));
    assert_eq!(d.header("content-type"), Some("application/json"));
}

async fn deliveries_of(s: &TestServer, hook: &str, query: &str) -> Value {
    let resp = s.call(Method::GET, &format!("/v1/webhooks/{hook}/deliveries{query}"), Some(s.org_key()), None).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    resp.body
}

#[tokio::test]
async fn org_webhooks_crud_with_secrets_and_validation() {
    let s = server().await;
    let org = Some(s.org_key());
    let body =
        json!({"url": "https://hooks.example.com/a", "events": ["call.ended", "sms.sent"], "description": "CRM"});
    let created = s.call(Method::POST, "/v1/webhooks", org, Some(body)).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("wh_"));
    let secret = created.body["secret"].as_str().expect("secret shown on create").to_owned();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(created.body["enabled"], true);
    assert_eq!(created.body["events"], json!(["call.ended", "sms.sent"]));

    let got = s.call(Method::GET, &format!("/v1/webhooks/{id}"), org, None).await;
    assert_eq!(got.status, 200);
    assert!(got.body.get("secret").is_none(), "the secret is shown once: {}", got.body);
    let hint = got.body["secret_hint"].as_str().expect("hint");
    assert_eq!(hint, format!("whsec_...{}", &secret[secret.len() - 4..]));

    let default_events =
        s.call(Method::POST, "/v1/webhooks", org, Some(json!({"url": "https://b.example.com/"}))).await;
    assert_eq!(default_events.body["events"], json!(["*"]));
    let list = s.call(Method::GET, "/v1/webhooks?limit=1", org, None).await;
    assert_eq!(list.body["webhooks"].as_array().map(Vec::len), Some(1));
    let cursor = list.body["next_cursor"].as_str().expect("a second page").to_owned();
    let page2 = s.call(Method::GET, &format!("/v1/webhooks?limit=1&after={cursor}"), org, None).await;
    assert_eq!(page2.body["webhooks"][0]["id"], id.as_str());
    assert!(page2.body["next_cursor"].is_null());

    let patched = s
        .call(Method::PATCH, &format!("/v1/webhooks/{id}"), org, Some(json!({"enabled": false, "description": null})))
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["enabled"], false);
    assert!(patched.body["description"].is_null());
    assert_eq!(patched.body["url"], "https://hooks.example.com/a");

    let rotated = s.call(Method::POST, &format!("/v1/webhooks/{id}/rotate-secret"), org, None).await;
    assert_eq!(rotated.status, 200);
    let new_secret = rotated.body["secret"].as_str().expect("new secret");
    assert!(new_secret.starts_with("whsec_") && new_secret != secret);

    for (body, field) in [
        (json!({"url": "not a url"}), "url"),
        (json!({"url": "https://a.example.com", "events": ["call.endd"]}), "events"),
        (json!({"url": "https://a.example.com", "events": []}), "events"),
        (json!({"url": "https://a.example.com", "events": ["webhook.test"]}), "events"),
    ] {
        let resp = s.call(Method::POST, "/v1/webhooks", org, Some(body)).await;
        assert_error(&resp, 400, "VALIDATION_ERROR");
        assert!(resp.body["details"][field].is_string(), "{}", resp.body);
    }
    // A project key manages the project's own webhooks, not the org-wide ones.
    let project_key = s.call(Method::GET, "/v1/webhooks", Some(s.key()), None).await;
    assert_eq!(project_key.status, 200, "{}", project_key.body);
    assert_eq!(project_key.body["webhooks"], json!([]));
    assert_error(&s.call(Method::GET, &format!("/v1/webhooks/{id}"), Some(s.key()), None).await, 404, "NOT_FOUND");

    let deleted = s.call(Method::DELETE, &format!("/v1/webhooks/{id}"), org, None).await;
    assert_eq!(deleted.status, 204);
    assert_error(&s.call(Method::GET, &format!("/v1/webhooks/{id}"), org, None).await, 404, "NOT_FOUND");
    assert_error(&s.call(Method::DELETE, &format!("/v1/webhooks/{id}"), org, None).await, 404, "NOT_FOUND");
}

#[tokio::test]
async fn a_call_reaches_every_level_signed_and_is_logged_on_the_call() {
    let s = server().await;
    let rx = WebhookReceiver::start().await;
    let (_, org_secret) = org_hook(&s, &rx.url("/org"), json!(["*"])).await;
    let project = s.patch("/v1/project/webhook", json!({"url": rx.url("/project"), "events": ["call.ended"]})).await;
    assert_eq!(project.status, 200, "{}", project.body);
    let project_secret = project.body["secret"].as_str().expect("secret on first set").to_owned();
    let agent = s
        .post("/v1/agents", json!({"name": "Hooked", "webhook_url": rx.url("/agent"), "first_message": "Hello there."}))
        .await;
    assert_eq!(agent.status, 201, "{}", agent.body);
    let agent_id = agent.body["id"].as_str().expect("id").to_owned();
    let agent_secret = agent.body["webhook_secret"].as_str().expect("agent secret").to_owned();

    let call = s.inbound_call(&agent_id, json!([{"say": "What are your opening hours?"}, {"hangup": true}])).await;
    let ended = s.finished_call(&call).await;
    let expected = ["call.ringing", "call.started", "transcript.updated", "ai.speech.started", "call.ended"];
    let got = rx
        .wait_until(WAIT, |d| {
            ["/org", "/project", "/agent"].iter().all(|p| d.iter().any(|x| x.path == *p && x.event() == "call.ended"))
                && expected.iter().all(|e| d.iter().any(|x| x.path == "/org" && x.event() == *e))
                && [("assistant", "Hello there."), ("user", "What are your opening hours?")].iter().all(
                    |(role, content)| {
                        d.iter().any(|x| {
                            x.path == "/org"
                                && x.event() == "transcript.updated"
                                && x.body["data"]["role"] == *role
                                && x.body["data"]["content"] == *content
                        })
                    },
                )
        })
        .await;

    let org: Vec<&Delivery> = got.iter().filter(|d| d.path == "/org").collect();
    let names: Vec<&str> = org.iter().map(|d| d.event()).collect();
    for expected in expected {
        assert!(names.contains(&expected), "org endpoint got {names:?}");
    }
    // Deliveries run concurrently, so arrival order is not promised; the
    // envelopes' timestamps order the lifecycle.
    let stamp = |n: &str| {
        let d = org.iter().find(|d| d.event() == n).unwrap_or_else(|| panic!("{n} delivered"));
        d.body["timestamp"].as_str().unwrap_or_default().to_owned()
    };
    assert!(stamp("call.ringing") <= stamp("call.started") && stamp("call.started") <= stamp("call.ended"));
    let project_got: Vec<&str> = got.iter().filter(|d| d.path == "/project").map(|d| d.event()).collect();
    assert_eq!(project_got, vec!["call.ended"], "the project endpoint only subscribed to call.ended");
    assert!(got.iter().filter(|d| d.path == "/agent").count() >= 4);

    for d in &got {
        let secret = match d.path.as_str() {
            "/org" => &org_secret,
            "/project" => &project_secret,
            _ => &agent_secret,
        };
        verify_both(d, secret);
    }

    let end = org.iter().find(|d| d.event() == "call.ended").expect("call.ended");
    let b = &end.body;
    assert!(b["id"].as_str().is_some_and(|id| id.starts_with("whe_")));
    assert_eq!(b["api_version"], "2026-05-20");
    assert_eq!(b["org_id"], s.boot.org_id.as_str());
    assert_eq!(b["project_id"], s.boot.project_id.as_str());
    assert_eq!(b["agent_id"], agent_id.as_str());
    assert!(b["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    let data = &b["data"];
    assert_eq!(data["call_id"], call.as_str());
    assert_eq!(data["from"], "+31612345678");
    assert_eq!(data["to"], ended["to_number"]);
    assert_eq!(data["duration_seconds"], ended["duration_seconds"]);
    assert_eq!(data["total_cost"], ended["total_cost"]);
    assert_eq!(data["ended_reason"], "caller-hangup");
    assert_eq!(data["language"], "en-US");
    let transcript = data["transcript"].as_array().expect("transcript");
    assert_eq!(transcript[0], json!({"role": "assistant", "content": "Hello there."}));
    assert!(transcript.iter().any(|t| t["content"] == "What are your opening hours?"));
    // One transcript.updated per final utterance, from either side; the
    // deliveries race, so each is found by role and content, not by arrival.
    let utterances = |role: &str| -> Vec<Value> {
        org.iter()
            .filter(|d| d.event() == "transcript.updated" && d.body["data"]["role"] == role)
            .inspect(|d| assert_eq!(d.body["data"]["call_id"], call.as_str()))
            .map(|d| d.body["data"]["content"].clone())
            .collect()
    };
    assert!(utterances("assistant").contains(&json!("Hello there.")), "{:?}", utterances("assistant"));
    assert_eq!(utterances("user"), [json!("What are your opening hours?")]);

    // Everything is on the call's delivery log (an attempt is logged once its
    // response is in), in order.
    let sent = got.iter().filter(|d| d.body["data"]["call_id"] == call.as_str()).count();
    let mut log = s.get(&format!("/v1/calls/{call}/webhooks")).await;
    for _ in 0..500 {
        if log.body["deliveries"].as_array().is_some_and(|d| d.len() >= sent) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        log = s.get(&format!("/v1/calls/{call}/webhooks")).await;
    }
    assert_eq!(log.status, 200, "{}", log.body);
    assert_eq!(log.body["call_id"], call.as_str());
    let rows = log.body["deliveries"].as_array().expect("deliveries");
    assert!(rows.len() >= sent, "{} logged, {sent} received", rows.len());
    let stamps: Vec<&str> = rows.iter().map(|r| r["created_at"].as_str().unwrap_or_default()).collect();
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "created_at ascending: {stamps:?}");
    for row in rows {
        assert_eq!(row["success"], true, "{row}");
        assert!(row["error"].is_null());
        assert_eq!(row["attempt"], 1);
        assert_eq!(row["status_code"], 200);
        assert!(row["event_id"].as_str().is_some_and(|e| e.starts_with("whe_")));
    }
    assert_error(&s.get("/v1/calls/call_missing/webhooks").await, 404, "NOT_FOUND");
}

#[tokio::test]
async fn failed_deliveries_retry_on_schedule_with_the_same_id_then_fail() {
    let s = server().await;
    let rx = WebhookReceiver::start().await;
    rx.script((0..5).map(|_| Reply::status(500)));
    let (hook, _) = org_hook(&s, &rx.url("/h"), json!(["sms.sent"])).await;
    let event = emit(&s, EventType::SmsSent, json!({"message_id": "sms_1"})).await;

    let got = rx.wait_until(WAIT, |d| d.len() >= 5).await;
    let log = rx_log_settled(&s, &hook, 5).await;
    assert_eq!(got.len(), 5, "1 attempt + 4 retries, then no more");
    assert!(got.iter().all(|d| d.id() == event && d.header("webhook-id") == Some(event.as_str())));
    assert!(got.windows(2).all(|w| w[0].raw == w[1].raw), "every retry sends the same bytes");
    // Jitter is ±10%: no retry comes before 90% of its scheduled delay.
    for (i, delay_ms) in [50u64, 100, 150, 200].iter().enumerate() {
        let gap = got[i + 1].at.duration_since(got[i].at);
        assert!(gap >= Duration::from_millis(delay_ms * 9 / 10), "retry {} came after {gap:?}", i + 1);
    }
    let rows = log["deliveries"].as_array().expect("rows");
    let attempts: Vec<i64> = rows.iter().map(|r| r["attempt"].as_i64().unwrap_or(0)).collect();
    assert_eq!(attempts, vec![5, 4, 3, 2, 1], "newest first");
    assert!(rows.iter().all(|r| r["success"] == false && r["error"] == "HTTP 500" && r["status_code"] == 500));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(rx.received().len(), 5, "a failed delivery is not retried again");
}

/// Waits until the endpoint's log has `n` attempts; returns it.
async fn rx_log_settled(s: &TestServer, hook: &str, n: usize) -> Value {
    log_settled(s, hook, "", n).await
}

/// Waits until the endpoint's log filtered by `query` has `n` attempts
/// (the worker records an attempt just after the receiver answered it).
async fn log_settled(s: &TestServer, hook: &str, query: &str, n: usize) -> Value {
    let until = std::time::Instant::now() + WAIT;
    while std::time::Instant::now() < until {
        let log = deliveries_of(s, hook, query).await;
        if log["deliveries"].as_array().is_some_and(|d| d.len() >= n) {
            return log;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the delivery log never reached {n} attempts");
}

#[tokio::test]
async fn retry_after_on_429_and_503_is_honoured() {
    let s = server().await;
    let rx = WebhookReceiver::start().await;
    rx.script([Reply::retry_after(429, "1"), Reply::retry_after(503, "1")]);
    org_hook(&s, &rx.url("/h"), json!(["*"])).await;
    emit(&s, EventType::SmsSent, json!({})).await;
    let got = rx.wait_until(WAIT, |d| d.len() >= 3).await;
    assert_eq!(got[2].answered, 200);
    for i in 0..2 {
        let gap = got[i + 1].at.duration_since(got[i].at);
        assert!(gap >= Duration::from_millis(950), "Retry-After: 1 was honoured, not the 50 ms schedule: {gap:?}");
    }
}

#[tokio::test]
async fn gone_disables_the_endpoint_and_records_webhook_disabled() {
    let s = server().await;
    let rx = WebhookReceiver::start().await;
    rx.script([Reply::status(410)]);
    let (gone, _) = org_hook(&s, &rx.url("/gone"), json!(["sms.sent"])).await;
    let (_watcher, _) = org_hook(&s, &rx.url("/watch"), json!(["webhook.disabled"])).await;
    emit(&s, EventType::SmsSent, json!({})).await;

    let got = rx.wait_until(WAIT, |d| d.iter().any(|x| x.path == "/watch")).await;
    let notice = got.iter().find(|d| d.path == "/watch").expect("webhook.disabled");
    assert_eq!(notice.event(), "webhook.disabled");
    assert_eq!(notice.body["data"]["endpoint_id"], gone.as_str());
    let hook = s.call(Method::GET, &format!("/v1/webhooks/{gone}"), Some(s.org_key()), None).await;
    assert_eq!(hook.body["enabled"], false);
    assert!(hook.body["disabled_reason"].as_str().is_some_and(|r| r.contains("410")));

    emit(&s, EventType::SmsSent, json!({"n": 2})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.received().iter().filter(|d| d.path == "/gone").count(), 1, "nothing more goes to a gone endpoint");

    // Enabling it again clears the reason and deliveries resume.
    let on =
        s.call(Method::PATCH, &format!("/v1/webhooks/{gone}"), Some(s.org_key()), Some(json!({"enabled": true}))).await;
    assert!(on.body["disabled_reason"].is_null());
    emit(&s, EventType::SmsSent, json!({"n": 3})).await;
    rx.wait_until(WAIT, |d| d.iter().filter(|x| x.path == "/gone").count() == 2).await;
}

#[tokio::test]
async fn an_endpoint_failing_for_five_days_is_disabled() {
    let s = TestServer::start_with(|c| {
        c.webhooks.retry_delays_seconds = vec![0.05, 0.05, 0.05, 0.05];
        c.webhooks.poll_interval_ms = 10;
    })
    .await;
    let rx = WebhookReceiver::start().await;
    rx.script((0..20).map(|_| Reply::status(500)));
    let (hook, _) = org_hook(&s, &rx.url("/h"), json!(["*"])).await;
    emit(&s, EventType::SmsSent, json!({})).await;
    rx.wait_until(WAIT, |d| !d.is_empty()).await;
    let before = s.call(Method::GET, &format!("/v1/webhooks/{hook}"), Some(s.org_key()), None).await;
    assert_eq!(before.body["enabled"], true, "one failure does not disable");

    s.store().clock().advance(5 * 24 * 3600 * 1000);
    emit(&s, EventType::SmsSent, json!({"later": true})).await;
    for _ in 0..500 {
        let now = s.call(Method::GET, &format!("/v1/webhooks/{hook}"), Some(s.org_key()), None).await;
        if now.body["enabled"] == false {
            assert!(now.body["disabled_reason"].as_str().is_some_and(|r| r.contains("5 days")), "{}", now.body);
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the endpoint was not disabled after failing for five days");
}

#[tokio::test]
async fn test_sends_and_redelivery() {
    let s = server().await;
    let rx = WebhookReceiver::start().await;
    let (hook, secret) = org_hook(&s, &rx.url("/h"), json!(["sms.sent"])).await;
    let org = Some(s.org_key());

    let test = s.call(Method::POST, &format!("/v1/webhooks/{hook}/test"), org, None).await;
    assert_eq!(test.status, 200, "{}", test.body);
    assert_eq!(test.body["event"], "webhook.test");
    assert_eq!(test.body["success"], true);
    assert_eq!(test.body["status_code"], 200);
    assert_eq!(test.body["attempt"], 1);
    let got = rx.received();
    assert_eq!(got.len(), 1, "the test was sent before the response");
    assert_eq!(got[0].event(), "webhook.test");
    verify_both(&got[0], &secret);

    rx.script([Reply::status(500)]);
    let failed = s.call(Method::POST, &format!("/v1/webhooks/{hook}/test"), org, None).await;
    assert_eq!(failed.body["success"], false);
    assert_eq!(failed.body["error"], "HTTP 500");
    assert_error(&s.call(Method::POST, "/v1/webhooks/wh_missing/test", org, None).await, 404, "NOT_FOUND");

    // An event whose attempts all failed is sent again by redeliver, same id.
    rx.script((0..5).map(|_| Reply::status(500)));
    let event = emit(&s, EventType::SmsSent, json!({})).await;
    rx_log_settled(&s, &hook, 7).await;
    let redo = s.call(Method::POST, &format!("/v1/webhooks/events/{event}/redeliver"), org, None).await;
    assert_eq!(redo.status, 202, "{}", redo.body);
    assert_eq!(redo.body["endpoints"], json!([rx.url("/h")]));
    let got = rx.wait_until(WAIT, |d| d.iter().filter(|x| x.id() == event).count() == 6).await;
    assert_eq!(got.last().map(|d| d.answered), Some(200));
    let ok = log_settled(&s, &hook, "?success=true&event=sms.sent", 1).await;
    let rows = ok["deliveries"].as_array().expect("rows");
    assert_eq!(rows.len(), 1, "{ok}");
    assert_eq!(rows[0]["attempt"], 6, "a redelivery continues the attempt count");
    let failed_tests = deliveries_of(&s, &hook, "?success=false&event=webhook.test").await;
    assert_eq!(failed_tests["deliveries"].as_array().map(Vec::len), Some(1));
    let page = deliveries_of(&s, &hook, "?limit=3").await;
    let cursor = page["next_cursor"].as_str().expect("more pages");
    let rest = deliveries_of(&s, &hook, &format!("?limit=100&after={cursor}")).await;
    let ids: HashSet<i64> = page["deliveries"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(rest["deliveries"].as_array().into_iter().flatten())
        .filter_map(|r| r["id"].as_i64())
        .collect();
    assert_eq!(ids.len(), 8, "2 tests + 5 failures + 1 redelivery, each once across pages");
    assert_error(&s.call(Method::POST, "/v1/webhooks/events/whe_missing/redeliver", org, None).await, 404, "NOT_FOUND");
}

#[tokio::test]
async fn project_webhook_settings() {
    let s = server().await;
    let empty = s.get("/v1/project/webhook").await;
    assert_eq!(empty.status, 200);
    assert!(empty.body["url"].is_null());
    assert_eq!(empty.body["enabled"], false);
    assert_error(&s.patch("/v1/project/webhook", json!({"enabled": true})).await, 400, "VALIDATION_ERROR");
    assert_error(&s.patch("/v1/project/webhook", json!({"url": "ftp://x"})).await, 400, "VALIDATION_ERROR");
    assert_error(&s.patch("/v1/project/webhook", json!({"events": ["nope"]})).await, 400, "VALIDATION_ERROR");

    let set = s.patch("/v1/project/webhook", json!({"url": "https://p.example.com/h"})).await;
    assert_eq!(set.body["enabled"], true);
    assert_eq!(set.body["events"], json!(["*"]));
    let secret = set.body["secret"].as_str().expect("secret on first set").to_owned();
    let again = s.patch("/v1/project/webhook", json!({"events": ["call.ended"]})).await;
    assert!(again.body.get("secret").is_none(), "shown once: {}", again.body);
    assert_eq!(again.body["events"], json!(["call.ended"]));
    let rotated = s.post("/v1/project/webhook/rotate-secret", json!({})).await;
    assert!(rotated.body["secret"].as_str().is_some_and(|n| n != secret && n.starts_with("whsec_")));
    let removed = s.patch("/v1/project/webhook", json!({"url": null})).await;
    assert!(removed.body["url"].is_null());
    assert_eq!(removed.body["enabled"], false);
}

#[tokio::test]
async fn a_gone_agent_webhook_is_disabled_until_its_url_changes() {
    let s = server().await;
    let rx = WebhookReceiver::start().await;
    rx.always("/old", Reply::status(410));
    let agent = s.create_agent(json!({"name": "Gone", "webhook_url": rx.url("/old"), "first_message": "Hi."})).await;
    let first = s.inbound_call(&agent, json!([{"hangup": true}])).await;
    s.finished_call(&first).await;
    rx.wait_until(WAIT, |d| !d.is_empty()).await;
    assert!(rx.received().iter().all(|d| d.answered == 410));

    let second = s.inbound_call(&agent, json!([{"hangup": true}])).await;
    s.finished_call(&second).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let of_second = rx.received().iter().filter(|d| d.body["data"]["call_id"] == second.as_str()).count();
    assert_eq!(of_second, 0, "a disabled agent webhook gets nothing");

    let moved = s.patch(&format!("/v1/agents/{agent}"), json!({"webhook_url": rx.url("/new")})).await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    let third = s.inbound_call(&agent, json!([{"hangup": true}])).await;
    s.finished_call(&third).await;
    let got = rx.wait_until(WAIT, |d| d.iter().any(|x| x.path == "/new" && x.event() == "call.ended")).await;
    assert!(got.iter().filter(|d| d.path == "/new").all(|d| d.body["data"]["call_id"] == third.as_str()));
}

#[tokio::test]
async fn a_project_webhook_receives_only_its_projects_events() {
    let s = server().await;
    let rx = WebhookReceiver::start().await;
    // One webhook made with the project key, one org-wide.
    let created = s.post("/v1/webhooks", json!({"url": rx.url("/project"), "events": ["call.ringing"]})).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["project_id"], s.boot.project_id.as_str());
    let project_hook = created.body["id"].as_str().expect("id").to_owned();
    let org = Some(s.org_key());
    let org_wide = s
        .call(Method::POST, "/v1/webhooks", org, Some(json!({"url": rx.url("/org"), "events": ["call.ringing"]})))
        .await;
    assert_eq!(org_wide.body["project_id"], Value::Null);
    let listed = s.get("/v1/webhooks").await;
    let ids: Vec<&str> =
        listed.body["webhooks"].as_array().into_iter().flatten().filter_map(|w| w["id"].as_str()).collect();
    assert_eq!(ids, [project_hook.as_str()], "the project sees its own webhook only");
    let via_header = s
        .request(Method::GET, "/v1/webhooks")
        .bearer_auth(s.org_key())
        .header("x-project-id", s.boot.project_id.as_str());
    assert_eq!(send(via_header).await.body["webhooks"][0]["id"], project_hook.as_str());

    // A call in this project reaches both; one in another project only the org-wide one.
    let agent = s.create_agent(json!({"name": "A"})).await;
    s.inbound_call(&agent, json!([{"hangup": true}])).await;
    let second = s.call(Method::POST, "/v1/org/projects", org, Some(json!({"name": "Second"}))).await;
    let second = second.body["id"].as_str().expect("project").to_owned();
    let header = |req: reqwest::RequestBuilder| req.bearer_auth(s.org_key()).header("x-project-id", second.as_str());
    let their_agent = send(header(s.request(Method::POST, "/v1/agents")).json(&json!({"name": "B"}))).await;
    let body = json!({"agent_id": their_agent.body["id"], "from": "+31612345678", "script": [{"hangup": true}]});
    let theirs = send(header(s.request(Method::POST, "/v1/simulator/calls")).json(&body)).await;
    assert_eq!(theirs.status, 201, "{}", theirs.body);
    let received = rx.wait_until(Duration::from_secs(20), |d| d.iter().filter(|d| d.path == "/org").count() >= 2).await;
    let project_calls: Vec<&str> =
        received.iter().filter(|d| d.path == "/project").filter_map(|d| d.body["data"]["call_id"].as_str()).collect();
    assert_eq!(project_calls.len(), 1, "{project_calls:?}");
    assert_ne!(project_calls[0], theirs.body["call_id"].as_str().unwrap_or_default());
    // The project key cannot touch the org-wide webhook, nor redeliver another project's event.
    let org_hook = org_wide.body["id"].as_str().expect("id");
    assert_error(&s.delete(&format!("/v1/webhooks/{org_hook}")).await, 404, "NOT_FOUND");
    let their_event = received.iter().find(|d| d.path == "/org" && d.body["data"]["call_id"] == theirs.body["call_id"]);
    let their_event = their_event.expect("the other project's event").id().to_owned();
    let redeliver = s.post(&format!("/v1/webhooks/events/{their_event}/redeliver"), json!({})).await;
    assert_error(&redeliver, 404, "NOT_FOUND");
}

/// A tenant chooses the URL, so what a host name resolves to on the server's
/// network stays on the server: the attempt says the destination is not
/// allowed, and the address goes to the server log only.
#[tokio::test]
async fn a_blocked_destination_does_not_reveal_its_address() {
    let s = TestServer::start_with(|c| c.dev = false).await;
    let org = Some(s.org_key());
    let (hook, _) = org_hook(&s, "https://localhost:9/hook", json!(["sms.sent"])).await;
    let test = s.call(Method::POST, &format!("/v1/webhooks/{hook}/test"), org, None).await;
    assert_eq!(test.status, 200, "{}", test.body);
    assert_eq!(test.body["success"], false);
    let logged = deliveries_of(&s, &hook, "").await;
    let errors: Vec<&str> = std::iter::once(&test.body)
        .chain(logged["deliveries"].as_array().into_iter().flatten())
        .map(|d| d["error"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(errors.len(), 2, "{logged}");
    for error in errors {
        assert!(error.contains("not allowed"), "{error}");
        for secret in ["127.0.0.1", "::1", "resolves", "loopback"] {
            assert!(!error.contains(secret), "{error} reveals {secret}");
        }
    }
}

#[tokio::test]
async fn a_slow_endpoint_gets_its_share_at_once_and_does_not_hold_up_the_others() {
    let s = TestServer::start_with(|c| {
        c.webhooks.poll_interval_ms = 10;
        c.webhooks.concurrency = 4;
        c.webhooks.per_endpoint = 2;
    })
    .await;
    let rx = WebhookReceiver::start().await;
    let answer = Duration::from_millis(1500);
    rx.always("/slow", Reply::slow(answer));
    org_hook(&s, &rx.url("/slow"), json!(["sms.sent"])).await;
    org_hook(&s, &rx.url("/fast"), json!(["sms.sent"])).await;
    for n in 0..6 {
        emit(&s, EventType::SmsSent, json!({"n": n})).await;
    }
    let at = |got: &[Delivery], path: &str| -> Vec<std::time::Instant> {
        let mut at: Vec<_> = got.iter().filter(|d| d.path == path).map(|d| d.at).collect();
        at.sort();
        at
    };
    let got = rx.wait_until(Duration::from_secs(30), |d| at(d, "/slow").len() >= 6 && at(d, "/fast").len() >= 6).await;
    let (slow, fast) = (at(&got, "/slow"), at(&got, "/fast"));
    for three in slow.windows(3) {
        let gap = three[2].duration_since(three[0]);
        assert!(gap >= answer - Duration::from_millis(100), "at most 2 sends to one endpoint at once: {gap:?}");
    }
    assert!(fast[5] < slow[0], "the other endpoint got everything while the slow one answered its first two");
}

#[tokio::test]
async fn a_calls_webhooks_say_what_the_calls_api_says() {
    let s = server().await;
    let rx = WebhookReceiver::start().await;
    org_hook(&s, &rx.url("/org"), json!(["call.failed", "call.ended"])).await;
    let agent = s.create_agent(json!({"name": "Plain"})).await;
    let mut calls = Vec::new();
    // Busy, no answer and failed never connect; the fourth is answered with
    // nothing to extract.
    for to in ["+15550100002", "+15550100003", "+15550100005", "+31612345678"] {
        let script = json!({"script": [{"say": "Hello?"}, {"hangup": true}]});
        let resp = s.post("/v1/calls", json!({"agent_id": agent, "to": to, "simulation": script})).await;
        assert_eq!(resp.status, 201, "{}", resp.body);
        calls.push(resp.body["call_id"].as_str().expect("id").to_owned());
    }
    let got =
        rx.wait_until(WAIT, |d| calls.iter().all(|c| d.iter().any(|x| x.body["data"]["call_id"] == c.as_str()))).await;
    for id in &calls {
        let call = s.finished_call(id).await;
        let hook = &got.iter().find(|d| d.body["data"]["call_id"] == id.as_str()).expect("its event").body["data"];
        for field in ["status", "disposition", "ended_reason"] {
            assert_eq!(hook[field], call[field], "{field} of {id}: webhook {hook} vs API {call}");
        }
        if call["answered_at"].is_string() {
            assert_eq!(hook["extracted_data"], json!({}), "{hook}");
            assert_eq!(hook["extracted_data"], call["extracted_data"]);
        }
    }
    let busy = s.finished_call(&calls[0]).await;
    assert_eq!((&busy["status"], &busy["ended_reason"]), (&json!("busy"), &Value::Null));
}
