//! The read caches of the request path (keys, orgs, agents): every change is
//! honoured on the very next request, however long the TTL; changes another
//! process makes without telling are honoured once the TTL has passed; with
//! Redis, a change on one node is honoured on the other at once.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use switchboard::admin;
use switchboard_store::{Clock, Store};

use crate::common::{Resp, TestServer, assert_error, send};

/// Long enough that only an invalidation can explain a fresh answer.
const LONG_TTL_MS: u64 = 600_000;

async fn cached_server() -> TestServer {
    TestServer::start_with(|c| c.auth.cache_ttl_ms = LONG_TTL_MS).await
}

/// A new key of the default project: (key id, raw key).
async fn new_project_key(s: &TestServer) -> (String, String) {
    let path = format!("/v1/org/projects/{}/api-keys", s.boot.project_id);
    let created = s.call(Method::POST, &path, Some(s.org_key()), Some(json!({"name": "cached"}))).await;
    assert_eq!(created.status, 201, "{}", created.body);
    (created.body["id"].as_str().expect("id").to_owned(), created.body["key"].as_str().expect("raw key").to_owned())
}

async fn get_with(s: &TestServer, path: &str, key: &str) -> Resp {
    s.call(Method::GET, path, Some(key), None).await
}

/// The same database, opened the way the `switchboard admin` CLI opens it: a
/// separate store whose writes the server hears nothing about.
async fn another_process(s: &TestServer) -> Store {
    Store::connect(&s.config.database_url, Clock::system()).await.expect("open the database again")
}

#[tokio::test]
async fn revoked_keys_are_refused_on_the_very_next_request_and_still_count_toward_lockout() {
    let s = TestServer::start_with(|c| {
        c.auth.cache_ttl_ms = LONG_TTL_MS;
        c.auth.failure_limit = 3;
    })
    .await;
    let (id, raw) = new_project_key(&s).await;
    for _ in 0..3 {
        assert_eq!(get_with(&s, "/v1/agents", &raw).await.status, 200);
    }
    let path = format!("/v1/org/projects/{}/api-keys/{id}", s.boot.project_id);
    assert_eq!(s.call(Method::DELETE, &path, Some(s.org_key()), None).await.status, 204);
    assert_error(&get_with(&s, "/v1/agents", &raw).await, 401, "INVALID_API_KEY");

    // An org-level key revoked by another org key.
    let created = s.call(Method::POST, "/v1/org/api-keys", Some(s.org_key()), Some(json!({"name": "ci"}))).await;
    let (org_key_id, org_raw) = (created.body["id"].as_str().expect("id"), created.body["key"].as_str().expect("raw"));
    assert_eq!(get_with(&s, "/v1/org/projects", org_raw).await.status, 200);
    let revoked = s.call(Method::DELETE, &format!("/v1/org/api-keys/{org_key_id}"), Some(s.org_key()), None).await;
    assert_eq!(revoked.status, 204);
    assert_error(&get_with(&s, "/v1/org/projects", org_raw).await, 401, "INVALID_API_KEY");

    // Two refusals so far, limit three: the third locks the IP out (for
    // invalid keys; valid ones still pass), so refused keys were looked up and
    // counted, not answered from a cache.
    assert_error(&get_with(&s, "/v1/agents", &raw).await, 401, "INVALID_API_KEY");
    let unknown = switchboard_domain::keys::generate(switchboard_domain::keys::KeyKind::Project).raw;
    assert_error(&get_with(&s, "/v1/agents", &unknown).await, 429, "AUTH_RATE_LIMITED");
    assert_eq!(s.get("/v1/agents").await.status, 200);
}

#[tokio::test]
async fn deleting_a_project_refuses_its_cached_keys_at_once() {
    let s = cached_server().await;
    let project = s.call(Method::POST, "/v1/org/projects", Some(s.org_key()), Some(json!({"name": "Doomed"}))).await;
    let pid = project.body["id"].as_str().expect("id").to_owned();
    let key = s
        .call(Method::POST, &format!("/v1/org/projects/{pid}/api-keys"), Some(s.org_key()), Some(json!({"name": "k"})))
        .await;
    let raw = key.body["key"].as_str().expect("raw").to_owned();
    assert_eq!(get_with(&s, "/v1/agents", &raw).await.status, 200);
    assert_eq!(s.call(Method::DELETE, &format!("/v1/org/projects/{pid}"), Some(s.org_key()), None).await.status, 204);
    assert_error(&get_with(&s, "/v1/agents", &raw).await, 401, "INVALID_API_KEY");
    assert_eq!(s.get("/v1/agents").await.status, 200, "other projects' keys keep working");
}

