//! The outbox survives a crash: the server binary is killed with SIGKILL while
//! deliveries are in flight and started again; every recorded event reaches
//! the receiver at least once (counted by event id).

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::Row;
use switchboard_testkit::webhook_receiver::{Reply, WebhookReceiver};

use crate::common::test_database_url;

/// The server process; killed when dropped, so a failing test leaves none behind.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

fn start(dir: &std::path::Path, db: &str, port: u16) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--dev", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(dir)
        .env("SWITCHBOARD_DATABASE_URL", db)
        .env("SWITCHBOARD_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server");
    Server(child)
}

async fn wait_up(client: &reqwest::Client, base: &str) {
    for _ in 0..200 {
        if client.get(format!("{base}/v1/health")).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not come up");
}

async fn post(client: &reqwest::Client, url: String, key: &str, body: Value) -> Value {
    let resp = client.post(&url).bearer_auth(key).json(&body).send().await.expect("request");
    let status = resp.status();
    let answer: Value = resp.json().await.expect("json");
    assert!(status.is_success(), "{url}: {status} {answer}");
    answer
}

/// Every event id in the outbox.
async fn recorded_events(db: &str) -> HashSet<String> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(db).await.expect("open the database");
    let rows = sqlx::query("SELECT id FROM events").fetch_all(&pool).await.expect("events");
    pool.close().await;
    rows.iter().map(|r| r.get::<String, _>("id")).collect()
}

#[tokio::test]
async fn no_event_is_lost_when_the_server_is_killed_mid_delivery() {
    let dir = tempfile::tempdir().expect("dir");
    let db = test_database_url(&dir).await;
    std::fs::write(
        dir.path().join("switchboard.toml"),
        "[runtime]\nclock_speed = 50.0\n[webhooks]\nretry_delays_seconds = [0.1, 0.1, 0.1, 0.1]\npoll_interval_ms = 20\nattempt_timeout_seconds = 1.0\nlease_seconds = 2.0\n",
    )
    .expect("config");
    let boot = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["admin", "bootstrap", "--org-name", "Crash", "--json"])
        .current_dir(dir.path())
        .env("SWITCHBOARD_DATABASE_URL", &db)
        .output()
        .expect("bootstrap");
    assert!(boot.status.success(), "{}", String::from_utf8_lossy(&boot.stderr));
    let boot: Value = serde_json::from_slice(&boot.stdout).expect("json");
    let (org_key, key) = (boot["org_key"].as_str().expect("org key"), boot["project_key"].as_str().expect("key"));

    // Slow answers keep deliveries in flight when the kill comes.
    let rx = WebhookReceiver::start().await;
    rx.script((0..60).map(|_| Reply::slow(Duration::from_millis(150))));
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
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
    server.0.kill().expect("SIGKILL");
    server.0.wait().expect("reap");
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
