//! Agents: create/get/update/delete, validation, clone, archive, secret rotation,
//! audit log, tenant isolation, voices.

use serde_json::{Value, json};
use switchboard_runtime::call::LiveCall;

use crate::common::{TestServer, assert_error};

/// Every field set, attached to a knowledge base of the org.
async fn full_agent(s: &TestServer) -> Value {
    let kb = s.post("/v1/knowledge-bases", json!({"name": "FAQ"})).await;
    assert_eq!(kb.status, 201, "{}", kb.body);
    json!({
        "name": "Support Agent",
        "server_url": "https://your-server.com/call-handler",
        "webhook_url": "https://your-server.com/webhooks",
        "language": "nl-NL",
        "voice": "Sarah",
        "recording": true,
        "max_duration": 600,
        "end_call_enabled": true,
        "appointments_enabled": true,
        "system_prompt": "You are a helpful support agent.",
        "first_message": "Hallo, waarmee kan ik helpen?",
        "llm": {"provider": "openai", "model": "gpt-4o-mini", "temperature": 0.3, "base_url": "https://llm.example.com/v1"},
        "silence_timeout_seconds": 20,
        "voicemail": {"detection": true, "action": "leave_message", "message": "Call us back."},
        "knowledge_base_ids": [kb.body["id"]],
        "is_active": true
    })
}

#[tokio::test]
async fn the_quickstart_body_creates_an_agent_with_defaults() {
    let s = TestServer::start().await;
    let resp = s
        .post(
            "/v1/agents",
            json!({"name": "Support Agent", "server_url": "https://your-server.com/call-handler",
                   "language": "en-US", "voice": "Sarah", "recording": true}),
        )
        .await;
    assert_eq!(resp.status, 201, "{}", resp.body);
    let a = &resp.body;
    assert!(a["id"].as_str().is_some_and(|id| id.starts_with("agent_")));
    assert_eq!(a["public_id"], a["id"]);
    assert_eq!(a["max_duration"], 1800);
    assert_eq!(a["end_call_enabled"], false);
    assert_eq!(a["appointments_enabled"], false);
    assert_eq!(a["silence_timeout_seconds"], 30);
    assert_eq!(a["is_active"], true);
    assert_eq!(a["voicemail"], json!({"detection": false, "action": "hangup", "message": null}));
    assert_eq!(a["knowledge_base_ids"], json!([]));
    let secret = a["webhook_secret"].as_str().expect("secret shown on create");
    assert!(secret.starts_with("whsec_"));
    assert!(a["webhook_secret_hint"].as_str().is_some_and(|h| h.ends_with(&secret[secret.len() - 4..])));

    let got = s.get(&format!("/v1/agents/{}", a["id"].as_str().unwrap_or_default())).await;
    assert_eq!(got.status, 200);
    assert!(got.body.get("webhook_secret").is_none(), "the secret is shown once");
    assert_eq!(got.body["webhook_secret_hint"], a["webhook_secret_hint"]);
}

