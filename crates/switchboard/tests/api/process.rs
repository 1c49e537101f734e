//! The server binary as a child process, for tests that kill it with SIGKILL
//! and start it again on the same database.

use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use sqlx::Row;

/// The server process; killed when dropped, so a failing test leaves none behind.
pub struct Server(Child);

impl Server {
    /// Kills the process at once, as a crash would, and reaps it.
    pub fn kill(&mut self) {
        self.0.kill().expect("SIGKILL");
        self.0.wait().expect("reap");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port()
}

/// Creates an org in the database; returns its org key and project key.
pub fn bootstrap(dir: &Path, db: &str) -> (String, String) {
    let boot = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["admin", "bootstrap", "--org-name", "Crash", "--json"])
        .current_dir(dir)
        .env("SWITCHBOARD_DATABASE_URL", db)
        .output()
        .expect("bootstrap");
    assert!(boot.status.success(), "{}", String::from_utf8_lossy(&boot.stderr));
    let boot: Value = serde_json::from_slice(&boot.stdout).expect("json");
    let key = |name: &str| boot[name].as_str().expect("key").to_owned();
    (key("org_key"), key("project_key"))
}

/// Starts `switchboard serve --dev` in `dir` (where its switchboard.toml is).
pub fn start(dir: &Path, db: &str, port: u16) -> Server {
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

pub async fn wait_up(client: &reqwest::Client, base: &str) {
    for _ in 0..200 {
        if client.get(format!("{base}/v1/health")).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not come up");
}

/// POSTs JSON with a key and returns the (successful) answer.
pub async fn post(client: &reqwest::Client, url: String, key: &str, body: Value) -> Value {
    let resp = client.post(&url).bearer_auth(key).json(&body).send().await.expect("request");
    let status = resp.status();
    let answer: Value = resp.json().await.expect("json");
    assert!(status.is_success(), "{url}: {status} {answer}");
    answer
}

/// Every event id in the outbox.
pub async fn recorded_events(db: &str) -> HashSet<String> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(db).await.expect("open the database");
    let rows = sqlx::query("SELECT id FROM events").fetch_all(&pool).await.expect("events");
    pool.close().await;
    rows.iter().map(|r| r.get::<String, _>("id")).collect()
}
