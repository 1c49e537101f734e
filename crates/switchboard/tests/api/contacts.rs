//! `/v1/contacts` through the real server: CRUD, one contact per phone and per
//! email, filters and cursor pages, the link to caller memory, and isolation
//! between projects.

use reqwest::Method;
use serde_json::json;
use switchboard_domain::keys::KeyScope;

use crate::common::{TestServer, assert_error, send};

#[tokio::test]
async fn contacts_crud_with_duplicates_and_validation() {
    let s = TestServer::start().await;
    let created = s
        .post(
            "/v1/contacts",
            json!({"name": "Ana Silva", "phone": "+31612345678", "email": "Ana@Example.com",
                   "external_ids": {"crm_id": "42"}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("contact_"));
    assert_eq!(created.body["email"], "ana@example.com", "emails are stored lowercased");
    assert_eq!(created.body["external_ids"], json!({"crm_id": "42"}));
    let conversation = created.body["conversation_id"].as_str().expect("conversation");
    assert!(conversation.starts_with("conv_"));
    assert_eq!(created.body["customer_ref"], serde_json::Value::Null);

    let got = s.get(&format!("/v1/contacts/{id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["name"], "Ana Silva");
    assert_eq!(got.body["conversation_id"], conversation);

    let same_phone = s.post("/v1/contacts", json!({"phone": "+31612345678"})).await;
    assert_error(&same_phone, 409, "CONTACT_EXISTS");
    assert!(same_phone.body["message"].as_str().is_some_and(|m| m.contains("phone")));
    let same_email = s.post("/v1/contacts", json!({"email": "ANA@example.com"})).await;
    assert_error(&same_email, 409, "CONTACT_EXISTS");
    assert!(same_email.body["message"].as_str().is_some_and(|m| m.contains("email")));

    for bad in [
        json!({"name": "Nobody"}),
        json!({"phone": "0612345678"}),
        json!({"email": "not-an-email"}),
        json!({"phone": "+31600000001", "external_ids": {"crm": ""}}),
        json!({"phone": "+31600000001", "name": ""}),
        json!({"phone": "+31600000001", "tags": ["x"]}),
        json!({"phone": 31600000001i64}),
    ] {
        let resp = s.post("/v1/contacts", bad.clone()).await;
        assert_error(&resp, 400, "VALIDATION_ERROR");
        assert!(resp.body["details"].is_object(), "{bad}: {}", resp.body);
    }

    let other = s.post("/v1/contacts", json!({"name": "Ben", "phone": "+31600000002"})).await;
    assert_eq!(other.status, 201, "{}", other.body);
    let other_id = other.body["id"].as_str().expect("id").to_owned();
    let taken = s.patch(&format!("/v1/contacts/{other_id}"), json!({"phone": "+31612345678"})).await;
    assert_error(&taken, 409, "CONTACT_EXISTS");
    let updated = s
        .patch(&format!("/v1/contacts/{other_id}"), json!({"email": "ben@example.com", "phone": null, "name": null}))
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.body["phone"], serde_json::Value::Null);
    assert_eq!(updated.body["name"], serde_json::Value::Null);
    assert_eq!(updated.body["email"], "ben@example.com");
    let nothing_left = s.patch(&format!("/v1/contacts/{other_id}"), json!({"email": null})).await;
    assert_error(&nothing_left, 400, "VALIDATION_ERROR");
    let bad_patch = s.patch(&format!("/v1/contacts/{other_id}"), json!({"email": "nope"})).await;
    assert_error(&bad_patch, 400, "VALIDATION_ERROR");

    let deleted = s.delete(&format!("/v1/contacts/{other_id}")).await;
    assert_eq!(deleted.status, 204);
    assert_error(&s.get(&format!("/v1/contacts/{other_id}")).await, 404, "NOT_FOUND");
    assert_error(&s.delete(&format!("/v1/contacts/{other_id}")).await, 404, "NOT_FOUND");
    assert_error(&s.patch(&format!("/v1/contacts/{other_id}"), json!({"name": "x"})).await, 404, "NOT_FOUND");
    // The freed phone can be used again.
    let again = s.post("/v1/contacts", json!({"phone": "+31600000002"})).await;
    assert_eq!(again.status, 201, "{}", again.body);
}

#[tokio::test]
async fn contacts_list_in_cursor_pages_with_filters() {
    let s = TestServer::start().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let resp = s
            .post("/v1/contacts", json!({"phone": format!("+3161000000{i}"), "email": format!("c{i}@example.com")}))
            .await;
        assert_eq!(resp.status, 201, "{}", resp.body);
        ids.push(resp.body["id"].as_str().expect("id").to_owned());
    }
    let page = s.get("/v1/contacts?limit=2").await;
    assert_eq!(page.status, 200);
    let listed: Vec<&str> =
        page.body["contacts"].as_array().expect("list").iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(listed, vec![ids[4].as_str(), ids[3].as_str()], "newest first");
    let cursor = page.body["next_cursor"].as_str().expect("cursor").to_owned();
    let next = s.get(&format!("/v1/contacts?limit=2&after={cursor}")).await;
    assert_eq!(next.body["contacts"][0]["id"], ids[2].as_str());
    let last = s.get(&format!("/v1/contacts?limit=2&after={}", ids[1])).await;
    assert_eq!(last.body["contacts"].as_array().map(Vec::len), Some(1));
    assert_eq!(last.body["next_cursor"], serde_json::Value::Null);

    let by_phone = s.get("/v1/contacts?phone=%2B31610000003").await;
    assert_eq!(by_phone.body["contacts"].as_array().map(Vec::len), Some(1));
    assert_eq!(by_phone.body["contacts"][0]["id"], ids[3].as_str());
    let by_email = s.get("/v1/contacts?email=C1%40Example.com").await;
    assert_eq!(by_email.body["contacts"][0]["id"], ids[1].as_str());
    let none = s.get("/v1/contacts?email=nobody%40example.com").await;
    assert_eq!(none.body["contacts"].as_array().map(Vec::len), Some(0));
    assert_error(&s.get("/v1/contacts?limit=0").await, 400, "VALIDATION_ERROR");
    assert_error(&s.get("/v1/contacts?limit=abc").await, 400, "VALIDATION_ERROR");
}

#[tokio::test]
async fn contacts_of_another_project_are_not_found() {
    let s = TestServer::start().await;
    let mine = s.post("/v1/contacts", json!({"phone": "+31612345678"})).await;
    let mine_id = mine.body["id"].as_str().expect("id").to_owned();
    // No conversation yet: 404, as in Centerfy; the first message starts it.
    let empty = s.get(&format!("/v1/contacts/{mine_id}/messages")).await;
    assert_error(&empty, 404, "NOT_FOUND");
    assert_eq!(empty.body["message"], "This contact has no conversation yet.");
    let inbound = json!({"channel": "sms", "from": "+31612345678", "content": "Hello?"});
    assert_eq!(s.post("/v1/simulator/messages", inbound).await.status, 201);
    let started = s.get(&format!("/v1/contacts/{mine_id}/messages")).await;
    assert_eq!(started.status, 200, "{}", started.body);
    assert_eq!(started.body["total"], 1);
    let other = s.store().create_project(&s.boot.org_id, "Other", None).await.expect("project");
    let (_, other_key) =
        s.store().create_project_key(&s.boot.org_id, &other.id, "k", KeyScope::Full).await.expect("key");
    let server = &s;
    let as_other = |method: Method, path: String, body: Option<serde_json::Value>| {
        let key = other_key.clone();
        async move { server.call(method, &path, Some(&key), body).await }
    };
    assert_error(&as_other(Method::GET, format!("/v1/contacts/{mine_id}"), None).await, 404, "NOT_FOUND");
    assert_error(
        &as_other(Method::PATCH, format!("/v1/contacts/{mine_id}"), Some(json!({"name": "x"}))).await,
        404,
        "NOT_FOUND",
    );
    assert_error(&as_other(Method::DELETE, format!("/v1/contacts/{mine_id}"), None).await, 404, "NOT_FOUND");
    assert_error(&as_other(Method::GET, format!("/v1/contacts/{mine_id}/messages"), None).await, 404, "NOT_FOUND");
    let listed = as_other(Method::GET, "/v1/contacts".into(), None).await;
    assert_eq!(listed.body["contacts"].as_array().map(Vec::len), Some(0));
    // The same phone is free in another project.
    let theirs = as_other(Method::POST, "/v1/contacts".into(), Some(json!({"phone": "+31612345678"}))).await;
    assert_eq!(theirs.status, 201, "{}", theirs.body);

    // An org key reaches a project's contacts through X-Project-Id only.
    let without = s.call(Method::GET, "/v1/contacts", Some(s.org_key()), None).await;
    assert_error(&without, 400, "PROJECT_ID_REQUIRED");
    let with = send(
        s.request(Method::GET, &format!("/v1/contacts/{mine_id}"))
            .bearer_auth(s.org_key())
            .header("x-project-id", &s.boot.project_id),
    )
    .await;
    assert_eq!(with.status, 200, "{}", with.body);
}

#[tokio::test]
async fn contacts_link_to_caller_memory_and_deleting_keeps_memory() {
    let s = TestServer::start().await;
    let start = s
        .post(
            "/v1/calls/start",
            json!({"call_id": "ext-call-1", "identity_hints": {"ani": "+31612345678", "external_ids": {"crm_id": "42"}}}),
        )
        .await;
    assert_eq!(start.status, 200, "{}", start.body);
    let customer_ref = start.body["customer_ref"].as_str().expect("customer_ref").to_owned();
    let by_id = s.post("/v1/contacts", json!({"email": "ana@example.com", "external_ids": {"crm_id": "42"}})).await;
    assert_eq!(by_id.status, 201, "{}", by_id.body);
    assert_eq!(by_id.body["customer_ref"], customer_ref.as_str(), "recognised by external id");
    let by_phone = s.post("/v1/contacts", json!({"phone": "+31612345678"})).await;
    assert_eq!(by_phone.body["customer_ref"], customer_ref.as_str(), "recognised by phone");
    let stranger = s.post("/v1/contacts", json!({"phone": "+31699999999"})).await;
    assert_eq!(stranger.body["customer_ref"], serde_json::Value::Null);

    let id = by_phone.body["id"].as_str().expect("id");
    assert_eq!(s.delete(&format!("/v1/contacts/{id}")).await.status, 204);
    let memory = s.get(&format!("/v1/customers/{customer_ref}")).await;
    assert_eq!(memory.status, 200, "caller memory survives the contact: {}", memory.body);
}