#[tokio::test]
async fn every_field_round_trips() {
    let s = TestServer::start().await;
    let body = full_agent(&s).await;
    let created = s.post("/v1/agents", body.clone()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let got = s.get(&format!("/v1/agents/{}", created.body["id"].as_str().unwrap_or_default())).await;
    for (field, value) in body.as_object().expect("object") {
        assert_eq!(&got.body[field], value, "{field}");
    }
    // VoxForge-style camelCase names are accepted too.
    let camel = s
        .post(
            "/v1/agents",
            json!({"name": "Camel", "systemPrompt": "Hi", "firstMessage": "Hello", "maxCallDuration": 600}),
        )
        .await;
    assert_eq!(camel.status, 201, "{}", camel.body);
    assert_eq!(camel.body["system_prompt"], "Hi");
    assert_eq!(camel.body["max_duration"], 600);
}

#[tokio::test]
async fn validation_names_every_bad_field_with_the_documented_messages() {
    let s = TestServer::start().await;
    let resp = s
        .post(
            "/v1/agents",
            json!({"name": "", "language": "english", "max_duration": 59, "server_url": "ftp://x",
                   "webhook_url": "not a url", "silence_timeout_seconds": 1,
                   "llm": {"temperature": 3.0}, "knowledge_base_ids": ["agent_1"]}),
        )
        .await;
    assert_error(&resp, 400, "VALIDATION_ERROR");
    assert_eq!(resp.body["message"], "Request validation failed.");
    let d = &resp.body["details"];
    assert_eq!(d["language"], "Must be a valid BCP-47 language code.");
    assert_eq!(d["max_duration"], "Must be between 60 and 7200.");
    for field in
        ["name", "server_url", "webhook_url", "silence_timeout_seconds", "llm.temperature", "knowledge_base_ids"]
    {
        assert!(d[field].is_string(), "{field} reported: {d}");
    }
    let voice = s.post("/v1/agents", json!({"name": "a", "voice": "Nobody"})).await;
    assert_error(&voice, 400, "VALIDATION_ERROR");
    assert!(voice.body["details"]["voice"].as_str().is_some_and(|m| m.contains("/v1/voices")));
    let upper = s.post("/v1/agents", json!({"name": "a", "max_duration": 7201})).await;
    assert_eq!(upper.body["details"]["max_duration"], "Must be between 60 and 7200.");
    let missing_name = s.post("/v1/agents", json!({"language": "en-US"})).await;
    assert_error(&missing_name, 400, "VALIDATION_ERROR");
    assert!(missing_name.body["details"].as_object().is_some_and(|d| !d.is_empty()));
}

#[tokio::test]
async fn outside_dev_mode_callback_urls_must_be_https() {
    let s = TestServer::start_with(|c| c.dev = false).await;
    let resp = s.post("/v1/agents", json!({"name": "a", "server_url": "http://example.com/hook"})).await;
    assert_error(&resp, 400, "VALIDATION_ERROR");
    assert_eq!(resp.body["details"]["server_url"], "Must be an https URL.");
    assert_eq!(s.post("/v1/agents", json!({"name": "a", "server_url": "https://example.com/hook"})).await.status, 201);
}

#[tokio::test]
async fn patch_changes_only_the_fields_sent() {
    let s = TestServer::start().await;
    let id = s.create_agent(full_agent(&s).await).await;
    let before = s.get(&format!("/v1/agents/{id}")).await.body;
    let patched = s.patch(&format!("/v1/agents/{id}"), json!({"max_duration": 900, "webhook_url": null})).await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["max_duration"], 900);
    assert_eq!(patched.body["webhook_url"], Value::Null);
    for field in ["name", "language", "voice", "server_url", "system_prompt", "llm", "voicemail", "knowledge_base_ids"]
    {
        assert_eq!(patched.body[field], before[field], "{field} unchanged");
    }
    assert!(patched.body["updated_at"].as_str() >= before["updated_at"].as_str());
    let bad = s.patch(&format!("/v1/agents/{id}"), json!({"max_duration": 10})).await;
    assert_error(&bad, 400, "VALIDATION_ERROR");
    assert_eq!(s.get(&format!("/v1/agents/{id}")).await.body["max_duration"], 900, "a refused patch changes nothing");
    // Changing the language re-checks the voice against it.
    let lang = s.patch(&format!("/v1/agents/{id}"), json!({"language": "ja-JP"})).await;
    assert!(lang.body["details"]["voice"].is_string(), "{}", lang.body);
    assert_error(&s.patch("/v1/agents/agent_missing", json!({"name": "x"})).await, 404, "NOT_FOUND");
}

#[tokio::test]
async fn delete_is_refused_while_the_agent_has_a_live_call() {
    let s = TestServer::start().await;
    let id = s.create_agent(json!({"name": "Busy"})).await;
    let (control, _commands) = tokio::sync::mpsc::channel(1);
    let live = LiveCall {
        call_id: "call_live".into(),
        org_id: s.boot.org_id.clone(),
        project_id: s.boot.project_id.clone(),
        agent_id: id.clone(),
        started_at: 0,
        answered_at: None,
    };
    assert!(s.state.calls.directory().admit(live, control, None));
    let refused = s.delete(&format!("/v1/agents/{id}")).await;
    assert_error(&refused, 409, "AGENT_HAS_ACTIVE_CALLS");
    s.state.calls.directory().remove("call_live");
    let deleted = s.delete(&format!("/v1/agents/{id}")).await;
    assert_eq!(deleted.status, 204);
    assert_error(&s.get(&format!("/v1/agents/{id}")).await, 404, "NOT_FOUND");
    assert_eq!(s.get(&format!("/v1/agents/{id}")).await.body["message"], "Agent not found");
    assert_error(&s.delete(&format!("/v1/agents/{id}")).await, 404, "NOT_FOUND");
}