#[tokio::test]
async fn a_call_that_uses_up_the_credits_pauses_writes_at_once() {
    let s = TestServer::start_with(|c| {
        c.auth.cache_ttl_ms = LONG_TTL_MS;
        c.runtime.clock_speed = 100.0;
    })
    .await;
    let agent = s.create_agent(json!({"name": "A", "silence_timeout_seconds": 600})).await;
    // Through the server's own store, like billing: seen at once.
    admin::add_credits(s.store(), &s.boot.org_id, -99.85).await.expect("drain");
    assert_eq!(s.post("/v1/agents", json!({"name": "Still allowed"})).await.status, 201);
    // EUR 0.15 at 0.15 a minute: the call's debit brings the balance to zero.
    let call = s.inbound_call(&agent, json!([{"say": "Tell me everything"}, {"wait": 600}])).await;
    let ended = s.finished_call(&call).await;
    assert_eq!(ended["ended_reason"], "max-duration", "{ended}");
    assert_error(&s.post("/v1/agents", json!({"name": "x"})).await, 402, "INSUFFICIENT_CREDITS");
    assert_eq!(s.get(&format!("/v1/agents/{agent}")).await.status, 200, "reads stay allowed");
}

#[tokio::test]
async fn changes_another_process_makes_are_honoured_within_the_ttl() {
    const TTL_MS: u64 = 300;
    let s = TestServer::start_with(|c| c.auth.cache_ttl_ms = TTL_MS).await;
    let ttl = Duration::from_millis(TTL_MS);
    let cli = another_process(&s).await;
    let (key_id, raw) = new_project_key(&s).await;
    assert_eq!(get_with(&s, "/v1/agents", &raw).await.status, 200);
    assert_eq!(s.post("/v1/agents", json!({"name": "Before"})).await.status, 201);

    admin::add_credits(&cli, &s.boot.org_id, -100.0).await.expect("drain from the CLI");
    admin::set_tier(&cli, &s.boot.org_id, "starter").await.expect("tier from the CLI");
    cli.revoke_key(&s.boot.org_id, Some(&s.boot.project_id), &key_id).await.expect("revoke from another node");
    tokio::time::sleep(ttl).await;
    assert_error(&s.post("/v1/agents", json!({"name": "x"})).await, 402, "INSUFFICIENT_CREDITS");
    let read = s.get("/v1/agents").await;
    assert_eq!(read.status, 200);
    assert_eq!(read.header("x-ratelimit-tier"), Some("starter"));
    assert_eq!(read.header("x-ratelimit-limit"), Some("600"));
    assert_error(&get_with(&s, "/v1/agents", &raw).await, 401, "INVALID_API_KEY");

    admin::add_credits(&cli, &s.boot.org_id, 10.0).await.expect("top up from the CLI");
    tokio::time::sleep(ttl).await;
    assert_eq!(s.post("/v1/agents", json!({"name": "After"})).await.status, 201);
    cli.close().await;
}

#[tokio::test]
async fn cached_agents_follow_every_change_and_stay_in_their_project() {
    let s = cached_server().await;
    let kb = s.post("/v1/knowledge-bases", json!({"name": "Docs"})).await;
    let kb = kb.body["id"].as_str().expect("kb id").to_owned();
    let id = s.create_agent(json!({"name": "Ava", "knowledge_base_ids": [kb]})).await;
    let path = format!("/v1/agents/{id}");
    let get = || async { s.get(&path).await.body };
    let first = get().await;
    assert_eq!(first["name"], "Ava");

    assert_eq!(s.patch(&path, json!({"name": "Bea"})).await.status, 200);
    assert_eq!(get().await["name"], "Bea");
    assert_eq!(s.post(&format!("{path}/archive"), json!({})).await.status, 200);
    assert!(get().await["archived_at"].is_string());
    assert_eq!(s.post(&format!("{path}/restore"), json!({})).await.status, 200);
    assert_eq!(get().await["archived_at"], Value::Null);
    assert_eq!(s.post(&format!("{path}/rotate-webhook-secret"), json!({})).await.status, 200);
    assert_ne!(get().await["webhook_secret_hint"], first["webhook_secret_hint"]);
    // Deleting a knowledge base edits the agents that used it.
    assert_eq!(s.delete(&format!("/v1/knowledge-bases/{kb}")).await.status, 204);
    assert_eq!(get().await["knowledge_base_ids"], json!([]));

    // A cached agent is not served to another project or another org.
    let other_project =
        s.call(Method::POST, "/v1/org/projects", Some(s.org_key()), Some(json!({"name": "Other"}))).await;
    let other_project = other_project.body["id"].as_str().expect("id").to_owned();
    let via_other =
        send(s.request(Method::GET, &path).bearer_auth(s.org_key()).header("x-project-id", &other_project)).await;
    assert_error(&via_other, 404, "NOT_FOUND");
    let other_org = admin::bootstrap(s.store(), "Other Org", 100.0).await.expect("org");
    assert_error(&get_with(&s, &path, &other_org.project_key).await, 404, "NOT_FOUND");

    assert_eq!(s.delete(&path).await.status, 204);
    assert_error(&s.get(&path).await, 404, "NOT_FOUND");
}

