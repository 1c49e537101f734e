//! Authentication: key headers, every auth error code, scopes, lock-out.

use reqwest::Method;
use serde_json::json;

use crate::common::{TestServer, assert_error, send};

#[tokio::test]
async fn missing_key_is_401_missing_api_key() {
    let s = TestServer::start().await;
    let resp = s.call(Method::GET, "/v1/agents", None, None).await;
    assert_error(&resp, 401, "MISSING_API_KEY");
    let resp = send(s.request(Method::GET, "/v1/agents").header("authorization", "Bearer ")).await;
    assert_error(&resp, 401, "MISSING_API_KEY");
}

#[tokio::test]
async fn bearer_and_x_api_key_both_authenticate() {
    let s = TestServer::start().await;
    let bearer = send(s.request(Method::GET, "/v1/agents").bearer_auth(s.key())).await;
    assert_eq!(bearer.status, 200);
    let header = send(s.request(Method::GET, "/v1/agents").header("x-api-key", s.key())).await;
    assert_eq!(header.status, 200);
    assert_eq!(header.body["agents"], json!([]));
}

#[tokio::test]
async fn malformed_keys_are_invalid_and_not_counted_toward_lockout() {
    let s = TestServer::start_with(|c| c.auth.failure_limit = 5).await;
    let mut flipped = s.key().to_owned();
    let last = flipped.pop().map(|c| if c == '0' { '1' } else { '0' }).unwrap_or('0');
    flipped.push(last);
    for bad in ["sfy_live_0123", "sb_live_xyz", flipped.as_str(), "Bearer"] {
        for _ in 0..3 {
            let resp = s.call(Method::GET, "/v1/agents", Some(bad), None).await;
            assert_error(&resp, 401, "INVALID_API_KEY");
        }
    }
    // Twelve malformed attempts, limit five: the real key still works.
    assert_eq!(s.get("/v1/agents").await.status, 200);
}

#[tokio::test]
async fn unknown_well_formed_keys_lock_the_ip_out_after_the_limit() {
    let s = TestServer::start_with(|c| c.auth.failure_limit = 100).await;
    let unknown = switchboard_domain::keys::generate(switchboard_domain::keys::KeyKind::Project).raw;
    for i in 0..100 {
        let resp = s.call(Method::GET, "/v1/agents", Some(&unknown), None).await;
        assert_error(&resp, 401, "INVALID_API_KEY");
        assert!(resp.header("x-ratelimit-limit").is_none(), "attempt {i}: no rate headers before auth");
    }
    let resp = s.call(Method::GET, "/v1/agents", Some(&unknown), None).await;
    assert_error(&resp, 429, "AUTH_RATE_LIMITED");
    assert!(resp.body["retryAfter"].as_u64().is_some_and(|s| s > 0 && s <= 900), "{}", resp.body);
    assert!(resp.header("retry-after").is_some());
    // The lock-out is per IP for every other invalid key; a valid key still works.
    let other = switchboard_domain::keys::generate(switchboard_domain::keys::KeyKind::Project).raw;
    let resp = s.call(Method::GET, "/v1/agents", Some(&other), None).await;
    assert_error(&resp, 429, "AUTH_RATE_LIMITED");
    assert_eq!(s.get("/v1/agents").await.status, 200);
}

#[tokio::test]
async fn revoked_and_org_kind_mismatch_keys_are_invalid() {
    let s = TestServer::start().await;
    let created = s
        .call(Method::POST, &format!("/v1/org/projects/{}/api-keys", s.boot.project_id), Some(s.org_key()), None)
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let raw = created.body["key"].as_str().expect("raw key once").to_owned();
    assert_eq!(s.call(Method::GET, "/v1/agents", Some(&raw), None).await.status, 200);
    let id = created.body["id"].as_str().expect("key id");
    let revoked = s
        .call(Method::DELETE, &format!("/v1/org/projects/{}/api-keys/{id}", s.boot.project_id), Some(s.org_key()), None)
        .await;
    assert_eq!(revoked.status, 204);
    assert_error(&s.call(Method::GET, "/v1/agents", Some(&raw), None).await, 401, "INVALID_API_KEY");
}