#[tokio::test]
async fn clone_copies_settings_and_knowledge_bases_with_a_new_secret() {
    let s = TestServer::start().await;
    let source = s.post("/v1/agents", full_agent(&s).await).await.body;
    let id = source["id"].as_str().unwrap_or_default();
    let copy = s.post(&format!("/v1/agents/{id}/clone"), json!({"name": "Support Agent 2"})).await;
    assert_eq!(copy.status, 201, "{}", copy.body);
    assert_ne!(copy.body["id"], source["id"]);
    assert_eq!(copy.body["name"], "Support Agent 2");
    for field in
        ["language", "voice", "server_url", "system_prompt", "llm", "voicemail", "knowledge_base_ids", "max_duration"]
    {
        assert_eq!(copy.body[field], source[field], "{field} copied");
    }
    assert_ne!(copy.body["webhook_secret"], source["webhook_secret"], "a clone gets its own secret");
    let unnamed = s.call(reqwest::Method::POST, &format!("/v1/agents/{id}/clone"), Some(s.key()), None).await;
    assert_eq!(unnamed.status, 201);
    assert_eq!(unnamed.body["name"], "Support Agent (copy)");
    assert_error(&s.post("/v1/agents/agent_missing/clone", json!({})).await, 404, "NOT_FOUND");
}

#[tokio::test]
async fn rotating_the_webhook_secret_replaces_it_at_once() {
    let s = TestServer::start().await;
    let created = s.post("/v1/agents", json!({"name": "A"})).await.body;
    let id = created["id"].as_str().unwrap_or_default();
    let rotated = s.post(&format!("/v1/agents/{id}/rotate-webhook-secret"), json!({})).await;
    assert_eq!(rotated.status, 200);
    let new_secret = rotated.body["webhook_secret"].as_str().expect("new secret shown once");
    assert_ne!(Some(new_secret), created["webhook_secret"].as_str());
    assert_ne!(rotated.body["webhook_secret_hint"], created["webhook_secret_hint"]);
    let stored = s.store().agent(&s.boot.project_id, id).await.expect("agent");
    assert_eq!(stored.webhook_secret, new_secret, "only the new secret is kept");
}

