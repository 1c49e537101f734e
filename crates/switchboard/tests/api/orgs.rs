//! Org-level routes: projects and API keys, and `/v1/project`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{TestServer, assert_error};

async fn org(s: &TestServer, method: Method, path: &str, body: Option<Value>) -> crate::common::Resp {
    s.call(method, path, Some(s.org_key()), body).await
}

#[tokio::test]
async fn projects_are_created_listed_newest_first_and_found_by_either_id() {
    let s = TestServer::start().await;
    let created =
        org(&s, Method::POST, "/v1/org/projects", Some(json!({"name": "Staging", "description": "QA"}))).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("proj_"));
    assert_eq!(created.body["description"], "QA");
    let internal = created.body["internal_id"].as_i64().expect("internal_id on org routes");

    let list = org(&s, Method::GET, "/v1/org/projects", None).await;
    let names: Vec<&str> =
        list.body["projects"].as_array().expect("projects").iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names, ["Staging", "Default"]);

    let by_public = org(&s, Method::GET, &format!("/v1/org/projects/{id}"), None).await;
    let by_internal = org(&s, Method::GET, &format!("/v1/org/projects/{internal}"), None).await;
    assert_eq!(by_public.body, by_internal.body);
    assert_eq!(by_public.body["name"], "Staging");

    let missing = org(&s, Method::GET, "/v1/org/projects/proj_doesnotexist", None).await;
    assert_error(&missing, 404, "NOT_FOUND");
    let invalid = org(&s, Method::POST, "/v1/org/projects", Some(json!({"name": ""}))).await;
    assert_error(&invalid, 400, "VALIDATION_ERROR");
    assert!(invalid.body["details"]["name"].is_string());
}

#[tokio::test]
async fn deleting_a_project_revokes_its_keys_at_once() {
    let s = TestServer::start().await;
    let project = org(&s, Method::POST, "/v1/org/projects", Some(json!({"name": "Doomed"}))).await;
    let pid = project.body["id"].as_str().expect("id").to_owned();
    let key = org(&s, Method::POST, &format!("/v1/org/projects/{pid}/api-keys"), Some(json!({"name": "k"}))).await;
    let raw = key.body["key"].as_str().expect("raw").to_owned();
    assert_eq!(s.call(Method::GET, "/v1/agents", Some(&raw), None).await.status, 200);

    let deleted = org(&s, Method::DELETE, &format!("/v1/org/projects/{pid}"), None).await;
    assert_eq!(deleted.status, 204);
    assert_eq!(deleted.body, Value::Null);
    assert_error(&s.call(Method::GET, "/v1/agents", Some(&raw), None).await, 401, "INVALID_API_KEY");
    assert_error(&org(&s, Method::GET, &format!("/v1/org/projects/{pid}"), None).await, 404, "NOT_FOUND");
    let listed = org(&s, Method::GET, "/v1/org/projects", None).await;
    assert_eq!(listed.body["projects"].as_array().map(Vec::len), Some(1));
    assert_error(&org(&s, Method::DELETE, &format!("/v1/org/projects/{pid}"), None).await, 404, "NOT_FOUND");
}

