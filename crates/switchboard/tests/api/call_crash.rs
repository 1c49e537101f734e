//! A call's events survive a crash: the server is killed with SIGKILL after
//! the caller's words are recorded and before the call ends. Started again,
//! the node closes the call it held, billed for the time it ran until the
//! node's last heartbeat, and every recorded event of the call (the
//! transcript among them) reaches the receiver, the call's end last.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::Row;
use switchboard_testkit::webhook_receiver::{Reply, WebhookReceiver};

use crate::common::test_database_url;
use crate::process::{bootstrap, free_port, post, recorded_events, start, wait_up};

/// The events recorded for a call: (id, event, payload), oldest first.
async fn call_events(db: &str, call: &str) -> Vec<(String, String, Value)> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(db).await.expect("open the database");
    let rows = sqlx::query("SELECT id, event, payload FROM events WHERE call_id = $1 ORDER BY created_at, id")
        .bind(call)
        .fetch_all(&pool)
        .await
        .expect("events");
    pool.close().await;
    rows.iter()
        .map(|r| {
            let payload: String = r.get("payload");
            (r.get("id"), r.get("event"), serde_json::from_str(&payload).unwrap_or(Value::Null))
        })
        .collect()
}

#[tokio::test]
async fn every_recorded_event_of_a_call_is_delivered_after_a_crash_mid_call() {
    let dir = tempfile::tempdir().expect("dir");
    let db = test_database_url(&dir).await;
    std::fs::write(
        dir.path().join("switchboard.toml"),
        "[runtime]\nclock_speed = 10.0\nheartbeat_seconds = 0.2\n[webhooks]\nretry_delays_seconds = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]\n\
         poll_interval_ms = 20\nattempt_timeout_seconds = 1.0\nlease_seconds = 2.0\n",
    )
    .expect("config");
    let (org_key, key) = bootstrap(dir.path(), &db);
    // Nothing is delivered before the crash: the events wait in the outbox.
    let rx = WebhookReceiver::start().await;
    rx.always("/calls", Reply::status(503));
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().no_proxy().build().expect("client");
    let mut server = start(dir.path(), &db, port);
    wait_up(&client, &base).await;
    post(&client, format!("{base}/v1/webhooks"), &org_key, json!({"url": rx.url("/calls"), "events": ["*"]})).await;
    let agent = json!({"name": "Desk", "first_message": "Hi, this is the desk.", "silence_timeout_seconds": 600});
    let agent = post(&client, format!("{base}/v1/agents"), &key, agent).await;
    let script = json!([{"say": "I would like to change my order"}, {"wait": 3000}]);
    let body = json!({"agent_id": agent["id"], "from": "+31612345678", "script": script});
    let call = post(&client, format!("{base}/v1/simulator/calls"), &key, body).await;
    let call = call["call_id"].as_str().expect("call id").to_owned();

    // Kill the server once the caller's words are recorded.
    let said = |events: &[(String, String, Value)]| {
        events.iter().any(|(_, event, payload)| {
            event == "transcript.updated" && payload["data"]["content"] == "I would like to change my order"
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let acknowledged = loop {
        let events = call_events(&db, &call).await;
        if said(&events) {
            break events;
        }
        assert!(Instant::now() < deadline, "the caller's words were never recorded: {events:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Two seconds of real time more, for the node to say it is alive (the
    // crashed call is billed the real time it ran until then).
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.kill();
    assert!(!acknowledged.iter().any(|(_, event, _)| event == "call.ended"), "the call was still live");

    rx.recover("/calls");
    let server = start(dir.path(), &db, port);
    wait_up(&client, &base).await;
    let ended = client.get(format!("{base}/v1/calls/{call}")).bearer_auth(&key).send().await.expect("call");
    let ended: Value = ended.json().await.expect("json");
    let outcome = (ended["status"].as_str(), ended["disposition"].as_str(), ended["ended_reason"].as_str());
    assert_eq!(outcome, (Some("completed"), Some("answered"), Some("error")), "{ended}");
    // Billed for the time it ran while the node said it was alive.
    assert!(ended["duration_seconds"].as_i64().is_some_and(|d| d >= 1), "{ended}");
    let cost = ended["total_cost"].as_f64().unwrap_or(0.0);
    assert!(cost > 0.0, "{ended}");
    let credits = client.get(format!("{base}/v1/credits")).bearer_auth(&key).send().await.expect("credits");
    let balance = credits.json::<Value>().await.expect("json")["balance"].as_f64().unwrap_or(0.0);
    assert!((100.0 - cost - balance).abs() < 1e-9, "the cost was debited: {cost}, left {balance}");

    let deadline = Instant::now() + Duration::from_secs(60);
    let (missing, events) = loop {
        let events = recorded_events(&db).await;
        let delivered: HashSet<String> =
            rx.received().iter().filter(|d| d.answered == 200).map(|d| d.id().to_owned()).collect();
        let missing: Vec<String> = events.iter().filter(|id| !delivered.contains(*id)).cloned().collect();
        if missing.is_empty() || Instant::now() > deadline {
            break (missing, events);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    drop(server);
    assert!(missing.is_empty(), "{} of {} events never arrived: {missing:?}", missing.len(), events.len());
    for (id, event, _) in &acknowledged {
        assert!(events.contains(id), "{event} {id} was recorded before the crash and is gone");
    }
    let after = call_events(&db, &call).await;
    let kinds: Vec<&str> = after.iter().map(|(_, event, _)| event.as_str()).collect();
    assert_eq!(kinds.last(), Some(&"call.ended"), "the call's end comes after everything it recorded: {kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "call.ended").count(), 1);
    assert!(kinds.contains(&"transcript.updated") && kinds.contains(&"call.started"), "{kinds:?}");
}