#[tokio::test]
async fn archive_is_idempotent_hides_the_agent_and_restore_brings_it_back() {
    let s = TestServer::start().await;
    let id = s.create_agent(json!({"name": "Seasonal"})).await;
    let keep = s.create_agent(json!({"name": "Always"})).await;
    let first = s.post(&format!("/v1/agents/{id}/archive"), json!({})).await;
    assert_eq!(first.status, 200);
    let archived_at = first.body["archived_at"].as_str().expect("archived_at").to_owned();
    s.store().clock().advance(5_000);
    let second = s.post(&format!("/v1/agents/{id}/archive"), json!({})).await;
    assert_eq!(second.body["archived_at"], archived_at.as_str(), "archiving again keeps the first time");

    let listed = s.get("/v1/agents").await;
    let ids: Vec<&str> =
        listed.body["agents"].as_array().expect("agents").iter().filter_map(|a| a["id"].as_str()).collect();
    assert_eq!(ids, [keep.as_str()]);
    let archived = s.get("/v1/agents?archived=true").await;
    let ids: Vec<&str> =
        archived.body["agents"].as_array().expect("agents").iter().filter_map(|a| a["id"].as_str()).collect();
    assert_eq!(ids, [id.as_str()]);
    assert_eq!(s.get(&format!("/v1/agents/{id}")).await.status, 200, "still readable by id");

    let restored = s.post(&format!("/v1/agents/{id}/restore"), json!({})).await;
    assert_eq!(restored.body["archived_at"], Value::Null);
    assert_eq!(s.get("/v1/agents").await.body["agents"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn the_audit_log_says_who_changed_what_from_what_to_what() {
    let s = TestServer::start().await;
    let id = s.create_agent(json!({"name": "Audited", "max_duration": 600})).await;
    s.patch(&format!("/v1/agents/{id}"), json!({"max_duration": 900, "name": "Audited"})).await;
    s.post(&format!("/v1/agents/{id}/rotate-webhook-secret"), json!({})).await;
    s.post(&format!("/v1/agents/{id}/archive"), json!({})).await;
    let log = s.get(&format!("/v1/agents/{id}/audit-log")).await;
    assert_eq!(log.status, 200);
    let entries = log.body["entries"].as_array().expect("entries");
    let actions: Vec<&str> = entries.iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["archived", "webhook_secret_rotated", "updated", "created"]);
    let owner = s.store().key_by_hash(&switchboard_domain::keys::hash(s.key())).await.expect("key");
    for entry in entries {
        assert_eq!(entry["key_id"], owner.key.id.as_str(), "who");
        assert!(entry["created_at"].as_str().is_some(), "when");
        assert_eq!(entry["agent_id"], id.as_str());
    }
    let update = &entries[2]["changes"];
    assert_eq!(update, &json!({"max_duration": {"from": 600, "to": 900}}), "only changed fields");
    assert!(entries[1]["changes"]["webhook_secret_hint"]["to"].as_str().is_some_and(|h| h.starts_with("whsec_...")));
    assert_eq!(entries[3]["changes"]["name"], json!({"from": null, "to": "Audited"}));

    let page = s.get(&format!("/v1/agents/{id}/audit-log?limit=3")).await;
    assert_eq!(page.body["entries"].as_array().map(Vec::len), Some(3));
    let cursor = page.body["next_cursor"].as_str().expect("cursor");
    let rest = s.get(&format!("/v1/agents/{id}/audit-log?after={cursor}")).await;
    assert_eq!(rest.body["entries"][0]["action"], "created");
    assert_error(&s.get("/v1/agents/agent_missing/audit-log").await, 404, "NOT_FOUND");
}

#[tokio::test]
async fn another_projects_agents_are_not_found() {
    let s = TestServer::start().await;
    let id = s.create_agent(json!({"name": "Mine"})).await;
    let other = switchboard::admin::bootstrap(s.store(), "Other", 100.0).await.expect("org");
    let call = |m: reqwest::Method, p: String, body: Option<Value>| {
        let key = other.project_key.clone();
        let s = &s;
        async move { s.call(m, &p, Some(&key), body).await }
    };
    assert_error(&call(reqwest::Method::GET, format!("/v1/agents/{id}"), None).await, 404, "NOT_FOUND");
    assert_error(
        &call(reqwest::Method::PATCH, format!("/v1/agents/{id}"), Some(json!({"name": "x"}))).await,
        404,
        "NOT_FOUND",
    );
    assert_error(&call(reqwest::Method::DELETE, format!("/v1/agents/{id}"), None).await, 404, "NOT_FOUND");
    for action in ["clone", "archive", "restore", "rotate-webhook-secret"] {
        let resp = call(reqwest::Method::POST, format!("/v1/agents/{id}/{action}"), Some(json!({}))).await;
        assert_error(&resp, 404, "NOT_FOUND");
    }
    assert_error(&call(reqwest::Method::GET, format!("/v1/agents/{id}/audit-log"), None).await, 404, "NOT_FOUND");
    let list = call(reqwest::Method::GET, "/v1/agents".into(), None).await;
    assert_eq!(list.body["agents"], json!([]));
    assert_eq!(s.get(&format!("/v1/agents/{id}")).await.body["name"], "Mine", "untouched");
}

#[tokio::test]
async fn voices_list_by_language() {
    let s = TestServer::start().await;
    let all = s.get("/v1/voices").await;
    assert_eq!(all.status, 200);
    let en = s.get("/v1/voices?language=en-US").await;
    let names: Vec<&str> =
        en.body["voices"].as_array().expect("voices").iter().filter_map(|v| v["name"].as_str()).collect();
    for seed_voice in ["Sarah", "jennifer", "Aria", "Sulafat", "Ravi"] {
        assert!(names.contains(&seed_voice), "{seed_voice} available in en-US");
    }
    for voice in en.body["voices"].as_array().expect("voices") {
        assert_eq!(voice["language"], "en-US");
        for field in ["id", "name", "language", "gender", "provider"] {
            assert!(voice[field].is_string(), "{field}");
        }
    }
    let nl = s.get("/v1/voices?language=nl").await;
    assert!(nl.body["voices"].as_array().is_some_and(|v| {
        !v.is_empty() && v.iter().all(|v| v["language"].as_str().is_some_and(|l| l.starts_with("nl")))
    }));
    let none = s.get("/v1/voices?language=ja-JP").await;
    assert_eq!(none.body["voices"], json!([]));
    assert!(all.body["voices"].as_array().map(Vec::len) > en.body["voices"].as_array().map(Vec::len));
    assert_error(&s.get("/v1/voices?language=klingon!").await, 400, "VALIDATION_ERROR");
}