#[tokio::test]
async fn project_keys_show_the_raw_key_once_and_a_hint_after() {
    let s = TestServer::start().await;
    let path = format!("/v1/org/projects/{}/api-keys", s.boot.project_id);
    let created = org(&s, Method::POST, &path, Some(json!({"name": "ci"}))).await;
    assert_eq!(created.status, 201);
    let raw = created.body["key"].as_str().expect("raw key").to_owned();
    assert!(raw.starts_with("sb_live_") && raw.len() == 56);
    assert_eq!(created.body["scope"], "full");
    assert_eq!(created.body["last_used_at"], Value::Null);
    let hint = created.body["key_hint"].as_str().expect("hint");
    assert!(hint.ends_with(&raw[raw.len() - 4..]) && !hint.contains(&raw[8..40]));

    // Using the key sets last_used_at, visible right away in the listing.
    assert_eq!(s.call(Method::GET, "/v1/agents", Some(&raw), None).await.status, 200);
    let listed = org(&s, Method::GET, &path, None).await;
    let keys = listed.body["api_keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 2, "bootstrap key and the new one");
    let ci = keys.iter().find(|k| k["name"] == "ci").expect("ci key listed");
    assert!(ci.get("key").is_none(), "the raw key is never shown again");
    assert!(ci["last_used_at"].as_str().is_some(), "{ci}");
    for field in ["id", "name", "scope", "key_hint", "created_at", "last_used_at"] {
        assert!(ci.get(field).is_some(), "key object has {field}");
    }

    let bad_scope = org(&s, Method::POST, &path, Some(json!({"scope": "admin"}))).await;
    assert_error(&bad_scope, 400, "VALIDATION_ERROR");
    assert!(bad_scope.body["details"]["scope"].is_string(), "{}", bad_scope.body);
    let other = org(&s, Method::POST, "/v1/org/projects/proj_nope/api-keys", None).await;
    assert_error(&other, 404, "NOT_FOUND");
}

#[tokio::test]
async fn last_used_at_is_written_to_the_database_in_batches() {
    let s = TestServer::start().await;
    assert_eq!(s.get("/v1/agents").await.status, 200);
    s.state.key_use.flush(s.store()).await.expect("flush");
    let owner = s.store().key_by_hash(&switchboard_domain::keys::hash(s.key())).await.expect("key");
    assert!(owner.key.last_used_at.is_some());
}

#[tokio::test]
async fn org_keys_can_be_created_and_revoked_but_not_by_themselves() {
    let s = TestServer::start().await;
    let list = org(&s, Method::GET, "/v1/org/api-keys", None).await;
    let own_id = list.body["api_keys"][0]["id"].as_str().expect("own key").to_owned();
    let own = org(&s, Method::DELETE, &format!("/v1/org/api-keys/{own_id}"), None).await;
    assert_error(&own, 400, "CANNOT_REVOKE_OWN_KEY");

    let created = org(&s, Method::POST, "/v1/org/api-keys", Some(json!({"name": "rotation"}))).await;
    assert_eq!(created.status, 201);
    let new_raw = created.body["key"].as_str().expect("raw").to_owned();
    assert!(new_raw.starts_with("sb_org_"));
    // The new key revokes the old one; the old one is dead at once.
    let revoked = s.call(Method::DELETE, &format!("/v1/org/api-keys/{own_id}"), Some(&new_raw), None).await;
    assert_eq!(revoked.status, 204);
    assert_error(&org(&s, Method::GET, "/v1/org/projects", None).await, 401, "INVALID_API_KEY");
    let missing = s.call(Method::DELETE, "/v1/org/api-keys/key_nope", Some(&new_raw), None).await;
    assert_error(&missing, 404, "NOT_FOUND");
}

#[tokio::test]
async fn the_project_endpoint_shows_and_renames_the_keys_project() {
    let s = TestServer::start().await;
    let got = s.get("/v1/project").await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["id"], s.boot.project_id.as_str());
    assert!(got.body.get("internal_id").is_none(), "internal_id only on org routes");

    let patched = s.patch("/v1/project", json!({"name": "Production", "description": "Main"})).await;
    assert_eq!(patched.status, 200);
    assert_eq!(patched.body["name"], "Production");
    assert_eq!(patched.body["description"], "Main");
    let cleared = s.patch("/v1/project", json!({"description": null})).await;
    assert_eq!(cleared.body["description"], Value::Null);
    assert_eq!(cleared.body["name"], "Production");
    assert_error(&s.patch("/v1/project", json!({"name": "  "})).await, 400, "VALIDATION_ERROR");
    assert_error(&s.patch("/v1/project", json!({"colour": "red"})).await, 400, "VALIDATION_ERROR");
}