#[tokio::test]
async fn read_only_keys_may_read_but_not_write() {
    let s = TestServer::start().await;
    let created = s
        .call(
            Method::POST,
            &format!("/v1/org/projects/{}/api-keys", s.boot.project_id),
            Some(s.org_key()),
            Some(json!({"name": "dashboard", "scope": "read"})),
        )
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(created.body["scope"], "read");
    let read_key = created.body["key"].as_str().expect("raw key").to_owned();
    assert_eq!(s.call(Method::GET, "/v1/agents", Some(&read_key), None).await.status, 200);
    let resp = s.call(Method::POST, "/v1/agents", Some(&read_key), Some(json!({"name": "x"}))).await;
    assert_error(&resp, 403, "READ_ONLY_KEY");
    assert_eq!(resp.header("x-ratelimit-tier"), Some("payg"), "auth errors after authentication carry rate headers");
    let resp = s.call(Method::PATCH, "/v1/project", Some(&read_key), Some(json!({"name": "x"}))).await;
    assert_error(&resp, 403, "READ_ONLY_KEY");
}

#[tokio::test]
async fn project_keys_cannot_use_org_routes() {
    let s = TestServer::start().await;
    for (method, path) in [
        (Method::GET, "/v1/org/projects".to_owned()),
        (Method::POST, "/v1/org/projects".to_owned()),
        (Method::GET, "/v1/org/api-keys".to_owned()),
        (Method::GET, format!("/v1/org/projects/{}/api-keys", s.boot.project_id)),
    ] {
        let body = (method == Method::POST).then(|| json!({"name": "p"}));
        let resp = s.call(method, &path, Some(s.key()), body).await;
        assert_error(&resp, 403, "ORG_KEY_REQUIRED");
    }
}

