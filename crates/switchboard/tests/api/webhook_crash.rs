//! The outbox survives a crash: the server binary is killed with SIGKILL while
//! deliveries are in flight and started again; every recorded event reaches
//! the receiver at least once (counted by event id).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::json;
use switchboard_testkit::webhook_receiver::{Reply, WebhookReceiver};

use crate::common::test_database_url;
use crate::process::{bootstrap, free_port, post, recorded_events, start, wait_up};

#[tokio::test]
async fn no_event_is_lost_when_the_server_is_killed_mid_delivery() {
    let dir = tempfile::tempdir().expect("dir");
    let db = test_database_url(&dir).await;
    std::fs::write(
        dir.path().join("switchboard.toml"),
        "[runtime]\nclock_speed = 50.0\n[webhooks]\nretry_delays_seconds = [0.1, 0.1, 0.1, 0.1]\npoll_interval_ms = 20\nattempt_timeout_seconds = 1.0\nlease_seconds = 2.0\n",
    )
    .expect("config");
    let (org_key, key) = bootstrap(dir.path(), &db);
    let (org_key, key) = (org_key.as_str(), key.as_str());

    // Slow answers keep deliveries in flight when the kill comes.
    let rx = WebhookReceiver::start().await;
    rx.script((0..60).map(|_| Reply::slow(Duration::from_millis(150))));
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().no_proxy().build().expect("client");
    let mut server = start(dir.path(), &db, port);
    wait_up(&client, &base).await;

    post(&client, format!("{base}/v1/webhooks"), org_key, json!({"url": rx.url("/crash"), "events": ["*"]})).await;
    let agent = post(&client, format!("{base}/v1/agents"), key, json!({"name": "Crash", "first_message": "Hi."})).await;
    let agent = agent["id"].as_str().expect("agent");
    for i in 0..15 {
        let script = json!([{"say": format!("question {i}")}, {"wait": 2}, {"hangup": true}]);
        post(
            &client,
            format!("{base}/v1/simulator/calls"),
            key,
            json!({"agent_id": agent, "from": "+31612345678", "script": script}),
        )
        .await;
    }
    rx.wait_until(Duration::from_secs(30), |d| d.len() >= 10).await;
    server.kill();
    let before_restart = rx.received().len();

    let server = start(dir.path(), &db, port);
    wait_up(&client, &base).await;
    let deadline = Instant::now() + Duration::from_secs(90);
    let (missing, events) = loop {
        let events = recorded_events(&db).await;
        let seen: HashSet<String> = rx.received().iter().map(|d| d.id().to_owned()).collect();
        let missing: Vec<&String> = events.iter().filter(|id| !seen.contains(*id)).collect();
        if missing.is_empty() || Instant::now() > deadline {
            break (missing.len(), events.len());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    drop(server);
    assert!(events > 60, "the calls recorded their events ({events})");
    assert_eq!(missing, 0, "{missing} of {events} events never arrived");
    assert!(rx.received().len() > before_restart, "delivery resumed after the restart");
}
