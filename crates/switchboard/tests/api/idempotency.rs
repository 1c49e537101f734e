//! `Idempotency-Key` on POST: replay, reuse with another body, in-progress.

use reqwest::Method;
use serde_json::json;
use switchboard_store::idempotency::{Claim, IdempotencySlot};

use crate::common::{TestServer, assert_error, send};

async fn post_with_key(s: &TestServer, path: &str, key: &str, body: serde_json::Value) -> crate::common::Resp {
    send(s.request(Method::POST, path).bearer_auth(s.key()).header("idempotency-key", key).json(&body)).await
}

#[tokio::test]
async fn a_retry_replays_the_first_response_and_creates_nothing_new() {
    let s = TestServer::start().await;
    let first = post_with_key(&s, "/v1/agents", "create-support-1", json!({"name": "Support"})).await;
    assert_eq!(first.status, 201);
    assert!(first.header("idempotent-replayed").is_none());
    let again = post_with_key(&s, "/v1/agents", "create-support-1", json!({"name": "Support"})).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body, "the stored body, secret included, is replayed");
    let list = s.get("/v1/agents").await;
    assert_eq!(list.body["agents"].as_array().map(Vec::len), Some(1), "one agent, not two");

    // Another key runs afresh.
    let other = post_with_key(&s, "/v1/agents", "create-support-2", json!({"name": "Support"})).await;
    assert_ne!(other.body["id"], first.body["id"]);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_422() {
    let s = TestServer::start().await;
    assert_eq!(post_with_key(&s, "/v1/agents", "k1", json!({"name": "A"})).await.status, 201);
    let reused = post_with_key(&s, "/v1/agents", "k1", json!({"name": "B"})).await;
    assert_error(&reused, 422, "IDEMPOTENCY_KEY_REUSED");
}

#[tokio::test]
async fn keys_are_scoped_to_path_and_api_key() {
    let s = TestServer::start().await;
    let agent = s.create_agent(json!({"name": "A"})).await;
    let archive = send(
        s.request(Method::POST, &format!("/v1/agents/{agent}/archive"))
            .bearer_auth(s.key())
            .header("idempotency-key", "shared"),
    )
    .await;
    assert_eq!(archive.status, 200);
    // The same key on another path is a different request.
    let created = post_with_key(&s, "/v1/agents", "shared", json!({"name": "B"})).await;
    assert_eq!(created.status, 201);
    assert!(created.header("idempotent-replayed").is_none());
    // And under another API key.
    let second_key = s
        .call(Method::POST, &format!("/v1/org/projects/{}/api-keys", s.boot.project_id), Some(s.org_key()), None)
        .await
        .body["key"]
        .as_str()
        .expect("key")
        .to_owned();
    let other = send(
        s.request(Method::POST, "/v1/agents")
            .bearer_auth(&second_key)
            .header("idempotency-key", "shared")
            .json(&json!({"name": "B"})),
    )
    .await;
    assert_eq!(other.status, 201);
    assert_ne!(other.body["id"], created.body["id"]);
}

#[tokio::test]
async fn an_org_key_replay_is_scoped_to_the_project_it_acts_on() {
    let s = TestServer::start().await;
    let second = s.call(Method::POST, "/v1/org/projects", Some(s.org_key()), Some(json!({"name": "Second"}))).await;
    assert_eq!(second.status, 201, "{}", second.body);
    let second = second.body["id"].as_str().expect("project id").to_owned();
    let create = |project: String| {
        let s = &s;
        async move {
            send(
                s.request(Method::POST, "/v1/agents")
                    .bearer_auth(s.org_key())
                    .header("x-project-id", project)
                    .header("idempotency-key", "agent-1")
                    .json(&json!({"name": "Same"})),
            )
            .await
        }
    };
    let first = create(s.boot.project_id.clone()).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let other = create(second.clone()).await;
    assert_eq!(other.status, 201, "{}", other.body);
    assert!(other.header("idempotent-replayed").is_none(), "another project is another request");
    assert_ne!(other.body["id"], first.body["id"]);
    let listed =
        send(s.request(Method::GET, "/v1/agents").bearer_auth(s.org_key()).header("x-project-id", &second)).await;
    assert_eq!(listed.body["agents"][0]["id"], other.body["id"], "the agent exists in the second project");
    let again = create(second).await;
    assert_eq!(again.header("idempotent-replayed"), Some("true"), "the same project replays");
    assert_eq!(again.body["id"], other.body["id"]);
}