#[tokio::test]
async fn org_keys_act_on_a_project_through_x_project_id() {
    let s = TestServer::start().await;
    let without = s.call(Method::GET, "/v1/agents", Some(s.org_key()), None).await;
    assert_error(&without, 400, "PROJECT_ID_REQUIRED");

    let unknown = send(
        s.request(Method::GET, "/v1/agents")
            .bearer_auth(s.org_key())
            .header("x-project-id", "proj_00000000000000000000000000"),
    )
    .await;
    assert_error(&unknown, 404, "PROJECT_NOT_FOUND");

    let created = send(
        s.request(Method::POST, "/v1/agents")
            .bearer_auth(s.org_key())
            .header("x-project-id", &s.boot.project_id)
            .json(&json!({"name": "Via org key"})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    // The project key sees the agent the org key created in its project.
    let listed = s.get("/v1/agents").await;
    assert_eq!(listed.body["agents"][0]["name"], "Via org key");

    // Another org's project, in the same database, is not found for this org key.
    let other = switchboard::admin::bootstrap(s.store(), "Other Org", 100.0).await.expect("second org");
    let foreign =
        send(s.request(Method::GET, "/v1/agents").bearer_auth(s.org_key()).header("x-project-id", &other.project_id))
            .await;
    assert_error(&foreign, 404, "PROJECT_NOT_FOUND");
}

#[tokio::test]
async fn health_answers_liveness_without_a_key_and_scope_with_one() {
    let s = TestServer::start().await;
    let live = s.call(Method::GET, "/v1/health", None, None).await;
    assert_eq!(live.status, 200);
    assert_eq!(live.body["status"], "healthy");
    assert_eq!(live.body["database"], "connected");
    assert_eq!(live.body["voice"], "off", "the test server runs no voice sidecar");
    assert!(live.body["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert!(live.header("x-ratelimit-limit").is_none());

    let scoped = s.get("/v1/health").await;
    assert_eq!(scoped.status, 200);
    assert_eq!(scoped.body["status"], "ok");
    assert_eq!(scoped.body["tier"], "payg");
    assert_eq!(scoped.body["project_id"], s.boot.project_id.as_str());
    assert_eq!(scoped.body["org_id"], s.boot.org_id.as_str());
    assert_eq!(scoped.header("x-ratelimit-limit"), Some("300"));

    let org = s.call(Method::GET, "/v1/health", Some(s.org_key()), None).await;
    assert_eq!(org.body["project_id"], serde_json::Value::Null);
    // Staffify prints numbers here; ours are the public ids (documented on the
    // operation), so what health tells is what the paths take.
    let project_id = scoped.body["project_id"].as_str().expect("a string id");
    let project = s.call(Method::GET, &format!("/v1/org/projects/{project_id}"), Some(s.org_key()), None).await;
    assert_eq!(project.status, 200, "{}", project.body);
    let doc = s.call(Method::GET, "/v1/openapi.json", None, None).await;
    let described = &doc.body["components"]["schemas"]["KeyHealth"]["properties"]["project_id"]["description"];
    assert!(described.as_str().is_some_and(|d| d.contains("Staffify shows a number")), "{described}");

    assert_error(&s.call(Method::GET, "/v1/health", Some("sb_live_nope"), None).await, 401, "INVALID_API_KEY");
}

/// A well-formed project key (valid checksum) that starts with `head`
/// (`sb_live_` and some hex) and is otherwise `n` in hex.
fn key_starting_with(head: &str, n: u64) -> String {
    let body = format!("{head}{n:0width$x}", width = 48 - 8 - (head.len() - "sb_live_".len()));
    format!("{body}{:08x}", crc32fast::hash(body.as_bytes()))
}

/// A client whose requests come from `ip` (any 127.x address is this machine).
fn client_from(ip: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder().no_proxy().local_address(std::net::IpAddr::from(ip)).build().expect("client")
}

#[tokio::test]
async fn a_locked_out_address_still_accepts_valid_keys() {
    // One client behind a shared address keeps sending a revoked key: the
    // address is locked out for bad keys, not for its other, valid, clients.
    let s = TestServer::start_with(|c| c.auth.failure_limit = 5).await;
    let bad = switchboard_domain::keys::generate(switchboard_domain::keys::KeyKind::Project).raw;
    for _ in 0..5 {
        assert_error(&s.call(Method::GET, "/v1/agents", Some(&bad), None).await, 401, "INVALID_API_KEY");
    }
    let resp = s.call(Method::GET, "/v1/agents", Some(&bad), None).await;
    assert_error(&resp, 429, "AUTH_RATE_LIMITED");
    assert!(resp.header("retry-after").is_some());
    // Any other bad key from the address is refused too…
    let other = switchboard_domain::keys::generate(switchboard_domain::keys::KeyKind::Org).raw;
    assert_error(&s.call(Method::GET, "/v1/agents", Some(&other), None).await, 429, "AUTH_RATE_LIMITED");
    // …while valid keys from the same address work.
    assert_eq!(s.get("/v1/agents").await.status, 200);
    assert_eq!(s.call(Method::GET, "/v1/org/projects", Some(s.org_key()), None).await.status, 200);
    let health = s.get("/v1/health").await;
    assert_eq!(health.body["status"], "ok", "{}", health.body);
    // The bad key stays refused, and a valid key did not lift the lock-out.
    assert_error(&s.call(Method::GET, "/v1/agents", Some(&bad), None).await, 429, "AUTH_RATE_LIMITED");
}

#[tokio::test]
async fn guesses_at_one_key_are_limited_from_any_number_of_addresses() {
    let s = TestServer::start_with(|c| c.auth.failure_limit = 5).await;
    // Someone who knows how a key starts guesses the rest, one guess per address.
    let head = "sb_live_0123abcd";
    for i in 0..5u8 {
        let client = client_from([127, 0, 0, 10 + i]);
        let guess = key_starting_with(head, u64::from(i));
        let resp = send(client.get(format!("{}/v1/agents", s.base)).bearer_auth(&guess)).await;
        assert_error(&resp, 401, "INVALID_API_KEY");
    }
    let fresh = client_from([127, 0, 0, 20]);
    let resp = send(fresh.get(format!("{}/v1/agents", s.base)).bearer_auth(key_starting_with(head, 99))).await;
    assert_error(&resp, 429, "AUTH_RATE_LIMITED");
    assert!(resp.body["retryAfter"].as_u64().is_some_and(|s| s > 0 && s <= 900), "{}", resp.body);
    // Keys that start otherwise, and valid keys, are not affected at that address.
    let resp = send(fresh.get(format!("{}/v1/agents", s.base)).bearer_auth(key_starting_with("sb_live_ffff", 1))).await;
    assert_error(&resp, 401, "INVALID_API_KEY");
    assert_eq!(send(fresh.get(format!("{}/v1/agents", s.base)).bearer_auth(s.key())).await.status, 200);
}