#[tokio::test]
async fn two_nodes_on_one_redis_honour_each_others_changes_long_before_the_ttl() {
    let Ok(redis_url) = std::env::var("SWITCHBOARD_TEST_REDIS_URL") else {
        eprintln!("SWITCHBOARD_TEST_REDIS_URL not set: the two-node cache test runs in the Redis suite of .ci/run");
        return;
    };
    let a = TestServer::start_with(|c| {
        c.redis_url = Some(redis_url.clone());
        c.auth.cache_ttl_ms = LONG_TTL_MS;
    })
    .await;
    let b = SecondNode::start(&a, &redis_url).await;
    let (key_id, raw) = new_project_key(&a).await;
    let agent = a.create_agent(json!({"name": "Ava"})).await;
    let path = format!("/v1/agents/{agent}");
    // B caches the keys, the org and the agent, and makes no write of its own
    // (which would drop its copies of the org's agents itself).
    assert_eq!(b.get(&path, &raw).await.body["name"], "Ava");
    assert_eq!(b.get(&path, a.key()).await.status, 200);

    // Pub/sub is asynchronous: B hears within milliseconds, not within the
    // ten-minute TTL, so a short bounded wait tells the two apart.
    assert_eq!(a.patch(&path, json!({"name": "Bea"})).await.status, 200);
    b.until("an agent changed on A", async || b.get(&path, a.key()).await.body["name"] == "Bea").await;

    let revoke = format!("/v1/org/projects/{}/api-keys/{key_id}", a.boot.project_id);
    assert_eq!(a.call(Method::DELETE, &revoke, Some(a.org_key()), None).await.status, 204);
    b.until("a key revoked on A", async || b.get(&path, &raw).await.status == 401).await;

    admin::add_credits(a.store(), &a.boot.org_id, -100.0).await.expect("drain through A");
    b.until("an org paused on A", async || b.post_agent(a.key()).await == 402).await;
}

/// A `switchboard serve` process on A's database and Redis, killed on drop.
struct SecondNode {
    base: String,
    client: reqwest::Client,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl SecondNode {
    async fn start(a: &TestServer, redis_url: &str) -> Self {
        let dir = tempfile::tempdir().expect("dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["serve", "--dev", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--database-url", &a.config.database_url, "--redis-url", redis_url])
            .current_dir(dir.path())
            .env("SWITCHBOARD_LOG", "warn")
            .env("SWITCHBOARD_AUTH__CACHE_TTL_MS", LONG_TTL_MS.to_string())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start a second server process");
        let node =
            SecondNode { base: format!("http://127.0.0.1:{port}"), client: reqwest::Client::new(), child, _dir: dir };
        for _ in 0..100 {
            if node.client.get(format!("{}/v1/health", node.base)).send().await.is_ok() {
                return node;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the second server did not come up");
    }

    async fn get(&self, path: &str, key: &str) -> Resp {
        send(self.client.get(format!("{}{path}", self.base)).bearer_auth(key)).await
    }

    /// Retries `check` for at most five seconds; panics naming `what` if it
    /// never holds.
    async fn until(&self, what: &str, check: impl AsyncFn() -> bool) {
        for _ in 0..250 {
            if check().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{what}: not seen on B");
    }

    async fn post_agent(&self, key: &str) -> u16 {
        let req = self.client.post(format!("{}/v1/agents", self.base)).bearer_auth(key).json(&json!({"name": "B"}));
        send(req).await.status
    }
}

impl Drop for SecondNode {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}
