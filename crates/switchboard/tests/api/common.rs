//! The test harness: a real Switchboard server on 127.0.0.1:0 per test, on a
//! temporary SQLite file, or on a fresh PostgreSQL database when
//! `SWITCHBOARD_TEST_DATABASE_URL` is set.

use reqwest::header::HeaderMap;
use reqwest::{Method, Url};
use serde_json::Value;
use switchboard::Config;
use switchboard::admin::{self, BootstrapOutput};
use switchboard::server::{build_state, serve_state};
use switchboard_api::AppState;
use switchboard_store::{Clock, Store};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub config: Config,
    /// The bootstrapped org: org id, default project, an org key and a project key.
    pub boot: BootstrapOutput,
    shutdown: Option<oneshot::Sender<()>>,
    _dir: TempDir,
}

pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `code` of an error body.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

/// A database URL for one test: a fresh PostgreSQL database, or a SQLite file.
pub async fn test_database_url(dir: &TempDir) -> String {
    match std::env::var("SWITCHBOARD_TEST_DATABASE_URL") {
        Ok(base) if !base.is_empty() => {
            use sqlx::Connection;
            let name = format!("sb_test_{}", ulid::Ulid::new().to_string().to_ascii_lowercase());
            let mut conn = sqlx::PgConnection::connect(&base).await.expect("connect to the test PostgreSQL server");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .expect("create a test database");
            conn.close().await.ok();
            let mut url = Url::parse(&base).expect("SWITCHBOARD_TEST_DATABASE_URL is a URL");
            url.set_path(&format!("/{name}"));
            url.to_string()
        }
        _ => format!("sqlite://{}", dir.path().join("switchboard.db").display()),
    }
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts a server after `adjust` has changed the test configuration
    /// (dev mode on by default so test peers can be plain http on loopback).
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config { dev: true, listen: "127.0.0.1:0".into(), ..Config::default() };
        config.database_url = test_database_url(&dir).await;
        adjust(&mut config);
        let store = Store::connect(&config.database_url, Clock::system()).await.expect("open the test database");
        store.migrate().await.expect("migrate the test database");
        let boot = admin::bootstrap(&store, "Test Org", config.billing.starting_credits).await.expect("bootstrap");
        let state = build_state(&config, store).await.expect("build state");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = oneshot::channel::<()>();
        let served = state.clone();
        let serve_config = config.clone();
        tokio::spawn(async move {
            serve_state(&serve_config, served, listener, async {
                rx.await.ok();
            })
            .await
            .expect("server runs");
        });
        let client = reqwest::Client::builder().no_proxy().build().expect("client");
        TestServer { base, client, state, config, boot, shutdown: Some(tx), _dir: dir }
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }

    pub fn key(&self) -> &str {
        &self.boot.project_key
    }

    pub fn org_key(&self) -> &str {
        &self.boot.org_key
    }

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    /// Sends a request with a bearer key (if any) and a JSON body (if any).
    pub async fn call(&self, method: Method, path: &str, key: Option<&str>, body: Option<Value>) -> Resp {
        let mut req = self.request(method, path);
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        send(req).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call(Method::GET, path, Some(self.key()), None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(self.key()), Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.call(Method::PATCH, path, Some(self.key()), Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.call(Method::DELETE, path, Some(self.key()), None).await
    }

    /// Injects an inbound call on the simulated carrier; returns its id.
    pub async fn inbound_call(&self, agent: &str, script: Value) -> String {
        let body = serde_json::json!({"agent_id": agent, "from": "+31612345678", "script": script});
        let resp = self.post("/v1/simulator/calls", body).await;
        assert_eq!(resp.status, 201, "{}", resp.body);
        resp.body["call_id"].as_str().unwrap_or_default().to_owned()
    }

    /// Waits until the call's end is stored; returns the full call.
    pub async fn finished_call(&self, call: &str) -> Value {
        for _ in 0..800 {
            let c = self.get(&format!("/v1/calls/{call}")).await.body;
            if c["ended_at"].is_string() {
                return c;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("call {call} did not end");
    }

    /// Creates an agent in the default project and returns its id.
    pub async fn create_agent(&self, body: Value) -> String {
        let resp = self.post("/v1/agents", body).await;
        assert_eq!(resp.status, 201, "{}", resp.body);
        resp.body["id"].as_str().expect("agent id").to_owned()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            tx.send(()).ok();
        }
    }
}

/// Sends a request and reads the JSON body (`Null` when empty).
pub async fn send(req: reqwest::RequestBuilder) -> Resp {
    let resp = req.send().await.expect("request reaches the server");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("body is not JSON ({status}): {text}"))
    };
    Resp { status, headers, body }
}

/// Asserts the error format: status, code, and `error` = `message`.
#[track_caller]
/// An error in Sticky Calls' shape (the memory routes): the status's reason
/// phrase as `error`, beside our `code` and `message`.
pub fn assert_sticky_error(resp: &Resp, status: u16, code: &str) {
    assert_eq!(resp.status, status, "body: {}", resp.body);
    assert_eq!(resp.code(), code, "body: {}", resp.body);
    assert!(resp.body["message"].is_string(), "message missing: {}", resp.body);
    let reason = reqwest::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason());
    assert_eq!(resp.body["error"].as_str(), reason, "body: {}", resp.body);
}

pub fn assert_error(resp: &Resp, status: u16, code: &str) {
    assert_eq!(resp.status, status, "body: {}", resp.body);
    assert_eq!(resp.code(), code, "body: {}", resp.body);
    assert!(resp.body["message"].is_string(), "message missing: {}", resp.body);
    assert_eq!(resp.body["error"], resp.body["message"], "error and message differ: {}", resp.body);
    assert!(resp.header("x-request-id").is_some_and(|id| id.starts_with("req_")), "no request id");
}

/// Whether a request to a scripted model is a post-call analysis, which is
/// sent in the background after a call ends, beside the call's own requests.
pub fn is_analysis(request: &Value) -> bool {
    request["messages"][0]["content"].as_str() == Some(switchboard_domain::call::analysis::MODEL_INSTRUCTION)
}

/// A scripted model's requests for the calls themselves (turns, extraction),
/// without post-call analyses.
pub fn call_requests(requests: Vec<Value>) -> Vec<Value> {
    requests.into_iter().filter(|r| !is_analysis(r)).collect()
}