#[tokio::test]
async fn concurrent_retries_in_two_projects_create_one_agent_in_each() {
    let s = TestServer::start().await;
    let second = s.call(Method::POST, "/v1/org/projects", Some(s.org_key()), Some(json!({"name": "Second"}))).await;
    let second = second.body["id"].as_str().expect("project id").to_owned();
    let projects = [s.boot.project_id.clone(), second];
    let tries = (0..8).map(|i| {
        let project = projects[i % 2].clone();
        let request = s
            .request(Method::POST, "/v1/agents")
            .bearer_auth(s.org_key())
            .header("x-project-id", project)
            .header("idempotency-key", "burst")
            .json(&json!({"name": "Once"}));
        send(request)
    });
    let answers = futures_util::future::join_all(tries).await;
    for (i, project) in projects.iter().enumerate() {
        let mine: Vec<_> = answers.iter().skip(i).step_by(2).collect();
        let created: Vec<&serde_json::Value> = mine.iter().filter(|a| a.status == 201).map(|a| &a.body["id"]).collect();
        assert!(!created.is_empty(), "{project}: {mine:?}", mine = mine.iter().map(|a| a.status).collect::<Vec<_>>());
        assert!(created.iter().all(|id| *id == created[0]), "every success in {project} is its one agent");
        for other in mine.iter().filter(|a| a.status != 201) {
            assert_error(other, 409, "IDEMPOTENCY_KEY_IN_USE");
        }
        let listed =
            send(s.request(Method::GET, "/v1/agents").bearer_auth(s.org_key()).header("x-project-id", project)).await;
        assert_eq!(listed.body["agents"].as_array().map(Vec::len), Some(1), "{project}");
    }
}

#[tokio::test]
async fn validation_errors_are_replayed_too() {
    let s = TestServer::start().await;
    let first = post_with_key(&s, "/v1/agents", "bad", json!({"name": "A", "max_duration": 5})).await;
    assert_error(&first, 400, "VALIDATION_ERROR");
    let again = post_with_key(&s, "/v1/agents", "bad", json!({"name": "A", "max_duration": 5})).await;
    assert_error(&again, 400, "VALIDATION_ERROR");
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
}

#[tokio::test]
async fn a_key_still_in_flight_is_409() {
    let s = TestServer::start().await;
    // Claim the slot as a first request still running would.
    let owner = s.store().key_by_hash(&switchboard_domain::keys::hash(s.key())).await.expect("key");
    let slot = IdempotencySlot {
        key_id: &owner.key.id,
        project_id: &s.boot.project_id,
        method: "POST",
        path: "/v1/agents",
        idem_key: "busy",
    };
    let body = serde_json::to_vec(&json!({"name": "A"})).expect("json");
    let hash = hex_sha256(&body);
    assert_eq!(s.store().claim_idempotency(&slot, &hash, 60_000).await.expect("claim"), Claim::Claimed);
    let resp = post_with_key(&s, "/v1/agents", "busy", json!({"name": "A"})).await;
    assert_error(&resp, 409, "IDEMPOTENCY_KEY_IN_USE");
    // Once the first finishes (here: released as a 5xx would be), a retry runs.
    s.store().release_idempotency(&slot).await.expect("release");
    assert_eq!(post_with_key(&s, "/v1/agents", "busy", json!({"name": "A"})).await.status, 201);
}

#[tokio::test]
async fn keys_expire_after_their_window() {
    let s = TestServer::start().await;
    let first = post_with_key(&s, "/v1/agents", "daily", json!({"name": "A"})).await;
    s.store().clock().advance(24 * 3600 * 1000 + 1);
    let later = post_with_key(&s, "/v1/agents", "daily", json!({"name": "A"})).await;
    assert_eq!(later.status, 201);
    assert!(later.header("idempotent-replayed").is_none());
    assert_ne!(later.body["id"], first.body["id"]);
}

#[tokio::test]
async fn bad_idempotency_keys_are_rejected() {
    let s = TestServer::start().await;
    let long = "k".repeat(256);
    let resp = post_with_key(&s, "/v1/agents", &long, json!({"name": "A"})).await;
    assert_error(&resp, 400, "VALIDATION_ERROR");
    assert!(resp.body["details"]["Idempotency-Key"].is_string());
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
